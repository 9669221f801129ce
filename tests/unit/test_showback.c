/* Workflow showback: money strings and rounding, the cost buckets and
 * their percentile precision, the outcome body parser, label packing, and CSV
 * output (ended workflows summed into the usage rows: test_workflow.c). */
#include "cli/output.h"
#include "common/alloc.h"
#include "common/money.h"
#include "proto/af.pb-c.h"
#include "routerd/report.h"
#include "routerd/usage.h"
#include "routerd/workflow.h"
#include "tests/lib/policy_fixture.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test(money, exact_strings_and_rounding)
{
	char b[AF_MONEY_LEN];

	cr_expect_str_eq(af_money_str(0, b), "0.000000");
	cr_expect_str_eq(af_money_str(1, b), "0.000001");
	cr_expect_str_eq(af_money_str(2770000, b), "2.770000");
	cr_expect_str_eq(af_money_str(-1500001, b), "-1.500001");
	cr_expect_str_eq(af_money_str(INT64_MAX, b), "9223372036854.775807");
	cr_expect_str_eq(af_money_str(INT64_MIN, b), "-9223372036854.775808");
	cr_expect_eq(af_money_micro_of_nano(499), 0);
	cr_expect_eq(af_money_micro_of_nano(500), 1);
	cr_expect_eq(af_money_micro_of_nano(1234567), 1235);
	cr_expect_eq(af_money_micro_of_nano(-1500), -2);
	cr_expect_eq(af_money_micro_of_nano(INT64_MIN), -9223372036854776);
	cr_expect_eq(af_money_micro_of_usd(0.1), 100000);
	cr_expect_eq(af_money_micro_of_usd(NAN), 0);
	cr_expect_eq(af_money_micro_of_usd(1e300), INT64_MAX);
}

Test(costhist, buckets_bound_the_percentile_error)
{
	uint64_t h[AF_COSTHIST_BUCKETS];
	int64_t v[1000], lo = INT64_MAX, hi = 0;

	cr_expect_eq(af_costhist_index(0), 0);
	cr_expect_eq(af_costhist_index(1), 1);
	cr_expect_eq(af_costhist_index(INT64_MAX), AF_COSTHIST_BUCKETS - 1);
	for (int64_t m = 1; m < 1000000000000LL; m = m * 3 + 1)
		cr_expect_leq(af_costhist_index(m), af_costhist_index(m + 1));
	/* one cost: exact */
	memset(h, 0, sizeof(h));
	h[af_costhist_index(123456)] = 7;
	cr_expect_eq(af_costhist_percentile(h, AF_COSTHIST_BUCKETS, 50, 123456,
					    123456),
		     123456);
	/* random costs over six decades: within 4.4% of the true value */
	srand(7);
	memset(h, 0, sizeof(h));
	for (int i = 0; i < 1000; i++) {
		v[i] = (int64_t)pow(10, 1 + 6.0 * rand() / RAND_MAX);
		h[af_costhist_index(v[i])]++;
		lo = v[i] < lo ? v[i] : lo;
		hi = v[i] > hi ? v[i] : hi;
	}
	for (int i = 1; i < 1000; i++)
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			int64_t x = v[j];

			v[j] = v[j - 1];
			v[j - 1] = x;
		}
	for (unsigned p = 5; p <= 100; p += 5) {
		int64_t want = v[(1000 * p + 99) / 100 - 1];
		int64_t got = af_costhist_percentile(h, AF_COSTHIST_BUCKETS, p,
						     lo, hi);

		cr_expect_leq(fabs((double)(got - want)),
			      (double)want * 0.0443 + 1, "p%u: %lld want %lld",
			      p, (long long)got, (long long)want);
	}
	memset(h, 0, sizeof(h));
	cr_expect_eq(af_costhist_percentile(h, AF_COSTHIST_BUCKETS, 50, 0, 0),
		     0);
}

Test(showback, labels_packed_in_dimension_order)
{
	const char *dims[] = {"cost_center", "product"};
	const char *kv[] = {"product", "claims",      "team",
			    "x",       "cost_center", "A"};
	char out[64];
	size_t n = routerd_workflow_labels(dims, 2, kv, 3, out, sizeof(out));

	cr_assert_eq(n, sizeof("cost_center=A") + sizeof("product=claims"));
	cr_expect_str_eq(out, "cost_center=A");
	cr_expect_str_eq(out + sizeof("cost_center=A"), "product=claims");
	/* what does not fit is left out */
	cr_expect_eq(routerd_workflow_labels(dims, 2, kv, 3, out, 20),
		     sizeof("cost_center=A"));
	cr_expect_eq(routerd_workflow_labels(dims, 0, kv, 3, out, 20), 0);
}

/* ------------------------------------------------------ outcome body */

static int parse(const char *body, struct routerd_outcome *o,
		 struct routerd_report_error *e, json_t **root)
{
	*root = json_loads(body, 0, NULL);
	cr_assert_not_null(*root, "%s", body);
	return routerd_outcome_parse(*root, o, e);
}

Test(showback, outcome_parse)
{
	static const struct {
		const char *body, *code, *field;
		int status;
	} bad[] = {
		{"[]", "MALFORMED_JSON", NULL, 400},
		{"{\"tenant\":\"t\",\"class\":\"c\",\"outcome\":\"success\"}",
		 "MISSING_FIELD", "workflow_id", 400},
		{"{\"workflow_id\":\"w\",\"tenant\":\"t\",\"class\":\"c\"}",
		 "MISSING_FIELD", "outcome", 400},
		{"{\"workflow_id\":\"w\",\"tenant\":\"t\",\"class\":\"c\","
		 "\"outcome\":\"ok\"}",
		 "INVALID_FIELD", "outcome", 422},
		{"{\"workflow_id\":\"w\",\"tenant\":\"t\",\"class\":3,"
		 "\"outcome\":\"failed\"}",
		 "WRONG_TYPE", "class", 422},
		{"{\"workflow_id\":\"w\",\"tenant\":\"t\",\"class\":\"c\","
		 "\"outcome\":\"failed\",\"human_review_usd\":2e6}",
		 "INVALID_FIELD", "human_review_usd", 422},
		{"{\"workflow_id\":\"w\",\"tenant\":\"t\",\"class\":\"c\","
		 "\"outcome\":\"failed\",\"labels\":[]}",
		 "WRONG_TYPE", "labels", 422},
		{"{\"workflow_id\":\"w\",\"tenant\":\"t\",\"class\":\"c\","
		 "\"outcome\":\"failed\",\"labels\":{\"k\":\"\"}}",
		 "INVALID_FIELD", "labels", 422},
	};
	struct routerd_outcome o;
	struct routerd_report_error e;
	json_t *root;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_neq(parse(bad[i].body, &o, &e, &root), 0, "%s",
			      bad[i].body);
		cr_expect_str_eq(e.code, bad[i].code, "%s", bad[i].body);
		cr_expect_eq(e.http_status, bad[i].status, "%s", bad[i].body);
		if (bad[i].field != NULL)
			cr_expect_str_eq(e.field, bad[i].field, "%s",
					 bad[i].body);
		json_decref(root);
	}
	cr_assert_eq(parse("{\"workflow_id\":\"w\",\"tenant\":\"t\",\"class\":"
			   "\"c\",\"outcome\":\"abandoned\",\"tool_cost_usd\":"
			   "0.25,\"labels\":{\"cost_center\":\"A\"},"
			   "\"other\":1}",
			   &o, &e, &root),
		     0);
	cr_expect_eq(o.outcome, ROUTERD_WORKFLOW_ABANDONED);
	cr_expect_eq(o.tool_nano, 250000000);
	cr_expect_eq(o.human_nano, 0);
	cr_assert_eq(o.nlabels, 1);
	cr_expect_str_eq(o.labels[0][0], "cost_center");
	cr_expect_str_eq(o.labels[0][1], "A");
	json_decref(root);
}

/* --------------------------------------------------------------- CSV */

Test(showback, csv_rfc4180)
{
	json_t *doc = json_pack(
		"[{s:s, s:i, s:f, s:n, s:b}, {s:s, s:i, s:f, s:n, s:b}]", "k",
		"a,\"b\"", "n", 3, "r", 0.5, "z", "t", 1, "k", "plain", "n", -1,
		"r", 0.0, "z", "t", 0);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	cr_assert_eq(af_out_csv(f, doc), 0);
	fclose(f);
	cr_expect_str_eq(text, "k,n,r,z,t\r\n\"a,\"\"b\"\"\",3,0.5,,true\r\n"
			       "plain,-1,0,,false\r\n");
	free(text);
	json_decref(doc);
	doc = json_pack("[{s:{}}]", "nested");
	f = open_memstream(&text, &len);
	cr_expect_eq(af_out_csv(f, doc), AF_EXIT_USAGE);
	fclose(f);
	free(text);
	json_decref(doc);
}

/* ------------------------------------------------------ price versions */

static const char pv_policy[] =
	"apiVersion: af/v1\nkind: Policy\nname: p\n"
	"tiers: [mid]\nlanes:\n  l: { max_inflight: 9 }\n"
	"classes:\n  c: { lane: l }\n"
	"rules:\n  - name: all\n    route: { tier: mid }\n";

static char *models_with(const char *prices)
{
	static const char head[] =
		"apiVersion: af/v1\nkind: Models\nmodels:\n"
		"- id: m1\n  provider: p\n  tier: mid\n  regions: [eu]\n"
		"  context_limit: 100000\n";
	size_t n = sizeof(head) + strlen(prices) + 1;
	char *s = af_malloc(n);

	cr_assert_not_null(s);
	snprintf(s, n, "%s%s", head, prices);
	return s;
}

/* The version in force at the view's building prices decisions and
 * reports; cached input tokens at their own price; the next change is
 * known. */
Test(showback, price_versions_and_cached_input)
{
	char *m = models_with(
		"  prices:\n"
		"  - { effective: 2020-01-01T00:00:00Z, usd_per_1k_input: 1,"
		" usd_per_1k_output: 2 }\n"
		"  - { effective: 2021-06-01T00:00:00Z, usd_per_1k_input: 0.5,"
		" usd_per_1k_output: 1.5, usd_per_1k_cached_input: 0.1 }\n"
		"  - { effective: 2099-01-01T00:00:00Z, usd_per_1k_input: 9,"
		" usd_per_1k_output: 9 }\n");
	struct af_policy_view *v = NULL;
	struct af_request req;
	struct af_request_error rerr;
	struct af_decision d;
	struct af_err e;
	int64_t nano = 0;

	cr_assert_eq(pf_view(pv_policy, m, &v, &e), 0, "%s", e.msg);
	/* 2,000 input (1,000 cached), 1,000 output at the 2021 prices */
	cr_assert_eq(
		af_policy_view_cost_cached(v, "m1", 2000, 1000, 1000, &nano),
		0);
	cr_expect_eq(nano, 1000 * 500000 + 1000 * 100000 + 1000 * 1500000);
	cr_expect_eq(af_policy_view_cost_cached(v, "m1", 10, 11, 0, &nano),
		     AF_EINVAL);
	cr_expect_eq(af_policy_view_next_price_ms(v), 4070908800000LL);
	cr_assert_eq(pf_request("{\"workflow_id\":\"w\",\"tenant\":\"t\","
				"\"class\":\"c\",\"input_tokens\":2000,"
				"\"cached_input_tokens\":1000,"
				"\"output_tokens\":1000}",
				&req, &rerr),
		     0);
	cr_assert_eq(af_decide(v, &req, NULL, "d1", &d, NULL), 0);
	cr_expect_eq(d.est_cost_nano_usd, 2100000000);
	cr_expect_neq(pf_request("{\"workflow_id\":\"w\",\"tenant\":\"t\","
				 "\"class\":\"c\",\"input_tokens\":10,"
				 "\"cached_input_tokens\":11}",
				 &req, &rerr),
		      0);
	cr_expect_str_eq(rerr.code, "INVALID_FIELD");
	cr_expect_str_eq(rerr.field, "cached_input_tokens");
	af_policy_view_free(v);
	af_free(m);
	/* flat prices: cached defaults to the input price; no next change */
	m = models_with("  usd_per_1k_input: 1\n  usd_per_1k_output: 2\n");
	cr_assert_eq(pf_view(pv_policy, m, &v, &e), 0, "%s", e.msg);
	cr_assert_eq(af_policy_view_cost_cached(v, "m1", 1000, 500, 0, &nano),
		     0);
	cr_expect_eq(nano, 1000 * 1000000);
	cr_expect_eq(af_policy_view_next_price_ms(v), 0);
	af_policy_view_free(v);
	af_free(m);
}

static void price_error(const char *prices, const char *want)
{
	char *m = models_with(prices);
	struct af_registry *r = NULL;
	struct af_err e;

	memset(&e, 0, sizeof(e));
	cr_expect_neq(af_registry_compile("m.yaml", m, strlen(m), &r, &e), 0,
		      "accepted: %s", prices);
	cr_expect_null(r);
	cr_expect(strstr(e.msg, want) != NULL, "%s: want %s", e.msg, want);
	af_registry_free(r);
	af_free(m);
}

Test(showback, price_version_errors)
{
	price_error("  usd_per_1k_input: 1\n  usd_per_1k_output: 2\n"
		    "  prices: [{ effective: 2020-01-01T00:00:00Z,"
		    " usd_per_1k_input: 1, usd_per_1k_output: 2 }]\n",
		    "m.yaml:9:21: model: give either prices: or the flat");
	price_error(
		"  prices:\n"
		"  - { effective: 2021-01-01T00:00:00Z, usd_per_1k_input: 1,"
		" usd_per_1k_output: 2 }\n"
		"  - { effective: 2020-01-01T00:00:00Z, usd_per_1k_input: 1,"
		" usd_per_1k_output: 2 }\n",
		"m.yaml:11:18: prices: effective times must grow");
	price_error("  prices:\n"
		    "  - { effective: yesterday, usd_per_1k_input: 1,"
		    " usd_per_1k_output: 2 }\n",
		    "m.yaml:10:18: effective: expected an RFC 3339 UTC time");
	price_error("  prices: []\n", "m.yaml:9:11: prices: must not be empty");
	price_error("  prices:\n  - { effective: 2020-01-01T00:00:00Z,"
		    " usd_per_1k_input: 1 }\n",
		    "usd_per_1k_output");
}
