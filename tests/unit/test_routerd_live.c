/* routerd live signals through real decisions: cooldown after consecutive
 * failures and after the error rate over min_samples reports, lane
 * watermark step-down and saturation, release by report and by expiry,
 * and live state kept across a view swap. */
#include "common/alloc.h"
#include "routerd/routerd_int.h"
#include "tests/lib/alloc_check.h"
#include "tests/lib/policy_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static const char policy[] =
	"apiVersion: af/v1\nkind: Policy\nname: live\n"
	"tiers: [big, small]\n"
	"defaults: { sensitivity: internal, max_retries: 1, max_fallbacks: 2 "
	"}\n"
	"lanes:\n  fast: { max_inflight: 4 }\n"
	"classes:\n"
	"  chat: { lane: fast, latency_slo_ms: 1000, max_cost_usd: 1 }\n"
	"  crit: { lane: fast, latency_slo_ms: 1000, max_cost_usd: 1, "
	"critical: true }\n"
	"rules:\n  - name: default\n"
	"    route: { tier: big, fallback_tiers: [small] }\n"
	"degrade: { lane_watermark: 0.5, soft_budget: step_down }\n"
	"health: { error_rate: 0.5, min_samples: 10, consecutive_failures: 3,"
	" cooldown_s: 30 }\n";

static const char models[] =
	"apiVersion: af/v1\nkind: Models\nmodels:\n"
	"- {id: m-big, provider: p, tier: big, regions: [eu, us],"
	" context_limit: 100000, usd_per_1k_input: 0.01,"
	" usd_per_1k_output: 0.01}\n"
	"- {id: m-small, provider: p, tier: small, regions: [eu],"
	" context_limit: 100000, usd_per_1k_input: 0.001,"
	" usd_per_1k_output: 0.001}\n";

static const char request[] =
	"{\"workflow_id\":\"w\",\"tenant\":\"t\",\"class\":\"chat\","
	"\"input_tokens\":100,\"output_tokens\":100}";

static struct routerd r;
static uint64_t seq;
static uint64_t now = 1000000;

static void publish(uint64_t index, const char *pol)
{
	struct af_err err = {{0}};
	struct af_bundle *b = NULL;
	struct af_registry *reg = NULL;
	struct routerd_view *v = NULL;
	const uint8_t *bb, *rb;
	size_t bl, rl;

	cr_assert_eq(af_bundle_compile("p", pol, strlen(pol), &b, &err), 0,
		     "%s", err.msg);
	cr_assert_eq(
		af_registry_compile("m", models, strlen(models), &reg, &err), 0,
		"%s", err.msg);
	bb = af_bundle_bytes(b, &bl);
	rb = af_registry_bytes(reg, &rl);
	cr_assert_eq(routerd_view_build(index, index, af_bundle_hash(b), bb, bl,
					0, "", NULL, 0, 0, 1, rb, rl, &v, &err),
		     0, "%s", err.msg);
	cr_assert_eq(routerd_view_publish(&r, v), 0);
	af_bundle_free(b);
	af_registry_free(reg);
}

static void setup(void)
{
	struct af_err err = {{0}};

	af_test_alloc_begin();
	memset(&r, 0, sizeof(r));
	cr_assert_eq(routerd_views_init(&r, &err), 0);
	cr_assert_eq(routerd_live_new(&r.live, &err), 0);
	publish(1, policy);
}

static void teardown(void)
{
	routerd_views_fini(&r);
	routerd_live_free(r.live);
	af_test_alloc_end();
}

TestSuite(routerd_live, .init = setup, .fini = teardown, .timeout = 30);

/* One decision as the HTTP path makes it; returns its sequence. */
static uint64_t decide(const char *body, struct af_decision *d)
{
	struct af_request_error rerr;
	struct af_request req;
	struct live_ctx lc;
	struct af_live live;
	const struct routerd_view *v = routerd_view_acquire(&r);

	cr_assert_eq(pf_request(body, &req, &rerr), 0, "%s", rerr.message);
	routerd_live_prepare(&lc, v, now, &live);
	cr_assert_eq(af_decide(v->pv, &req, &live, "id", d, NULL), 0);
	routerd_live_routed(r.live, view_ext(v), d, ++seq, now);
	routerd_view_release(&r, v);
	return seq;
}

static void report_lat(uint64_t s, const char *model, const char *region,
		       bool ok, int64_t latency_ms)
{
	const struct routerd_view *v = routerd_view_acquire(&r);
	struct live_report rep = {
		.seq = s,
		.model = model,
		.region = region,
		.ok = ok,
		.latency_ms = latency_ms,
	};

	routerd_live_report(r.live, view_ext(v), &rep, now);
	routerd_view_release(&r, v);
}

static void report(uint64_t s, const char *model, const char *region, bool ok)
{
	report_lat(s, model, region, ok, -1);
}

static void expect_primary(const char *model, const char *region)
{
	struct af_decision d;
	uint64_t s = decide(request, &d);

	cr_assert_eq(d.kind, AF_DECISION_ROUTE, "deny %s", d.code);
	cr_assert_str_eq(d.primary.model, model);
	cr_assert_str_eq(d.primary.region, region);
	report(s, NULL, NULL, true); /* release the lane slot */
}

Test(routerd_live, cooldown_after_consecutive_failures)
{
	expect_primary("m-big", "eu");
	report(0, "m-big", "eu", false);
	report(0, "m-big", "eu", false);
	expect_primary("m-big", "eu");	/* two in a row: not yet */
	report(0, "m-big", "eu", true); /* a success resets the run */
	report(0, "m-big", "eu", false);
	report(0, "m-big", "eu", false);
	expect_primary("m-big", "eu");
	report(0, "m-big", "eu", false);
	expect_primary("m-big", "us"); /* cooling: next candidate */
	cr_assert_eq(routerd_live_stats(r.live)->cooldowns, 1);
	now += 29999;
	expect_primary("m-big", "us");
	now += 1;
	expect_primary("m-big", "eu"); /* cooldown_s: 30 over */
}

Test(routerd_live, cooldown_on_error_rate_after_min_samples)
{
	/* f,o,f,o,...,f: never 2 in a row; 5 errors in 9 reports. */
	for (int i = 0; i < 9; i++)
		report(0, "m-big", "eu", i % 2 != 0);
	expect_primary("m-big", "eu"); /* 9 samples < min_samples 10 */
	cr_assert_eq(routerd_live_stats(r.live)->cooldowns, 0);
	report(0, "m-big", "eu", true);
	/* 10 samples, 5 errors: 0.5 >= error_rate 0.5. */
	expect_primary("m-big", "us");
	cr_assert_eq(routerd_live_stats(r.live)->cooldowns, 1);
}

Test(routerd_live, low_error_rate_does_not_cool)
{
	for (int i = 0; i < 100; i++)
		report(0, "m-big", "eu", i % 3 != 0); /* 1 in 3 fails */
	expect_primary("m-big", "eu");
	cr_assert_eq(routerd_live_stats(r.live)->cooldowns, 0);
}

Test(routerd_live, lane_watermark_and_saturation)
{
	struct af_decision d;
	uint64_t s[4];

	/* max_inflight 4, watermark 0.5: step down from 2 in flight. */
	for (int i = 0; i < 4; i++) {
		s[i] = decide(request, &d);
		cr_assert_eq(d.kind, AF_DECISION_ROUTE);
		cr_assert_eq(d.degraded, i >= 2, "decision %d", i);
		cr_assert_str_eq(d.primary.tier, i >= 2 ? "small" : "big");
	}
	decide(request, &d);
	cr_assert_eq(d.kind, AF_DECISION_DENY);
	cr_assert_str_eq(d.code, "LANE_SATURATED");
	/* A critical class is never stepped down nor saturated. */
	decide("{\"workflow_id\":\"w\",\"tenant\":\"t\",\"class\":\"crit\"}",
	       &d);
	cr_assert_eq(d.kind, AF_DECISION_ROUTE);
	cr_assert_eq(d.degraded, false);
	/* 5 in flight now; reports release two, one report twice. */
	report(s[0], "m-big", "eu", true);
	report(s[0], "m-big", "eu", true);
	report(s[1], "m-big", "eu", true);
	report(s[2], "m-small", "eu", true);
	decide(request, &d); /* 2 + 1 in flight: degraded */
	cr_assert_eq(d.kind, AF_DECISION_ROUTE);
	cr_assert_eq(d.degraded, true);
	/* Unreported decisions expire after 2x the 1000 ms SLO (crit and
	 * the last one) or 60 s: none is left after a minute. */
	now += 1999;
	routerd_live_expire(r.live, now);
	decide(request, &d);
	cr_assert_eq(d.degraded, true);
	now += 60000;
	routerd_live_expire(r.live, now);
	decide(request, &d);
	cr_assert_eq(d.kind, AF_DECISION_ROUTE);
	cr_assert_eq(d.degraded, false);
	cr_assert_geq(routerd_live_stats(r.live)->expired, 3);
}

Test(routerd_live, state_survives_view_swap)
{
	static const char crit[] =
		"{\"workflow_id\":\"w\",\"tenant\":\"t\",\"class\":\"crit\"}";
	struct af_decision d;
	char *p2 = pf_replace(policy, "max_inflight: 4", "max_inflight: 3");

	for (int i = 0; i < 3; i++)
		report(0, "m-big", "eu", false);
	decide(request, &d);
	decide(request, &d);
	publish(2, p2); /* same names, other view ids */
	af_free(p2);
	decide(crit, &d); /* critical: never stepped down */
	cr_assert_eq(d.kind, AF_DECISION_ROUTE);
	cr_assert_str_eq(d.primary.model, "m-big");
	cr_assert_str_eq(d.primary.region, "us"); /* eu still cooling */
	decide(request, &d);			  /* 3 in flight on max 3 */
	cr_assert_eq(d.kind, AF_DECISION_DENY);
	cr_assert_str_eq(d.code, "LANE_SATURATED");
}

Test(routerd_live, observed_latency_orders_candidates)
{
	report_lat(0, "m-big", "eu", true, 900);
	report_lat(0, "m-big", "us", true, 100);
	expect_primary("m-big", "us");
	/* The average moves 1/8 per report towards new samples. */
	for (int i = 0; i < 40; i++)
		report_lat(0, "m-big", "us", true, 5000);
	expect_primary("m-big", "eu");
}

Test(routerd_live, ttl_bounds)
{
	cr_assert_eq(routerd_live_ttl_ms(-1), 60000);
	cr_assert_eq(routerd_live_ttl_ms(100), 1000);
	cr_assert_eq(routerd_live_ttl_ms(8000), 16000);
	cr_assert_eq(routerd_live_ttl_ms(3600000), 3600000);
}

/* Publishes stable + a canary (revision rev, another name) at `weight`. */
static void publish_canary(uint64_t index, uint64_t rev, uint32_t weight)
{
	static const char canary_name[] = "name: live-canary\n";
	char cpol[sizeof(policy) + 64];
	struct af_err err = {{0}};
	struct af_bundle *b = NULL, *cb = NULL;
	struct af_registry *reg = NULL;
	struct routerd_view *v = NULL;
	const uint8_t *bb, *cbb, *rb;
	size_t bl, cbl, rl;
	const char *p = strstr(policy, "name: live\n");

	cr_assert_not_null(p);
	snprintf(cpol, sizeof(cpol), "%.*s%s%s", (int)(p - policy), policy,
		 canary_name, p + strlen("name: live\n"));
	cr_assert_eq(af_bundle_compile("p", policy, strlen(policy), &b, &err),
		     0, "%s", err.msg);
	cr_assert_eq(af_bundle_compile("c", cpol, strlen(cpol), &cb, &err), 0,
		     "%s", err.msg);
	cr_assert_eq(
		af_registry_compile("m", models, strlen(models), &reg, &err), 0,
		"%s", err.msg);
	bb = af_bundle_bytes(b, &bl);
	cbb = af_bundle_bytes(cb, &cbl);
	rb = af_registry_bytes(reg, &rl);
	cr_assert_eq(routerd_view_build(index, 1, af_bundle_hash(b), bb, bl,
					rev, af_bundle_hash(cb), cbb, cbl,
					weight, 1, rb, rl, &v, &err),
		     0, "%s", err.msg);
	cr_assert_eq(routerd_view_publish(&r, v), 0);
	af_bundle_free(b);
	af_bundle_free(cb);
	af_registry_free(reg);
}

/* A request of the given cohort (the workflow id picks it). */
static const char *cohort_request(bool canary, char *buf, size_t len)
{
	const struct routerd_view *v = routerd_view_acquire(&r);

	for (int i = 0;; i++) {
		struct af_request_error rerr;
		struct af_request req;
		struct af_decision d;

		snprintf(buf, len,
			 "{\"workflow_id\":\"w%d\",\"tenant\":\"t\","
			 "\"class\":\"chat\",\"input_tokens\":100,"
			 "\"output_tokens\":100}",
			 i);
		cr_assert_eq(pf_request(buf, &req, &rerr), 0);
		cr_assert_eq(af_decide(v->pv, &req, NULL, "id", &d, NULL), 0);
		if (d.canary == canary)
			break;
	}
	routerd_view_release(&r, v);
	return buf;
}

/* Cooldowns per cohort: canary failures cool the canary's candidates
 * only; once every canary candidate cools down the canary is denied
 * MODELS_COOLING_DOWN (retryable, retry_after_ms = the first cooldown's
 * end) while stable traffic is served by the same models. */
Test(routerd_live, canary_failures_never_cool_stable)
{
	char sbuf[256], cbuf[256];
	struct af_decision d;
	const char *pairs[][2] = {
		{"m-big", "eu"}, {"m-big", "us"}, {"m-small", "eu"}};

	publish_canary(2, 2, 50);
	cohort_request(false, sbuf, sizeof(sbuf));
	cohort_request(true, cbuf, sizeof(cbuf));
	for (size_t p = 0; p < 3; p++) {
		for (int i = 0; i < 3; i++) {
			uint64_t s = decide(cbuf, &d);

			cr_assert(d.canary);
			cr_assert_eq(d.kind, AF_DECISION_ROUTE, "%s", d.code);
			cr_assert_str_eq(d.primary.model, pairs[p][0]);
			cr_assert_str_eq(d.primary.region, pairs[p][1]);
			/* reports name the decision: its cohort counts */
			report(s, pairs[p][0], pairs[p][1], false);
		}
		now += 1000; /* later cooldowns end later */
	}
	cr_assert_eq(routerd_live_stats(r.live)->cooldowns, 3);
	decide(cbuf, &d);
	cr_assert_eq(d.kind, AF_DECISION_DENY);
	cr_assert_str_eq(d.code, "MODELS_COOLING_DOWN");
	cr_assert(d.retryable);
	cr_assert_eq(d.retry_after_ms, 30000 - 3000, "%lld",
		     (long long)d.retry_after_ms);
	cr_assert_not_null(strstr(d.message, "cooling down"), "%s", d.message);
	/* Stable: served by the first candidate, untouched. */
	report(decide(sbuf, &d), NULL, NULL, true);
	cr_assert_not(d.canary);
	cr_assert_eq(d.kind, AF_DECISION_ROUTE, "%s", d.code);
	cr_assert_str_eq(d.primary.model, "m-big");
	cr_assert_str_eq(d.primary.region, "eu");
	/* A report of unknown cohort while a canary runs cools nothing. */
	for (int i = 0; i < 5; i++)
		report(0, "m-big", "eu", false);
	cr_assert_eq(routerd_live_stats(r.live)->unknown_cohort, 5);
	report(decide(sbuf, &d), NULL, NULL, true);
	cr_assert_str_eq(d.primary.region, "eu");
	/* The same canary republished keeps its cooldowns; the next canary
	 * revision starts clean. */
	publish_canary(3, 2, 50);
	decide(cbuf, &d);
	cr_assert_eq(d.kind, AF_DECISION_DENY);
	publish_canary(4, 3, 50);
	decide(cbuf, &d);
	cr_assert_eq(d.kind, AF_DECISION_ROUTE, "%s", d.code);
	cr_assert_str_eq(d.primary.model, "m-big");
	cr_assert_str_eq(d.primary.region, "eu");
}
