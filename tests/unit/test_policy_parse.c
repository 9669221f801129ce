/* Policy bundle and model registry parsing: accepted forms, every lint
 * error with its exact file:line:col, warnings and bounds. */
#include "tests/lib/alloc_check.h"
#include "common/alloc.h"
#include "policy/policy.h"
#include "tests/lib/policy_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

/* Line numbers are those of this text. */
static const char base[] =
	"apiVersion: af/v1\n"				      /* 1 */
	"kind: Policy\n"				      /* 2 */
	"name: t\n"					      /* 3 */
	"tiers: [big, small]\n"				      /* 4 */
	"lanes:\n"					      /* 5 */
	"  l1: { max_inflight: 4 }\n"			      /* 6 */
	"classes:\n"					      /* 7 */
	"  c1:\n"					      /* 8 */
	"    lane: l1\n"				      /* 9 */
	"rules:\n"					      /* 10 */
	"  - name: r1\n"				      /* 11 */
	"    when: { class: c1 }\n"			      /* 12 */
	"    route: { tier: big, fallback_tiers: [small] }\n" /* 13 */
	"  - name: last\n"				      /* 14 */
	"    route: { tier: small }\n";			      /* 15 */

static int compile(const char *text, struct af_bundle **b, struct af_err *e)
{
	memset(e, 0, sizeof(*e));
	return af_bundle_compile("t.yaml", text, strlen(text), b, e);
}

static void expect_error(const char *text, const char *msg)
{
	struct af_bundle *b = NULL;
	struct af_err e;
	int rc = compile(text, &b, &e);

	cr_assert_neq(rc, 0, "accepted:\n%s", text);
	cr_assert_null(b);
	cr_assert_str_eq(e.msg, msg);
}

/* Replaces `from` by `to` in base and expects msg. */
static void expect_edit(const char *from, const char *to, const char *msg)
{
	char *t = pf_replace(base, from, to);

	cr_assert_not_null(t, "\"%s\" not in base", from);
	expect_error(t, msg);
	af_free(t);
}

TestSuite(policy_parse, .init = af_test_alloc_begin, .fini = af_test_alloc_end);

Test(policy_parse, base_and_examples_are_valid)
{
	struct af_bundle *b = NULL;
	struct af_registry *r = NULL;
	struct af_err e;

	cr_assert_eq(compile(base, &b, &e), 0, "%s", e.msg);
	cr_assert_eq(af_bundle_nwarnings(b), 0);
	cr_assert_str_eq(af_bundle_name(b), "t");
	cr_assert_eq(af_bundle_nrules(b), 2);
	af_bundle_free(b);
	cr_assert_eq(compile(pf_example_policy, &b, &e), 0, "%s", e.msg);
	cr_assert_eq(af_bundle_nrules(b), 7);
	cr_assert_eq(strncmp(af_bundle_hash(b), "sha256:", 7), 0);
	cr_assert_eq(strlen(af_bundle_hash(b)), 7 + 64);
	af_bundle_free(b);
	cr_assert_eq(af_registry_compile("m.yaml", pf_example_models,
					 strlen(pf_example_models), &r, &e),
		     0, "%s", e.msg);
	cr_assert_eq(af_registry_nmodels(r), 5);
	af_registry_free(r);
}

Test(policy_parse, reference_errors)
{
	expect_edit("tier: big,", "tier: bog,",
		    "t.yaml:13:20: unknown tier \"bog\"");
	expect_edit("[small] }", "[smol] }",
		    "t.yaml:13:42: unknown tier \"smol\"");
	expect_edit(
		"[small] }", "[big] }",
		"t.yaml:13:42: fallback tier \"big\" is the rule's own tier");
	expect_edit("    lane: l1\n", "    lane: l2\n",
		    "t.yaml:9:11: unknown lane \"l2\"");
	expect_edit("{ class: c1 }", "{ class: c9 }",
		    "t.yaml:12:20: unknown class \"c9\"");
	expect_edit("{ class: c1 }", "{ class: [c1, c9] }",
		    "t.yaml:12:20: unknown class \"c9\"");
	expect_edit("{ tier: small }", "{ tier: tiny }",
		    "t.yaml:15:20: unknown tier \"tiny\"");
}

Test(policy_parse, class_without_lane)
{
	expect_edit("    lane: l1\n", "    max_fanout: 2\n",
		    "t.yaml:8:3: class \"c1\" has no lane");
}

Test(policy_parse, duplicates)
{
	expect_edit("name: last", "name: r1",
		    "t.yaml:14:11: duplicate rule name \"r1\"");
	expect_edit("[big, small]", "[big, big]",
		    "t.yaml:4:14: tiers: duplicate \"big\"");
	expect_edit("  l1: { max_inflight: 4 }\n",
		    "  l1: { max_inflight: 4 }\n  l1: { max_inflight: 5 }\n",
		    "t.yaml:7:3: lanes: duplicate name \"l1\"");
	expect_edit("    lane: l1\n", "    lane: l1\n  c1:\n    lane: l1\n",
		    "t.yaml:10:3: classes: duplicate name \"c1\"");
	expect_edit("{ class: c1 }", "{ class: [c1, c1] }",
		    "t.yaml:12:25: class: duplicate \"c1\"");
	expect_edit("    lane: l1\n", "    lane: l1\n    lane: l1\n",
		    "t.yaml:10:5: duplicate key \"lane\"");
}

Test(policy_parse, unknown_keys_and_types)
{
	expect_edit("name: t\n", "name: t\ncolour: red\n",
		    "t.yaml:4:1: unknown key \"colour\"");
	expect_edit("    lane: l1\n", "    lane: l1\n    speed: 3\n",
		    "t.yaml:10:5: unknown key \"speed\"");
	expect_edit("{ class: c1 }", "{ klass: c1 }",
		    "t.yaml:12:13: unknown key \"klass\"");
	expect_edit("{ class: c1 }", "{ fanout: { lt: 3, around: 2 } }",
		    "t.yaml:12:30: unknown key \"around\"");
	expect_edit("name: t\n", "name: [t]\n",
		    "t.yaml:3:7: name: expected a string, got a list");
	expect_edit("max_inflight: 4", "max_inflight: four",
		    "t.yaml:6:23: max_inflight: expected an integer, got "
		    "\"four\"");
	expect_edit("max_inflight: 4", "max_inflight: 0",
		    "t.yaml:6:23: max_inflight: 0 is out of range [1, "
		    "1000000000]");
	expect_edit("    lane: l1\n",
		    "    lane: l1\n    max_cost_usd: 0.0000001\n",
		    "t.yaml:10:19: max_cost_usd: \"0.0000001\" has more "
		    "decimal places than supported");
	expect_edit("    lane: l1\n", "    lane: l1\n    critical: maybe\n",
		    "t.yaml:10:15: critical: expected true or false, got "
		    "\"maybe\"");
	expect_edit("kind: Policy", "kind: Models",
		    "t.yaml:2:7: kind: expected Policy, got \"Models\"");
	expect_edit("apiVersion: af/v1", "apiVersion: af/v2",
		    "t.yaml:1:13: apiVersion: expected af/v1, got \"af/v2\"");
	expect_edit(
		"    route: { tier: small }\n", "",
		"t.yaml:14:5: rule \"last\": needs exactly one of route and "
		"deny");
	expect_edit("    route: { tier: small }\n",
		    "    deny: { code: no-way }\n",
		    "t.yaml:15:19: code: expected 1 to 64 of A-Z, 0-9 and _");
	expect_edit("{ class: c1 }", "{ class: { eq: [c1] } }",
		    "t.yaml:12:26: class.eq: expected a string");
	expect_edit("rules:\n", "degrade: { soft_budget: sometimes }\nrules:\n",
		    "t.yaml:10:25: soft_budget: expected step_down or none, "
		    "got \"sometimes\"");
}

Test(policy_parse, syntax_and_empty)
{
	struct af_bundle *b = NULL;
	struct af_err e;

	expect_error("", "t.yaml:1:1: empty document");
	expect_error("# only a comment\n", "t.yaml:1:1: empty document");
	expect_error("[]\n", "t.yaml:1:1: policy: expected a mapping, got a "
			     "list");
	cr_assert_neq(compile("name: [unclosed\n", &b, &e), 0);
	cr_assert(strstr(e.msg, "t.yaml:2:1: YAML syntax:") == e.msg, "%s",
		  e.msg);
	expect_error("a: &x 1\nb: *x\n", "t.yaml:1:4: anchors are not "
					 "supported");
	expect_edit("rules:\n", "",
		    "t.yaml:10:3: YAML syntax: did not find expected key");
}

Test(policy_parse, missing_required)
{
	expect_edit("name: t\n", "", "t.yaml:1:1: policy: missing name");
	expect_edit("tiers: [big, small]\n", "",
		    "t.yaml:1:1: policy: missing tiers");
}

static char *many_rules(size_t n)
{
	size_t cap = 200 + n * 64;
	char *t = af_malloc(cap), *p = t;

	p += sprintf(p, "apiVersion: af/v1\nkind: Policy\nname: t\n"
			"tiers: [a]\nrules:\n");
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "  - { name: r%zu, route: { tier: a } }\n", i);
	return t;
}

Test(policy_parse, bounds)
{
	struct af_bundle *b = NULL;
	struct af_err e;
	char *t = many_rules(AF_POLICY_MAX_RULES), name[300], want[64];

	cr_assert_eq(compile(t, &b, &e), 0, "%s", e.msg);
	/* Every rule after the first is unreachable: warnings are capped. */
	cr_assert_eq(af_bundle_nwarnings(b), 8);
	af_bundle_free(b);
	af_free(t);
	t = many_rules(AF_POLICY_MAX_RULES + 1);
	snprintf(want, sizeof(want), "t.yaml:6:3: rules: more than %d items",
		 AF_POLICY_MAX_RULES);
	expect_error(t, want);
	af_free(t);
	memset(name, 'x', sizeof(name));
	memcpy(name, "name: ", 6);
	strcpy(name + 6 + 257, "\n");
	expect_edit("name: t\n", name,
		    "t.yaml:3:7: name: longer than 256 bytes");
	/* Over AF_POLICY_MAX_BYTES: refused before parsing. */
	t = af_malloc(AF_POLICY_MAX_BYTES + 2);
	memset(t, '#', AF_POLICY_MAX_BYTES + 1);
	cr_assert_eq(
		af_bundle_compile("t.yaml", t, AF_POLICY_MAX_BYTES + 1, &b, &e),
		AF_ETOOBIG);
	af_free(t);
	t = pf_replace(base, "{ class: c1 }",
		       "{ region: [a1,a2,a3,a4,a5,a6,a7,a8,a9,a10,a11,a12,a13,"
		       "a14,a15,a16,a17,a18,a19,a20,a21,a22,a23,a24,a25,a26,"
		       "a27,a28,a29,a30,a31,a32,a33,a34,a35,a36,a37,a38,a39,"
		       "a40,a41,a42,a43,a44,a45,a46,a47,a48,a49,a50,a51,a52,"
		       "a53,a54,a55,a56,a57,a58,a59,a60,a61,a62,a63,a64,a65] "
		       "}");
	expect_error(t, "t.yaml:12:21: region: more than 64 items");
	af_free(t);
}

Test(policy_parse, catch_all_warning)
{
	char *t = pf_replace(
		base, "  - name: last\n    route: { tier: small }\n", "");
	struct af_bundle *b = NULL;
	struct af_err e;

	cr_assert_eq(compile(t, &b, &e), 0, "%s", e.msg);
	cr_assert_eq(af_bundle_nwarnings(b), 1);
	cr_assert_str_eq(af_bundle_warning(b, 0),
			 "t.yaml:11:5: warning: last rule \"r1\" is not a "
			 "catch-all: requests that match no rule are denied "
			 "NO_MATCHING_RULE");
	af_bundle_free(b);
	af_free(t);
}

/* ------------------------------------------------------------ models */

static const char models[] = "apiVersion: af/v1\n"	   /* 1 */
			     "kind: Models\n"		   /* 2 */
			     "models:\n"		   /* 3 */
			     "  - id: m1\n"		   /* 4 */
			     "    provider: p\n"	   /* 5 */
			     "    tier: big\n"		   /* 6 */
			     "    regions: [r1, r2]\n"	   /* 7 */
			     "    context_limit: 1000\n"   /* 8 */
			     "    capabilities: [json]\n"  /* 9 */
			     "    usd_per_1k_input: 0.5\n" /* 10 */
			     "    usd_per_1k_output: 1\n"  /* 11 */
			     "    status: active\n";	   /* 12 */

static void expect_models(const char *from, const char *to, const char *msg)
{
	char *t = pf_replace(models, from, to);
	struct af_registry *r = NULL;
	struct af_err e = {{0}};

	cr_assert_not_null(t, "\"%s\" not in models", from);
	cr_assert_neq(af_registry_compile("m.yaml", t, strlen(t), &r, &e), 0,
		      "accepted:\n%s", t);
	cr_assert_str_eq(e.msg, msg);
	af_free(t);
}

Test(policy_parse, model_errors)
{
	const char *block = models + strlen("apiVersion: af/v1\n"
					    "kind: Models\n"
					    "models:\n");
	char dup[1024];
	struct af_registry *r = NULL;
	struct af_err e = {{0}};

	snprintf(dup, sizeof(dup), "%s%s", models, block);
	cr_assert_neq(af_registry_compile("m.yaml", dup, strlen(dup), &r, &e),
		      0);
	cr_assert_str_eq(e.msg, "m.yaml:13:9: duplicate model id \"m1\"");
	expect_models("    status: active\n",
		      "    status: active\n    colour: red\n",
		      "m.yaml:13:5: unknown key \"colour\"");
	expect_models("status: active", "status: retired",
		      "m.yaml:12:13: status: expected active, deprecated or "
		      "disabled, got \"retired\"");
	expect_models("    context_limit: 1000\n", "",
		      "m.yaml:4:5: model: missing context_limit");
	expect_models("0.5", "0.0000005",
		      "m.yaml:10:23: usd_per_1k_input: \"0.0000005\" has more "
		      "decimal places than supported");
	expect_models("[r1, r2]", "[r1, r1]",
		      "m.yaml:7:19: regions: duplicate \"r1\"");
	expect_models("[r1, r2]", "[]",
		      "m.yaml:7:14: regions: must not be empty");
	expect_models("context_limit: 1000", "context_limit: big",
		      "m.yaml:8:20: context_limit: expected an integer, got "
		      "\"big\"");
	expect_models("kind: Models\n", "kind: Models\nextra: 1\n",
		      "m.yaml:3:1: unknown key \"extra\"");
	expect_models("    tier: big\n", "    tier: [big]\n",
		      "m.yaml:6:11: tier: expected a string, got a list");
}

Test(policy_parse, model_bounds)
{
	size_t cap = (AF_POLICY_MAX_MODELS + 1) * 120 + 100;
	char *t = af_malloc(cap), *p = t, want[64];
	struct af_registry *r = NULL;
	struct af_err e = {{0}};

	p += sprintf(p, "apiVersion: af/v1\nkind: Models\nmodels:\n");
	for (int i = 0; i < AF_POLICY_MAX_MODELS + 1; i++)
		p += sprintf(p,
			     "- {id: m%d, provider: p, tier: t, regions: [r], "
			     "context_limit: 9, usd_per_1k_input: 0, "
			     "usd_per_1k_output: 0}\n",
			     i);
	cr_assert_neq(af_registry_compile("m.yaml", t, strlen(t), &r, &e), 0);
	snprintf(want, sizeof(want), "m.yaml:4:1: models: more than %d items",
		 AF_POLICY_MAX_MODELS);
	cr_assert_str_eq(e.msg, want);
	af_free(t);
}

/* Every allocation failure is reported (never a crash) and leaks
 * nothing (ASan checks the latter under make SANITIZE=1). */
Test(policy_parse, allocation_failures)
{
	struct af_bundle *b = NULL;
	struct af_err e;
	bool ok = false;

	for (long n = 0; !ok && n < 5000; n++) {
		af_alloc_fail_after(n, 0);
		ok = compile(pf_example_policy, &b, &e) == 0;
		af_alloc_fail_after(-1, 0);
	}
	cr_assert(ok);
	af_bundle_free(b);
}

/* showback.dimensions: label keys only, at most 4, file:line:col errors
 * (tests/cluster/showback.sh groups by them). */
Test(policy_parse, showback_dimensions)
{
	char *t;
	struct af_bundle *b = NULL;
	struct af_err e;

	t = af_malloc(sizeof(base) + 128);
	cr_assert_not_null(t);
	snprintf(t, sizeof(base) + 128, "%sshowback:\n  dimensions: [tenant]\n",
		 base);
	expect_error(t, "t.yaml:17:16: showback.dimensions: \"tenant\" is not "
			"a label dimension: write labels.KEY (KEY 1 to 64 "
			"bytes, no '=')");
	snprintf(t, sizeof(base) + 128,
		 "%sshowback:\n  dimensions: [labels.a, labels.b, labels.c, "
		 "labels.d, labels.e]\n",
		 base);
	compile(t, &b, &e);
	cr_assert_null(b);
	cr_expect(strstr(e.msg, "t.yaml:17:15:") != NULL, "%s", e.msg);
	snprintf(t, sizeof(base) + 128, "%sshowback:\n  dims: []\n", base);
	compile(t, &b, &e);
	cr_assert_null(b);
	cr_expect(strstr(e.msg, "t.yaml:17:3:") != NULL, "%s", e.msg);
	snprintf(t, sizeof(base) + 128,
		 "%sshowback:\n  dimensions: [labels.product, "
		 "labels.cost_center]\n",
		 base);
	cr_assert_eq(compile(t, &b, &e), 0, "%s", e.msg);
	af_bundle_free(b);
	af_free(t);
}
