/* Golden decisions: every decision step, every deny code,
 * ordering ties, fallback chains, step-down, cohorts, no allocation. */
#include "common/alloc.h"
#include "policy/policy.h"
#include "tests/lib/alloc_check.h"
#include "tests/lib/policy_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

static const char policy[] =
	"apiVersion: af/v1\nkind: Policy\nname: g\n"
	"tiers: [top, mid, low]\n"
	"defaults: { sensitivity: internal, max_retries: 1, max_fallbacks: 2 "
	"}\n"
	"residency:\n  restricted: [eu]\n  internal: [eu, us]\n"
	"lanes:\n  fast: { max_inflight: 10 }\n  slow: { max_inflight: 100 }\n"
	"classes:\n"
	"  chat: { lane: fast, latency_slo_ms: 1000, max_cost_usd: 1,"
	" max_fanout: 2, max_tool_calls: 3, max_retries: 2 }\n"
	"  crit: { lane: fast, critical: true, max_cost_usd: 1 }\n"
	"  batch: { lane: slow, regions: [us] }\n"
	"rules:\n"
	"  - name: blocked-tenant\n"
	"    when: { tenant: evil }\n"
	"    deny: { code: TENANT_BLOCKED, message: \"go away\" }\n"
	"  - name: marketing-restricted\n"
	"    when: { labels.team: marketing, sensitivity: restricted }\n"
	"    deny: { code: POLICY_DENIED }\n"
	"  - name: internal-testers\n"
	"    when: { sensitivity: internal, agent_role: tester }\n"
	"    route: { tier: top }\n"
	"  - name: urgent\n"
	"    when: { latency_slo_ms: { lt: 500 } }\n"
	"    route: { tier: low }\n"
	"  - name: big-context\n"
	"    when: { input_tokens: { gte: 50000 } }\n"
	"    route: { tier: low, fallback_tiers: [mid, top] }\n"
	"  - name: default\n"
	"    route: { tier: mid, fallback_tiers: [low] }\n"
	"degrade: { lane_watermark: 0.5, soft_budget: step_down }\n";

static const char models[] =
	"apiVersion: af/v1\nkind: Models\nmodels:\n"
	"- {id: a-top, provider: p, tier: top, regions: [eu, us],"
	" context_limit: 100000, capabilities: [tools],"
	" usd_per_1k_input: 0.01, usd_per_1k_output: 0.01}\n"
	"- {id: b-mid, provider: p, tier: mid, regions: [us, eu],"
	" context_limit: 50000, capabilities: [tools],"
	" usd_per_1k_input: 0.002, usd_per_1k_output: 0.002}\n"
	"- {id: c-mid, provider: q, tier: mid, regions: [us],"
	" context_limit: 50000, capabilities: [tools],"
	" usd_per_1k_input: 0.001, usd_per_1k_output: 0.001}\n"
	"- {id: d-mid, provider: q, tier: mid, regions: [eu],"
	" context_limit: 50000, capabilities: [tools], status: deprecated,"
	" usd_per_1k_input: 0.0001, usd_per_1k_output: 0.0001}\n"
	"- {id: e-low, provider: r, tier: low, regions: [eu, us],"
	" context_limit: 8000, usd_per_1k_input: 0.0001,"
	" usd_per_1k_output: 0.0001}\n"
	"- {id: f-off, provider: r, tier: mid, regions: [eu], status: disabled,"
	" context_limit: 50000, capabilities: [tools], usd_per_1k_input: 0,"
	" usd_per_1k_output: 0}\n";

static struct af_policy_view *view;

static void setup(void)
{
	struct af_err e = {{0}};

	af_test_alloc_begin();
	cr_assert_eq(pf_view(policy, models, &view, &e), 0, "%s", e.msg);
}

static void teardown(void)
{
	af_policy_view_free(view);
	af_test_alloc_end();
}

TestSuite(policy_decide, .init = setup, .fini = teardown);

/* Live state for tests. */
struct live {
	uint32_t inflight;
	enum af_budget_state budget;
	int32_t cooling_pair;
	int32_t slow_pair;
};

static uint32_t live_inflight(void *ctx, uint32_t lane)
{
	(void)lane;
	return ((struct live *)ctx)->inflight;
}

static bool live_cooling(void *ctx, uint32_t pair)
{
	return (int32_t)pair == ((struct live *)ctx)->cooling_pair;
}

static uint32_t live_latency(void *ctx, uint32_t pair)
{
	return (int32_t)pair == ((struct live *)ctx)->slow_pair ? 500 : 10;
}

static enum af_budget_state live_budget(void *ctx, const char *tenant,
					uint64_t *retry)
{
	(void)tenant;
	*retry = 1234;
	return ((struct live *)ctx)->budget;
}

static struct af_decision run(const char *json, struct live *l)
{
	struct af_live live = {
		.ctx = l,
		.lane_inflight = live_inflight,
		.cooling = live_cooling,
		.latency_ms = live_latency,
		.budget = live_budget,
	};
	struct live none = {.cooling_pair = -1, .slow_pair = -1};
	struct af_request_error re;
	struct af_request req;
	struct af_decision d;

	cr_assert_eq(pf_request(json, &req, &re), 0, "%s", re.message);
	live.ctx = l ? l : &none;
	cr_assert_eq(af_decide(view, &req, &live, "d-1", &d, NULL), 0);
	return d;
}

#define REQ(extra)                                                             \
	"{\"workflow_id\":\"w\",\"tenant\":\"t\",\"class\":\"chat\","          \
	"\"input_tokens\":1000,\"output_tokens\":1000,\"needs\":["             \
	"\"tools\"]" extra "}"

static void hop(const struct af_hop *h, const char *model, const char *region)
{
	cr_assert_str_eq(h->model, model);
	cr_assert_str_eq(h->region, region);
}

static void denied(const struct af_decision *d, const char *code)
{
	cr_assert_eq(d->kind, AF_DECISION_DENY, "routed, wanted %s", code);
	cr_assert_str_eq(d->code, code, "%s: %s", d->code, d->message);
}

Test(policy_decide, ordering_and_max_fallbacks)
{
	struct af_decision d = run(REQ(""), NULL);

	cr_assert_eq(d.kind, AF_DECISION_ROUTE);
	cr_assert_str_eq(d.rule, "default");
	/* cheaper first; active before deprecated; model id then region */
	hop(&d.primary, "c-mid", "us");
	cr_assert_eq(d.nfallback, 2); /* max_fallbacks: 2 */
	hop(&d.fallback[0], "b-mid", "eu");
	hop(&d.fallback[1], "b-mid", "us");
	cr_assert_eq(d.est_cost_nano_usd, 2000000);
	cr_assert_str_eq(d.lane, "fast");
	cr_assert_eq(d.max_retries, 2);
	cr_assert_str_eq(d.primary.provider, "q");
	cr_assert_str_eq(d.primary.tier, "mid");
	cr_assert_eq(d.degraded, false);
	cr_assert_eq(d.revision, 1);
	cr_assert_eq(d.registry_revision, 7);
}

Test(policy_decide, preferred_region_first)
{
	struct af_decision d = run(REQ(",\"region\":\"eu\""), NULL);

	hop(&d.primary, "b-mid", "eu");
	hop(&d.fallback[0], "d-mid", "eu"); /* preferred beats cost */
	hop(&d.fallback[1], "c-mid", "us");
}

Test(policy_decide, latency_breaks_cost_ties)
{
	struct live l = {.cooling_pair = -1};
	struct af_decision d;

	l.slow_pair = af_policy_view_pair_id(view, "b-mid", "eu");
	cr_assert_geq(l.slow_pair, 0);
	d = run(REQ(""), &l);
	hop(&d.primary, "c-mid", "us");
	hop(&d.fallback[0], "b-mid", "us");
	hop(&d.fallback[1], "b-mid", "eu");
}

Test(policy_decide, cooling_pairs_are_skipped)
{
	struct live l = {.slow_pair = -1};
	struct af_decision d;

	l.cooling_pair = af_policy_view_pair_id(view, "c-mid", "us");
	d = run(REQ(""), &l);
	hop(&d.primary, "b-mid", "eu");
	hop(&d.fallback[0], "b-mid", "us");
	hop(&d.fallback[1], "d-mid", "eu");
}

Test(policy_decide, residency_holds_across_the_chain)
{
	struct af_decision d =
		run(REQ(",\"sensitivity\":\"restricted\""), NULL);

	hop(&d.primary, "b-mid", "eu");
	cr_assert_eq(d.nfallback, 1);
	hop(&d.fallback[0], "d-mid", "eu");
	d = run("{\"workflow_id\":\"w\",\"tenant\":\"t\",\"class\":\"chat\","
		"\"sensitivity\":\"restricted\"}",
		NULL);
	/* low tier joins the chain, still only eu */
	hop(&d.primary, "b-mid", "eu");
	hop(&d.fallback[0], "d-mid", "eu");
	cr_assert_eq(d.nfallback, 2);
	hop(&d.fallback[1], "e-low", "eu");
}

Test(policy_decide, primary_from_a_fallback_tier)
{
	struct af_decision d = run(
		"{\"workflow_id\":\"w\",\"tenant\":\"t\",\"class\":\"chat\","
		"\"input_tokens\":60000,\"needs\":[\"tools\"]}",
		NULL);

	cr_assert_str_eq(d.rule, "big-context");
	/* low and mid are too small: the primary comes from top */
	hop(&d.primary, "a-top", "eu");
	cr_assert_str_eq(d.primary.tier, "top");
	cr_assert_eq(d.nfallback, 1);
	hop(&d.fallback[0], "a-top", "us");
}

Test(policy_decide, class_defaults_fill_absent_fields)
{
	struct af_decision d = run(REQ(",\"latency_slo_ms\":400"), NULL);

	cr_assert_str_eq(d.rule, "urgent");
	d = run(REQ(""), NULL); /* class default 1000 */
	cr_assert_str_eq(d.rule, "default");
	/* defaults.sensitivity fills an absent sensitivity */
	d = run(REQ(",\"agent_role\":\"tester\""), NULL);
	cr_assert_str_eq(d.rule, "internal-testers");
	d = run(REQ(",\"agent_role\":\"tester\",\"sensitivity\":\"public\""),
		NULL);
	cr_assert_str_eq(d.rule, "default");
}

Test(policy_decide, caps)
{
	struct live l = {.cooling_pair = -1, .slow_pair = -1};
	struct af_decision d;

	denied((d = run(REQ(",\"fanout\":3"), NULL), &d), "FANOUT_CAP");
	cr_assert_null(d.rule);
	d = run(REQ(",\"fanout\":2"), NULL);
	cr_assert_eq(d.kind, AF_DECISION_ROUTE);
	denied((d = run(REQ(",\"tool_calls\":4"), NULL), &d), "TOOL_CALL_CAP");
	denied((d = run(REQ(",\"attempt\":3"), NULL), &d), "RETRY_LIMIT");
	cr_assert_eq((d = run(REQ(",\"attempt\":2"), NULL), d.kind),
		     AF_DECISION_ROUTE);
	cr_assert_not(d.retryable);
	cr_assert_eq(d.retry_after_ms, -1);
	l.inflight = 10;
	denied((d = run(REQ(""), &l), &d), "LANE_SATURATED");
	/* retryable, after the class's latency SLO (1000 ms) */
	cr_assert(d.retryable);
	cr_assert_eq(d.retry_after_ms, 1000);
	denied((d = run(REQ(",\"latency_slo_ms\":10"), &l), &d),
	       "LANE_SATURATED");
	cr_assert_eq(d.retry_after_ms, AF_LANE_RETRY_MIN_MS);
	l.inflight = 0;
	l.budget = AF_BUDGET_OVER_HARD;
	denied((d = run(REQ(""), &l), &d), "BUDGET_EXCEEDED");
	cr_assert_eq(d.retry_after_ms, 1234);
	cr_assert_not(d.retryable);
	/* a critical class is never refused for its lane */
	l.budget = AF_BUDGET_OK;
	l.inflight = 50;
	d = run("{\"workflow_id\":\"w\",\"tenant\":\"t\",\"class\":\"crit\"}",
		&l);
	cr_assert_eq(d.kind, AF_DECISION_ROUTE);
	cr_assert_eq(d.degraded, false);
	cr_assert_str_eq(d.primary.tier, "mid");
	/* defaults.max_retries applies to classes without their own */
	denied((d = run("{\"workflow_id\":\"w\",\"tenant\":\"t\","
			"\"class\":\"crit\",\"attempt\":2}",
			NULL),
		&d),
	       "RETRY_LIMIT");
}

Test(policy_decide, deny_rules)
{
	struct af_decision d;

	denied((d = run("{\"workflow_id\":\"w\",\"tenant\":\"evil\","
			"\"class\":\"chat\"}",
			NULL),
		&d),
	       "TENANT_BLOCKED");
	cr_assert_str_eq(d.message, "go away");
	cr_assert_str_eq(d.rule, "blocked-tenant");
	cr_assert_eq(d.retry_after_ms, -1);
	cr_assert_not(d.retryable);
	denied((d = run(REQ(",\"sensitivity\":\"restricted\","
			    "\"labels\":{\"team\":\"marketing\"}"),
			NULL),
		&d),
	       "POLICY_DENIED");
	cr_assert_str_eq(d.message, "denied by rule marketing-restricted");
	d = run(REQ(",\"labels\":{\"team\":\"marketing\"}"), NULL);
	cr_assert_eq(d.kind, AF_DECISION_ROUTE);
}

Test(policy_decide, no_candidate_codes)
{
	struct af_decision d;

	/* batch may only use us; restricted data only eu */
	denied((d = run("{\"workflow_id\":\"w\",\"tenant\":\"t\","
			"\"class\":\"batch\",\"sensitivity\":\"restricted\"}",
			NULL),
		&d),
	       "RESIDENCY_DENIED");
	cr_assert_str_eq(d.rule, "default");
	denied((d = run(REQ(",\"max_cost_usd\":0.0001"), NULL), &d),
	       "COST_LIMIT");
	denied((d = run("{\"workflow_id\":\"w\",\"tenant\":\"t\","
			"\"class\":\"chat\",\"input_tokens\":45000,"
			"\"output_tokens\":45000}",
			NULL),
		&d),
	       "CONTEXT_TOO_LARGE");
	denied((d = run("{\"workflow_id\":\"w\",\"tenant\":\"t\","
			"\"class\":\"chat\",\"needs\":[\"vision\"]}",
			NULL),
		&d),
	       "NO_ELIGIBLE_MODEL");
	/* an exact cap is allowed: c-mid costs exactly 0.002 */
	d = run(REQ(",\"max_cost_usd\":0.002"), NULL);
	hop(&d.primary, "c-mid", "us");
	cr_assert_eq(d.nfallback, 1);
	hop(&d.fallback[0], "d-mid", "eu");
}

Test(policy_decide, step_down)
{
	struct live l = {.cooling_pair = -1, .slow_pair = -1, .inflight = 5};
	struct af_decision d = run(
		"{\"workflow_id\":\"w\",\"tenant\":\"t\",\"class\":\"chat\"}",
		&l);

	/* lane at its watermark (5/10 >= 0.5): mid -> low */
	cr_assert_eq(d.degraded, true);
	hop(&d.primary, "e-low", "eu");
	cr_assert_str_eq(d.primary.tier, "low");
	l.inflight = 4;
	d = run("{\"workflow_id\":\"w\",\"tenant\":\"t\",\"class\":\"chat\"}",
		&l);
	cr_assert_eq(d.degraded, false);
	cr_assert_str_eq(d.primary.tier, "mid");
	l.budget = AF_BUDGET_OVER_SOFT;
	d = run("{\"workflow_id\":\"w\",\"tenant\":\"t\",\"class\":\"chat\"}",
		&l);
	cr_assert_eq(d.degraded, true);
	cr_assert_str_eq(d.primary.tier, "low");
	/* never past the last tier */
	d = run("{\"workflow_id\":\"w\",\"tenant\":\"t\",\"class\":\"chat\","
		"\"latency_slo_ms\":100}",
		&l);
	cr_assert_str_eq(d.rule, "urgent");
	cr_assert_eq(d.degraded, false);
	cr_assert_str_eq(d.primary.tier, "low");
	/* never for critical classes */
	l.inflight = 9;
	d = run("{\"workflow_id\":\"w\",\"tenant\":\"t\",\"class\":\"crit\"}",
		&l);
	cr_assert_eq(d.degraded, false);
	cr_assert_str_eq(d.primary.tier, "mid");
}

Test(policy_decide, unknown_class)
{
	struct af_request req;
	struct af_request_error re;
	struct af_decision d;

	cr_assert_eq(pf_request("{\"workflow_id\":\"w\",\"tenant\":\"t\","
				"\"class\":\"nope\"}",
				&req, &re),
		     0);
	cr_assert_eq(af_decide(view, &req, NULL, "x", &d, NULL), AF_ENOTFOUND);
}

Test(policy_decide, no_matching_rule)
{
	struct af_policy_view *v = NULL;
	struct af_err e = {{0}};
	struct af_request req;
	struct af_request_error re;
	struct af_decision d;
	char *p =
		pf_replace(policy,
			   "  - name: default\n"
			   "    route: { tier: mid, fallback_tiers: [low] }\n",
			   "");

	cr_assert_eq(pf_view(p, models, &v, &e), 0, "%s", e.msg);
	cr_assert_eq(pf_request(REQ(""), &req, &re), 0);
	cr_assert_eq(af_decide(v, &req, NULL, "x", &d, NULL), 0);
	denied(&d, "NO_MATCHING_RULE");
	cr_assert_null(d.rule);
	af_policy_view_free(v);
	af_free(p);
}

Test(policy_decide, decide_allocates_nothing)
{
	struct af_explain x = {0};
	struct af_explain_rule rules[16];
	struct af_explain_cand cands[16];
	struct af_request req;
	struct af_request_error re;
	struct af_decision d;
	unsigned long before;

	x.rules = rules;
	x.rules_cap = 16;
	x.cands = cands;
	x.cands_cap = 16;
	cr_assert_eq(pf_request(REQ(""), &req, &re), 0);
	before = af_alloc_count();
	for (int i = 0; i < 1000; i++) {
		cr_assert_eq(af_decide(view, &req, NULL, "x", &d, NULL), 0);
		cr_assert_eq(af_decide(view, &req, NULL, "x", &d, &x), 0);
	}
	cr_assert_eq(af_alloc_count(), before);
	/* and it cannot: every allocation fails, decisions still work */
	af_alloc_fail_after(0, 1);
	cr_assert_eq(af_decide(view, &req, NULL, "x", &d, &x), 0);
	af_alloc_fail_after(-1, 0);
	cr_assert_eq(d.kind, AF_DECISION_ROUTE);
}

Test(policy_decide, explain_trace)
{
	struct af_explain x = {0};
	struct af_explain_rule rules[16];
	struct af_explain_cand cands[16];
	struct af_request req;
	struct af_request_error re;
	struct af_decision d;
	char text[4096];

	x.rules = rules;
	x.rules_cap = 16;
	x.cands = cands;
	x.cands_cap = 16;
	cr_assert_eq(pf_request(REQ(""), &req, &re), 0);
	cr_assert_eq(af_decide(view, &req, NULL, "x", &d, &x), 0);
	cr_assert_eq(x.nrules, 6);
	cr_assert_str_eq(rules[0].name, "blocked-tenant");
	cr_assert_eq(rules[0].matched, false);
	cr_assert_str_eq(rules[0].why, "tenant is \"t\", not eq [evil]");
	cr_assert_str_eq(rules[3].why, "latency_slo_ms is 1000, not lt 500");
	cr_assert_eq(rules[5].matched, true);
	/* mid: b-mid x2, c-mid, d-mid, f-off; low: e-low x2 */
	cr_assert_eq(x.ncands, 7);
	cr_assert_eq(af_explain_text(&x, text, sizeof(text)), 0);
	cr_assert(strstr(text, "f-off/eu (tier mid, est 0 USD): disabled"),
		  "%s", text);
	cr_assert(strstr(text, "d-mid/eu (tier mid, est 0.0002 USD): beyond "
			       "max_fallbacks"),
		  "%s", text);
	cr_assert(strstr(text, "c-mid/us (tier mid, est 0.002 USD): primary"),
		  "%s", text);
	cr_assert(strstr(text, "e-low/us (tier low, est 0.0002 USD): lacks a "
			       "needed capability"),
		  "%s", text);
}

Test(policy_decide, cohorts_are_sticky_and_weighted)
{
	struct af_policy_view *v = NULL;
	struct af_err e = {{0}};
	char *canary = pf_replace(policy, "name: g\n", "name: g2\n");
	struct af_request req;
	struct af_request_error re;
	struct af_decision d1, d2;
	int n = 0;

	cr_assert_eq(pf_view_canary(policy, canary, 2500, models, &v, &e), 0,
		     "%s", e.msg);
	cr_assert_eq(pf_request(REQ(""), &req, &re), 0);
	for (int i = 0; i < 4000; i++) {
		uint64_t bucket;

		snprintf(req.workflow_id, sizeof(req.workflow_id), "wf-%d", i);
		bucket = XXH3_64bits(req.workflow_id, strlen(req.workflow_id)) %
			 10000;
		cr_assert_eq(af_decide(v, &req, NULL, "x", &d1, NULL), 0);
		cr_assert_eq(af_decide(v, &req, NULL, "x", &d2, NULL), 0);
		cr_assert_eq(d1.canary, d2.canary);
		cr_assert_eq(d1.canary, bucket < 2500);
		cr_assert_eq(d1.revision, d1.canary ? 2u : 1u);
		n += d1.canary;
	}
	cr_assert(n > 800 && n < 1200, "%d of 4000 in the canary", n);
	af_policy_view_free(v);
	cr_assert_eq(pf_view_canary(policy, canary, 0, models, &v, &e), 0);
	cr_assert_eq(af_decide(v, &req, NULL, "x", &d1, NULL), 0);
	cr_assert_eq(d1.canary, false);
	af_policy_view_free(v);
	cr_assert_eq(pf_view_canary(policy, canary, 10000, models, &v, &e), 0);
	cr_assert_eq(af_decide(v, &req, NULL, "x", &d1, NULL), 0);
	cr_assert_eq(d1.canary, true);
	af_policy_view_free(v);
	af_free(canary);
}

Test(policy_decide, example_golden_json)
{
	struct af_policy_view *v = NULL;
	struct af_err e = {{0}};
	struct af_request req;
	struct af_request_error re;
	struct af_decision d;
	char body[4096], want[1024];
	size_t n;

	cr_assert_eq(pf_view(pf_example_policy, pf_example_models, &v, &e), 0);
	cr_assert_eq(pf_request(pf_example_request, &req, &re), 0);
	cr_assert_eq(af_decide(v, &req, NULL, "dec-1", &d, NULL), 0);
	cr_assert_eq(af_decision_json(&d, body, sizeof(body), &n), 0);
	snprintf(
		want, sizeof(want),
		"{\"decision\":\"route\",\"decision_id\":\"dec-1\","
		"\"model\":\"swift-mid\",\"provider\":\"acme\",\"tier\":"
		"\"mid\","
		"\"region\":\"eu-west-1\",\"lane\":\"online-standard\","
		"\"fallback\":[{\"model\":\"swift-mid\",\"tier\":\"mid\","
		"\"region\":\"us-east-1\"}],\"max_retries\":1,"
		"\"est_cost_usd\":0.06624,\"rule\":\"default\","
		"\"degraded\":false,\"policy\":{\"revision\":1,\"hash\":\"%s\","
		"\"cohort\":\"stable\"},\"registry_revision\":7}",
		d.hash);
	cr_assert_str_eq(body, want);
	cr_assert_eq(n, strlen(want));
	af_policy_view_free(v);
}

/* Cooldowns by cohort: ms left per pair for each cohort. */
struct cool {
	int32_t pair[2];   /* cooling pairs (-1: none) */
	uint64_t left[2];  /* their ms left */
	bool canary_only;  /* they cool for the canary cohort only */
	bool asked_canary; /* a decision asked about the canary cohort */
};

static uint64_t cool_ms(void *ctx, uint32_t pair, bool canary)
{
	struct cool *c = ctx;

	c->asked_canary |= canary;
	if (c->canary_only && !canary)
		return 0;
	for (int i = 0; i < 2; i++)
		if ((int32_t)pair == c->pair[i])
			return c->left[i];
	return 0;
}

/* Every model that could serve is cooling: MODELS_COOLING_DOWN (never
 * CONTEXT_TOO_LARGE because the smaller models are too small),
 * retryable after the first cooldown's end; the JSON says so. */
Test(policy_decide, models_cooling_down)
{
	static const char big[] =
		"{\"workflow_id\":\"w\",\"tenant\":\"t\",\"class\":"
		"\"chat\",\"input_tokens\":60000,\"output_tokens\":0}";
	struct cool c = {
		.pair = {af_policy_view_pair_id(view, "a-top", "eu"),
			 af_policy_view_pair_id(view, "a-top", "us")},
		.left = {7000, 4000},
	};
	struct af_live live = {.ctx = &c, .cooldown_ms = cool_ms};
	struct af_request_error re;
	struct af_request req;
	struct af_decision d;
	char body[4096];
	size_t n;

	cr_assert_eq(pf_request(big, &req, &re), 0, "%s", re.message);
	cr_assert_eq(af_decide(view, &req, NULL, "d", &d, NULL), 0);
	hop(&d.primary, "a-top", "eu");
	cr_assert_eq(af_decide(view, &req, &live, "d", &d, NULL), 0);
	denied(&d, "MODELS_COOLING_DOWN");
	cr_assert(d.retryable);
	cr_assert_eq(d.retry_after_ms, 4000);
	cr_assert_not_null(strstr(d.message, "cooling down"), "%s", d.message);
	cr_assert_not(c.asked_canary); /* stable asks for stable only */
	cr_assert_eq(af_decision_json(&d, body, sizeof(body), &n), 0);
	cr_assert_not_null(strstr(body, "\"code\":\"MODELS_COOLING_DOWN\","),
			   "%s", body);
	cr_assert_not_null(strstr(body, ",\"retryable\":true,"
					"\"retry_after_ms\":4000"),
			   "%s", body);
	/* Cooling for the canary cohort only: stable is served. */
	c.canary_only = true;
	cr_assert_eq(af_decide(view, &req, &live, "d", &d, NULL), 0);
	hop(&d.primary, "a-top", "eu");
	/* One a-top region left: routed there. */
	c.canary_only = false;
	c.pair[1] = -1;
	cr_assert_eq(af_decide(view, &req, &live, "d", &d, NULL), 0);
	hop(&d.primary, "a-top", "us");
	/* Too big for every model: still CONTEXT_TOO_LARGE, not retryable. */
	cr_assert_eq(pf_request("{\"workflow_id\":\"w\",\"tenant\":\"t\","
				"\"class\":\"chat\",\"input_tokens\":200000}",
				&req, &re),
		     0);
	cr_assert_eq(af_decide(view, &req, &live, "d", &d, NULL), 0);
	denied(&d, "CONTEXT_TOO_LARGE");
	cr_assert_not(d.retryable);
	cr_assert_eq(af_decision_json(&d, body, sizeof(body), &n), 0);
	cr_assert_not_null(strstr(body, "\"retryable\":false"), "%s", body);
}

/* The canary cohort asks for the canary's cooldowns. */
Test(policy_decide, canary_asks_canary_cooldowns)
{
	struct af_policy_view *v = NULL;
	struct af_err e = {{0}};
	struct cool c = {.pair = {-1, -1}};
	struct af_live live = {.ctx = &c, .cooldown_ms = cool_ms};
	struct af_request_error re;
	struct af_request req;
	struct af_decision d;

	cr_assert_eq(pf_view_canary(policy, policy, 10000, models, &v, &e), 0,
		     "%s", e.msg);
	cr_assert_eq(pf_request(REQ(""), &req, &re), 0);
	c.pair[0] = af_policy_view_pair_id(v, "c-mid", "us");
	c.left[0] = 5000;
	c.canary_only = true;
	cr_assert_eq(af_decide(v, &req, &live, "d", &d, NULL), 0);
	cr_assert(d.canary);
	cr_assert(c.asked_canary);
	cr_assert_str_neq(d.primary.model, "c-mid");
	af_policy_view_free(v);
}
