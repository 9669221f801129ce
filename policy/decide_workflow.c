/* Step 3 of af_decide(): the class's per-workflow caps. Pure; no
 * allocation. */
#include "policy/decide_int.h"

/* Step 3, the class's per-workflow caps on the workflow's state so far.
 * Returns true when one denied. */
bool decide_workflow_caps(const struct rctx *r, struct af_decision *d)
{
	const struct vclass *c = r->cls;
	const struct af_workflow_state *w = &d->workflow;
	char usd[2][32];

	if (!d->has_workflow)
		return false;
	if (c->wf_max_hops >= 0 && w->hops >= (uint64_t)c->wf_max_hops)
		decide_deny(d, AF_DENY_WORKFLOW_BUDGET, NULL,
			    "workflow %s has made %llu hops, max_workflow_hops "
			    "%lld "
			    "of class %s",
			    r->req->workflow_id, (unsigned long long)w->hops,
			    (long long)c->wf_max_hops, c->name);
	else if (c->wf_max_tokens >= 0 &&
		 w->tokens >= (uint64_t)c->wf_max_tokens)
		decide_deny(
			d, AF_DENY_WORKFLOW_BUDGET, NULL,
			"workflow %s has used %llu tokens, max_workflow_tokens "
			"%lld of class %s",
			r->req->workflow_id, (unsigned long long)w->tokens,
			(long long)c->wf_max_tokens, c->name);
	else if (c->wf_max_cost_nano >= 0 &&
		 w->cost_nano_usd >= c->wf_max_cost_nano) {
		af_policy_fmt_usd(w->cost_nano_usd, usd[0]);
		af_policy_fmt_usd(c->wf_max_cost_nano, usd[1]);
		decide_deny(
			d, AF_DENY_WORKFLOW_BUDGET, NULL,
			"workflow %s has cost %s USD, max_workflow_cost_usd %s "
			"of class %s",
			r->req->workflow_id, usd[0], usd[1], c->name);
	} else if (c->wf_max_inflight >= 0 &&
		   w->inflight >= (uint64_t)c->wf_max_inflight) {
		decide_deny(d, AF_DENY_FANOUT_CAP, NULL,
			    "workflow %s has %llu hops in flight, "
			    "max_inflight_per_workflow %lld of class %s",
			    r->req->workflow_id,
			    (unsigned long long)w->inflight,
			    (long long)c->wf_max_inflight, c->name);
		d->retryable = true;
		d->retry_after_ms = decide_lane_retry_ms(r->latency);
	} else
		return false;
	return true;
}
