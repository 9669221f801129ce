/* Request handlers: run on the loop thread (see node.h). Writes go through
 * consensus on the leader; reads are linearizable (a barrier issued after
 * the read arrived) unless the caller asks for a stale read. */
#include "common/alloc.h"
#include "common/satarith.h"
#include "common/name.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "controld/api_int.h"
#include "controld/auth.h"
#include "controld/budget.h"
#include "controld/rollout.h"
#include "policy/policy.h"
#include "proto/policy.pb-c.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

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

/* The Raft configuration as this node knows it (no read barrier: like
 * status, every node answers from its own state). */
static void handle_member_list(struct controld_job *j)
{
	struct af_consensus_member m[AF_MAX_NODES];
	Af__Response resp = AF__RESPONSE__INIT;
	Af__MemberListResp ml = AF__MEMBER_LIST_RESP__INIT;
	Af__Member pm[AF_MAX_NODES], *pp[AF_MAX_NODES];
	unsigned n = af_consensus_members(&j->node->cons, m, AF_MAX_NODES);

	for (unsigned i = 0; i < n; i++) {
		af__member__init(&pm[i]);
		pm[i].id = m[i].id;
		pm[i].raft = (char *)(m[i].raft ? m[i].raft : "");
		pm[i].role = (char *)m[i].role;
		pp[i] = &pm[i];
	}
	ml.members = pp;
	ml.n_members = n;
	ml.leader_id = af_consensus_leader(&j->node->cons);
	resp.body_case = AF__RESPONSE__BODY_MEMBER_LIST;
	resp.member_list = &ml;
	controld_job_finish(j, &resp);
}

/* ----------------------------------------------------------- writes */

static void finish_apply(struct controld_job *j, const struct af_fsm_result *r,
			 bool dry_run)
{
	Af__Response resp = AF__RESPONSE__INIT;
	Af__Status st;
	Af__ApplyResult ar;

	af_fsm_result_to_pb(r, &ar, &st);
	ar.dry_run = dry_run;
	resp.status = &st;
	resp.body_case = AF__RESPONSE__BODY_APPLY;
	resp.apply = &ar;
	controld_job_finish(j, &resp);
}

static void propose_cb(void *arg, int status, const struct af_fsm_result *r)
{
	struct controld_job *j = arg;

	if (status != 0) {
		controld_job_fail(j, status_of_rc(status),
				  "write not committed: %s",
				  af_strerror(status));
		return;
	}
	af_histogram_observe_ns(&j->node->stats.apply_latency,
				af_mono_ns() - j->start_ns);
	finish_apply(j, r, false);
}

/* ------------------------------------------- compile (off the loop thread)
 *
 * Bundles and registries are compiled by the NNG worker that received the
 * request, before it is queued for the loop thread (which also runs Raft):
 * a slow compile delays only that caller. These functions touch nothing
 * but immutable node configuration and the job. */

static int prep_fail(struct controld_job *j, Af__Code code, const char *fmt,
		     ...) __attribute__((format(printf, 3, 4)));

static int prep_fail(struct controld_job *j, Af__Code code, const char *fmt,
		     ...)
{
	va_list ap;

	j->pre_code = code;
	va_start(ap, fmt);
	vsnprintf(j->pre_msg, sizeof(j->pre_msg), fmt, ap);
	va_end(ap);
	return -1;
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
		return prep_fail(j, AF__CODE__PERMISSION_DENIED,
				 "unsigned bundle refused: this cluster "
				 "requires signed bundles (af policy sign)");
	}
	if (n->nkeys == 0)
		return 0; /* nothing to check against: stored as given */
	if (af_sign_verify(n->keys, n->nkeys, pa->key_id, pa->name, pa->hash,
			   pa->serial, pa->signature.data, pa->signature.len,
			   &err) != 0)
		return prep_fail(j, AF__CODE__PERMISSION_DENIED, "%s", err.msg);
	return 0;
}

/* Empty protobuf bytes arrive as a NULL pointer: refused here, and never
 * handed to a parser. */
static int check_source(struct controld_job *j, const ProtobufCBinaryData *b,
			size_t max, const char *what, const char *verb)
{
	if (b->len == 0 || b->data == NULL)
		return prep_fail(j, AF__CODE__INVALID,
				 "empty %s source: send the YAML file "
				 "(af %s FILE)",
				 what, verb);
	if (b->len > max)
		return prep_fail(j, AF__CODE__TOO_LARGE,
				 "%s larger than %zu bytes", what, max);
	return 0;
}

/* The leader compiles what the client sent and never trusts its
 * compiled form or hash. */
static int compile_policy(struct controld_job *j, const Af__PolicyApply *in)
{
	struct af_err err = {{0}};
	size_t len;

	if (check_source(j, &in->source, MAX_POLICY_SOURCE, "bundle",
			 "policy apply") != 0)
		return -1;
	if (af_bundle_compile("bundle", (const char *)in->source.data,
			      in->source.len, &j->bundle, &err) != 0)
		return prep_fail(j, AF__CODE__INVALID, "%s", err.msg);
	j->pa = *in;
	j->pa.compiled.data = (uint8_t *)af_bundle_bytes(j->bundle, &len);
	j->pa.compiled.len = len;
	j->pa.hash = (char *)af_bundle_hash(j->bundle);
	j->pa.name = (char *)af_bundle_name(j->bundle);
	return check_signature(j, &j->pa);
}

static int compile_models(struct controld_job *j, const Af__ModelApply *in)
{
	struct af_err err = {{0}};
	size_t len;

	if (check_source(j, &in->source, MAX_MODELS_SOURCE, "model file",
			 "model apply") != 0)
		return -1;
	if (af_registry_compile("models", (const char *)in->source.data,
				in->source.len, &j->reg, &err) != 0)
		return prep_fail(j, AF__CODE__INVALID, "%s", err.msg);
	j->ma = *in;
	j->ma.compiled.data = (uint8_t *)af_registry_bytes(j->reg, &len);
	j->ma.compiled.len = len;
	return 0;
}

void controld_prepare(struct controld_job *j, bool force)
{
	const Af__Command *cmd;
	const char *principal;
	char why[256];

	if (j->req->body_case != AF__REQUEST__BODY_PROPOSE)
		return;
	j->forced = force;
	cmd = j->req->propose;
	if (cmd->op_case != AF__COMMAND__OP_POLICY_APPLY &&
	    cmd->op_case != AF__COMMAND__OP_MODEL_APPLY)
		return;
	/* Only a leader compiles, and only for a caller allowed to write;
	 * the loop thread checks both again and answers. */
	if ((!force && !atomic_load(&j->node->stats.is_leader)) ||
	    af_auth_check(j->node->auth, j->req, &principal, why,
			  sizeof(why)) != 0)
		return;
	j->prepared = true;
	if (cmd->op_case == AF__COMMAND__OP_POLICY_APPLY)
		compile_policy(j, cmd->policy_apply);
	else
		compile_models(j, cmd->model_apply);
}

void controld_job_release(struct controld_job *j)
{
	af_bundle_free(j->bundle);
	af_registry_free(j->reg);
	j->bundle = NULL;
	j->reg = NULL;
}

/* ----------------------------------------------------- write checks */

#define MAX_ROUTERD_ID 128
/* Per row of one usage report (about a second of one routerd's traffic):
 * far above any real flush, far below what could overflow a sum. */
#define MAX_USAGE_COUNT 1000000000000ull	 /* 1e12 outcomes */
#define MAX_USAGE_LATENCY_MS 1000000000000000ull /* 1e15 ms */
#define MAX_USAGE_COST_NANO 1000000000000000ll	 /* 1e6 USD */
#define MAX_LEASE_MICRO 1000000000000000ll	 /* 1e9 USD */

static int check_name(struct controld_job *j, const char *what, const char *s,
		      size_t max, bool may_be_empty)
{
	char why[96];
	size_t len = strnlen(s, max + 1);

	if (len == 0 && may_be_empty)
		return 0;
	if (af_name_valid(s, len, max, why, sizeof(why)))
		return 0;
	controld_job_fail(j, AF__CODE__INVALID, "%s: the name %s", what, why);
	return -1;
}

static int check_usage_row(struct controld_job *j, size_t i,
			   const Af__UsageRow *r)
{
	const char *bad = NULL;

	if (r->count > MAX_USAGE_COUNT || r->ok > r->count)
		bad = "count and ok must satisfy ok <= count <= 1e12";
	else if (r->n_latency_buckets > AF_USAGE_BUCKETS)
		bad = "too many latency buckets";
	else if (r->latency_sum_ms > MAX_USAGE_LATENCY_MS)
		bad = "latency_sum_ms above 1e15";
	else if (r->cost_nano_usd < 0 || r->cost_nano_usd > MAX_USAGE_COST_NANO)
		bad = "cost_nano_usd must be within 0..1e15";
	else if (r->failed_cost_nano_usd < 0 ||
		 r->failed_cost_nano_usd > r->cost_nano_usd)
		bad = "failed_cost_nano_usd must be within 0..cost_nano_usd";
	for (size_t k = 0; bad == NULL && k < r->n_latency_buckets; k++)
		if (r->latency_buckets[k] > r->count)
			bad = "a latency bucket holds more than count";
	if (bad != NULL) {
		controld_job_fail(j, AF__CODE__INVALID,
				  "usage report row %zu: %s", i, bad);
		return -1;
	}
	if (check_name(j, "usage tenant", r->tenant, AF_POLICY_NAME_MAX,
		       true) != 0 ||
	    check_name(j, "usage class", r->class_name, AF_POLICY_NAME_MAX,
		       true) != 0 ||
	    check_name(j, "usage model", r->model, AF_POLICY_NAME_MAX, true) !=
		    0)
		return -1;
	return 0;
}

static int check_lease(struct controld_job *j, const Af__LeaseRequest *l)
{
	if (l->consumed_micro < 0 || l->consumed_micro > MAX_LEASE_MICRO ||
	    l->want_micro < 0 || l->want_micro > MAX_LEASE_MICRO) {
		controld_job_fail(j, AF__CODE__INVALID,
				  "lease: consumed and wanted amounts must "
				  "be within 0..1e15 micro-USD");
		return -1;
	}
	if (check_name(j, "lease routerd id", l->routerd_id, MAX_ROUTERD_ID,
		       false) != 0)
		return -1;
	return check_name(j, "lease tenant", l->tenant, AF_POLICY_NAME_MAX,
			  false);
}

/* Bounds every field input controls that apply sums or stores as a name.
 * 0, or -1 with the job failed. */
static int check_command(struct controld_job *j, const Af__Command *cmd)
{
	const Af__UsageReport *ur;

	if (strnlen(cmd->request_id, AF_REQUEST_ID_MAX + 1) >
	    AF_REQUEST_ID_MAX) {
		controld_job_fail(j, AF__CODE__INVALID,
				  "request id longer than %d bytes",
				  AF_REQUEST_ID_MAX);
		return -1;
	}
	switch (cmd->op_case) {
	case AF__COMMAND__OP_ROLLOUT:
		/* Only the rollout verbs carry an action (the other ops share
		 * the union slot). */
		if (cmd->rollout->action ==
			    AF__ROLLOUT_CONTROL__ACTION__ADVANCE ||
		    cmd->rollout->action ==
			    AF__ROLLOUT_CONTROL__ACTION__AUTO_ABORT) {
			controld_job_fail(j, AF__CODE__INVALID,
					  "only the rollout controller "
					  "advances or auto-aborts");
			return -1;
		}
		return 0;
	case AF__COMMAND__OP_MODEL_SET_STATUS:
		return check_name(j, "model id", cmd->model_set_status->id,
				  AF_POLICY_NAME_MAX, false);
	case AF__COMMAND__OP_MODEL_DELETE:
		return check_name(j, "model id", cmd->model_delete->id,
				  AF_POLICY_NAME_MAX, false);
	case AF__COMMAND__OP_BUDGET_SET:
		return check_name(j, "budget tenant", cmd->budget_set->tenant,
				  AF_POLICY_NAME_MAX, false);
	case AF__COMMAND__OP_LEASE:
		return check_lease(j, cmd->lease);
	case AF__COMMAND__OP_FLEET_REPORT:
		return check_name(j, "routerd id",
				  cmd->fleet_report->routerd_id, MAX_ROUTERD_ID,
				  false);
	case AF__COMMAND__OP_FLEET_DEREGISTER:
		return check_name(j, "routerd id",
				  cmd->fleet_deregister->routerd_id,
				  MAX_ROUTERD_ID, false);
	case AF__COMMAND__OP_USAGE_REPORT:
		ur = cmd->usage_report;
		for (size_t i = 0; i < ur->n_rows; i++)
			if (check_usage_row(j, i, ur->rows[i]) != 0)
				return -1;
		return 0;
	case AF__COMMAND__OP_POLICY_APPLY:
	case AF__COMMAND__OP_MODEL_APPLY:
	case AF__COMMAND__OP_POLICY_ROLLBACK:
	case AF__COMMAND__OP_NOOP:
		return 0;
	default:
		controld_job_fail(j, AF__CODE__INVALID, "unknown command");
		return -1;
	}
}

/* A compiled apply: the worker's result (or refusal). */
static int use_prepared(struct controld_job *j, Af__Command *cmd)
{
	if (!j->prepared && j->forced) {
		controld_job_fail(j, AF__CODE__PERMISSION_DENIED,
				  "not allowed to write");
		return -1;
	}
	if (!j->prepared) {
		/* The worker did not compile (leadership arrived meanwhile):
		 * back to it, to compile and queue the job again. */
		controld_job_again(j);
		return -1;
	}
	if (j->pre_code != 0) {
		controld_job_fail(j, (Af__Code)j->pre_code, "%s", j->pre_msg);
		return -1;
	}
	if (cmd->op_case == AF__COMMAND__OP_POLICY_APPLY)
		cmd->policy_apply = &j->pa;
	else
		cmd->model_apply = &j->ma;
	return 0;
}

static void handle_write(struct controld_job *j)
{
	struct controld_node *n = j->node;
	Af__Command cmd = *j->req->propose;
	struct af_fsm_result res;
	int rc;

	if (!af_consensus_is_leader(&n->cons)) {
		controld_job_fail(j, AF__CODE__NOT_LEADER, "not the leader");
		return;
	}
	if (check_command(j, &cmd) != 0)
		return;
	if ((cmd.op_case == AF__COMMAND__OP_POLICY_APPLY ||
	     cmd.op_case == AF__COMMAND__OP_MODEL_APPLY) &&
	    use_prepared(j, &cmd) != 0)
		return;
	/* A retried write already applied: its stored result, no new entry
	 * (apply checks again for one still in flight). */
	if (cmd.request_id[0] != '\0' &&
	    af_fsm_lookup_result(&n->fsm, cmd.request_id, &res) == 0) {
		finish_apply(j, &res, j->req->dry_run);
		return;
	}
	/* Stamped by the leader: apply never reads a clock, and the
	 * principal is who the token says, never what the client wrote. */
	cmd.principal = (char *)j->principal;
	cmd.time_ms = af_wall_ms();
	if (j->req->dry_run) {
		/* What apply would do now, from this leader's store; nothing
		 * is proposed. */
		rc = af_fsm_dry_run(&n->fsm, &cmd, &res);
		if (rc != 0)
			controld_job_fail(j, AF__CODE__INTERNAL, "dry run: %s",
					  af_strerror(rc));
		else
			finish_apply(j, &res, true);
		return;
	}
	rc = af_consensus_propose(&n->cons, &cmd, propose_cb, j);
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

	if (klen != 8)
		return AF_ECORRUPT;
	if (pg->n == pg->max) { /* one more exists: the page has a next */
		pg->next_after = pg->last_key;
		return 1;
	}
	m = protobuf_c_message_unpack(pg->desc, NULL, vlen, val);
	if (m == NULL)
		return AF_ECORRUPT;
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

static void read_page(struct controld_job *j, struct af_txn *t)
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

static void read_models(struct controld_job *j, struct af_txn *t)
{
	Af__Response resp = AF__RESPONSE__INIT;
	Af__ModelListResp ml = AF__MODEL_LIST_RESP__INIT;
	uint8_t *packed = NULL;
	int rc;

	rc = registry_pack(t, &packed, &ml.compiled.len);
	ml.compiled.data = packed;
	ml.registry_revision = af_txn_meta_u64(t, "registry_revision");
	resp.body_case = AF__RESPONSE__BODY_MODEL_LIST;
	resp.model_list = &ml;
	if (rc != 0)
		controld_job_fail(j, AF__CODE__INTERNAL, "read: %s",
				  af_strerror(rc));
	else
		controld_job_finish(j, &resp);
	af_free(packed);
}

/* ------------------------------------------------- routerd: sync, fleet */

#define FLEET_LOST_MS 30000
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
	out.distribution_index = af_fsm_distribution_index(t);
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
	int64_t forget_ms = (int64_t)j->node->cfg->fleet_forget_s * 1000;
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
/* Groups of one report: insertion order in rows/keys, found by an
 * open-addressing table of row index + 1 (XXH3 of the group name). */
#define MAX_REPORT_GROUPS 100000u
#define GROUP_LEN 72

struct showback_scan {
	int by; /* 0 tenant, 1 class, 2 model, 3 revision */
	Af__ShowbackRow *rows;
	char (*keys)[GROUP_LEN];
	uint32_t *slots; /* row index + 1; 0 free */
	size_t n, cap;	 /* rows used, allocated */
	size_t nslots;	 /* a power of two, at least 2 * cap */
	bool too_many;
	/* Values are unpacked into buf (a bump allocator reset each row, heap
	 * past it): no malloc per row. */
	ProtobufCAllocator alloc;
	size_t used;
	_Alignas(16) uint8_t buf[512];
};

static void *scan_alloc(void *arg, size_t size)
{
	struct showback_scan *s = arg;
	size_t need = (size + 15) & ~(size_t)15;

	if (need < size || need > sizeof(s->buf) - s->used)
		return af_malloc(size);
	s->used += need;
	return s->buf + s->used - need;
}

static void scan_free(void *arg, void *p)
{
	struct showback_scan *s = arg;

	if ((uint8_t *)p < s->buf || (uint8_t *)p >= s->buf + sizeof(s->buf))
		af_free(p);
}

static int scan_grow(struct showback_scan *s)
{
	size_t cap = s->cap ? s->cap * 2 : 256, nslots;
	Af__ShowbackRow *rows;
	char(*keys)[GROUP_LEN];
	uint32_t *slots;

	if (cap > MAX_REPORT_GROUPS)
		cap = MAX_REPORT_GROUPS;
	for (nslots = 512; nslots < 2 * cap; nslots *= 2)
		;
	slots = af_calloc(nslots, sizeof(*slots));
	if (slots == NULL)
		return AF_ENOMEM;
	rows = af_realloc(s->rows, cap * sizeof(*rows));
	if (rows != NULL)
		s->rows = rows;
	keys = rows ? af_realloc(s->keys, cap * sizeof(*keys)) : NULL;
	if (keys == NULL) {
		af_free(slots);
		return AF_ENOMEM;
	}
	s->keys = keys;
	for (size_t i = 0; i < s->n; i++) {
		size_t h = XXH3_64bits(keys[i], strlen(keys[i])) & (nslots - 1);

		while (slots[h])
			h = (h + 1) & (nslots - 1);
		slots[h] = (uint32_t)i + 1;
		rows[i].key = keys[i];
	}
	af_free(s->slots);
	s->slots = slots;
	s->nslots = nslots;
	s->cap = cap;
	return 0;
}

/* The row of group name[0..len), added when new; NULL with s->too_many set
 * past MAX_REPORT_GROUPS, or on allocation failure. */
static Af__ShowbackRow *scan_group(struct showback_scan *s, const char *name,
				   size_t len)
{
	size_t h;
	uint32_t i;

	if (s->n == s->cap &&
	    (s->n == MAX_REPORT_GROUPS || scan_grow(s) != 0)) {
		s->too_many = s->n == MAX_REPORT_GROUPS;
		/* an existing group may still match */
	}
	if (s->nslots == 0)
		return NULL;
	h = XXH3_64bits(name, len) & (s->nslots - 1);
	while ((i = s->slots[h]) != 0) {
		const char *k = s->keys[i - 1];

		if (strncmp(k, name, len) == 0 && k[len] == '\0') {
			s->too_many = false;
			return &s->rows[i - 1];
		}
		h = (h + 1) & (s->nslots - 1);
	}
	if (s->n == s->cap)
		return NULL;
	i = (uint32_t)s->n++;
	af__showback_row__init(&s->rows[i]);
	memcpy(s->keys[i], name, len);
	s->keys[i][len] = '\0';
	s->rows[i].key = s->keys[i];
	s->slots[h] = i + 1;
	return &s->rows[i];
}

static int showback_row(const void *key, size_t klen, const void *val,
			size_t vlen, void *arg)
{
	struct showback_scan *s = arg;
	const uint8_t *k = key;
	const char *parts[3];
	size_t lens[3];
	char num[24];
	const char *name;
	size_t off = 11, len;
	Af__Showback *sb;
	Af__ShowbackRow *r;

	if (klen < 11 + 3 + 8)
		return 0;
	for (int p = 0; p < 3; p++) {
		parts[p] = (const char *)k + off;
		lens[p] = strnlen(parts[p], klen - off);
		off += lens[p] + 1;
		if (off > klen - 8)
			return 0;
	}
	if (s->by == 3) {
		len = (size_t)snprintf(
			num, sizeof(num), "%llu",
			(unsigned long long)af_store_u64_of_key(k + off));
		name = num;
	} else {
		name = parts[s->by];
		len = lens[s->by] < GROUP_LEN - 8 ? lens[s->by] : GROUP_LEN - 8;
	}
	r = scan_group(s, name, len);
	if (r == NULL)
		return s->too_many ? 1 : AF_ENOMEM;
	s->used = 0;
	sb = af__showback__unpack(&s->alloc, vlen, val);
	if (sb == NULL)
		return AF_ECORRUPT;
	r->count = af_sat_add_u64(r->count, sb->count);
	r->ok = af_sat_add_u64(r->ok, sb->ok);
	r->cost_nano_usd = af_sat_add_i64(r->cost_nano_usd, sb->cost_nano_usd);
	r->failed_cost_nano_usd = af_sat_add_i64(r->failed_cost_nano_usd,
						 sb->failed_cost_nano_usd);
	protobuf_c_message_free_unpacked(&sb->base, &s->alloc);
	return 0;
}

/* Usage keys start with "sb/" and the day: --since and --until are a cursor
 * range, so a report walks only the days it covers. */
static int showback_scan_range(struct af_txn *t, const Af__ShowbackReq *q,
			       struct showback_scan *s)
{
	uint8_t lo[11] = "sb/", hi[11] = "sb0";
	size_t hilen = 3;

	af_store_key_u64((uint64_t)(q->since_ms > 0 ? q->since_ms : 0), lo + 3);
	if (q->until_ms > 0) {
		memcpy(hi, "sb/", 3);
		af_store_key_u64((uint64_t)q->until_ms, hi + 3);
		hilen = sizeof(hi);
	}
	return af_txn_iter_range(t, AF_TABLE_USAGE, lo, sizeof(lo), hi, hilen,
				 false, showback_row, s);
}

static void read_showback(struct controld_job *j, struct af_txn *t)
{
	static const char *const dims[] = {"tenant", "class", "model",
					   "revision"};
	const Af__ShowbackReq *q = j->req->showback;
	Af__Response resp = AF__RESPONSE__INIT;
	Af__ShowbackResp sr = AF__SHOWBACK_RESP__INIT;
	struct showback_scan *s = af_calloc(1, sizeof(*s));
	Af__ShowbackRow **ptrs = NULL;
	int rc;

	if (s == NULL) {
		controld_job_fail(j, AF__CODE__INTERNAL, "showback: %s",
				  af_strerror(AF_ENOMEM));
		return;
	}
	s->by = -1;
	s->alloc = (ProtobufCAllocator){scan_alloc, scan_free, s};
	for (int i = 0; i < 4; i++)
		if (strcmp(q->by[0] ? q->by : "tenant", dims[i]) == 0)
			s->by = i;
	if (s->by < 0) {
		controld_job_fail(j, AF__CODE__INVALID,
				  "--by takes tenant, class, model or "
				  "revision");
		goto out;
	}
	if (q->until_ms > 0 && q->until_ms <= q->since_ms) {
		controld_job_fail(j, AF__CODE__INVALID,
				  "--until must come after --since");
		goto out;
	}
	rc = scan_grow(s);
	if (rc == 0)
		rc = showback_scan_range(t, q, s);
	if (rc == 1) {
		controld_job_fail(j, AF__CODE__TOO_LARGE,
				  "report: more than %u groups by %s: narrow "
				  "it with --since/--until or a coarser --by",
				  MAX_REPORT_GROUPS, dims[s->by]);
		goto out;
	}
	if (rc == 0 && (ptrs = af_calloc(s->n + 1, sizeof(*ptrs))) == NULL)
		rc = AF_ENOMEM;
	if (rc < 0) {
		controld_job_fail(j, AF__CODE__INTERNAL, "showback: %s",
				  af_strerror(rc));
		goto out;
	}
	for (size_t i = 0; i < s->n; i++)
		ptrs[i] = &s->rows[i];
	sr.n_rows = s->n;
	sr.rows = ptrs;
	resp.body_case = AF__RESPONSE__BODY_SHOWBACK;
	resp.showback = &sr;
	controld_job_finish(j, &resp);
out:
	af_free(s->rows);
	af_free(s->keys);
	af_free(s->slots);
	af_free(s);
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
	const struct controld_verb *v = controld_verb_of(j->req->body_case);
	struct af_txn *t;
	struct af_err err = {{0}};

	if (v->read == NULL) {
		v->handle(j);
		return;
	}
	if (af_store_read_begin(j->node->store, &t, &err) != 0) {
		controld_job_fail(j, AF__CODE__INTERNAL, "%s", err.msg);
		return;
	}
	v->read(j, t);
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

static void handle_unknown(struct controld_job *j)
{
	controld_job_fail(j, AF__CODE__INVALID, "unknown request");
}

/* ------------------------------------------------------ the verb table */

#define ROW(body, name, need, mode, handle, read)                              \
	{                                                                      \
		AF__REQUEST__BODY_##body, name, need, CONTROLD_##mode, handle, \
			read                                                   \
	}

/* Rows sharing a name share a metric series; the last row answers every
 * body case not listed. */
static const struct controld_verb verbs[] = {
	ROW(CLUSTER_STATUS, "status", "read", HANDLER, handle_status, NULL),
	ROW(MEMBER_LIST, "status", "read", HANDLER, handle_member_list, NULL),
	ROW(PROPOSE, "write", NULL, HANDLER, handle_write, NULL),
	ROW(POLICY_GET, "policy_get", "read", READ, NULL, read_policy_get),
	ROW(POLICY_HISTORY, "policy_history", "read", READ, NULL, read_page),
	ROW(MODEL_LIST, "model_list", "read", READ, NULL, read_models),
	ROW(AUDIT, "audit", "read", READ, NULL, read_page),
	ROW(SNAPSHOT, "snapshot", "admin", READ, read_snapshot, NULL),
	ROW(TRANSFER_LEADER, "transfer_leader", "admin", HANDLER,
	    handle_transfer, NULL),
	ROW(MEMBERSHIP, "membership", "admin", HANDLER, handle_membership,
	    NULL),
	/* Any node answers from its own state: routerd never moves its view
	 * backwards, so it needs no linearizable read. */
	ROW(SYNC, "sync", "routerd", STALE, NULL, read_sync),
	ROW(FLEET_STATUS, "fleet", "read", READ, NULL, read_fleet),
	ROW(CANARY_STATUS, "canary", "read", READ, NULL, read_canary),
	ROW(BUDGET_LIST, "budget", "read", READ, NULL, read_budgets),
	ROW(SHOWBACK, "report", "read", READ, NULL, read_showback),
	ROW(_NOT_SET, "other", "admin", HANDLER, handle_unknown, NULL),
};

#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))
_Static_assert(NVERBS <= CONTROLD_MAX_VERBS, "raise CONTROLD_MAX_VERBS");

const struct controld_verb *controld_verb_of(Af__Request__BodyCase body)
{
	for (size_t i = 0; i + 1 < NVERBS; i++)
		if (verbs[i].body == body)
			return &verbs[i];
	return &verbs[NVERBS - 1];
}

size_t controld_verb_count(void)
{
	return NVERBS;
}

const struct controld_verb *controld_verb_at(size_t i)
{
	return &verbs[i];
}

void controld_handle(struct controld_job *j)
{
	const struct controld_verb *v;

	if (authorize(j) != 0)
		return;
	v = controld_verb_of(j->req->body_case);
	j->verb = (unsigned)(v - verbs);
	if (v->mode == CONTROLD_HANDLER)
		v->handle(j);
	else if (v->mode == CONTROLD_STALE)
		do_read(j);
	else
		handle_read(j);
}
