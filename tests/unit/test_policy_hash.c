/* Version hashes: formatting, comments, key order and the order of
 * set-like lists do not change them; every semantic change does. Loading
 * compiled bytes validates them again. */
#include "tests/lib/alloc_check.h"
#include "common/alloc.h"
#include "policy/policy.h"
#include "proto/policy.pb-c.h"
#include "tests/lib/policy_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static void hash_of(const char *text, char out[80])
{
	struct af_bundle *b = NULL;
	struct af_err e = {{0}};

	cr_assert_eq(af_bundle_compile("p.yaml", text, strlen(text), &b, &e), 0,
		     "%s\n%s", e.msg, text);
	strcpy(out, af_bundle_hash(b));
	af_bundle_free(b);
}

static void models_hash(const char *text, char out[80])
{
	struct af_registry *r = NULL;
	struct af_err e = {{0}};

	cr_assert_eq(af_registry_compile("m.yaml", text, strlen(text), &r, &e),
		     0, "%s", e.msg);
	strcpy(out, af_registry_hash(r));
	af_registry_free(r);
}

/* Applies edits (pairs from, to) to the example policy in turn. */
static char *edit(const char *text, const char *const *pairs)
{
	char *cur = af_strdup(text);

	for (size_t i = 0; pairs[i] != NULL; i += 2) {
		char *next = pf_replace(cur, pairs[i], pairs[i + 1]);

		cr_assert_not_null(next, "\"%s\" not found", pairs[i]);
		af_free(cur);
		cur = next;
	}
	return cur;
}

static void expect_same(const char *const *pairs)
{
	char a[80], b[80], *t = edit(pf_example_policy, pairs);

	hash_of(pf_example_policy, a);
	hash_of(t, b);
	cr_assert_str_eq(a, b, "hash changed after \"%s\" -> \"%s\"", pairs[0],
			 pairs[1]);
	af_free(t);
}

static void expect_diff(const char *const *pairs)
{
	char a[80], b[80], *t = edit(pf_example_policy, pairs);

	hash_of(pf_example_policy, a);
	hash_of(t, b);
	cr_assert_str_neq(a, b, "hash unchanged after \"%s\" -> \"%s\"",
			  pairs[0], pairs[1]);
	af_free(t);
}

#define SAME(...) expect_same((const char *const[]){__VA_ARGS__, NULL})
#define DIFF(...) expect_diff((const char *const[]){__VA_ARGS__, NULL})

TestSuite(policy_hash, .init = af_test_alloc_begin, .fini = af_test_alloc_end);

Test(policy_hash, invariant_under_form)
{
	/* comments and blank lines */
	SAME("name: prod\n", "# the production policy\nname: prod   # yes\n\n");
	/* flow vs block style, quoting */
	SAME("  online-standard: { max_inflight: 256 }\n",
	     "  online-standard:\n    max_inflight: 256\n");
	SAME("tiers: [frontier, mid, small]",
	     "tiers:\n  - \"frontier\"\n  - 'mid'\n  - small\n");
	SAME("max_cost_usd: 0.50", "max_cost_usd: 0.5000");
	/* top-level key order */
	SAME("name: prod\n", "", "kind: Policy\n",
	     "kind: Policy\nname: prod\n");
	SAME("degrade:\n  lane_watermark: 0.85\n  soft_budget: step_down\n", "",
	     "apiVersion: af/v1\n",
	     "degrade:\n  soft_budget: step_down\n  lane_watermark: 0.85\n"
	     "apiVersion: af/v1\n");
	/* mapping order: lanes, classes, when keys, route keys */
	SAME("  online-interactive: { max_inflight: 64 }\n", "",
	     "  batch-offline: { max_inflight: 1024 }\n",
	     "  batch-offline: { max_inflight: 1024 }\n"
	     "  online-interactive: { max_inflight: 64 }\n");
	SAME("{ class: underwriting, sensitivity: restricted }",
	     "{ sensitivity: restricted, class: underwriting }");
	SAME("{ tier: frontier, fallback_tiers: [mid] }",
	     "{ fallback_tiers: [mid], tier: frontier }");
	SAME("    lane: online-interactive\n    latency_slo_ms: 1500\n",
	     "    latency_slo_ms: 1500\n    lane: online-interactive\n");
	/* set-like lists */
	SAME("internal: [eu-west-1, us-east-1]",
	     "internal: [us-east-1, eu-west-1]");
	SAME("[planner, verifier]", "[verifier, planner]");
	SAME("residency:\n  restricted: [eu-west-1]\n"
	     "  internal: [eu-west-1, us-east-1]\n",
	     "residency:\n  internal: [us-east-1, eu-west-1]\n"
	     "  restricted: [eu-west-1]\n");
	/* a scalar string condition is a one-element list */
	SAME("{ needs: [vision] }", "{ needs: vision }");
}

Test(policy_hash, sensitive_to_meaning)
{
	DIFF("name: prod", "name: prod2");
	DIFF("[frontier, mid, small]", "[frontier, small, mid]");
	DIFF("max_fallbacks: 3", "max_fallbacks: 2");
	DIFF("max_retries: 1\n", "max_retries: 2\n");
	DIFF("max_cost_usd: 0.50", "max_cost_usd: 0.51");
	DIFF("max_inflight: 64", "max_inflight: 65");
	DIFF("restricted: [eu-west-1]", "restricted: [us-east-1]");
	DIFF("fallback_tiers: [mid] }\n  - name: planners",
	     "fallback_tiers: [] }\n  - name: planners");
	DIFF("{ lt: 1500 }", "{ lte: 1500 }");
	DIFF("{ lt: 1500 }", "{ lt: 1501 }");
	DIFF("message: \"marketing may not see restricted data\"",
	     "message: \"no\"");
	DIFF("lane_watermark: 0.85", "lane_watermark: 0.8");
	DIFF("soft_budget: step_down", "soft_budget: none");
	DIFF("cooldown_s: 30", "cooldown_s: 31");
	DIFF("    critical: true\n", "    critical: false\n");
	DIFF("    critical: true\n", "");
	DIFF("  marketing:\n    lane: batch-offline\n",
	     "  marketing:\n    regions: [eu-west-1]\n    lane: "
	     "batch-offline\n");
	/* rule order */
	DIFF("  - name: tight-latency\n"
	     "    when: { latency_slo_ms: { lt: 1500 } }\n"
	     "    route: { tier: small, fallback_tiers: [mid] }\n",
	     "", "  - name: default\n",
	     "  - name: tight-latency\n"
	     "    when: { latency_slo_ms: { lt: 1500 } }\n"
	     "    route: { tier: small, fallback_tiers: [mid] }\n"
	     "  - name: default\n");
	/* fallback tier order is meaningful */
	DIFF("tiers: [frontier, mid, small]",
	     "tiers: [frontier, mid, small, x]");
}

Test(policy_hash, registry)
{
	char a[80], b[80], *t;

	models_hash(pf_example_models, a);
	t = pf_replace(pf_example_models, "capabilities: [tools, vision, json]",
		       "capabilities: [json, vision, tools]");
	models_hash(t, b);
	cr_assert_str_eq(a, b);
	af_free(t);
	t = pf_replace(pf_example_models, "usd_per_1k_input: 0.015",
		       "usd_per_1k_input: 0.016");
	models_hash(t, b);
	cr_assert_str_neq(a, b);
	af_free(t);
	/* Model order in the file does not matter: move atlas-large last. */
	{
		const char *start = strstr(pf_example_models, "  - id: atlas");
		const char *next = strstr(start + 5, "  - id:");
		size_t head = (size_t)(start - pf_example_models);
		char buf[4096];

		snprintf(buf, sizeof(buf), "%.*s%s%.*s", (int)head,
			 pf_example_models, next, (int)(next - start), start);
		models_hash(buf, b);
		cr_assert_str_eq(a, b);
	}
}

static ProtobufCAllocator *alloc = NULL;

static int reload(const uint8_t *bytes, size_t len)
{
	struct af_bundle *b = NULL;
	struct af_err e = {{0}};
	int rc = af_bundle_load(bytes, len, &b, &e);

	af_bundle_free(b);
	return rc;
}

/* Re-packs a modified message and checks the loader refuses it. */
static void expect_refused(Af__Policy__Bundle *pb)
{
	size_t len = af__policy__bundle__get_packed_size(pb);
	uint8_t *buf = af_malloc(len + 1);

	af__policy__bundle__pack(pb, buf);
	cr_assert_eq(reload(buf, len), AF_ECORRUPT);
	af_free(buf);
}

Test(policy_hash, load_validates_again)
{
	struct af_bundle *b = NULL, *b2 = NULL;
	struct af_err e = {{0}};
	const uint8_t *bytes;
	Af__Policy__Bundle *pb;
	size_t len;

	cr_assert_eq(af_bundle_compile("p.yaml", pf_example_policy,
				       strlen(pf_example_policy), &b, &e),
		     0);
	bytes = af_bundle_bytes(b, &len);
	cr_assert_eq(af_bundle_load(bytes, len, &b2, &e), 0, "%s", e.msg);
	cr_assert_str_eq(af_bundle_hash(b), af_bundle_hash(b2));
	af_bundle_free(b2);
	cr_assert_neq(reload(bytes, len - 3), 0);
	cr_assert_neq(reload((const uint8_t *)"\xff\xff\xff", 3), 0);

	pb = af__policy__bundle__unpack(alloc, len, bytes);
	cr_assert_not_null(pb);
	pb->rules[4]->when[0]->attr = 99; /* unknown enum value */
	expect_refused(pb);
	pb->rules[4]->when[0]->attr = AF__POLICY__ATTR__ATTR_LATENCY_SLO_MS;
	pb->rules[4]->when[0]->op = 42;
	expect_refused(pb);
	pb->rules[4]->when[0]->op = AF__POLICY__OP__OP_LT;
	{
		char nowhere[] = "nowhere", *old = pb->rules[6]->tier;

		pb->rules[6]->tier = nowhere; /* unknown tier */
		expect_refused(pb);
		pb->rules[6]->tier = old;
	}
	{
		Af__Policy__Lane *l = pb->lanes[0]; /* unsorted lanes */

		pb->lanes[0] = pb->lanes[1];
		pb->lanes[1] = l;
		expect_refused(pb);
		pb->lanes[1] = pb->lanes[0];
		pb->lanes[0] = l;
	}
	{
		char lane[] = "no-such-lane", *old = pb->classes[0]->lane;

		pb->classes[0]->lane = lane;
		expect_refused(pb);
		pb->classes[0]->lane = old;
	}
	af__policy__bundle__free_unpacked(pb, alloc);
	af_bundle_free(b);
}

Test(policy_hash, registry_load_validates_again)
{
	struct af_registry *r = NULL, *r2 = NULL;
	struct af_err e = {{0}};
	Af__Policy__Registry *pb;
	const uint8_t *bytes;
	uint8_t *buf;
	size_t len;

	cr_assert_eq(af_registry_compile("m.yaml", pf_example_models,
					 strlen(pf_example_models), &r, &e),
		     0);
	bytes = af_registry_bytes(r, &len);
	cr_assert_eq(af_registry_load(bytes, len, &r2, &e), 0, "%s", e.msg);
	cr_assert_str_eq(af_registry_hash(r), af_registry_hash(r2));
	af_registry_free(r2);
	pb = af__policy__registry__unpack(alloc, len, bytes);
	pb->models[0]->status = 7;
	buf = af_malloc(af__policy__registry__get_packed_size(pb));
	len = af__policy__registry__pack(pb, buf);
	cr_assert_eq(af_registry_load(buf, len, &r2, &e), AF_ECORRUPT);
	af_free(buf);
	af__policy__registry__free_unpacked(pb, alloc);
	af_registry_free(r);
}
