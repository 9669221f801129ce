/* Private: a request resolved against one bundle of a view. */
#ifndef AF_POLICY_DECIDE_INT_H
#define AF_POLICY_DECIDE_INT_H

#include "policy/view_int.h"

struct rctx {
	const struct af_policy_view *v;
	const struct af_request *req;
	const struct vbundle *vb;
	const struct vclass *cls;
	uint32_t cls_idx;
	uint32_t sens;	 /* effective sensitivity id (NONE: unknown/none) */
	uint32_t region; /* preferred region id */
	const char *sens_name;
	uint64_t needs;
	bool needs_unknown;
	int64_t latency, max_cost, input, output, fanout, tool_calls, attempt;
	int64_t cached; /* of input, billed at the cached price */
	/* The overlay (decide_override.c): view tier ids denied, and the
	 * override caps with the id of the tightest (-1: none). */
	uint64_t deny_tiers;
	int64_t ov_fanout, ov_tools, ov_cost;
	const char *ov_fanout_id, *ov_tools_id, *ov_cost_id;
	/* The tier denials in scope: view tier id and override id. */
	uint32_t ntier_ov;
	uint32_t tier_ov[AF_OVERRIDE_MAX + 1];
	const char *tier_ov_id[AF_OVERRIDE_MAX + 1];
};

/* Makes d a denial with code, rule (may be NULL) and a formatted
 * message; not retryable. */
void decide_deny(struct af_decision *d, const char *code, const char *rule,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* When to try a saturated lane (or a workflow at its fan-out) again: the
 * latency SLO, clamped. */
int64_t decide_lane_retry_ms(int64_t slo_ms);
/* The class's workflow caps on d->workflow (when d->has_workflow):
 * returns true when one denied d. */
bool decide_workflow_caps(const struct rctx *r, struct af_decision *d);
/* decide_override.c. Before the bundle's caps: the staleness mode of the
 * deciding bundle and the overrides in scope (their ids into d); denies
 * POLICY_STALE, TENANT_FROZEN or LANE_DRAINED (true), else narrows r
 * (max cost, denied tiers, caps). */
bool decide_overlay(struct rctx *r, const struct af_live *live,
		    struct af_decision *d);
/* After the rule matched: an override's cost cap below the class's
 * narrows the candidates (its id into d). */
void decide_overlay_cost(struct rctx *r, struct af_decision *d);
/* After the candidates: the ids of the tier denials that skipped a tier
 * of `skipped` (view tier id bits) into d. */
void decide_overlay_tiers(const struct rctx *r, uint64_t skipped,
			  struct af_decision *d);
/* After the bundle's caps: the override caps (true when one denied). */
bool decide_overlay_caps(const struct rctx *r, struct af_decision *d);

bool cond_holds(const struct rctx *r, const struct vcond *c);
/* The first rule that holds for the request, or NULL: through the rule
 * index, or (decide_match) every rule in order, recording each in x. */
const struct vrule *decide_match_fast(const struct rctx *r);
const struct vrule *decide_match(const struct rctx *r, struct af_explain *x);
/* Describes why condition c does not hold (explain only). */
void explain_cond(const struct rctx *r, const struct vcond *c, char *buf,
		  size_t len);
void explain_note(struct af_explain *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The price of request r on model m, exactly, in 1e-9 USD. */
#define DECIDE_COST(r, m)                                                      \
	(((r)->input - (r)->cached) * (m)->pin + (r)->cached * (m)->pcached +  \
	 (r)->output * (m)->pout)

#endif
