/* controld consensus and state machine on libraft's in-memory raft_fixture
 * (virtual time, deterministic): replicated results, leader readiness,
 * leader loss, I/O faults, snapshots, replay, and a randomized schedule.
 * Three servers, one LMDB store each in its own temp dir. */
#include "tests/lib/alloc_check.h"
#include "tests/lib/tmpdir.h"
#include "controld/consensus.h"
#include "controld/fsm.h"

#include "common/alloc.h"
#include "proto/af.pb-c.h"
#include "proto/alloc.h"
#include "proto/policy.pb-c.h"
#include "store/store.h"

#include <criterion/criterion.h>
#include <raft.h>
#include <raft/fixture.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define N_SERVERS 3
#define MAX_PROPS 4096
#define MAX_STEP_MS 30000 /* virtual time bound of every wait */

struct prop {
	bool issued;
	bool done;
	int status; /* callback status: 0 is an acknowledgement */
	int code;   /* Af__Code of the result */
	uint64_t index;
	uint64_t revision;
	uint64_t registry_revision;
	bool unchanged;
	bool ready_at_apply; /* proposer was a ready leader at the callback */
	unsigned order;	     /* completion order, from 1 */
	unsigned node;	     /* node it was proposed on */
	char hash[AF_HASH_STR_LEN];
	char expect_hash[AF_HASH_STR_LEN]; /* policy applies: hash proposed */
};

struct node {
	char dir[64];
	struct af_store *store;
	struct af_fsm fsm;
	struct af_consensus c;
	bool attached;
};

/* Everything a callback may touch lives here, not on a test's stack:
 * raft_fixture_close() in teardown still fires pending callbacks. */
static struct {
	struct raft_fixture f;
	bool f_open;
	unsigned n; /* servers grown */
	struct node nodes[N_SERVERS];
	struct prop props[MAX_PROPS];
	unsigned n_props;
	unsigned n_done;
} T;

static struct raft *R(unsigned i)
{
	return raft_fixture_get(&T.f, i);
}

static struct af_consensus *C(unsigned i)
{
	return &T.nodes[i].c;
}

static void setup(void)
{
	struct af_store_opts o = {.cluster = "test", .nosync = true};
	struct raft_configuration conf;
	int rv;

	af_test_alloc_begin();
	memset(&T, 0, sizeof(T));
	rv = raft_fixture_initialize(&T.f);
	cr_assert_eq(rv, 0, "raft_fixture_initialize: %d", rv);
	T.f_open = true;
	for (unsigned i = 0; i < N_SERVERS; i++) {
		struct node *nd = &T.nodes[i];
		struct af_err err = {{0}};

		snprintf(nd->dir, sizeof(nd->dir), "/tmp/af-test-cfix-XXXXXX");
		cr_assert_not_null(mkdtemp(nd->dir));
		rv = af_store_open(nd->dir, &o, &nd->store, &err);
		cr_assert_eq(rv, 0, "store %u: %s", i, err.msg);
		af_fsm_init(&nd->fsm, nd->store);
		rv = raft_fixture_grow(&T.f, &nd->fsm.raft_fsm);
		cr_assert_eq(rv, 0, "raft_fixture_grow %u: %s", i,
			     raft_strerror(rv));
		T.n++;
	}
	raft_configuration_init(&conf);
	rv = raft_fixture_configuration(&T.f, N_SERVERS, &conf);
	cr_assert_eq(rv, 0);
	rv = raft_fixture_bootstrap(&T.f, &conf);
	raft_configuration_close(&conf);
	cr_assert_eq(rv, 0, "bootstrap: %s", raft_strerror(rv));
	rv = raft_fixture_start(&T.f);
	cr_assert_eq(rv, 0, "start: %s", raft_strerror(rv));
	for (unsigned i = 0; i < N_SERVERS; i++) {
		af_consensus_attach(C(i), R(i), &T.nodes[i].fsm);
		T.nodes[i].attached = true;
	}
}

static void teardown(void)
{
	/* Proposals still waiting for readiness fail with AF_ESHUTDOWN;
	 * closing the fixture fails those inside raft. */
	for (unsigned i = 0; i < N_SERVERS; i++)
		if (T.nodes[i].attached)
			af_consensus_close(C(i), NULL, NULL);
	if (T.f_open) {
		/* Servers that never grew are not closed by the fixture. */
		raft_fixture_close(&T.f);
		T.f_open = false;
	}
	for (unsigned i = 0; i < N_SERVERS; i++) {
		af_store_close(T.nodes[i].store);
		T.nodes[i].store = NULL;
		if (T.nodes[i].dir[0] != '\0')
			af_test_rmtree(T.nodes[i].dir);
	}
	af_test_alloc_end();
}

TestSuite(fixture, .init = setup, .fini = teardown, .timeout = 120);

/* ------------------------------------------------------------ commands */

static void hash_for(unsigned k, char out[AF_HASH_STR_LEN])
{
	snprintf(out, AF_HASH_STR_LEN, "sha256:%064x", k);
}

/* Owns the nested messages of one command built on the stack. */
struct cmdbuf {
	Af__Command cmd;
	Af__PolicyApply pa;
	Af__PolicyRollback pr;
	Af__ModelApply ma;
	Af__ModelSetStatus ms;
	Af__ModelDelete md;
	Af__Noop noop;
	char hash[AF_HASH_STR_LEN];
	char name[32];
	uint8_t reg[512];
};

static void cmd_base(struct cmdbuf *b)
{
	memset(b, 0, sizeof(*b));
	af__command__init(&b->cmd);
	b->cmd.principal = (char *)"tester";
	b->cmd.time_ms = (int64_t)raft_fixture_time(&T.f);
}

static Af__Command *cmd_policy(struct cmdbuf *b, unsigned k, uint32_t canary)
{
	cmd_base(b);
	af__policy_apply__init(&b->pa);
	hash_for(k, b->hash);
	snprintf(b->name, sizeof(b->name), "bundle-%u", k);
	b->pa.hash = b->hash;
	b->pa.name = b->name;
	b->pa.message = (char *)"test";
	b->pa.source.data = (uint8_t *)b->name;
	b->pa.source.len = strlen(b->name);
	b->pa.compiled.data = (uint8_t *)b->hash;
	b->pa.compiled.len = strlen(b->hash);
	b->pa.canary_weight = canary;
	b->cmd.op_case = AF__COMMAND__OP_POLICY_APPLY;
	b->cmd.policy_apply = &b->pa;
	return &b->cmd;
}

static Af__Command *cmd_rollback(struct cmdbuf *b, uint64_t to)
{
	cmd_base(b);
	af__policy_rollback__init(&b->pr);
	b->pr.to_revision = to;
	b->cmd.op_case = AF__COMMAND__OP_POLICY_ROLLBACK;
	b->cmd.policy_rollback = &b->pr;
	return &b->cmd;
}

/* A registry of models named ids[0..n). */
static Af__Command *cmd_models(struct cmdbuf *b, const char *const *ids,
			       size_t n)
{
	Af__Policy__Registry reg = AF__POLICY__REGISTRY__INIT;
	Af__Policy__Model models[4];
	Af__Policy__Model *mp[4];
	size_t len;

	cr_assert_leq(n, 4);
	cmd_base(b);
	for (size_t i = 0; i < n; i++) {
		af__policy__model__init(&models[i]);
		models[i].id = (char *)ids[i];
		models[i].provider = (char *)"acme";
		models[i].tier = (char *)"standard";
		models[i].context_limit = 8192;
		models[i].status = AF__POLICY__STATUS__STATUS_ACTIVE;
		mp[i] = &models[i];
	}
	reg.n_models = n;
	reg.models = mp;
	len = af__policy__registry__get_packed_size(&reg);
	cr_assert_leq(len, sizeof(b->reg));
	af__policy__registry__pack(&reg, b->reg);
	af__model_apply__init(&b->ma);
	b->ma.compiled.data = b->reg;
	b->ma.compiled.len = len;
	b->cmd.op_case = AF__COMMAND__OP_MODEL_APPLY;
	b->cmd.model_apply = &b->ma;
	return &b->cmd;
}

static Af__Command *cmd_status(struct cmdbuf *b, const char *id,
			       const char *status)
{
	cmd_base(b);
	af__model_set_status__init(&b->ms);
	b->ms.id = (char *)id;
	b->ms.status = (char *)status;
	b->cmd.op_case = AF__COMMAND__OP_MODEL_SET_STATUS;
	b->cmd.model_set_status = &b->ms;
	return &b->cmd;
}

static Af__Command *cmd_delete(struct cmdbuf *b, const char *id)
{
	cmd_base(b);
	af__model_delete__init(&b->md);
	b->md.id = (char *)id;
	b->cmd.op_case = AF__COMMAND__OP_MODEL_DELETE;
	b->cmd.model_delete = &b->md;
	return &b->cmd;
}

static Af__Command *cmd_noop(struct cmdbuf *b)
{
	cmd_base(b);
	af__noop__init(&b->noop);
	b->cmd.op_case = AF__COMMAND__OP_NOOP;
	b->cmd.noop = &b->noop;
	return &b->cmd;
}

/* ----------------------------------------------------------- proposals */

static void prop_cb(void *arg, int status, const struct af_fsm_result *res)
{
	struct prop *p = arg;

	cr_assert(!p->done, "callback called twice");
	p->done = true;
	p->status = status;
	p->order = ++T.n_done;
	p->ready_at_apply = af_consensus_ready(C(p->node));
	if (res != NULL) {
		p->code = res->code;
		p->index = res->index;
		p->revision = res->revision;
		p->registry_revision = res->registry_revision;
		p->unchanged = res->unchanged;
		snprintf(p->hash, sizeof(p->hash), "%s", res->hash);
	}
}

/* Proposes cmd on node i; returns the prop slot, or -rc on a synchronous
 * error (then the callback must never run). */
static int propose_rc(unsigned i, const Af__Command *cmd)
{
	struct prop *p;
	int rc;

	cr_assert_lt(T.n_props, MAX_PROPS);
	p = &T.props[T.n_props];
	memset(p, 0, sizeof(*p));
	p->node = i;
	if (cmd->op_case == AF__COMMAND__OP_POLICY_APPLY)
		snprintf(p->expect_hash, sizeof(p->expect_hash), "%s",
			 cmd->policy_apply->hash);
	rc = af_consensus_propose(C(i), cmd, prop_cb, p);
	if (rc != 0)
		return rc;
	p->issued = true;
	return (int)T.n_props++;
}

static unsigned propose(unsigned i, const Af__Command *cmd)
{
	int rc = propose_rc(i, cmd);

	cr_assert_geq(rc, 0, "propose on %u: %s", i, af_err_name(rc));
	return (unsigned)rc;
}

/* ------------------------------------------------------------- stepping */

static bool all_done(struct raft_fixture *f, void *arg)
{
	(void)f;
	(void)arg;
	return T.n_done == T.n_props;
}

static void step_until_done(void)
{
	cr_assert(raft_fixture_step_until(&T.f, all_done, NULL, MAX_STEP_MS),
		  "only %u of %u proposals completed", T.n_done, T.n_props);
}

/* The alive leader with the highest term (N_SERVERS: none). Unlike
 * raft_fixture_leader_index() it does not wait for every follower to
 * acknowledge it. */
static unsigned leader(void)
{
	unsigned best = N_SERVERS;

	for (unsigned i = 0; i < N_SERVERS; i++) {
		if (!raft_fixture_alive(&T.f, i) ||
		    raft_state(R(i)) != RAFT_LEADER)
			continue;
		if (best == N_SERVERS ||
		    R(i)->current_term > R(best)->current_term)
			best = i;
	}
	return best;
}

static bool has_leader(struct raft_fixture *f, void *arg)
{
	(void)f;
	(void)arg;
	return leader() != N_SERVERS;
}

static unsigned step_until_leader(void)
{
	cr_assert(raft_fixture_step_until(&T.f, has_leader, NULL, MAX_STEP_MS),
		  "no leader elected");
	return leader();
}

static bool is_ready(struct raft_fixture *f, void *arg)
{
	(void)f;
	return af_consensus_ready(arg);
}

/* Every alive server applied at least `index` (a server libraft halted,
 * RAFT_UNAVAILABLE, never will: callers check for those). */
struct applied_arg {
	uint64_t index;
};

static bool alive_applied(struct raft_fixture *f, void *arg)
{
	const struct applied_arg *a = arg;

	for (unsigned i = 0; i < N_SERVERS; i++)
		if (raft_fixture_alive(f, i) &&
		    raft_state(R(i)) != RAFT_UNAVAILABLE &&
		    raft_last_applied(R(i)) < a->index)
			return false;
	return true;
}

static void step_until_alive_applied(uint64_t index)
{
	struct applied_arg a = {index};

	cr_assert(raft_fixture_step_until(&T.f, alive_applied, &a, MAX_STEP_MS),
		  "applied %llu/%llu/%llu, want %llu (states %d %d %d, "
		  "last index %llu %llu %llu, commit %llu %llu %llu)",
		  (unsigned long long)raft_last_applied(R(0)),
		  (unsigned long long)raft_last_applied(R(1)),
		  (unsigned long long)raft_last_applied(R(2)),
		  (unsigned long long)index, raft_state(R(0)), raft_state(R(1)),
		  raft_state(R(2)), (unsigned long long)raft_last_index(R(0)),
		  (unsigned long long)raft_last_index(R(1)),
		  (unsigned long long)raft_last_index(R(2)),
		  (unsigned long long)R(0)->commit_index,
		  (unsigned long long)R(1)->commit_index,
		  (unsigned long long)R(2)->commit_index);
}

static void kill_server(unsigned i)
{
	raft_fixture_kill(&T.f, i);
	raft_fixture_step(&T.f); /* lets the fixture notice (LIBRARIES.md) */
}

/* ---------------------------------------------------------- store views */

static void state_hash(unsigned i, uint8_t out[32])
{
	struct af_err err = {{0}};
	int rc = af_store_state_hash(T.nodes[i].store, out, &err);

	cr_assert_eq(rc, 0, "state hash %u: %s", i, err.msg);
}

static uint64_t store_applied(unsigned i)
{
	struct af_txn *t;
	uint64_t v;

	cr_assert_eq(af_store_read_begin(T.nodes[i].store, &t, NULL), 0);
	v = af_txn_applied(t);
	af_store_read_end(t);
	return v;
}

static size_t table_count(unsigned i, enum af_table tbl)
{
	struct af_txn *t;
	size_t n;

	cr_assert_eq(af_store_read_begin(T.nodes[i].store, &t, NULL), 0);
	n = af_txn_count(t, tbl);
	af_store_read_end(t);
	return n;
}

static void expect_equal_hashes(const bool *which)
{
	uint8_t h0[32], h[32];
	unsigned first = N_SERVERS;

	for (unsigned i = 0; i < N_SERVERS; i++) {
		if (which != NULL && !which[i])
			continue;
		if (first == N_SERVERS) {
			first = i;
			state_hash(i, h0);
			continue;
		}
		state_hash(i, h);
		cr_assert(memcmp(h0, h, 32) == 0,
			  "state of server %u (applied %llu) differs from "
			  "server %u (applied %llu)",
			  i, (unsigned long long)store_applied(i), first,
			  (unsigned long long)store_applied(first));
	}
}

/* The stored revision `rev` on server i, or NULL (caller frees). */
static Af__Revision *get_revision(unsigned i, uint64_t rev)
{
	struct af_txn *t;
	Af__Revision *r = NULL;
	uint8_t key[8];
	int rc;

	af_store_key_u64(rev, key);
	cr_assert_eq(af_store_read_begin(T.nodes[i].store, &t, NULL), 0);
	rc = af_txn_get_msg(t, AF_TABLE_REVISIONS, key, sizeof(key),
			    &af__revision__descriptor, (ProtobufCMessage **)&r);
	af_store_read_end(t);
	if (rc != 0)
		return NULL;
	return r;
}

static bool has_revision(unsigned i, uint64_t rev)
{
	Af__Revision *r = get_revision(i, rev);

	if (r == NULL)
		return false;
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return true;
}

static uint64_t stable_revision(unsigned i)
{
	struct af_txn *t;
	Af__Rollout *r = NULL;
	uint64_t v = 0;

	cr_assert_eq(af_store_read_begin(T.nodes[i].store, &t, NULL), 0);
	if (af_txn_get_msg(t, AF_TABLE_ROLLOUT, "rollout", 7,
			   &af__rollout__descriptor,
			   (ProtobufCMessage **)&r) == 0) {
		v = r->stable_revision;
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}
	af_store_read_end(t);
	return v;
}

/* Every acknowledged policy apply that created a revision is in server i's
 * store under that revision with its hash, and revision numbers are
 * unique. Returns the number of such acknowledgements. */
static unsigned expect_acked_revisions(unsigned i)
{
	unsigned n = 0;

	for (unsigned k = 0; k < T.n_props; k++) {
		const struct prop *p = &T.props[k];
		Af__Revision *r;

		if (!p->done || p->status != 0 || p->expect_hash[0] == '\0' ||
		    p->code != AF__CODE__OK || p->unchanged)
			continue;
		r = get_revision(i, p->revision);
		cr_assert_not_null(r,
				   "server %u lost acknowledged revision %llu "
				   "(proposal %u, index %llu)",
				   i, (unsigned long long)p->revision, k,
				   (unsigned long long)p->index);
		cr_assert_str_eq(r->hash, p->expect_hash,
				 "server %u: revision %llu holds %s", i,
				 (unsigned long long)p->revision, r->hash);
		protobuf_c_message_free_unpacked(&r->base, NULL);
		for (unsigned j = 0; j < k; j++) {
			const struct prop *q = &T.props[j];

			if (q->done && q->status == 0 &&
			    q->expect_hash[0] != '\0' &&
			    q->code == AF__CODE__OK && !q->unchanged)
				/* Revisions follow log order. */
				cr_assert((q->index < p->index) ==
							  (q->revision <
							   p->revision) &&
						  q->revision != p->revision,
					  "revision %llu at index %llu, "
					  "revision %llu at index %llu",
					  (unsigned long long)q->revision,
					  (unsigned long long)q->index,
					  (unsigned long long)p->revision,
					  (unsigned long long)p->index);
		}
		n++;
	}
	return n;
}

/* Revisions on server i carrying `hash`. */
struct count_arg {
	const char *hash;
	unsigned n;
};

static int count_hash_fn(const void *key, size_t klen, const void *val,
			 size_t vlen, void *arg)
{
	struct count_arg *ca = arg;
	Af__Revision *r = af__revision__unpack(&af_pb_allocator, vlen, val);

	(void)key;
	(void)klen;
	cr_assert_not_null(r);
	if (strcmp(r->hash, ca->hash) == 0)
		ca->n++;
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return 0;
}

static unsigned count_hash(unsigned i, const char *hash)
{
	struct count_arg ca = {hash, 0};
	struct af_txn *t;

	cr_assert_eq(af_store_read_begin(T.nodes[i].store, &t, NULL), 0);
	cr_assert_eq(
		af_txn_iter(t, AF_TABLE_REVISIONS, false, count_hash_fn, &ca),
		0);
	af_store_read_end(t);
	return ca.n;
}

/* Servers a and b both hold index in their logs. */
struct stored_arg {
	uint64_t index;
	unsigned a, b;
};

static bool both_hold(struct raft_fixture *f, void *arg)
{
	const struct stored_arg *st = arg;

	(void)f;
	return raft_last_index(R(st->a)) >= st->index &&
	       raft_last_index(R(st->b)) >= st->index;
}

/* ================================================================ tests */

/* Results of a sequence of commands, replicated identically everywhere. */
Test(fixture, results_replicate_identically)
{
	static const char *const models[] = {"m-large", "m-small"};
	struct cmdbuf b;
	unsigned l, p[16], np = 0;
	uint8_t empty[32], h[32];

	state_hash(0, empty);
	l = step_until_leader();
	p[np++] = propose(l, cmd_policy(&b, 1, 0));	 /* rev 1 */
	p[np++] = propose(l, cmd_policy(&b, 2, 0));	 /* rev 2 */
	p[np++] = propose(l, cmd_policy(&b, 2, 0));	 /* unchanged */
	p[np++] = propose(l, cmd_policy(&b, 3, 0));	 /* rev 3 */
	p[np++] = propose(l, cmd_rollback(&b, 0));	 /* -> rev 2 */
	p[np++] = propose(l, cmd_policy(&b, 2, 0));	 /* unchanged */
	p[np++] = propose(l, cmd_rollback(&b, 0));	 /* -> rev 1 */
	p[np++] = propose(l, cmd_models(&b, models, 2)); /* registry 1 */
	p[np++] = propose(l, cmd_status(&b, "missing", "disabled"));
	p[np++] = propose(l, cmd_status(&b, "m-large", "deprecated"));
	p[np++] = propose(l, cmd_delete(&b, "m-small"));
	p[np++] = propose(l, cmd_delete(&b, "m-small"));
	p[np++] = propose(l, cmd_noop(&b));
	step_until_done();
	step_until_alive_applied(raft_last_applied(R(l)));

	for (unsigned k = 0; k < np; k++) {
		const struct prop *q = &T.props[p[k]];

		cr_assert_eq(q->status, 0, "proposal %u: %s", k,
			     af_err_name(q->status));
		cr_assert_eq(q->order, k + 1, "proposal %u completed %u-th", k,
			     q->order);
		cr_assert(k == 0 || q->index > T.props[p[k - 1]].index);
	}
	cr_assert_eq(T.props[p[0]].code, AF__CODE__OK);
	cr_assert_eq(T.props[p[0]].revision, 1);
	cr_assert_eq(T.props[p[1]].revision, 2);
	cr_assert_eq(T.props[p[2]].code, AF__CODE__UNCHANGED);
	cr_assert(T.props[p[2]].unchanged);
	cr_assert_eq(T.props[p[2]].revision, 2);
	cr_assert_eq(T.props[p[3]].revision, 3);
	/* Rollback: the previous stable (2) is stable again... */
	cr_assert_eq(T.props[p[4]].code, AF__CODE__OK);
	cr_assert_eq(T.props[p[4]].revision, 2);
	cr_assert_str_eq(T.props[p[4]].hash, T.props[p[1]].expect_hash);
	/* ...so applying its content again changes nothing. */
	cr_assert_eq(T.props[p[5]].code, AF__CODE__UNCHANGED);
	cr_assert_eq(T.props[p[5]].revision, 2);
	/* A second rollback goes one further back. */
	cr_assert_eq(T.props[p[6]].code, AF__CODE__OK);
	cr_assert_eq(T.props[p[6]].revision, 1);
	cr_assert_eq(T.props[p[7]].code, AF__CODE__OK);
	cr_assert_eq(T.props[p[7]].registry_revision, 1);
	/* A rejection is a result; the entry still applied (below). */
	cr_assert_eq(T.props[p[8]].code, AF__CODE__NOT_FOUND);
	cr_assert_eq(T.props[p[9]].code, AF__CODE__OK);
	cr_assert_eq(T.props[p[9]].registry_revision, 2);
	cr_assert_eq(T.props[p[10]].code, AF__CODE__OK);
	cr_assert_eq(T.props[p[10]].registry_revision, 3);
	cr_assert_eq(T.props[p[11]].code, AF__CODE__NOT_FOUND);
	cr_assert_eq(T.props[p[12]].code, AF__CODE__OK);

	expect_equal_hashes(NULL);
	state_hash(0, h);
	cr_assert(memcmp(h, empty, 32) != 0, "state did not change");
	for (unsigned i = 0; i < N_SERVERS; i++) {
		/* Every command (rejected ones too) advanced the index and
		 * left one audit record. */
		cr_assert_eq(store_applied(i), T.props[p[np - 1]].index);
		cr_assert_eq(table_count(i, AF_TABLE_AUDIT), np - 1,
			     "server %u: %zu audit records", i,
			     table_count(i, AF_TABLE_AUDIT));
		cr_assert_eq(table_count(i, AF_TABLE_REVISIONS), 3);
		cr_assert_eq(table_count(i, AF_TABLE_MODELS), 1);
		cr_assert_eq(stable_revision(i), 1);
		cr_assert_eq(expect_acked_revisions(i), 3);
	}
}

/* A follower refuses proposals and never calls back. */
Test(fixture, follower_refuses_proposals)
{
	struct cmdbuf b;
	unsigned l = step_until_leader();
	unsigned fl = (l + 1) % N_SERVERS;

	cr_assert_eq(propose_rc(fl, cmd_noop(&b)), AF_ENOTLEADER);
	cr_assert_eq(af_consensus_read_barrier(C(fl), prop_cb, &T.props[0]),
		     AF_ENOTLEADER);
	cr_assert(!af_consensus_ready(C(fl)));
	raft_fixture_step_until_elapsed(&T.f, 2000);
	cr_assert_eq(T.n_done, 0);
}

/* Shared by the two readiness tests: on the new leader nl, which has not
 * served anything yet, proposals wait for the readiness barrier and then
 * apply in arrival order. */
static void expect_readiness(unsigned nl)
{
	struct cmdbuf b;
	unsigned first = T.n_props, n = 0;
	uint64_t base_rev = 0, barrier_seen = 0;

	cr_assert_eq(raft_state(R(nl)), RAFT_LEADER);
	cr_assert(!af_consensus_ready(C(nl)),
		  "a new leader is ready before its barrier applied");
	/* A killed old leader is a paused process: it is not asked. */
	for (unsigned k = 0; k < N_SERVERS; k++)
		cr_assert(!raft_fixture_alive(&T.f, k) ||
			  !af_consensus_ready(C(k)));
	for (unsigned k = 0; k < 4; k++, n++)
		propose(nl, cmd_policy(&b, 100 + k, 0));
	cr_assert(!af_consensus_ready(C(nl)));
	/* Step one event at a time: readiness comes first, then the
	 * proposals, in arrival order. */
	for (unsigned s = 0; s < 100000 && T.n_done < T.n_props; s++) {
		raft_fixture_step(&T.f);
		if (barrier_seen == 0 && af_consensus_ready(C(nl)))
			barrier_seen = raft_last_applied(R(nl));
		if (barrier_seen == 0)
			for (unsigned k = first; k < T.n_props; k++)
				cr_assert(!T.props[k].done,
					  "proposal %u done before readiness",
					  k);
	}
	cr_assert_neq(barrier_seen, 0, "leader never became ready");
	for (unsigned k = first; k < first + n; k++) {
		const struct prop *q = &T.props[k];

		cr_assert(q->done);
		cr_assert_eq(q->status, 0, "proposal %u: %s", k,
			     af_err_name(q->status));
		cr_assert(q->ready_at_apply);
		cr_assert_gt(q->index, barrier_seen);
		if (k == first)
			base_rev = q->revision;
		cr_assert_eq(q->revision, base_rev + (k - first),
			     "proposal %u got revision %llu", k,
			     (unsigned long long)q->revision);
		cr_assert_eq(q->order, T.props[first].order + (k - first));
	}
}

Test(fixture, new_leader_ready_after_barrier_depose)
{
	struct cmdbuf b;
	unsigned l, nl;

	l = step_until_leader();
	propose(l, cmd_policy(&b, 1, 0));
	step_until_done();
	cr_assert(af_consensus_ready(C(l)));

	raft_fixture_depose(&T.f);
	cr_assert(!af_consensus_ready(C(l)));
	cr_assert_eq(propose_rc(l, cmd_noop(&b)), AF_ENOTLEADER);
	nl = (l + 1) % N_SERVERS;
	raft_fixture_elect(&T.f, nl);
	expect_readiness(nl);
	step_until_alive_applied(raft_last_applied(R(nl)));
	expect_equal_hashes(NULL);
}

Test(fixture, new_leader_ready_after_barrier_kill)
{
	struct cmdbuf b;
	unsigned l, nl;
	bool alive[N_SERVERS] = {true, true, true};

	l = step_until_leader();
	propose(l, cmd_policy(&b, 1, 0));
	step_until_done();

	kill_server(l);
	alive[l] = false;
	cr_assert(raft_fixture_step_until(&T.f, has_leader, NULL, MAX_STEP_MS));
	nl = leader();
	cr_assert_neq(nl, l);
	expect_readiness(nl);
	step_until_alive_applied(raft_last_applied(R(nl)));
	expect_equal_hashes(alive);

	/* The old leader comes back, steps down and catches up. */
	raft_fixture_revive(&T.f, l);
	step_until_alive_applied(raft_last_applied(R(nl)));
	cr_assert_neq(raft_state(R(l)), RAFT_LEADER);
	expect_equal_hashes(NULL);
}

/* The leader dies with proposals in flight: acknowledged ones survive,
 * ones a majority stored are committed by the next leader (though their
 * proposer heard AF_EUNAVAIL), ones only the dead leader held are gone. */
Test(fixture, leader_killed_mid_stream)
{
	struct cmdbuf b;
	unsigned l, nl, f1, f2, k = 0;
	struct stored_arg st;

	l = step_until_leader();
	f1 = (l + 1) % N_SERVERS;
	f2 = (l + 2) % N_SERVERS;
	for (; k < 5; k++) /* A: acknowledged */
		propose(l, cmd_policy(&b, k, 0));
	step_until_done();
	for (; k < 8; k++) /* B: on every follower, not acknowledged */
		propose(l, cmd_policy(&b, k, 0));
	st.index = raft_last_index(R(l));
	st.a = f1;
	st.b = f2;
	cr_assert(raft_fixture_step_until(&T.f, both_hold, &st, MAX_STEP_MS));
	for (; k < 11; k++) /* C: only in the old leader's log */
		propose(l, cmd_policy(&b, k, 0));
	kill_server(l);
	for (unsigned q = 5; q < 11; q++)
		cr_assert(!T.props[q].done, "proposal %u done before the kill",
			  q);

	cr_assert(raft_fixture_step_until(&T.f, has_leader, NULL, MAX_STEP_MS));
	nl = leader();
	cr_assert_neq(nl, l);
	for (; k < 16; k++) /* D: on the new leader */
		propose(nl, cmd_policy(&b, k, 0));
	cr_assert(raft_fixture_step_until(&T.f, is_ready, C(nl), MAX_STEP_MS));
	raft_fixture_revive(&T.f, l);
	step_until_done();
	step_until_alive_applied(raft_last_applied(R(nl)));
	cr_assert_neq(raft_state(R(l)), RAFT_LEADER);

	expect_equal_hashes(NULL);
	for (unsigned q = 0; q < T.n_props; q++) {
		const struct prop *p = &T.props[q];
		bool acked = q < 5 || q >= 11;

		cr_assert_eq(p->status, acked ? 0 : AF_EUNAVAIL,
			     "proposal %u: %s", q, af_err_name(p->status));
		for (unsigned i = 0; i < N_SERVERS; i++)
			cr_assert_eq(count_hash(i, p->expect_hash),
				     q < 8 || q >= 11 ? 1u : 0u,
				     "server %u holds proposal %u %u times", i,
				     q, count_hash(i, p->expect_hash));
	}
	for (unsigned i = 0; i < N_SERVERS; i++) {
		cr_assert_eq(expect_acked_revisions(i), 10);
		cr_assert_eq(table_count(i, AF_TABLE_REVISIONS), 13);
	}
}

/* Disk and network write failures on the leader: a proposal whose local
 * append fails is refused synchronously (its callback never runs); the
 * cluster carries on and converges. */
Test(fixture, leader_io_faults)
{
	struct cmdbuf b;
	unsigned l, n_eio = 0, n_ok = 0;
	int rc;

	l = step_until_leader();
	propose(l, cmd_noop(&b));
	step_until_done();
	/* The next 3 I/O requests fail (appends and sends alike). */
	raft_fixture_io_fault(&T.f, l, 0, 3);
	for (unsigned k = 0; k < 12; k++) {
		rc = propose_rc(l, cmd_policy(&b, k, 0));
		if (rc == AF_EIO)
			n_eio++;
		else
			cr_assert_geq(rc, 0, "propose: %s", af_err_name(rc));
		raft_fixture_step_n(&T.f, 4);
	}
	/* Later, failures that hit heartbeats and replication sends. */
	raft_fixture_io_fault(&T.f, l, 5, 4);
	for (unsigned k = 12; k < 24; k++) {
		rc = propose_rc(l, cmd_policy(&b, k, 0));
		if (rc == AF_EIO)
			n_eio++;
		else
			cr_assert_geq(rc, 0, "propose: %s", af_err_name(rc));
		raft_fixture_step_n(&T.f, 4);
	}
	step_until_done();
	cr_assert_gt(n_eio, 0, "no fault reached a proposal");
	cr_assert_eq(raft_state(R(l)), RAFT_LEADER);
	for (unsigned q = 0; q < T.n_props; q++) {
		cr_assert_eq(T.props[q].status, 0, "proposal %u: %s", q,
			     af_err_name(T.props[q].status));
		n_ok++;
	}
	cr_assert_eq(n_ok + n_eio, 25);
	step_until_alive_applied(raft_last_applied(R(l)));
	expect_equal_hashes(NULL);
	for (unsigned i = 0; i < N_SERVERS; i++)
		cr_assert_eq(expect_acked_revisions(i), n_ok - 1);
}

/* A follower whose log write fails: libraft 0.15 turns it unavailable
 * for good (only a restart brings it back, which the fixture cannot do).
 * The majority carries on and converges, nothing acknowledged is lost,
 * and the stopped follower's store holds a prefix of the others' state. */
Test(fixture, follower_io_fault)
{
	struct cmdbuf b;
	unsigned l, fl, k = 0;
	bool avail[N_SERVERS] = {true, true, true};
	uint64_t stopped_at;
	size_t n_rev;

	l = step_until_leader();
	fl = (l + 1) % N_SERVERS;
	for (; k < 5; k++)
		propose(l, cmd_policy(&b, k, 0));
	step_until_done();
	raft_fixture_io_fault(&T.f, fl, 1, 2);
	for (; k < 25; k++) {
		propose(l, cmd_policy(&b, k, 0));
		raft_fixture_step_n(&T.f, 5);
	}
	step_until_done();
	step_until_alive_applied(0);
	raft_fixture_step_until_elapsed(&T.f, 3000);
	avail[fl] = false;
	cr_assert_eq(raft_state(R(fl)), RAFT_UNAVAILABLE);
	cr_assert_str_eq(af_consensus_role(C(fl)), "unavailable");
	cr_assert(!af_consensus_ready(C(fl)));
	cr_assert_eq(propose_rc(fl, cmd_noop(&b)), AF_ENOTLEADER);
	cr_assert_eq(leader(), l, "leadership moved");
	for (unsigned q = 0; q < T.n_props; q++)
		cr_assert_eq(T.props[q].status, 0);

	{
		struct applied_arg a = {raft_last_applied(R(l))};
		unsigned other = (l + 2) % N_SERVERS;

		cr_assert(raft_fixture_step_until_applied(&T.f, other, a.index,
							  MAX_STEP_MS));
	}
	expect_equal_hashes(avail);
	for (unsigned i = 0; i < N_SERVERS; i++)
		if (avail[i])
			cr_assert_eq(expect_acked_revisions(i), 25);
	/* The stopped follower: a prefix, nothing invented. */
	stopped_at = store_applied(fl);
	cr_assert_lt(stopped_at, store_applied(l));
	n_rev = table_count(fl, AF_TABLE_REVISIONS);
	cr_assert_lt(n_rev, 25);
	for (uint64_t r = 1; r <= n_rev; r++) {
		Af__Revision *a = get_revision(fl, r), *c = get_revision(l, r);

		cr_assert(a != NULL && c != NULL);
		cr_assert_str_eq(a->hash, c->hash);
		protobuf_c_message_free_unpacked(&a->base, NULL);
		protobuf_c_message_free_unpacked(&c->base, NULL);
	}
}

/* The leader's log no longer holds the entry after server *arg's last. */
static bool compacted_past(struct raft_fixture *f, void *arg)
{
	unsigned fl = *(const unsigned *)arg, l = leader();

	(void)f;
	return l != N_SERVERS && R(l)->log.offset > raft_last_index(R(fl));
}

/* A follower that missed compacted entries catches up by InstallSnapshot
 * (fsm restore replaces its LMDB environment) and then keeps applying. */
Test(fixture, snapshot_catch_up)
{
	struct cmdbuf b;
	unsigned l, fl, k = 0;
	uint64_t applied_before, last;

	for (unsigned i = 0; i < N_SERVERS; i++) {
		raft_set_snapshot_threshold(R(i), 16);
		raft_set_snapshot_trailing(R(i), 8);
	}
	l = step_until_leader();
	fl = (l + 1) % N_SERVERS;
	for (; k < 5; k++)
		propose(l, cmd_policy(&b, k, 0));
	step_until_done();
	step_until_alive_applied(raft_last_applied(R(l)));
	kill_server(fl);
	applied_before = T.nodes[fl].fsm.entries_applied;
	for (; k < 105; k++) {
		propose(l, cmd_policy(&b, k, 0));
		if (k % 10 == 0)
			propose(l, cmd_rollback(&b, 0));
		step_until_done();
	}
	/* The leader compacted past what the follower holds (the last
	 * snapshot's write completes a little later). */
	cr_assert(raft_fixture_step_until(&T.f, compacted_past, &fl, 5000),
		  "leader log still holds index %llu (snapshot %llu)",
		  (unsigned long long)raft_last_index(R(fl)) + 1,
		  (unsigned long long)R(l)->log.snapshot.last_index);

	raft_fixture_revive(&T.f, fl);
	last = raft_last_applied(R(l));
	step_until_alive_applied(last);
	cr_assert_gt(raft_fixture_n_recv(&T.f, fl, RAFT_IO_INSTALL_SNAPSHOT),
		     0);
	/* It did not apply the missed entries one by one. */
	cr_assert_lt(T.nodes[fl].fsm.entries_applied - applied_before, 100);
	expect_equal_hashes(NULL);

	/* And goes on applying after the restore. */
	for (; k < 115; k++)
		propose(l, cmd_policy(&b, k, 0));
	step_until_done();
	step_until_alive_applied(raft_last_applied(R(l)));
	expect_equal_hashes(NULL);
	for (unsigned i = 0; i < N_SERVERS; i++) {
		cr_assert_eq(expect_acked_revisions(i), 115);
		cr_assert_eq(table_count(i, AF_TABLE_REVISIONS), 115);
	}
}

/* Entries at or below the store's applied index (log replay after a
 * restart) change nothing; the next index does. */
Test(fixture, replay_is_idempotent)
{
	static const char *const models[] = {"m-a"};
	struct cmdbuf b;
	struct af_fsm *fsm = &T.nodes[0].fsm;
	uint8_t h0[32], h1[32];
	uint64_t applied;
	void *buf;
	size_t len;
	int rc;

	unsigned l = step_until_leader();

	propose(l, cmd_policy(&b, 1, 0));
	propose(l, cmd_models(&b, models, 1));
	propose(l, cmd_policy(&b, 2, 0));
	step_until_done();
	step_until_alive_applied(raft_last_applied(R(l)));
	expect_equal_hashes(NULL);
	applied = store_applied(0);
	cr_assert_gt(applied, 3);

	rc = af_fsm_encode_entry(cmd_policy(&b, 99, 0), &buf, &len);
	cr_assert_eq(rc, 0);
	cr_assert_eq(len % 8, 0);
	{
		const uint64_t replay[] = {applied, applied - 1, 1};

		for (unsigned k = 0; k < 3; k++) {
			rc = af_fsm_apply_entry(fsm, replay[k], buf, len);
			cr_assert_eq(rc, 0);
			cr_assert_eq(fsm->result.index, replay[k]);
			cr_assert_eq(fsm->result.revision, 0);
			state_hash(0, h0);
			state_hash(1, h1);
			cr_assert(memcmp(h0, h1, 32) == 0,
				  "replay of index %llu changed the state",
				  (unsigned long long)replay[k]);
		}
	}
	/* Control: the next index applies. */
	rc = af_fsm_apply_entry(fsm, applied + 1, buf, len);
	cr_assert_eq(rc, 0);
	cr_assert_eq(fsm->result.code, AF__CODE__OK);
	cr_assert_eq(fsm->result.revision, 3);
	cr_assert_eq(store_applied(0), applied + 1);
	state_hash(0, h0);
	cr_assert(memcmp(h0, h1, 32) != 0);
	/* And is itself idempotent. */
	rc = af_fsm_apply_entry(fsm, applied + 1, buf, len);
	cr_assert_eq(rc, 0);
	state_hash(0, h1);
	cr_assert(memcmp(h0, h1, 32) == 0);
	raft_free(buf);
}

/* ------------------------------------------------------------ randomized */

static uint64_t rng_state;

static unsigned rnd(unsigned n)
{
	/* xorshift64*: the same sequence on every libc. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (unsigned)((rng_state * 2685821657736338717ull) >> 33) % n;
}

static void set_link(unsigned i, unsigned j, bool up)
{
	if (up) {
		raft_fixture_reconnect(&T.f, i, j);
		raft_fixture_reconnect(&T.f, j, i);
	} else {
		raft_fixture_disconnect(&T.f, i, j);
		raft_fixture_disconnect(&T.f, j, i);
	}
}

/* Random proposals, kills and revivals of one server at a time, and cut
 * links, then heal: every server ends with the same state and holds every
 * acknowledged proposal. Seed: AF_SEED, default 1 so that the suite stays
 * deterministic; explore with a loop over AF_SEED and
 * --filter fixture/randomized_schedule. */
Test(fixture, randomized_schedule)
{
	const char *env = getenv("AF_SEED");
	unsigned seed = env ? (unsigned)strtoul(env, NULL, 0) : 1;
	bool cut[N_SERVERS][N_SERVERS] = {{false}};
	bool avail[N_SERVERS];
	unsigned killed = N_SERVERS, key = 1, acked = 0;
	unsigned n_kill = 0, n_cut = 0, n_sync_fail = 0;
	struct cmdbuf b;
	unsigned l;
	int rc;

	fprintf(stderr, "randomized_schedule: AF_SEED=%u\n", seed);
	rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
	for (unsigned it = 0; it < 1500 && T.n_props < MAX_PROPS - 64; it++) {
		unsigned r = rnd(100);

		if (r < 40) {
			unsigned op = rnd(10);

			l = leader();
			if (l == N_SERVERS)
				continue;
			if (op < 6)
				cmd_policy(&b, key++, 0);
			else if (op == 6)
				cmd_policy(&b, 1 + rnd(key), 0);
			else if (op == 7)
				cmd_rollback(&b, 0);
			else if (op == 8)
				cmd_status(&b, "nope", "active");
			else
				cmd_noop(&b);
			rc = propose_rc(l, &b.cmd);
			if (rc < 0) {
				cr_assert_eq(rc, AF_ENOTLEADER, "propose: %s",
					     af_err_name(rc));
				n_sync_fail++;
			}
		} else if (r < 75) {
			raft_fixture_step_n(&T.f, 1 + rnd(40));
		} else if (r < 82) {
			if (killed == N_SERVERS) {
				killed = rnd(N_SERVERS);
				kill_server(killed);
				n_kill++;
			}
		} else if (r < 89) {
			if (killed != N_SERVERS) {
				raft_fixture_revive(&T.f, killed);
				/* revive reconnects everything: cut again. */
				for (unsigned j = 0; j < N_SERVERS; j++)
					if (cut[killed][j])
						set_link(killed, j, false);
				killed = N_SERVERS;
			}
		} else if (r < 95) {
			unsigned i = rnd(N_SERVERS);
			unsigned j = (i + 1 + rnd(N_SERVERS - 1)) % N_SERVERS;

			if (!cut[i][j] && killed == N_SERVERS) {
				set_link(i, j, false);
				cut[i][j] = cut[j][i] = true;
				n_cut++;
			}
		} else {
			for (unsigned i = 0; i < N_SERVERS; i++)
				for (unsigned j = i + 1; j < N_SERVERS; j++)
					if (cut[i][j] && killed != i &&
					    killed != j) {
						set_link(i, j, true);
						cut[i][j] = cut[j][i] = false;
					}
		}
	}

	/* Heal. */
	if (killed != N_SERVERS)
		raft_fixture_revive(&T.f, killed);
	for (unsigned i = 0; i < N_SERVERS; i++)
		for (unsigned j = i + 1; j < N_SERVERS; j++)
			if (cut[i][j])
				set_link(i, j, true);
	/* A write in the final term commits everything before it. */
	for (unsigned tries = 0;; tries++) {
		unsigned q;

		cr_assert_lt(tries, 20, "no write succeeded after healing");
		l = step_until_leader();
		rc = propose_rc(l, cmd_noop(&b));
		if (rc < 0)
			continue;
		q = (unsigned)rc;
		cr_assert(raft_fixture_step_until(&T.f, all_done, NULL,
						  MAX_STEP_MS));
		if (T.props[q].status == 0)
			break;
	}
	step_until_alive_applied(raft_last_applied(R(l)));
	step_until_done();

	for (unsigned i = 0; i < N_SERVERS; i++)
		avail[i] = raft_state(R(i)) != RAFT_UNAVAILABLE;
	expect_equal_hashes(avail);
	for (unsigned i = 0; i < N_SERVERS; i++) {
		size_t n = table_count(i, AF_TABLE_REVISIONS);

		if (!avail[i])
			continue;

		acked = expect_acked_revisions(i);
		/* Dense: revisions 1..n. */
		cr_assert(n == 0 || has_revision(i, n));
		cr_assert_geq(n, acked);
	}
	for (unsigned q = 0; q < T.n_props; q++)
		cr_assert(T.props[q].status == 0 ||
				  T.props[q].status == AF_EUNAVAIL ||
				  T.props[q].status == AF_ENOTLEADER,
			  "proposal %u: %s", q, af_err_name(T.props[q].status));
	fprintf(stderr,
		"randomized_schedule: seed %u: %u proposals, %u new "
		"revisions acknowledged, %u refused, %u kills, %u cuts, "
		"applied %llu\n",
		seed, T.n_props, acked, n_sync_fail, n_kill, n_cut,
		(unsigned long long)store_applied(0));
	cr_assert_gt(acked, 0);
	/* No I/O faults here, so nothing should have halted a server. With
	 * libraft 0.15 some seeds (137, 141, 218) do: a follower answers an
	 * empty AppendEntries with its own last stored index, the new leader
	 * counts that as a match of its first entry and commits it without a
	 * majority; the follower later finds a conflict below its commit
	 * index and shuts down. */
	for (unsigned i = 0; i < N_SERVERS; i++)
		cr_assert(avail[i],
			  "seed %u: libraft halted server %u (applied %llu, "
			  "term %llu)",
			  seed, i, (unsigned long long)raft_last_applied(R(i)),
			  (unsigned long long)R(i)->current_term);
}
