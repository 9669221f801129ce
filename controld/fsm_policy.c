/* Apply of PolicyApply and PolicyRollback: revisions, content-addressed
 * bundles, signed-bundle serials; a canary start hands over to the
 * rollout code (fsm_rollout.c). */
#include "controld/fsm_int.h"
#include "controld/rollout.h"
#include "controld/state.h"
#include "proto/af.pb-c.h"

#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------- revisions */

/* Sets the state of revision `rev` (if it exists). */
int af_fsm_set_revision_state(struct af_txn *t, uint64_t rev, const char *state)
{
	Af__Revision *r;
	char *old;
	int rc;

	if ((rc = af_state_revision_find(t, rev, &r)) != 0 || r == NULL)
		return rc;
	old = r->state;
	r->state = (char *)state;
	if (strcmp(state, "stable") == 0)
		r->ever_stable = 1;
	rc = af_state_revision_put(t, r);
	r->state = old;
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return rc;
}

static int start_canary(struct af_txn *t, struct apply_ctx *c,
			struct af_rollout *ro, const Af__PolicyApply *pa,
			uint64_t next)
{
	ro->canary = next;
	ro->paused = false;
	ro->nsteps = 0;
	for (size_t i = 0; i < pa->n_steps && i < AF_MAX_STEPS; i++)
		ro->steps[ro->nsteps++] = pa->steps[i];
	ro->step_index = ro->nsteps ? 0 : -1;
	ro->weight = ro->nsteps ? ro->steps[0] : pa->canary_weight;
	ro->interval_ms = pa->interval_ms ? pa->interval_ms : 60000;
	memset(&ro->gates, 0, sizeof(ro->gates));
	if (pa->gates) {
		ro->gates.max_error_delta_ppm = pa->gates->max_error_delta_ppm;
		ro->gates.max_latency_ratio_ppm =
			pa->gates->max_latency_ratio_ppm;
		ro->gates.max_cost_ratio_ppm = pa->gates->max_cost_ratio_ppm;
		ro->gates.min_samples = pa->gates->min_samples;
		ro->gates.require_fleet_pct = pa->gates->require_fleet_pct;
		ro->gates.max_nack_pct = pa->gates->max_nack_pct;
		ro->gates.max_quality_drop_ppm =
			pa->gates->max_quality_drop_ppm;
	}
	ro->started_ms = c->cmd->time_ms;
	snprintf(ro->verdict, sizeof(ro->verdict), "started");
	return af_fsm_start_step(t, ro, c->cmd->time_ms);
}

static int check_canary_args(struct apply_ctx *c, const Af__PolicyApply *pa,
			     const struct af_rollout *ro)
{
	bool canary = pa->canary_weight > 0 || pa->n_steps > 0;

	if (canary && ro->canary != 0) {
		af_fsm_resultf(c->res, AF__CODE__ROLLOUT_STATE,
			       "canary revision %llu is running: promote or "
			       "abort it first",
			       (unsigned long long)ro->canary);
		return 1;
	}
	if (canary && ro->stable == 0) {
		af_fsm_resultf(
			c->res, AF__CODE__ROLLOUT_STATE,
			"no stable revision yet: apply one without a canary "
			"first");
		return 1;
	}
	if (pa->canary_weight > 100 || pa->n_steps > AF_MAX_STEPS) {
		af_fsm_resultf(c->res, AF__CODE__INVALID,
			       "canary weight must be 1-100, at most %d steps",
			       AF_MAX_STEPS);
		return 1;
	}
	if (pa->gates && (pa->gates->require_fleet_pct > 100 ||
			  pa->gates->max_nack_pct > 100 ||
			  pa->gates->max_quality_drop_ppm < 0 ||
			  pa->gates->max_quality_drop_ppm > 1000000)) {
		af_fsm_resultf(c->res, AF__CODE__INVALID,
			       "fleet gates take 0-100 percent, the quality "
			       "drop 0-1");
		return 1;
	}
	for (size_t i = 0; i < pa->n_steps; i++)
		if (pa->steps[i] < 1 || pa->steps[i] > 100 ||
		    (i > 0 && pa->steps[i] <= pa->steps[i - 1])) {
			af_fsm_resultf(c->res, AF__CODE__INVALID,
				       "steps must rise within 1-100");
			return 1;
		}
	return 0;
}

/* A signed bundle's serial must be above every serial accepted before
 * for that bundle name: an old signed bundle cannot be applied again.
 * Returns 1 (refused, result set), 0, or a storage error. */
static int check_serial(struct af_txn *t, struct apply_ctx *c,
			const Af__PolicyApply *pa)
{
	char key[96];
	uint64_t last;

	if (pa->signature.len == 0)
		return 0;
	snprintf(key, sizeof(key), "sigserial/%.80s", pa->name);
	last = af_txn_meta_u64(t, key);
	if (pa->serial <= last) {
		af_fsm_resultf(c->res, AF__CODE__CONFLICT,
			       "replayed or older signed bundle: serial %llu, "
			       "but %llu was already accepted for %.64s",
			       (unsigned long long)pa->serial,
			       (unsigned long long)last, pa->name);
		return 1;
	}
	return af_txn_set_meta_u64(t, key, pa->serial);
}

void af_fsm_revision_of(const struct apply_ctx *c, const Af__PolicyApply *pa,
			uint64_t rev, Af__Revision *r)
{
	r->revision = rev;
	r->hash = pa->hash;
	r->author = c->cmd->principal;
	r->time_ms = c->cmd->time_ms;
	r->message = pa->message;
	r->name = pa->name;
	r->key_id = pa->key_id;
	r->serial = pa->serial;
	r->signature = pa->signature;
}

int af_fsm_apply_policy(struct af_txn *t, struct apply_ctx *c)
{
	const Af__PolicyApply *pa = c->cmd->policy_apply;
	Af__Revision rev = AF__REVISION__INIT;
	bool canary = pa->canary_weight > 0 || pa->n_steps > 0;
	struct af_rollout ro;
	char stable_hash[AF_HASH_STR_LEN];
	uint64_t next;
	int rc;

	c->verb = canary ? "canary.start" : "policy.apply";
	snprintf(c->target, sizeof(c->target), "%.64s %.72s", pa->name,
		 pa->hash);
	if ((rc = af_rollout_get(t, &ro)) != 0 ||
	    (rc = af_state_revision_hash(t, ro.stable, stable_hash,
					 sizeof(stable_hash))) != 0)
		return rc;
	if (pa->shadow)
		return af_fsm_apply_shadow_start(t, c, ro.stable);
	if (!canary && ro.canary == 0 && strcmp(stable_hash, pa->hash) == 0) {
		c->res->revision = ro.stable;
		c->res->unchanged = true;
		snprintf(c->res->hash, sizeof(c->res->hash), "%s", pa->hash);
		snprintf(c->res->state, sizeof(c->res->state), "stable");
		af_fsm_resultf(c->res, AF__CODE__UNCHANGED, "unchanged");
		return 0;
	}
	if (check_canary_args(c, pa, &ro) != 0 ||
	    (canary && (rc = af_fsm_check_shadow(t, c, pa)) != 0) ||
	    (rc = check_serial(t, c, pa)) != 0)
		return rc > 0 ? 0 : rc;
	next = af_state_policy_revision(t) + 1;
	if ((rc = af_fsm_store_bundle(t, c, next)) != 0 ||
	    (rc = af_state_set_policy_revision(t, next)) != 0)
		return rc;
	af_fsm_revision_of(c, pa, next, &rev);
	if (canary) {
		rev.state = (char *)"canary";
		if ((rc = start_canary(t, c, &ro, pa, next)) != 0)
			return rc;
	} else {
		/* A direct apply replaces the stable and ends any canary. */
		rev.state = (char *)"stable";
		rev.ever_stable = 1;
		if ((rc = af_fsm_set_revision_state(t, ro.stable,
						    "superseded")) != 0 ||
		    (rc = af_fsm_set_revision_state(t, ro.canary, "aborted")) !=
			    0)
			return rc;
		ro.stable = next;
		af_fsm_end_canary(&ro);
	}
	if ((rc = af_state_revision_put(t, &rev)) != 0 ||
	    (rc = af_rollout_put(t, &ro)) != 0)
		return rc;
	c->res->revision = next;
	snprintf(c->res->hash, sizeof(c->res->hash), "%s", pa->hash);
	snprintf(c->res->state, sizeof(c->res->state), "%s", rev.state);
	af_fsm_resultf(c->res, AF__CODE__OK, "applied");
	return 0;
}

/* The newest revision below `below` that was stable once and whose
 * bundle the history retention kept. */
struct find_prev {
	struct af_txn *t;
	uint64_t below, found;
};

static int find_prev_stable(const void *key, size_t klen, const void *val,
			    size_t vlen, void *arg)
{
	struct find_prev *fp = arg;
	Af__Revision *r;
	uint64_t rev;
	int hit;

	(void)klen;
	rev = af_store_u64_of_key(key);
	if (rev >= fp->below)
		return 0;
	r = af_fsm_unpack(&af__revision__descriptor, vlen, val);
	if (r == NULL)
		return AF_ECORRUPT;
	hit = r->ever_stable && strcmp(r->state, "superseded") == 0 &&
	      af_state_bundle_stored(fp->t, r->hash);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	if (hit) {
		fp->found = rev;
		return 1;
	}
	return 0;
}

int af_fsm_apply_rollback(struct af_txn *t, struct apply_ctx *c)
{
	const Af__PolicyRollback *pr = c->cmd->policy_rollback;
	struct find_prev fp = {0};
	struct af_rollout ro;
	Af__Revision *target;
	uint64_t to = pr->to_revision;
	int rc;

	c->verb = "policy.rollback";
	fp.t = t;
	if ((rc = af_rollout_get(t, &ro)) != 0)
		return rc;
	/* During a canary, a bare rollback undoes the change being rolled
	 * out: the canary is aborted and the stable stays. */
	if (to == 0 && ro.canary != 0)
		to = ro.stable;
	if (to == 0) {
		fp.below = ro.stable;
		rc = af_txn_iter(t, AF_TABLE_REVISIONS, true, find_prev_stable,
				 &fp);
		if (rc < 0)
			return rc;
		to = fp.found;
		if (to == 0) {
			af_fsm_resultf(
				c->res, AF__CODE__NOT_FOUND,
				"no previous stable revision to roll back "
				"to");
			return 0;
		}
	}
	snprintf(c->target, sizeof(c->target), "revision %llu",
		 (unsigned long long)to);
	rc = af_state_revision_get(t, to, &target);
	if (rc == AF_ENOTFOUND) {
		af_fsm_resultf(c->res, AF__CODE__NOT_FOUND,
			       "revision %llu does not exist",
			       (unsigned long long)to);
		return 0;
	}
	if (rc != 0)
		return rc;
	snprintf(c->res->hash, sizeof(c->res->hash), "%s", target->hash);
	protobuf_c_message_free_unpacked(&target->base, NULL);
	if (!af_state_bundle_stored(t, c->res->hash)) {
		af_fsm_resultf(c->res, AF__CODE__NOT_FOUND,
			       "revision %llu: its bundle was pruned by the "
			       "history retention (history.revisions, "
			       "history.days in the cluster file); apply its "
			       "source again instead",
			       (unsigned long long)to);
		return 0;
	}
	if (to == ro.stable && ro.canary == 0) {
		c->res->revision = to;
		c->res->unchanged = true;
		snprintf(c->res->state, sizeof(c->res->state), "stable");
		af_fsm_resultf(c->res, AF__CODE__OK, "already stable");
		return 0;
	}
	if ((rc = af_fsm_set_revision_state(t, ro.canary, "aborted")) != 0)
		return rc;
	if (to != ro.stable &&
	    (rc = af_fsm_set_revision_state(t, ro.stable, "superseded")) != 0)
		return rc;
	if ((rc = af_fsm_set_revision_state(t, to, "stable")) != 0)
		return rc;
	ro.stable = to;
	af_fsm_end_canary(&ro);
	snprintf(ro.verdict, sizeof(ro.verdict), "aborted by rollback");
	if ((rc = af_rollout_put(t, &ro)) != 0)
		return rc;
	c->res->revision = to;
	snprintf(c->res->state, sizeof(c->res->state), "stable");
	af_fsm_resultf(c->res, AF__CODE__OK, "rolled back");
	return 0;
}
