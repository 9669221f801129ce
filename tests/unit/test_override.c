/* Emergency overrides and staleness in af_decide(): each effect, scope,
 * precedence, expiry, the staleness modes, the decision JSON, the parse
 * errors of the override file and of the staleness section, and that
 * decisions still allocate nothing. */
#include "common/alloc.h"
#include "policy/policy.h"
#include "proto/af.pb-c.h"
#include "tests/lib/alloc_check.h"
#include "tests/lib/policy_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static struct af_policy_view *view;

static const char stale_yaml[] =
	"staleness:\n"
	"  degrade_after_s: 60\n"
	"  degraded: { deny_tier: mid, max_fanout: 3 }\n"
	"  fail_closed_after_s: 600\n";

static void setup(void)
{
	struct af_err err = {{0}};
	char *p;

	af_test_alloc_begin();
	p = af_malloc(strlen(pf_example_policy) + sizeof(stale_yaml));
	cr_assert_not_null(p);
	strcpy(p, pf_example_policy);
	strcat(p, stale_yaml);
	cr_assert_eq(pf_view(p, pf_example_models, &view, &err), 0, "%s",
		     err.msg);
	af_free(p);
}

static void teardown(void)
{
	af_policy_view_free(view);
	af_test_alloc_end();
}

TestSuite(override, .init = setup, .fini = teardown);

static struct af_override_set set;

static struct af_override *add(const char *id, const char *tenant,
			       const char *cls)
{
	struct af_override *o = &set.ov[set.n++];

	memset(o, 0, sizeof(*o));
	snprintf(o->id, sizeof(o->id), "%s", id);
	snprintf(o->tenant, sizeof(o->tenant), "%s", tenant);
	snprintf(o->cls, sizeof(o->cls), "%s", cls);
	return o;
}

/* Decides tenant/class with fanout and tool_calls under set. */
static void decide(const char *tenant, const char *cls, int64_t fanout,
		   int64_t tools, uint64_t stale_ms, struct af_decision *d)
{
	struct af_request req;
	struct af_live live = {0};

	af_request_init(&req);
	snprintf(req.workflow_id, sizeof(req.workflow_id), "wf-1");
	snprintf(req.tenant, sizeof(req.tenant), "%s", tenant);
	snprintf(req.class_name, sizeof(req.class_name), "%s", cls);
	req.input_tokens = 1000;
	req.output_tokens = 200;
	req.fanout = fanout;
	req.tool_calls = tools;
	live.overrides = &set;
	live.now_ms = 1000000;
	live.stale_ms = stale_ms;
	cr_assert_eq(af_decide(view, &req, &live, "d", d, NULL), 0);
}

static void want_deny(const struct af_decision *d, const char *code,
		      const char *id)
{
	cr_assert_eq(d->kind, AF_DECISION_DENY, "routed, wanted %s", code);
	cr_assert_str_eq(d->code, code, "%s: %s", d->code, d->message);
	cr_assert_eq(d->noverrides, 1);
	cr_assert_str_eq(d->overrides[0], id);
}

Test(override, each_effect_in_scope_only)
{
	struct af_decision d;

	set.n = 0;
	add("ov-1", "", "research-agent")->effects = AF_OV_MAX_FANOUT;
	add("ov-2", "", "underwriting")->effects = AF_OV_MAX_TOOL_CALLS;
	add("ov-3", "cost-team", "")->effects = AF_OV_MAX_COST;
	set.ov[2].max_cost_micro = 1;
	add("ov-4", "", "interactive-copilot")->effects = AF_OV_DENY_TIER;
	snprintf(set.ov[3].deny_tier, sizeof(set.ov[3].deny_tier), "mid");
	add("ov-5", "", "")->effects = AF_OV_DRAIN_LANE;
	snprintf(set.ov[4].drain_lane, sizeof(set.ov[4].drain_lane),
		 "batch-offline");
	add("ov-6", "frozen", "")->effects = AF_OV_FREEZE_TENANT;
	set.ov[0].max_fanout = 2;
	set.ov[1].max_tool_calls = 1;
	for (size_t i = 0; i < set.n; i++)
		set.ov[i].expires_ms = 2000000;

	decide("t", "research-agent", 3, AF_REQ_ABSENT, 0, &d);
	want_deny(&d, "FANOUT_CAP", "ov-1");
	cr_assert(strstr(d.message, "emergency override ov-1") != NULL);
	decide("t", "research-agent", 2, AF_REQ_ABSENT, 0, &d);
	cr_assert_eq(d.kind, AF_DECISION_ROUTE);
	cr_assert_eq(d.noverrides, 0, "a cap that did not bind is not listed");
	decide("t", "underwriting", AF_REQ_ABSENT, 2, 0, &d);
	want_deny(&d, "TOOL_CALL_CAP", "ov-2");
	decide("cost-team", "research-agent", AF_REQ_ABSENT, AF_REQ_ABSENT, 0,
	       &d);
	want_deny(&d, "COST_LIMIT", "ov-3");
	decide("t", "interactive-copilot", AF_REQ_ABSENT, AF_REQ_ABSENT, 0, &d);
	cr_assert_eq(d.kind, AF_DECISION_ROUTE);
	cr_assert_str_neq(d.primary.tier, "mid");
	for (size_t i = 0; i < d.nfallback; i++)
		cr_assert_str_neq(d.fallback[i].tier, "mid");
	cr_assert_str_eq(d.overrides[0], "ov-4");
	decide("t", "marketing", AF_REQ_ABSENT, AF_REQ_ABSENT, 0, &d);
	want_deny(&d, AF_DENY_LANE_DRAINED, "ov-5");
	decide("frozen", "research-agent", AF_REQ_ABSENT, AF_REQ_ABSENT, 0, &d);
	want_deny(&d, AF_DENY_TENANT_FROZEN, "ov-6");
	/* Out of every scope: today's decision. */
	decide("t", "research-agent", AF_REQ_ABSENT, AF_REQ_ABSENT, 0, &d);
	cr_assert_eq(d.kind, AF_DECISION_ROUTE);
	cr_assert_str_eq(d.primary.tier, "mid");
	cr_assert_eq(d.noverrides, 0);
}

Test(override, deny_every_tier_of_the_rule)
{
	struct af_decision d;

	set.n = 0;
	add("a", "", "")->effects = AF_OV_DENY_TIER;
	snprintf(set.ov[0].deny_tier, sizeof(set.ov[0].deny_tier), "mid");
	add("b", "", "")->effects = AF_OV_DENY_TIER;
	snprintf(set.ov[1].deny_tier, sizeof(set.ov[1].deny_tier), "small");
	decide("t", "research-agent", AF_REQ_ABSENT, AF_REQ_ABSENT, 0, &d);
	cr_assert_eq(d.kind, AF_DECISION_DENY);
	cr_assert_str_eq(d.code, AF_DENY_TIER_DENIED);
	cr_assert_eq(d.noverrides, 2);
}

Test(override, precedence_and_expiry)
{
	struct af_decision d;

	set.n = 0;
	add("loose", "", "")->effects = AF_OV_MAX_FANOUT;
	set.ov[0].max_fanout = 5;
	add("tight", "", "")->effects = AF_OV_MAX_FANOUT;
	set.ov[1].max_fanout = 1;
	add("old", "", "")->effects = AF_OV_MAX_FANOUT;
	set.ov[2].max_fanout = 0;
	set.ov[2].expires_ms = 1000000; /* == now: expired */
	decide("t", "research-agent", 2, AF_REQ_ABSENT, 0, &d);
	want_deny(&d, "FANOUT_CAP", "tight");
	cr_assert(strstr(d.message, "max_fanout 1") != NULL, "%s", d.message);
	/* The bundle's own cap (interactive-copilot: 2) is checked first
	 * and keeps its message. */
	decide("t", "interactive-copilot", 3, AF_REQ_ABSENT, 0, &d);
	cr_assert_str_eq(d.code, "FANOUT_CAP");
	cr_assert(strstr(d.message, "of class") != NULL, "%s", d.message);
	/* A freeze wins over caps. */
	add("frz", "t", "")->effects = AF_OV_FREEZE_TENANT;
	decide("t", "research-agent", 9, AF_REQ_ABSENT, 0, &d);
	want_deny(&d, AF_DENY_TENANT_FROZEN, "frz");
}

Test(override, staleness_modes)
{
	struct af_decision d;

	set.n = 0;
	cr_assert_eq(af_policy_stale_mode(view, 0), 0);
	cr_assert_eq(af_policy_stale_mode(view, 59999), 0);
	cr_assert_eq(af_policy_stale_mode(view, 60000), 1);
	cr_assert_eq(af_policy_stale_mode(view, 600000), 2);
	decide("t", "research-agent", AF_REQ_ABSENT, AF_REQ_ABSENT, 59999, &d);
	cr_assert_null(d.stale_mode);
	cr_assert_str_eq(d.primary.tier, "mid");
	decide("t", "research-agent", AF_REQ_ABSENT, AF_REQ_ABSENT, 61000, &d);
	cr_assert_str_eq(d.stale_mode, "degraded");
	cr_assert_eq(d.stale_since_s, 61);
	cr_assert_str_eq(d.primary.tier, "small");
	cr_assert_str_eq(d.overrides[0], "stale");
	decide("t", "research-agent", 4, AF_REQ_ABSENT, 61000, &d);
	want_deny(&d, "FANOUT_CAP", "stale");
	decide("t", "research-agent", AF_REQ_ABSENT, AF_REQ_ABSENT, 600000, &d);
	cr_assert_str_eq(d.code, AF_DENY_POLICY_STALE);
	cr_assert_str_eq(d.stale_mode, "fail_closed");
	/* underwriting is critical: still served, degraded. */
	decide("t", "underwriting", AF_REQ_ABSENT, AF_REQ_ABSENT, 600000, &d);
	cr_assert_eq(d.kind, AF_DECISION_ROUTE);
	cr_assert_str_eq(d.stale_mode, "fail_closed");
}

Test(override, no_staleness_section_is_todays_behaviour)
{
	struct af_policy_view *v;
	struct af_err err = {{0}};

	cr_assert_eq(pf_view(pf_example_policy, pf_example_models, &v, &err),
		     0);
	cr_assert_eq(af_policy_stale_mode(v, 1ull << 40), -1);
	af_policy_view_free(v);
}

Test(override, decision_json_carries_ids_and_stale)
{
	struct af_decision d;
	char buf[4096];
	size_t len;

	set.n = 0;
	add("ov-9", "", "research-agent")->effects = AF_OV_MAX_FANOUT;
	set.ov[0].max_fanout = 0;
	decide("t", "research-agent", 1, AF_REQ_ABSENT, 61000, &d);
	cr_assert_eq(af_decision_json(&d, buf, sizeof(buf), &len), 0);
	cr_assert(strstr(buf, "\"overrides\":[\"ov-9\"]") != NULL, "%s", buf);
	cr_assert(strstr(buf, "\"stale\":{\"since_s\":61,\"mode\":"
			      "\"degraded\"}") != NULL,
		  "%s", buf);
}

Test(override, decisions_allocate_nothing)
{
	struct af_decision d;
	unsigned long before;

	set.n = 0;
	add("a", "", "")->effects = AF_OV_MAX_COST | AF_OV_DENY_TIER;
	set.ov[0].max_cost_micro = 100000;
	snprintf(set.ov[0].deny_tier, sizeof(set.ov[0].deny_tier), "frontier");
	before = af_alloc_count();
	for (int i = 0; i < 100; i++)
		decide("t", "research-agent", 1, 1, (uint64_t)i * 7000, &d);
	cr_assert_eq(af_alloc_count(), before);
}

/* ---------------------------------------------------------- parsing */

static void parse_fails(const char *json, const char *want)
{
	struct af_override_set s;
	struct af_err err = {{0}};

	cr_assert_neq(
		af_override_parse_json("bg.json", json, strlen(json), &s, &err),
		0, "accepted %s", json);
	cr_assert(strstr(err.msg, want) != NULL, "%s (wanted %s)", err.msg,
		  want);
	cr_assert_eq(s.n, 0, "a refused file yields nothing");
}

Test(override, file_json)
{
	static const char ok[] =
		"[{\"id\": \"bg-1\", \"scope\": {\"tenant\": \"t\"},\n"
		" \"effect\": {\"freeze_tenant\": true, \"max_cost_usd\": "
		"0.02},"
		"\n \"expires\": \"2026-12-02T05:00:00Z\"}]";
	struct af_override_set s;
	struct af_err err = {{0}};
	char members[512];

	cr_assert_eq(
		af_override_parse_json("bg.json", ok, strlen(ok), &s, &err), 0,
		"%s", err.msg);
	cr_assert_eq(s.n, 1);
	cr_assert_eq(s.ov[0].effects, AF_OV_FREEZE_TENANT | AF_OV_MAX_COST);
	cr_assert_eq(s.ov[0].max_cost_micro, 20000);
	cr_assert_eq(s.ov[0].expires_ms, 1796187600000ll);
	cr_assert_gt(
		af_override_json_members(&s.ov[0], members, sizeof(members)),
		0);
	cr_assert(strstr(members, "\"freeze_tenant\":true") != NULL, "%s",
		  members);
	parse_fails("{\"effect\": {\"max_fanout\": 2},", "bg.json:1:");
	parse_fails("{\"effect\":\n  {\"max_fanout\": -2}, \"expires\": "
		    "\"2026-12-02T05:00:00Z\"}",
		    "bg.json:2:4: max_fanout");
	parse_fails("{\"effect\": {\"max_fanout\": 2}}", "expires");
	parse_fails("{\"effect\": {\"freeze_tenant\": true}, \"expires\": "
		    "\"2026-12-02T05:00:00Z\"}",
		    "needs a tenant");
	parse_fails("{\"effect\": {}, \"expires\": \"2026-12-02T05:00:00Z\"}",
		    "at least one");
	parse_fails("{\"effect\": {\"max_fanout\": 1}, \"expires\": \"soon\"}",
		    "RFC 3339");
	parse_fails("[{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}]",
		    "at most 16");
}

static void stale_fails(const char *section, const char *want)
{
	struct af_policy_view *v = NULL;
	struct af_err err = {{0}};
	char *p = af_malloc(strlen(pf_example_policy) + strlen(section) + 1);

	cr_assert_not_null(p);
	strcpy(p, pf_example_policy);
	strcat(p, section);
	cr_assert_neq(pf_view(p, pf_example_models, &v, &err), 0, "accepted %s",
		      section);
	cr_assert(strstr(err.msg, want) != NULL, "%s (wanted %s)", err.msg,
		  want);
	af_free(p);
}

Test(override, staleness_parse_errors)
{
	stale_fails("staleness: { fail_closed_after_s: 5 }\n",
		    "degrade_after_s");
	stale_fails("staleness:\n  degrade_after_s: 60\n"
		    "  fail_closed_after_s: 30\n",
		    "must be above degrade_after_s");
	stale_fails("staleness:\n  degrade_after_s: 60\n"
		    "  degraded: { freeze_tenant: true }\n",
		    "freeze_tenant");
	stale_fails("staleness:\n  degrade_after_s: 0\n", "degrade_after_s");
	stale_fails("staleness:\n  degrade_after_s: 60\n"
		    "  degraded: { max_cost_usd: -1 }\n",
		    "max_cost_usd");
}

Test(override, check_messages)
{
	struct af_override o = {0};
	struct af_err err = {{0}};

	cr_assert_neq(af_override_check(&o, &err), 0);
	cr_assert(strstr(err.msg, "--max-fanout") != NULL, "%s", err.msg);
	o.effects = AF_OV_DRAIN_LANE;
	cr_assert_neq(af_override_check(&o, &err), 0);
	cr_assert(strstr(err.msg, "drain_lane") != NULL, "%s", err.msg);
	snprintf(o.drain_lane, sizeof(o.drain_lane), "batch");
	cr_assert_eq(af_override_check(&o, &err), 0, "%s", err.msg);
	snprintf(o.tenant, sizeof(o.tenant), "bad\ntenant");
	cr_assert_neq(af_override_check(&o, &err), 0);
	cr_assert(strstr(err.msg, "tenant") != NULL, "%s", err.msg);
}

/* The overlay applies to the canary cohort as to the stable one. */
Test(override, canary_cohort_too)
{
	struct af_policy_view *v;
	struct af_request req;
	struct af_live live = {0};
	struct af_decision d;
	struct af_err err = {{0}};
	char *c = pf_replace(pf_example_policy, "name: prod", "name: prod-c");

	cr_assert_not_null(c);
	cr_assert_eq(pf_view_canary(pf_example_policy, c, 10000,
				    pf_example_models, &v, &err),
		     0, "%s", err.msg);
	af_free(c);
	set.n = 0;
	add("ov-1", "", "")->effects = AF_OV_MAX_FANOUT;
	set.ov[0].max_fanout = 1;
	af_request_init(&req);
	snprintf(req.workflow_id, sizeof(req.workflow_id), "wf-1");
	snprintf(req.tenant, sizeof(req.tenant), "t");
	snprintf(req.class_name, sizeof(req.class_name), "research-agent");
	req.fanout = 2;
	live.overrides = &set;
	cr_assert_eq(af_decide(v, &req, &live, "d", &d, NULL), 0);
	cr_assert(d.canary);
	want_deny(&d, "FANOUT_CAP", "ov-1");
	af_policy_view_free(v);
}

/* A full set of the longest names, as controld's hints carry it, packs in
 * under half of routerd's 16 KiB hint cap. */
Test(override, a_full_set_fits_a_hint)
{
	Af__Hint h = AF__HINT__INIT;
	Af__OverrideSet os = AF__OVERRIDE_SET__INIT;
	Af__Override m[AF_OVERRIDE_MAX], *mp[AF_OVERRIDE_MAX];
	char hash[80];

	memset(hash, 'f', sizeof(hash) - 1);
	hash[sizeof(hash) - 1] = '\0';
	set.n = 0;
	for (size_t i = 0; i < AF_OVERRIDE_MAX; i++) {
		struct af_override *o = add("", "", "");

		memset(o->id, 'i', AF_OVERRIDE_ID_MAX);
		memset(o->tenant, 't', AF_OVERRIDE_NAME_MAX);
		memset(o->cls, 'c', AF_OVERRIDE_NAME_MAX);
		memset(o->deny_tier, 'd', AF_OVERRIDE_NAME_MAX);
		memset(o->drain_lane, 'l', AF_OVERRIDE_NAME_MAX);
		o->effects = AF_OV_ALL;
		o->max_fanout = o->max_tool_calls = AF_OVERRIDE_COUNT_MAX;
		o->max_cost_micro = AF_OVERRIDE_COST_MAX_MICRO;
		o->expires_ms = INT64_MAX;
		af_override_to_pb(o, &m[i]);
		mp[i] = &m[i];
	}
	os.overrides = mp;
	os.n_overrides = AF_OVERRIDE_MAX;
	os.version = UINT64_MAX;
	h.overrides = &os;
	h.stable_hash = h.canary_hash = hash;
	h.cluster = hash;
	h.state_index = h.distribution_index = h.node_id = UINT64_MAX;
	cr_assert_lt(af__hint__get_packed_size(&h), 8192, "%zu bytes",
		     af__hint__get_packed_size(&h));
}
