/* Read handlers inside one store read transaction: policy get, model
 * list, history and audit pages, canary status, budgets. */
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "controld/budget.h"
#include "controld/quota.h"
#include "controld/handlers_int.h"
#include "controld/rollout.h"
#include "controld/state.h"
#include "proto/alloc.h"
#include "proto/policy.pb-c.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------ reads */

static uint64_t stable_revision(struct af_txn *t)
{
	Af__Rollout *ro;
	uint64_t rev;

	if (af_state_rollout_get(t, &ro) != 0)
		return 0;
	rev = ro->stable_revision;
	protobuf_c_message_free_unpacked(&ro->base, NULL);
	return rev;
}

/* A revision whose record stays but whose bundle the history retention
 * pruned. */
static void fail_pruned(struct controld_job *j, uint64_t rev)
{
	const struct af_cluster_cfg *cfg = j->node->cfg;

	controld_job_fail(j, AF__CODE__NOT_FOUND,
			  "revision %llu: its bundle was pruned by the history "
			  "retention (cluster file: history.revisions %u, "
			  "history.days %u); its record stays in af policy "
			  "history",
			  (unsigned long long)rev, cfg->history_revisions,
			  cfg->history_days);
}

void controld_read_policy_get(struct controld_job *j, struct af_txn *t)
{
	Af__Response resp = AF__RESPONSE__INIT;
	Af__PolicyGetResp pg = AF__POLICY_GET_RESP__INIT;
	Af__Revision *rev = NULL;
	Af__StoredBundle *sb = NULL;
	uint64_t want = j->req->policy_get->revision;
	int rc;

	if (want == 0)
		want = stable_revision(t);
	if (want == 0) {
		controld_job_fail(j, AF__CODE__NOT_FOUND,
				  "no policy has been applied yet");
		return;
	}
	rc = af_state_revision_get(t, want, &rev);
	if (rc == 0)
		rc = af_txn_get_msg(t, AF_TABLE_BUNDLES, rev->hash,
				    strlen(rev->hash),
				    &af__stored_bundle__descriptor,
				    (ProtobufCMessage **)&sb);
	if (rc == AF_ENOTFOUND && rev != NULL) {
		fail_pruned(j, want);
		goto out;
	}
	if (rc != 0) {
		controld_job_fail(j,
				  rc == AF_ENOTFOUND ? AF__CODE__NOT_FOUND
						     : AF__CODE__INTERNAL,
				  "revision %llu: %s", (unsigned long long)want,
				  af_strerror(rc));
		goto out;
	}
	pg.revision = rev;
	pg.source = sb->source;
	pg.compiled = sb->compiled;
	resp.body_case = AF__RESPONSE__BODY_POLICY_GET;
	resp.policy_get = &pg;
	controld_job_finish(j, &resp);
out:
	if (rev)
		protobuf_c_message_free_unpacked(&rev->base, NULL);
	if (sb)
		protobuf_c_message_free_unpacked(&sb->base, NULL);
}

static int collect_cb(const void *key, size_t klen, const void *val,
		      size_t vlen, void *arg)
{
	struct controld_collect *c = arg;
	ProtobufCMessage *m;
	int rc;

	(void)key, (void)klen;
	if (c->n >= c->max)
		return 1;
	if ((rc = af_pb_unpack(c->desc, vlen, val, &m)) != 0)
		return rc == AF_ENOMEM ? rc : AF_ECORRUPT;
	c->items[c->n++] = m;
	return 0;
}

int controld_collect(struct af_txn *t, enum af_table tbl,
		     const ProtobufCMessageDescriptor *desc, bool reverse,
		     size_t max, struct controld_collect *c)
{
	size_t count = af_txn_count(t, tbl);
	int rc;

	c->desc = desc;
	c->n = 0;
	c->max = max < count ? max : count;
	c->items = af_calloc(c->max + 1, sizeof(*c->items));
	if (c->items == NULL)
		return AF_ENOMEM;
	rc = af_txn_iter(t, tbl, reverse, collect_cb, c);
	return rc < 0 ? rc : 0;
}

void controld_collect_free(struct controld_collect *c)
{
	for (size_t i = 0; i < c->n; i++)
		protobuf_c_message_free_unpacked(c->items[i], NULL);
	af_free(c->items);
}

/* The whole registry as one packed af.policy.Registry (models in id
 * order). *ret owned (af_free). */
int controld_registry_pack(struct af_txn *t, uint8_t **ret, size_t *ret_len)
{
	Af__Policy__Registry reg = AF__POLICY__REGISTRY__INIT;
	struct controld_collect c = {0};
	uint8_t *packed;
	int rc;

	rc = controld_collect(t, AF_TABLE_MODELS,
			      &af__policy__model__descriptor, false, SIZE_MAX,
			      &c);
	if (rc != 0)
		goto out;
	reg.n_models = c.n;
	reg.models = (Af__Policy__Model **)c.items;
	packed = af_malloc(af__policy__registry__get_packed_size(&reg));
	if (packed == NULL) {
		rc = AF_ENOMEM;
		goto out;
	}
	*ret_len = af__policy__registry__pack(&reg, packed);
	*ret = packed;
out:
	controld_collect_free(&c);
	return rc;
}

/* History and audit pages: newest first, limit 0 is PAGE_DEFAULT. */
#define PAGE_DEFAULT 100u
#define PAGE_MAX 1000u

struct page {
	const ProtobufCMessageDescriptor *desc;
	ProtobufCMessage *items[PAGE_MAX];
	size_t n, max;
	uint64_t last_key, next_after;
};

static int page_cb(const void *key, size_t klen, const void *val, size_t vlen,
		   void *arg)
{
	struct page *pg = arg;
	ProtobufCMessage *m;
	int rc;

	if (klen != 8)
		return AF_ECORRUPT;
	if (pg->n == pg->max) { /* one more exists: the page has a next */
		pg->next_after = pg->last_key;
		return 1;
	}
	if ((rc = af_pb_unpack(pg->desc, vlen, val, &m)) != 0)
		return rc == AF_ENOMEM ? rc : AF_ECORRUPT;
	pg->items[pg->n++] = m;
	pg->last_key = af_store_u64_of_key(key);
	return 0;
}

/* One page of a table keyed by big-endian u64, below `after` (0: from the
 * newest): a seek to the cursor and limit + 1 entries walked, whatever the
 * table holds. A cursor naming no entry is refused (0 set, message in
 * ret_why), so a mistyped one does not silently page from elsewhere. */
static int page_read(struct af_txn *t, enum af_table tbl, const char *what,
		     uint32_t limit, uint64_t after, struct page *pg,
		     char *ret_why, size_t why_len)
{
	uint8_t hi[8];
	const void *v;
	size_t vlen;
	int rc;

	if (limit > PAGE_MAX) {
		snprintf(ret_why, why_len,
			 "limit %u is above the maximum %u: page with "
			 "--after",
			 limit, PAGE_MAX);
		return 0;
	}
	pg->max = limit ? limit : PAGE_DEFAULT;
	af_store_key_u64(after, hi);
	if (after != 0) {
		rc = af_txn_get(t, tbl, hi, sizeof(hi), &v, &vlen);
		if (rc == AF_ENOTFOUND) {
			snprintf(ret_why, why_len,
				 "no %s %llu: --after takes the next_after "
				 "of a previous page (or omit it for the "
				 "newest)",
				 what, (unsigned long long)after);
			return 0;
		}
		if (rc != 0)
			return rc;
	}
	rc = af_txn_iter_range(t, tbl, NULL, 0, hi, after ? sizeof(hi) : 0,
			       true, page_cb, pg);
	return rc < 0 ? rc : 0;
}

static void page_free(struct page *pg)
{
	for (size_t i = 0; i < pg->n; i++)
		protobuf_c_message_free_unpacked(pg->items[i], NULL);
}

void controld_read_page(struct controld_job *j, struct af_txn *t)
{
	Af__Response resp = AF__RESPONSE__INIT;
	Af__PolicyHistoryResp ph = AF__POLICY_HISTORY_RESP__INIT;
	Af__AuditResp au = AF__AUDIT_RESP__INIT;
	struct page *pg = af_calloc(1, sizeof(*pg));
	char why[160] = "";
	int rc;

	if (pg == NULL) {
		controld_job_fail(j, AF__CODE__INTERNAL, "read: %s",
				  af_strerror(AF_ENOMEM));
		return;
	}
	if (j->req->body_case == AF__REQUEST__BODY_POLICY_HISTORY) {
		pg->desc = &af__revision__descriptor;
		rc = page_read(t, AF_TABLE_REVISIONS, "revision",
			       j->req->policy_history->limit,
			       j->req->policy_history->after, pg, why,
			       sizeof(why));
		ph.n_revisions = pg->n;
		ph.revisions = (Af__Revision **)pg->items;
		for (size_t i = 0; rc == 0 && i < pg->n; i++)
			ph.revisions[i]->pruned = !af_state_bundle_stored(
				t, ph.revisions[i]->hash);
		ph.next_after = pg->next_after;
		resp.body_case = AF__RESPONSE__BODY_POLICY_HISTORY;
		resp.policy_history = &ph;
	} else {
		pg->desc = &af__audit_record__descriptor;
		rc = page_read(t, AF_TABLE_AUDIT, "audit record",
			       j->req->audit->limit, j->req->audit->after, pg,
			       why, sizeof(why));
		au.n_records = pg->n;
		au.records = (Af__AuditRecord **)pg->items;
		au.next_after = pg->next_after;
		resp.body_case = AF__RESPONSE__BODY_AUDIT;
		resp.audit = &au;
	}
	if (rc != 0)
		controld_job_fail(j, AF__CODE__INTERNAL, "read: %s",
				  af_strerror(rc));
	else if (why[0])
		controld_job_fail(j, AF__CODE__INVALID, "%s", why);
	else
		controld_job_finish(j, &resp);
	page_free(pg);
	af_free(pg);
}

void controld_read_models(struct controld_job *j, struct af_txn *t)
{
	Af__Response resp = AF__RESPONSE__INIT;
	Af__ModelListResp ml = AF__MODEL_LIST_RESP__INIT;
	uint8_t *packed = NULL;
	int rc;

	rc = controld_registry_pack(t, &packed, &ml.compiled.len);
	ml.compiled.data = packed;
	ml.registry_revision = af_state_registry_revision(t);
	resp.body_case = AF__RESPONSE__BODY_MODEL_LIST;
	resp.model_list = &ml;
	if (rc != 0)
		controld_job_fail(j, AF__CODE__INTERNAL, "read: %s",
				  af_strerror(rc));
	else
		controld_job_finish(j, &resp);
	af_free(packed);
}

void controld_read_canary(struct controld_job *j, struct af_txn *t)
{
	Af__Response resp = AF__RESPONSE__INIT;
	Af__CanaryStatusResp cs = AF__CANARY_STATUS_RESP__INIT;
	Af__UsageTotals pss, pcs, pst, pct;
	Af__FleetGate fg = AF__FLEET_GATE__INIT;
	Af__Rollout *ro = NULL;
	Af__RolloutHistory *hist = NULL;
	struct af_rollout r;
	struct af_usage ss, cstep, st, ct;
	struct af_state_heads h;
	char why[200] = "";
	int rc;

	if ((rc = af_rollout_get(t, &r)) != 0 ||
	    (rc = af_state_heads_read(t, &h)) != 0)
		goto out_fail;
	if (r.canary != 0 &&
	    (rc = controld_rollout_judge_now(t, &r, &ss, &cstep, why,
					     sizeof(why))) < 0)
		goto out_heads;
	if (r.canary != 0 &&
	    (rc = controld_fleet_gate(
		     t, &r, af_wall_ms(),
		     (int64_t)j->node->cfg->fleet_lost_s * 1000, &fg)) != 0)
		goto out_heads;
	if ((rc = af_usage_get(t, r.stable, &st)) != 0 ||
	    (rc = af_usage_get(t, r.canary, &ct)) != 0)
		goto out_heads;
	rc = af_state_rollout_get(t, &ro);
	if (rc != 0 && rc != AF_ENOTFOUND)
		goto out_heads;
	if ((rc = af_state_rollout_history_get(t, &hist)) != 0)
		goto out_heads;
	if (hist != NULL &&
	    (r.canary == 0 || hist->canary_revision != r.canary)) {
		protobuf_c_message_free_unpacked(&hist->base, NULL);
		hist = NULL;
	}
	if (r.canary == 0)
		memset(&ss, 0, sizeof(ss)), memset(&cstep, 0, sizeof(cstep));
	af_usage_to_pb(&ss, &pss);
	af_usage_to_pb(&cstep, &pcs);
	af_usage_to_pb(&st, &pst);
	af_usage_to_pb(&ct, &pct);
	cs.rollout = ro;
	cs.stable_hash = h.stable_rev ? h.stable_rev->hash : (char *)"";
	cs.canary_hash = h.canary_rev ? h.canary_rev->hash : (char *)"";
	cs.stable_step = &pss;
	cs.canary_step = &pcs;
	cs.stable_total = &pst;
	cs.canary_total = &pct;
	cs.verdict_now = why;
	cs.now_ms = af_wall_ms();
	cs.fleet = &fg;
	cs.history = hist;
	resp.body_case = AF__RESPONSE__BODY_CANARY_STATUS;
	resp.canary_status = &cs;
	controld_job_finish(j, &resp);
out_heads:
	af_state_heads_free(&h);
out_fail:
	if (ro)
		protobuf_c_message_free_unpacked(&ro->base, NULL);
	if (hist)
		protobuf_c_message_free_unpacked(&hist->base, NULL);
	if (rc != 0)
		controld_job_fail(j, AF__CODE__INTERNAL, "canary: %s",
				  af_strerror(rc));
}

void controld_read_budgets(struct controld_job *j, struct af_txn *t)
{
	const char *tenant = j->req->budget_list->tenant;
	/* One tenant's spend over its period (at most 800 points). */
	bool want = j->req->budget_list->history && tenant[0];
	Af__Response resp = AF__RESPONSE__INIT;
	Af__BudgetListResp bl = AF__BUDGET_LIST_RESP__INIT;
	Af__BudgetState *states = NULL, **ptrs = NULL;
	Af__Spend *spend = NULL;
	struct controld_collect c = {0};
	int64_t now = af_wall_ms();
	int rc;

	if ((rc = controld_collect(t, AF_TABLE_BUDGETS, &af__budget__descriptor,
				   false, MAX_LIST, &c)) != 0)
		goto out;
	states = af_calloc(c.n + 1, sizeof(*states));
	ptrs = af_calloc(c.n + 1, sizeof(*ptrs));
	if (states == NULL || ptrs == NULL) {
		rc = AF_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < c.n; i++) {
		Af__Budget *b = (Af__Budget *)c.items[i];
		struct af_budget_period st;

		if (tenant[0] && strcmp(tenant, b->tenant) != 0)
			continue;
		rc = af_budget_period(t, b, now, want, &st);
		spend = st.spend;
		if (rc != 0)
			goto out;
		af__budget_state__init(&states[bl.n_budgets]);
		states[bl.n_budgets].budget = b;
		states[bl.n_budgets].spent_micro = st.spent_micro;
		states[bl.n_budgets].leased_micro = st.leased_micro;
		states[bl.n_budgets].period_start_ms = st.period_start_ms;
		states[bl.n_budgets].period_end_ms = st.period_end_ms;
		if (st.spend != NULL) {
			states[bl.n_budgets].history = st.spend->history;
			states[bl.n_budgets].n_history = st.spend->n_history;
		}
		ptrs[bl.n_budgets] = &states[bl.n_budgets];
		bl.n_budgets++;
	}
	if (tenant[0] && bl.n_budgets == 0) {
		controld_job_fail(j, AF__CODE__NOT_FOUND,
				  "no budget for \"%.64s\" (not limited)",
				  tenant);
		goto out;
	}
	bl.budgets = ptrs;
	bl.now_ms = now;
	bl.history = want;
	resp.body_case = AF__RESPONSE__BODY_BUDGET_LIST;
	resp.budget_list = &bl;
	controld_job_finish(j, &resp);
out:
	if (rc != 0)
		controld_job_fail(j, AF__CODE__INTERNAL, "budgets: %s",
				  af_strerror(rc));
	if (spend)
		protobuf_c_message_free_unpacked(&spend->base, NULL);
	af_free(states);
	af_free(ptrs);
	controld_collect_free(&c);
}

void controld_read_quotas(struct controld_job *j, struct af_txn *t)
{
	Af__Response resp = AF__RESPONSE__INIT;
	Af__QuotaStatusResp qs = AF__QUOTA_STATUS_RESP__INIT;
	Af__QuotaLease **leases = NULL;
	size_t n = 0;
	int64_t now = af_wall_ms();
	int rc = af_quota_leases(t, now, &leases, &n);

	if (rc != 0) {
		controld_job_fail(j, AF__CODE__INTERNAL, "quotas: %s",
				  af_strerror(rc));
		return;
	}
	qs.leases = leases;
	qs.n_leases = n;
	qs.now_ms = now;
	resp.body_case = AF__RESPONSE__BODY_QUOTA_STATUS;
	resp.quota_status = &qs;
	controld_job_finish(j, &resp);
	af_quota_leases_free(leases, n);
}
