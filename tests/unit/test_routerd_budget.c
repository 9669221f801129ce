/* routerd's budget leases (routerd/budget.c) without a cluster: a lease is
 * asked for as soon as a budget appears (the whole hard limit), hops are
 * reserved from it, and a hop it cannot cover is denied
 * BUDGET_LEASE_PENDING (retryable, short retry) while budget is left, or
 * BUDGET_EXCEEDED (not retryable, retry_after_ms = time to the period's
 * end) once the leader said the lease is all that is left or the budget is
 * spent. Refills follow demand and never shrink a busy lease. */
#include "tests/lib/alloc_check.h"
#include "common/timeutil.h"
#include "routerd/budget.h"

#include <criterion/criterion.h>
#include <string.h>

#define NANO 1000LL /* per micro-USD */

static struct routerd_budgets *b;
static const int64_t wall = 1795341600000LL;
static const int64_t period_end = 1795341600000LL + 3600000;

static void setup(void)
{
	Af__Budget bd = AF__BUDGET__INIT;
	Af__Budget *list[] = {&bd};

	af_test_alloc_begin();
	cr_assert_eq(routerd_budgets_new(&b), 0);
	bd.tenant = (char *)"acme";
	bd.hard_micro = 1000000; /* 1 USD */
	bd.period = (char *)"day";
	routerd_budgets_define(b, list, 1);
}

static void teardown(void)
{
	routerd_budgets_free(b);
	af_test_alloc_end();
}

TestSuite(routerd_budget, .init = setup, .fini = teardown);

/* A routed decision of est nano-USD for acme, through the lease. */
static struct af_decision hop(int64_t est, uint64_t seq)
{
	struct af_decision d;

	memset(&d, 0, sizeof(d));
	d.kind = AF_DECISION_ROUTE;
	d.est_cost_nano_usd = est;
	d.retry_after_ms = -1;
	routerd_budgets_reserve_hop(b, "acme", seq, wall, &d);
	return d;
}

/* The next lease request (must be due) answered with `granted`. */
static int64_t ask(int64_t granted, const char *state, bool over_hard,
		   uint64_t later_ms)
{
	Af__LeaseRequest req = AF__LEASE_REQUEST__INIT;
	Af__ApplyResult res = AF__APPLY_RESULT__INIT;
	char name[72];
	uint64_t now = af_mono_ms() + later_ms;
	int slot =
		routerd_budgets_next(b, now, false, &req, name, sizeof(name));

	cr_assert_geq(slot, 0, "no lease request due");
	cr_assert_str_eq(req.tenant, "acme");
	res.lease_micro = granted;
	res.state = (char *)state;
	res.over_hard = over_hard;
	res.period_end_ms = period_end;
	routerd_budgets_granted(b, slot, true, req.consumed_micro, &res, now);
	return req.want_micro;
}

Test(routerd_budget, prefetch_then_pending_then_exceeded)
{
	struct af_decision d;

	/* Before any grant: pending, retryable, soon. */
	d = hop(100000 * NANO, 1);
	cr_assert_eq(d.kind, AF_DECISION_DENY);
	cr_assert_str_eq(d.code, "BUDGET_LEASE_PENDING");
	cr_assert(d.retryable);
	cr_assert_eq(d.retry_after_ms, 50);
	/* The first request (already due when the budget appeared) asks for
	 * the whole hard limit; the leader grants 0.3 USD, others hold the
	 * rest. */
	cr_assert_eq(ask(300000, "", false, 0), 1000000);
	for (int i = 0; i < 3; i++) {
		d = hop(100000 * NANO, 10 + (uint64_t)i);
		cr_assert_eq(d.kind, AF_DECISION_ROUTE, "%s", d.code);
	}
	/* Lease used up, budget left elsewhere: pending. */
	d = hop(100000 * NANO, 20);
	cr_assert_str_eq(d.code, "BUDGET_LEASE_PENDING");
	cr_assert(d.retryable);
	/* another routerd holds the rest: asked again each second */
	cr_assert_eq(d.retry_after_ms, 1000);
	cr_assert_not_null(strstr(d.message, "budget left"), "%s", d.message);
	/* A busy lease is never asked smaller than its last grant. */
	cr_assert_geq(ask(50000, "last", false, 1100), 300000);
	/* Now the lease (0.05 USD) is all the period has left. */
	d = hop(100000 * NANO, 21);
	cr_assert_str_eq(d.code, "BUDGET_EXCEEDED");
	cr_assert_not(d.retryable);
	cr_assert_eq(d.retry_after_ms, period_end - wall);
	d = hop(50000 * NANO, 22); /* what is left still serves */
	cr_assert_eq(d.kind, AF_DECISION_ROUTE, "%s", d.code);
}

Test(routerd_budget, spent_is_exceeded_and_unbudgeted_is_free)
{
	struct af_decision d;

	ask(0, "", true, 0);
	d = hop(1, 1);
	cr_assert_str_eq(d.code, "BUDGET_EXCEEDED");
	cr_assert_not(d.retryable);
	cr_assert_eq(d.retry_after_ms, period_end - wall);
	memset(&d, 0, sizeof(d));
	d.kind = AF_DECISION_ROUTE;
	d.est_cost_nano_usd = 1000000000;
	routerd_budgets_reserve_hop(b, "other", 2, wall, &d);
	cr_assert_eq(d.kind, AF_DECISION_ROUTE);
}
