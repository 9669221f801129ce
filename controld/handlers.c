/* Request handlers: run on the loop thread (see node.h). Writes go through
 * consensus on the leader; reads are linearizable (a barrier issued after
 * the read arrived) unless the caller asks for a stale read. */
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "controld/api_int.h"
#include "controld/auth.h"
#include "controld/budget.h"
#include "controld/rollout.h"
#include "policy/policy.h"
#include "proto/policy.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_POLICY_SOURCE (4u * 1024 * 1024)
#define MAX_MODELS_SOURCE (16u * 1024 * 1024)
#define MAX_LIST 10000u

static int status_of_rc(int rc)
{
	switch (rc) {
	case AF_ENOTLEADER:
		return AF__CODE__NOT_LEADER;
	case AF_EINVAL:
		return AF__CODE__INVALID;
	case AF_ECONFLICT:
		return AF__CODE__CONFLICT;
	case AF_ETOOBIG:
		return AF__CODE__TOO_LARGE;
	default:
		return AF__CODE__UNAVAILABLE;
	}
}

/* ----------------------------------------------------------- status */

static void handle_status(struct controld_job *j)
{
	struct controld_node *n = j->node;
	Af__Response resp = AF__RESPONSE__INIT;
	Af__ClusterStatusResp cs = AF__CLUSTER_STATUS_RESP__INIT;
	Af__NodeStatus ns = AF__NODE_STATUS__INIT;

	ns.id = n->self->id;
	ns.role = (char *)af_consensus_role(&n->cons);
	ns.term = af_consensus_term(&n->cons);
	ns.applied_index = af_consensus_applied_index(&n->cons);
	ns.commit_index = af_consensus_commit_index(&n->cons);
	ns.leader_id = af_consensus_leader(&n->cons);
	ns.cluster = (char *)n->cfg->name;
	cs.node = &ns;
	resp.body_case = AF__RESPONSE__BODY_CLUSTER_STATUS;
	resp.cluster_status = &cs;
	controld_job_finish(j, &resp);
}

/* ----------------------------------------------------------- writes */

static void propose_cb(void *arg, int status, const struct af_fsm_result *r)
{
	struct controld_job *j = arg;
	Af__Response resp = AF__RESPONSE__INIT;
	Af__Status st = AF__STATUS__INIT;
	Af__ApplyResult ar = AF__APPLY_RESULT__INIT;

	if (status != 0) {
		controld_job_fail(j, status_of_rc(status),
				  "write not committed: %s",
				  af_strerror(status));
		return;
	}
	af_histogram_observe_ns(&j->node->stats.apply_latency,
				af_mono_ns() - j->start_ns);
	st.code = (Af__Code)r->code;
	st.message = (char *)r->message;
	ar.index = r->index;
	ar.revision = r->revision;
	ar.hash = (char *)r->hash;
	ar.state = (char *)r->state;
	ar.unchanged = r->unchanged;
	ar.registry_revision = r->registry_revision;
	ar.lease_micro = r->lease_micro;
	ar.over_soft = r->over_soft;
	ar.over_hard = r->over_hard;
	ar.period_end_ms = r->period_end_ms;
	ar.unlimited = r->unlimited;
	ar.status = &st;
	resp.status = &st;
	resp.body_case = AF__RESPONSE__BODY_APPLY;
	resp.apply = &ar;
	controld_job_finish(j, &resp);
}

/* With trusted keys, a signed bundle must verify against one of them
 * (over the name and hash the leader computed); with require_signed an
 * unsigned one is refused. */
static int check_signature(struct controld_job *j, const Af__PolicyApply *pa)
{
	struct controld_node *n = j->node;
	struct af_err err = {{0}};

	if (pa->signature.len == 0) {
		if (!n->cfg->require_signed)
			return 0;
		controld_job_fail(j, AF__CODE__PERMISSION_DENIED,
				  "unsigned bundle refused: this cluster "
				  "requires signed bundles (af policy sign)");
		return -1;
	}
	if (n->nkeys == 0)
		return 0; /* nothing to check against: stored as given */
	if (af_sign_verify(n->keys, n->nkeys, pa->key_id, pa->name, pa->hash,
			   pa->serial, pa->signature.data, pa->signature.len,
			   &err) != 0) {
		controld_job_fail(j, AF__CODE__PERMISSION_DENIED, "%s",
				  err.msg);
		return -1;
	}
	return 0;
}

/* The leader compiles what the client sent and never trusts its
 * compiled form or hash. */
static int compile_policy(struct controld_job *j, Af__PolicyApply *in,
			  Af__PolicyApply *out, struct af_bundle **ret)
{
	struct af_err err = {{0}};
	size_t len;

	if (in->source.len > MAX_POLICY_SOURCE) {
		controld_job_fail(j, AF__CODE__TOO_LARGE,
				  "bundle larger than %u bytes",
				  MAX_POLICY_SOURCE);
		return -1;
	}
	if (af_bundle_compile("bundle", (const char *)in->source.data,
			      in->source.len, ret, &err) != 0) {
		controld_job_fail(j, AF__CODE__INVALID, "%s", err.msg);
		return -1;
	}
	*out = *in;
	out->compiled.data = (uint8_t *)af_bundle_bytes(*ret, &len);
	out->compiled.len = len;
	out->hash = (char *)af_bundle_hash(*ret);
	out->name = (char *)af_bundle_name(*ret);
	if (check_signature(j, out) != 0) {
		af_bundle_free(*ret);
		*ret = NULL;
		return -1;
	}
	return 0;
}

static int compile_models(struct controld_job *j, Af__ModelApply *in,
			  Af__ModelApply *out, struct af_registry **ret)
{
	struct af_err err = {{0}};
	size_t len;

	if (in->source.len > MAX_MODELS_SOURCE) {
		controld_job_fail(j, AF__CODE__TOO_LARGE,
				  "model file larger than %u bytes",
				  MAX_MODELS_SOURCE);
		return -1;
	}
	if (af_registry_compile("models", (const char *)in->source.data,
				in->source.len, ret, &err) != 0) {
		controld_job_fail(j, AF__CODE__INVALID, "%s", err.msg);
		return -1;
	}
	*out = *in;
	out->compiled.data = (uint8_t *)af_registry_bytes(*ret, &len);
	out->compiled.len = len;
	return 0;
}

static void handle_write(struct controld_job *j)
{
	struct controld_node *n = j->node;
	Af__Command cmd = *j->req->propose;
	Af__PolicyApply pa;
	Af__ModelApply ma;
	struct af_bundle *bundle = NULL;
	struct af_registry *reg = NULL;
	int rc;

	if (!af_consensus_is_leader(&n->cons)) {
		controld_job_fail(j, AF__CODE__NOT_LEADER, "not the leader");
		return;
	}
	switch (cmd.op_case) {
	case AF__COMMAND__OP_POLICY_APPLY:
		if (compile_policy(j, cmd.policy_apply, &pa, &bundle) != 0)
			return;
		cmd.policy_apply = &pa;
		break;
	case AF__COMMAND__OP_MODEL_APPLY:
		if (compile_models(j, cmd.model_apply, &ma, &reg) != 0)
			return;
		cmd.model_apply = &ma;
		break;
	case AF__COMMAND__OP_POLICY_ROLLBACK:
	case AF__COMMAND__OP_MODEL_SET_STATUS:
	case AF__COMMAND__OP_ROLLOUT:
		if (cmd.rollout->action ==
			    AF__ROLLOUT_CONTROL__ACTION__ADVANCE ||
		    cmd.rollout->action ==
			    AF__ROLLOUT_CONTROL__ACTION__AUTO_ABORT) {
			controld_job_fail(j, AF__CODE__INVALID,
					  "only the rollout controller "
					  "advances or auto-aborts");
			return;
		}
		break;
	case AF__COMMAND__OP_MODEL_DELETE:
	case AF__COMMAND__OP_FLEET_REPORT:
	case AF__COMMAND__OP_FLEET_DEREGISTER:
	case AF__COMMAND__OP_USAGE_REPORT:
	case AF__COMMAND__OP_BUDGET_SET:
	case AF__COMMAND__OP_LEASE:
	case AF__COMMAND__OP_NOOP:
		break;
	default:
		controld_job_fail(j, AF__CODE__INVALID, "unknown command");
		return;
	}
	/* Stamped by the leader: apply never reads a clock, and the
	 * principal is who the token says, never what the client wrote. */
	cmd.principal = (char *)j->principal;
	cmd.time_ms = af_wall_ms();
	rc = af_consensus_propose(&n->cons, &cmd, propose_cb, j);
	af_bundle_free(bundle);
	af_registry_free(reg);
	if (rc != 0)
		controld_job_fail(j, status_of_rc(rc), "propose: %s",
				  af_strerror(rc));
}

/* ------------------------------------------------------------ reads */

static int get_revision(struct af_txn *t, uint64_t rev, Af__Revision **ret)
{
	uint8_t key[8];

	af_store_key_u64(rev, key);
	return af_txn_get_msg(t, AF_TABLE_REVISIONS, key, sizeof(key),
			      &af__revision__descriptor,
			      (ProtobufCMessage **)ret);
}

static uint64_t stable_revision(struct af_txn *t)
{
	Af__Rollout *ro;
	uint64_t rev;

	if (af_txn_get_msg(t, AF_TABLE_ROLLOUT, "rollout", 7,
			   &af__rollout__descriptor,
			   (ProtobufCMessage **)&ro) != 0)
		return 0;
	rev = ro->stable_revision;
	protobuf_c_message_free_unpacked(&ro->base, NULL);
	return rev;
}

static void read_policy_get(struct controld_job *j, struct af_txn *t)
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
	rc = get_revision(t, want, &rev);
	if (rc == 0)
		rc = af_txn_get_msg(t, AF_TABLE_BUNDLES, rev->hash,
				    strlen(rev->hash),
				    &af__stored_bundle__descriptor,
				    (ProtobufCMessage **)&sb);
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

/* Collects unpacked messages of one table, newest first. */
struct collect {
	const ProtobufCMessageDescriptor *desc;
	ProtobufCMessage **items;
	size_t n, max;
};

static int collect_cb(const void *key, size_t klen, const void *val,
		      size_t vlen, void *arg)
{
	struct collect *c = arg;
	ProtobufCMessage *m;

	(void)key, (void)klen;
	if (c->n >= c->max)
		return 1;
	m = protobuf_c_message_unpack(c->desc, NULL, vlen, val);
	if (m == NULL)
		return AF_ECORRUPT;
	c->items[c->n++] = m;
	return 0;
}

static int collect(struct af_txn *t, enum af_table tbl,
		   const ProtobufCMessageDescriptor *desc, bool reverse,
		   size_t max, struct collect *c)
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

static void collect_free(struct collect *c)
{
	for (size_t i = 0; i < c->n; i++)
		protobuf_c_message_free_unpacked(c->items[i], NULL);
	af_free(c->items);
}

/* The whole registry as one packed af.policy.Registry (models in id
 * order). *ret owned (af_free). */
static int registry_pack(struct af_txn *t, uint8_t **ret, size_t *ret_len)
{
	Af__Policy__Registry reg = AF__POLICY__REGISTRY__INIT;
	struct collect c = {0};
	uint8_t *packed;
	int rc;

	rc = collect(t, AF_TABLE_MODELS, &af__policy__model__descriptor, false,
		     SIZE_MAX, &c);
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
	collect_free(&c);
	return rc;
}

static size_t limit_of(uint32_t asked)
{
	return asked == 0 || asked > MAX_LIST ? MAX_LIST : asked;
}

static void read_list(struct controld_job *j, struct af_txn *t)
{
	Af__Response resp = AF__RESPONSE__INIT;
	Af__PolicyHistoryResp ph = AF__POLICY_HISTORY_RESP__INIT;
	Af__AuditResp au = AF__AUDIT_RESP__INIT;
	Af__ModelListResp ml = AF__MODEL_LIST_RESP__INIT;
	struct collect c = {0};
	uint8_t *packed = NULL;
	int rc;

	switch (j->req->body_case) {
	case AF__REQUEST__BODY_POLICY_HISTORY:
		rc = collect(t, AF_TABLE_REVISIONS, &af__revision__descriptor,
			     true, limit_of(j->req->policy_history->limit), &c);
		ph.n_revisions = c.n;
		ph.revisions = (Af__Revision **)c.items;
		resp.body_case = AF__RESPONSE__BODY_POLICY_HISTORY;
		resp.policy_history = &ph;
		break;
	case AF__REQUEST__BODY_AUDIT:
		rc = collect(t, AF_TABLE_AUDIT, &af__audit_record__descriptor,
			     true, limit_of(j->req->audit->limit), &c);
		au.n_records = c.n;
		au.records = (Af__AuditRecord **)c.items;
		resp.body_case = AF__RESPONSE__BODY_AUDIT;
		resp.audit = &au;
		break;
	default: /* model list */
		rc = registry_pack(t, &packed, &ml.compiled.len);
		ml.compiled.data = packed;
		ml.registry_revision = af_txn_meta_u64(t, "registry_revision");
		resp.body_case = AF__RESPONSE__BODY_MODEL_LIST;
		resp.model_list = &ml;
		break;
	}
	if (rc != 0)
		controld_job_fail(j, AF__CODE__INTERNAL, "read: %s",
				  af_strerror(rc));
	else
		controld_job_finish(j, &resp);
	af_free(packed);
	collect_free(&c);
}

/* ------------------------------------------------- routerd: sync, fleet */

#define FLEET_LOST_MS 30000
#define FLEET_FORGET_S 86400 /* LOST routerds leave the fleet view after */

/* fleet_forget_s: the default, or AF_FLEET_FORGET_S (a positive number
 * of seconds) from controld's environment. */
static int64_t fleet_forget_ms(void)
{
	const char *e = getenv("AF_FLEET_FORGET_S");
	long long v = e != NULL ? strtoll(e, NULL, 10) : 0;

	return (v > 0 && v <= 10 * 365 * 86400LL ? v : FLEET_FORGET_S) * 1000;
}
#define MAX_CACHED_HASHES 16

struct heads {
	uint64_t stable, canary;
	uint32_t weight;
	Af__Revision *stable_rev, *canary_rev; /* owned; NULL when none */
};

static int read_heads(struct af_txn *t, struct heads *h)
{
	Af__Rollout *ro;
	int rc;

	memset(h, 0, sizeof(*h));
	rc = af_txn_get_msg(t, AF_TABLE_ROLLOUT, "rollout", 7,
			    &af__rollout__descriptor, (ProtobufCMessage **)&ro);
	if (rc == AF_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	h->stable = ro->stable_revision;
	h->canary = ro->canary_revision;
	h->weight = ro->weight;
	protobuf_c_message_free_unpacked(&ro->base, NULL);
	if (h->stable && (rc = get_revision(t, h->stable, &h->stable_rev)) != 0)
		return rc;
	if (h->canary && (rc = get_revision(t, h->canary, &h->canary_rev)) != 0)
		return rc;
	return 0;
}

static void heads_free(struct heads *h)
{
	if (h->stable_rev)
		protobuf_c_message_free_unpacked(&h->stable_rev->base, NULL);
	if (h->canary_rev)
		protobuf_c_message_free_unpacked(&h->canary_rev->base, NULL);
}

static bool is_cached(const Af__SyncReq *sr, const char *hash)
{
	for (size_t i = 0; i < sr->n_cached_hashes && i < MAX_CACHED_HASHES;
	     i++)
		if (strcmp(sr->cached_hashes[i], hash) == 0)
			return true;
	return false;
}

/* Fills sb for revision r; the bundle bytes travel only when routerd does
 * not cache that hash. *ret_sb owns what the store gave (free after). */
static int sync_bundle(struct af_txn *t, const Af__SyncReq *sr,
		       const Af__Revision *r, Af__SyncBundle *sb,
		       Af__StoredBundle **ret_sb)
{
	*ret_sb = NULL;
	sb->revision = r->revision;
	sb->hash = r->hash;
	sb->name = r->name;
	sb->key_id = r->key_id;
	sb->serial = r->serial;
	sb->signature = r->signature;
	if (is_cached(sr, r->hash))
		return 0;
	int rc = af_txn_get_msg(t, AF_TABLE_BUNDLES, r->hash, strlen(r->hash),
				&af__stored_bundle__descriptor,
				(ProtobufCMessage **)ret_sb);
	if (rc == 0)
		sb->compiled = (*ret_sb)->compiled;
	return rc;
}

static void read_sync(struct controld_job *j, struct af_txn *t)
{
	const Af__SyncReq *sr = j->req->sync;
	Af__Response resp = AF__RESPONSE__INIT;
	Af__SyncResp out = AF__SYNC_RESP__INIT;
	Af__SyncBundle st = AF__SYNC_BUNDLE__INIT, ca = AF__SYNC_BUNDLE__INIT;
	Af__StoredBundle *sst = NULL, *sca = NULL;
	struct collect budgets = {0};
	struct heads h;
	uint8_t *reg = NULL;
	int rc;

	/* The raft applied index: the store reflects every command entry up
	 * to it (all on this thread), and hints carry the same number. */
	out.state_index = af_consensus_applied_index(&j->node->cons);
	out.registry_revision = af_txn_meta_u64(t, "registry_revision");
	if ((rc = read_heads(t, &h)) != 0)
		goto out;
	if (h.stable_rev &&
	    (rc = sync_bundle(t, sr, h.stable_rev, &st, &sst)) != 0)
		goto out;
	if (h.canary_rev &&
	    (rc = sync_bundle(t, sr, h.canary_rev, &ca, &sca)) != 0)
		goto out;
	out.stable = h.stable_rev ? &st : NULL;
	out.canary = h.canary_rev ? &ca : NULL;
	out.canary_weight = h.canary_rev ? h.weight : 0;
	if (sr->registry_revision != out.registry_revision &&
	    (rc = registry_pack(t, &reg, &out.registry.len)) != 0)
		goto out;
	out.registry.data = reg;
	if ((rc = collect(t, AF_TABLE_BUDGETS, &af__budget__descriptor, false,
			  MAX_LIST, &budgets)) != 0)
		goto out;
	out.n_budgets = budgets.n;
	out.budgets = (Af__Budget **)budgets.items;
	resp.body_case = AF__RESPONSE__BODY_SYNC;
	resp.sync = &out;
	controld_job_finish(j, &resp);
out:
	if (rc != 0)
		controld_job_fail(j, AF__CODE__INTERNAL, "sync: %s",
				  af_strerror(rc));
	af_free(reg);
	collect_free(&budgets);
	if (sst)
		protobuf_c_message_free_unpacked(&sst->base, NULL);
	if (sca)
		protobuf_c_message_free_unpacked(&sca->base, NULL);
	heads_free(&h);
}

static const char *fleet_state(const Af__FleetRecord *r, const struct heads *h,
			       uint64_t registry, int64_t now)
{
	const Af__FleetReport *f = r->last;
	const char *ch = h->canary_rev ? h->canary_rev->hash : "";

	if (now - r->last_seen_ms > FLEET_LOST_MS)
		return "LOST";
	if (f->nack)
		return "NACKED";
	if (h->stable_rev == NULL ||
	    strcmp(f->stable_hash, h->stable_rev->hash) ||
	    strcmp(f->canary_hash, ch) || f->registry_revision != registry)
		return "STALE";
	return "SYNCED";
}

static void read_fleet(struct controld_job *j, struct af_txn *t)
{
	Af__Response resp = AF__RESPONSE__INIT;
	Af__FleetStatusResp fs = AF__FLEET_STATUS_RESP__INIT;
	Af__FleetEntry *entries = NULL, **ptrs = NULL;
	struct collect c = {0};
	struct heads h;
	int64_t forget_ms = fleet_forget_ms();
	int rc;

	fs.now_ms = af_wall_ms();
	fs.registry_revision = af_txn_meta_u64(t, "registry_revision");
	if ((rc = read_heads(t, &h)) != 0 ||
	    (rc = collect(t, AF_TABLE_FLEET, &af__fleet_record__descriptor,
			  false, MAX_LIST, &c)) != 0)
		goto out;
	entries = af_calloc(c.n + 1, sizeof(*entries));
	ptrs = af_calloc(c.n + 1, sizeof(*ptrs));
	if (entries == NULL || ptrs == NULL) {
		rc = AF_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < c.n; i++) {
		Af__FleetRecord *r = (Af__FleetRecord *)c.items[i];

		if (fs.now_ms - r->last_seen_ms > forget_ms)
			continue; /* LOST long enough: forgotten */
		af__fleet_entry__init(&entries[fs.n_entries]);
		entries[fs.n_entries].record = r;
		entries[fs.n_entries].state = (char *)fleet_state(
			r, &h, fs.registry_revision, fs.now_ms);
		ptrs[fs.n_entries] = &entries[fs.n_entries];
		fs.n_entries++;
	}
	fs.entries = ptrs;
	fs.stable_revision = h.stable;
	fs.stable_hash = h.stable_rev ? h.stable_rev->hash : (char *)"";
	resp.body_case = AF__RESPONSE__BODY_FLEET_STATUS;
	resp.fleet_status = &fs;
	controld_job_finish(j, &resp);
out:
	if (rc != 0)
		controld_job_fail(j, AF__CODE__INTERNAL, "fleet: %s",
				  af_strerror(rc));
	af_free(entries);
	af_free(ptrs);
	collect_free(&c);
	heads_free(&h);
}

static void read_canary(struct controld_job *j, struct af_txn *t)
{
	Af__Response resp = AF__RESPONSE__INIT;
	Af__CanaryStatusResp cs = AF__CANARY_STATUS_RESP__INIT;
	Af__UsageTotals pss, pcs, pst, pct;
	Af__Rollout *ro = NULL;
	struct af_rollout r;
	struct af_usage ss, cstep, st, ct;
	struct heads h;
	char why[200] = "";
	int rc;

	if ((rc = af_rollout_get(t, &r)) != 0 || (rc = read_heads(t, &h)) != 0)
		goto out_fail;
	if (r.canary != 0 &&
	    (rc = controld_rollout_judge_now(t, &r, &ss, &cstep, why,
					     sizeof(why))) < 0)
		goto out_heads;
	if ((rc = af_usage_get(t, r.stable, &st)) != 0 ||
	    (rc = af_usage_get(t, r.canary, &ct)) != 0)
		goto out_heads;
	rc = af_txn_get_msg(t, AF_TABLE_ROLLOUT, "rollout", 7,
			    &af__rollout__descriptor, (ProtobufCMessage **)&ro);
	if (rc != 0 && rc != AF_ENOTFOUND)
		goto out_heads;
	rc = 0;
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
	resp.body_case = AF__RESPONSE__BODY_CANARY_STATUS;
	resp.canary_status = &cs;
	controld_job_finish(j, &resp);
out_heads:
	heads_free(&h);
out_fail:
	if (ro)
		protobuf_c_message_free_unpacked(&ro->base, NULL);
	if (rc != 0)
		controld_job_fail(j, AF__CODE__INTERNAL, "canary: %s",
				  af_strerror(rc));
}

static void read_budgets(struct controld_job *j, struct af_txn *t)
{
	const char *tenant = j->req->budget_list->tenant;
	Af__Response resp = AF__RESPONSE__INIT;
	Af__BudgetListResp bl = AF__BUDGET_LIST_RESP__INIT;
	Af__BudgetState *states = NULL, **ptrs = NULL;
	struct collect c = {0};
	int64_t now = af_wall_ms();
	int rc;

	if ((rc = collect(t, AF_TABLE_BUDGETS, &af__budget__descriptor, false,
			  MAX_LIST, &c)) != 0)
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
		if ((rc = af_budget_period(t, b, now, &st)) != 0)
			goto out;
		af__budget_state__init(&states[bl.n_budgets]);
		states[bl.n_budgets].budget = b;
		states[bl.n_budgets].spent_micro = st.spent_micro;
		states[bl.n_budgets].leased_micro = st.leased_micro;
		states[bl.n_budgets].period_start_ms = st.period_start_ms;
		states[bl.n_budgets].period_end_ms = st.period_end_ms;
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
	resp.body_case = AF__RESPONSE__BODY_BUDGET_LIST;
	resp.budget_list = &bl;
	controld_job_finish(j, &resp);
out:
	if (rc != 0)
		controld_job_fail(j, AF__CODE__INTERNAL, "budgets: %s",
				  af_strerror(rc));
	af_free(states);
	af_free(ptrs);
	collect_free(&c);
}

/* Showback: per-day rows grouped by one dimension. */
struct showback_scan {
	int by; /* 0 tenant, 1 class, 2 model, 3 revision */
	int64_t since;
	Af__ShowbackRow *rows;
	char (*keys)[72];
	size_t n, cap;
	int rc;
};

static int showback_row(const void *key, size_t klen, const void *val,
			size_t vlen, void *arg)
{
	struct showback_scan *s = arg;
	const uint8_t *k = key;
	const char *parts[3];
	char group[72];
	Af__Showback *sb;
	size_t off = 11;
	size_t i;

	if (klen < 11 + 3 + 8 || (int64_t)af_store_u64_of_key(k + 3) < s->since)
		return 0;
	for (int p = 0; p < 3; p++) {
		parts[p] = (const char *)k + off;
		off += strnlen(parts[p], klen - off) + 1;
		if (off > klen - 8)
			return 0;
	}
	if (s->by == 3)
		snprintf(group, sizeof(group), "%llu",
			 (unsigned long long)af_store_u64_of_key(k + off));
	else
		snprintf(group, sizeof(group), "%.64s", parts[s->by]);
	sb = af__showback__unpack(NULL, vlen, val);
	if (sb == NULL)
		return AF_ECORRUPT;
	for (i = 0; i < s->n && strcmp(s->keys[i], group) != 0; i++)
		;
	if (i == s->n && s->n < s->cap) {
		af__showback_row__init(&s->rows[i]);
		memcpy(s->keys[i], group, sizeof(group));
		s->rows[i].key = s->keys[i];
		s->n++;
	}
	if (i < s->n) {
		s->rows[i].count += sb->count;
		s->rows[i].ok += sb->ok;
		s->rows[i].cost_nano_usd += sb->cost_nano_usd;
		s->rows[i].failed_cost_nano_usd += sb->failed_cost_nano_usd;
	}
	protobuf_c_message_free_unpacked(&sb->base, NULL);
	return 0;
}

static void read_showback(struct controld_job *j, struct af_txn *t)
{
	static const char *const dims[] = {"tenant", "class", "model",
					   "revision"};
	const Af__ShowbackReq *q = j->req->showback;
	Af__Response resp = AF__RESPONSE__INIT;
	Af__ShowbackResp sr = AF__SHOWBACK_RESP__INIT;
	struct showback_scan s = {
		.by = -1, .since = q->since_ms, .cap = MAX_LIST};
	Af__ShowbackRow **ptrs = NULL;
	int rc;

	for (int i = 0; i < 4; i++)
		if (strcmp(q->by[0] ? q->by : "tenant", dims[i]) == 0)
			s.by = i;
	if (s.by < 0) {
		controld_job_fail(j, AF__CODE__INVALID,
				  "--by takes tenant, class, model or "
				  "revision");
		return;
	}
	s.rows = af_calloc(s.cap, sizeof(*s.rows));
	s.keys = af_calloc(s.cap, sizeof(*s.keys));
	ptrs = af_calloc(s.cap, sizeof(*ptrs));
	rc = s.rows && s.keys && ptrs
		     ? af_txn_iter_prefix(t, AF_TABLE_USAGE, "sb/", 3, false,
					  showback_row, &s)
		     : AF_ENOMEM;
	if (rc < 0) {
		controld_job_fail(j, AF__CODE__INTERNAL, "showback: %s",
				  af_strerror(rc));
		goto out;
	}
	for (size_t i = 0; i < s.n; i++)
		ptrs[i] = &s.rows[i];
	sr.n_rows = s.n;
	sr.rows = ptrs;
	resp.body_case = AF__RESPONSE__BODY_SHOWBACK;
	resp.showback = &sr;
	controld_job_finish(j, &resp);
out:
	af_free(s.rows);
	af_free(s.keys);
	af_free(ptrs);
}

static void read_snapshot(struct controld_job *j)
{
	Af__Response resp = AF__RESPONSE__INIT;
	Af__SnapshotResp sr = AF__SNAPSHOT_RESP__INIT;
	struct af_err err = {{0}};
	void *buf;
	size_t len;
	uint64_t applied;

	if (af_store_snapshot(j->node->store, &buf, &len, &applied, &err) !=
	    0) {
		controld_job_fail(j, AF__CODE__INTERNAL, "snapshot: %s",
				  err.msg);
		return;
	}
	sr.index = applied;
	sr.data.data = buf;
	sr.data.len = len;
	resp.body_case = AF__RESPONSE__BODY_SNAPSHOT;
	resp.snapshot = &sr;
	controld_job_finish(j, &resp);
	af_free(buf);
}

static void do_read(struct controld_job *j)
{
	struct af_txn *t;
	struct af_err err = {{0}};

	if (j->req->body_case == AF__REQUEST__BODY_SNAPSHOT) {
		read_snapshot(j);
		return;
	}
	if (af_store_read_begin(j->node->store, &t, &err) != 0) {
		controld_job_fail(j, AF__CODE__INTERNAL, "%s", err.msg);
		return;
	}
	if (j->req->body_case == AF__REQUEST__BODY_POLICY_GET)
		read_policy_get(j, t);
	else if (j->req->body_case == AF__REQUEST__BODY_SYNC)
		read_sync(j, t);
	else if (j->req->body_case == AF__REQUEST__BODY_FLEET_STATUS)
		read_fleet(j, t);
	else if (j->req->body_case == AF__REQUEST__BODY_CANARY_STATUS)
		read_canary(j, t);
	else if (j->req->body_case == AF__REQUEST__BODY_BUDGET_LIST)
		read_budgets(j, t);
	else if (j->req->body_case == AF__REQUEST__BODY_SHOWBACK)
		read_showback(j, t);
	else
		read_list(j, t);
	af_store_read_end(t);
}

static void read_barrier_cb(void *arg, int status,
			    const struct af_fsm_result *r)
{
	struct controld_job *j = arg;

	(void)r;
	if (status != 0) {
		controld_job_fail(j, status_of_rc(status), "read: %s",
				  af_strerror(status));
		return;
	}
	do_read(j);
}

static void handle_read(struct controld_job *j)
{
	int rc;

	if (j->req->read_mode == AF__READ_MODE__STALE) {
		do_read(j);
		return;
	}
	rc = af_consensus_read_barrier(&j->node->cons, read_barrier_cb, j);
	if (rc != 0)
		controld_job_fail(j, status_of_rc(rc), "%s",
				  rc == AF_ENOTLEADER ? "not the leader"
						      : af_strerror(rc));
}

/* ------------------------------------------------------- membership */

static void change_cb(void *arg, int status, const struct af_fsm_result *r)
{
	struct controld_job *j = arg;
	Af__Response resp = AF__RESPONSE__INIT;

	(void)r;
	if (status != 0) {
		controld_job_fail(j,
				  status == AF_EINVAL ? AF__CODE__INVALID
						      : AF__CODE__UNAVAILABLE,
				  "%s", af_strerror(status));
		return;
	}
	controld_job_finish(j, &resp);
}

static void handle_transfer(struct controld_job *j)
{
	int rc = af_consensus_transfer(
		&j->node->cons, j->req->transfer_leader->to, change_cb, j);
	if (rc != 0)
		controld_job_fail(j, status_of_rc(rc), "transfer: %s",
				  af_strerror(rc));
}

static void handle_membership(struct controld_job *j)
{
	const Af__MembershipReq *m = j->req->membership;
	int rc;

	if (m->id == 0 || m->id > 65535) {
		controld_job_fail(j, AF__CODE__INVALID,
				  "node id must be 1..65535");
		return;
	}
	if (m->remove)
		rc = af_consensus_remove(&j->node->cons, m->id, change_cb, j);
	else if (m->raft[0] == '\0' || strlen(m->raft) >= AF_ADDR_MAX) {
		controld_job_fail(j, AF__CODE__INVALID, "--raft ADDR needed");
		return;
	} else
		rc = af_consensus_add(&j->node->cons, m->id, m->raft, change_cb,
				      j);
	if (rc != 0)
		controld_job_fail(j, status_of_rc(rc), "membership: %s",
				  af_strerror(rc));
}

/* Authenticates and authorizes before anything else happens. */
static int authorize(struct controld_job *j)
{
	char why[256];

	if (af_auth_check(j->node->auth, j->req, &j->principal, why,
			  sizeof(why)) == 0)
		return 0;
	atomic_fetch_add(&j->node->stats.auth_denied, 1);
	af_auth_log_denied(af_auth_needs(j->req), why);
	controld_job_fail(j, AF__CODE__PERMISSION_DENIED, "%s", why);
	return -1;
}

void controld_handle(struct controld_job *j)
{
	Af__Request *req = j->req;

	if (authorize(j) != 0)
		return;

	switch (req->body_case) {
	case AF__REQUEST__BODY_CLUSTER_STATUS:
		j->verb = VERB_STATUS;
		handle_status(j);
		return;
	case AF__REQUEST__BODY_PROPOSE:
		j->verb = VERB_WRITE;
		handle_write(j);
		return;
	case AF__REQUEST__BODY_POLICY_GET:
		j->verb = VERB_POLICY_GET;
		break;
	case AF__REQUEST__BODY_POLICY_HISTORY:
		j->verb = VERB_POLICY_HISTORY;
		break;
	case AF__REQUEST__BODY_MODEL_LIST:
		j->verb = VERB_MODEL_LIST;
		break;
	case AF__REQUEST__BODY_AUDIT:
		j->verb = VERB_AUDIT;
		break;
	case AF__REQUEST__BODY_SNAPSHOT:
		j->verb = VERB_SNAPSHOT;
		break;
	case AF__REQUEST__BODY_SYNC:
		/* Any node answers from its own state: routerd never moves
		 * its view backwards, so it needs no linearizable read. */
		j->verb = VERB_SYNC;
		j->req->read_mode = AF__READ_MODE__STALE;
		break;
	case AF__REQUEST__BODY_FLEET_STATUS:
		j->verb = VERB_FLEET;
		break;
	case AF__REQUEST__BODY_CANARY_STATUS:
		j->verb = VERB_CANARY;
		break;
	case AF__REQUEST__BODY_BUDGET_LIST:
		j->verb = VERB_BUDGET;
		break;
	case AF__REQUEST__BODY_SHOWBACK:
		j->verb = VERB_REPORT;
		break;
	case AF__REQUEST__BODY_TRANSFER_LEADER:
		j->verb = VERB_TRANSFER;
		handle_transfer(j);
		return;
	case AF__REQUEST__BODY_MEMBERSHIP:
		j->verb = VERB_MEMBERSHIP;
		handle_membership(j);
		return;
	default:
		j->verb = VERB_OTHER;
		controld_job_fail(j, AF__CODE__INVALID, "unknown request");
		return;
	}
	handle_read(j);
}
