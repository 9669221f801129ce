/* routerd's quota leases (routerd/quota.c) without a cluster: a tenant the
 * bundle names holds a standing lease from the bundle's load, so its first
 * hop routes; another tenant of a "*" quota is denied until its first
 * lease arrives; a busy routerd gives back what is above its demand peak;
 * tpm counts the tokens a report gives instead of the estimate. */
#include "tests/lib/alloc_check.h"
#include "common/alloc.h"
#include "tests/lib/policy_fixture.h"
#include "routerd/quota.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static struct routerd_quotas *q;
static struct af_policy_view *view;
static uint64_t seq;

static void setup(void)
{
	char *p;
	struct af_err e = {{0}};

	af_test_alloc_begin();
	p = af_malloc(strlen(pf_example_policy) + 512);
	cr_assert_not_null(p);
	strcpy(p, pf_example_policy);
	strcat(p, "quotas:\n"
		  "  - name: team-inflight\n"
		  "    tenant: \"*\"\n"
		  "    max_inflight: 10\n"
		  "  - name: acme-tpm\n"
		  "    tenant: acme\n"
		  "    tpm: 6400\n");
	cr_assert_eq(pf_view(p, pf_example_models, &view, &e), 0, "%s", e.msg);
	af_free(p);
	cr_assert_eq(routerd_quotas_new(15000, &q), 0);
	seq = 0;
}

static void teardown(void)
{
	routerd_quotas_free(q);
	af_policy_view_free(view);
	af_test_alloc_end();
}

TestSuite(routerd_quota, .init = setup, .fini = teardown);

struct round {
	Af__QuotaLeaseRequest req;
	Af__QuotaAsk asks[ROUTERD_QUOTA_ASKS_MAX];
	Af__QuotaAsk *ptrs[ROUTERD_QUOTA_ASKS_MAX];
	size_t n;
};

/* One telemetry round at now; every ask is granted in full, the others
 * hold `others` of each. */
static void lease_round(struct round *r, uint64_t now, int64_t others)
{
	Af__ApplyResult res = AF__APPLY_RESULT__INIT;
	int64_t g[ROUTERD_QUOTA_ASKS_MAX], o[ROUTERD_QUOTA_ASKS_MAX];

	af__quota_lease_request__init(&r->req);
	r->n = routerd_quotas_next(q, now, false, &r->req, r->asks, r->ptrs);
	for (size_t i = 0; i < r->n; i++) {
		g[i] = r->asks[i].want;
		o[i] = others;
	}
	res.n_quota_granted = res.n_quota_others = r->n;
	res.quota_granted = g;
	res.quota_others = o;
	routerd_quotas_granted(q, &res, now);
}

static const Af__QuotaAsk *ask_of(const struct round *r, const char *quota,
				  const char *tenant)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->asks[i].quota, quota) == 0 &&
		    strcmp(r->asks[i].tenant, tenant) == 0)
			return &r->asks[i];
	return NULL;
}

/* One hop of tenant estimating tokens at now; its decision. */
static struct af_decision hop(const char *tenant, int tokens, uint64_t now)
{
	static char json[256];
	struct af_request req;
	struct af_request_error re;
	struct af_decision d;

	snprintf(json, sizeof(json),
		 "{\"workflow_id\":\"w\",\"tenant\":\"%s\",\"class\":"
		 "\"research-agent\",\"input_tokens\":%d,\"output_tokens\":0}",
		 tenant, tokens);
	cr_assert_eq(pf_request(json, &req, &re), 0, "%s", re.message);
	memset(&d, 0, sizeof(d));
	d.kind = AF_DECISION_ROUTE;
	d.lane_id = UINT32_MAX;
	routerd_quotas_admit(q, view, &req, ++seq, 60000, now, &d);
	return d;
}

Test(routerd_quota, named_tenant_leased_before_its_first_hop)
{
	struct round r;
	const Af__QuotaAsk *a;
	struct af_decision d;
	uint64_t now = 1000000;

	cr_assert_not(routerd_quotas_active(q));
	routerd_quotas_prefetch(q, view);
	cr_assert(routerd_quotas_active(q), "a bundle with quotas: lease pace");
	lease_round(&r, now, 0);
	a = ask_of(&r, "team-inflight", "acme");
	cr_assert(a != NULL && a->want == 1, "the * quota's floor for acme");
	a = ask_of(&r, "acme-tpm", "acme");
	cr_assert(a != NULL && a->want == 100, "a 64th of tpm 6400");
	cr_assert_eq(r.n, 2);
	d = hop("acme", 60, now + 1);
	cr_assert_eq(d.kind, AF_DECISION_ROUTE, "acme's first hop: %s",
		     d.message);
	/* newco is not named: denied, soon retried; then leased */
	d = hop("newco", 60, now + 2);
	cr_assert_str_eq(d.code ? d.code : "", AF_DENY_QUOTA_EXCEEDED);
	cr_assert_eq(d.retry_after_ms, 50);
	lease_round(&r, now + 50, 0);
	cr_assert_not_null(ask_of(&r, "team-inflight", "newco"));
	d = hop("newco", 60, now + 60);
	cr_assert_eq(d.kind, AF_DECISION_ROUTE, "newco's retry: %s", d.message);
}

Test(routerd_quota, standing_lease_kept_while_idle_and_dropped_with_bundle)
{
	struct round r;
	struct af_policy_view *plain;
	struct af_err e = {{0}};
	uint64_t now = 1000000;
	const Af__QuotaAsk *a;

	routerd_quotas_prefetch(q, view);
	lease_round(&r, now, 0);
	/* idle for 3 s: nothing given back, renewed at TTL/3 */
	for (uint64_t t = now + 50; t < now + 3000; t += 50) {
		lease_round(&r, t, 0);
		cr_assert_eq(r.n, 0, "idle standing lease asked at %llu",
			     (unsigned long long)(t - now));
	}
	lease_round(&r, now + 5050, 0);
	a = ask_of(&r, "team-inflight", "acme");
	cr_assert(a != NULL && a->want == 1, "renewal");
	/* a bundle without quotas: the standing lease goes back */
	cr_assert_eq(pf_view(pf_example_policy, pf_example_models, &plain, &e),
		     0, "%s", e.msg);
	routerd_quotas_prefetch(q, plain);
	lease_round(&r, now + 5300, 0);
	a = ask_of(&r, "team-inflight", "acme");
	cr_assert(a != NULL && a->want == 0, "given back");
	af_policy_view_free(plain);
}

Test(routerd_quota, busy_routerd_gives_back_above_its_peak)
{
	struct round r;
	struct af_decision d;
	uint64_t now = 1000000, t;
	const Af__QuotaAsk *a = NULL;
	int64_t held = 0;

	/* 10 hops at once: the lease grows to the limit */
	for (int i = 0; i < 10; i++)
		hop("busy", 1, now);
	lease_round(&r, now, 0);
	for (int i = 0; i < 10; i++) {
		d = hop("busy", 1, now + 1);
		cr_assert_eq(d.kind, AF_DECISION_ROUTE, "hop %d: %s", i,
			     d.message);
	}
	for (uint64_t s = seq - 9; s <= seq; s++)
		routerd_quotas_reported(q, s, -1, now + 2);
	/* then one hop at a time, reported within the round, for 3 s */
	for (t = now + 50; t < now + 3000; t += 50) {
		d = hop("busy", 1, t);
		cr_assert_eq(d.kind, AF_DECISION_ROUTE);
		routerd_quotas_reported(q, seq, -1, t + 1);
		lease_round(&r, t + 2, 0);
		if ((a = ask_of(&r, "team-inflight", "busy")) != NULL)
			held = a->want;
	}
	cr_assert(held > 0 && held <= 2,
		  "a busy routerd keeps its peak, not all it held: %lld",
		  (long long)held);
}

Test(routerd_quota, tpm_counts_reported_tokens)
{
	struct round r;
	struct af_decision d;
	uint64_t now = 1000000;

	routerd_quotas_prefetch(q, view);
	lease_round(&r, now, 0); /* acme-tpm: 100 */
	d = hop("acme", 80, now + 1);
	cr_assert_eq(d.kind, AF_DECISION_ROUTE, "%s", d.message);
	routerd_quotas_reported(q, seq, 10, now + 2);
	d = hop("acme", 80, now + 3);
	cr_assert_eq(d.kind, AF_DECISION_ROUTE,
		     "90 left by the report (20 by the estimate): %s",
		     d.message);
	/* no tokens in the report: the estimate stands */
	routerd_quotas_reported(q, seq, -1, now + 4);
	d = hop("acme", 20, now + 5);
	cr_assert_str_eq(d.code ? d.code : "", AF_DENY_QUOTA_EXCEEDED,
			 "10 + 80 of 100");
	cr_assert_str_eq(d.quota_name, "acme-tpm");
	cr_assert_str_eq(d.quota_dim, "tpm");
	d = hop("acme", 10, now + 6);
	cr_assert_eq(d.kind, AF_DECISION_ROUTE, "%s", d.message);
}
