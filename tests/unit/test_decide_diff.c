/* Differential: af_decide() without a trace (the indexed fast path: rule
 * lists by tenant and class, price-sorted tiers, early stops) against the
 * same decision with a trace (the linear evaluator: every rule in order,
 * every pair of every tier on the chain). Random registries, bundles
 * (also canaries), live state and requests; the rendered JSON and the
 * return code must be byte-identical. Prints its seed; AF_SEED=N replays a
 * run. */
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

#define NREG 6
#define NCAP 4
#define NTIER 4
#define NCLS 5

static const int prices[] = {0, 1, 1, 2, 3, 5, 8, 13};

/* Appends a random subset (non-empty when `nonempty`) of prefix0.. */
static char *subset(char *p, const char *prefix, int n, bool nonempty,
		    unsigned *ret_mask)
{
	unsigned m = rnd(1u << n);
	int k = 0;

	if (nonempty && m == 0)
		m = 1u << rnd((uint32_t)n);
	p += sprintf(p, "[");
	for (int i = 0; i < n; i++)
		if (m & (1u << i))
			p += sprintf(p, "%s%s%d", k++ ? ", " : "", prefix, i);
	if (ret_mask != NULL)
		*ret_mask = m;
	return p + sprintf(p, "]");
}

static int npairs_made;

static void gen_models(char *out)
{
	char *p = out + sprintf(out, "apiVersion: af/v1\nkind: Models\n"
				     "models:\n");
	int n = rnd(4) == 0 ? 100 + (int)rnd(300) : 3 + (int)rnd(40);

	npairs_made = 0;
	for (int i = 0; i < n; i++) {
		uint32_t st = rnd(20);
		unsigned regs;

		p += sprintf(p,
			     "- id: m%03d\n  provider: p%u\n  tier: t%u\n"
			     "  context_limit: %u\n"
			     "  usd_per_1k_input: 0.%03d\n"
			     "  usd_per_1k_output: 0.%03d\n  status: %s\n"
			     "  regions: ",
			     i, rnd(3), rnd(NTIER + 1), 1000 * (1 + rnd(20)),
			     prices[rnd(8)], prices[rnd(8)],
			     st < 12   ? "active"
			     : st < 17 ? "deprecated"
				       : "disabled");
		p = subset(p, "r", NREG, true, &regs);
		npairs_made += __builtin_popcount(regs);
		p += sprintf(p, "\n  capabilities: ");
		p = subset(p, "c", NCAP, false, NULL);
		p += sprintf(p, "\n");
	}
}

/* One string condition on attribute `attr` over values prefix0..n-1 (and
 * one value no request uses). */
static char *str_cond(char *p, const char *attr, const char *prefix, int n)
{
	int v = (int)rnd((uint32_t)n + 1), w = (int)rnd((uint32_t)n + 1);

	if (v == w)
		w = (w + 1) % (n + 1);
	switch (rnd(6)) {
	case 0:
		return p + sprintf(p, "%s: %s%d", attr, prefix, v);
	case 1:
	case 2:
		return p + sprintf(p, "%s: [%s%d, %s%d]", attr, prefix,
				   v < w ? v : w, prefix, v < w ? w : v);
	case 3:
		return p + sprintf(p, "%s: { ne: %s%d }", attr, prefix, v);
	case 4:
		return p +
		       sprintf(p, "%s: { not_in: [%s%d] }", attr, prefix, v);
	default:
		return p + sprintf(p, "%s: { ne: %s%d, in: [%s%d] }", attr,
				   prefix, v, prefix, w);
	}
}

static char *cond(char *p, int which)
{
	switch (which) {
	case 0:
		return str_cond(p, "class", "cl", NCLS - 1);
	case 1:
		return str_cond(p, "tenant", "a", 5);
	case 2:
		return str_cond(p, "agent_role", "role", 3);
	case 3:
		return str_cond(p, "sensitivity", "s", 3);
	case 4:
		return str_cond(p, "region", "r", NREG);
	case 5:
		return str_cond(p, "labels.team", "v", 3);
	case 6:
		return p + sprintf(p, "input_tokens: { gt: %u }", rnd(8000));
	case 7:
		return p + sprintf(p, "max_cost_usd: { lt: 0.%02u }", rnd(100));
	case 8:
		return p + sprintf(p, "needs: [%s]",
				   rnd(4) == 0 ? "zz"
				   : rnd(2)    ? "c1"
					       : "c2");
	default:
		return p + sprintf(p, "fanout: { gte: %u }", rnd(4));
	}
}

static char *gen_rules(char *p, int ntiers, const int *tiers)
{
	int n = 1 + (int)rnd(rnd(4) == 0 ? 60 : 12);

	p += sprintf(p, "rules:\n");
	for (int i = 0; i < n; i++) {
		int nc = (int)rnd(4), used = 0;

		p += sprintf(p, "  - name: rule%d\n", i);
		if (nc > 0) {
			p += sprintf(p, "    when: { ");
			for (int c = 0; c < nc; c++) {
				int w = (int)rnd(10);

				if (used & (1 << w))
					continue;
				p += sprintf(p, "%s", used ? ", " : "");
				used |= 1 << w;
				p = cond(p, w);
			}
			p += sprintf(p, " }\n");
		}
		if (rnd(6) == 0) {
			p += sprintf(p, "    deny: { code: NOPE_%d%s }\n", i,
				     rnd(2) ? ", message: \"no\"" : "");
			continue;
		}
		int t = (int)rnd((uint32_t)ntiers), k = 0;

		p += sprintf(p, "    route: { tier: t%d, fallback_tiers: [",
			     tiers[t]);
		for (int f = 0; f < ntiers; f++)
			if (f != t && rnd(2))
				p += sprintf(p, "%st%d", k++ ? ", " : "",
					     tiers[f]);
		p += sprintf(p, "] }\n");
	}
	return p;
}

static void gen_policy(char *out)
{
	int tiers[NTIER], ntiers = 1 + (int)rnd(NTIER);
	char *p = out;

	for (int i = 0; i < NTIER; i++)
		tiers[i] = i;
	for (int i = NTIER - 1; i > 0; i--) {
		int j = (int)rnd((uint32_t)i + 1), t = tiers[i];

		tiers[i] = tiers[j];
		tiers[j] = t;
	}
	p += sprintf(p, "apiVersion: af/v1\nkind: Policy\nname: d\ntiers: [");
	for (int i = 0; i < ntiers; i++)
		p += sprintf(p, "%st%d", i ? ", " : "", tiers[i]);
	p += sprintf(p, "]\ndefaults: { max_fallbacks: %u%s }\n", rnd(6),
		     rnd(2) ? ", sensitivity: s0" : "");
	p += sprintf(p, "residency:\n");
	for (int s = 0, any = 0; s < 3; s++)
		if (rnd(2) || (s == 2 && !any)) {
			any = 1;
			p += sprintf(p, "  s%d: ", s);
			p = subset(p, "r", NREG, true, NULL);
			p += sprintf(p, "\n");
		}
	p += sprintf(p,
		     "lanes:\n  l0: { max_inflight: %u }\n"
		     "  l1: { max_inflight: %u }\nclasses:\n",
		     1 + rnd(20), 1 + rnd(20));
	for (int c = 0; c < NCLS; c++) {
		p += sprintf(p, "  cl%d:\n    lane: l%u\n", c, rnd(2));
		if (rnd(2))
			p += sprintf(p, "    max_cost_usd: %u.%02u\n", rnd(2),
				     rnd(100));
		if (rnd(3) == 0) {
			p += sprintf(p, "    regions: ");
			p = subset(p, "r", NREG, true, NULL);
			p += sprintf(p, "\n");
		}
		if (rnd(4) == 0)
			p += sprintf(p, "    critical: true\n");
		if (rnd(4) == 0)
			p += sprintf(p, "    max_fanout: %u\n", rnd(4));
		if (rnd(3) == 0)
			p += sprintf(p, "    latency_slo_ms: %u\n",
				     100 * rnd(30));
	}
	p = gen_rules(p, ntiers, tiers);
	if (rnd(2))
		p += sprintf(p, "degrade:\n  lane_watermark: 0.5\n%s",
			     rnd(2) ? "  soft_budget: step_down\n" : "");
}

/* ------------------------------------------------------ live state */

struct live {
	uint32_t inflight[8];
	uint64_t cool[2][1 << 12];
	uint32_t lat[1 << 12];
	int budget[8];
};

static struct live L;

static uint32_t cb_inflight(void *ctx, uint32_t lane)
{
	return ((struct live *)ctx)->inflight[lane % 8];
}

static bool cb_cooling(void *ctx, uint32_t pair)
{
	return ((struct live *)ctx)->cool[0][pair % (1 << 12)] > 0;
}

static uint64_t cb_cooldown(void *ctx, uint32_t pair, bool canary)
{
	return ((struct live *)ctx)->cool[canary][pair % (1 << 12)];
}

static uint32_t cb_latency(void *ctx, uint32_t pair)
{
	return ((struct live *)ctx)->lat[pair % (1 << 12)];
}

static enum af_budget_state cb_budget(void *ctx, const char *tenant,
				      uint64_t *ret)
{
	*ret = 1234;
	return (enum af_budget_state)((struct live *)ctx)
		->budget[(unsigned char)tenant[strlen(tenant) - 1] % 8];
}

static void gen_live(struct af_live *lv)
{
	static const uint32_t lats[] = {0, 0, 0, 5, 10, 10, 40};
	uint32_t cool_pct = rnd(3) == 0 ? 0 : rnd(60);

	memset(lv, 0, sizeof(*lv));
	for (int i = 0; i < 8; i++) {
		L.inflight[i] = rnd(3) ? rnd(8) : rnd(30);
		L.budget[i] = rnd(6) == 0 ? (int)rnd(3) : 0;
	}
	for (int i = 0; i < (1 << 12); i++) {
		L.cool[0][i] = rnd(100) < cool_pct ? 1 + rnd(5000) : 0;
		L.cool[1][i] = rnd(100) < cool_pct ? 1 + rnd(5000) : 0;
		L.lat[i] = lats[rnd(7)];
	}
	lv->ctx = &L;
	if (rnd(4) == 0)
		return; /* no live state at all */
	lv->lane_inflight = cb_inflight;
	lv->budget = cb_budget;
	if (rnd(2))
		lv->latency_ms = cb_latency;
	if (rnd(3) == 0)
		lv->cooling = cb_cooling;
	else if (rnd(2))
		lv->cooldown_ms = cb_cooldown;
}

/* ---------------------------------------------------------- requests */

static void gen_request(char *json, size_t cap, int q)
{
	int n;
	uint32_t in = rnd(3) == 0 ? 0 : rnd(4) == 0 ? rnd(30) : rnd(16000);
	uint32_t out = rnd(3) == 0 ? 0 : rnd(4) == 0 ? rnd(30) : rnd(6000);

	n = snprintf(json, cap,
		     "{\"workflow_id\":\"w%d-%u\",\"tenant\":\"a%u\","
		     "\"class\":\"%s%u\",\"input_tokens\":%u,"
		     "\"output_tokens\":%u",
		     q, rnd(1000), rnd(7), rnd(40) == 0 ? "zz" : "cl",
		     rnd(NCLS), in, out);
	if (rnd(2))
		n += snprintf(json + n, cap - (size_t)n, ",\"region\":\"r%u\"",
			      rnd(NREG + 1));
	if (rnd(2))
		n += snprintf(json + n, cap - (size_t)n,
			      ",\"sensitivity\":\"s%u\"", rnd(4));
	if (rnd(2))
		n += snprintf(json + n, cap - (size_t)n,
			      ",\"agent_role\":\"role%u\"", rnd(4));
	if (rnd(2))
		n += snprintf(json + n, cap - (size_t)n,
			      ",\"labels\":{\"team\":\"v%u\"}", rnd(4));
	if (rnd(3) == 0)
		n += snprintf(json + n, cap - (size_t)n,
			      ",\"max_cost_usd\":0.%06u",
			      rnd(4) ? rnd(60000) : rnd(1000000));
	if (rnd(4) == 0)
		n += snprintf(json + n, cap - (size_t)n, ",\"fanout\":%u",
			      rnd(5));
	if (rnd(4) == 0)
		n += snprintf(json + n, cap - (size_t)n,
			      ",\"latency_slo_ms\":%u", rnd(3000));
	if (rnd(2)) {
		unsigned m = rnd(16);

		n += snprintf(json + n, cap - (size_t)n, ",\"needs\":[");
		for (int c = 0, k = 0; c < NCAP + 1; c++)
			if (c == NCAP ? rnd(20) == 0 : (m & (1u << c)) != 0)
				n += snprintf(json + n, cap - (size_t)n,
					      "%s\"%s%d\"", k++ ? "," : "",
					      c == NCAP ? "zz" : "c", c);
		n += snprintf(json + n, cap - (size_t)n, "]");
	}
	snprintf(json + n, cap - (size_t)n, "}");
}

/* ------------------------------------------------------------- test */

static struct {
	char code[32];
	int n;
} codes[64];
static int ncodes;

static void tally(const char *code)
{
	for (int i = 0; i < ncodes; i++)
		if (strcmp(codes[i].code, code) == 0) {
			codes[i].n++;
			return;
		}
	if (ncodes < 64) {
		snprintf(codes[ncodes].code, sizeof(codes[ncodes].code), "%s",
			 code);
		codes[ncodes++].n = 1;
	}
}

static int count(const char *code)
{
	for (int i = 0; i < ncodes; i++)
		if (strcmp(codes[i].code, code) == 0)
			return codes[i].n;
	return 0;
}

static int decide_json(const struct af_policy_view *v,
		       const struct af_request *req, const struct af_live *lv,
		       struct af_explain *x, char *buf, size_t len,
		       const char **ret_code)
{
	struct af_decision d;
	size_t n;
	int rc = af_decide(v, req, lv, "diff", &d, x);

	if (rc != 0)
		return rc;
	cr_assert_eq(af_decision_json(&d, buf, len, &n), 0);
	*ret_code = d.kind == AF_DECISION_ROUTE ? NULL : d.code;
	return 0;
}

Test(decide_diff, fast_path_equals_linear_evaluator, .timeout = 300)
{
	static char ptext[65536], ctext[65536], mtext[1 << 18];
	static struct af_explain_rule xr[64];
	static struct af_explain_cand xc[2048];
	const char *env = getenv("AF_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
	int views = 0, decisions = 0, routed = 0, big = 0;

	printf("decide_diff seed=%llu (replay with AF_SEED)\n",
	       (unsigned long long)seed);
	fflush(stdout);
	rng = seed * 2654435761u + 1;
	for (int round = 0; round < 1000; round++) {
		struct af_policy_view *v = NULL;
		struct af_err e = {{0}};
		struct af_live lv;
		int rc;

		gen_models(mtext);
		gen_policy(ptext);
		if (rnd(3) == 0) {
			gen_policy(ctext);
			rc = pf_view_canary(ptext, ctext, rnd(10001), mtext, &v,
					    &e);
		} else {
			rc = pf_view(ptext, mtext, &v, &e);
		}
		if (rc != 0)
			continue; /* a bundle the generator got wrong */
		views++;
		big += npairs_made > 300;
		for (int q = 0; q < 120; q++) {
			char json[1024], fast[4096], slow[4096];
			struct af_explain x = {0};
			struct af_request req;
			struct af_request_error re;
			const struct af_live *use;
			const char *code = NULL, *code2 = NULL;
			int rf, rs;

			if (q % 40 == 0)
				gen_live(&lv);
			gen_request(json, sizeof(json), q);
			cr_assert_eq(pf_request(json, &req, &re), 0, "%s: %s",
				     json, re.message);
			if (rnd(2)) {
				x.rules = xr;
				x.rules_cap = 64;
				x.cands = xc;
				x.cands_cap = 2048;
			}
			fast[0] = slow[0] = '\0';
			use = rnd(8) ? &lv : NULL;
			rf = decide_json(v, &req, use, NULL, fast, sizeof(fast),
					 &code);
			rs = decide_json(v, &req, use, &x, slow, sizeof(slow),
					 &code2);
			decisions++;
			cr_assert_eq(rf, rs, "seed %llu: rc %d vs %d for %s",
				     (unsigned long long)seed, rf, rs, json);
			cr_assert_str_eq(fast, slow,
					 "seed %llu round %d\nrequest %s\n"
					 "policy:\n%s\nmodels:\n%s",
					 (unsigned long long)seed, round, json,
					 ptext, mtext);
			if (rf == 0 && code == NULL)
				routed++;
			else if (rf == 0)
				tally(strncmp(code, "NOPE_", 5)
					      ? code
					      : "(deny rule)");
		}
		af_policy_view_free(v);
	}
	printf("decide_diff: %d views (%d with over 300 pairs), %d decisions, "
	       "%d routed; denied:",
	       views, big, decisions, routed);
	for (int i = 0; i < ncodes; i++)
		printf(" %s %d", codes[i].code, codes[i].n);
	printf("\n");
	cr_assert_gt(views, 500);
	cr_assert_gt(decisions, 60000);
	cr_assert_gt(routed, decisions / 4);
	/* every way a chain can come out empty was compared */
	cr_assert_gt(count("NO_ELIGIBLE_MODEL"), 0);
	cr_assert_gt(count("RESIDENCY_DENIED"), 0);
	cr_assert_gt(count("COST_LIMIT"), 0);
	cr_assert_gt(count("CONTEXT_TOO_LARGE"), 0);
	cr_assert_gt(count("MODELS_COOLING_DOWN"), 0);
}
