/* The state machine's write guarantees, applied straight to real LMDB
 * stores (no raft): a request id applied twice is one revision, one audit
 * record and the same result, also after a snapshot is restored elsewhere;
 * the kept results are evicted oldest first; a dry run changes nothing;
 * usage sums saturate on extreme values; each apply is observed in
 * af_fsm_apply_seconds; the heads kept in memory match the store after
 * every apply, at open and after a snapshot restore; emergency overrides
 * expire by the entries' own times; fleet-gated steps start their clock
 * at FLEET_READY; the leader's forget list deletes only routerds still
 * silent at the entry's time; policy history retention (below). */
#include "tests/lib/alloc_check.h"
#include "tests/lib/fsm_fixture.h"
#include "common/alloc.h"
#include "controld/fsm.h"
#include "controld/rollout.h"
#include "controld/state.h"
#include "proto/af.pb-c.h"
#include "proto/policy.pb-c.h"

#include <criterion/criterion.h>
#include <raft.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct fsm_fixture a, b;

static void open_node(struct fsm_fixture *n)
{
	struct af_err e = {{0}};

	cr_assert_eq(fsm_fixture_open(n, "fsm", &e), 0, "%s", e.msg);
}

static void setup(void)
{
	af_test_alloc_begin();
	memset(&b, 0, sizeof(b));
	open_node(&a);
}

static void teardown(void)
{
	fsm_fixture_close(&a);
	fsm_fixture_close(&b);
	af_test_alloc_end();
}

#define T0 1795341600000LL /* the leader's time stamped on entries */

/* Applies cmd as the next entry, stamped at time_ms. */
static struct af_fsm_result apply_at(struct fsm_fixture *n, Af__Command *cmd,
				     int64_t time_ms)
{
	cr_assert_eq(fsm_fixture_apply(n, cmd, time_ms), 0);
	return n->fsm.result;
}

static struct af_fsm_result apply(struct fsm_fixture *n, Af__Command *cmd)
{
	return apply_at(n, cmd, T0);
}

struct opts {
	unsigned keep;
	int64_t before_ms, time_ms;
	bool shadow;
	const char *id; /* request id */
	size_t pad;	/* source bytes (at most 8 KiB) */
};

/* A policy apply of bundle `k` (its hash and bytes made up: apply stores
 * what the leader compiled), with what the leader stamps. */
static struct af_fsm_result put(struct fsm_fixture *n, int k, struct opts o)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__PolicyApply pa = AF__POLICY_APPLY__INIT;
	char hash[80], bytes[32];
	static char src[8192];

	snprintf(hash, sizeof(hash), "sha256:%064d", k);
	snprintf(bytes, sizeof(bytes), "bundle-%d", k);
	cr_assert_leq(o.pad, sizeof(src));
	memset(src, 'x', o.pad);
	memcpy(src, bytes, strlen(bytes) < o.pad ? strlen(bytes) : o.pad);
	pa.hash = hash;
	pa.name = (char *)"prod";
	pa.source.data = (uint8_t *)(o.pad ? src : bytes);
	pa.source.len = o.pad ? o.pad : strlen(bytes);
	pa.compiled.data = (uint8_t *)bytes;
	pa.compiled.len = strlen(bytes);
	pa.history_revisions = o.keep;
	pa.history_before_ms = o.before_ms;
	pa.shadow = o.shadow;
	cmd.op_case = AF__COMMAND__OP_POLICY_APPLY;
	cmd.policy_apply = &pa;
	cmd.request_id = (char *)o.id;
	return apply_at(n, &cmd, o.time_ms ? o.time_ms : T0);
}

static struct af_fsm_result apply_policy(struct fsm_fixture *n, int k,
					 const char *id)
{
	return put(n, k, (struct opts){.id = id});
}

/* One number read from the store: a table's row count (name NULL), a
 * meta counter, or (tbl < 0) the applied index. */
static uint64_t read_num(struct fsm_fixture *n, int tbl, const char *name)
{
	struct af_txn *t;
	uint64_t v;

	cr_assert_eq(af_store_read_begin(n->store, &t, NULL), 0);
	if (tbl < 0)
		v = af_txn_applied(t);
	else if (name == NULL)
		v = af_txn_count(t, (enum af_table)tbl);
	else
		v = af_txn_meta_u64(t, name);
	af_store_read_end(t);
	return v;
}

#define count(n, tbl) read_num(n, tbl, NULL)
#define meta(n, name) read_num(n, AF_TABLE_META, name)
#define applied(n) read_num(n, -1, NULL)

TestSuite(fsm_writes, .init = setup, .fini = teardown);

Test(fsm_writes, same_request_id_applies_once)
{
	struct af_fsm_result r1 = apply_policy(&a, 1, "req-1");
	struct af_fsm_result r2 = apply_policy(&a, 1, "req-1");
	/* Other content under a used id is still the stored result. */
	struct af_fsm_result r3 = apply_policy(&a, 2, "req-1");

	cr_assert_eq(r1.code, AF__CODE__OK);
	cr_assert_eq(r1.revision, 1);
	cr_assert(!r1.replayed);
	cr_assert(r2.replayed && r3.replayed);
	cr_assert_eq(r2.revision, 1);
	cr_assert_eq(r2.index, r1.index, "the original entry's index");
	cr_assert_eq(r2.code, r1.code);
	cr_assert_str_eq(r2.hash, r1.hash);
	cr_assert_str_eq(r3.hash, r1.hash);
	cr_assert_str_eq(r2.message, r1.message);
	cr_assert_eq(meta(&a, "policy_revision"), 1, "one revision");
	cr_assert_eq(count(&a, AF_TABLE_REVISIONS), 1);
	cr_assert_eq(count(&a, AF_TABLE_AUDIT), 1, "one audit record");
	cr_assert_eq(applied(&a), 3, "replays still advance the index");

	/* Without an id, the same content is an ordinary (unchanged) apply
	 * and another content a new revision. */
	cr_assert_eq(apply_policy(&a, 2, "").revision, 2);
	cr_assert_eq(apply_policy(&a, 3, "req-2").revision, 3);
	cr_assert_eq(apply_policy(&a, 3, "req-2").revision, 3);
	cr_assert_eq(meta(&a, "policy_revision"), 3);
}

Test(fsm_writes, lookup_answers_without_applying)
{
	struct af_fsm_result r;

	cr_assert_eq(af_fsm_lookup_result(&a.fsm, "req-9", &r), AF_ENOTFOUND);
	apply_policy(&a, 1, "req-9");
	cr_assert_eq(af_fsm_lookup_result(&a.fsm, "req-9", &r), 0);
	cr_assert(r.replayed);
	cr_assert_eq(r.revision, 1);
	cr_assert_eq(af_fsm_lookup_result(&a.fsm, "", &r), AF_EINVAL);
}

Test(fsm_writes, results_survive_snapshot_restore)
{
	void *snap;
	size_t len;
	uint64_t applied;
	struct af_fsm_result r;

	apply_policy(&a, 1, "req-s");
	cr_assert_eq(af_store_snapshot(a.store, &snap, &len, &applied, NULL),
		     0);
	open_node(&b);
	cr_assert_eq(af_store_restore(b.store, snap, len, NULL), 0);
	af_free(snap);
	b.idx = applied;
	r = apply_policy(&b, 1, "req-s");
	cr_assert(r.replayed, "a restored node knows the id");
	cr_assert_eq(r.revision, 1);
	cr_assert_eq(meta(&b, "policy_revision"), 1);
	cr_assert_eq(count(&b, AF_TABLE_AUDIT), 1);
}

Test(fsm_writes, oldest_results_evicted_in_apply_order)
{
	a.fsm.keep_results = 2;
	apply_policy(&a, 1, "id-a");
	apply_policy(&a, 2, "id-b");
	apply_policy(&a, 3, "id-c"); /* evicts id-a */
	cr_assert(!apply_policy(&a, 4, "id-a").replayed, "id-a was evicted");
	cr_assert_eq(meta(&a, "policy_revision"), 4);
	/* storing id-a again evicted id-b; id-c is still kept */
	cr_assert(apply_policy(&a, 5, "id-c").replayed);
	cr_assert(!apply_policy(&a, 5, "id-b").replayed);
	cr_assert_eq(meta(&a, "policy_revision"), 5);
}

Test(fsm_writes, overlong_ids_are_not_kept)
{
	char id[AF_REQUEST_ID_MAX + 2];

	memset(id, 'x', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	apply_policy(&a, 1, id);
	cr_assert(!apply_policy(&a, 2, id).replayed);
	cr_assert_eq(meta(&a, "policy_revision"), 2);
}

Test(fsm_writes, dry_run_changes_nothing)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__PolicyApply pa = AF__POLICY_APPLY__INIT;
	struct af_fsm_result r;
	uint8_t h1[32], h2[32];

	apply_policy(&a, 1, "");
	cr_assert_eq(af_store_state_hash(a.store, h1, NULL), 0);
	pa.hash = (char *)"sha256:"
			  "0000000000000000000000000000000000000000000000000000"
			  "000000000007";
	pa.name = (char *)"prod";
	cmd.op_case = AF__COMMAND__OP_POLICY_APPLY;
	cmd.policy_apply = &pa;
	cmd.principal = (char *)"test";
	cr_assert_eq(af_fsm_dry_run(&a.fsm, &cmd, &r), 0);
	cr_assert_eq(r.code, AF__CODE__OK);
	cr_assert_eq(r.revision, 2, "would be revision 2");
	cr_assert_str_eq(r.state, "stable");
	cr_assert_eq(r.index, 2);
	/* A canary without steps is refused the same way apply would. */
	pa.canary_weight = 101;
	cr_assert_eq(af_fsm_dry_run(&a.fsm, &cmd, &r), 0);
	cr_assert_eq(r.code, AF__CODE__INVALID);
	cr_assert_eq(af_store_state_hash(a.store, h2, NULL), 0);
	cr_assert_eq(memcmp(h1, h2, 32), 0, "the store did not change");
	cr_assert_eq(meta(&a, "policy_revision"), 1);
	cr_assert_eq(count(&a, AF_TABLE_AUDIT), 1);
}

static void usage_report(struct fsm_fixture *n, const char *tenant,
			 uint64_t cnt, int64_t cost, int64_t failed)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__UsageReport ur = AF__USAGE_REPORT__INIT;
	Af__UsageRow row = AF__USAGE_ROW__INIT, *rows[1] = {&row};
	uint64_t lat[AF_USAGE_BUCKETS];

	for (size_t i = 0; i < AF_USAGE_BUCKETS; i++)
		lat[i] = cnt;
	row.revision = 1;
	row.tenant = (char *)tenant;
	row.class_name = (char *)"c";
	row.model = (char *)"m";
	row.count = cnt;
	row.ok = cnt;
	row.latency_buckets = lat;
	row.n_latency_buckets = AF_USAGE_BUCKETS;
	row.latency_sum_ms = cnt;
	row.cost_nano_usd = cost;
	row.failed_cost_nano_usd = failed;
	ur.routerd_id = (char *)"r1";
	ur.rows = rows;
	ur.n_rows = 1;
	cmd.op_case = AF__COMMAND__OP_USAGE_REPORT;
	cmd.usage_report = &ur;
	cr_assert_eq(apply(n, &cmd).code, AF__CODE__OK);
}

Test(fsm_writes, usage_sums_saturate)
{
	struct af_txn *t;
	struct af_usage u;

	/* Distinct tenants: each lands in its own showback row, while the
	 * per-revision totals add up past every bound. */
	usage_report(&a, "t1", UINT64_MAX, INT64_MAX, INT64_MIN);
	usage_report(&a, "t2", UINT64_MAX, INT64_MAX, INT64_MIN);
	usage_report(&a, "t3", UINT64_MAX - 1, INT64_MAX, -1);
	cr_assert_eq(af_store_read_begin(a.store, &t, NULL), 0);
	cr_assert_eq(af_usage_get(t, 1, &u), 0);
	af_store_read_end(t);
	cr_assert_eq(u.count, UINT64_MAX);
	cr_assert_eq(u.ok, UINT64_MAX);
	cr_assert_eq(u.lat[0], UINT64_MAX);
	cr_assert_eq(u.lat_sum_ms, UINT64_MAX);
	cr_assert_eq(u.cost_nano, INT64_MAX);
	cr_assert_eq(u.ok_cost_nano, INT64_MAX);
	usage_report(&a, "t4", 1, INT64_MIN, INT64_MAX);
	usage_report(&a, "t5", 1, INT64_MIN, INT64_MAX);
	cr_assert_eq(af_store_read_begin(a.store, &t, NULL), 0);
	cr_assert_eq(af_usage_get(t, 1, &u), 0);
	af_store_read_end(t);
	cr_assert_eq(u.count, UINT64_MAX, "stays saturated");
	cr_assert(u.ok_cost_nano < 0, "saturated down, not wrapped");
}

Test(fsm_writes, every_apply_is_observed)
{
	cr_assert_eq(atomic_load(&a.fsm.apply_seconds.count), 0);
	apply_policy(&a, 1, "");
	apply_policy(&a, 1, "x");
	cr_assert_eq(atomic_load(&a.fsm.apply_seconds.count), 2);
}

static uint64_t distribution(struct fsm_fixture *n)
{
	struct af_txn *t;
	uint64_t v;

	cr_assert_eq(af_store_read_begin(n->store, &t, NULL), 0);
	v = af_fsm_distribution_index(t);
	af_store_read_end(t);
	return v;
}

/* The distribution index (what hints announce to routerds) moves with
 * configuration entries only: usage, fleet reports, leases and no-ops
 * leave it, and it travels in snapshots. */
Test(fsm_writes, distribution_index_moves_on_configuration_only)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__FleetReport fr = AF__FLEET_REPORT__INIT;
	Af__BudgetSet bs = AF__BUDGET_SET__INIT;
	Af__LeaseRequest lr = AF__LEASE_REQUEST__INIT;
	void *snap;
	size_t len;
	uint64_t at;

	cr_assert_eq(distribution(&a), 0);
	apply_policy(&a, 1, "p1");
	cr_assert_eq(distribution(&a), 1);
	usage_report(&a, "t1", 1, 10, 0);
	fr.routerd_id = (char *)"r1";
	cmd.op_case = AF__COMMAND__OP_FLEET_REPORT;
	cmd.fleet_report = &fr;
	cr_assert_eq(apply(&a, &cmd).code, AF__CODE__OK);
	cmd = (Af__Command)AF__COMMAND__INIT;
	cmd.op_case = AF__COMMAND__OP_NOOP;
	apply(&a, &cmd);
	cr_assert_eq(a.idx, 4);
	cr_assert_eq(distribution(&a), 1, "telemetry moved it");
	bs.tenant = (char *)"t1";
	bs.hard_micro = 1000000;
	bs.period = (char *)"day";
	cmd = (Af__Command)AF__COMMAND__INIT;
	cmd.op_case = AF__COMMAND__OP_BUDGET_SET;
	cmd.budget_set = &bs;
	cr_assert_eq(apply(&a, &cmd).code, AF__CODE__OK);
	cr_assert_eq(distribution(&a), 5, "a budget definition is distributed");
	lr.routerd_id = (char *)"r1";
	lr.tenant = (char *)"t1";
	lr.want_micro = 1000;
	cmd = (Af__Command)AF__COMMAND__INIT;
	cmd.op_case = AF__COMMAND__OP_LEASE;
	cmd.lease = &lr;
	apply(&a, &cmd);
	cr_assert_eq(distribution(&a), 5, "a lease moved it");
	/* A retried write changes nothing: nor the index. */
	apply_policy(&a, 1, "p1");
	cr_assert_eq(distribution(&a), 5);
	at = a.idx;
	cr_assert_eq(af_store_snapshot(a.store, &snap, &len, &at, NULL), 0);
	open_node(&b);
	cr_assert_eq(af_store_restore(b.store, snap, len, NULL), 0);
	af_free(snap);
	cr_assert_eq(distribution(&b), 5, "restored with the snapshot");
}

/* The heads as the store has them, read through state.h (the path the
 * publisher took before apply kept them). */
static void expect_heads(struct fsm_fixture *n, const char *what)
{
	const struct af_fsm_heads *h = &n->fsm.heads;
	struct af_state_heads sh;
	struct af_txn *t;

	cr_assert_eq(af_store_read_begin(n->store, &t, NULL), 0);
	cr_assert_eq(af_state_heads_read(t, &sh), 0);
	cr_assert_eq(h->stable, sh.stable, "%s: stable", what);
	cr_assert_eq(h->canary, sh.canary, "%s: canary", what);
	cr_assert_eq(h->weight, sh.weight, "%s: weight", what);
	cr_assert_str_eq(h->stable_hash,
			 sh.stable_rev ? sh.stable_rev->hash : "", "%s", what);
	cr_assert_str_eq(h->canary_hash,
			 sh.canary_rev ? sh.canary_rev->hash : "", "%s", what);
	cr_assert_eq(h->registry_revision, af_state_registry_revision(t),
		     "%s: registry", what);
	cr_assert_eq(h->distribution_index, af_fsm_distribution_index(t),
		     "%s: distribution", what);
	af_state_heads_free(&sh);
	af_store_read_end(t);
}

static void apply_models(struct fsm_fixture *n)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__ModelApply ma = AF__MODEL_APPLY__INIT;
	Af__Policy__Registry reg = AF__POLICY__REGISTRY__INIT;
	Af__Policy__Model m = AF__POLICY__MODEL__INIT, *mp[1] = {&m};
	uint8_t packed[256];

	m.id = (char *)"m1";
	m.provider = (char *)"acme";
	m.tier = (char *)"standard";
	m.status = AF__POLICY__STATUS__STATUS_ACTIVE;
	reg.models = mp;
	reg.n_models = 1;
	cr_assert_leq(af__policy__registry__get_packed_size(&reg),
		      sizeof(packed));
	ma.compiled.len = af__policy__registry__pack(&reg, packed);
	ma.compiled.data = packed;
	cmd.op_case = AF__COMMAND__OP_MODEL_APPLY;
	cmd.model_apply = &ma;
	cr_assert_eq(apply(n, &cmd).code, AF__CODE__OK, "%s",
		     n->fsm.result.message);
}

Test(fsm_writes, heads_kept_in_memory_match_the_store)
{
	struct af_fsm_heads before;
	struct raft_buffer rb;
	uint64_t at;
	void *snap;
	size_t len;

	expect_heads(&a, "empty");
	cr_assert_eq(a.fsm.heads.stable, 0);
	apply_policy(&a, 1, "");
	expect_heads(&a, "first apply");
	cr_assert_eq(a.fsm.heads.stable, 1);
	cr_assert_str_eq(a.fsm.heads.stable_hash,
			 "sha256:"
			 "00000000000000000000000000000000000000000000000000000"
			 "00000000001");
	apply_policy(&a, 2, "");
	expect_heads(&a, "second apply");
	apply_models(&a);
	expect_heads(&a, "models");
	cr_assert_eq(a.fsm.heads.registry_revision, 1);
	/* Telemetry leaves the heads, the distribution index with them. */
	before = a.fsm.heads;
	usage_report(&a, "t1", 1, 10, 0);
	cr_assert_eq(memcmp(&before, &a.fsm.heads, sizeof(before)), 0);
	expect_heads(&a, "usage");

	/* Open: derived from the store. */
	af_store_close(a.store);
	cr_assert_eq(af_store_open(a.dir,
				   &(struct af_store_opts){.cluster = "test",
							   .nosync = true},
				   &a.store, NULL),
		     0);
	memset(&a.fsm.heads, 0xff, sizeof(a.fsm.heads));
	cr_assert_eq(af_fsm_init(&a.fsm, a.store), 0);
	cr_assert_eq(memcmp(&before, &a.fsm.heads, sizeof(before)), 0);

	/* Restore through the raft_fsm callback: derived again. */
	cr_assert_eq(af_store_snapshot(a.store, &snap, &len, &at, NULL), 0);
	open_node(&b);
	apply_policy(&b, 9, "");
	rb.len = len;
	rb.base = raft_malloc(len);
	cr_assert_not_null(rb.base);
	memcpy(rb.base, snap, len);
	af_free(snap);
	cr_assert_eq(b.fsm.raft_fsm.restore(&b.fsm.raft_fsm, &rb), 0);
	cr_assert_eq(memcmp(&before, &b.fsm.heads, sizeof(before)), 0);
	expect_heads(&b, "restored");
}

/* Emergency overrides expire by the entries' own times: an expiry entry
 * stamped before an override's end removes nothing, one at its end removes it
 * on every node alike; a set drops what expired as of its own time. The heads
 * carry the set. */
static struct af_fsm_result ov_set(struct fsm_fixture *n, int64_t at,
				   int64_t ttl)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__EmergencySet es = AF__EMERGENCY_SET__INIT;
	Af__Override o = AF__OVERRIDE__INIT;

	o.effects = 1; /* max fanout */
	o.max_fanout = 2;
	o.reason = (char *)"storm";
	es.override = &o;
	es.ttl_ms = ttl;
	cmd.op_case = AF__COMMAND__OP_EMERGENCY_SET;
	cmd.emergency_set = &es;
	return apply_at(n, &cmd, at);
}

static struct af_fsm_result ov_expire(struct fsm_fixture *n, int64_t at)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__EmergencyClear ec = AF__EMERGENCY_CLEAR__INIT;

	ec.expire = true;
	cmd.op_case = AF__COMMAND__OP_EMERGENCY_CLEAR;
	cmd.emergency_clear = &ec;
	return apply_at(n, &cmd, at);
}

Test(fsm_writes, overrides_expire_by_entry_time)
{
	struct af_fsm_result r;

	open_node(&b);
	for (struct fsm_fixture *n = &a; n != NULL; n = n == &a ? &b : NULL) {
		r = ov_set(n, T0, 2000);
		cr_assert_eq(r.code, AF__CODE__OK, "%s", r.message);
		cr_assert_eq(n->fsm.heads.overrides.n, 1);
		cr_assert_str_eq(n->fsm.heads.overrides.ov[0].id, "ov-1");
		cr_assert_eq(n->fsm.heads.overrides.ov[0].expires_ms,
			     T0 + 2000);
		r = ov_expire(n, T0 + 1999);
		cr_assert_eq(n->fsm.heads.overrides.n, 1, "expired early");
		r = ov_expire(n, T0 + 2000);
		cr_assert_eq(r.code, AF__CODE__OK);
		cr_assert(strstr(r.message, "ov-1") != NULL, "%s", r.message);
		cr_assert_eq(n->fsm.heads.overrides.n, 0);
		cr_assert_eq(n->fsm.heads.overrides.version, n->idx);
		expect_heads(n, "after expiry");
		/* A set at a later time drops what had expired by then. */
		ov_set(n, T0 + 3000, 1000);
		r = ov_set(n, T0 + 5000, 60000);
		cr_assert(strstr(r.message, "expired: ov-") != NULL, "%s",
			  r.message);
		cr_assert_eq(n->fsm.heads.overrides.n, 1);
		/* A TTL out of bounds is a refusal, nothing added. */
		r = ov_set(n, T0 + 5000, 10);
		cr_assert_eq(r.code, AF__CODE__INVALID);
		cr_assert_eq(n->fsm.heads.overrides.n, 1);
	}
	/* Both nodes hold the same state. */
	{
		uint8_t ha[32], hb[32];

		cr_assert_eq(af_store_state_hash(a.store, ha, NULL), 0);
		cr_assert_eq(af_store_state_hash(b.store, hb, NULL), 0);
		cr_assert_eq(memcmp(ha, hb, sizeof(ha)), 0);
	}
}

/* ------------------------------------------------------- fleet gates */

static struct af_rollout rollout(struct fsm_fixture *n)
{
	struct af_rollout ro;
	struct af_txn *t;

	cr_assert_eq(af_store_read_begin(n->store, &t, NULL), 0);
	cr_assert_eq(af_rollout_get(t, &ro), 0);
	af_store_read_end(t);
	return ro;
}

static struct af_fsm_result control(struct fsm_fixture *n,
				    Af__RolloutControl__Action action,
				    uint64_t canary, int32_t step, int64_t at)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__RolloutControl rc = AF__ROLLOUT_CONTROL__INIT;

	rc.action = action;
	rc.canary_revision = canary;
	rc.expected_step = step;
	cmd.op_case = AF__COMMAND__OP_ROLLOUT;
	cmd.rollout = &rc;
	return apply_at(n, &cmd, at);
}

/* A canary of bundle 2 in steps 20, 50 with these fleet gates. */
static struct af_fsm_result fleet_canary(struct fsm_fixture *n, uint32_t fleet,
					 uint32_t nack)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__PolicyApply pa = AF__POLICY_APPLY__INIT;
	Af__Gates g = AF__GATES__INIT;
	uint32_t steps[] = {20, 50};
	char hash[80];

	snprintf(hash, sizeof(hash), "sha256:%064d", 2);
	pa.hash = hash;
	pa.name = (char *)"prod";
	pa.compiled.data = (uint8_t *)"bundle-2";
	pa.compiled.len = 8;
	pa.steps = steps;
	pa.n_steps = 2;
	pa.interval_ms = 10000;
	g.require_fleet_pct = fleet;
	g.max_nack_pct = nack;
	pa.gates = &g;
	cmd.op_case = AF__COMMAND__OP_POLICY_APPLY;
	cmd.policy_apply = &pa;
	return apply_at(n, &cmd, T0);
}

Test(fsm_writes, a_fleet_gated_step_starts_its_clock_when_the_fleet_serves)
{
	struct af_rollout ro;

	apply_policy(&a, 1, "");
	cr_assert_eq(fleet_canary(&a, 101, 0).code, AF__CODE__INVALID);
	cr_assert_eq(fleet_canary(&a, 100, 30).code, AF__CODE__OK);
	ro = rollout(&a);
	cr_assert(ro.fleet_waiting);
	cr_assert_eq(ro.fleet_waiting_since_ms, T0);
	cr_assert_eq(ro.gates.require_fleet_pct, 100);
	cr_assert_eq(ro.gates.max_nack_pct, 30);
	/* The fleet serves step 0 five seconds later: the clock starts. */
	cr_assert_eq(control(&a, AF__ROLLOUT_CONTROL__ACTION__FLEET_READY, 2, 0,
			     T0 + 5000)
			     .code,
		     AF__CODE__OK);
	ro = rollout(&a);
	cr_assert(!ro.fleet_waiting);
	cr_assert_eq(ro.step_started_ms, T0 + 5000);
	/* Once only; a stale proposal (another step) is a conflict. */
	cr_assert_eq(control(&a, AF__ROLLOUT_CONTROL__ACTION__FLEET_READY, 2, 0,
			     T0 + 6000)
			     .code,
		     AF__CODE__CONFLICT);
	cr_assert_eq(rollout(&a).step_started_ms, T0 + 5000);
	/* The next step waits again, from its own commit. */
	cr_assert_eq(control(&a, AF__ROLLOUT_CONTROL__ACTION__ADVANCE, 2, 0,
			     T0 + 20000)
			     .code,
		     AF__CODE__OK);
	ro = rollout(&a);
	cr_assert_eq(ro.step_index, 1);
	cr_assert(ro.fleet_waiting);
	cr_assert_eq(ro.fleet_waiting_since_ms, T0 + 20000);
	cr_assert_eq(control(&a, AF__ROLLOUT_CONTROL__ACTION__FLEET_READY, 2, 0,
			     T0 + 21000)
			     .code,
		     AF__CODE__CONFLICT);
	cr_assert(rollout(&a).fleet_waiting);
	/* An abort ends the wait with the canary. */
	cr_assert_eq(control(&a, AF__ROLLOUT_CONTROL__ACTION__AUTO_ABORT, 2, 1,
			     T0 + 22000)
			     .code,
		     AF__CODE__OK);
	ro = rollout(&a);
	cr_assert_eq(ro.canary, 0);
	cr_assert(!ro.fleet_waiting);
}

static void fleet_report(struct fsm_fixture *n, const char *id, int64_t at)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__FleetReport fr = AF__FLEET_REPORT__INIT;

	fr.routerd_id = (char *)id;
	cmd.op_case = AF__COMMAND__OP_FLEET_REPORT;
	cmd.fleet_report = &fr;
	cr_assert_eq(apply_at(n, &cmd, at).code, AF__CODE__OK);
}

Test(fsm_writes, forgetting_deletes_only_routerds_still_silent)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__FleetDeregister fd = AF__FLEET_DEREGISTER__INIT;
	char *ids[] = {(char *)"r1", (char *)"r2", (char *)"gone"};

	fleet_report(&a, "r1", T0);
	fleet_report(&a, "r2", T0);
	/* r2 reported again after the leader listed it. */
	fleet_report(&a, "r2", T0 + 50000);
	fd.forget = ids;
	fd.n_forget = 3;
	fd.forget_after_ms = 40000;
	cmd.op_case = AF__COMMAND__OP_FLEET_DEREGISTER;
	cmd.fleet_deregister = &fd;
	cr_assert_eq(apply_at(&a, &cmd, T0 + 60000).code, AF__CODE__OK);
	cr_assert_str_eq(a.fsm.result.message, "forgot 1 routerds");
	cr_assert_eq(count(&a, AF_TABLE_FLEET), 1);
}

/* ------------------------------------------------ history retention
 *
 * A bundle is stored once per content hash (a re-applied one adds only
 * its revision record); the bodies of revisions out of the window are
 * pruned identically on every node, also on one restored from a snapshot
 * midway; the stable and running shadow revisions are never pruned; a
 * store written without retention gets its index built by the first entry
 * that asks for it; rollbacks to a pruned revision are refused and a bare
 * rollback skips them. */

#define DAY 86400000LL

static struct af_fsm_result rollback(struct fsm_fixture *n, uint64_t to)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__PolicyRollback pr = AF__POLICY_ROLLBACK__INIT;

	pr.to_revision = to;
	cmd.op_case = AF__COMMAND__OP_POLICY_ROLLBACK;
	cmd.policy_rollback = &pr;
	return apply_at(n, &cmd, T0);
}

static void shadow_stop(struct fsm_fixture *n)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__ShadowStop ss = AF__SHADOW_STOP__INIT;

	cmd.op_case = AF__COMMAND__OP_SHADOW_STOP;
	cmd.shadow_stop = &ss;
	cr_assert_eq(apply_at(n, &cmd, T0).code, AF__CODE__OK);
}

/* Whether revision rev's bundle is stored. */
static bool has_body(struct fsm_fixture *n, uint64_t rev)
{
	struct af_txn *t;
	char hash[80];
	bool v;

	cr_assert_eq(af_store_read_begin(n->store, &t, NULL), 0);
	cr_assert_eq(af_state_revision_hash(t, rev, hash, sizeof(hash)), 0);
	cr_assert_neq(hash[0], '\0', "revision %llu has a record",
		      (unsigned long long)rev);
	v = af_state_bundle_stored(t, hash);
	af_store_read_end(t);
	return v;
}

static void state_hash(struct fsm_fixture *n, uint8_t out[32])
{
	struct af_err e;

	cr_assert_eq(af_store_state_hash(n->store, out, &e), 0, "%s", e.msg);
}

TestSuite(fsm_history, .init = setup, .fini = teardown);

Test(fsm_history, identical_bundle_is_stored_once)
{
	struct opts o = {.keep = 1000};

	cr_assert_eq(put(&a, 1, o).revision, 1);
	cr_assert_eq(put(&a, 2, o).revision, 2);
	/* Bundle 1 again (not the stable one): a new revision, no new
	 * body. */
	cr_assert_eq(put(&a, 1, o).revision, 3);
	cr_assert_eq(put(&a, 2, o).revision, 4);
	cr_assert_eq(count(&a, AF_TABLE_BUNDLES), 2,
		     "two distinct bodies for 4 revisions");
	for (uint64_t r = 1; r <= 4; r++)
		cr_assert(has_body(&a, r));
}

Test(fsm_history, out_of_window_bodies_are_pruned)
{
	struct opts o = {.keep = 3};

	for (int k = 1; k <= 10; k++)
		cr_assert_eq(put(&a, k, o).revision, (uint64_t)k);
	cr_assert_eq(count(&a, AF_TABLE_BUNDLES), 3);
	for (uint64_t r = 1; r <= 10; r++)
		cr_assert_eq(has_body(&a, r), r >= 8, "revision %llu",
			     (unsigned long long)r);
	/* A re-applied old bundle comes back with its body, and is the
	 * newest revision of that hash: kept. */
	cr_assert_eq(put(&a, 2, o).revision, 11);
	cr_assert(has_body(&a, 11) && has_body(&a, 2));
	cr_assert(!has_body(&a, 8), "8 left the window of 3 (9, 10, 11)");
	cr_assert_eq(count(&a, AF_TABLE_BUNDLES), 3);
}

Test(fsm_history, a_hash_stays_while_a_newer_revision_uses_it)
{
	struct opts o = {.keep = 3};

	put(&a, 1, o);
	put(&a, 2, o);
	put(&a, 1, o); /* revision 3 uses bundle 1 */
	put(&a, 3, o);
	put(&a, 4, o);
	/* Window 3..5: revision 1's hash is that of revision 3. */
	cr_assert(has_body(&a, 1) && has_body(&a, 3));
	cr_assert(!has_body(&a, 2));
	put(&a, 5, o);
	cr_assert(!has_body(&a, 1) && !has_body(&a, 3));
}

Test(fsm_history, prune_is_identical_on_every_node)
{
	uint8_t ha[32], hb[32];
	void *snap;
	size_t len;
	uint64_t applied;

	open_node(&b);
	/* Same entries on both: the same state, byte for byte. */
	for (int k = 1; k <= 40; k++) {
		struct opts o = {.keep = 7, .time_ms = T0 + k};

		put(&a, k % 13, o);
		put(&b, k % 13, o);
	}
	state_hash(&a, ha);
	state_hash(&b, hb);
	cr_assert_eq(memcmp(ha, hb, 32), 0);
	cr_assert_eq(count(&a, AF_TABLE_BUNDLES), 7);
	/* A node restored from a snapshot of a continues identically. */
	cr_assert_eq(af_store_snapshot(a.store, &snap, &len, &applied, NULL),
		     0);
	fsm_fixture_close(&b);
	open_node(&b);
	cr_assert_eq(af_store_restore(b.store, snap, len, NULL), 0);
	af_free(snap);
	af_fsm_init(&b.fsm, b.store);
	b.idx = applied;
	for (int k = 100; k <= 120; k++) {
		struct opts o = {.keep = 5, .time_ms = T0 + k};

		put(&a, k, o);
		put(&b, k, o);
	}
	state_hash(&a, ha);
	state_hash(&b, hb);
	cr_assert_eq(memcmp(ha, hb, 32), 0);
	cr_assert_eq(count(&b, AF_TABLE_BUNDLES), 5);
}

Test(fsm_history, stable_and_running_shadow_are_never_pruned)
{
	struct opts o = {.keep = 2};
	struct opts sh = {.keep = 2, .shadow = true};

	put(&a, 1, o);
	cr_assert_eq(put(&a, 2, sh).code, AF__CODE__OK, "shadow revision 2");
	put(&a, 3, o);
	put(&a, 4, o);
	put(&a, 5, o);
	cr_assert(has_body(&a, 2), "the running shadow keeps its body");
	cr_assert(!has_body(&a, 1) && !has_body(&a, 3));
	/* Rollback to 4 (in the window), then apply on: the stable 4 stays
	 * while it is stable. */
	cr_assert_eq(rollback(&a, 4).code, AF__CODE__OK);
	for (int k = 6; k <= 9; k++)
		put(&a, k, o);
	cr_assert(has_body(&a, 2));
	shadow_stop(&a);
	put(&a, 10, o);
	put(&a, 11, o);
	cr_assert(!has_body(&a, 2), "a stopped shadow's body goes");
	cr_assert(!has_body(&a, 4), "a superseded stable's body goes");
	cr_assert_eq(count(&a, AF_TABLE_BUNDLES), 2);
}

Test(fsm_history, old_store_gets_its_index_at_the_first_retention)
{
	struct opts none = {0}, o = {.keep = 4};

	/* Entries without retention (as before it existed) keep every body
	 * and write no bookkeeping. */
	for (int k = 1; k <= 20; k++)
		put(&a, k, none);
	cr_assert_eq(count(&a, AF_TABLE_BUNDLES), 20);
	cr_assert_eq(put(&a, 21, o).revision, 21);
	cr_assert_eq(count(&a, AF_TABLE_BUNDLES), 4);
	for (uint64_t r = 1; r <= 21; r++)
		cr_assert_eq(has_body(&a, r), r >= 18, "revision %llu",
			     (unsigned long long)r);
	/* Once indexed, an entry without retention keeps the index current
	 * (and prunes nothing). */
	put(&a, 1, none);
	put(&a, 22, o);
	cr_assert(has_body(&a, 22) && has_body(&a, 1));
	cr_assert_eq(count(&a, AF_TABLE_BUNDLES), 4);
}

Test(fsm_history, age_limit_prunes_by_time)
{
	for (int k = 1; k <= 6; k++) {
		struct opts o = {.time_ms = T0 + k * DAY};

		put(&a, k, o);
	}
	/* Day 7, keep 3 days: revisions of days 1..3 go. */
	struct opts o = {.time_ms = T0 + 7 * DAY, .before_ms = T0 + 4 * DAY};

	put(&a, 7, o);
	for (uint64_t r = 1; r <= 7; r++)
		cr_assert_eq(has_body(&a, r), r >= 4, "revision %llu",
			     (unsigned long long)r);
}

Test(fsm_history, rollback_to_a_pruned_revision_is_refused)
{
	struct opts o = {.keep = 2};
	struct af_fsm_result r;

	for (int k = 1; k <= 5; k++)
		put(&a, k, o);
	r = rollback(&a, 2);
	cr_assert_eq(r.code, AF__CODE__NOT_FOUND);
	cr_assert(strstr(r.message, "pruned") &&
			  strstr(r.message, "history.revisions"),
		  "%s", r.message);
	/* A bare rollback goes to the newest earlier stable with a body. */
	r = rollback(&a, 0);
	cr_assert_eq(r.code, AF__CODE__OK, "%s", r.message);
	cr_assert_eq(r.revision, 4);
	/* None left with a body: refused as having none. */
	r = rollback(&a, 0);
	cr_assert_eq(r.code, AF__CODE__NOT_FOUND, "%s", r.message);
}

/* The raft snapshot of a store whose history was pruned after it grew (an
 * upgraded store): a compacted copy, not a view of the whole file; a node
 * restored from it holds the same state in a file of the live size. */
Test(fsm_history, snapshot_of_a_pruned_store_is_compacted)
{
	struct raft_buffer *bufs, rb;
	unsigned nb;
	size_t live, extent, off = 0;
	uint8_t ha[32], hb[32];

	for (int k = 1; k <= 2000; k++)
		put(&a, k, (struct opts){.pad = 4000});
	cr_assert_eq(a.fsm.raft_fsm.snapshot(&a.fsm.raft_fsm, &bufs, &nb), 0);
	cr_assert_eq(nb, AF_STORE_VIEW_PARTS, "a view while all is live");
	a.fsm.raft_fsm.snapshot_finalize(&a.fsm.raft_fsm, &bufs, &nb);
	for (int k = 2001; k <= 2012; k++)
		put(&a, k, (struct opts){.keep = 10, .pad = 4000});
	cr_assert_eq(count(&a, AF_TABLE_BUNDLES), 10);
	cr_assert_eq(af_store_pages(a.store, &live, &extent, NULL), 0);
	cr_assert_lt(live * 4, extent, "live %zu of %zu pages", live, extent);

	cr_assert_eq(a.fsm.raft_fsm.snapshot(&a.fsm.raft_fsm, &bufs, &nb), 0);
	cr_assert_eq(nb, 1, "one compacted copy");
	rb.len = 0;
	for (unsigned i = 0; i < nb; i++)
		rb.len += bufs[i].len;
	cr_assert_lt(rb.len, extent * 4096 / 4);
	rb.base = raft_malloc(rb.len);
	cr_assert_not_null(rb.base);
	for (unsigned i = 0; i < nb; i++) {
		memcpy((uint8_t *)rb.base + off, bufs[i].base, bufs[i].len);
		off += bufs[i].len;
	}
	a.fsm.raft_fsm.snapshot_finalize(&a.fsm.raft_fsm, &bufs, &nb);
	open_node(&b);
	cr_assert_eq(b.fsm.raft_fsm.restore(&b.fsm.raft_fsm, &rb), 0);
	state_hash(&a, ha);
	state_hash(&b, hb);
	cr_assert_eq(memcmp(ha, hb, 32), 0);
	cr_assert_eq(af_store_pages(b.store, &live, &extent, NULL), 0);
	cr_assert_geq(live * 2, extent, "restored: live %zu of %zu pages", live,
		      extent);
}
