/* routerd's W3C trace context (routerd/trace.c) and the OTLP exporter's
 * decision path (routerd/otlp.c): which traceparent headers are taken,
 * the trace id spliced into the decision body, and that parsing,
 * splicing and queueing a span allocate nothing. */
#include "common/alloc.h"
#include "common/metrics.h"
#include "common/timeutil.h"
#include "routerd/otlp.h"
#include "routerd/trace.h"
#include "tests/lib/alloc_check.h"
#include "tests/lib/policy_fixture.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

TestSuite(trace, .init = af_test_alloc_begin, .fini = af_test_alloc_end);

Test(trace, valid_headers)
{
	struct routerd_trace t;

	cr_assert(routerd_trace_parse(TP, "congo=t61rcWkgMzE", &t));
	cr_expect_str_eq(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
	cr_expect_str_eq(t.parent_id, "00f067aa0ba902b7");
	cr_expect_eq(t.flags, 1);
	cr_expect_str_eq(t.state, "congo=t61rcWkgMzE");
	/* a later version may carry more after a dash */
	cr_expect(routerd_trace_parse(
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-x",
		NULL, &t));
	cr_expect_str_eq(t.state, "");
}

Test(trace, invalid_headers_are_ignored)
{
	static const char *const bad[] = {
		"",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
		"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
	};
	struct routerd_trace t;
	char big[600];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect(!routerd_trace_parse(bad[i], "a=b", &t), "%s",
			  bad[i]);
	cr_expect(!routerd_trace_parse(NULL, NULL, &t));
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert(routerd_trace_parse(TP, big, &t));
	cr_expect_str_eq(t.state, "", "an over-long tracestate is dropped");
	cr_assert(routerd_trace_parse(TP, "a=b\n", &t));
	cr_expect_str_eq(t.state, "");
}

Test(trace, splice_into_the_decision)
{
	struct routerd_trace t;
	char body[128] = "{\"decision\":\"route\"}";
	size_t n = strlen(body);
	json_t *j;

	cr_assert(!routerd_trace_parse("nope", NULL, &t));
	cr_expect_eq(routerd_trace_splice(&t, body, sizeof(body), n), n);
	cr_assert(routerd_trace_parse(TP, NULL, &t));
	n = routerd_trace_splice(&t, body, sizeof(body), n);
	cr_expect_eq(n, strlen(body));
	j = json_loads(body, 0, NULL);
	cr_assert_not_null(j, "%s", body);
	cr_expect_str_eq(json_string_value(json_object_get(j, "trace_id")),
			 "4bf92f3577b34da6a3ce929d0e0e4736");
	json_decref(j);
	/* no room: unchanged */
	cr_expect_eq(routerd_trace_splice(&t, body, n + 10, n), n);
}

Test(trace, decision_path_allocates_nothing)
{
	struct af_policy_view *view;
	struct routerd_otlp *o;
	struct routerd_trace t;
	struct af_request req;
	struct af_request_error re;
	struct af_decision d;
	struct af_err err = {{0}};
	struct af_textbuf b = {0};
	char body[4096];
	size_t n;
	unsigned long before;

	cr_assert_eq(pf_view(pf_example_policy, pf_example_models, &view, &err),
		     0, "%s", err.msg);
	cr_assert_eq(pf_request("{\"workflow_id\":\"w\",\"tenant\":\"t\","
				"\"class\":\"research-agent\"}",
				&req, &re),
		     0);
	/* nothing listens on port 9: every export fails, fast */
	cr_assert_eq(routerd_otlp_new("http://127.0.0.1:9", "r1", &o, &err), 0,
		     "%s", err.msg);
	before = af_alloc_count();
	for (int i = 0; i < 1000; i++) {
		cr_assert_eq(af_decide(view, &req, NULL, "r1-1", &d, NULL), 0);
		cr_assert_eq(af_decision_json(&d, body, sizeof(body), &n), 0);
		n = routerd_otlp_trace(o, i % 2 ? TP : NULL, "a=b", &t, &req,
				       &d, body, sizeof(body), n, af_mono_ns());
	}
	cr_expect_eq(af_alloc_count(), before);
	routerd_otlp_flush(o);
	routerd_otlp_metrics(o, &b);
	cr_assert(!b.failed);
	cr_expect_not_null(strstr(b.buf, "af_routerd_otlp_queue_spans 0\n"),
			   "%s", b.buf);
	cr_expect_null(strstr(b.buf, "reason=\"export_failed\"} 0\n"), "%s",
		       b.buf);
	af_textbuf_free(&b);
	routerd_otlp_free(o);
	af_policy_view_free(view);
}

Test(trace, bad_endpoints_are_refused)
{
	static const char *const bad[] = {"127.0.0.1:4318", "ftp://x",
					  "http://",	    "http:///v1/traces",
					  "http://h:1/a b", "http://h/?q=1"};
	struct routerd_otlp *o = (void *)1;
	struct af_err err = {{0}};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(routerd_otlp_new(bad[i], "r1", &o, &err),
			     AF_EINVAL, "%s", bad[i]);
		cr_expect_null(o);
		cr_expect_not_null(strstr(err.msg, "--otlp-endpoint"), "%s",
				   err.msg);
	}
}
