/* What routerd adds to a routed decision after the policy decided it:
 * the fleet-wide quotas' reservations (quota.h) and the budget's
 * (budget.h); and the reply of every HTTP answer, which for a decision
 * carries the X-AF-Quota-* headers of the quota that bounded it. */
#include "routerd/budget.h"
#include "routerd/http_int.h"
#include "routerd/quota.h"

#include <inttypes.h>
#include <microhttpd.h>
#include <stdio.h>

void http_admit_hop(struct routerd *r, const struct routerd_view *v,
		    const struct live_ctx *lc, const struct af_request *req,
		    uint64_t seq, struct af_decision *d)
{
	/* Quotas first: a hop they refuse reserves no budget. A hop the
	 * budget then refuses gives its in-flight capacity back (what a rate
	 * window admitted stays counted: the safe side). */
	routerd_quotas_admit(r->quotas, v->pv, req, seq,
			     routerd_live_ttl_ms(d->latency_slo_ms), lc->now_ms,
			     d);
	if (lc->budgets == NULL || d->kind != AF_DECISION_ROUTE)
		return;
	routerd_budgets_reserve_hop(lc->budgets, req->tenant, seq, lc->wall_ms,
				    d);
	if (d->kind != AF_DECISION_ROUTE)
		routerd_quotas_reported(r->quotas, seq, -1, lc->now_ms);
}

static void quota_headers(struct MHD_Response *rsp, const struct af_decision *d)
{
	char v[32];
	int64_t rem = d->quota_limit - d->quota_in_use;

	MHD_add_response_header(rsp, "X-AF-Quota-Name", d->quota_name);
	MHD_add_response_header(rsp, "X-AF-Quota-Dimension", d->quota_dim);
	snprintf(v, sizeof(v), "%" PRId64, d->quota_limit);
	MHD_add_response_header(rsp, "X-AF-Quota-Limit", v);
	snprintf(v, sizeof(v), "%" PRId64, rem > 0 ? rem : 0);
	MHD_add_response_header(rsp, "X-AF-Quota-Remaining", v);
}

enum MHD_Result http_reply(struct MHD_Connection *c, unsigned status,
			   const char *type, const char *body, size_t len,
			   const char *allow, const struct af_decision *d)
{
	struct MHD_Response *rsp;
	enum MHD_Result ret;

	/* body lives in the connection's struct conn (or is static) until
	 * the response is sent: the next request on this connection starts
	 * only afterwards. */
	rsp = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
					      MHD_RESPMEM_PERSISTENT);
	if (rsp == NULL)
		return MHD_NO;
	MHD_add_response_header(rsp, "Content-Type", type);
	if (allow != NULL)
		MHD_add_response_header(rsp, "Allow", allow);
	if (d != NULL && d->quota_name != NULL)
		quota_headers(rsp, d);
	ret = MHD_queue_response(c, status, rsp);
	MHD_destroy_response(rsp);
	return ret;
}
