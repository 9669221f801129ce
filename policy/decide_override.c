/* The overlay of af_decide(): emergency overrides and the staleness mode,
 * applied on top of the bundle's own steps (docs/policy.md, "Emergency
 * overrides and staleness"). Pure; no allocation. */
#include "policy/decide_int.h"

#include <stdio.h>
#include <string.h>

static void note_id(struct af_decision *d, const char *id)
{
	for (size_t i = 0; i < d->noverrides; i++)
		if (strcmp(d->overrides[i], id) == 0)
			return;
	if (d->noverrides < AF_OVERRIDE_MAX + 1)
		snprintf(d->overrides[d->noverrides++], AF_OVERRIDE_ID_MAX + 1,
			 "%s", id);
}

/* A denial by the overlay; the caller writes the message. */
static void deny_ov(struct af_decision *d, const char *code, const char *id)
{
	d->kind = AF_DECISION_DENY;
	d->code = code;
	d->rule = NULL;
	d->retryable = false;
	note_id(d, id);
}

static void tighten(int64_t *cap, const char **cap_id, int64_t v,
		    const char *id)
{
	if (*cap < 0 || v < *cap) {
		*cap = v;
		*cap_id = id;
	}
}

/* Applies one override in scope; true when it denied. */
static bool apply_one(struct rctx *r, const struct af_override *o,
		      struct af_decision *d)
{
	const char *lane = r->v->lanes.names[r->cls->lane];
	unsigned e = o->effects;

	if (e & AF_OV_FREEZE_TENANT) {
		deny_ov(d, AF_DENY_TENANT_FROZEN, o->id);
		snprintf(d->message, sizeof(d->message),
			 "tenant %.160s is frozen by emergency override %s",
			 r->req->tenant, o->id);
		return true;
	}
	if ((e & AF_OV_DRAIN_LANE) && strcmp(o->drain_lane, lane) == 0) {
		deny_ov(d, AF_DENY_LANE_DRAINED, o->id);
		snprintf(d->message, sizeof(d->message),
			 "lane %.160s is drained by emergency override %s",
			 lane, o->id);
		return true;
	}
	if (e & AF_OV_MAX_FANOUT)
		tighten(&r->ov_fanout, &r->ov_fanout_id, o->max_fanout, o->id);
	if (e & AF_OV_MAX_TOOL_CALLS)
		tighten(&r->ov_tools, &r->ov_tools_id, o->max_tool_calls,
			o->id);
	if ((e & AF_OV_MAX_COST) &&
	    (r->ov_cost < 0 || o->max_cost_micro < r->ov_cost)) {
		r->ov_cost = o->max_cost_micro;
		r->ov_cost_id = o->id;
	}
	if (e & AF_OV_DENY_TIER) {
		uint32_t t = intern_find(&r->v->tiers, o->deny_tier);

		if (t != NONE && t < 64 && r->ntier_ov < AF_OVERRIDE_MAX + 1) {
			r->deny_tiers |= 1ull << t;
			r->tier_ov[r->ntier_ov] = t;
			r->tier_ov_id[r->ntier_ov++] = o->id;
		}
	}
	return false;
}

/* The staleness mode of the deciding bundle: 0 fresh, 1 degraded, 2 fail
 * closed. */
static int stale_mode(const struct vbundle *vb, uint64_t stale_ms)
{
	if (vb->stale_degrade_ms <= 0 || stale_ms == 0)
		return 0;
	if (vb->stale_fail_ms > 0 && stale_ms >= (uint64_t)vb->stale_fail_ms)
		return 2;
	return stale_ms >= (uint64_t)vb->stale_degrade_ms ? 1 : 0;
}

int af_policy_stale_mode(const struct af_policy_view *v, uint64_t stale_ms)
{
	if (v == NULL || v->b[0].stale_degrade_ms <= 0)
		return -1;
	return stale_mode(&v->b[0], stale_ms);
}

bool decide_overlay(struct rctx *r, const struct af_live *live,
		    struct af_decision *d)
{
	const struct af_override_set *set = live->overrides;
	int mode = stale_mode(r->vb, live->stale_ms);

	r->deny_tiers = 0;
	r->ntier_ov = 0;
	r->ov_fanout = r->ov_tools = r->ov_cost = -1;
	r->ov_fanout_id = r->ov_tools_id = r->ov_cost_id = NULL;
	d->noverrides = 0;
	d->stale_mode = NULL;
	d->stale_since_s = 0;
	if (mode > 0) {
		d->stale_mode = mode == 2 ? "fail_closed" : "degraded";
		d->stale_since_s = (int64_t)(live->stale_ms / 1000);
		if (mode == 2 && !r->cls->critical) {
			deny_ov(d, AF_DENY_POLICY_STALE, "stale");
			snprintf(d->message, sizeof(d->message),
				 "no confirmed policy sync for %llu s (fail "
				 "closed after %lld s); class %.120s is not "
				 "critical",
				 (unsigned long long)(live->stale_ms / 1000),
				 (long long)(r->vb->stale_fail_ms / 1000),
				 r->cls->name);
			return true;
		}
		if (apply_one(r, &r->vb->stale_ov, d))
			return true;
	}
	for (size_t i = 0; set != NULL && i < set->n && i < AF_OVERRIDE_MAX;
	     i++)
		if (af_override_in_scope(&set->ov[i], r->req->tenant,
					 r->cls->name, live->now_ms) &&
		    apply_one(r, &set->ov[i], d))
			return true;
	return false;
}

void decide_overlay_cost(struct rctx *r, struct af_decision *d)
{
	if (r->ov_cost >= 0 && (r->max_cost < 0 || r->ov_cost < r->max_cost)) {
		r->max_cost = r->ov_cost;
		note_id(d, r->ov_cost_id);
	}
}

void decide_overlay_tiers(const struct rctx *r, uint64_t skipped,
			  struct af_decision *d)
{
	for (uint32_t i = 0; i < r->ntier_ov; i++)
		if ((skipped >> r->tier_ov[i]) & 1)
			note_id(d, r->tier_ov_id[i]);
}

/* Denies when value is over an override's cap. */
static bool over(struct af_decision *d, const char *code, const char *what,
		 int64_t value, int64_t cap, const char *id)
{
	if (cap < 0 || value <= cap)
		return false;
	deny_ov(d, code, id);
	snprintf(d->message, sizeof(d->message),
		 "%s %lld exceeds max_%s %lld of emergency override %s", what,
		 (long long)value, what, (long long)cap, id);
	return true;
}

bool decide_overlay_caps(const struct rctx *r, struct af_decision *d)
{
	return over(d, "FANOUT_CAP", "fanout", r->fanout, r->ov_fanout,
		    r->ov_fanout_id) ||
	       over(d, "TOOL_CALL_CAP", "tool_calls", r->tool_calls,
		    r->ov_tools, r->ov_tools_id);
}
