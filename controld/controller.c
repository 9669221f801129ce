/* The leader's rollout controller: judges the canary against the stable
 * cohort once a second and proposes ADVANCE (gates pass and the step's
 * interval is over), AUTO_ABORT (a gate is breached, or the NACK share
 * of live routerds reached --max-nack), FLEET_READY (the share of live
 * routerds --require-fleet asks serves the step: its interval starts) or
 * nothing (holding for samples or for the fleet). Proposals carry the canary
 * revision and step they were judged on, so a duplicate after a leader change
 * applies as a no-op: a step is never lost or repeated. Loop thread. */
#include "common/log.h"
#include "common/timeutil.h"
#include "controld/node.h"
#include "controld/rollout.h"
#include "proto/af.pb-c.h"
#include "render/render.h"

#include <stdio.h>
#include <string.h>

static void controller_cb(void *arg, int status, const struct af_fsm_result *r)
{
	struct controld_node *n = arg;

	n->controller_busy = false;
	if (status != 0)
		log_warn("event=rollout_step_failed error=\"%s\"",
			 af_strerror(status));
	else if (r->code == AF__CODE__OK && n->controller_aborting)
		atomic_fetch_add(&n->auto_aborts, 1);
	if (status == 0 && r->code == AF__CODE__OK)
		log_info("event=rollout_step revision=%llu state=%s msg=\"%s\"",
			 (unsigned long long)r->revision, r->state, r->message);
}

static void propose(struct controld_node *n, const struct af_rollout *ro,
		    Af__RolloutControl__Action action, const char *why)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__RolloutControl rc = AF__ROLLOUT_CONTROL__INIT;

	rc.action = action;
	rc.canary_revision = ro->canary;
	rc.expected_step = ro->step_index;
	rc.verdict = (char *)why;
	cmd.op_case = AF__COMMAND__OP_ROLLOUT;
	cmd.rollout = &rc;
	cmd.principal = (char *)"rollout-controller";
	cmd.time_ms = af_wall_ms();
	n->controller_aborting =
		action == AF__ROLLOUT_CONTROL__ACTION__AUTO_ABORT;
	if (af_consensus_propose(&n->cons, &cmd, controller_cb, n) == 0)
		n->controller_busy = true;
}

int controld_rollout_judge_now(struct af_txn *t, const struct af_rollout *ro,
			       struct af_usage *ret_s, struct af_usage *ret_c,
			       char *why, size_t whylen)
{
	struct af_usage s, c;
	int rc;

	if ((rc = af_usage_get(t, ro->stable, &s)) != 0 ||
	    (rc = af_usage_get(t, ro->canary, &c)) != 0)
		return rc;
	af_usage_sub(&s, &ro->stable_base, ret_s);
	af_usage_sub(&c, &ro->canary_base, ret_c);
	return (int)af_rollout_judge(&ro->gates, ret_s, ret_c, why, whylen);
}

/* The fleet gates: a NACK share at --max-nack aborts; a step waiting
 * for the fleet starts its interval once --require-fleet is reached.
 * true: a proposal went out. */
static bool fleet_tick(struct controld_node *n, const struct af_rollout *ro,
		       const Af__FleetGate *fg)
{
	const struct af_gates *g = &ro->gates;
	char why[200];

	if (g->max_nack_pct > 0 &&
	    af_fleet_reached(fg->nacked, fg->live, g->max_nack_pct)) {
		snprintf(why, sizeof(why),
			 "%u of %u live routerds NACK the canary hash "
			 "(%.0f%%): at or over --max-nack %u%%",
			 fg->nacked, fg->live,
			 af_fleet_share(fg->nacked, fg->live) * 100,
			 g->max_nack_pct);
		log_warn("event=canary_nacked revision=%llu why=\"%s\"",
			 (unsigned long long)ro->canary, why);
		propose(n, ro, AF__ROLLOUT_CONTROL__ACTION__AUTO_ABORT, why);
		return true;
	}
	if (ro->fleet_waiting &&
	    af_fleet_reached(fg->serving, fg->live, g->require_fleet_pct)) {
		snprintf(why, sizeof(why),
			 "%u of %u live routerds serve the step (%.0f%%, "
			 "--require-fleet %u%%)",
			 fg->serving, fg->live,
			 af_fleet_share(fg->serving, fg->live) * 100,
			 g->require_fleet_pct);
		propose(n, ro, AF__ROLLOUT_CONTROL__ACTION__FLEET_READY, why);
		return true;
	}
	return false;
}

void controld_rollout_tick(struct controld_node *n, uint64_t now_mono)
{
	Af__FleetGate fg = AF__FLEET_GATE__INIT;
	struct af_rollout ro;
	struct af_usage s, c;
	struct af_txn *t;
	char why[200];
	int v;

	if (n->controller_busy || !af_consensus_ready(&n->cons) ||
	    now_mono - n->controller_last_ms < 1000)
		return;
	n->controller_last_ms = now_mono;
	if (af_store_read_begin(n->store, &t, NULL) != 0)
		return;
	if (af_rollout_get(t, &ro) != 0 || ro.canary == 0 || ro.paused) {
		af_store_read_end(t);
		return;
	}
	v = controld_rollout_judge_now(t, &ro, &s, &c, why, sizeof(why));
	if ((ro.gates.require_fleet_pct || ro.gates.max_nack_pct) &&
	    controld_fleet_gate(t, &ro, af_wall_ms(),
				(int64_t)n->cfg->fleet_lost_s * 1000, &fg) != 0)
		v = -1; /* judged again next tick */
	af_store_read_end(t);
	if (v >= 0 && fleet_tick(n, &ro, &fg))
		return;
	if (v >= 0 && v <= AF_VERDICT_BREACH)
		atomic_fetch_add(&n->verdicts[v], 1);
	if (v == AF_VERDICT_BREACH) {
		log_warn("event=canary_breach revision=%llu why=\"%s\"",
			 (unsigned long long)ro.canary, why);
		propose(n, &ro, AF__ROLLOUT_CONTROL__ACTION__AUTO_ABORT, why);
		return;
	}
	/* Steps advance only with steps configured and the interval over
	 * (leader wall clock against the step's leader-stamped start). */
	if (v == AF_VERDICT_PASS && ro.step_index >= 0 && !ro.fleet_waiting &&
	    af_wall_ms() - ro.step_started_ms >= (int64_t)ro.interval_ms)
		propose(n, &ro, AF__ROLLOUT_CONTROL__ACTION__ADVANCE, why);
}
