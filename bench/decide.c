/* af_decide() latency: ns per decision (median, p99) and decisions/s for
 * the example bundle and generated large ones (5,000 rules; 10,000 models
 * per tier), next to the linear evaluator (the explain path, which tries
 * every rule and every pair) in the same run, with the ratio; and the time
 * to compile the YAML and to build the view of each. Prints figures;
 * never fails on a number. */
#include "common/alloc.h"
#include "policy/policy.h"
#include "routerd/workflow.h"
#include "tests/lib/policy_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* Median of ns per decision over `samples` batches of `batch`; p99 in
 * *ret_p99. x: the linear evaluator (explain with no room: counts only). */
static uint64_t measure(const struct af_policy_view *v,
			const struct af_request *req, struct af_explain *x,
			int samples, int batch, uint64_t *ret_p99,
			struct af_decision *d)
{
	static uint64_t s[SAMPLES];
	uint64_t t0;

	for (int i = 0; i < samples / 10 + 1; i++)
		af_decide(v, req, NULL, "bench", d, x);
	for (int i = 0; i < samples; i++) {
		t0 = now_ns();
		for (int j = 0; j < batch; j++)
			af_decide(v, req, NULL, "bench", d, x);
		s[i] = (now_ns() - t0) / (uint64_t)batch;
	}
	qsort(s, (size_t)samples, sizeof(*s), cmp_u64);
	*ret_p99 = s[samples * 99 / 100];
	return s[samples / 2];
}

static void run(const char *name, const struct af_policy_view *v,
		const struct af_request *req)
{
	struct af_explain x = {0};
	struct af_decision d, dl;
	uint64_t med, p99, lmed, lp99;
	int n;

	med = measure(v, req, NULL, SAMPLES, BATCH, &p99, &d);
	/* The linear evaluator is slow on large bundles: about 1 s each. */
	lmed = measure(v, req, &x, 100, 1, &lp99, &dl);
	n = (int)(1e9 / (double)(lmed + 1));
	n = n > SAMPLES ? SAMPLES : n < 200 ? 200 : n;
	lmed = measure(v, req, &x, n, 1, &lp99, &dl);
	printf("%-34s median %7llu ns  p99 %7llu ns  %9.0f/s (%s %s)\n", name,
	       (unsigned long long)med, (unsigned long long)p99,
	       1e9 / (double)(med ? med : 1),
	       d.kind == AF_DECISION_ROUTE ? "route" : "deny",
	       d.kind == AF_DECISION_ROUTE ? d.primary.model : d.code);
	printf("%-34s median %7llu ns  p99 %7llu ns  linear/fast %.1fx "
	       "(same decision: %s)\n",
	       "  linear evaluator (explain path)", (unsigned long long)lmed,
	       (unsigned long long)lp99, (double)lmed / (double)(med ? med : 1),
	       d.kind == dl.kind && d.primary.model == dl.primary.model ? "yes"
									: "NO");
}

/* nrules - 1 rules that do not match the benchmark request, then a
 * catch-all: the worst case for linear rule matching. */
static char *large_policy(int nrules)
{
	size_t cap = 4096 + (size_t)nrules * 160;
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
	for (int i = 0; i < nrules - 1; i++)
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

/* n models over 4 tiers, each in 2 of 6 regions, 9 x 7 price points. */
static char *large_models(int n)
{
	size_t cap = (size_t)n * 256 + 100;
	char *t = malloc(cap), *p = t;

	p += sprintf(p, "apiVersion: af/v1\nkind: Models\nmodels:\n");
	for (int i = 0; i < n; i++)
		p += sprintf(p,
			     "- {id: m%05d, provider: p%d, tier: t%d, "
			     "regions: [r%d, r%d], context_limit: %d, "
			     "capabilities: [json, tools], usd_per_1k_input: "
			     "0.00%d, usd_per_1k_output: 0.0%d}\n",
			     i, i % 7, i % 4, i % 6, (i + 1) % 6,
			     8000 + (i % 10) * 10000, 1 + i % 9, 1 + i % 7);
	return t;
}

/* Compiles and builds the view, printing both times. */
static int build(const char *name, const char *pol, const char *mod,
		 struct af_policy_view **ret)
{
	struct af_bundle *b = NULL;
	struct af_registry *r = NULL;
	struct af_err e = {{0}};
	uint64_t t0 = now_ns(), t1, t2;
	int rc;

	rc = af_bundle_compile("policy.yaml", pol, strlen(pol), &b, &e);
	if (rc == 0)
		rc = af_registry_compile("models.yaml", mod, strlen(mod), &r,
					 &e);
	t1 = now_ns();
	if (rc == 0) {
		struct af_policy_view_config c = {.stable = b, .registry = r};

		rc = af_policy_view_new(&c, ret, &e);
	}
	t2 = now_ns();
	if (rc != 0)
		fprintf(stderr, "bench: %s: %s\n", name, e.msg);
	else
		printf("%-34s compile %.1f ms, view build %.2f ms\n", name,
		       (double)(t1 - t0) / 1e6, (double)(t2 - t1) / 1e6);
	af_bundle_free(b);
	af_registry_free(r);
	return rc;
}

static const char large_req[] =
	"{\"workflow_id\":\"wf\",\"tenant\":\"t\",\"class\":\"c7\","
	"\"input_tokens\":2000,\"output_tokens\":500,"
	"\"needs\":[\"tools\"]}";

static int large(const char *name, int nrules, int nmodels)
{
	struct af_policy_view *v = NULL;
	struct af_request req;
	struct af_request_error re;
	char *pol = large_policy(nrules), *mod = large_models(nmodels);
	int rc = build(name, pol, mod, &v);

	free(pol);
	free(mod);
	if (rc != 0)
		return 1;
	pf_request(large_req, &req, &re);
	run(name, v, &req);
	/* A denial: every pair costs more than the request allows. */
	req.max_cost_micro_usd = 1;
	run("  the same, denied COST_LIMIT", v, &req);
	af_policy_view_free(v);
	return 0;
}

/* ------------------------------------------------ workflow tracking */

#define WF_N 100000

static void wf_state(void *ctx, const char *id, struct af_workflow_state *ret)
{
	routerd_workflows_state(ctx, id, 1000, ret);
}

/* Resident set size in bytes (/proc/self/statm). */
static long rss_bytes(void)
{
	long pages = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f != NULL) {
		if (fscanf(f, "%ld %ld", &pages, &res) != 2)
			res = 0;
		fclose(f);
	}
	return res * sysconf(_SC_PAGESIZE);
}

/* ns per hop as routerd makes it, workflow tracking off (af_decide alone)
 * and on (the state read through the live signals, the routed hop and
 * its report recorded), over nwf workflows of 10 hops each, taken in turn,
 * in a table of WF_N; and the resident memory the table takes. */
static void workflows(const struct af_policy_view *v, struct af_request req,
		      int nwf)
{
	struct routerd_workflows *t = NULL;
	struct routerd_workflow_who who = {req.tenant, req.class_name, NULL, 0};
	struct af_live live = {.workflow = wf_state};
	struct af_decision d;
	long rss0 = rss_bytes(), rss1;
	uint64_t t0, off, on;
	const int hops = nwf * 10;

	if (routerd_workflows_new(WF_N, &t) != 0)
		return;
	live.ctx = t;
	t0 = now_ns();
	for (int i = 0; i < hops; i++) {
		snprintf(req.workflow_id, sizeof(req.workflow_id), "wf-%d",
			 i % nwf);
		af_decide(v, &req, NULL, "bench", &d, NULL);
	}
	off = (now_ns() - t0) / (uint64_t)hops;
	t0 = now_ns();
	for (int i = 0; i < hops; i++) {
		snprintf(req.workflow_id, sizeof(req.workflow_id), "wf-%d",
			 i % nwf);
		af_decide(v, &req, &live, "bench", &d, NULL);
		routerd_workflows_routed(t, req.workflow_id, &who,
					 (uint64_t)i + 1, &d, 19200, 60000,
					 1000);
		routerd_workflows_reported(t, req.workflow_id, (uint64_t)i + 1,
					   66240000, 19195, 1000);
	}
	on = (now_ns() - t0) / (uint64_t)hops;
	rss1 = rss_bytes();
	printf("workflow tracking, %6d wfs     off %5llu ns  on %5llu ns  "
	       "(+%llu ns per hop, %s)\n",
	       nwf, (unsigned long long)off, (unsigned long long)on,
	       (unsigned long long)(on - off),
	       d.kind == AF_DECISION_ROUTE ? "route" : d.code);
	printf("%-34s %.1f MiB resident, table of %d (%llu evicted)\n",
	       "  workflow table", (double)(rss1 - rss0) / 1048576.0, WF_N,
	       (unsigned long long)routerd_workflows_stats(t)->evicted);
	routerd_workflows_free(t);
}

int main(void)
{
	struct af_policy_view *v = NULL;
	struct af_request req;
	struct af_request_error re;
	struct af_err e = {{0}};

	if (pf_view(pf_example_policy, pf_example_models, &v, &e) != 0 ||
	    pf_request(pf_example_request, &req, &re) != 0) {
		fprintf(stderr, "bench: %s\n", e.msg);
		return 1;
	}
	run("example (7 rules, 5 models)", v, &req);
	workflows(v, req, WF_N * 9 / 10);
	workflows(v, req, WF_N);
	af_policy_view_free(v);
	if (large("5,000 rules, 2,000 models", 5000, 2000) != 0 ||
	    large("10 rules, 10,000 models per tier", 10, 40000) != 0)
		return 1;
	return 0;
}
