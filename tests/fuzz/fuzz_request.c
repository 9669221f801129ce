/* libFuzzer target: request JSON parsing, then a decision and its JSON
 * body on the example view. */
#include "policy/policy.h"
#include "tests/lib/policy_fixture.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct af_policy_view *view;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct af_request req;
	struct af_request_error re;
	struct af_decision d;
	struct af_explain_rule rules[8];
	struct af_explain_cand cands[8];
	struct af_explain x = {
		.rules = rules, .rules_cap = 8, .cands = cands, .cands_cap = 8};
	struct af_err err;
	char body[4096], text[8192];
	size_t n;

	if (view == NULL &&
	    pf_view(pf_example_policy, pf_example_models, &view, &err) != 0)
		__builtin_trap();
	if (af_request_parse_json((const char *)data, size, &req, &re) != 0) {
		if (af_error_json(re.code, re.message, re.field, body,
				  sizeof(body), &n) != 0)
			__builtin_trap();
		return 0;
	}
	if (af_decide(view, &req, NULL, "fuzz", &d, &x) != 0)
		return 0;
	if (af_decision_json(&d, body, sizeof(body), &n) != 0)
		__builtin_trap();
	af_explain_text(&x, text, sizeof(text));
	return 0;
}
