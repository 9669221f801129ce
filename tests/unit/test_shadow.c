/* Shadow agreement: the kinds of change between two decisions; the state
 * machine's shadow start, its one-at-a-time rule, stop and expiry by the
 * entries' own times, the per-class totals summed from usage reports
 * (several routerds, several flushes, rows of another hash kept apart),
 * and the agreement a canary start requires; the decisions routerd's full
 * queue dropped, summed per class; the running canary's history, one
 * point per spacing of entry time, bounded by thinning. Real LMDB stores,
 * no raft. */
#include "tests/lib/alloc_check.h"
#include "tests/lib/fsm_fixture.h"
#include "common/alloc.h"
#include "controld/fsm.h"
#include "controld/state.h"
#include "policy/replay.h"
#include "proto/af.pb-c.h"
#include "render/render.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------ kinds of change */

static struct af_decision route(const char *model, const char *tier,
				const char *region)
{
	struct af_decision d;

	memset(&d, 0, sizeof(d));
	d.kind = AF_DECISION_ROUTE;
	d.primary.model = model;
	d.primary.tier = tier;
	d.primary.region = region;
	return d;
}

static struct af_decision deny(const char *code)
{
	struct af_decision d;

	memset(&d, 0, sizeof(d));
	d.kind = AF_DECISION_DENY;
	d.code = code;
	return d;
}

Test(shadow_changes, kinds)
{
	struct af_decision a = route("m1", "mid", "eu"), b = a;

	cr_assert_eq(af_decision_changes(&a, 0, &b, 0), 0);
	b = route("m2", "mid", "eu");
	cr_assert_eq(af_decision_changes(&a, 0, &b, 0), AF_CHANGE_MODEL);
	b = route("m2", "frontier", "us");
	cr_assert_eq(af_decision_changes(&a, 0, &b, 0),
		     AF_CHANGE_MODEL | AF_CHANGE_TIER | AF_CHANGE_REGION);
	b = deny("COST_LIMIT");
	cr_assert_eq(af_decision_changes(&a, 0, &b, 0),
		     AF_CHANGE_ROUTE_TO_DENY);
	cr_assert_eq(af_decision_changes(&b, 0, &a, 0),
		     AF_CHANGE_DENY_TO_ROUTE);
	struct af_decision c = deny("COST_LIMIT"), e = deny("LANE_SATURATED");

	cr_assert_eq(af_decision_changes(&b, 0, &c, 0), 0);
	cr_assert_eq(af_decision_changes(&b, 0, &e, 0), AF_CHANGE_DENY_CODE);
	/* an unknown class in the candidate is a denial UNKNOWN_CLASS */
	cr_assert_eq(af_decision_changes(&a, 0, &b, AF_ENOTFOUND),
		     AF_CHANGE_ROUTE_TO_DENY);
	cr_assert_eq(af_decision_changes(&b, 0, &b, AF_ENOTFOUND),
		     AF_CHANGE_DENY_CODE);
	cr_assert_str_eq(af_decision_deny_code(&a, 0), "");
	cr_assert_str_eq(af_decision_deny_code(&a, AF_ENOTFOUND),
			 "UNKNOWN_CLASS");
}

/* ------------------------------------------------------- state machine */

static struct fsm_fixture fx;

#define T0 1795341600000LL

static void setup(void)
{
	struct af_err e;

	af_test_alloc_begin();
	cr_assert_eq(fsm_fixture_open(&fx, "shadow", &e), 0, "%s", e.msg);
}

static void teardown(void)
{
	cr_assert_eq(fsm_fixture_close(&fx), 0);
	af_test_alloc_end();
}

static struct af_fsm_result apply_at(Af__Command *cmd, int64_t t)
{
	cr_assert_eq(fsm_fixture_apply(&fx, cmd, t), 0);
	return fx.fsm.result;
}

static void hash_of(int k, char out[80])
{
	snprintf(out, 80, "sha256:%064d", k);
}

/* Applies pa (its other fields set by the caller) as bundle k at t. */
static struct af_fsm_result apply_bundle(int k, Af__PolicyApply *pa, int64_t t)
{
	Af__Command cmd = AF__COMMAND__INIT;
	char hash[80], bytes[16];

	hash_of(k, hash);
	snprintf(bytes, sizeof(bytes), "bundle-%d", k);
	pa->hash = hash;
	pa->name = (char *)"prod";
	pa->compiled.data = (uint8_t *)bytes;
	pa->compiled.len = strlen(bytes);
	cmd.op_case = AF__COMMAND__OP_POLICY_APPLY;
	cmd.policy_apply = pa;
	return apply_at(&cmd, t);
}

/* A policy apply of bundle k: stable, a shadow (pct > 0), or a canary
 * requiring ppm agreement over min samples (ppm >= 0). */
static struct af_fsm_result policy(int k, uint32_t shadow_pct,
				   uint64_t duration_ms, int64_t ppm,
				   uint64_t min, int64_t t)
{
	Af__PolicyApply pa = AF__POLICY_APPLY__INIT;

	pa.shadow = shadow_pct > 0;
	pa.shadow_sample_pct = shadow_pct;
	pa.shadow_duration_ms = duration_ms;
	if (ppm >= 0) {
		pa.canary_weight = 10;
		pa.require_shadow = true;
		pa.require_shadow_ppm = (uint32_t)ppm;
		pa.min_shadow_samples = min;
	}
	return apply_bundle(k, &pa, t);
}

static struct af_fsm_result stop(bool expire, int64_t t)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__ShadowStop ss = AF__SHADOW_STOP__INIT;

	ss.expire = expire;
	cmd.op_case = AF__COMMAND__OP_SHADOW_STOP;
	cmd.shadow_stop = &ss;
	return apply_at(&cmd, t);
}

/* Drops the next report's row carries. */
static uint64_t next_dropped;

/* A usage report from routerd `id` of one row per (hash k, class). */
static void report(const char *id, int k, const char *cls, uint64_t sampled,
		   uint64_t same, uint64_t tier, int64_t cs, int64_t cz)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__UsageReport ur = AF__USAGE_REPORT__INIT;
	Af__ShadowCounts c = AF__SHADOW_COUNTS__INIT, *cp = &c;
	char hash[80];

	hash_of(k, hash);
	c.hash = hash;
	c.class_name = (char *)cls;
	c.sampled = sampled;
	c.same = same;
	c.tier = tier;
	c.cost_stable_nano_usd = cs;
	c.cost_shadow_nano_usd = cz;
	c.dropped = next_dropped;
	ur.routerd_id = (char *)id;
	ur.n_shadow = 1;
	ur.shadow = &cp;
	cmd.op_case = AF__COMMAND__OP_USAGE_REPORT;
	cmd.usage_report = &ur;
	cr_assert_eq(apply_at(&cmd, T0).code, AF__CODE__OK);
}

/* The totals of hash k: the sum, and the row of class cls into *row. */
static Af__ShadowCounts totals(int k, const char *cls, Af__ShadowCounts *row,
			       size_t *nclasses)
{
	struct af_txn *t;
	Af__ShadowTotals *st;
	Af__ShadowCounts sum;
	char hash[80];

	hash_of(k, hash);
	cr_assert_eq(af_store_read_begin(fx.store, &t, NULL), 0);
	cr_assert_eq(af_state_shadow_totals_get(t, hash, &st), 0);
	af_store_read_end(t);
	af_shadow_totals_sum(st, &sum);
	af__shadow_counts__init(row);
	*nclasses = st != NULL ? st->n_classes : 0;
	for (size_t i = 0; st != NULL && i < st->n_classes; i++)
		if (strcmp(st->classes[i]->class_name, cls) == 0) {
			*row = *st->classes[i];
			row->class_name = NULL;
			row->hash = NULL;
		}
	if (st != NULL)
		protobuf_c_message_free_unpacked(&st->base, NULL);
	return sum;
}

static void shadow_state(char *out, size_t len, uint64_t *rev)
{
	struct af_txn *t;
	Af__Shadow *sh;

	cr_assert_eq(af_store_read_begin(fx.store, &t, NULL), 0);
	cr_assert_eq(af_state_shadow_get(t, &sh), 0);
	af_store_read_end(t);
	cr_assert_not_null(sh);
	snprintf(out, len, "%s", sh->state);
	*rev = sh->revision;
	protobuf_c_message_free_unpacked(&sh->base, NULL);
}

TestSuite(shadow_fsm, .init = setup, .fini = teardown);

Test(shadow_fsm, one_at_a_time_and_expiry)
{
	struct af_fsm_result r;
	char st[16];
	uint64_t rev;

	r = policy(2, 50, 0, -1, 0, T0);
	cr_assert_eq(r.code, AF__CODE__ROLLOUT_STATE, "no stable yet: %s",
		     r.message);
	cr_assert_eq(policy(1, 0, 0, -1, 0, T0).code, AF__CODE__OK);
	r = policy(2, 50, 60000, -1, 0, T0);
	cr_assert_eq(r.code, AF__CODE__OK, "%s", r.message);
	cr_assert_str_eq(r.state, "shadow");
	cr_assert_eq(fx.fsm.heads.shadow, r.revision);
	cr_assert_eq(fx.fsm.heads.shadow_expires_ms, T0 + 60000);
	cr_assert_eq(fx.fsm.heads.stable, 1, "the stable revision stays");
	r = policy(3, 100, 0, -1, 0, T0);
	cr_assert_eq(r.code, AF__CODE__ROLLOUT_STATE, "a second shadow");
	cr_assert(strstr(r.message, "is running") != NULL, "%s", r.message);
	/* expiry: refused before its time, by the entry's own time after */
	cr_assert_eq(stop(true, T0 + 59999).code, AF__CODE__ROLLOUT_STATE);
	cr_assert_eq(stop(true, T0 + 60000).code, AF__CODE__OK);
	shadow_state(st, sizeof(st), &rev);
	cr_assert_str_eq(st, "expired");
	cr_assert_eq(fx.fsm.heads.shadow, 0);
	cr_assert_eq(stop(false, T0).code, AF__CODE__ROLLOUT_STATE,
		     "nothing left to stop");
	cr_assert_eq(policy(3, 100, 0, -1, 0, T0).code, AF__CODE__OK);
	cr_assert_eq(stop(false, T0).code, AF__CODE__OK);
	shadow_state(st, sizeof(st), &rev);
	cr_assert_str_eq(st, "stopped");
}

Test(shadow_fsm, totals_per_class_and_canary_gate)
{
	Af__ShadowCounts sum, row;
	struct af_fsm_result r;
	size_t n;

	cr_assert_eq(policy(1, 0, 0, -1, 0, T0).code, AF__CODE__OK);
	cr_assert_eq(policy(2, 100, 0, -1, 0, T0).code, AF__CODE__OK);
	/* two routerds, two flushes each, two classes; a row of another
	 * hash is kept apart */
	report("r1", 2, "research", 100, 90, 10, 5000, 4000);
	report("r2", 2, "research", 50, 40, 10, 2500, 2000);
	report("r1", 2, "copilot", 50, 50, 0, 1000, 1000);
	report("r2", 2, "copilot", 0, 0, 0, 0, 0);
	report("r1", 7, "research", 1000, 0, 1000, 1, 1);
	sum = totals(2, "research", &row, &n);
	cr_assert_eq(n, 2);
	cr_assert_eq(row.sampled, 150);
	cr_assert_eq(row.same, 130);
	cr_assert_eq(row.tier, 20);
	cr_assert_eq(row.cost_stable_nano_usd, 7500);
	cr_assert_eq(row.cost_shadow_nano_usd, 6000);
	cr_assert_eq(sum.sampled, 200);
	cr_assert_eq(sum.same, 180);
	cr_assert_eq(sum.cost_stable_nano_usd, 8500);
	/* agreement 90% over 200 samples */
	r = policy(2, 0, 0, 950000, 0, T0);
	cr_assert_eq(r.code, AF__CODE__ROLLOUT_STATE, "95%% required");
	cr_assert(strstr(r.message, "90.00% over 200 sampled") != NULL, "%s",
		  r.message);
	r = policy(2, 0, 0, 900000, 201, T0);
	cr_assert_eq(r.code, AF__CODE__ROLLOUT_STATE, "201 samples required");
	r = policy(7, 0, 0, 1, 0, T0);
	cr_assert_eq(r.code, AF__CODE__ROLLOUT_STATE, "0%% agreement of 7");
	r = policy(5, 0, 0, 0, 0, T0);
	cr_assert_eq(r.code, AF__CODE__ROLLOUT_STATE, "never shadowed");
	r = policy(2, 0, 0, 900000, 200, T0);
	cr_assert_eq(r.code, AF__CODE__OK, "%s", r.message);
	cr_assert_str_eq(r.state, "canary");
	/* the canary leaves the shadow running */
	cr_assert_neq(fx.fsm.heads.shadow, 0);
}

Test(shadow_fsm, drops_per_class)
{
	Af__ShadowCounts sum, row;
	size_t n;

	cr_assert_eq(policy(1, 0, 0, -1, 0, T0).code, AF__CODE__OK);
	cr_assert_eq(policy(2, 100, 0, -1, 0, T0).code, AF__CODE__OK);
	next_dropped = 7;
	report("r1", 2, "research", 10, 10, 0, 0, 0);
	next_dropped = 5;
	report("r2", 2, "research", 0, 0, 0, 0, 0);
	report("r2", 2, "copilot", 0, 0, 0, 0, 0);
	next_dropped = 0;
	sum = totals(2, "research", &row, &n);
	cr_assert_eq(n, 2);
	cr_assert_eq(row.dropped, 12);
	cr_assert_eq(row.sampled, 10, "drops are not samples");
	cr_assert_eq(sum.dropped, 17);
}

/* ------------------------------------------------------ rollout history */

/* A canary of bundle k at 10%, no shadow required. */
static void canary(int k)
{
	Af__PolicyApply pa = AF__POLICY_APPLY__INIT;

	pa.canary_weight = 10;
	cr_assert_eq(apply_bundle(k, &pa, T0).code, AF__CODE__OK);
}

/* A usage report at time t: n outcomes of revision rev, ok of them ok. */
static void usage(uint64_t rev, uint64_t n, uint64_t ok, int64_t t)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__UsageReport ur = AF__USAGE_REPORT__INIT;
	Af__UsageRow row = AF__USAGE_ROW__INIT, *rp = &row;

	row.revision = rev;
	row.tenant = (char *)"t";
	row.class_name = (char *)"c";
	row.model = (char *)"m";
	row.count = n;
	row.ok = ok;
	ur.routerd_id = (char *)"r1";
	ur.n_rows = 1;
	ur.rows = &rp;
	cmd.op_case = AF__COMMAND__OP_USAGE_REPORT;
	cmd.usage_report = &ur;
	cr_assert_eq(apply_at(&cmd, t).code, AF__CODE__OK);
}

static Af__RolloutHistory *history(void)
{
	struct af_txn *t;
	Af__RolloutHistory *h;

	cr_assert_eq(af_store_read_begin(fx.store, &t, NULL), 0);
	cr_assert_eq(af_state_rollout_history_get(t, &h), 0);
	af_store_read_end(t);
	return h;
}

Test(shadow_fsm, rollout_history_bounded)
{
	Af__RolloutHistory *h;

	cr_assert_eq(policy(1, 0, 0, -1, 0, T0).code, AF__CODE__OK);
	usage(1, 5, 5, T0);
	cr_assert_null(history(), "no canary: no history");
	canary(2);
	/* a report every second: a point every 2 s */
	for (int i = 0; i < 10; i++) {
		usage(1, 9, 9, T0 + i * 1000);
		usage(2, 1, (uint64_t)(i % 2), T0 + i * 1000);
	}
	h = history();
	cr_assert_not_null(h);
	cr_assert_eq(h->canary_revision, 2);
	cr_assert_eq(h->n_points, 5);
	cr_assert_eq(h->points[0]->at_ms, T0);
	cr_assert_eq(h->points[4]->at_ms, T0 + 8000);
	/* the step so far, when the point was taken (the stable report of
	 * second 8, before the canary's): stable's 5 outcomes before the
	 * canary left out */
	cr_assert_eq(h->points[4]->stable->count, 81);
	cr_assert_eq(h->points[4]->canary->count, 8);
	cr_assert_eq(h->points[4]->canary->ok, 4);
	cr_assert_eq(h->points[4]->weight, 10);
	protobuf_c_message_free_unpacked(&h->base, NULL);
	/* 20 minutes of reports: never more than 240 points, the first kept,
	 * the spacing doubled */
	for (int i = 10; i < 1200; i++)
		usage(2, 1, 1, T0 + i * 1000);
	h = history();
	cr_assert_leq(h->n_points, 240);
	cr_assert_geq(h->n_points, 120);
	cr_assert_eq(h->points[0]->at_ms, T0);
	cr_assert_eq(h->spacing_ms, 8000);
	cr_assert_geq(h->points[h->n_points - 1]->at_ms, T0 + 1199000 - 8000);
	for (size_t i = 1; i < h->n_points; i++)
		cr_assert_gt(h->points[i]->at_ms, h->points[i - 1]->at_ms);
	cr_log_info("history: %zu points, %zu bytes", h->n_points,
		    af__rollout_history__get_packed_size(h));
	protobuf_c_message_free_unpacked(&h->base, NULL);
	/* an aborted canary: its history is not the next one's */
	{
		Af__Command cmd = AF__COMMAND__INIT;
		Af__RolloutControl rc = AF__ROLLOUT_CONTROL__INIT;

		rc.action = AF__ROLLOUT_CONTROL__ACTION__ABORT;
		rc.expected_step = -1;
		cmd.op_case = AF__COMMAND__OP_ROLLOUT;
		cmd.rollout = &rc;
		cr_assert_eq(apply_at(&cmd, T0 + 1200000).code, AF__CODE__OK);
	}
	canary(4);
	usage(1, 1, 1, T0 + 1201000);
	h = history();
	cr_assert_neq(h->canary_revision, 2);
	cr_assert_eq(h->n_points, 1);
	cr_assert_eq(h->spacing_ms, 2000);
	cr_assert_eq(h->points[0]->stable->count, 1);
	protobuf_c_message_free_unpacked(&h->base, NULL);
}
