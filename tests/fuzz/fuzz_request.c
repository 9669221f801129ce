/* libFuzzer target: request JSON parsing, then a decision and its JSON
 * body on the example view. Every input goes through both parsers, the
 * fast one and the jansson reference: same verdict, same error, and for
 * an accepted body the same decision, byte for byte. */
#include "policy/policy.h"
#include "policy/request_json.h"
#include "tests/lib/policy_fixture.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct af_policy_view *view;

/* The decision for req as JSON into buf: 0, 1 when af_decide refused. */
static int decide_json(const struct af_request *req, char *buf, size_t len,
		       size_t *ret_n, struct af_explain *x)
{
	struct af_decision d;

	if (af_decide(view, req, NULL, "fuzz", &d, x) != 0)
		return 1;
	if (af_decision_json(&d, buf, len, ret_n) != 0)
		__builtin_trap();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct af_request req, ref;
	struct af_request_error re, ref_re;
	struct af_explain_rule rules[8];
	struct af_explain_cand cands[8];
	struct af_explain x = {
		.rules = rules, .rules_cap = 8, .cands = cands, .cands_cap = 8};
	struct af_err err;
	char body[4096], ref_body[4096], text[8192];
	size_t n = 0, ref_n = 0;

	if (view == NULL &&
	    pf_view(pf_example_policy, pf_example_models, &view, &err) != 0)
		__builtin_trap();
	int rc = af_request_parse_json((const char *)data, size, &req, &re);
	int ref_rc = af_request_parse_json_ref((const char *)data, size, &ref,
					       &ref_re);

	if ((rc == 0) != (ref_rc == 0))
		__builtin_trap();
	if (rc != 0) {
		if (re.http_status != ref_re.http_status ||
		    strcmp(re.code, ref_re.code) != 0 ||
		    strcmp(re.field, ref_re.field) != 0 ||
		    strcmp(re.message, ref_re.message) != 0)
			__builtin_trap();
		if (af_error_json(re.code, re.message, re.field, body,
				  sizeof(body), &n) != 0)
			__builtin_trap();
		return 0;
	}
	if (decide_json(&ref, ref_body, sizeof(ref_body), &ref_n, NULL) !=
	    decide_json(&req, body, sizeof(body), &n, &x))
		__builtin_trap();
	if (n != ref_n || memcmp(body, ref_body, n) != 0)
		__builtin_trap();
	af_explain_text(&x, text, sizeof(text));
	return 0;
}
