/* libFuzzer target: the bundle compiler (YAML -> canonical bytes), the
 * loader of compiled bytes, and view building on the result. */
#include "policy/policy.h"
#include "tests/lib/policy_fixture.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct af_bundle *b = NULL, *b2 = NULL;
	struct af_registry *r = NULL;
	struct af_policy_view *v = NULL;
	struct af_err err;
	const uint8_t *bytes;
	size_t len;

	/* Raw bytes as compiled form: must be refused or validated. */
	if (af_bundle_load(data, size, &b2, &err) == 0)
		af_bundle_free(b2);
	b2 = NULL;
	if (af_registry_load(data, size, &r, &err) == 0)
		af_registry_free(r);
	r = NULL;
	if (af_registry_compile("f.yaml", (const char *)data, size, &r, &err) ==
	    0)
		af_registry_free(r);
	r = NULL;
	if (af_bundle_compile("f.yaml", (const char *)data, size, &b, &err) !=
	    0)
		return 0;
	bytes = af_bundle_bytes(b, &len);
	if (af_bundle_load(bytes, len, &b2, &err) != 0 ||
	    strcmp(af_bundle_hash(b), af_bundle_hash(b2)) != 0)
		__builtin_trap(); /* compiled bytes must load back */
	if (af_registry_compile("m.yaml", pf_example_models,
				strlen(pf_example_models), &r, &err) == 0) {
		struct af_policy_view_config cfg = {
			.stable = b,
			.canary = b2,
			.canary_weight_bp = 5000,
			.registry = r,
		};

		if (af_policy_view_new(&cfg, &v, &err) == 0) {
			struct af_request req;
			struct af_request_error re;
			struct af_decision d;

			if (af_request_parse_json(pf_example_request,
						  strlen(pf_example_request),
						  &req, &re) == 0)
				af_decide(v, &req, NULL, "f", &d, NULL);
			af_policy_view_free(v);
		}
	}
	af_registry_free(r);
	af_bundle_free(b2);
	af_bundle_free(b);
	return 0;
}
