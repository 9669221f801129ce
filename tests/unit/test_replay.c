/* Decision records and their replay (policy/replay.h): a decision made
 * with the recorder between it and the live signals, rendered, parsed
 * back and replayed on a view built from the same bundle gives the very
 * same body, whatever the live state (lane fill past the watermark and at
 * the limit, cooldowns, latencies that reorder candidates, soft and hard
 * budgets, a lease refusal); the recorder allocates nothing; masking; the
 * bundle's decision_log section and its errors. */
#include "common/alloc.h"
#include "policy/replay.h"
#include "tests/lib/alloc_check.h"
#include "tests/lib/policy_fixture.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static struct af_policy_view *view, *view2;

static void setup(void)
{
	struct af_err err = {{0}};

	af_test_alloc_begin();
	cr_assert_eq(pf_view(pf_example_policy, pf_example_models, &view, &err),
		     0, "%s", err.msg);
	/* A second, separately built view: ids are resolved by name. */
	cr_assert_eq(
		pf_view(pf_example_policy, pf_example_models, &view2, &err), 0,
		"%s", err.msg);
}

static void teardown(void)
{
	af_policy_view_free(view);
	af_policy_view_free(view2);
	af_test_alloc_end();
}

TestSuite(replay, .init = setup, .fini = teardown);

/* A live state driven by the test. */
struct fake {
	uint32_t inflight;
	int32_t cool_pair;
	uint64_t cool_ms;
	uint32_t lat_base;
	enum af_budget_state budget;
	const struct af_override_set *ov; /* emergency overrides in force */
	int64_t now_ms;
	uint64_t stale_ms;
};

static uint32_t f_inflight(void *ctx, uint32_t lane)
{
	(void)lane;
	return ((struct fake *)ctx)->inflight;
}

static uint64_t f_cool(void *ctx, uint32_t pair, bool canary)
{
	const struct fake *f = ctx;

	(void)canary;
	return (int32_t)pair == f->cool_pair ? f->cool_ms : 0;
}

static uint32_t f_lat(void *ctx, uint32_t pair)
{
	const struct fake *f = ctx;

	/* later pairs faster: reorders candidates of equal cost */
	return f->lat_base ? f->lat_base + 1000 - pair * 10 : 0;
}

static enum af_budget_state f_budget(void *ctx, const char *tenant,
				     uint64_t *ret)
{
	(void)tenant;
	*ret = 3600000;
	return ((struct fake *)ctx)->budget;
}

static struct af_live fake_live(struct fake *f)
{
	return (struct af_live){.ctx = f,
				.lane_inflight = f_inflight,
				.cooldown_ms = f_cool,
				.latency_ms = f_lat,
				.budget = f_budget};
}

/* Decides req with the recorder over f, renders the record's live object,
 * parses it back and replays it on view2; both bodies must be equal. */
static void round_trip_on(struct af_policy_view *v1, struct af_policy_view *v2,
			  const char *req_json, struct fake *f, bool lease,
			  char *ret_body, size_t cap)
{
	static struct af_live_rec rec;
	static struct af_replay_live rl;
	struct af_live in = fake_live(f), live;
	struct af_request req;
	struct af_request_error re;
	struct af_decision d, r;
	struct af_err err = {{0}};
	char livebuf[8192], a[4096], b[4096];
	size_t n, na, nb;
	json_t *j;

	cr_assert_eq(pf_request(req_json, &req, &re), 0, "%s", re.message);
	af_live_rec_wrap(&rec, &in, v1, &live);
	live.overrides = f->ov;
	live.now_ms = f->now_ms;
	live.stale_ms = f->stale_ms;
	af_live_rec_overrides(&rec, &live, &req);
	cr_assert_eq(af_decide(v1, &req, &live, "id-1", &d, NULL), 0);
	if (lease && d.kind == AF_DECISION_ROUTE) {
		d.kind = AF_DECISION_DENY;
		d.code = "BUDGET_LEASE_PENDING";
		snprintf(d.message, sizeof(d.message), "refilling");
		d.retry_after_ms = 50;
		d.retryable = true;
		af_live_rec_lease(&rec, &d);
	}
	af_live_rec_finish(&rec, &d);
	cr_assert_eq(af_live_rec_json(&rec, livebuf, sizeof(livebuf), &n), 0);
	cr_assert_eq(af_decision_json(&d, a, sizeof(a), &na), 0);
	j = json_loadb(livebuf, n, 0, NULL);
	cr_assert_not_null(j, "live: %s", livebuf);
	cr_assert_eq(af_replay_live_parse(j, &rl, &err), 0, "%s", err.msg);
	af_replay_live_bind(&rl, v2, &live);
	cr_assert_eq(af_decide(v2, &req, &live, "id-1", &r, NULL), 0);
	af_replay_lease(&rl, &r);
	cr_assert_eq(af_decision_json(&r, b, sizeof(b), &nb), 0);
	cr_expect_str_eq(b, a, "live %s", livebuf);
	/* Without the live inputs the answer differs in these cases. */
	snprintf(ret_body, cap, "%s", a);
	json_decref(j);
}

static void round_trip(const char *req_json, struct fake *f, bool lease,
		       char *ret_body, size_t cap)
{
	round_trip_on(view, view2, req_json, f, lease, ret_body, cap);
}

#define REQ                                                                    \
	"{\"workflow_id\":\"w\",\"tenant\":\"t\",\"class\":\"interactive-"     \
	"copilot\"}"

Test(replay, idle_state_reproduces)
{
	struct fake f = {.cool_pair = -1};
	char body[4096];

	round_trip(REQ, &f, false, body, sizeof(body));
	cr_expect(strstr(body, "\"degraded\":false") != NULL, "%s", body);
}

Test(replay, lane_fill_reproduces)
{
	struct fake f = {.inflight = 60, .cool_pair = -1};
	char body[4096];

	round_trip(REQ, &f, false, body, sizeof(body));
	cr_expect(strstr(body, "\"degraded\":true") != NULL, "%s", body);
	f.inflight = 64;
	round_trip(REQ, &f, false, body, sizeof(body));
	cr_expect(strstr(body, "LANE_SATURATED") != NULL, "%s", body);
}

Test(replay, cooldowns_and_latency_reproduce)
{
	struct fake f = {.cool_pair = -1, .lat_base = 100};
	char first[4096], body[4096];
	const char *model, *region;
	int32_t id;

	round_trip(REQ, &f, false, first, sizeof(first));
	/* Cool the chosen primary down: the answer moves elsewhere. */
	model = strstr(first, "\"model\":\"") + 9;
	region = strstr(first, "\"region\":\"") + 10;
	char m[64], r[64];
	snprintf(m, sizeof(m), "%.*s", (int)strcspn(model, "\""), model);
	snprintf(r, sizeof(r), "%.*s", (int)strcspn(region, "\""), region);
	id = af_policy_view_pair_id(view, m, r);
	cr_assert_geq(id, 0);
	f.cool_pair = id;
	f.cool_ms = 12345;
	round_trip(REQ, &f, false, body, sizeof(body));
	cr_expect_str_neq(body, first);
}

Test(replay, budgets_and_lease_reproduce)
{
	struct fake f = {.cool_pair = -1, .budget = AF_BUDGET_OVER_SOFT};
	char body[4096];

	round_trip(REQ, &f, false, body, sizeof(body));
	cr_expect(strstr(body, "\"degraded\":true") != NULL, "%s", body);
	f.budget = AF_BUDGET_OVER_HARD;
	round_trip(REQ, &f, false, body, sizeof(body));
	cr_expect(strstr(body, "BUDGET_EXCEEDED") != NULL, "%s", body);
	cr_expect(strstr(body, "\"retry_after_ms\":3600000") != NULL, "%s",
		  body);
	f.budget = AF_BUDGET_OK;
	round_trip(REQ, &f, true, body, sizeof(body));
	cr_expect(strstr(body, "BUDGET_LEASE_PENDING") != NULL, "%s", body);
}

/* An emergency override in scope shapes the decision and is replayed with
 * it; one out of scope or expired at decision time is not recorded. */
Test(replay, overrides_reproduce)
{
	static struct af_override_set set;
	struct fake f = {.cool_pair = -1, .ov = &set, .now_ms = 1000000};
	char body[4096];

	memset(&set, 0, sizeof(set));
	set.n = 3;
	snprintf(set.ov[0].id, sizeof(set.ov[0].id), "ov-other");
	snprintf(set.ov[0].tenant, sizeof(set.ov[0].tenant), "someone-else");
	set.ov[0].effects = AF_OV_FREEZE_TENANT;
	snprintf(set.ov[1].id, sizeof(set.ov[1].id), "ov-old");
	snprintf(set.ov[1].tenant, sizeof(set.ov[1].tenant), "t");
	set.ov[1].effects = AF_OV_FREEZE_TENANT;
	set.ov[1].expires_ms = 999000; /* expired before now_ms */
	snprintf(set.ov[2].id, sizeof(set.ov[2].id), "ov-tier");
	set.ov[2].effects = AF_OV_DENY_TIER;
	snprintf(set.ov[2].deny_tier, sizeof(set.ov[2].deny_tier), "small");
	set.ov[2].expires_ms = 2000000;
	round_trip(REQ, &f, false, body, sizeof(body));
	cr_expect(strstr(body, "\"overrides\":[\"ov-tier\"]") != NULL, "%s",
		  body);
	set.ov[1].expires_ms = 0; /* never expires: the freeze applies */
	round_trip(REQ, &f, false, body, sizeof(body));
	cr_expect(strstr(body, "TENANT_FROZEN") != NULL, "%s", body);
}

/* How stale the view was is replayed: degraded, then fail-closed. */
Test(replay, staleness_reproduces)
{
	static char policy[65536];
	struct af_policy_view *s1, *s2;
	struct af_err err = {{0}};
	struct fake f = {.cool_pair = -1, .stale_ms = 120000};
	char body[4096];

	snprintf(policy, sizeof(policy),
		 "%sstaleness:\n  degrade_after_s: 60\n"
		 "  degraded: { deny_tier: small }\n"
		 "  fail_closed_after_s: 600\n",
		 pf_example_policy);
	cr_assert_eq(pf_view(policy, pf_example_models, &s1, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(pf_view(policy, pf_example_models, &s2, &err), 0, "%s",
		     err.msg);
	round_trip_on(s1, s2, REQ, &f, false, body, sizeof(body));
	cr_expect(strstr(body, "\"mode\":\"degraded\"") != NULL, "%s", body);
	f.stale_ms = 700000;
	round_trip_on(s1, s2, REQ, &f, false, body, sizeof(body));
	cr_expect(strstr(body, "POLICY_STALE") != NULL, "%s", body);
	af_policy_view_free(s1);
	af_policy_view_free(s2);
}

Test(replay, recorder_allocates_nothing)
{
	static struct af_live_rec rec;
	struct fake f = {
		.inflight = 3, .cool_pair = 1, .cool_ms = 10, .lat_base = 5};
	struct af_live in = fake_live(&f), live;
	struct af_request req;
	struct af_request_error re;
	struct af_decision d;
	char buf[8192];
	size_t n;
	unsigned long before;

	cr_assert_eq(pf_request(REQ, &req, &re), 0);
	before = af_alloc_count();
	for (int i = 0; i < 1000; i++) {
		af_live_rec_wrap(&rec, &in, view, &live);
		cr_assert_eq(af_decide(view, &req, &live, "x", &d, NULL), 0);
		af_live_rec_finish(&rec, &d);
		cr_assert_eq(af_live_rec_json(&rec, buf, sizeof(buf), &n), 0);
		cr_assert_eq(
			af_request_json(&req, NULL, 0, buf, sizeof(buf), &n),
			0);
	}
	cr_assert_eq(af_alloc_count(), before);
}

Test(replay, masking)
{
	static const char *const mask[] = {"labels.customer", "tenant"};
	struct af_request req;
	struct af_request_error re;
	char buf[4096], h[AF_MASKED_LEN];
	size_t n;

	/* sha256("acme") =
	 * 822b33ad87c148a0a20a5ba7cd5ebcaa68d36a18e7aad165554903f52ca82757 */
	af_mask_value("acme", h);
	cr_expect_str_eq(h, "sha256:822b33ad87c148a0");
	cr_assert_eq(pf_request("{\"workflow_id\":\"w\",\"tenant\":\"acme\","
				"\"class\":\"c\",\"max_cost_usd\":0.05,"
				"\"labels\":{\"customer\":\"acme\",\"team\":"
				"\"x\"},\"needs\":[\"tools\"]}",
				&req, &re),
		     0);
	cr_assert_eq(af_request_json(&req, mask, 2, buf, sizeof(buf), &n), 0);
	cr_expect_str_eq(buf, "{\"workflow_id\":\"w\",\"tenant\":\"sha256:"
			      "822b33ad87c148a0\",\"class\":\"c\","
			      "\"max_cost_usd\":0.05,\"needs\":[\"tools\"],"
			      "\"labels\":{\"customer\":\"sha256:"
			      "822b33ad87c148a0\",\"team\":\"x\"}}");
	/* Too small a buffer: refused, not cut. */
	cr_expect_eq(af_request_json(&req, mask, 2, buf, 20, &n), AF_ETOOBIG);
}

static int compile(const char *from, const char *to, struct af_err *err)
{
	char *p = pf_replace(pf_example_policy, from, to);
	struct af_bundle *b = NULL;
	int rc;

	cr_assert_not_null(p, "fixture lacks \"%s\"", from);
	rc = af_bundle_compile("p.yaml", p, strlen(p), &b, err);
	af_bundle_free(b);
	af_free(p);
	return rc;
}

Test(replay, bundle_section_and_errors)
{
	struct af_err err = {{0}};
	struct af_bundle *b = NULL;
	struct af_policy_view *v = NULL;
	struct af_registry *r = NULL;
	const char *const *m;
	size_t n;
	char *p;

	cr_expect_eq(compile("degrade:",
			     "decision_log:\n  mask: [labels.c, "
			     "tenant]\n  sample: { marketing: "
			     "0.25 }\ndegrade:",
			     &err),
		     0, "%s", err.msg);
	cr_expect_eq(compile("degrade:",
			     "decision_log:\n  mask: [prompt]\ndegrade:", &err),
		     AF_EPARSE);
	cr_expect(strstr(err.msg, "p.yaml:") == err.msg &&
			  strstr(err.msg, "\"prompt\" is not a request field"),
		  "%s", err.msg);
	cr_expect_eq(compile("degrade:",
			     "decision_log:\n  sample: { nope: 0.5 }\ndegrade:",
			     &err),
		     AF_EPARSE);
	cr_expect(strstr(err.msg, "unknown class \"nope\"") != NULL, "%s",
		  err.msg);
	cr_expect_eq(compile("degrade:",
			     "decision_log:\n  sample: { marketing: 1.5 "
			     "}\ndegrade:",
			     &err),
		     AF_EPARSE);
	cr_expect_eq(compile("degrade:", "decision_log:\n  bogus: 1\ndegrade:",
			     &err),
		     AF_EPARSE);
	cr_expect(strstr(err.msg, "bogus") != NULL, "%s", err.msg);
	/* The view carries masks and each class's sample rate. */
	p = pf_replace(pf_example_policy, "degrade:",
		       "decision_log:\n  mask: [tenant]\n  sample: { "
		       "interactive-copilot: 0.25 }\ndegrade:");
	cr_assert_eq(af_bundle_compile("p", p, strlen(p), &b, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(af_registry_compile("m", pf_example_models,
					 strlen(pf_example_models), &r, &err),
		     0);
	struct af_policy_view_config cfg = {.stable = b, .registry = r};
	cr_assert_eq(af_policy_view_new(&cfg, &v, &err), 0, "%s", err.msg);
	m = af_policy_view_log_masks(v, false, &n);
	cr_expect_eq(n, 1);
	cr_expect_str_eq(m[0], "tenant");
	struct af_request req;
	struct af_request_error re;
	struct af_decision d;
	cr_assert_eq(pf_request(REQ, &req, &re), 0);
	cr_assert_eq(af_decide(v, &req, NULL, "x", &d, NULL), 0);
	cr_expect_eq(d.log_ppm, 250000);
	cr_assert_eq(af_decide(view, &req, NULL, "x", &d, NULL), 0);
	cr_expect_eq(d.log_ppm, 1000000);
	af_policy_view_free(v);
	af_registry_free(r);
	af_bundle_free(b);
	af_free(p);
}

Test(replay, region_allowed)
{
	struct af_request req;
	struct af_request_error re;
	bool ok = false;

	cr_assert_eq(pf_request("{\"workflow_id\":\"w\",\"tenant\":\"t\","
				"\"class\":\"underwriting\",\"sensitivity\":"
				"\"restricted\"}",
				&req, &re),
		     0);
	cr_assert_eq(af_policy_view_region_allowed(view, &req, false,
						   "eu-west-1", &ok),
		     0);
	cr_expect(ok);
	cr_assert_eq(af_policy_view_region_allowed(view, &req, false,
						   "us-east-1", &ok),
		     0);
	cr_expect_not(ok);
	cr_assert_eq(pf_request(REQ, &req, &re), 0);
	cr_assert_eq(af_policy_view_region_allowed(view, &req, false,
						   "us-east-1", &ok),
		     0);
	cr_expect(ok);
	snprintf(req.class_name, sizeof(req.class_name), "nope");
	cr_expect_eq(af_policy_view_region_allowed(view, &req, false,
						   "us-east-1", &ok),
		     AF_ENOTFOUND);
}

/* Strings are escaped eight bytes at a time: every character that needs
 * an escape, at every offset of strings of every length up to 40, comes
 * back unchanged through a JSON parser. */
Test(replay, request_json_escapes_at_every_offset)
{
	static const char special[] = {'"', '\\', 1, 0x1f, '\n'};
	struct af_request req;
	char buf[4096];
	size_t n;

	for (size_t len = 1; len <= 40; len++)
		for (size_t at = 0; at < len; at++)
			for (size_t k = 0; k < sizeof(special); k++) {
				json_t *o, *got;
				json_error_t je;

				af_request_init(&req);
				memset(req.tenant, 'a', len);
				req.tenant[len] = '\0';
				req.tenant[at] = special[k];
				/* bytes of UTF-8 beside it stay as they are */
				if (at + 2 < len)
					memcpy(req.tenant + at + 1, "\xc3\xa9",
					       2);
				snprintf(req.workflow_id,
					 sizeof(req.workflow_id), "w");
				snprintf(req.class_name, sizeof(req.class_name),
					 "c");
				cr_assert_eq(af_request_json(&req, NULL, 0, buf,
							     sizeof(buf), &n),
					     0);
				o = json_loadb(buf, n, 0, &je);
				cr_assert_not_null(o, "%s: %s", buf, je.text);
				got = json_object_get(o, "tenant");
				cr_expect_str_eq(json_string_value(got),
						 req.tenant, "len %zu at %zu",
						 len, at);
				json_decref(o);
			}
}

/* Packing (the shadow queue's): a request and a record come back from
 * their bytes in use the same, a cut or bad buffer is refused, and the
 * packed forms are a small part of the structs. */
Test(replay, pack_round_trip)
{
	static struct af_live_rec rec, rec2;
	static struct af_request req, req2;
	static uint8_t
		buf[sizeof(struct af_request) + sizeof(struct af_live_rec)];
	struct fake f = {.inflight = 2,
			 .cool_pair = 1,
			 .cool_ms = 900,
			 .lat_base = 5,
			 .stale_ms = 42};
	struct af_live in = fake_live(&f), live;
	struct af_request_error re;
	struct af_decision d;
	char a[8192], b[8192];
	size_t na, nb, n, m;

	cr_assert_eq(
		pf_request("{\"workflow_id\":\"wf-1\",\"tenant\":\"t\\\"x\","
			   "\"class\":\"research-agent\",\"region\":"
			   "\"eu-west-1\",\"input_tokens\":12,"
			   "\"needs\":[\"tools\",\"json\"],\"labels\":"
			   "{\"cost_center\":\"cc-9\",\"product\":\"p\"}}",
			   &req, &re),
		0, "%s", re.message);
	af_live_rec_wrap(&rec, &in, view, &live);
	cr_assert_eq(af_decide(view, &req, &live, "x", &d, NULL), 0);
	af_live_rec_finish(&rec, &d);
	rec.stale_ms = 42;
	n = af_request_pack(&req, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	cr_expect_lt(n, sizeof(req) / 20, "%zu bytes packed", n);
	m = af_live_rec_pack(&rec, buf + n, sizeof(buf) - n);
	cr_assert_gt(m, 0);
	cr_expect_lt(m, sizeof(rec) / 10, "%zu bytes packed", m);
	memset(&req2, 0x5a, sizeof(req2));
	memset(&rec2, 0x5a, sizeof(rec2));
	cr_assert_eq(af_request_unpack(buf, n, &req2), n);
	cr_assert_eq(af_live_rec_unpack(buf + n, m, &rec2), m);
	cr_assert_eq(af_request_json(&req, NULL, 0, a, sizeof(a), &na), 0);
	cr_assert_eq(af_request_json(&req2, NULL, 0, b, sizeof(b), &nb), 0);
	cr_expect_str_eq(b, a);
	cr_assert_eq(af_live_rec_json(&rec, a, sizeof(a), &na), 0);
	cr_assert_eq(af_live_rec_json(&rec2, b, sizeof(b), &nb), 0);
	cr_expect_str_eq(b, a);
	cr_expect_eq(rec2.v, view);
	cr_expect_eq(rec2.nlanes, rec.nlanes);
	/* every cut of the bytes is refused, never read past */
	for (size_t cut = 0; cut < n; cut++)
		cr_expect_eq(af_request_unpack(buf, cut, &req2), 0, "cut %zu",
			     cut);
	for (size_t cut = 0; cut < m; cut++)
		cr_expect_eq(af_live_rec_unpack(buf + n, cut, &rec2), 0,
			     "cut %zu", cut);
	/* a buffer too small to pack into */
	cr_expect_eq(af_request_pack(&req, buf, n - 1), 0);
	cr_expect_eq(af_live_rec_pack(&rec, buf, m - 1), 0);
}
