/* Test and benchmark helpers for the policy engine (see the header). */
#include "tests/lib/policy_fixture.h"
#include "common/alloc.h"

#include <string.h>

const char pf_example_policy[] =
	"apiVersion: af/v1\n"
	"kind: Policy\n"
	"name: prod\n"
	"tiers: [frontier, mid, small]\n"
	"defaults:\n"
	"  sensitivity: internal\n"
	"  max_retries: 1\n"
	"  max_fallbacks: 3\n"
	"residency:\n"
	"  restricted: [eu-west-1]\n"
	"  internal: [eu-west-1, us-east-1]\n"
	"lanes:\n"
	"  online-interactive: { max_inflight: 64 }\n"
	"  online-standard: { max_inflight: 256 }\n"
	"  batch-offline: { max_inflight: 1024 }\n"
	"classes:\n"
	"  interactive-copilot:\n"
	"    lane: online-interactive\n"
	"    latency_slo_ms: 1500\n"
	"    max_cost_usd: 0.05\n"
	"    max_fanout: 2\n"
	"    max_tool_calls: 8\n"
	"    max_retries: 2\n"
	"  research-agent:\n"
	"    lane: online-standard\n"
	"    latency_slo_ms: 8000\n"
	"    max_cost_usd: 0.50\n"
	"    max_fanout: 24\n"
	"    max_tool_calls: 40\n"
	"  underwriting:\n"
	"    lane: online-standard\n"
	"    latency_slo_ms: 8000\n"
	"    max_cost_usd: 2.00\n"
	"    max_fanout: 8\n"
	"    critical: true\n"
	"  claims-reconciliation:\n"
	"    lane: batch-offline\n"
	"    latency_slo_ms: 3600000\n"
	"    max_cost_usd: 0.20\n"
	"    max_fanout: 64\n"
	"  marketing:\n"
	"    lane: batch-offline\n"
	"    latency_slo_ms: 60000\n"
	"    max_cost_usd: 0.02\n"
	"    max_fanout: 4\n"
	"rules:\n"
	"  - name: restricted-underwriting\n"
	"    when: { class: underwriting, sensitivity: restricted }\n"
	"    route: { tier: frontier, fallback_tiers: [] }\n"
	"  - name: no-restricted-marketing\n"
	"    when: { class: marketing, sensitivity: restricted }\n"
	"    deny: { code: POLICY_DENIED, message: \"marketing may not see "
	"restricted data\" }\n"
	"  - name: vision-needs-frontier\n"
	"    when: { needs: [vision] }\n"
	"    route: { tier: frontier, fallback_tiers: [mid] }\n"
	"  - name: planners-frontier\n"
	"    when: { agent_role: [planner, verifier] }\n"
	"    route: { tier: frontier, fallback_tiers: [mid] }\n"
	"  - name: tight-latency\n"
	"    when: { latency_slo_ms: { lt: 1500 } }\n"
	"    route: { tier: small, fallback_tiers: [mid] }\n"
	"  - name: cheap-hops\n"
	"    when: { max_cost_usd: { lt: 0.02 } }\n"
	"    route: { tier: small, fallback_tiers: [mid] }\n"
	"  - name: default\n"
	"    route: { tier: mid, fallback_tiers: [small] }\n"
	"degrade:\n"
	"  lane_watermark: 0.85\n"
	"  soft_budget: step_down\n"
	"health:\n"
	"  error_rate: 0.5\n"
	"  min_samples: 20\n"
	"  consecutive_failures: 3\n"
	"  cooldown_s: 30\n";

const char pf_example_models[] = "apiVersion: af/v1\n"
				 "kind: Models\n"
				 "models:\n"
				 "  - id: atlas-large\n"
				 "    provider: acme\n"
				 "    tier: frontier\n"
				 "    regions: [eu-west-1, us-east-1]\n"
				 "    context_limit: 200000\n"
				 "    capabilities: [tools, vision, json]\n"
				 "    usd_per_1k_input: 0.015\n"
				 "    usd_per_1k_output: 0.060\n"
				 "    status: active\n"
				 "  - id: atlas-large-us\n"
				 "    provider: globex\n"
				 "    tier: frontier\n"
				 "    regions: [us-east-1]\n"
				 "    context_limit: 128000\n"
				 "    capabilities: [tools, json]\n"
				 "    usd_per_1k_input: 0.010\n"
				 "    usd_per_1k_output: 0.030\n"
				 "    status: active\n"
				 "  - id: swift-mid\n"
				 "    provider: acme\n"
				 "    tier: mid\n"
				 "    regions: [eu-west-1, us-east-1]\n"
				 "    context_limit: 64000\n"
				 "    capabilities: [tools, json]\n"
				 "    usd_per_1k_input: 0.003\n"
				 "    usd_per_1k_output: 0.012\n"
				 "    status: active\n"
				 "  - id: open-mid\n"
				 "    provider: self-hosted\n"
				 "    tier: mid\n"
				 "    regions: [eu-west-1]\n"
				 "    context_limit: 32000\n"
				 "    capabilities: [json]\n"
				 "    usd_per_1k_input: 0.001\n"
				 "    usd_per_1k_output: 0.002\n"
				 "    status: active\n"
				 "  - id: pico-small\n"
				 "    provider: self-hosted\n"
				 "    tier: small\n"
				 "    regions: [eu-west-1, us-east-1]\n"
				 "    context_limit: 16000\n"
				 "    capabilities: [json]\n"
				 "    usd_per_1k_input: 0.0002\n"
				 "    usd_per_1k_output: 0.0008\n"
				 "    status: active\n";

const char pf_example_request[] = "{\n"
				  "  \"workflow_id\": \"wf-claim-88421\",\n"
				  "  \"tenant\": \"claims-team\",\n"
				  "  \"class\": \"research-agent\",\n"
				  "  \"agent_role\": \"researcher\",\n"
				  "  \"sensitivity\": \"internal\",\n"
				  "  \"input_tokens\": 18240,\n"
				  "  \"output_tokens\": 960,\n"
				  "  \"needs\": [\"tools\"],\n"
				  "  \"fanout\": 6\n"
				  "}\n";

int pf_view_canary(const char *stable, const char *canary, uint32_t weight_bp,
		   const char *models, struct af_policy_view **ret,
		   struct af_err *err)
{
	struct af_policy_view_config cfg = {0};
	struct af_bundle *s = NULL, *c = NULL;
	struct af_registry *r = NULL;
	int rc;

	rc = af_bundle_compile("policy.yaml", stable, strlen(stable), &s, err);
	if (rc == 0 && canary != NULL)
		rc = af_bundle_compile("canary.yaml", canary, strlen(canary),
				       &c, err);
	if (rc == 0)
		rc = af_registry_compile("models.yaml", models, strlen(models),
					 &r, err);
	if (rc == 0) {
		cfg.stable = s;
		cfg.stable_revision = 1;
		cfg.canary = c;
		cfg.canary_revision = 2;
		cfg.canary_weight_bp = weight_bp;
		cfg.registry = r;
		cfg.registry_revision = 7;
		rc = af_policy_view_new(&cfg, ret, err);
	}
	af_bundle_free(s);
	af_bundle_free(c);
	af_registry_free(r);
	return rc;
}

int pf_view(const char *policy, const char *models, struct af_policy_view **ret,
	    struct af_err *err)
{
	return pf_view_canary(policy, NULL, 0, models, ret, err);
}

int pf_request(const char *json, struct af_request *ret,
	       struct af_request_error *rerr)
{
	return af_request_parse_json(json, strlen(json), ret, rerr);
}

char *pf_replace(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	size_t a, f = strlen(from), t = strlen(to), n = strlen(text);
	char *out;

	if (at == NULL)
		return NULL;
	a = (size_t)(at - text);
	out = af_malloc(n - f + t + 1);
	if (out == NULL)
		return NULL;
	memcpy(out, text, a);
	memcpy(out + a, to, t);
	memcpy(out + a + t, at + f, n - a - f + 1);
	return out;
}
