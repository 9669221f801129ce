/*
 * The routerd HTTP API on libmicrohttpd: POST /v1/route,
 * POST /v1/report, POST /v1/outcome (http_outcome.c), GET /v1/status,
 * /healthz, /readyz, /metrics.
 *
 * MHD polls with epoll in its own thread(s). Each connection gets one
 * `struct conn` when it opens (body buffer, request, decision, output), so
 * a keep-alive connection routes without allocating beyond what MHD does.
 * Every request is answered on its second callback or later, never the
 * first (answering on the first one closes keep-alive connections).
 *
 * Why libmicrohttpd and not an epoll server of our own: measured next to
 * nginx (bench/route_http.sh, docs/benchmarks.md), once the body parse no
 * longer dominates, routerd decides at 1.3x to 2.2x nginx's fixed-body rate
 * with 1.01x to 1.12x its CPU per request, and MHD makes nginx's system
 * calls per request (one recv, one send, 0.16 epoll_wait under load).
 * MHD_USE_TURBO made no difference beyond the noise.
 */
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "routerd/http_int.h"
#include "routerd/budget.h"
#include "routerd/quota.h"
#include "routerd/otlp.h"
#include "routerd/decision_log.h"
#include "routerd/override.h"
#include "routerd/report.h"
#include "routerd/shadow.h"
#include "routerd/usage.h"
#include "routerd/workflow.h"

#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define HTTP_BACKLOG 4096
#define OUT_MAX 8192

enum ep {
	EP_NOT_FOUND,
	EP_BAD_METHOD,
	EP_ROUTE,
	EP_REPORT,
	EP_OUTCOME,
	EP_STATUS,
	EP_HEALTHZ,
	EP_READYZ,
	EP_METRICS,
	EP_DECISION, /* GET /v1/decisions/ID */
};

struct conn {
	char *body;
	size_t len, cap;
	bool too_big;
	enum ep ep;
	const char *allow; /* for 405 */
	char id[ROUTERD_ID_MAX + 24];
	const char *url; /* EP_DECISION: MHD's, valid for the request */
	char msg[256];
	struct af_request req;
	struct af_decision d;
	struct routerd_trace trace;
	uint64_t t0_ns; /* the request's start, monotonic */
	char out[OUT_MAX];
};

/* ---------------------------------------------------------- responses */

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status,
				  struct conn *k, size_t len)
{
	return http_reply(c, status, "application/json", k->out, len, NULL,
			  NULL);
}

static enum MHD_Result reply_error(struct routerd_http *h,
				   struct MHD_Connection *c, struct conn *k,
				   unsigned status, const char *code,
				   const char *message, const char *field)
{
	size_t len = 0;

	http_count_error(&h->stats, code);
	if (af_error_json(code, message, field, k->out, sizeof(k->out), &len) !=
	    0)
		return MHD_NO;
	return http_reply(c, status, "application/json", k->out, len, k->allow,
			  NULL);
}

/* ------------------------------------------------------------- route */

/* Writes "<id>-<16 hex digits>" into k->id. */
static void decision_id(struct routerd_http *h, struct conn *k, uint64_t seq)
{
	static const char hex[] = "0123456789abcdef";
	char *p = k->id + h->prefix_len;

	memcpy(k->id, h->prefix, h->prefix_len);
	for (int i = 15; i >= 0; i--, seq >>= 4)
		p[i] = hex[seq & 15];
	p[16] = '\0';
}

/* What the decision being made read from the live state, when the
 * decision log is on (one per deciding thread: no allocation). */
static _Thread_local struct af_live_rec tl_rec;

/* Queues the decision's record when the bundle samples it. */
static void log_decision(struct routerd_http *h, struct MHD_Connection *c,
			 struct conn *k, const struct routerd_view *v,
			 uint64_t seq, int64_t wall_ms, size_t body_len)
{
	char trace[ROUTERD_TRACE_MAX + 1];
	struct routerd_dlog_rec r = {
		.seq = seq,
		.req = &k->req,
		.d = &k->d,
		.body = k->out,
		.body_len = body_len,
		.live = &tl_rec,
	};

	if (!routerd_dlog_sampled(seq, k->d.log_ppm))
		return;
	af_live_rec_finish(&tl_rec, &k->d);
	r.wall_ms = wall_ms;
	r.mask = af_policy_view_log_masks(v->pv, k->d.canary, &r.nmask);
	/* the decision's own trace id (a valid traceparent), else X-Trace-Id */
	r.trace_id =
		k->trace.has
			? k->trace.trace_id
			: routerd_dlog_trace_id(
				  NULL,
				  MHD_lookup_connection_value(
					  c, MHD_HEADER_KIND, "X-Trace-Id"),
				  trace);
	routerd_dlog_put(h->r->dlog, &r);
}

/* now: monotonic ms of the request's start (one clock read per request
 * serves the live state, the latency histogram and the decision record). */
static enum MHD_Result decide(struct routerd_http *h, struct MHD_Connection *c,
			      struct conn *k, const struct routerd_view *v,
			      uint64_t now)
{
	struct live_ctx lc;
	struct af_live live, rec;
	struct af_live *use = &live;
	enum af_decision_kind kind;
	uint64_t seq =
		atomic_fetch_add_explicit(&h->seq, 1, memory_order_relaxed);
	int64_t wall = af_wall_ms(); /* budgets, overrides, the record */
	bool shadow = routerd_shadow_wants(h->r, v, seq, wall);
	enum MHD_Result ret;
	size_t len = 0;
	int rc;

	decision_id(h, k, seq);
	routerd_live_prepare(&lc, v, now, &live);
	if (h->r->budgets != NULL) {
		lc.budgets = h->r->budgets;
		lc.wall_ms = wall;
	}
	routerd_live_workflows(&lc, h->r->workflows, &live);
	if (h->r->dlog != NULL || shadow) {
		af_live_rec_wrap(&tl_rec, &live, v->pv, &rec);
		use = &rec;
	}
	rc = routerd_override_decide(h->r, v, &k->req, use, wall, k->id,
				     use != &live ? &tl_rec : NULL, &k->d);
	if (rc == AF_ENOTFOUND)
		return reply_error(h, c, k, 422, "UNKNOWN_CLASS",
				   "unknown class", "class");
	if (rc != 0)
		return reply_error(h, c, k, 500, "INTERNAL", af_strerror(rc),
				   NULL);
	kind = k->d.kind;
	http_admit_hop(h->r, v, &lc, &k->req, seq, &k->d);
	if (use != &live && kind != k->d.kind)
		af_live_rec_lease(&tl_rec, &k->d);
	if (h->r->live != NULL)
		routerd_live_routed(h->r->live, view_ext(v), &k->d, seq, now);
	routerd_live_denied(h->r, v, &k->req, &k->d);
	routerd_live_workflow_routed(h->r->workflows, v, &k->req, &k->d, seq,
				     now);
	if (k->d.kind == AF_DECISION_ROUTE) {
		char labels[ROUTERD_HOP_LABELS];

		routerd_decisions_put(h->decisions, seq, &k->d, k->req.tenant,
				      k->req.class_name, now,
				      routerd_workflow_hash(k->req.workflow_id),
				      labels,
				      routerd_live_labels(v, &k->req, labels,
							  sizeof(labels)));
	}
	http_count_decision(&h->stats, &k->d);
	if (af_decision_json(&k->d, k->out, sizeof(k->out), &len) != 0)
		return reply_error(h, c, k, 500, "INTERNAL",
				   "decision too large", NULL);
	len = routerd_otlp_trace(
		h->r->otlp,
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, "traceparent"),
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, "tracestate"),
		&k->trace, &k->req, &k->d, k->out, sizeof(k->out), len,
		k->t0_ns);
	if (h->r->dlog != NULL)
		log_decision(h, c, k, v, seq, wall, len);
	ret = http_reply(c, 200, "application/json", k->out, len, NULL, &k->d);
	if (shadow) { /* answered: the shadow's work is off its path */
		af_live_rec_finish(&tl_rec, &k->d);
		routerd_shadow_put(h->r, v, &k->req, &k->d, &tl_rec, wall);
	}
	return ret;
}

static enum MHD_Result route(struct routerd_http *h, struct MHD_Connection *c,
			     struct conn *k)
{
	struct af_request_error rerr;
	const struct routerd_view *v;
	uint64_t t0 = af_mono_ns();
	enum MHD_Result ret;

	if (k->too_big)
		return reply_error(h, c, k, 413, "BODY_TOO_LARGE",
				   "body over 65536 bytes", NULL);
	if ((unsigned)atomic_load_explicit(&h->conns, memory_order_relaxed) >
	    h->conn_limit - h->conn_limit / 16)
		return reply_error(h, c, k, 429, "OVERLOADED",
				   "routerd is overloaded: too many open "
				   "connections; retry shortly",
				   NULL);
	if (af_request_parse_json(k->body, k->len, &k->req, &rerr) != 0)
		return reply_error(h, c, k, (unsigned)rerr.http_status,
				   rerr.code, rerr.message, rerr.field);
	v = routerd_view_acquire(h->r);
	if (v == NULL)
		return reply_error(h, c, k, 503, "NO_POLICY",
				   "no policy loaded yet", NULL);
	k->t0_ns = t0;
	ret = decide(h, c, k, v, t0 / 1000000u);
	routerd_view_release(h->r, v);
	af_histogram_observe_ns(&h->stats.latency, af_mono_ns() - t0);
	return ret;
}

/* ------------------------------------------------------------ report */

/* The sequence number of one of our decision ids, else 0. */
static uint64_t our_seq(const struct routerd_http *h, const char *id)
{
	char *end;
	uint64_t seq;

	if (id == NULL || strncmp(id, h->prefix, h->prefix_len) != 0 ||
	    strlen(id + h->prefix_len) != 16)
		return 0;
	seq = strtoull(id + h->prefix_len, &end, 16);
	return *end == '\0' ? seq : 0;
}

/* The tokens a report gives (input + output), -1 when it gives none. */
static int64_t report_tokens(const struct routerd_report *rep)
{
	if (rep->input_tokens < 0 && rep->output_tokens < 0)
		return -1;
	return (rep->input_tokens > 0 ? rep->input_tokens : 0) +
	       (rep->output_tokens > 0 ? rep->output_tokens : 0);
}

/* Releases the lane slot, feeds the health of the (model, region) that was
 * called (the report's, else the decision's primary), settles the budget
 * reservation and feeds the outcome aggregates (canary analysis,
 * showback) under the decision's attribution `a`. */
static void report_apply(struct routerd_http *h,
			 const struct routerd_report *rep, uint64_t seq,
			 const struct routerd_decision_rec *a, int cohort)
{
	const struct routerd_view *v;
	struct live_report lr = {
		.seq = seq,
		.cohort = cohort,
		.model = rep->model != NULL ? rep->model : a->model,
		.region = rep->region != NULL ? rep->region : a->region,
		.ok = rep->ok,
		.latency_ms = rep->latency_ms,
	};
	int64_t nano;

	if (lr.model[0] == '\0' || lr.region[0] == '\0')
		lr.model = lr.region = NULL;
	v = routerd_view_acquire(h->r);
	if (h->r->live != NULL)
		routerd_live_report(h->r->live, v != NULL ? view_ext(v) : NULL,
				    &lr, af_mono_ms());
	nano = routerd_report_cost(v != NULL ? v->pv : NULL, rep, lr.model);
	routerd_view_release(h->r, v);
	routerd_quotas_reported(h->r->quotas, seq, report_tokens(rep),
				af_mono_ms());
	if (h->r->budgets != NULL)
		routerd_budgets_settle(h->r->budgets, seq, nano);
	routerd_live_workflow_reported(h->r->workflows, rep, a->wf_hash, seq,
				       nano, af_mono_ms());
	if (h->r->usage != NULL)
		routerd_usage_record(
			h->r->usage, a->revision, a->tenant, a->class_name,
			a->model, a->labels, a->labels_len, rep->ok,
			rep->latency_ms > 0 ? (uint64_t)rep->latency_ms : 0,
			nano, rep->quality_ppm);
}

/* Fills *a from the decision the report names, else (counted unmatched)
 * from the report's own tenant, class and revision. Returns the cohort
 * (LIVE_COHORT_UNKNOWN for an unmatched report), or -1: neither. */
static int attribute(struct routerd_http *h, const struct routerd_report *rep,
		     uint64_t seq, struct routerd_decision_rec *a)
{
	if (routerd_decisions_get(h->decisions, seq, a))
		return a->canary ? LIVE_COHORT_CANARY : LIVE_COHORT_STABLE;
	if (rep->tenant == NULL || rep->class_name == NULL ||
	    rep->revision <= 0)
		return -1;
	memset(a, 0, sizeof(*a));
	a->revision = (uint64_t)rep->revision;
	snprintf(a->tenant, sizeof(a->tenant), "%s", rep->tenant);
	snprintf(a->class_name, sizeof(a->class_name), "%s", rep->class_name);
	snprintf(a->model, sizeof(a->model), "%s",
		 rep->model != NULL ? rep->model : "");
	snprintf(a->region, sizeof(a->region), "%s",
		 rep->region != NULL ? rep->region : "");
	atomic_fetch_add(&h->stats.reports_unmatched, 1);
	return LIVE_COHORT_UNKNOWN;
}

static enum MHD_Result report(struct routerd_http *h, struct MHD_Connection *c,
			      struct conn *k)
{
	static const char accepted[] = "{\"accepted\":true}";
	struct routerd_report_error rerr;
	struct routerd_report rep;
	struct routerd_decision_rec a;
	json_error_t jerr;
	json_t *root;
	enum MHD_Result ret;
	uint64_t seq;
	int cohort;

	if (k->too_big)
		return reply_error(h, c, k, 413, "BODY_TOO_LARGE",
				   "body over 65536 bytes", NULL);
	root = json_loadb(k->body, k->len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(k->msg, sizeof(k->msg),
			 "malformed JSON at line %d column %d: %s", jerr.line,
			 jerr.column, jerr.text);
		return reply_error(h, c, k, 400, "MALFORMED_JSON", k->msg,
				   NULL);
	}
	if (routerd_report_parse(root, &rep, &rerr) != 0) {
		ret = reply_error(h, c, k, (unsigned)rerr.http_status,
				  rerr.code, rerr.message, rerr.field);
		goto out;
	}
	seq = our_seq(h, rep.decision_id);
	cohort = attribute(h, &rep, seq, &a);
	if (cohort < 0) {
		snprintf(k->msg, sizeof(k->msg),
			 "decision_id %.80s%s is not a decision this routerd "
			 "made in its last %u decisions; send tenant, class "
			 "and revision to report it anyway",
			 rep.decision_id != NULL ? rep.decision_id : "(absent)",
			 rep.decision_id != NULL && strlen(rep.decision_id) > 80
				 ? "..."
				 : "",
			 ROUTERD_DECISIONS_MAX);
		ret = reply_error(h, c, k, 422, "UNKNOWN_DECISION", k->msg,
				  "decision_id");
		goto out;
	}
	report_apply(h, &rep, seq, &a, cohort);
	http_count_report(&h->stats, &rep, &a, cohort);
	ret = http_reply(c, 202, "application/json", accepted,
			 sizeof(accepted) - 1, NULL, NULL);
out:
	json_decref(root);
	return ret;
}

/* ------------------------------------------------------- other routes */

/* GET /v1/decisions/ID: the decision log's record of a recent decision. */
static enum MHD_Result decision_get(struct routerd_http *h,
				    struct MHD_Connection *c, struct conn *k)
{
	const char *id = k->url + strlen("/v1/decisions/");
	struct MHD_Response *rsp;
	enum MHD_Result ret;
	char *line = NULL;
	size_t len = 0;
	int rc;

	if (h->r->dlog == NULL)
		return reply_error(h, c, k, 404, "DECISION_LOG_OFF",
				   "the decision log is off: start routerd "
				   "with --decision-log DIR",
				   NULL);
	rc = routerd_dlog_get(h->r->dlog, our_seq(h, id), &line, &len);
	if (rc == AF_ENOMEM)
		return reply_error(h, c, k, 500, "INTERNAL", "out of memory",
				   NULL);
	if (rc != 0) {
		snprintf(k->msg, sizeof(k->msg),
			 "no record of decision %.80s: routerd holds the "
			 "last %u records it logged (sampled, not dropped); "
			 "older ones are in the log files",
			 id, DLOG_RECENT);
		return reply_error(h, c, k, 404, "NOT_FOUND", k->msg, NULL);
	}
	rsp = MHD_create_response_from_buffer(len, line, MHD_RESPMEM_MUST_COPY);
	af_free(line);
	if (rsp == NULL)
		return MHD_NO;
	MHD_add_response_header(rsp, "Content-Type", "application/json");
	ret = MHD_queue_response(c, 200, rsp);
	MHD_destroy_response(rsp);
	return ret;
}

static enum MHD_Result get(struct routerd_http *h, struct MHD_Connection *c,
			   struct conn *k)
{
	static const char ok[] = "ok\n", ready[] = "ready\n",
			  not_ready[] = "not ready: no policy loaded yet\n";
	struct af_textbuf b = {0};
	struct MHD_Response *rsp;
	enum MHD_Result ret;
	size_t len = 0;
	bool loaded;

	switch (k->ep) {
	case EP_HEALTHZ:
		return http_reply(c, 200, "text/plain", ok, sizeof(ok) - 1,
				  NULL, NULL);
	case EP_READYZ:
		loaded = atomic_load(&h->r->current) != NULL;
		return http_reply(c, loaded ? 200 : 503, "text/plain",
				  loaded ? ready : not_ready,
				  loaded ? sizeof(ready) - 1
					 : sizeof(not_ready) - 1,
				  NULL, NULL);
	case EP_DECISION:
		return decision_get(h, c, k);
	case EP_STATUS:
		if (http_status_json(h->r, k->out, sizeof(k->out), &len) != 0)
			return reply_error(h, c, k, 500, "INTERNAL",
					   "status too large", NULL);
		return reply_json(c, 200, k, len);
	default:
		break;
	}
	http_metrics(h->r, &b);
	if (h->r->dlog != NULL)
		routerd_dlog_metrics(h->r->dlog, &b);
	routerd_otlp_metrics(h->r->otlp, &b);
	if (b.failed) {
		af_textbuf_free(&b);
		return reply_error(h, c, k, 500, "INTERNAL", "out of memory",
				   NULL);
	}
	/* MHD frees the text with free(): hand it a copy it owns. */
	rsp = MHD_create_response_from_buffer(b.len, b.buf,
					      MHD_RESPMEM_MUST_COPY);
	af_textbuf_free(&b);
	if (rsp == NULL)
		return MHD_NO;
	MHD_add_response_header(rsp, "Content-Type",
				"text/plain; version=0.0.4");
	ret = MHD_queue_response(c, 200, rsp);
	MHD_destroy_response(rsp);
	return ret;
}

static void classify(struct conn *k, const char *method, const char *url)
{
	static const struct {
		const char *path, *method;
		enum ep ep;
	} routes[] = {
		{"/v1/route", "POST", EP_ROUTE},
		{"/v1/report", "POST", EP_REPORT},
		{"/v1/outcome", "POST", EP_OUTCOME},
		{"/v1/status", "GET", EP_STATUS},
		{"/healthz", "GET", EP_HEALTHZ},
		{"/readyz", "GET", EP_READYZ},
		{"/metrics", "GET", EP_METRICS},
	};

	k->ep = EP_NOT_FOUND;
	k->allow = NULL;
	k->url = url;
	if (strncmp(url, "/v1/decisions/", 14) == 0 && url[14] != '\0') {
		k->ep = strcmp(method, "GET") == 0 ||
					strcmp(method, "HEAD") == 0
				? EP_DECISION
				: EP_BAD_METHOD;
		k->allow = k->ep == EP_BAD_METHOD ? "GET" : NULL;
		return;
	}
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(url, routes[i].path) != 0)
			continue;
		if (strcmp(method, routes[i].method) == 0 ||
		    (strcmp(method, "HEAD") == 0 &&
		     strcmp(routes[i].method, "GET") == 0)) {
			k->ep = routes[i].ep;
		} else {
			k->ep = EP_BAD_METHOD;
			k->allow = routes[i].method;
		}
		return;
	}
}

static enum MHD_Result dispatch(struct routerd_http *h,
				struct MHD_Connection *c, struct conn *k)
{
	switch (k->ep) {
	case EP_ROUTE:
		return route(h, c, k);
	case EP_REPORT:
		return report(h, c, k);
	case EP_OUTCOME:
		return http_outcome(h, c, k->body, k->len, k->too_big, k->out,
				    sizeof(k->out));
	case EP_NOT_FOUND:
		return reply_error(h, c, k, 404, "NOT_FOUND", "no such path",
				   NULL);
	case EP_BAD_METHOD:
		return reply_error(h, c, k, 405, "METHOD_NOT_ALLOWED",
				   "method not allowed", NULL);
	default:
		return get(h, c, k);
	}
}

/* --------------------------------------------------------- MHD glue */

static void append(struct conn *k, const char *data, size_t n)
{
	size_t cap;
	char *p;

	if (k->too_big)
		return;
	if (k->len + n > AF_REQ_MAX_BODY) {
		k->too_big = true;
		return;
	}
	if (k->len + n + 1 > k->cap) {
		cap = k->cap > 0 ? k->cap : 4096;
		while (cap < k->len + n + 1)
			cap *= 2;
		p = af_realloc(k->body, cap);
		if (p == NULL) {
			k->too_big = true; /* refuse rather than truncate */
			return;
		}
		k->body = p;
		k->cap = cap;
	}
	memcpy(k->body + k->len, data, n);
	k->len += n;
	k->body[k->len] = '\0';
}

/* --------------------------------------------------------- MHD glue */

static enum MHD_Result handler(void *cls, struct MHD_Connection *c,
			       const char *url, const char *method,
			       const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	struct routerd_http *h = cls;
	const union MHD_ConnectionInfo *ci;
	struct track *t = *con_cls;
	struct conn *k;
	const char *cl;

	(void)version;
	if (t == NULL) {
		/* First callback: headers only. Answer here only to refuse
		 * (the connection then closes). */
		ci = MHD_get_connection_info(
			c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		if (ci == NULL || ci->socket_context == NULL)
			return MHD_NO;
		t = ci->socket_context;
		if (t->k == NULL && (t->k = af_calloc(1, sizeof(*k))) == NULL)
			return MHD_NO;
		k = t->k;
		phase_set(t, PH_BODY);
		k->len = 0;
		k->too_big = false;
		classify(k, method, url);
		*con_cls = t;
		cl = MHD_lookup_connection_value(
			c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && strtoull(cl, NULL, 10) > AF_REQ_MAX_BODY) {
			/* Refused up front: nothing of the body is read. */
			phase_set(t, PH_ANSWER);
			snprintf(k->msg, sizeof(k->msg),
				 "Content-Length %.24s is over %d bytes", cl,
				 AF_REQ_MAX_BODY);
			return reply_error(h, c, k, 413, "BODY_TOO_LARGE",
					   k->msg, NULL);
		}
		return MHD_YES;
	}
	k = t->k;
	if (*upload_size != 0) {
		append(k, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	phase_set(t, PH_ANSWER);
	return dispatch(h, c, k);
}

/* An answer was sent (or the request failed): the connection waits for
 * its next request from now on. */
static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct track *t = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (t != NULL)
		phase_set(t, PH_WAIT);
	*con_cls = NULL;
}

/* routerd takes no query parameters. MHD 0.9.75 parses every one into the
 * connection's memory pool and, once the pool is full (about 470 of
 * them), never answers: the query string is cut here, before MHD parses
 * it, so such a request is answered like any other. */
static void *uri_seen(void *cls, const char *uri, struct MHD_Connection *c)
{
	char *q = strchr(uri, '?');

	(void)cls;
	(void)c;
	if (q != NULL)
		q[1] = '\0'; /* MHD's own writable buffer */
	return NULL;
}

static void notify(void *cls, struct MHD_Connection *c, void **socket_context,
		   enum MHD_ConnectionNotificationCode code)
{
	struct routerd_http *h = cls;
	const union MHD_ConnectionInfo *ci;
	struct track *t;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		atomic_fetch_add(&h->conns, 1);
		ci = MHD_get_connection_info(c,
					     MHD_CONNECTION_INFO_CONNECTION_FD);
		t = af_calloc(1, sizeof(*t));
		*socket_context = t;
		if (t == NULL || ci == NULL) {
			af_free(t);
			*socket_context = NULL;
			return;
		}
		t->fd = ci->connect_fd;
		phase_set(t, PH_WAIT);
		pthread_mutex_lock(&h->track_mu);
		t->next = h->tracks;
		if (h->tracks != NULL)
			h->tracks->prev = t;
		h->tracks = t;
		pthread_mutex_unlock(&h->track_mu);
		return;
	}
	atomic_fetch_sub(&h->conns, 1);
	t = *socket_context;
	*socket_context = NULL;
	if (t == NULL)
		return;
	pthread_mutex_lock(&h->track_mu);
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		h->tracks = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	pthread_mutex_unlock(&h->track_mu);
	if (t->k != NULL)
		af_free(t->k->body);
	af_free(t->k);
	af_free(t);
}

static void http_free(struct routerd_http *h)
{
	if (h->reaper_started) {
		pthread_mutex_lock(&h->track_mu);
		h->reaper_stop = true;
		pthread_cond_signal(&h->reaper_cond);
		pthread_mutex_unlock(&h->track_mu);
		pthread_join(h->reaper, NULL);
	}
	pthread_cond_destroy(&h->reaper_cond);
	pthread_mutex_destroy(&h->track_mu);
	routerd_decisions_free(h->decisions);
	http_stats_fini(&h->stats);
	af_free(h);
}

static int http_init(struct routerd_http *h, struct routerd *r)
{
	h->r = r;
	pthread_mutex_init(&h->track_mu, NULL);
	pthread_cond_init(&h->reaper_cond, NULL);
	if (http_stats_init(&h->stats) != 0)
		return AF_ENOMEM;
	if (routerd_decisions_new(&h->decisions) != 0)
		return AF_ENOMEM;
	if (pthread_create(&h->reaper, NULL, http_reaper_main, h) != 0)
		return AF_EIO;
	h->reaper_started = true;
	h->prefix_len =
		(size_t)snprintf(h->prefix, sizeof(h->prefix), "%s-", r->id);
	/* Ids stay unique across restarts: start from the wall clock. */
	atomic_init(&h->seq, (uint64_t)af_wall_ms() << 20);
	h->conn_limit = http_conn_limit();
	return 0;
}

int routerd_http_start(struct routerd *r, const struct sockaddr *addr,
		       socklen_t addrlen, unsigned threads, struct af_err *err)
{
	struct routerd_http *h = af_calloc(1, sizeof(*h));
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
	int rc;

	(void)addrlen;
	if (h == NULL)
		return af_errf(err, AF_ENOMEM, "http: out of memory");
	rc = http_init(h, r);
	if (rc != 0) {
		http_free(h);
		return af_errf(err, rc, "http: %s", af_strerror(rc));
	}
	if (addr->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->d = MHD_start_daemon(
		flags, 0, NULL, NULL, handler, h, MHD_OPTION_SOCK_ADDR, addr,
		MHD_OPTION_THREAD_POOL_SIZE, threads > 1 ? threads : 0u,
		MHD_OPTION_CONNECTION_LIMIT, h->conn_limit,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_REQUEST_TIMEOUT_S,
		MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)HTTP_BACKLOG,
		MHD_OPTION_NOTIFY_CONNECTION, notify, h,
		MHD_OPTION_NOTIFY_COMPLETED, completed, h,
		MHD_OPTION_URI_LOG_CALLBACK, uri_seen, h, MHD_OPTION_END);
	if (h->d == NULL) {
		http_free(h);
		return af_errf(err, AF_EIO, "http: cannot listen");
	}
	r->http = h;
	return 0;
}

void routerd_http_stop(struct routerd *r)
{
	struct routerd_http *h = r->http;

	if (h == NULL)
		return;
	MHD_stop_daemon(h->d);
	http_free(h);
	r->http = NULL;
}
