/* af_decide() latency: ns per decision (median, p99) and decisions/s for
 * the example bundle and a generated large one (500 rules, 2,000 models).
 * Prints figures; never fails on a number. */
#include "common/alloc.h"
#include "policy/policy.h"
#include "tests/lib/policy_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 64
#define SAMPLES 20000

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void run(const char *name, const struct af_policy_view *v,
		const struct af_request *req)
{
	static uint64_t s[SAMPLES];
	struct af_decision d;
	uint64_t t0, total = 0;

	for (int i = 0; i < 2000; i++)
		af_decide(v, req, NULL, "bench", &d, NULL);
	for (int i = 0; i < SAMPLES; i++) {
		t0 = now_ns();
		for (int j = 0; j < BATCH; j++)
			af_decide(v, req, NULL, "bench", &d, NULL);
		s[i] = (now_ns() - t0) / BATCH;
		total += s[i];
	}
	qsort(s, SAMPLES, sizeof(*s), cmp_u64);
	printf("%-28s median %6llu ns  p99 %6llu ns  %10.0f decisions/s "
	       "(%s %s)\n",
	       name, (unsigned long long)s[SAMPLES / 2],
	       (unsigned long long)s[SAMPLES * 99 / 100],
	       1e9 / ((double)total / SAMPLES),
	       d.kind == AF_DECISION_ROUTE ? "route" : "deny",
	       d.kind == AF_DECISION_ROUTE ? d.primary.model : d.code);
}

static char *large_policy(void)
{
	size_t cap = 1 << 20;
	char *t = malloc(cap), *p = t;

	p += sprintf(p,
		     "apiVersion: af/v1\nkind: Policy\nname: large\n"
		     "tiers: [t0, t1, t2, t3]\n"
		     "defaults: { sensitivity: internal, max_fallbacks: 3 }\n"
		     "residency:\n  internal: [r0, r1, r2, r3, r4, r5]\n"
		     "lanes:\n  l: { max_inflight: 1000 }\n"
		     "classes:\n");
	for (int i = 0; i < 50; i++)
		p += sprintf(p, "  c%d: { lane: l, max_cost_usd: 5 }\n", i);
	p += sprintf(p, "rules:\n");
	/* 499 rules that do not match the benchmark request, then a
	 * catch-all: the worst case for rule matching. */
	for (int i = 0; i < 499; i++)
		p += sprintf(
			p,
			"  - name: r%d\n    when: { tenant: [x%d, y%d], "
			"class: c%d, input_tokens: { gt: %d } }\n"
			"    route: { tier: t%d, fallback_tiers: [t%d] }\n",
			i, i, i, i % 50, i, i % 3, i % 3 + 1);
	p += sprintf(p, "  - name: all\n    route: { tier: t1, fallback_tiers: "
			"[t2, t3] }\n");
	return t;
}

static char *large_models(void)
{
	size_t cap = 2000 * 256 + 100;
	char *t = malloc(cap), *p = t;

	p += sprintf(p, "apiVersion: af/v1\nkind: Models\nmodels:\n");
	for (int i = 0; i < 2000; i++)
		p += sprintf(p,
			     "- {id: m%04d, provider: p%d, tier: t%d, "
			     "regions: [r%d, r%d], context_limit: %d, "
			     "capabilities: [json, tools], usd_per_1k_input: "
			     "0.00%d, usd_per_1k_output: 0.0%d}\n",
			     i, i % 7, i % 4, i % 6, (i + 1) % 6,
			     8000 + (i % 10) * 10000, 1 + i % 9, 1 + i % 7);
	return t;
}

int main(void)
{
	struct af_policy_view *v = NULL;
	struct af_request req;
	struct af_request_error re;
	struct af_err e = {{0}};
	char *pol, *mod;

	if (pf_view(pf_example_policy, pf_example_models, &v, &e) != 0 ||
	    pf_request(pf_example_request, &req, &re) != 0) {
		fprintf(stderr, "bench: %s\n", e.msg);
		return 1;
	}
	run("example (7 rules, 5 models)", v, &req);
	af_policy_view_free(v);
	pol = large_policy();
	mod = large_models();
	if (pf_view(pol, mod, &v, &e) != 0) {
		fprintf(stderr, "bench: %s\n", e.msg);
		return 1;
	}
	pf_request("{\"workflow_id\":\"wf\",\"tenant\":\"t\",\"class\":\"c7\","
		   "\"input_tokens\":2000,\"output_tokens\":500,"
		   "\"needs\":[\"tools\"]}",
		   &req, &re);
	run("large (500 rules, 2000 models)", v, &req);
	af_policy_view_free(v);
	free(pol);
	free(mod);
	return 0;
}
