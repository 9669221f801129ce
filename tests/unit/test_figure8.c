/* The Figure-8 case of the Raft paper (section 5.4.2) on libraft's
 * raft_fixture, with controld's consensus layer and state machine.
 *
 * libraft 0.15 lets a new leader commit an entry of an earlier term by
 * counting replicas (canonical/raft #220, fixed in 0.17.1). Three servers:
 *
 *   1. S0 leads term a, appends X at index k, reaches nobody, dies.
 *   2. S1 leads term b > a, appends Y at index k, reaches nobody, dies.
 *   3. S0 comes back and leads term c > b. Its first AppendEntries to S2
 *      carries X (term a); when S2 acknowledges it, S0 counts two replicas
 *      of index k and commits X, although no entry of term c is stored on
 *      a majority. S0 applies X and dies.
 *   4. S1 comes back; its log (Y at k, term b) is more up to date than
 *      S2's (X at k, term a), so S1 wins, overwrites X with Y on S2 and
 *      commits Y: index k was applied as X on S0 and as Y elsewhere.
 *
 * controld's readiness barrier (a new leader proposes nothing and serves
 * nothing until a barrier of its own term applied) puts an entry of term c
 * after X. If that barrier is in S0's log before S0 sends X to S2, both
 * travel in one AppendEntries: S2 holding the term-c entry can no longer
 * vote for S1 and nothing is lost. libraft 0.15 sends a new leader's
 * older entries to a follower only at the first heartbeat after the
 * follower rejected the empty probe, so the barrier protects when it is
 * issued within about one heartbeat of the election; controld issues it
 * from its 100 ms tick. The tests run step 3 with the barrier at once,
 * one tick late (both safe) and never (X, committed, is overwritten):
 * see docs/reliability.md. */
#include "tests/lib/alloc_check.h"
#include "tests/lib/tmpdir.h"
#include "controld/consensus.h"
#include "controld/fsm.h"

#include "proto/af.pb-c.h"
#include "store/store.h"

#include <criterion/criterion.h>
#include <raft.h>
#include <raft/fixture.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define N 3
#define MAX_INDEX 256
#define MAX_MS 30000
#define TICK_MS 100 /* controld's tick (controld/daemon.c) */

struct node {
	char dir[64];
	struct af_store *store;
	struct af_fsm fsm;
	struct raft_fsm wrap; /* af's FSM, apply recorded */
	struct af_consensus c;
	bool attached;
	uint64_t applied[MAX_INDEX]; /* payload hash per applied index */
};

static struct {
	struct raft_fixture f;
	bool f_open;
	struct node nodes[N];
	struct raft_apply raw;
	int raw_status;
	int statuses[8];
	unsigned n_cb;
} T;

static struct raft *R(unsigned i)
{
	return raft_fixture_get(&T.f, i);
}

static struct af_consensus *C(unsigned i)
{
	return &T.nodes[i].c;
}

static uint64_t fnv(const void *p, size_t len)
{
	const unsigned char *b = p;
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

/* Records what each server applies at each index, then applies it. */
static int rec_apply(struct raft_fsm *rf, const struct raft_buffer *buf,
		     void **result)
{
	unsigned i = 0;
	struct node *nd = NULL;
	uint64_t index;

	for (unsigned j = 0; j < N; j++)
		if (rf == &T.nodes[j].wrap)
			nd = &T.nodes[j], i = j;
	cr_assert_not_null(nd);
	index = raft_last_applied(R(i)) + 1;
	cr_assert_lt(index, MAX_INDEX);
	nd->applied[index] = fnv(buf->base, buf->len);
	return nd->fsm.raft_fsm.apply(&nd->fsm.raft_fsm, buf, result);
}

static void setup(void)
{
	struct af_store_opts o = {.cluster = "test", .nosync = true};
	struct raft_configuration conf;
	int rv;

	af_test_alloc_begin();
	memset(&T, 0, sizeof(T));
	cr_assert_eq(raft_fixture_initialize(&T.f), 0);
	T.f_open = true;
	for (unsigned i = 0; i < N; i++) {
		struct node *nd = &T.nodes[i];
		struct af_err err = {{0}};

		snprintf(nd->dir, sizeof(nd->dir), "/tmp/af-test-fig8-XXXXXX");
		cr_assert_not_null(mkdtemp(nd->dir));
		rv = af_store_open(nd->dir, &o, &nd->store, &err);
		cr_assert_eq(rv, 0, "store %u: %s", i, err.msg);
		af_fsm_init(&nd->fsm, nd->store);
		nd->wrap = nd->fsm.raft_fsm;
		nd->wrap.apply = rec_apply;
		cr_assert_eq(raft_fixture_grow(&T.f, &nd->wrap), 0);
	}
	raft_configuration_init(&conf);
	cr_assert_eq(raft_fixture_configuration(&T.f, N, &conf), 0);
	rv = raft_fixture_bootstrap(&T.f, &conf);
	raft_configuration_close(&conf);
	cr_assert_eq(rv, 0);
	for (unsigned i = 0; i < N; i++)
		raft_set_pre_vote(R(i), true); /* as controld runs it */
	cr_assert_eq(raft_fixture_start(&T.f), 0);
	for (unsigned i = 0; i < N; i++) {
		af_consensus_attach(C(i), R(i), &T.nodes[i].fsm);
		T.nodes[i].attached = true;
	}
}

static void teardown(void)
{
	for (unsigned i = 0; i < N; i++)
		if (T.nodes[i].attached)
			af_consensus_close(C(i), NULL, NULL);
	if (T.f_open)
		raft_fixture_close(&T.f);
	for (unsigned i = 0; i < N; i++) {
		af_store_close(T.nodes[i].store);
		if (T.nodes[i].dir[0] != '\0')
			af_test_rmtree(T.nodes[i].dir);
	}
	af_test_alloc_end();
}

TestSuite(figure8, .init = setup, .fini = teardown, .timeout = 120);

/* A policy apply whose hash names payload k. */
struct cmd {
	Af__Command cmd;
	Af__PolicyApply pa;
	char hash[AF_HASH_STR_LEN];
	char name[32];
};

static Af__Command *policy_cmd(struct cmd *b, unsigned k)
{
	memset(b, 0, sizeof(*b));
	af__command__init(&b->cmd);
	af__policy_apply__init(&b->pa);
	snprintf(b->hash, sizeof(b->hash), "sha256:%064x", k);
	snprintf(b->name, sizeof(b->name), "bundle-%u", k);
	b->cmd.principal = (char *)"tester";
	b->cmd.time_ms = (int64_t)raft_fixture_time(&T.f);
	b->pa.hash = b->hash;
	b->pa.name = b->name;
	b->pa.message = (char *)"figure8";
	b->pa.source.data = (uint8_t *)b->name;
	b->pa.source.len = strlen(b->name);
	b->pa.compiled.data = (uint8_t *)b->hash;
	b->pa.compiled.len = strlen(b->hash);
	b->cmd.op_case = AF__COMMAND__OP_POLICY_APPLY;
	b->cmd.policy_apply = &b->pa;
	return &b->cmd;
}

static void prop_cb(void *arg, int status, const struct af_fsm_result *res)
{
	(void)arg;
	(void)res;
	if (T.n_cb < 8)
		T.statuses[T.n_cb] = status;
	T.n_cb++;
}

static void raw_cb(struct raft_apply *req, int status, void *result)
{
	(void)req;
	(void)result;
	T.raw_status = status;
}

static void isolate(unsigned i, bool on)
{
	for (unsigned j = 0; j < N; j++) {
		if (j == i)
			continue;
		if (on) {
			raft_fixture_saturate(&T.f, i, j);
			raft_fixture_saturate(&T.f, j, i);
		} else {
			raft_fixture_desaturate(&T.f, i, j);
			raft_fixture_desaturate(&T.f, j, i);
		}
	}
}

static bool leads(unsigned i)
{
	return raft_fixture_alive(&T.f, i) && raft_state(R(i)) == RAFT_LEADER;
}

static bool is_leader(struct raft_fixture *f, void *arg)
{
	(void)f;
	return leads(*(unsigned *)arg);
}

static bool one_leads(struct raft_fixture *f, void *arg)
{
	(void)f;
	(void)arg;
	return leads(1) || leads(2);
}

struct term_arg {
	unsigned i;
	raft_term term;
};

/* Server i leads a term after `term`. */
static bool leads_after(struct raft_fixture *f, void *arg)
{
	struct term_arg *a = arg;

	(void)f;
	return leads(a->i) && R(a->i)->current_term > a->term;
}

static void step_until_leads(unsigned i)
{
	cr_assert(raft_fixture_step_until(&T.f, is_leader, &i, MAX_MS),
		  "server %u never led (states %d %d %d)", i, raft_state(R(0)),
		  raft_state(R(1)), raft_state(R(2)));
}

static bool is_ready(struct raft_fixture *f, void *arg)
{
	(void)f;
	return af_consensus_ready(arg);
}

struct applied_arg {
	unsigned i;
	uint64_t index;
};

static bool has_applied(struct raft_fixture *f, void *arg)
{
	struct applied_arg *a = arg;

	(void)f;
	return raft_last_applied(R(a->i)) >= a->index;
}

static void step_until_applied(unsigned i, uint64_t index)
{
	struct applied_arg a = {i, index};

	cr_assert(raft_fixture_step_until(&T.f, has_applied, &a, MAX_MS),
		  "server %u applied %llu, want %llu", i,
		  (unsigned long long)raft_last_applied(R(i)),
		  (unsigned long long)index);
}

/* Servers disagreeing on what they applied at an index: the first such
 * index, or 0. */
static uint64_t first_divergence(void)
{
	for (uint64_t x = 1; x < MAX_INDEX; x++) {
		uint64_t seen = 0;

		for (unsigned i = 0; i < N; i++) {
			uint64_t h = T.nodes[i].applied[x];

			if (h == 0)
				continue;
			if (seen != 0 && h != seen)
				return x;
			seen = h;
		}
	}
	return 0;
}

struct outcome {
	uint64_t k;	      /* the contested index */
	uint64_t x;	      /* hash of X, S0's term-a payload */
	bool committed_early; /* S0 committed X with no term-c entry on S2 */
	uint64_t divergence;  /* first index applied differently, or 0 */
};

/* Runs the scenario; in step 3, S0 issues its readiness barrier
 * `barrier_delay_ms` after it wins (0: in the same event). */
static struct outcome figure8(unsigned barrier_delay_ms)
{
	struct outcome out = {0};
	struct cmd b;
	void *buf;
	size_t len;
	struct raft_buffer rb;
	raft_time won;
	bool issued = false;
	uint64_t k;
	unsigned l, fo;

	/* A stable leader S0 with one applied write everywhere. */
	step_until_leads(0);
	cr_assert_eq(
		af_consensus_propose(C(0), policy_cmd(&b, 1), prop_cb, NULL),
		0);
	cr_assert(raft_fixture_step_until(&T.f, is_ready, C(0), MAX_MS));
	for (unsigned i = 0; i < N; i++)
		step_until_applied(i, raft_last_index(R(0)));

	/* 1. S0 appends X at k, reaches nobody, dies. */
	isolate(0, true);
	cr_assert_eq(
		af_consensus_propose(C(0), policy_cmd(&b, 2), prop_cb, NULL),
		0);
	k = raft_last_index(R(0));
	out.k = k;
	raft_fixture_step_until_elapsed(&T.f, 50); /* X stored on S0 */
	raft_fixture_kill(&T.f, 0);

	/* 2. S1 (or S2: call it L, the other F) wins term b, appends Y at k
	 * (a raw entry: a command, so the state machine sees it), reaches
	 * nobody, dies. */
	cr_assert(raft_fixture_step_until(&T.f, one_leads, NULL, MAX_MS));
	l = leads(1) ? 1 : 2;
	fo = 3 - l;
	isolate(l, true);
	cr_assert_eq(raft_last_index(R(l)), k - 1);
	cr_assert_eq(af_fsm_encode_entry(policy_cmd(&b, 3), &buf, &len), 0);
	rb.base = buf;
	rb.len = len;
	cr_assert_eq(raft_apply(R(l), &T.raw, &rb, 1, raw_cb), 0);
	cr_assert_eq(raft_last_index(R(l)), k);
	raft_fixture_step_until_elapsed(&T.f, 50);
	raft_fixture_kill(&T.f, l);

	/* 3. S0 returns and wins term c with F's vote. */
	raft_fixture_revive(&T.f, 0);
	raft_fixture_desaturate(&T.f, 0, fo);
	raft_fixture_desaturate(&T.f, fo, 0);
	{
		struct term_arg ta = {0, R(l)->current_term};

		cr_assert(
			raft_fixture_step_until(&T.f, leads_after, &ta, MAX_MS),
			"S0 never led after term %llu",
			(unsigned long long)ta.term);
	}
	won = raft_fixture_time(&T.f);
	while (R(0)->commit_index < k) {
		if (!issued &&
		    raft_fixture_time(&T.f) >= won + barrier_delay_ms) {
			cr_assert_eq(af_consensus_make_ready(C(0)), 0);
			issued = true;
		}
		raft_fixture_step(&T.f);
		cr_assert_lt(raft_fixture_time(&T.f), won + MAX_MS);
		cr_assert(leads(0), "S0 lost leadership in step 3");
	}
	out.committed_early = raft_last_index(R(fo)) == k;
	out.x = T.nodes[0].applied[k];
	cr_assert_neq(out.x, 0, "S0 committed X but did not apply it");
	raft_fixture_kill(&T.f, 0); /* before F learns the commit index */

	/* 4. L returns; L or F wins, and serves once ready. */
	raft_fixture_revive(&T.f, l);
	raft_fixture_desaturate(&T.f, l, fo);
	raft_fixture_desaturate(&T.f, fo, l);
	for (unsigned tries = 0; tries < 100; tries++) {
		unsigned w = leads(1) ? 1 : leads(2) ? 2 : N;

		if (w != N && af_consensus_ready(C(w)))
			break;
		if (w != N)
			af_consensus_make_ready(C(w));
		raft_fixture_step_until_elapsed(&T.f, TICK_MS);
	}
	step_until_applied(1, k);
	step_until_applied(2, k);
	out.divergence = first_divergence();
	return out;
}

/* X, committed on S0, is at k on every server; nothing diverged. */
static void assert_kept(struct outcome o)
{
	cr_assert(!o.committed_early,
		  "S2 holds only X when S0 commits it: not protected");
	cr_assert_eq(o.divergence, 0, "index %llu applied differently",
		     (unsigned long long)o.divergence);
	cr_assert_eq(T.nodes[1].applied[o.k], o.x, "X lost on S1");
	cr_assert_eq(T.nodes[2].applied[o.k], o.x, "X lost on S2");
}

/* With the barrier in the log before S0 sends X (the barrier issued in the
 * event S0 wins): X travels with a term-c entry, S2 stores both, S1 can't
 * win, X stays committed at k on every server. */
Test(figure8, barrier_at_election_keeps_committed_entry)
{
	assert_kept(figure8(0));
}

/* controld issues the barrier from its 100 ms tick: at worst just under
 * one tick after the election. libraft 0.15 sends S2 the older entries
 * only at the first heartbeat after S2's rejection (heartbeat 100 ms in
 * the fixture and in controld's defaults), so the barrier is in the log
 * first and travels with X: protected. */
Test(figure8, barrier_within_one_tick_keeps_committed_entry)
{
	assert_kept(figure8(TICK_MS - 1));
}

/* Without a barrier of the new term before S2 acknowledges X, libraft 0.15
 * commits X by counting replicas of an older term, then S1 overwrites it:
 * the defect itself. This fails once the commit rule checks the entry's
 * term (libraft >= 0.17.1). */
Test(figure8, no_barrier_loses_committed_entry)
{
	struct outcome o = figure8(MAX_MS);

	cr_assert(o.committed_early, "S0 waited for an entry of its term: "
				     "the commit rule is fixed, update this "
				     "test");
	cr_assert_eq(o.divergence, o.k,
		     "expected index %llu applied as X on S0 and as Y on "
		     "S1/S2, first divergence %llu",
		     (unsigned long long)o.k, (unsigned long long)o.divergence);
	cr_assert_neq(T.nodes[1].applied[o.k], o.x);
	cr_assert_neq(T.nodes[2].applied[o.k], o.x);
}
