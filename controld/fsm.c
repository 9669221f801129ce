/* The replicated state machine over store/ (see fsm.h): dispatch, entry
 * framing, results by request id, audit and the raft_fsm callbacks; the
 * apply code per concern in fsm_*.c and budget.c (fsm_int.h). */
#include "controld/fsm.h"
#include "controld/consensus.h"
#include "controld/fsm_int.h"
#include "controld/state.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "proto/af.pb-c.h"
#include "proto/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENTRY_HDR 4u
#define MAX_ENTRY (32u * 1024 * 1024)
#define MAX_AUDIT_DETAIL 200

static const char *code_name(int code)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
		&af__code__descriptor, code);
	return v ? v->name : "INTERNAL";
}

/* -------------------------------------------------------------- apply */

static int put_audit(struct af_txn *t, struct apply_ctx *c)
{
	Af__AuditRecord a = AF__AUDIT_RECORD__INIT;
	uint8_t key[8];

	a.index = c->index;
	a.time_ms = c->cmd->time_ms;
	a.principal = c->cmd->principal;
	a.verb = (char *)c->verb;
	a.target = c->target;
	a.outcome = (char *)code_name(c->res->code);
	a.detail = c->res->message;
	af_store_key_u64(c->index, key);
	return af_txn_put_msg(t, AF_TABLE_AUDIT, key, sizeof(key), &a.base);
}

typedef int (*apply_fn)(struct af_txn *t, struct apply_ctx *c);

static int apply_noop(struct af_txn *t, struct apply_ctx *c)
{
	(void)t;
	af_fsm_resultf(c->res, AF__CODE__OK, "noop");
	return 0;
}

static const struct {
	Af__Command__OpCase op;
	apply_fn fn;
} ops[] = {
	{AF__COMMAND__OP_NOOP, apply_noop},
	{AF__COMMAND__OP_POLICY_APPLY, af_fsm_apply_policy},
	{AF__COMMAND__OP_POLICY_ROLLBACK, af_fsm_apply_rollback},
	{AF__COMMAND__OP_MODEL_APPLY, af_fsm_apply_models},
	{AF__COMMAND__OP_MODEL_SET_STATUS, af_fsm_apply_model_status},
	{AF__COMMAND__OP_MODEL_DELETE, af_fsm_apply_model_delete},
	{AF__COMMAND__OP_FLEET_REPORT, af_fsm_apply_fleet_report},
	{AF__COMMAND__OP_FLEET_DEREGISTER, af_fsm_apply_fleet_deregister},
	{AF__COMMAND__OP_ROLLOUT, af_fsm_apply_rollout},
	{AF__COMMAND__OP_USAGE_REPORT, af_fsm_apply_usage},
	{AF__COMMAND__OP_BUDGET_SET, af_budget_apply_set},
	{AF__COMMAND__OP_LEASE, af_budget_apply_lease},
	{AF__COMMAND__OP_QUOTA_LEASE, af_quota_apply_lease},
	{AF__COMMAND__OP_EMERGENCY_SET, af_fsm_apply_emergency_set},
	{AF__COMMAND__OP_EMERGENCY_CLEAR, af_fsm_apply_emergency_clear},
	{AF__COMMAND__OP_SHADOW_STOP, af_fsm_apply_shadow_stop},
};

static int dispatch(struct af_txn *t, struct apply_ctx *c)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (ops[i].op == c->cmd->op_case)
			return ops[i].fn(t, c);
	c->verb = "unknown";
	af_fsm_resultf(c->res, AF__CODE__INVALID, "unknown command");
	return 0;
}

/* ------------------------------------------------- results by request id */

/* In meta: "request/<id>" -> packed ApplyResult, and a ring in apply order
 * "request_seq/<8-byte seq>" -> id, so the oldest is evicted first. */
#define REQ_PREFIX "request/"
#define REQ_SEQ_PREFIX "request_seq/"
#define REQ_COUNTER "request_seq"

static bool request_id_usable(const char *id)
{
	return id != NULL && id[0] != '\0' &&
	       strnlen(id, AF_REQUEST_ID_MAX + 1) <= AF_REQUEST_ID_MAX;
}

static size_t req_key(const char *id, char *out)
{
	size_t n = strlen(id);

	memcpy(out, REQ_PREFIX, sizeof(REQ_PREFIX) - 1);
	memcpy(out + sizeof(REQ_PREFIX) - 1, id, n);
	return sizeof(REQ_PREFIX) - 1 + n;
}

static size_t req_seq_key(uint64_t seq, char *out)
{
	memcpy(out, REQ_SEQ_PREFIX, sizeof(REQ_SEQ_PREFIX) - 1);
	af_store_key_u64(seq, (uint8_t *)out + sizeof(REQ_SEQ_PREFIX) - 1);
	return sizeof(REQ_SEQ_PREFIX) - 1 + 8;
}

/* Fields a result and an ApplyResult share by name and type. */
#define RESULT_SCALARS(X)                                                      \
	X(index)                                                               \
	X(revision)                                                            \
	X(unchanged)                                                           \
	X(registry_revision)                                                   \
	X(lease_micro)                                                         \
	X(over_soft)                                                           \
	X(over_hard)                                                           \
	X(period_end_ms)                                                       \
	X(unlimited)                                                           \
	X(replayed)

void af_fsm_result_to_pb(const struct af_fsm_result *r, Af__ApplyResult *ar,
			 Af__Status *st)
{
	af__apply_result__init(ar);
	af__status__init(st);
	st->code = (Af__Code)r->code;
	st->message = (char *)r->message;
	ar->status = st;
	ar->hash = (char *)r->hash;
	ar->state = (char *)r->state;
#define TO_PB(f) ar->f = r->f;
	RESULT_SCALARS(TO_PB)
#undef TO_PB
	ar->n_quota_granted = ar->n_quota_others = r->n_quota;
	ar->quota_granted = (int64_t *)r->quota_granted;
	ar->quota_others = (int64_t *)r->quota_others;
}

static void result_of_pb(const Af__ApplyResult *ar, struct af_fsm_result *r)
{
	memset(r, 0, sizeof(*r));
	if (ar->status) {
		r->code = (int)ar->status->code;
		snprintf(r->message, sizeof(r->message), "%s",
			 ar->status->message);
	}
	snprintf(r->hash, sizeof(r->hash), "%s", ar->hash);
	snprintf(r->state, sizeof(r->state), "%s", ar->state);
#define OF_PB(f) r->f = ar->f;
	RESULT_SCALARS(OF_PB)
#undef OF_PB
	r->n_quota = ar->n_quota_granted < 64 ? ar->n_quota_granted : 64;
	for (size_t i = 0; i < r->n_quota; i++) {
		r->quota_granted[i] = ar->quota_granted[i];
		r->quota_others[i] =
			i < ar->n_quota_others ? ar->quota_others[i] : 0;
	}
	r->replayed = true;
}

static int load_result(struct af_txn *t, const char *id,
		       struct af_fsm_result *ret)
{
	char key[sizeof(REQ_PREFIX) + AF_REQUEST_ID_MAX];
	Af__ApplyResult *ar;
	int rc;

	rc = af_txn_get_msg(t, AF_TABLE_META, key, req_key(id, key),
			    &af__apply_result__descriptor,
			    (ProtobufCMessage **)&ar);
	if (rc != 0)
		return rc;
	result_of_pb(ar, ret);
	protobuf_c_message_free_unpacked(&ar->base, NULL);
	return 0;
}

/* Drops the entry stored `keep` results ago (the ring is in apply order,
 * so every node evicts the same id). */
static int evict_result(struct af_txn *t, uint64_t seq)
{
	char skey[sizeof(REQ_SEQ_PREFIX) + 8];
	char key[sizeof(REQ_PREFIX) + AF_REQUEST_ID_MAX];
	char id[AF_REQUEST_ID_MAX + 1];
	size_t sklen = req_seq_key(seq, skey), vlen;
	const void *v;
	int rc;

	rc = af_txn_get(t, AF_TABLE_META, skey, sklen, &v, &vlen);
	if (rc == AF_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (vlen > AF_REQUEST_ID_MAX)
		return AF_ECORRUPT;
	memcpy(id, v, vlen);
	id[vlen] = '\0';
	rc = af_txn_del(t, AF_TABLE_META, key, req_key(id, key));
	if (rc != 0 && rc != AF_ENOTFOUND)
		return rc;
	rc = af_txn_del(t, AF_TABLE_META, skey, sklen);
	return rc == AF_ENOTFOUND ? 0 : rc;
}

static int remember_result(struct af_txn *t, struct apply_ctx *c,
			   const char *id)
{
	char key[sizeof(REQ_PREFIX) + AF_REQUEST_ID_MAX];
	char skey[sizeof(REQ_SEQ_PREFIX) + 8];
	uint64_t keep = c->fsm->keep_results ? c->fsm->keep_results
					     : AF_FSM_KEEP_RESULTS;
	uint64_t seq = af_txn_meta_u64(t, REQ_COUNTER);
	Af__ApplyResult ar;
	Af__Status st;
	int rc;

	af_fsm_result_to_pb(c->res, &ar, &st);
	if ((rc = af_txn_put_msg(t, AF_TABLE_META, key, req_key(id, key),
				 &ar.base)) != 0 ||
	    (rc = af_txn_put(t, AF_TABLE_META, skey, req_seq_key(seq, skey), id,
			     strlen(id))) != 0)
		return rc;
	if (seq >= keep && (rc = evict_result(t, seq - keep)) != 0)
		return rc;
	return af_txn_set_meta_u64(t, REQ_COUNTER, seq + 1);
}

int af_fsm_lookup_result(struct af_fsm *fsm, const char *id,
			 struct af_fsm_result *ret)
{
	struct af_txn *t;
	int rc;

	if (!request_id_usable(id))
		return AF_EINVAL;
	if ((rc = af_store_read_begin(fsm->store, &t, NULL)) != 0)
		return rc;
	rc = load_result(t, id, ret);
	af_store_read_end(t);
	return rc;
}

/* ------------------------------------------------- distribution index */

/* The index of the last entry that may have changed what routerd pulls
 * with Sync (bundles, rollout heads, registry, budget definitions).
 * Telemetry (usage, leases, fleet reports) and no-ops leave it alone, so
 * routerds pull only when configuration changed. Persisted in meta: it
 * survives restarts and travels in snapshots. */
#define DISTRIBUTION_KEY "distribution_index"

static bool distributed(Af__Command__OpCase op)
{
	switch (op) {
	case AF__COMMAND__OP_POLICY_APPLY:
	case AF__COMMAND__OP_POLICY_ROLLBACK:
	case AF__COMMAND__OP_MODEL_APPLY:
	case AF__COMMAND__OP_MODEL_SET_STATUS:
	case AF__COMMAND__OP_MODEL_DELETE:
	case AF__COMMAND__OP_ROLLOUT:
	case AF__COMMAND__OP_BUDGET_SET:
	case AF__COMMAND__OP_EMERGENCY_SET:
	case AF__COMMAND__OP_EMERGENCY_CLEAR:
	case AF__COMMAND__OP_SHADOW_STOP:
		return true;
	default:
		return false;
	}
}

uint64_t af_fsm_distribution_index(struct af_txn *t)
{
	return af_txn_meta_u64(t, DISTRIBUTION_KEY);
}

/* The hash of head revision rev: from was when it names the same revision
 * (a revision's bundle, hence its hash, never changes), else read. */
static int head_hash(struct af_txn *t, uint64_t rev,
		     const struct af_fsm_heads *was, char *out)
{
	if (rev != 0 && rev == was->stable) {
		memcpy(out, was->stable_hash, AF_HASH_STR_LEN);
		return 0;
	}
	if (rev != 0 && rev == was->canary) {
		memcpy(out, was->canary_hash, AF_HASH_STR_LEN);
		return 0;
	}
	return af_state_revision_hash(t, rev, out, AF_HASH_STR_LEN);
}

/* The heads stored in t into *h; was: the heads before (may be h). */
static int read_heads(struct af_txn *t, const struct af_fsm_heads *was,
		      struct af_fsm_heads *h)
{
	struct af_fsm_heads prev = *was;
	Af__Rollout *ro;
	Af__Shadow *sh;
	int rc;

	memset(h, 0, sizeof(*h));
	rc = af_state_rollout_get(t, &ro);
	if (rc == 0) {
		h->stable = ro->stable_revision;
		h->canary = ro->canary_revision;
		h->weight = ro->weight;
		protobuf_c_message_free_unpacked(&ro->base, NULL);
	} else if (rc != AF_ENOTFOUND)
		return rc;
	if ((rc = head_hash(t, h->stable, &prev, h->stable_hash)) != 0 ||
	    (rc = head_hash(t, h->canary, &prev, h->canary_hash)) != 0)
		return rc;
	h->registry_revision = af_state_registry_revision(t);
	h->distribution_index = af_fsm_distribution_index(t);
	if ((rc = af_state_shadow_get(t, &sh)) != 0)
		return rc;
	if (sh != NULL && strcmp(sh->state, "running") == 0) {
		h->shadow = sh->revision;
		h->shadow_expires_ms = sh->expires_ms;
	}
	if (sh != NULL)
		protobuf_c_message_free_unpacked(&sh->base, NULL);
	return af_fsm_read_overrides(t, &h->overrides);
}

/* fsm->heads from the store: at init and after a snapshot restore. */
static int load_heads(struct af_fsm *fsm)
{
	static const struct af_fsm_heads none;
	struct af_txn *t;
	int rc;

	memset(&fsm->heads, 0, sizeof(fsm->heads));
	memset(&fsm->prev_heads, 0, sizeof(fsm->prev_heads));
	if ((rc = af_store_read_begin(fsm->store, &t, NULL)) != 0)
		return rc;
	rc = read_heads(t, &none, &fsm->heads);
	af_store_read_end(t);
	if (rc != 0)
		memset(&fsm->heads, 0, sizeof(fsm->heads));
	return rc;
}

/* ------------------------------------------------------------ apply */

static int apply_txn(struct af_txn *t, void *arg)
{
	struct apply_ctx *c = arg;
	const char *id = c->cmd->request_id;
	uint64_t idx = c->index;
	int rc = 0;

	/* af_store_update may run this again after growing the map. */
	memset(c->res, 0, sizeof(*c->res));
	c->res->index = idx;
	c->verb = NULL;
	c->target[0] = '\0';
	c->moved = false;
	if (!request_id_usable(id))
		id = NULL;
	/* A retried write: the stored result, nothing else changes. */
	if (id != NULL && (rc = load_result(t, id, c->res)) != AF_ENOTFOUND) {
		if (rc != 0)
			return rc;
		return c->dry_run ? 0 : af_txn_set_applied(t, idx, 0);
	}
	memset(c->res, 0, sizeof(*c->res));
	c->res->index = idx;
	rc = dispatch(t, c);
	if (rc != 0)
		return rc;
	if (c->dry_run)
		return 0;
	if (distributed(c->cmd->op_case)) {
		if ((rc = af_txn_set_meta_u64(t, DISTRIBUTION_KEY, idx)) != 0 ||
		    (rc = read_heads(t, &c->fsm->heads, &c->heads)) != 0)
			return rc;
		c->moved = true;
	}
	if (c->verb != NULL && (rc = put_audit(t, c)) != 0)
		return rc;
	if (id != NULL && (rc = remember_result(t, c, id)) != 0)
		return rc;
	return af_txn_set_applied(t, idx, 0);
}

#define DRY_RUN_ABORT 1

static int dry_run_txn(struct af_txn *t, void *arg)
{
	int rc = apply_txn(t, arg);

	return rc != 0 ? rc : DRY_RUN_ABORT;
}

int af_fsm_dry_run(struct af_fsm *fsm, const void *cmd,
		   struct af_fsm_result *ret)
{
	struct apply_ctx c = {
		.fsm = fsm, .cmd = cmd, .res = ret, .dry_run = true};
	struct af_txn *rt;
	int rc;

	if ((rc = af_store_read_begin(fsm->store, &rt, NULL)) != 0)
		return rc;
	c.index = af_txn_applied(rt) + 1;
	af_store_read_end(rt);
	rc = af_store_update(fsm->store, dry_run_txn, &c, NULL);
	return rc == DRY_RUN_ABORT ? 0 : rc;
}

/* An entry that does not decode still advances the index: apply must
 * never fail for a reason a later retry would not fix. */
static int apply_undecodable(struct af_txn *t, void *arg)
{
	struct apply_ctx *c = arg;

	memset(c->res, 0, sizeof(*c->res));
	c->res->index = c->index;
	af_fsm_resultf(c->res, AF__CODE__INVALID, "entry does not decode");
	return af_txn_set_applied(t, c->index, 0);
}

int af_fsm_apply_entry(struct af_fsm *fsm, uint64_t index, const void *buf,
		       size_t len)
{
	struct apply_ctx c = {.fsm = fsm, .index = index, .res = &fsm->result};
	uint64_t start_ns = af_mono_ns();
	const uint8_t *p = buf;
	Af__Command *cmd = NULL;
	struct af_txn *rt;
	uint64_t applied;
	uint32_t n;
	int rc;

	if ((rc = af_store_read_begin(fsm->store, &rt, NULL)) != 0)
		return rc;
	applied = af_txn_applied(rt);
	af_store_read_end(rt);
	if (index <= applied) {
		/* Replayed after a restart: already in the store. */
		memset(&fsm->result, 0, sizeof(fsm->result));
		fsm->result.index = index;
		return 0;
	}
	if (len >= ENTRY_HDR) {
		n = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
		    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
		if (n <= len - ENTRY_HDR)
			cmd = af_fsm_unpack(&af__command__descriptor, n,
					    p + ENTRY_HDR);
	}
	c.cmd = cmd;
	rc = af_store_update(fsm->store, cmd ? apply_txn : apply_undecodable,
			     &c, NULL);
	if (cmd)
		af__command__free_unpacked(cmd, NULL);
	af_histogram_observe_ns(&fsm->apply_seconds, af_mono_ns() - start_ns);
	if (rc != 0)
		return rc;
	if (c.moved) {
		fsm->prev_heads = fsm->heads;
		fsm->heads = c.heads;
	}
	fsm->entries_applied++;
	if (fsm->on_applied)
		fsm->on_applied(fsm->on_applied_arg, index);
	return 0;
}

int af_fsm_encode_entry(const void *cmdp, void **ret_buf, size_t *ret_len)
{
	const Af__Command *cmd = cmdp;
	size_t n = af__command__get_packed_size(cmd);
	size_t total = (ENTRY_HDR + n + 7) & ~(size_t)7;
	uint8_t *buf;

	if (n > MAX_ENTRY)
		return AF_ETOOBIG;
	buf = af_consensus_buf_alloc(total);
	if (buf == NULL)
		return AF_ENOMEM;
	memset(buf, 0, total);
	buf[0] = (uint8_t)n;
	buf[1] = (uint8_t)(n >> 8);
	buf[2] = (uint8_t)(n >> 16);
	buf[3] = (uint8_t)(n >> 24);
	af__command__pack(cmd, buf + ENTRY_HDR);
	*ret_buf = buf;
	*ret_len = total;
	return 0;
}

/* ------------------------------------------------- raft_fsm callbacks */

static int fsm_apply(struct raft_fsm *rf, const struct raft_buffer *buf,
		     void **result)
{
	struct af_fsm *fsm = rf->data;
	uint64_t index = af_consensus_applying_index(fsm->raft);
	int rc;

	rc = af_fsm_apply_entry(fsm, index, buf->base, buf->len);
	if (rc != 0) {
		/* Storage failure: libraft would retry forever; a restart and
		 * log replay is the way back. */
		fprintf(stderr, "controld: fatal: apply index %llu: %s\n",
			(unsigned long long)index, af_strerror(rc));
		abort();
	}
	*result = &fsm->result;
	return 0;
}

/* A snapshot handed to libraft: the buffers (first, so finalize finds the
 * rest from them) are a store view's pieces, copied as of the snapshot
 * while writes go on; libraft compresses and writes them out in its
 * thread pool and calls finalize when done. When the tables use less than
 * a quarter of the data file (a history pruned after it grew: LMDB never
 * shrinks its file, it reuses the free pages), a compacted copy (one
 * buffer) replaces the view: it costs what the live pages do, about what
 * the view's copy of the whole extent costs, and a node restored from it
 * starts with a file of the live size. */
struct fsm_snap {
	struct raft_buffer bufs[AF_STORE_VIEW_PARTS];
	struct af_store_view *view;
	void *copy;
};

#define COMPACT_MIN_PAGES 1024 /* below, the view is small anyway */

bool af_fsm_snapshot_compacts(struct af_store *s)
{
	size_t live, extent;

	if (af_store_pages(s, &live, &extent, NULL) != 0)
		return false;
	return extent >= COMPACT_MIN_PAGES && live < extent / 4;
}

static int fsm_snapshot(struct raft_fsm *rf, struct raft_buffer *bufs[],
			unsigned *n_bufs)
{
	struct af_fsm *fsm = rf->data;
	struct af_store_part parts[AF_STORE_VIEW_PARTS];
	struct fsm_snap *snap;
	uint64_t applied;
	unsigned n = AF_STORE_VIEW_PARTS;
	int rc;

	snap = af_calloc(1, sizeof(*snap));
	if (snap == NULL)
		return AF_CONSENSUS_NOMEM;
	if (af_fsm_snapshot_compacts(fsm->store)) {
		n = 1;
		rc = af_store_snapshot(fsm->store, &snap->copy, &parts[0].len,
				       &applied, NULL);
		parts[0].base = snap->copy;
		if (rc == 0)
			log_info("event=snapshot_compacted bytes=%zu",
				 parts[0].len);
	} else
		rc = af_store_view_begin(fsm->store, &snap->view, parts,
					 &applied, NULL);
	if (rc != 0) {
		af_free(snap);
		/* Busy: libraft tries again at a later entry. */
		return rc == AF_EUNAVAIL ? AF_CONSENSUS_BUSY
					 : AF_CONSENSUS_NOMEM;
	}
	for (unsigned i = 0; i < n; i++) {
		snap->bufs[i].base = (void *)(uintptr_t)parts[i].base;
		snap->bufs[i].len = parts[i].len;
	}
	*bufs = snap->bufs;
	*n_bufs = n;
	return 0;
}

static int fsm_snapshot_finalize(struct raft_fsm *rf,
				 struct raft_buffer *bufs[], unsigned *n_bufs)
{
	struct fsm_snap *snap = (struct fsm_snap *)*bufs;

	(void)rf;
	if (snap != NULL) {
		if (snap->view != NULL)
			af_store_view_end(snap->view);
		af_free(snap->copy);
		af_free(snap);
	}
	*bufs = NULL;
	*n_bufs = 0;
	return 0;
}

static int fsm_restore(struct raft_fsm *rf, struct raft_buffer *buf)
{
	struct af_fsm *fsm = rf->data;
	int rc = af_store_restore(fsm->store, buf->base, buf->len, NULL);

	if (rc != 0)
		return AF_CONSENSUS_CORRUPT;
	if ((rc = load_heads(fsm)) != 0) {
		/* The store is the snapshot's now; a node that cannot read it
		 * must not publish stale heads: restart and recover. */
		fprintf(stderr, "controld: fatal: heads after restore: %s\n",
			af_strerror(rc));
		abort();
	}
	log_info("event=snapshot_restored bytes=%zu", buf->len);
	af_consensus_buf_free(buf->base);
	return 0;
}

int af_fsm_init(struct af_fsm *fsm, struct af_store *store)
{
	memset(fsm, 0, sizeof(*fsm));
	fsm->store = store;
	fsm->raft_fsm.version = 2;
	fsm->raft_fsm.data = fsm;
	fsm->raft_fsm.apply = fsm_apply;
	fsm->raft_fsm.snapshot = fsm_snapshot;
	fsm->raft_fsm.restore = fsm_restore;
	fsm->raft_fsm.snapshot_finalize = fsm_snapshot_finalize;
	fsm->raft_fsm.snapshot_async = NULL;
	return load_heads(fsm);
}

void *af_fsm_unpack(const ProtobufCMessageDescriptor *desc, size_t len,
		    const void *data)
{
	ProtobufCMessage *m;
	int rc = af_pb_unpack(desc, len, data, &m);

	if (rc == AF_ENOMEM) {
		log_error("event=apply_fatal error=\"out of memory unpacking "
			  "%s\" msg=\"aborting; a restart replays the log\"",
			  desc->name);
		fprintf(stderr,
			"controld: fatal: apply: out of memory "
			"unpacking %s\n",
			desc->name);
		abort();
	}
	return rc == 0 ? m : NULL;
}

void af_fsm_resultf(struct af_fsm_result *r, int code, const char *fmt, ...)
{
	va_list ap;

	r->code = code;
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
}
