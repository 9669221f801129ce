/* POST /v1/report bodies (every field bounded, "ok" a real boolean) and
 * the decision table that attributes reports: lookups by sequence number,
 * replacement after ROUTERD_DECISIONS_MAX later decisions (counted as
 * dropped early within 10 minutes), long names; usage sums that
 * saturate instead of wrapping. */
#include "tests/lib/alloc_check.h"
#include "common/alloc.h"
#include "common/err.h"
#include "proto/af.pb-c.h"
#include "proto/alloc.h"
#include "routerd/report.h"
#include "routerd/usage.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

static int parse(const char *body, struct routerd_report *r,
		 struct routerd_report_error *e)
{
	json_t *root = json_loads(body, 0, NULL);
	int rc;

	cr_assert_not_null(root, "test body is not JSON: %s", body);
	rc = routerd_report_parse(root, r, e);
	/* Strings are borrowed from root: tests only look at numbers and
	 * presence after this. */
	json_decref(root);
	return rc;
}

static void refused(const char *body, int status, const char *code,
		    const char *field)
{
	struct routerd_report r;
	struct routerd_report_error e;

	cr_assert_eq(parse(body, &r, &e), AF_EPARSE, "accepted: %s", body);
	cr_expect_eq(e.http_status, status, "%s: status %d", body,
		     e.http_status);
	cr_expect_str_eq(e.code, code, "%s", body);
	if (field == NULL)
		cr_expect_null(e.field, "%s", body);
	else
		cr_expect_str_eq(e.field, field, "%s", body);
}

TestSuite(decisions, .init = af_test_alloc_begin, .fini = af_test_alloc_end);
TestSuite(report_parse, .init = af_test_alloc_begin, .fini = af_test_alloc_end);
TestSuite(usage, .init = af_test_alloc_begin, .fini = af_test_alloc_end);

Test(report_parse, minimal_report_is_decision_id_and_ok)
{
	struct routerd_report r;
	struct routerd_report_error e;

	cr_assert_eq(parse("{\"decision_id\":\"r-1\",\"ok\":false,"
			   "\"latency_ms\":12}",
			   &r, &e),
		     0, "%s", e.message);
	cr_expect(!r.ok);
	cr_expect_eq(r.latency_ms, 12);
	cr_expect_eq(r.revision, -1);
	cr_expect_eq(r.input_tokens, -1);
	cr_expect(!r.has_cost);
	cr_expect_null(r.tenant);
}

Test(report_parse, ok_must_be_a_boolean)
{
	refused("{\"decision_id\":\"x\"}", 400, "MISSING_FIELD", "ok");
	refused("{\"ok\":null}", 422, "WRONG_TYPE", "ok");
	refused("{\"ok\":1}", 422, "WRONG_TYPE", "ok");
	refused("{\"ok\":\"true\"}", 422, "WRONG_TYPE", "ok");
	refused("[1]", 400, "MALFORMED_JSON", NULL);
}

Test(report_parse, cost_is_finite_and_bounded)
{
	struct routerd_report r;
	struct routerd_report_error e;

	refused("{\"ok\":true,\"cost_usd\":1e300}", 422, "INVALID_FIELD",
		"cost_usd");
	refused("{\"ok\":true,\"cost_usd\":-0.01}", 422, "INVALID_FIELD",
		"cost_usd");
	refused("{\"ok\":true,\"cost_usd\":1000000.5}", 422, "INVALID_FIELD",
		"cost_usd");
	refused("{\"ok\":true,\"cost_usd\":\"1\"}", 422, "WRONG_TYPE",
		"cost_usd");
	cr_assert_eq(parse("{\"ok\":true,\"cost_usd\":1000000}", &r, &e), 0);
	cr_expect_eq(r.cost_nano_usd, ROUTERD_REPORT_MAX_COST_NANO);
	cr_assert_eq(parse("{\"ok\":true,\"cost_usd\":0.06624}", &r, &e), 0);
	cr_expect_eq(r.cost_nano_usd, 66240000);
}

Test(report_parse, every_number_is_bounded)
{
	refused("{\"ok\":true,\"latency_ms\":-1}", 422, "INVALID_FIELD",
		"latency_ms");
	refused("{\"ok\":true,\"latency_ms\":86400001}", 422, "INVALID_FIELD",
		"latency_ms");
	refused("{\"ok\":true,\"latency_ms\":1.5}", 422, "WRONG_TYPE",
		"latency_ms");
	refused("{\"ok\":true,\"input_tokens\":1000000001}", 422,
		"INVALID_FIELD", "input_tokens");
	refused("{\"ok\":true,\"output_tokens\":9223372036854775807}", 422,
		"INVALID_FIELD", "output_tokens");
	refused("{\"ok\":true,\"revision\":0}", 422, "INVALID_FIELD",
		"revision");
	refused("{\"ok\":true,\"tenant\":7}", 422, "WRONG_TYPE", "tenant");
	refused("{\"ok\":true,\"class\":\"\"}", 422, "INVALID_FIELD", "class");
}

Test(report_parse, long_strings_are_refused)
{
	char body[1024];
	char name[300];

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(body, sizeof(body), "{\"ok\":true,\"model\":\"%s\"}", name);
	refused(body, 422, "INVALID_FIELD", "model");
}

/* ----------------------------------------------------- decision table */

static struct af_decision decision(const char *model, const char *region,
				   uint64_t revision, bool canary)
{
	struct af_decision d;

	memset(&d, 0, sizeof(d));
	d.kind = AF_DECISION_ROUTE;
	d.primary.model = model;
	d.primary.region = region;
	d.revision = revision;
	d.canary = canary;
	return d;
}

Test(decisions, kept_by_sequence_number)
{
	struct routerd_decisions *t = NULL;
	struct routerd_decision_rec a;
	struct af_decision d = decision("swift-mid", "eu-west-1", 7, true);

	cr_assert_eq(routerd_decisions_new(&t), 0);
	routerd_decisions_put(t, 1000, &d, "claims-team", "research-agent",
			      5000, 0, NULL, 0);
	cr_assert(routerd_decisions_get(t, 1000, &a));
	cr_expect_str_eq(a.tenant, "claims-team");
	cr_expect_str_eq(a.class_name, "research-agent");
	cr_expect_str_eq(a.model, "swift-mid");
	cr_expect_str_eq(a.region, "eu-west-1");
	cr_expect_eq(a.revision, 7);
	cr_expect(a.canary);
	cr_expect(!routerd_decisions_get(t, 1001, &a), "unknown seq found");
	cr_expect(!routerd_decisions_get(t, 0, &a));
	routerd_decisions_free(t);
}

Test(decisions, replaced_after_a_full_ring)
{
	struct routerd_decisions *t = NULL;
	struct routerd_decision_rec a;
	struct af_decision d1 = decision("m1", "r1", 1, false);
	struct af_decision d2 = decision("m2", "r2", 2, false);
	uint64_t base = 12345;

	cr_assert_eq(routerd_decisions_new(&t), 0);
	routerd_decisions_put(t, base, &d1, "t1", "c1", 0, 0, NULL, 0);
	/* The same slot, 11 minutes later: kept long enough. */
	routerd_decisions_put(t, base + ROUTERD_DECISIONS_MAX, &d2, "t2", "c2",
			      11 * 60 * 1000, 0, NULL, 0);
	cr_expect(!routerd_decisions_get(t, base, &a), "replaced one found");
	cr_assert(routerd_decisions_get(t, base + ROUTERD_DECISIONS_MAX, &a));
	cr_expect_str_eq(a.tenant, "t2");
	cr_expect_eq(atomic_load(&routerd_decisions_stats(t)->dropped_early),
		     0);
	/* Replaced one minute after it was made: counted. */
	routerd_decisions_put(t, base + 2 * ROUTERD_DECISIONS_MAX, &d1, "t3",
			      "c3", 12 * 60 * 1000, 0, NULL, 0);
	cr_expect_eq(atomic_load(&routerd_decisions_stats(t)->dropped_early),
		     1);
	cr_expect_eq(atomic_load(&routerd_decisions_stats(t)->stored), 3);
	routerd_decisions_free(t);
}

Test(decisions, long_names_are_kept_whole)
{
	struct routerd_decisions *t = NULL;
	struct routerd_decision_rec a;
	char tenant[ROUTERD_KEY_MAX + 1], model[ROUTERD_KEY_MAX + 1];
	struct af_decision d;

	memset(tenant, 't', ROUTERD_KEY_MAX);
	tenant[ROUTERD_KEY_MAX] = '\0';
	memset(model, 'm', ROUTERD_KEY_MAX);
	model[ROUTERD_KEY_MAX] = '\0';
	d = decision(model, "eu", 3, false);
	cr_assert_eq(routerd_decisions_new(&t), 0);
	routerd_decisions_put(t, 9, &d, tenant, "c", 1, 0, NULL, 0);
	cr_assert(routerd_decisions_get(t, 9, &a));
	cr_expect_str_eq(a.tenant, tenant);
	cr_expect_str_eq(a.model, model);
	cr_expect_str_eq(a.region, "eu");
	/* Replaced by a short one: the long names' memory is released
	 * (the sanitizer build checks for leaks). */
	d = decision("m", "r", 4, false);
	routerd_decisions_put(t, 9 + ROUTERD_DECISIONS_MAX, &d, "t", "c", 2, 0,
			      NULL, 0);
	cr_assert(routerd_decisions_get(t, 9 + ROUTERD_DECISIONS_MAX, &a));
	cr_expect_str_eq(a.model, "m");
	routerd_decisions_free(t);
}

/* ------------------------------------------------------ usage sums */

Test(usage, sums_saturate_instead_of_wrapping)
{
	struct routerd_usage *u = NULL;
	Af__UsageReport *rep;
	uint8_t *buf = NULL;
	size_t len = 0;

	cr_assert_eq(routerd_usage_new(&u), 0);
	/* Bounded reports of 1e6 USD each: a flush that held ~9,300 of them
	 * would wrap. */
	for (int i = 0; i < 10000; i++)
		routerd_usage_record(u, 1, "t", "c", "m", NULL, 0, false, 1,
				     ROUTERD_REPORT_MAX_COST_NANO, -1);
	cr_assert_eq(routerd_usage_take(u, NULL, "r", &buf, &len), 0);
	cr_assert_not_null(buf);
	rep = af__usage_report__unpack(&af_pb_allocator, len, buf);
	cr_assert_not_null(rep);
	cr_assert_eq(rep->n_rows, 1);
	cr_expect_eq(rep->rows[0]->count, 10000);
	cr_expect_eq(rep->rows[0]->cost_nano_usd, INT64_MAX);
	cr_expect_eq(rep->rows[0]->failed_cost_nano_usd, INT64_MAX);
	af__usage_report__free_unpacked(rep, NULL);
	af_free(buf);
	routerd_usage_free(u);
}

Test(report_parse, quality_is_0_to_1_in_ppm_and_optional)
{
	struct routerd_report r;
	struct routerd_report_error e;

	cr_assert_eq(parse("{\"ok\":true,\"quality\":0.875}", &r, &e), 0, "%s",
		     e.message);
	cr_expect_eq(r.quality_ppm, 875000);
	cr_assert_eq(parse("{\"ok\":true,\"quality\":1}", &r, &e), 0);
	cr_expect_eq(r.quality_ppm, 1000000);
	cr_assert_eq(parse("{\"ok\":true}", &r, &e), 0);
	cr_expect_eq(r.quality_ppm, -1);
	refused("{\"ok\":true,\"quality\":1.01}", 422, "INVALID_FIELD",
		"quality");
	refused("{\"ok\":true,\"quality\":-0.5}", 422, "INVALID_FIELD",
		"quality");
	refused("{\"ok\":true,\"quality\":\"good\"}", 422, "WRONG_TYPE",
		"quality");
}

Test(usage, quality_is_summed_per_row_when_reported)
{
	struct routerd_usage *u;
	Af__UsageReport *rep;
	uint8_t *buf;
	size_t len;

	cr_assert_eq(routerd_usage_new(&u), 0);
	routerd_usage_record(u, 1, "t", "c", "m", NULL, 0, true, 1, 0, 900000);
	routerd_usage_record(u, 1, "t", "c", "m", NULL, 0, true, 1, 0, 600000);
	routerd_usage_record(u, 1, "t", "c", "m", NULL, 0, false, 1, 0, -1);
	cr_assert_eq(routerd_usage_take(u, NULL, "r", &buf, &len), 0);
	rep = af__usage_report__unpack(&af_pb_allocator, len, buf);
	cr_assert_not_null(rep);
	cr_assert_eq(rep->n_rows, 1);
	cr_expect_eq(rep->rows[0]->count, 3);
	cr_expect_eq(rep->rows[0]->quality_count, 2);
	cr_expect_eq(rep->rows[0]->quality_sum_ppm, 1500000);
	af__usage_report__free_unpacked(rep, NULL);
	af_free(buf);
	routerd_usage_free(u);
}
