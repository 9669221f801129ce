/* The canary gate judgement (pure): hold, pass and each breach. */
#include "tests/lib/alloc_check.h"
#include "controld/rollout.h"

#include <criterion/criterion.h>
#include <string.h>

/* n requests, ok successes, all with latency in bucket b, cost per
 * request nano. */
static struct af_usage cohort(uint64_t n, uint64_t ok, size_t b, int64_t nano)
{
	struct af_usage u;

	memset(&u, 0, sizeof(u));
	u.count = n;
	u.ok = ok;
	u.lat[b] = n;
	u.cost_nano = nano * (int64_t)n;
	u.ok_cost_nano = nano * (int64_t)ok;
	return u;
}

static const struct af_gates gates = {
	.max_error_delta_ppm = 20000,	  /* 0.02 */
	.max_latency_ratio_ppm = 1100000, /* 1.10 */
	.max_cost_ratio_ppm = 1050000,	  /* 1.05 */
	.min_samples = 100,
};

TestSuite(judge, .init = af_test_alloc_begin, .fini = af_test_alloc_end);

Test(judge, holds_until_both_cohorts_have_samples)
{
	struct af_usage s = cohort(1000, 990, 3, 1000);
	struct af_usage c = cohort(99, 0, 10, 1000000);
	char why[200];

	cr_assert_eq(af_rollout_judge(&gates, &s, &c, why, sizeof(why)),
		     AF_VERDICT_HOLD);
	cr_assert(strstr(why, "waiting for samples") != NULL, "%s", why);
}

Test(judge, passes_a_healthy_canary)
{
	struct af_usage s = cohort(1000, 990, 3, 1000);
	struct af_usage c = cohort(200, 198, 3, 1000);
	char why[200];

	cr_assert_eq(af_rollout_judge(&gates, &s, &c, why, sizeof(why)),
		     AF_VERDICT_PASS, "%s", why);
}

Test(judge, breaches_on_error_rate_delta)
{
	struct af_usage s = cohort(1000, 990, 3, 1000); /* 1% errors */
	struct af_usage c = cohort(200, 192, 3, 1000);	/* 4% errors */
	char why[200];

	cr_assert_eq(af_rollout_judge(&gates, &s, &c, why, sizeof(why)),
		     AF_VERDICT_BREACH);
	cr_assert(strstr(why, "error rate") != NULL, "%s", why);
	/* 2.5% errors is 1.5 points above stable: within 0.02. */
	c = cohort(200, 195, 3, 1000);
	cr_assert_eq(af_rollout_judge(&gates, &s, &c, why, sizeof(why)),
		     AF_VERDICT_PASS, "%s", why);
}

Test(judge, breaches_on_p99_latency_ratio)
{
	struct af_usage s = cohort(1000, 1000, 3, 1000); /* <= 100 ms */
	struct af_usage c = cohort(200, 200, 4, 1000);	 /* <= 250 ms */
	char why[200];

	cr_assert_eq(af_rollout_judge(&gates, &s, &c, why, sizeof(why)),
		     AF_VERDICT_BREACH);
	cr_assert(strstr(why, "p99") != NULL, "%s", why);
	cr_assert_eq(af_usage_percentile_ms(&c, 99), 250);
	cr_assert_eq(af_usage_percentile_ms(&s, 50), 100);
}

Test(judge, breaches_on_cost_per_success)
{
	struct af_usage s = cohort(1000, 1000, 3, 1000);
	struct af_usage c = cohort(200, 200, 3, 1100); /* 1.10 > 1.05 */
	char why[200];

	cr_assert_eq(af_rollout_judge(&gates, &s, &c, why, sizeof(why)),
		     AF_VERDICT_BREACH);
	cr_assert(strstr(why, "USD per successful outcome") != NULL, "%s", why);
	c = cohort(200, 0, 3, 1000); /* no success at all: infinite cost */
	struct af_gates only_cost = {.max_cost_ratio_ppm = 1050000,
				     .min_samples = 1};
	cr_assert_eq(af_rollout_judge(&only_cost, &s, &c, why, sizeof(why)),
		     AF_VERDICT_BREACH);
}

Test(judge, gates_at_zero_are_off)
{
	struct af_gates off = {.min_samples = 1};
	struct af_usage s = cohort(10, 10, 0, 1);
	struct af_usage c = cohort(10, 0, 10, 1000000);
	char why[200];

	cr_assert_eq(af_rollout_judge(&off, &s, &c, why, sizeof(why)),
		     AF_VERDICT_PASS, "%s", why);
}

Test(judge, deltas_since_step_start)
{
	struct af_usage now = cohort(300, 290, 2, 10),
			base = cohort(100, 100, 2, 10), d;

	af_usage_sub(&now, &base, &d);
	cr_assert_eq(d.count, 200);
	cr_assert_eq(d.ok, 190);
	cr_assert_eq(d.lat[2], 200);
	cr_assert_eq(d.cost_nano, 2000);
}

/* Quality: ppm sums over count outcomes, each of quality q. */
static void with_quality(struct af_usage *u, uint64_t count, double q)
{
	u->q_count = count;
	u->q_sum_ppm = (uint64_t)(q * 1e6) * count;
}

Test(judge, quality_gate_holds_for_quality_samples)
{
	struct af_gates g = {.min_samples = 100, .max_quality_drop_ppm = 50000};
	struct af_usage s = cohort(1000, 990, 3, 1000);
	struct af_usage c = cohort(200, 198, 3, 1000);
	char why[200];

	with_quality(&s, 1000, 0.9);
	with_quality(&c, 99, 0.1); /* far worse, but one short */
	cr_assert_eq(af_rollout_judge(&g, &s, &c, why, sizeof(why)),
		     AF_VERDICT_HOLD, "%s", why);
	cr_assert(strstr(why, "waiting for quality samples: stable 1000, "
			      "canary 99 of 100") != NULL,
		  "%s", why);
}

Test(judge, quality_drop_at_the_limit_passes_above_it_breaches)
{
	struct af_gates g = {.min_samples = 10, .max_quality_drop_ppm = 50000};
	struct af_usage s = cohort(100, 100, 3, 1000);
	struct af_usage c = cohort(100, 100, 3, 1000);
	char why[200];

	with_quality(&s, 100, 0.9);
	with_quality(&c, 100, 0.85); /* drop 0.05: not above */
	cr_assert_eq(af_rollout_judge(&g, &s, &c, why, sizeof(why)),
		     AF_VERDICT_PASS, "%s", why);
	with_quality(&c, 100, 0.849); /* drop 0.051 */
	cr_assert_eq(af_rollout_judge(&g, &s, &c, why, sizeof(why)),
		     AF_VERDICT_BREACH, "%s", why);
	cr_assert(strstr(why, "mean quality 0.8490 vs stable 0.9000") != NULL,
		  "%s", why);
	/* A better canary never breaches; the gate off ignores quality. */
	with_quality(&c, 100, 1.0);
	cr_assert_eq(af_rollout_judge(&g, &s, &c, why, sizeof(why)),
		     AF_VERDICT_PASS, "%s", why);
	g.max_quality_drop_ppm = 0;
	with_quality(&c, 0, 0);
	cr_assert_eq(af_rollout_judge(&g, &s, &c, why, sizeof(why)),
		     AF_VERDICT_PASS, "%s", why);
}

Test(judge, other_breaches_come_before_the_quality_hold)
{
	struct af_gates g = {.min_samples = 100,
			     .max_error_delta_ppm = 20000,
			     .max_quality_drop_ppm = 50000};
	struct af_usage s = cohort(1000, 990, 3, 1000);
	struct af_usage c = cohort(200, 100, 3, 1000); /* 50% errors */
	char why[200];

	cr_assert_eq(af_rollout_judge(&g, &s, &c, why, sizeof(why)),
		     AF_VERDICT_BREACH, "%s", why);
	cr_assert(strstr(why, "error rate") != NULL, "%s", why);
}
