/* The fast request parser against the reference (jansson) one: the same
 * answer for every body, values or refusal, and on the usual bodies no
 * allocation and nothing of struct af_request written past what the body
 * carries. */
#include "common/alloc.h"
#include "policy/policy.h"
#include "policy/request_json.h"
#include "tests/lib/policy_fixture.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OK3 "\"workflow_id\":\"w\",\"tenant\":\"t\",\"class\":\"c\""

static unsigned long json_allocs;

static void *count_malloc(size_t n)
{
	json_allocs++;
	return malloc(n);
}

/* Both parsers on one body: the same return, the same values or the
 * same refusal (status, code, field, message). */
static void same(const char *buf, size_t len)
{
	static struct af_request a, b;
	struct af_request_error ea = {0}, eb = {0};
	int ra, rb;

	af_request_init(&a);
	af_request_init(&b);
	ra = af_request_parse_json(buf, len, &a, &ea);
	rb = af_request_parse_json_ref(buf, len, &b, &eb);
	cr_assert_eq(ra, rb, "%.*s: %d vs %d", (int)len, buf, ra, rb);
	if (ra != 0) {
		cr_assert_eq(ea.http_status, eb.http_status, "%.*s", (int)len,
			     buf);
		cr_assert_str_eq(ea.code, eb.code, "%.*s", (int)len, buf);
		cr_assert_str_eq(ea.field, eb.field, "%.*s", (int)len, buf);
		cr_assert_str_eq(ea.message, eb.message, "%.*s", (int)len, buf);
		return;
	}
	cr_assert_str_eq(a.workflow_id, b.workflow_id);
	cr_assert_str_eq(a.tenant, b.tenant);
	cr_assert_str_eq(a.class_name, b.class_name);
	cr_assert_str_eq(a.sensitivity, b.sensitivity);
	cr_assert_str_eq(a.agent_role, b.agent_role);
	cr_assert_str_eq(a.region, b.region, "%.*s", (int)len, buf);
	cr_assert_eq(a.latency_slo_ms, b.latency_slo_ms);
	cr_assert_eq(a.max_cost_micro_usd, b.max_cost_micro_usd, "%.*s",
		     (int)len, buf);
	cr_assert_eq(a.input_tokens, b.input_tokens);
	cr_assert_eq(a.output_tokens, b.output_tokens);
	cr_assert_eq(a.fanout, b.fanout);
	cr_assert_eq(a.tool_calls, b.tool_calls);
	cr_assert_eq(a.attempt, b.attempt);
	cr_assert_eq(a.nneeds, b.nneeds, "%.*s", (int)len, buf);
	for (size_t i = 0; i < a.nneeds; i++)
		cr_assert_str_eq(a.needs[i], b.needs[i]);
	cr_assert_eq(a.nlabels, b.nlabels, "%.*s", (int)len, buf);
	for (size_t i = 0; i < a.nlabels; i++) {
		cr_assert_str_eq(a.labels[i].key, b.labels[i].key);
		cr_assert_str_eq(a.labels[i].value, b.labels[i].value);
	}
}

static void same_str(const char *s)
{
	same(s, strlen(s));
}

static const char *const corpus[] = {
	"{" OK3 "}",
	" \t\r\n{ " OK3 " } \n",
	"{" OK3 ",\"sensitivity\":\"s\",\"agent_role\":\"a\","
	"\"latency_slo_ms\":5,\"max_cost_usd\":0.25,\"input_tokens\":7,"
	"\"output_tokens\":8,\"needs\":[\"x\",\"y\"],\"region\":\"eu\","
	"\"fanout\":1,\"tool_calls\":2,\"attempt\":3,"
	"\"labels\":{\"team\":\"blue\",\"b\":\"c\"},\"unknown\":[1,2]}",
	"{" OK3 ",\"max_cost_usd\":1}",
	"{" OK3 ",\"max_cost_usd\":0.0000005}",
	"{" OK3 ",\"max_cost_usd\":0.0000015}",
	"{" OK3 ",\"max_cost_usd\":1e6}",
	"{" OK3 ",\"max_cost_usd\":1000000.0000001}",
	"{" OK3 ",\"max_cost_usd\":-0}",
	"{" OK3 ",\"max_cost_usd\":-0.0}",
	"{" OK3 ",\"max_cost_usd\":1E-400}",
	"{" OK3 ",\"max_cost_usd\":1e400}",
	"{" OK3 ",\"max_cost_usd\":null}",
	"{" OK3 ",\"fanout\":-0}",
	"{" OK3 ",\"fanout\":01}",
	"{" OK3 ",\"fanout\":1000000000}",
	"{" OK3 ",\"fanout\":1000000001}",
	"{" OK3 ",\"fanout\":99999999999999999999}",
	"{" OK3 ",\"fanout\":1.0}",
	"{" OK3 ",\"fanout\":1e2}",
	"{" OK3 ",\"fanout\":-}",
	"{" OK3 ",\"fanout\":1.}",
	"{" OK3 ",\"fanout\":.5}",
	"{" OK3 ",\"fanout\":+1}",
	"{" OK3 ",\"fanout\":null,\"fanout\":1}",
	"{" OK3 ",\"input_tokens\":1000000000}",
	"{" OK3 ",\"needs\":[]}",
	"{" OK3 ",\"needs\":null}",
	"{" OK3 ",\"needs\":[\"\"]}",
	"{" OK3 ",\"needs\":[\"a\",]}",
	"{" OK3 ",\"needs\":[\"a\" \"b\"]}",
	"{" OK3 ",\"labels\":{}}",
	"{" OK3 ",\"labels\":{\"a\":\"b\",\"a\":\"c\"}}",
	"{" OK3 ",\"labels\":{\"\":\"b\"}}",
	"{" OK3 ",\"labels\":{\"a\":null}}",
	"{" OK3 ",\"labels\":{\"a\":\"\"}}",
	"{" OK3 ",\"region\":\"caf\xc3\xa9\"}",
	"{" OK3 ",\"region\":\"\xc3\"}",
	"{" OK3 ",\"region\":\"\xc0\xaf\"}",
	"{" OK3 ",\"region\":\"\xed\xa0\x80\"}",
	"{" OK3 ",\"region\":\"\xf4\x90\x80\x80\"}",
	"{" OK3 ",\"region\":\"\xf0\x9f\x98\x80\"}",
	"{" OK3 ",\"region\":\"a\\\"b\"}",
	"{" OK3 ",\"region\":\"\\u00e9\"}",
	"{" OK3 ",\"region\":\"\\u0000\"}",
	"{" OK3 ",\"region\":\"a\tb\"}",
	"{" OK3 ",\"x\":\"\\q\"}",
	"{" OK3 ",\"x\":\"\\n\\t\\/\"}",
	"{" OK3 ",\"x\":\"\\ud800\"}",
	"{" OK3 ",\"x\":[[[]],true,false,null,-1.5e+3,\"s\"]}",
	"{" OK3 ",\"x\":{\"a\":1,\"a\":2}}",
	"{" OK3 ",\"x\":{\"a\":1}}",
	"{" OK3 ",\"x\":1,\"x\":2}",
	"{" OK3 ",\"x\":tru}",
	"{" OK3 ",\"x\":truex}",
	"{" OK3 ",\"x\":nul}",
	"{" OK3 ",\"\":1}",
	"{" OK3 ",\"\xff\":1}",
	"{" OK3 ",\"class\":\"d\"}",
	"{" OK3 "}x",
	"{" OK3 "}{}",
	"{" OK3 ",}",
	"{," OK3 "}",
	"{}",
	"[]",
	"",
	"   ",
	"null",
	"{\"workflow_id\":\"w\",\"tenant\":\"t\"}",
	"{\"workflow_id\":\"w\",\"tenant\":\"t\",\"class\":null}",
	"{\"workflow_id\":\"w\",\"tenant\":\"t\",\"class\":1}",
	"{\"workflow_id\":\"w\",\"tenant\":\"t\",\"class\":\"\"}",
	"{\"workflow_id\":\"w\",\"tenant\":\"t\",\"class\":\"c\",\"tenant\":1}",
	"{\"workflow_id\":\"w\",\"tenant\":\"t\",\"class\":\"c\",\"region\":1}",
	("{\"workflow_id\":\"w\",\"tenant\":\"t\",\"class\":\"c\","
	 "\"fanout\":-1,\"region\":1}"),
};

Test(request_json, corpus_matches_reference)
{
	for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++)
		same_str(corpus[i]);
	same_str(pf_example_request);
	/* An embedded NUL and a body cut anywhere. */
	same("{" OK3 ",\"x\":\"a\0b\"}",
	     sizeof("{" OK3 ",\"x\":\"a\0b\"}") - 1);
	for (size_t n = 0; n <= strlen(pf_example_request); n++)
		same(pf_example_request, n);
}

Test(request_json, bounds_match_reference)
{
	static char big[AF_REQ_MAX_BODY + 100];
	char *p;

	for (int len = 255; len <= 257; len++) {
		p = big + sprintf(big, "{" OK3 ",\"region\":\"");
		memset(p, 'r', (size_t)len);
		strcpy(p + len, "\"}");
		same_str(big);
	}
	for (int len = 63; len <= 65; len++) {
		p = big + sprintf(big, "{" OK3 ",\"labels\":{\"");
		memset(p, 'k', (size_t)len);
		strcpy(p + len, "\":\"v\"}}");
		same_str(big);
	}
	for (int n = 15; n <= 17; n++) {
		p = big + sprintf(big, "{" OK3 ",\"needs\":[");
		for (int i = 0; i < n; i++)
			p += sprintf(p, "%s\"n%d\"", i ? "," : "", i);
		strcpy(p, "]}");
		same_str(big);
		p = big + sprintf(big, "{" OK3 ",\"labels\":{");
		for (int i = 0; i < n; i++)
			p += sprintf(p, "%s\"k%d\":\"v\"", i ? "," : "", i);
		strcpy(p, "}}");
		same_str(big);
	}
	for (int n = 31; n <= 33; n++) {
		p = big + sprintf(big, "{" OK3);
		for (int i = 0; i < n; i++)
			p += sprintf(p, ",\"u%d\":%d", i, i);
		strcpy(p, "}");
		same_str(big);
	}
	for (int d = 15; d <= 17; d++) {
		p = big + sprintf(big, "{" OK3 ",\"x\":");
		memset(p, '[', (size_t)d);
		memset(p + d, ']', (size_t)d);
		strcpy(p + 2 * d, "}");
		same_str(big);
	}
	memset(big, ' ', sizeof(big) - 1);
	big[0] = '{';
	strcpy(big + AF_REQ_MAX_BODY - 20, OK3 "}");
	same(big, AF_REQ_MAX_BODY + 1);
	same(big, strlen(big));
}

/* Random edits of valid bodies: a byte changed, dropped or repeated. */
Test(request_json, mutations_match_reference)
{
	static const char alphabet[] = "{}[]:,\"\\ 0123456789.-+eEtrufalsn\xc3"
				       "\xa9\xff\t\n";
	const char *seeds[] = {corpus[2], pf_example_request, corpus[1]};
	char buf[2048];
	unsigned seed = 42;

	for (int i = 0; i < 60000; i++) {
		const char *s = seeds[i % 3];
		size_t n = strlen(s), at;

		memcpy(buf, s, n);
		for (int edits = 1 + rand_r(&seed) % 3; edits > 0; edits--) {
			at = (size_t)rand_r(&seed) % n;
			switch (rand_r(&seed) % 3) {
			case 0:
				buf[at] = alphabet[(size_t)rand_r(&seed) %
						   (sizeof(alphabet) - 1)];
				break;
			case 1:
				memmove(buf + at, buf + at + 1, n - at - 1);
				n--;
				break;
			default:
				memmove(buf + at + 1, buf + at, n - at);
				n++;
				break;
			}
		}
		same(buf, n);
	}
}

/* The usual body: no allocation (jansson's nor ours), and only the fields
 * the body carries are written (no clear or copy of the whole struct). */
Test(request_json, fast_path_writes_only_what_it_reads)
{
	static struct af_request r;
	struct af_request_error e;
	unsigned long before = af_alloc_count();

	json_set_alloc_funcs(count_malloc, free);
	memset(&r, 0xAA, sizeof(r));
	cr_assert_eq(af_request_parse_json(pf_example_request,
					   strlen(pf_example_request), &r, &e),
		     0);
	cr_assert_eq(json_allocs, 0, "jansson allocated %lu times",
		     json_allocs);
	cr_assert_eq(af_alloc_count(), before);
	cr_assert_eq(r.fanout, 6);
	cr_assert_eq(r.attempt, AF_REQ_ABSENT);
	cr_assert_str_eq(r.region, "");
	cr_assert_eq(r.nneeds, 1);
	cr_assert_str_eq(r.needs[0], "tools");
	cr_assert_eq(r.nlabels, 0);
	cr_assert_eq((unsigned char)r.needs[AF_REQ_MAX_NEEDS - 1][0], 0xAA);
	cr_assert_eq((unsigned char)r.labels[AF_REQ_MAX_LABELS - 1].value[9],
		     0xAA);
	/* A refusal leaves *ret as it was. */
	memset(&r, 0x55, sizeof(r));
	cr_assert_eq(af_request_parse_json("{" OK3 ",\"fanout\":-1}",
					   strlen("{" OK3 ",\"fanout\":-1}"),
					   &r, &e),
		     AF_EPARSE);
	cr_assert_eq(r.nneeds, (size_t)0x5555555555555555ull);
	json_set_alloc_funcs(malloc, free);
}
