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

#endif
