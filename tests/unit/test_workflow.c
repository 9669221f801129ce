/* Workflows as the unit: the class keys (parsed, validated, file:line:col
 * errors), the caps af_decide() applies to the workflow state of its live
 * signals (WORKFLOW_BUDGET on hops, tokens and cost; FANOUT_CAP on hops in
 * flight, retryable), the "workflow" member of decisions, a decision
 * record that replays a workflow denial, and routerd's workflow table:
 * accumulators, the report replacing estimates, expiry, idle restart, the
 * LRU bound, no allocation after it was made, and workflows that end (an
 * outcome, the idle sweep, eviction) summed into the usage rows. */
#include "common/alloc.h"
#include "policy/replay.h"
#include "common/money.h"
#include "proto/af.pb-c.h"
#include "routerd/usage.h"
#include "routerd/workflow.h"
#include "tests/lib/alloc_check.h"
#include "tests/lib/policy_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct routerd_workflow_who who = {"t", "agent", NULL, 0};

static const char policy[] = "apiVersion: af/v1\n"		  /* 1 */
			     "kind: Policy\n"			  /* 2 */
			     "name: wf\n"			  /* 3 */
			     "tiers: [mid]\n"			  /* 4 */
			     "lanes:\n"				  /* 5 */
			     "  l1: { max_inflight: 100 }\n"	  /* 6 */
			     "classes:\n"			  /* 7 */
			     "  agent:\n"			  /* 8 */
			     "    lane: l1\n"			  /* 9 */
			     "    max_workflow_cost_usd: 0.05\n"  /* 10 */
			     "    max_workflow_tokens: 10000\n"	  /* 11 */
			     "    max_workflow_hops: 5\n"	  /* 12 */
			     "    max_inflight_per_workflow: 2\n" /* 13 */
			     "    workflow_idle_s: 60\n"	  /* 14 */
			     "  free: { lane: l1 }\n"		  /* 15 */
			     "rules:\n"				  /* 16 */
			     "  - name: all\n"			  /* 17 */
			     "    route: { tier: mid }\n";	  /* 18 */

static const char models[] = "apiVersion: af/v1\nkind: Models\nmodels:\n"
			     "- {id: m1, provider: p, tier: mid, regions: [eu],"
			     " context_limit: 100000, usd_per_1k_input: 0.001,"
			     " usd_per_1k_output: 0.002}\n";

#define REQ(cls)                                                               \
	"{\"workflow_id\":\"wf-1\",\"tenant\":\"t\",\"class\":\"" cls "\","    \
	"\"input_tokens\":1000,\"output_tokens\":500}"

static struct af_policy_view *view;

static void setup(void)
{
	struct af_err e = {{0}};

	af_test_alloc_begin();
	cr_assert_eq(pf_view(policy, models, &view, &e), 0, "%s", e.msg);
}

static void teardown(void)
{
	af_policy_view_free(view);
	af_test_alloc_end();
}

TestSuite(workflow, .init = setup, .fini = teardown);

static void state_of(void *ctx, const char *id, struct af_workflow_state *ret)
{
	(void)id;
	*ret = *(const struct af_workflow_state *)ctx;
}

static struct af_decision decide(const char *json,
				 const struct af_workflow_state *w)
{
	struct af_live live = {.ctx = (void *)(uintptr_t)w,
			       .workflow = w ? state_of : NULL};
	struct af_request req;
	struct af_request_error re;
	struct af_decision d;

	cr_assert_eq(pf_request(json, &req, &re), 0, "%s", re.message);
	cr_assert_eq(af_decide(view, &req, &live, "id", &d, NULL), 0);
	return d;
}

static void body_of(const struct af_decision *d, char *buf, size_t cap)
{
	size_t n;

	cr_assert_eq(af_decision_json(d, buf, cap, &n), 0);
}

/* ---------------------------------------------------------- policy */

static void expect_error(const char *from, const char *to, const char *msg)
{
	char *t = pf_replace(policy, from, to);
	struct af_bundle *b = NULL;
	struct af_err e = {{0}};

	cr_assert_not_null(t, "\"%s\" not in the policy", from);
	cr_assert_neq(af_bundle_compile("wf.yaml", t, strlen(t), &b, &e), 0,
		      "accepted:\n%s", t);
	cr_assert_null(b);
	cr_expect_str_eq(e.msg, msg);
	af_free(t);
}

Test(workflow, class_keys_and_their_errors)
{
	expect_error("max_workflow_hops: 5", "max_workflow_hops: 0",
		     "wf.yaml:12:24: max_workflow_hops: 0 is out of range "
		     "[1, 1000000000]");
	expect_error("max_workflow_tokens: 10000", "max_workflow_tokens: x",
		     "wf.yaml:11:26: max_workflow_tokens: expected an integer, "
		     "got \"x\"");
	expect_error("max_workflow_cost_usd: 0.05", "max_workflow_cost_usd: -1",
		     "wf.yaml:10:28: max_workflow_cost_usd: \"-1\" is out of "
		     "range");
	expect_error("workflow_idle_s: 60", "workflow_idle_s: 9999999",
		     "wf.yaml:14:22: workflow_idle_s: 9999999 is out of range "
		     "[1, 2592000]");
	expect_error("max_inflight_per_workflow: 2",
		     "max_inflight_per_workflow: 17",
		     "wf.yaml:13:32: max_inflight_per_workflow: 17 is out of "
		     "range [1, 16]");
	expect_error("workflow_idle_s: 60", "workflow_idle: 60",
		     "wf.yaml:14:5: unknown key \"workflow_idle\"");
}

/* ------------------------------------------------------------ caps */

Test(workflow, no_signal_no_member_no_caps)
{
	struct af_decision d = decide(REQ("agent"), NULL);
	char body[4096];

	cr_assert_eq(d.kind, AF_DECISION_ROUTE);
	cr_assert(!d.has_workflow);
	cr_assert_eq(d.workflow_idle_s, 60);
	body_of(&d, body, sizeof(body));
	cr_expect_null(strstr(body, "\"workflow\""), "%s", body);
	d = decide(REQ("free"), NULL);
	cr_assert_eq(d.workflow_idle_s, AF_WORKFLOW_IDLE_DEFAULT_S);
}

Test(workflow, under_every_cap_routes_and_says_so)
{
	struct af_workflow_state w = {.hops = 4,
				      .inflight = 1,
				      .tokens = 9999,
				      .cost_nano_usd = 49999999};
	struct af_decision d = decide(REQ("agent"), &w);
	char body[4096];

	cr_assert_eq(d.kind, AF_DECISION_ROUTE, "%s", d.message);
	body_of(&d, body, sizeof(body));
	cr_expect(strstr(body, ",\"workflow\":{\"hops\":4,\"inflight\":1,"
			       "\"cost_usd\":0.049999999}}") != NULL,
		  "%s", body);
}

static void denied(const struct af_workflow_state *w, const char *code,
		   bool retryable, const char *msg_part)
{
	struct af_decision d = decide(REQ("agent"), w);
	char body[4096];

	cr_assert_eq(d.kind, AF_DECISION_DENY);
	cr_expect_str_eq(d.code, code);
	cr_expect_eq(d.retryable, retryable);
	cr_expect(strstr(d.message, msg_part) != NULL, "%s", d.message);
	cr_expect_eq(d.retry_after_ms, retryable ? 250 : -1);
	body_of(&d, body, sizeof(body));
	cr_expect(strstr(body, "\"workflow\":{\"hops\":") != NULL, "%s", body);
	/* a class without workflow keys is never capped */
	d = decide(REQ("free"), w);
	cr_expect_eq(d.kind, AF_DECISION_ROUTE);
}

Test(workflow, each_cap_denies)
{
	struct af_workflow_state w = {.hops = 5};

	denied(&w, "WORKFLOW_BUDGET", false,
	       "workflow wf-1 has made 5 hops, max_workflow_hops 5 of class "
	       "agent");
	w = (struct af_workflow_state){.tokens = 10000};
	denied(&w, "WORKFLOW_BUDGET", false, "max_workflow_tokens 10000");
	w = (struct af_workflow_state){.cost_nano_usd = 50000000};
	denied(&w, "WORKFLOW_BUDGET", false,
	       "has cost 0.05 USD, max_workflow_cost_usd 0.05");
	w = (struct af_workflow_state){.inflight = 2};
	denied(&w, "FANOUT_CAP", true,
	       "workflow wf-1 has 2 hops in flight, max_inflight_per_workflow "
	       "2");
}

/* A decision record of a workflow denial replays to the same body. */
Test(workflow, record_replays_the_denial)
{
	static struct af_live_rec rec;
	static struct af_replay_live rl;
	struct af_workflow_state w = {
		.hops = 2, .inflight = 2, .tokens = 3, .cost_nano_usd = 7};
	struct af_live in = {.ctx = &w, .workflow = state_of}, live;
	struct af_request req;
	struct af_request_error re;
	struct af_decision d, r;
	struct af_err err = {{0}};
	char lb[8192], a[4096], b[4096];
	size_t n;
	json_t *j;

	cr_assert_eq(pf_request(REQ("agent"), &req, &re), 0);
	af_live_rec_wrap(&rec, &in, view, &live);
	cr_assert_eq(af_decide(view, &req, &live, "id", &d, NULL), 0);
	af_live_rec_finish(&rec, &d);
	cr_assert_eq(af_live_rec_json(&rec, lb, sizeof(lb), &n), 0);
	cr_expect(strstr(lb, "\"workflow\":{\"hops\":2,\"inflight\":2,"
			     "\"tokens\":3,\"cost_nano_usd\":7}") != NULL,
		  "%s", lb);
	body_of(&d, a, sizeof(a));
	j = json_loadb(lb, n, 0, NULL);
	cr_assert_not_null(j);
	cr_assert_eq(af_replay_live_parse(j, &rl, &err), 0, "%s", err.msg);
	af_replay_live_bind(&rl, view, &live);
	cr_assert_eq(af_decide(view, &req, &live, "id", &r, NULL), 0);
	body_of(&r, b, sizeof(b));
	cr_expect_str_eq(b, a);
	cr_expect(strstr(b, "FANOUT_CAP") != NULL, "%s", b);
	json_decref(j);
	/* A record from before workflow tracking ({}) has no signal. */
	j = json_loads("{\"workflow\":{}}", 0, NULL);
	cr_assert_eq(af_replay_live_parse(j, &rl, &err), 0);
	af_replay_live_bind(&rl, view, &live);
	cr_assert_eq(af_decide(view, &req, &live, "id", &r, NULL), 0);
	cr_expect_eq(r.kind, AF_DECISION_ROUTE);
	cr_expect(!r.has_workflow);
	json_decref(j);
	j = json_loads("{\"workflow\":{\"hops\":-1}}", 0, NULL);
	cr_expect_eq(af_replay_live_parse(j, &rl, &err), AF_EPARSE);
	cr_expect_str_eq(err.msg, "live.workflow: expected the form routerd's "
				  "decision log writes");
	json_decref(j);
}

/* ------------------------------------------------------ the table */

static struct af_decision routed(int64_t est_nano, uint32_t idle_s)
{
	struct af_decision d;

	memset(&d, 0, sizeof(d));
	d.kind = AF_DECISION_ROUTE;
	d.est_cost_nano_usd = est_nano;
	d.workflow_idle_s = idle_s;
	return d;
}

Test(workflow, table_accumulates_and_reports_replace_estimates)
{
	struct routerd_workflows *t = NULL;
	struct af_decision d = routed(1000, 60);
	struct af_workflow_state s;

	cr_assert_eq(routerd_workflows_new(10, &t), 0);
	routerd_workflows_state(t, "a", 0, &s);
	cr_expect_eq(s.hops + s.inflight + s.tokens, 0);
	routerd_workflows_routed(t, "a", &who, 1, &d, 150, 5000, 100);
	routerd_workflows_routed(t, "a", &who, 2, &d, 50, 5000, 200);
	routerd_workflows_routed(t, "b", &who, 3, &d, 7, 5000, 200);
	routerd_workflows_state(t, "a", 300, &s);
	cr_expect_eq(s.hops, 2);
	cr_expect_eq(s.inflight, 2);
	cr_expect_eq(s.tokens, 200);
	cr_expect_eq(s.cost_nano_usd, 2000);
	/* the report of hop 1: 400 tokens at 5000 nano-USD */
	routerd_workflows_reported(t, "a", 1, 5000, 400, 400);
	routerd_workflows_state(t, "a", 500, &s);
	cr_expect_eq(s.inflight, 1);
	cr_expect_eq(s.tokens, 450);
	cr_expect_eq(s.cost_nano_usd, 6000);
	/* reported twice, or a hop of another workflow: nothing changes */
	routerd_workflows_reported(t, "a", 1, 9999, 1, 600);
	routerd_workflows_reported(t, "a", 3, 9999, 1, 600);
	routerd_workflows_state(t, "a", 600, &s);
	cr_expect_eq(s.cost_nano_usd, 6000);
	/* hop 2 is never reported: released at its expiry, cost kept */
	routerd_workflows_state(t, "a", 5200, &s);
	cr_expect_eq(s.inflight, 0);
	cr_expect_eq(s.hops, 2);
	cr_expect_eq(s.cost_nano_usd, 6000);
	cr_expect_eq(routerd_workflows_stats(t)->expired, 1);
	routerd_workflows_free(t);
}

Test(workflow, idle_workflow_starts_again)
{
	struct routerd_workflows *t = NULL;
	struct af_decision d = routed(10, 60);
	struct af_workflow_state s;

	cr_assert_eq(routerd_workflows_new(10, &t), 0);
	routerd_workflows_routed(t, "a", &who, 1, &d, 1, 1000, 1000);
	routerd_workflows_state(t, "a", 1000 + 59999, &s);
	cr_expect_eq(s.hops, 1);
	routerd_workflows_state(t, "a", 1000 + 60000, &s);
	cr_expect_eq(s.hops, 0);
	cr_expect_eq(s.cost_nano_usd, 0);
	cr_expect_eq(routerd_workflows_stats(t)->idled, 1);
	routerd_workflows_free(t);
}

Test(workflow, lru_bound_and_no_allocation)
{
	struct routerd_workflows *t = NULL;
	struct af_decision d = routed(10, 3600);
	struct af_workflow_state s;
	unsigned long before;
	char id[32];

	cr_assert_eq(routerd_workflows_new(0, &t), AF_EINVAL);
	cr_assert_eq(routerd_workflows_new(ROUTERD_WORKFLOWS_MAX + 1, &t),
		     AF_EINVAL);
	cr_assert_eq(routerd_workflows_new(1000, &t), 0);
	before = af_alloc_count();
	for (uint64_t i = 1; i <= 5000; i++) {
		snprintf(id, sizeof(id), "wf-%llu", (unsigned long long)i);
		routerd_workflows_state(t, id, i, &s);
		routerd_workflows_routed(t, id, &who, i, &d, 1, 1000000, i);
		routerd_workflows_reported(t, id, i, 5, 1, i);
	}
	cr_assert_eq(af_alloc_count(), before);
	cr_expect_leq(routerd_workflows_stats(t)->tracked, 1000);
	cr_expect_geq(routerd_workflows_stats(t)->tracked, 900);
	cr_expect_eq(routerd_workflows_stats(t)->started, 5000);
	cr_expect_eq(routerd_workflows_stats(t)->evicted,
		     5000 - routerd_workflows_stats(t)->tracked);
	/* the newest are kept, the oldest were evicted */
	routerd_workflows_state(t, "wf-5000", 6000, &s);
	cr_expect_eq(s.hops, 1);
	routerd_workflows_state(t, "wf-1", 6000, &s);
	cr_expect_eq(s.hops, 0);
	/* a workflow used again is the most recent of its shard: it
	 * survives newer ones (eviction is LRU within each of 64 shards) */
	routerd_workflows_routed(t, "wf-4990", &who, 9000, &d, 1, 1000000,
				 9000);
	for (uint64_t i = 10001; i <= 10300; i++) {
		snprintf(id, sizeof(id), "x-%llu", (unsigned long long)i);
		routerd_workflows_routed(t, id, &who, i, &d, 1, 1000000, i);
	}
	routerd_workflows_state(t, "wf-4990", 20000, &s);
	cr_expect_eq(s.hops, 2);
	routerd_workflows_free(t);
}

Test(workflow, in_flight_slots_are_bounded)
{
	struct routerd_workflows *t = NULL;
	struct af_decision d = routed(10, 3600);
	struct af_workflow_state s;

	cr_assert_eq(routerd_workflows_new(4, &t), 0);
	for (uint64_t i = 1; i <= ROUTERD_WORKFLOW_SLOTS + 3; i++)
		routerd_workflows_routed(t, "a", &who, i, &d, 1, 100000 + i, 1);
	routerd_workflows_state(t, "a", 2, &s);
	cr_expect_eq(s.inflight, ROUTERD_WORKFLOW_SLOTS);
	cr_expect_eq(s.hops, ROUTERD_WORKFLOW_SLOTS + 3);
	cr_expect_eq(routerd_workflows_stats(t)->overflowed, 3);
	routerd_workflows_free(t);
}

/* ---------------------------------------- ended workflows -> usage */

static Af__UsageReport *usage_take(struct routerd_usage *u)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	Af__UsageReport *r;

	cr_assert_eq(routerd_usage_take(u, NULL, "r1", &buf, &len), 0);
	if (buf == NULL)
		return NULL;
	r = af__usage_report__unpack(NULL, len, buf);
	af_free(buf);
	cr_assert_not_null(r);
	return r;
}

static const Af__WorkflowRow *row_of(const Af__UsageReport *r,
				     const char *tenant)
{
	for (size_t i = 0; i < r->n_workflows; i++)
		if (strcmp(r->workflows[i]->tenant, tenant) == 0)
			return r->workflows[i];
	cr_assert_fail("no row of %s", tenant);
	return NULL;
}

Test(workflow, outcomes_sweep_and_eviction_feed_the_usage_rows)
{
	static const char lab[] = "cost_center=A";
	struct routerd_workflow_who a = {"ta", "c", lab, sizeof(lab)};
	struct routerd_workflow_who b = {"tb", "c", NULL, 0};
	struct routerd_workflows *t = NULL;
	struct routerd_usage *u = NULL;
	struct af_decision d = routed(100000000, 60); /* 0.10 USD */
	struct routerd_workflow_done o = {.outcome = ROUTERD_WORKFLOW_SUCCESS,
					  .tenant = "ta",
					  .class_name = "c",
					  .tool_micro = 50000,
					  .human_micro = 200000};
	const Af__WorkflowRow *w;
	Af__UsageReport *r;

	cr_assert_eq(routerd_workflows_new(2, &t), 0);
	cr_assert_eq(routerd_usage_new(&u), 0);
	routerd_workflows_on_done(t, routerd_usage_workflow, u);
	cr_expect_null(usage_take(u));
	/* w1: two hops, one reported at 0.25, then a success */
	routerd_workflows_routed(t, "w1", &a, 1, &d, 10, 5000, 1000);
	routerd_workflows_routed(t, "w1", &a, 2, &d, 10, 5000, 1000);
	routerd_workflows_reported(t, "w1", 1, 250000000, 10, 1100);
	cr_expect(routerd_workflows_outcome(t, "w1", &o, 1200));
	/* w2: one hop, idle past 60 s: the sweep abandons it */
	routerd_workflows_routed(t, "w2", &b, 3, &d, 10, 5000, 1000);
	cr_expect_eq(routerd_workflows_sweep(t, 60999), 0);
	cr_expect_eq(routerd_workflows_sweep(t, 61000), 1);
	/* an outcome for a workflow never seen: its own costs only */
	o.outcome = ROUTERD_WORKFLOW_FAILED;
	o.tenant = "tb";
	o.tool_micro = 1;
	o.human_micro = 0;
	cr_expect_not(routerd_workflows_outcome(t, "w9", &o, 2000));
	r = usage_take(u);
	cr_assert_not_null(r);
	/* each workflow its own row, under its id: the cluster merges the
	 * parts of one workflow other routerds saw */
	cr_assert_eq(r->n_workflows, 3);
	w = row_of(r, "ta");
	cr_expect_str_eq(w->workflow_id, "w1");
	cr_expect(w->finished);
	cr_expect_eq(w->workflows, 1);
	cr_expect_eq(w->succeeded, 1);
	cr_expect_eq(w->hops, 2);
	cr_expect_eq(w->inference_micro, 350000);
	cr_expect_eq(w->tool_micro, 50000);
	cr_expect_eq(w->human_micro, 200000);
	cr_expect_eq(w->waste_micro, 0);
	cr_expect_eq(w->success_min_micro, 600000);
	cr_expect_eq(w->success_max_micro, 600000);
	cr_assert_eq(w->n_success_hist, 2);
	cr_expect_eq(w->success_hist[0], af_costhist_index(600000));
	cr_expect_eq(w->success_hist[1], 1);
	cr_assert_eq(w->n_labels, 1);
	cr_expect_str_eq(w->labels[0], "cost_center=A");
	w = row_of(r, "tb");
	cr_expect_str_eq(w->workflow_id, "w2");
	cr_expect_not(w->finished, "abandoned by the sweep");
	cr_expect_eq(w->workflows, 1);
	cr_expect_eq(w->abandoned, 1);
	cr_expect_eq(w->succeeded, 0);
	cr_expect_eq(w->inference_micro, 100000);
	cr_expect_eq(w->waste_micro, 100000);
	cr_expect_eq(w->success_min_micro, -1);
	w = r->workflows[2];
	cr_expect_str_eq(w->workflow_id, "w9");
	cr_expect(w->finished);
	cr_expect_eq(w->failed, 1);
	cr_expect_eq(w->hops, 0);
	cr_expect_eq(w->waste_micro, 1);
	af__usage_report__free_unpacked(r, NULL);
	cr_expect_null(usage_take(u), "a take empties the accumulator");
	/* eviction: a table of 2 taking a third workflow abandons the LRU */
	routerd_workflows_routed(t, "x1", &b, 4, &d, 1, 5000, 3000);
	routerd_workflows_routed(t, "x2", &b, 5, &d, 1, 5000, 3001);
	routerd_workflows_routed(t, "x3", &b, 6, &d, 1, 5000, 3002);
	r = usage_take(u);
	cr_assert_not_null(r);
	cr_expect_eq(row_of(r, "tb")->abandoned, 1);
	cr_expect_eq(routerd_workflows_stats(t)->evicted, 1);
	cr_expect_eq(routerd_workflows_stats(t)->abandoned, 2);
	af__usage_report__free_unpacked(r, NULL);
	routerd_workflows_free(t);
	routerd_usage_free(u);
}

Test(workflow, rows_past_the_bound_sum_into_other)
{
	struct routerd_usage *u = NULL;
	struct routerd_workflow_done w = {.outcome = ROUTERD_WORKFLOW_SUCCESS,
					  .class_name = "c",
					  .inference_nano = 1000};
	char tenant[32];
	Af__UsageReport *r;

	cr_assert_eq(routerd_usage_new(&u), 0);
	for (int i = 0; i < AF_USAGE_MAX_WORKFLOW_ROWS + 10; i++) {
		snprintf(tenant, sizeof(tenant), "t%d", i);
		w.tenant = tenant;
		routerd_usage_workflow(u, &w);
	}
	r = usage_take(u);
	cr_assert_eq(r->n_workflows, AF_USAGE_MAX_WORKFLOW_ROWS + 1);
	cr_expect_str_eq(r->workflows[AF_USAGE_MAX_WORKFLOW_ROWS]->tenant,
			 "(other)");
	cr_expect_eq(r->workflows[AF_USAGE_MAX_WORKFLOW_ROWS]->workflows, 10);
	af__usage_report__free_unpacked(r, NULL);
	routerd_usage_free(u);
}

/* The first AF_USAGE_MAX_WORKFLOW_IDS workflows of a flush are rows of
 * their own (under their id, merged by the cluster); later ones are summed
 * per tenant, class and labels. */
Test(workflow, rows_of_one_workflow_are_bounded)
{
	struct routerd_usage *u = NULL;
	struct routerd_workflow_done w = {.outcome = ROUTERD_WORKFLOW_SUCCESS,
					  .finished = true,
					  .tenant = "t",
					  .class_name = "c",
					  .inference_nano = 1000};
	char id[32];
	Af__UsageReport *r;

	cr_assert_eq(routerd_usage_new(&u), 0);
	for (int i = 0; i < AF_USAGE_MAX_WORKFLOW_IDS + 10; i++) {
		snprintf(id, sizeof(id), "wf%d", i);
		w.id = id;
		routerd_usage_workflow(u, &w);
	}
	r = usage_take(u);
	cr_assert_eq(r->n_workflows, AF_USAGE_MAX_WORKFLOW_IDS + 1);
	cr_expect_str_eq(r->workflows[0]->workflow_id, "wf0");
	cr_expect(r->workflows[0]->finished);
	cr_expect_eq(r->workflows[0]->workflows, 1);
	cr_expect_str_eq(r->workflows[AF_USAGE_MAX_WORKFLOW_IDS]->workflow_id,
			 "");
	cr_expect_not(r->workflows[AF_USAGE_MAX_WORKFLOW_IDS]->finished);
	cr_expect_eq(r->workflows[AF_USAGE_MAX_WORKFLOW_IDS]->workflows, 10);
	af__usage_report__free_unpacked(r, NULL);
	/* the next flush has room again */
	routerd_usage_workflow(u, &w);
	r = usage_take(u);
	cr_expect_str_eq(r->workflows[0]->workflow_id, id);
	af__usage_report__free_unpacked(r, NULL);
	routerd_usage_free(u);
}

/* A report naming only its decision finds the workflow by the hash the
 * decision kept and the hop it holds; a wrong hash or hop changes
 * nothing. */
Test(workflow, report_by_hash_of_the_decision)
{
	struct routerd_workflows *t = NULL;
	struct af_decision d = routed(1000, 60);
	struct af_workflow_state s;
	uint64_t h = routerd_workflow_hash("a");

	cr_assert_eq(routerd_workflows_new(10, &t), 0);
	routerd_workflows_routed(t, "a", &who, 1, &d, 10, 5000, 100);
	routerd_workflows_routed(t, "a", &who, 2, &d, 10, 5000, 100);
	routerd_workflows_reported_hash(t, h + 1, 1, 9000, 20, 200);
	routerd_workflows_reported_hash(t, h, 7, 9000, 20, 200);
	routerd_workflows_state(t, "a", 300, &s);
	cr_expect_eq(s.inflight, 2);
	cr_expect_eq(s.cost_nano_usd, 2000);
	routerd_workflows_reported_hash(t, h, 1, 9000, 20, 200);
	routerd_workflows_state(t, "a", 300, &s);
	cr_expect_eq(s.inflight, 1);
	cr_expect_eq(s.cost_nano_usd, 10000);
	cr_expect_eq(s.tokens, 30);
	routerd_workflows_free(t);
}
