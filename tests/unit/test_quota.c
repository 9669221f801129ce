/* Quota capacity leases in the state machine: under random grants,
 * releases, renewals and expiries from several routerds the sum of live
 * leases never exceeds the limit; an expired lease returns (a rate lease
 * one window later); bad requests change nothing. Entries are applied
 * straight to a real LMDB store (no raft needed). */
#include "tests/lib/alloc_check.h"
#include "tests/lib/fsm_fixture.h"
#include "controld/fsm.h"
#include "controld/quota.h"
#include "proto/af.pb-c.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct fsm_fixture fx;

#define T0 1795341600000LL
#define TTL 3000

static void setup(void)
{
	struct af_err e;

	af_test_alloc_begin();
	cr_assert_eq(fsm_fixture_open(&fx, "quota", &e), 0, "%s", e.msg);
}

static void teardown(void)
{
	cr_assert_eq(fsm_fixture_close(&fx), 0);
	af_test_alloc_end();
}

/* One ask of routerd rid on (q, "acme", dim) at time t. */
static const struct af_fsm_result *ask(const char *rid, uint32_t dim,
				       int64_t limit, int64_t want, int64_t t)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__QuotaLeaseRequest qr = AF__QUOTA_LEASE_REQUEST__INIT;
	Af__QuotaAsk a = AF__QUOTA_ASK__INIT, *ap = &a;

	a.quota = (char *)"q";
	a.tenant = (char *)"acme";
	a.dim = dim;
	a.limit = limit;
	a.want = want;
	qr.routerd_id = (char *)rid;
	qr.ttl_ms = TTL;
	qr.asks = &ap;
	qr.n_asks = 1;
	cmd.op_case = AF__COMMAND__OP_QUOTA_LEASE;
	cmd.quota_lease = &qr;
	cr_assert_eq(fsm_fixture_apply(&fx, &cmd, t), 0);
	return &fx.fsm.result;
}

/* The live leased sum at t, as af quota status reads it. */
static int64_t leased(int64_t t)
{
	struct af_txn *txn;
	Af__QuotaLease **l;
	size_t n;
	int64_t sum = 0;

	cr_assert_eq(af_store_read_begin(fx.store, &txn, NULL), 0);
	cr_assert_eq(af_quota_leases(txn, t, &l, &n), 0);
	for (size_t i = 0; i < n; i++)
		sum += l[i]->amount;
	af_quota_leases_free(l, n);
	af_store_read_end(txn);
	return sum;
}

TestSuite(quota, .init = setup, .fini = teardown);

Test(quota, leases_never_exceed_the_limit)
{
	const char *rids[] = {"r1", "r2", "r3", "r4"};
	unsigned seed = (unsigned)time(NULL);
	int64_t t = T0;

	if (getenv("AF_SEED"))
		seed = (unsigned)strtoul(getenv("AF_SEED"), NULL, 10);
	cr_log_info("AF_SEED=%u", seed);
	srand(seed);
	for (int i = 0; i < 3000; i++) {
		int r = rand() % 4, op = rand() % 10;
		/* grant/renew (want up to the whole limit), release (0), or
		 * let time pass so that leases expire */
		int64_t want = op < 2 ? 0 : rand() % 12;
		const struct af_fsm_result *res;
		int64_t sum;

		t += op == 9 ? rand() % (2 * TTL) : rand() % 200;
		res = ask(rids[r], 0, 10, want, t);
		cr_assert_eq(res->code, AF__CODE__OK, "%s", res->message);
		cr_assert_eq(res->n_quota, 1);
		cr_assert_leq(res->quota_granted[0], want);
		cr_assert_leq(res->quota_granted[0] + res->quota_others[0], 10,
			      "seed %u step %d", seed, i);
		sum = leased(t);
		cr_assert_leq(sum, 10, "seed %u step %d: leased %lld", seed, i,
			      (long long)sum);
		cr_assert_eq(sum, res->quota_granted[0] + res->quota_others[0],
			     "seed %u step %d", seed, i);
	}
}

Test(quota, an_expired_lease_returns_and_a_rate_lease_a_window_later)
{
	cr_assert_eq(ask("r1", 0, 10, 10, T0)->quota_granted[0], 10);
	cr_assert_eq(ask("r2", 0, 10, 5, T0 + 100)->quota_granted[0], 0);
	cr_assert_eq(ask("r2", 0, 10, 5, T0 + TTL + 1)->quota_granted[0], 5);
	/* rpm: r1's lease still counts for the window after its TTL */
	cr_assert_eq(ask("r1", 2, 20, 20, T0)->quota_granted[0], 20);
	cr_assert_eq(ask("r2", 2, 20, 5, T0 + TTL + 1)->quota_granted[0], 0);
	cr_assert_eq(ask("r2", 2, 20, 5, T0 + TTL + AF_QUOTA_WINDOW_MS + 1)
			     ->quota_granted[0],
		     5);
	/* release: the share goes back at once */
	cr_assert_eq(ask("r2", 0, 10, 0, T0 + TTL + 2)->quota_granted[0], 0);
	cr_assert_eq(ask("r3", 0, 10, 10, T0 + TTL + 3)->quota_granted[0], 10);
}

Test(quota, bad_requests_change_nothing)
{
	const struct af_fsm_result *res = ask("r1", 7, 10, 1, T0);

	cr_assert_eq(res->code, AF__CODE__INVALID);
	res = ask("r1", 0, 0, 1, T0);
	cr_assert_eq(res->code, AF__CODE__INVALID);
	cr_assert_eq(leased(T0), 0);
}
