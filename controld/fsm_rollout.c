/* Apply of RolloutControl: canary steps, weight, pause and resume,
 * promotion and abort. */
#include "controld/fsm_int.h"
#include "controld/rollout.h"
#include "proto/af.pb-c.h"

#include <stdio.h>
#include <string.h>

/* Starts the step's clock: the gates judge usage from here on. */
static int start_clock(struct af_txn *t, struct af_rollout *ro, int64_t now)
{
	int rc;

	ro->step_started_ms = now;
	if ((rc = af_usage_get(t, ro->stable, &ro->stable_base)) != 0)
		return rc;
	return af_usage_get(t, ro->canary, &ro->canary_base);
}

/* A new step (or weight): with a fleet gate, its clock starts again when
 * the fleet serves it (FLEET_READY). */
int af_fsm_start_step(struct af_txn *t, struct af_rollout *ro, int64_t now)
{
	ro->fleet_waiting = ro->gates.require_fleet_pct > 0;
	ro->fleet_waiting_since_ms = ro->fleet_waiting ? now : 0;
	return start_clock(t, ro, now);
}

void af_fsm_end_canary(struct af_rollout *ro)
{
	ro->canary = 0;
	ro->weight = 0;
	ro->paused = false;
	ro->nsteps = 0;
	ro->step_index = -1;
	ro->interval_ms = 0;
	memset(&ro->gates, 0, sizeof(ro->gates));
	ro->fleet_waiting = false;
	ro->fleet_waiting_since_ms = 0;
}

/* ------------------------------------------------------------ rollout */

static const char *action_verb(Af__RolloutControl__Action a)
{
	switch (a) {
	case AF__ROLLOUT_CONTROL__ACTION__SET_WEIGHT:
		return "canary.set_weight";
	case AF__ROLLOUT_CONTROL__ACTION__PROMOTE:
		return "canary.promote";
	case AF__ROLLOUT_CONTROL__ACTION__PROMOTE_FULL:
		return "canary.promote_full";
	case AF__ROLLOUT_CONTROL__ACTION__ABORT:
		return "canary.abort";
	case AF__ROLLOUT_CONTROL__ACTION__PAUSE:
		return "canary.pause";
	case AF__ROLLOUT_CONTROL__ACTION__RESUME:
		return "canary.resume";
	case AF__ROLLOUT_CONTROL__ACTION__ADVANCE:
		return "canary.advance";
	case AF__ROLLOUT_CONTROL__ACTION__AUTO_ABORT:
		return "canary.auto_abort";
	case AF__ROLLOUT_CONTROL__ACTION__FLEET_READY:
		return "canary.fleet_ready";
	default:
		return "canary.unknown";
	}
}

/* The canary becomes the stable revision. */
static int promote_full(struct af_txn *t, struct af_rollout *ro)
{
	int rc;

	if ((rc = af_fsm_set_revision_state(t, ro->stable, "superseded")) !=
		    0 ||
	    (rc = af_fsm_set_revision_state(t, ro->canary, "stable")) != 0)
		return rc;
	ro->stable = ro->canary;
	af_fsm_end_canary(ro);
	return 0;
}

/* Next step, or promotion after the last one. */
static int next_step(struct af_txn *t, struct apply_ctx *c,
		     struct af_rollout *ro, bool *ret_promoted)
{
	*ret_promoted = false;
	if (ro->step_index >= 0 && (size_t)ro->step_index + 1 < ro->nsteps) {
		ro->step_index++;
		ro->weight = ro->steps[ro->step_index];
		return af_fsm_start_step(t, ro, c->cmd->time_ms);
	}
	*ret_promoted = true;
	return promote_full(t, ro);
}

static int rollout_guard(struct apply_ctx *c, const Af__RolloutControl *rc,
			 const struct af_rollout *ro)
{
	if (ro->canary == 0) {
		af_fsm_resultf(c->res, AF__CODE__ROLLOUT_STATE,
			       "no canary is running");
		return 1;
	}
	if ((rc->canary_revision && rc->canary_revision != ro->canary) ||
	    (rc->expected_step >= 0 && rc->expected_step != ro->step_index)) {
		af_fsm_resultf(c->res, AF__CODE__CONFLICT,
			       "the rollout moved on (canary %llu, step %d)",
			       (unsigned long long)ro->canary, ro->step_index);
		return 1;
	}
	return 0;
}

/* The action's change to ro. 0, an error, or -1: refused (c->res says
 * why). */
static int act(struct af_txn *t, struct apply_ctx *c,
	       const Af__RolloutControl *rc, struct af_rollout *ro,
	       bool *promoted)
{
	switch (rc->action) {
	case AF__ROLLOUT_CONTROL__ACTION__SET_WEIGHT:
		if (rc->weight > 100) {
			af_fsm_resultf(c->res, AF__CODE__INVALID,
				       "weight must be 0-100");
			return -1;
		}
		ro->weight = rc->weight;
		return af_fsm_start_step(t, ro, c->cmd->time_ms);
	case AF__ROLLOUT_CONTROL__ACTION__PROMOTE:
	case AF__ROLLOUT_CONTROL__ACTION__ADVANCE:
		return next_step(t, c, ro, promoted);
	case AF__ROLLOUT_CONTROL__ACTION__PROMOTE_FULL:
		*promoted = true;
		return promote_full(t, ro);
	case AF__ROLLOUT_CONTROL__ACTION__ABORT:
	case AF__ROLLOUT_CONTROL__ACTION__AUTO_ABORT: {
		int err = af_fsm_set_revision_state(t, ro->canary, "aborted");

		af_fsm_end_canary(ro);
		return err;
	}
	case AF__ROLLOUT_CONTROL__ACTION__PAUSE:
		ro->paused = true;
		return 0;
	case AF__ROLLOUT_CONTROL__ACTION__RESUME:
		ro->paused = false;
		return af_fsm_start_step(t, ro, c->cmd->time_ms);
	case AF__ROLLOUT_CONTROL__ACTION__FLEET_READY:
		if (!ro->fleet_waiting) {
			af_fsm_resultf(c->res, AF__CODE__CONFLICT,
				       "the step is not waiting for the fleet");
			return -1;
		}
		ro->fleet_waiting = false;
		ro->fleet_waiting_since_ms = 0;
		return start_clock(t, ro, c->cmd->time_ms);
	default:
		af_fsm_resultf(c->res, AF__CODE__INVALID, "unknown action");
		return -1;
	}
}

int af_fsm_apply_rollout(struct af_txn *t, struct apply_ctx *c)
{
	const Af__RolloutControl *rc = c->cmd->rollout;
	struct af_rollout ro;
	bool promoted = false;
	uint64_t canary;
	int err;

	c->verb = action_verb(rc->action);
	if ((err = af_rollout_get(t, &ro)) != 0)
		return err;
	canary = ro.canary;
	snprintf(c->target, sizeof(c->target), "revision %llu",
		 (unsigned long long)canary);
	if (rollout_guard(c, rc, &ro) != 0)
		return 0;
	err = act(t, c, rc, &ro, &promoted);
	if (err < 0)
		return 0;
	if (err != 0)
		return err;
	snprintf(ro.verdict, sizeof(ro.verdict), "%s%s%s", c->verb + 7,
		 rc->verdict[0] ? ": " : "", rc->verdict);
	if ((err = af_rollout_put(t, &ro)) != 0)
		return err;
	c->res->revision = promoted ? ro.stable : canary;
	snprintf(c->res->state, sizeof(c->res->state), "%s",
		 promoted ? "stable" : af_rollout_state(&ro));
	if (promoted)
		af_fsm_resultf(c->res, AF__CODE__OK, "promoted to stable");
	else if (ro.canary == 0)
		af_fsm_resultf(c->res, AF__CODE__OK,
			       "%s: all traffic on stable", c->verb + 7);
	else
		af_fsm_resultf(c->res, AF__CODE__OK, "%s: canary at %u%%%s",
			       c->verb + 7, ro.weight,
			       ro.paused ? " (paused)" : "");
	return 0;
}
