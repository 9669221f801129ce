/* Randomized: for random registries, policies and requests, every hop of
 * a routed decision (primary and each fallback) satisfies the filters of
 * decision step 7, the chain has no duplicates and respects
 * max_fallbacks. Prints its seed; AF_SEED=N replays a run. */
#include "tests/lib/alloc_check.h"
#include "common/alloc.h"
#include "policy/policy.h"
#include "tests/lib/policy_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static const char *const regions[] = {"eu", "us", "ap", "sa"};
static const char *const caps[] = {"tools", "vision", "json"};
static const char *const tiers[] = {"t0", "t1", "t2"};

struct model {
	char id[16];
	int tier, ctx, pin, pout, status;
	unsigned regions, caps;
};

static struct model models[40];
static int nmodels;

static void gen_models(char *out)
{
	char *p = out + sprintf(out, "apiVersion: af/v1\nkind: Models\n"
				     "models:\n");

	nmodels = 5 + (int)rnd(35);
	for (int i = 0; i < nmodels; i++) {
		struct model *m = &models[i];

		snprintf(m->id, sizeof(m->id), "m%02d", i);
		m->tier = (int)rnd(3);
		m->ctx = 1000 * (1 + (int)rnd(20));
		m->pin = (int)rnd(50);
		m->pout = (int)rnd(50);
		m->status = (int)rnd(3);
		m->regions = 1 + rnd(15);
		m->caps = rnd(8);
		p += sprintf(p,
			     "- id: %s\n  provider: p\n  tier: %s\n"
			     "  context_limit: %d\n  usd_per_1k_input: 0.%03d\n"
			     "  usd_per_1k_output: 0.%03d\n  status: %s\n"
			     "  regions: [",
			     m->id, tiers[m->tier], m->ctx, m->pin, m->pout,
			     m->status == 0   ? "active"
			     : m->status == 1 ? "deprecated"
					      : "disabled");
		for (int r = 0, n = 0; r < 4; r++)
			if (m->regions & (1u << r))
				p += sprintf(p, "%s%s", n++ ? ", " : "",
					     regions[r]);
		p += sprintf(p, "]\n  capabilities: [");
		for (int c = 0, n = 0; c < 3; c++)
			if (m->caps & (1u << c))
				p += sprintf(p, "%s%s", n++ ? ", " : "",
					     caps[c]);
		p += sprintf(p, "]\n");
	}
}

static unsigned class_regions, residency;
static int max_fallbacks;

static void gen_policy(char *out)
{
	char *p = out;

	max_fallbacks = (int)rnd(5);
	class_regions = rnd(16);
	residency = rnd(16);
	p += sprintf(p,
		     "apiVersion: af/v1\nkind: Policy\nname: r\n"
		     "tiers: [t0, t1, t2]\n"
		     "defaults: { sensitivity: s, max_fallbacks: %d }\n"
		     "lanes:\n  l: { max_inflight: 10 }\n"
		     "classes:\n  c:\n    lane: l\n    regions: [",
		     max_fallbacks);
	for (int r = 0, n = 0; r < 4; r++)
		if (class_regions & (1u << r))
			p += sprintf(p, "%s%s", n++ ? ", " : "", regions[r]);
	p += sprintf(p, "]\nresidency:\n  s: [");
	for (int r = 0, n = 0; r < 4; r++)
		if (residency & (1u << r))
			p += sprintf(p, "%s%s", n++ ? ", " : "", regions[r]);
	p += sprintf(p,
		     "]\nrules:\n  - name: all\n    route: { tier: %s, "
		     "fallback_tiers: [%s] }\n",
		     tiers[rnd(2)], "t2");
}

static const struct model *find(const char *id)
{
	for (int i = 0; i < nmodels; i++)
		if (strcmp(models[i].id, id) == 0)
			return &models[i];
	return NULL;
}

static unsigned region_bit(const char *r)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(regions[i], r) == 0)
			return 1u << i;
	return 0;
}

static void check_hop(const struct af_hop *h, unsigned needs, int in, int out,
		      long long max_cost_micro)
{
	const struct model *m = find(h->model);
	long long cost;

	cr_assert_not_null(m);
	cr_assert_neq(m->status, 2, "%s is disabled", m->id);
	cr_assert_eq(m->caps & needs, needs, "%s lacks a capability", m->id);
	cr_assert_geq(m->ctx, in + out, "%s context", m->id);
	cr_assert(region_bit(h->region) & class_regions & residency,
		  "%s/%s region not allowed", m->id, h->region);
	cr_assert(region_bit(h->region) & m->regions);
	cost = (long long)in * m->pin * 1000 + (long long)out * m->pout * 1000;
	cr_assert(max_cost_micro < 0 || cost <= max_cost_micro * 1000,
		  "%s over cost", m->id);
}

TestSuite(policy_random, .init = af_test_alloc_begin,
	  .fini = af_test_alloc_end);

Test(policy_random, every_hop_obeys_the_filters, .timeout = 120)
{
	static char ptext[8192], mtext[65536];
	const char *env = getenv("AF_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
	int routed = 0;

	printf("policy_random seed=%llu (replay with AF_SEED)\n",
	       (unsigned long long)seed);
	fflush(stdout);
	rng = seed * 2654435761u + 1;
	for (int round = 0; round < 200; round++) {
		struct af_policy_view *v = NULL;
		struct af_err e = {{0}};

		gen_models(mtext);
		gen_policy(ptext);
		cr_assert_eq(pf_view(ptext, mtext, &v, &e), 0, "%s", e.msg);
		for (int q = 0; q < 50; q++) {
			char json[512];
			unsigned needs = rnd(8);
			int in = (int)rnd(12000), out = (int)rnd(4000);
			long long cost = rnd(4) ? (long long)rnd(2000000) : -1;
			struct af_request req;
			struct af_request_error re;
			struct af_decision d;
			int n;

			n = snprintf(
				json, sizeof(json),
				"{\"workflow_id\":\"w%d\",\"tenant\":\"t\","
				"\"class\":\"c\",\"input_tokens\":%d,"
				"\"output_tokens\":%d,\"region\":\"%s\","
				"\"needs\":[",
				q, in, out, regions[rnd(4)]);
			for (int c = 0, k = 0; c < 3; c++)
				if (needs & (1u << c))
					n += snprintf(json + n,
						      sizeof(json) - (size_t)n,
						      "%s\"%s\"",
						      k++ ? "," : "", caps[c]);
			if (cost >= 0)
				snprintf(json + n, sizeof(json) - (size_t)n,
					 "],\"max_cost_usd\":%lld.%06lld}",
					 cost / 1000000, cost % 1000000);
			else
				snprintf(json + n, sizeof(json) - (size_t)n,
					 "]}");
			cr_assert_eq(pf_request(json, &req, &re), 0, "%s: %s",
				     json, re.message);
			cr_assert_eq(af_decide(v, &req, NULL, "x", &d, NULL),
				     0);
			if (d.kind != AF_DECISION_ROUTE)
				continue;
			routed++;
			cr_assert_leq(d.nfallback, (size_t)max_fallbacks);
			check_hop(&d.primary, needs, in, out, cost);
			for (size_t i = 0; i < d.nfallback; i++) {
				check_hop(&d.fallback[i], needs, in, out, cost);
				cr_assert(d.fallback[i].model !=
						  d.primary.model ||
					  d.fallback[i].region !=
						  d.primary.region);
				for (size_t j = 0; j < i; j++)
					cr_assert(d.fallback[i].model !=
							  d.fallback[j].model ||
						  d.fallback[i].region !=
							  d.fallback[j].region);
			}
		}
		af_policy_view_free(v);
	}
	cr_assert_gt(routed, 0, "seed %llu routed nothing",
		     (unsigned long long)seed);
}
