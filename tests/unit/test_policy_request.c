/* Request bodies (HTTP 400/413/422 with the field) and error bodies. */
#include "tests/lib/alloc_check.h"
#include "policy/policy.h"
#include "tests/lib/policy_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static void refused(const char *json, int status, const char *code,
		    const char *field)
{
	struct af_request r;
	struct af_request_error e = {0};

	cr_assert_eq(pf_request(json, &r, &e), AF_EPARSE, "accepted %s", json);
	cr_assert_eq(e.http_status, status, "%s: %d %s", json, e.http_status,
		     e.message);
	cr_assert_str_eq(e.code, code, "%s", json);
	cr_assert_str_eq(e.field, field, "%s", json);
}

#define OK3 "\"workflow_id\":\"w\",\"tenant\":\"t\",\"class\":\"c\""

TestSuite(policy_request, .init = af_test_alloc_begin,
	  .fini = af_test_alloc_end);

Test(policy_request, parses_every_field)
{
	struct af_request r;
	struct af_request_error e;

	cr_assert_eq(pf_request("{" OK3 ",\"sensitivity\":\"s\","
				"\"agent_role\":\"a\",\"latency_slo_ms\":5,"
				"\"max_cost_usd\":0.25,\"input_tokens\":7,"
				"\"output_tokens\":8,\"needs\":[\"x\",\"y\"],"
				"\"region\":\"eu\",\"fanout\":1,"
				"\"tool_calls\":2,\"attempt\":3,"
				"\"labels\":{\"team\":\"blue\"},"
				"\"unknown\":[1,2]}",
				&r, &e),
		     0, "%s", e.message);
	cr_assert_str_eq(r.workflow_id, "w");
	cr_assert_str_eq(r.class_name, "c");
	cr_assert_str_eq(r.region, "eu");
	cr_assert_eq(r.latency_slo_ms, 5);
	cr_assert_eq(r.max_cost_micro_usd, 250000);
	cr_assert_eq(r.input_tokens, 7);
	cr_assert_eq(r.attempt, 3);
	cr_assert_eq(r.nneeds, 2);
	cr_assert_str_eq(r.needs[1], "y");
	cr_assert_eq(r.nlabels, 1);
	cr_assert_str_eq(r.labels[0].key, "team");
	cr_assert_str_eq(r.labels[0].value, "blue");
	cr_assert_eq(pf_request("{" OK3 ",\"max_cost_usd\":1}", &r, &e), 0);
	cr_assert_eq(r.max_cost_micro_usd, 1000000);
	cr_assert_eq(r.fanout, AF_REQ_ABSENT);
	cr_assert_str_eq(r.sensitivity, "");
}

Test(policy_request, malformed_and_missing_is_400)
{
	refused("", 400, "MALFORMED_JSON", "");
	refused("{", 400, "MALFORMED_JSON", "");
	refused("{\"a\":1,}", 400, "MALFORMED_JSON", "");
	refused("[1]", 400, "MALFORMED_JSON", "");
	refused("\"x\"", 400, "MALFORMED_JSON", "");
	refused("{" OK3 "} trailing", 400, "MALFORMED_JSON", "");
	refused("{" OK3 ",\"tenant\":\"u\"}", 400, "MALFORMED_JSON", "");
	refused("{\"tenant\":\"t\",\"class\":\"c\"}", 400, "MISSING_FIELD",
		"workflow_id");
	refused("{\"workflow_id\":\"w\",\"class\":\"c\"}", 400, "MISSING_FIELD",
		"tenant");
	refused("{\"workflow_id\":\"w\",\"tenant\":\"t\",\"fanout\":\"x\"}",
		400, "MISSING_FIELD", "class");
	refused("{\"workflow_id\":null,\"tenant\":\"t\",\"class\":\"c\"}", 400,
		"MISSING_FIELD", "workflow_id");
}

Test(policy_request, wrong_types_are_422)
{
	refused("{\"workflow_id\":5,\"tenant\":\"t\",\"class\":\"c\"}", 422,
		"WRONG_TYPE", "workflow_id");
	refused("{" OK3 ",\"fanout\":\"2\"}", 422, "WRONG_TYPE", "fanout");
	refused("{" OK3 ",\"fanout\":2.5}", 422, "WRONG_TYPE", "fanout");
	refused("{" OK3 ",\"max_cost_usd\":\"1\"}", 422, "WRONG_TYPE",
		"max_cost_usd");
	refused("{" OK3 ",\"needs\":\"tools\"}", 422, "WRONG_TYPE", "needs");
	refused("{" OK3 ",\"needs\":[1]}", 422, "WRONG_TYPE", "needs");
	refused("{" OK3 ",\"labels\":[]}", 422, "WRONG_TYPE", "labels");
	refused("{" OK3 ",\"labels\":{\"a\":1}}", 422, "WRONG_TYPE", "labels");
	refused("{" OK3 ",\"sensitivity\":true}", 422, "WRONG_TYPE",
		"sensitivity");
	refused("{" OK3 ",\"input_tokens\":-1}", 422, "INVALID_FIELD",
		"input_tokens");
	refused("{" OK3 ",\"max_cost_usd\":-0.5}", 422, "INVALID_FIELD",
		"max_cost_usd");
	refused("{\"workflow_id\":\"\",\"tenant\":\"t\",\"class\":\"c\"}", 422,
		"INVALID_FIELD", "workflow_id");
}

Test(policy_request, bounds)
{
	char big[AF_REQ_MAX_BODY + 100], *p;

	p = big + sprintf(big, "{" OK3 ",\"region\":\"");
	memset(p, 'r', 257);
	strcpy(p + 257, "\"}");
	refused(big, 422, "INVALID_FIELD", "region");
	p = big + sprintf(big, "{" OK3 ",\"needs\":[");
	for (int i = 0; i < 17; i++)
		p += sprintf(p, "%s\"n%d\"", i ? "," : "", i);
	strcpy(p, "]}");
	refused(big, 422, "INVALID_FIELD", "needs");
	p = big + sprintf(big, "{" OK3 ",\"labels\":{");
	for (int i = 0; i < 17; i++)
		p += sprintf(p, "%s\"k%d\":\"v\"", i ? "," : "", i);
	strcpy(p, "}}");
	refused(big, 422, "INVALID_FIELD", "labels");
	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	refused(big, 413, "BODY_TOO_LARGE", "");
}

Test(policy_request, error_bodies)
{
	char buf[256];
	size_t n;

	cr_assert_eq(af_error_json("MISSING_FIELD", "tenant is \"required\"",
				   "tenant", buf, sizeof(buf), &n),
		     0);
	cr_assert_str_eq(buf, "{\"error\":{\"code\":\"MISSING_FIELD\","
			      "\"message\":\"tenant is \\\"required\\\"\","
			      "\"field\":\"tenant\"}}");
	cr_assert_eq(n, strlen(buf));
	cr_assert_eq(af_error_json("MALFORMED_JSON", "bad\n", NULL, buf,
				   sizeof(buf), &n),
		     0);
	cr_assert_str_eq(buf, "{\"error\":{\"code\":\"MALFORMED_JSON\","
			      "\"message\":\"bad\\u000a\"}}");
	cr_assert_eq(af_error_json("X", "y", NULL, buf, 10, &n), AF_ETOOBIG);
}

Test(policy_request, usd_formatting)
{
	char out[32];

	af_policy_fmt_usd(66240000, out);
	cr_assert_str_eq(out, "0.06624");
	af_policy_fmt_usd(0, out);
	cr_assert_str_eq(out, "0");
	af_policy_fmt_usd(2000000000, out);
	cr_assert_str_eq(out, "2");
	af_policy_fmt_usd(1, out);
	cr_assert_str_eq(out, "0.000000001");
	af_policy_fmt_usd(12345678901, out);
	cr_assert_str_eq(out, "12.345678901");
}
