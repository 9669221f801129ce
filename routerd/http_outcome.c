/* POST /v1/outcome: a workflow's end, with its tool and human review
 * costs. The workflow leaves the workflow table and its totals join the
 * usage the sync thread flushes (docs/showback.md). Answers go out
 * through http_reply (http_quota.c), as every routerd endpoint's do. */
#include "common/money.h"
#include "common/timeutil.h"
#include "routerd/http_int.h"
#include "routerd/usage.h"
#include "routerd/workflow.h"

#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>

static enum MHD_Result fail(struct routerd_http *h, struct MHD_Connection *c,
			    unsigned status, const char *code, const char *msg,
			    const char *field, char *out, size_t cap)
{
	size_t len = 0;

	http_count_error(&h->stats, code);
	if (af_error_json(code, msg, field, out, cap, &len) != 0)
		return MHD_NO;
	return http_reply(c, status, "application/json", out, len, NULL, NULL);
}

/* Ends the workflow of o with the labels the stable bundle declares. */
static void outcome_apply(struct routerd_http *h,
			  const struct routerd_outcome *o)
{
	const struct routerd_view *v = routerd_view_acquire(h->r);
	const char *const *dims = NULL;
	char labels[ROUTERD_WORKFLOW_LABELS];
	size_t ndims = 0;
	struct routerd_workflow_done w = {
		.outcome = o->outcome,
		.finished = true,
		.id = o->workflow_id,
		.tenant = o->tenant,
		.class_name = o->class_name,
		.labels = labels,
		.tool_micro = af_money_micro_of_nano(o->tool_nano),
		.human_micro = af_money_micro_of_nano(o->human_nano),
	};

	if (v != NULL)
		dims = af_policy_view_showback_dims(v->pv, &ndims);
	w.labels_len =
		routerd_workflow_labels(dims, ndims, &o->labels[0][0],
					o->nlabels, labels, sizeof(labels));
	routerd_view_release(h->r, v);
	if (h->r->workflows != NULL)
		routerd_workflows_outcome(h->r->workflows, o->workflow_id, &w,
					  af_mono_ms());
	else if (h->r->usage != NULL)
		routerd_usage_workflow(h->r->usage, &w);
}

enum MHD_Result http_outcome(struct routerd_http *h, struct MHD_Connection *c,
			     const char *body, size_t len, bool too_big,
			     char *out, size_t cap)
{
	static const char accepted[] = "{\"accepted\":true}";
	struct routerd_report_error rerr;
	struct routerd_outcome o;
	json_error_t jerr;
	json_t *root;
	enum MHD_Result ret;
	char msg[256];

	if (too_big)
		return fail(h, c, 413, "BODY_TOO_LARGE",
			    "body over 65536 bytes", NULL, out, cap);
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(msg, sizeof(msg),
			 "malformed JSON at line %d column %d: %s", jerr.line,
			 jerr.column, jerr.text);
		return fail(h, c, 400, "MALFORMED_JSON", msg, NULL, out, cap);
	}
	if (routerd_outcome_parse(root, &o, &rerr) != 0) {
		ret = fail(h, c, (unsigned)rerr.http_status, rerr.code,
			   rerr.message, rerr.field, out, cap);
	} else {
		outcome_apply(h, &o);
		atomic_fetch_add(&h->stats.outcomes, 1);
		ret = http_reply(c, 202, "application/json", accepted,
				 sizeof(accepted) - 1, NULL, NULL);
	}
	json_decref(root);
	return ret;
}
