/*
 * The routerd HTTP API on libmicrohttpd: POST /v1/route,
 * POST /v1/report, GET /v1/status, /healthz, /readyz, /metrics.
 *
 * MHD polls with epoll in its own thread(s). Each connection gets one
 * `struct conn` when it opens (body buffer, request, decision, output), so
 * a keep-alive connection routes without allocating beyond what MHD does.
 * Every request is answered on its second callback or later, never the
 * first (answering on the first one closes keep-alive connections).
 */
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "routerd/http_int.h"
#include "routerd/budget.h"
#include "routerd/usage.h"

#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#define CONN_LIMIT 1024
#define OVERLOAD_CONNS 960 /* over this many open connections: 429 */
#define CONN_TIMEOUT_S 120
#define OUT_MAX 8192

enum ep {
	EP_NOT_FOUND,
	EP_BAD_METHOD,
	EP_ROUTE,
	EP_REPORT,
	EP_STATUS,
	EP_HEALTHZ,
	EP_READYZ,
	EP_METRICS,
};

struct conn {
	char *body;
	size_t len, cap;
	bool too_big;
	enum ep ep;
	const char *allow; /* for 405 */
	char id[ROUTERD_ID_MAX + 24];
	struct af_request req;
	struct af_decision d;
	char out[OUT_MAX];
};

/* ---------------------------------------------------------- responses */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
			     const char *type, const char *body, size_t len,
			     const char *allow)
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
	ret = MHD_queue_response(c, status, rsp);
	MHD_destroy_response(rsp);
	return ret;
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status,
				  struct conn *k, size_t len)
{
	return reply(c, status, "application/json", k->out, len, NULL);
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
	return reply(c, status, "application/json", k->out, len, k->allow);
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

/* Reserves the route's estimated cost from the tenant's lease; a lease
 * that cannot cover it turns the decision into BUDGET_EXCEEDED. */
static void reserve_budget(const struct live_ctx *lc, struct conn *k,
			   uint64_t seq)
{
	uint64_t retry = 0;

	if (routerd_budgets_reserve(lc->budgets, k->req.tenant, seq,
				    k->d.est_cost_nano_usd, lc->wall_ms,
				    &retry))
		return;
	k->d.kind = AF_DECISION_DENY;
	k->d.code = "BUDGET_EXCEEDED";
	snprintf(k->d.message, sizeof(k->d.message),
		 "tenant %.64s: budget lease cannot cover this hop",
		 k->req.tenant);
	k->d.retry_after_ms = (int64_t)retry;
	k->d.nfallback = 0;
}

static enum MHD_Result decide(struct routerd_http *h, struct MHD_Connection *c,
			      struct conn *k, const struct routerd_view *v)
{
	struct live_ctx lc;
	struct af_live live;
	uint64_t seq =
		atomic_fetch_add_explicit(&h->seq, 1, memory_order_relaxed);
	uint64_t now = af_mono_ms();
	size_t len = 0;
	int rc;

	decision_id(h, k, seq);
	routerd_live_prepare(&lc, v, now, &live);
	if (h->r->budgets != NULL) {
		lc.budgets = h->r->budgets;
		lc.wall_ms = af_wall_ms();
	}
	rc = af_decide(v->pv, &k->req, &live, k->id, &k->d, NULL);
	if (rc == AF_ENOTFOUND)
		return reply_error(h, c, k, 422, "UNKNOWN_CLASS",
				   "unknown class", "class");
	if (rc != 0)
		return reply_error(h, c, k, 500, "INTERNAL", af_strerror(rc),
				   NULL);
	if (lc.budgets != NULL && k->d.kind == AF_DECISION_ROUTE)
		reserve_budget(&lc, k, seq);
	if (h->r->live != NULL)
		routerd_live_routed(h->r->live, view_ext(v), &k->d, seq, now);
	http_count_decision(&h->stats, &k->d);
	if (af_decision_json(&k->d, k->out, sizeof(k->out), &len) != 0)
		return reply_error(h, c, k, 500, "INTERNAL",
				   "decision too large", NULL);
	return reply_json(c, 200, k, len);
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
	if (atomic_load_explicit(&h->conns, memory_order_relaxed) >
	    OVERLOAD_CONNS)
		return reply_error(h, c, k, 429, "OVERLOADED",
				   "routerd is overloaded", NULL);
	if (af_request_parse_json(k->body, k->len, &k->req, &rerr) != 0)
		return reply_error(h, c, k, (unsigned)rerr.http_status,
				   rerr.code, rerr.message, rerr.field);
	v = routerd_view_acquire(h->r);
	if (v == NULL)
		return reply_error(h, c, k, 503, "NO_POLICY",
				   "no policy loaded yet", NULL);
	ret = decide(h, c, k, v);
	routerd_view_release(h->r, v);
	af_histogram_observe_ns(&h->stats.latency, af_mono_ns() - t0);
	return ret;
}

/* ------------------------------------------------------------ report */

struct report_in {
	const char *decision_id, *model, *region;
	bool ok;
	int64_t latency_ms;
};

/* Checks one optional field's type; fills *bad with the field name. */
static bool field_ok(json_t *root, const char *name, int type, const char **bad)
{
	json_t *f = json_object_get(root, name);
	bool ok;

	if (f == NULL || json_is_null(f))
		return true;
	switch (type) {
	case 's':
		ok = json_is_string(f);
		break;
	case 'i':
		ok = json_is_integer(f) && json_integer_value(f) >= 0;
		break;
	case 'n':
		ok = json_is_number(f) && json_number_value(f) >= 0;
		break;
	default:
		ok = json_is_boolean(f);
		break;
	}
	if (!ok && *bad == NULL)
		*bad = name;
	return ok;
}

static bool report_types_ok(json_t *root, const char **bad)
{
	static const char *strs[] = {"decision_id", "workflow_id", "tenant",
				     "class",	    "model",	   "region"};
	static const char *ints[] = {"latency_ms", "input_tokens",
				     "output_tokens", "revision"};
	bool ok = true;

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		ok &= field_ok(root, strs[i], 's', bad);
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		ok &= field_ok(root, ints[i], 'i', bad);
	ok &= field_ok(root, "cost_usd", 'n', bad);
	ok &= field_ok(root, "ok", 'b', bad);
	return ok;
}

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

static const char *str_or(json_t *root, const char *name, const char *dflt)
{
	const char *s = json_string_value(json_object_get(root, name));

	return s != NULL ? s : dflt;
}

/* What the call cost: the orchestrator's figure, else the registry price
 * of the tokens. */
static int64_t report_cost(const struct routerd_view *v, json_t *root,
			   const char *model)
{
	json_t *cost = json_object_get(root, "cost_usd");
	json_t *in = json_object_get(root, "input_tokens");
	json_t *out = json_object_get(root, "output_tokens");
	int64_t nano = 0;

	if (json_is_number(cost))
		return llround(json_number_value(cost) * 1e9);
	if (v != NULL && model != NULL)
		af_policy_view_cost(
			v->pv, model,
			json_is_integer(in) ? json_integer_value(in) : 0,
			json_is_integer(out) ? json_integer_value(out) : 0,
			&nano);
	return nano;
}

/* Settles the budget reservation and feeds the outcome aggregates (canary
 * analysis, showback). */
static void record_outcome(struct routerd_http *h, const struct routerd_view *v,
			   json_t *root, const struct live_report *rep)
{
	json_t *rev = json_object_get(root, "revision");
	int64_t nano = report_cost(v, root, rep->model);

	if (h->r->budgets != NULL)
		routerd_budgets_settle(h->r->budgets, rep->seq, nano);
	if (h->r->usage == NULL)
		return;
	routerd_usage_record(
		h->r->usage,
		json_is_integer(rev) ? (uint64_t)json_integer_value(rev) : 0,
		str_or(root, "tenant", ""), str_or(root, "class", ""),
		str_or(root, "model", ""), rep->ok,
		rep->latency_ms > 0 ? (uint64_t)rep->latency_ms : 0, nano);
}

static void report_apply(struct routerd_http *h, json_t *root)
{
	const struct routerd_view *v;
	json_t *lat = json_object_get(root, "latency_ms");
	struct live_report rep = {
		.seq = our_seq(h, json_string_value(json_object_get(
					  root, "decision_id"))),
		.model = json_string_value(json_object_get(root, "model")),
		.region = json_string_value(json_object_get(root, "region")),
		.ok = json_is_true(json_object_get(root, "ok")),
		.latency_ms =
			json_is_integer(lat) ? json_integer_value(lat) : -1,
	};

	if (h->r->live == NULL)
		return;
	v = routerd_view_acquire(h->r);
	routerd_live_report(h->r->live, v != NULL ? view_ext(v) : NULL, &rep,
			    af_mono_ms());
	record_outcome(h, v, root, &rep);
	routerd_view_release(h->r, v);
}

static enum MHD_Result report(struct routerd_http *h, struct MHD_Connection *c,
			      struct conn *k)
{
	static const char accepted[] = "{\"accepted\":true}";
	const char *bad = NULL;
	json_error_t jerr;
	json_t *root;
	enum MHD_Result ret;

	if (k->too_big)
		return reply_error(h, c, k, 413, "BODY_TOO_LARGE",
				   "body over 65536 bytes", NULL);
	root = json_loadb(k->body, k->len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL || !json_is_object(root)) {
		json_decref(root);
		return reply_error(h, c, k, 400, "MALFORMED_JSON",
				   "body is not a JSON object", NULL);
	}
	if (json_object_get(root, "ok") == NULL) {
		ret = reply_error(h, c, k, 400, "MISSING_FIELD",
				  "ok is required", "ok");
	} else if (!report_types_ok(root, &bad)) {
		snprintf(k->id, sizeof(k->id), "%s", bad);
		ret = reply_error(h, c, k, 422, "WRONG_TYPE",
				  "field has the wrong type or range", k->id);
	} else {
		report_apply(h, root);
		atomic_fetch_add(&h->stats.reports, 1);
		ret = reply(c, 202, "application/json", accepted,
			    sizeof(accepted) - 1, NULL);
	}
	json_decref(root);
	return ret;
}

/* ------------------------------------------------------- other routes */

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
		return reply(c, 200, "text/plain", ok, sizeof(ok) - 1, NULL);
	case EP_READYZ:
		loaded = atomic_load(&h->r->current) != NULL;
		return reply(c, loaded ? 200 : 503, "text/plain",
			     loaded ? ready : not_ready,
			     loaded ? sizeof(ready) - 1 : sizeof(not_ready) - 1,
			     NULL);
	case EP_STATUS:
		if (http_status_json(h->r, k->out, sizeof(k->out), &len) != 0)
			return reply_error(h, c, k, 500, "INTERNAL",
					   "status too large", NULL);
		return reply_json(c, 200, k, len);
	default:
		break;
	}
	http_metrics(h->r, &b);
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
		{"/v1/status", "GET", EP_STATUS},
		{"/healthz", "GET", EP_HEALTHZ},
		{"/readyz", "GET", EP_READYZ},
		{"/metrics", "GET", EP_METRICS},
	};

	k->ep = EP_NOT_FOUND;
	k->allow = NULL;
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

static enum MHD_Result handler(void *cls, struct MHD_Connection *c,
			       const char *url, const char *method,
			       const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	struct routerd_http *h = cls;
	const union MHD_ConnectionInfo *ci;
	struct conn *k = *con_cls;
	const char *cl;

	(void)version;
	if (k == NULL) {
		/* First callback: headers only. Never answer here. */
		ci = MHD_get_connection_info(
			c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		if (ci == NULL || ci->socket_context == NULL)
			return MHD_NO;
		k = ci->socket_context;
		k->len = 0;
		k->too_big = false;
		classify(k, method, url);
		cl = MHD_lookup_connection_value(
			c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && strtoull(cl, NULL, 10) > AF_REQ_MAX_BODY)
			k->too_big = true;
		*con_cls = k;
		return MHD_YES;
	}
	if (*upload_size != 0) {
		append(k, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	return dispatch(h, c, k);
}

static void notify(void *cls, struct MHD_Connection *c, void **socket_context,
		   enum MHD_ConnectionNotificationCode code)
{
	struct routerd_http *h = cls;
	struct conn *k;

	(void)c;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		atomic_fetch_add(&h->conns, 1);
		*socket_context = af_calloc(1, sizeof(struct conn));
		return;
	}
	atomic_fetch_sub(&h->conns, 1);
	k = *socket_context;
	if (k != NULL)
		af_free(k->body);
	af_free(k);
	*socket_context = NULL;
}

int routerd_http_start(struct routerd *r, const struct sockaddr *addr,
		       socklen_t addrlen, unsigned threads, struct af_err *err)
{
	struct routerd_http *h = af_calloc(1, sizeof(*h));
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;

	(void)addrlen;
	if (h == NULL || http_stats_init(&h->stats) != 0) {
		af_free(h);
		return af_errf(err, AF_ENOMEM, "http: out of memory");
	}
	h->r = r;
	h->prefix_len =
		(size_t)snprintf(h->prefix, sizeof(h->prefix), "%s-", r->id);
	/* Ids stay unique across restarts: start from the wall clock. */
	atomic_init(&h->seq, (uint64_t)af_wall_ms() << 20);
	if (addr->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->d = MHD_start_daemon(
		flags, 0, NULL, NULL, handler, h, MHD_OPTION_SOCK_ADDR, addr,
		MHD_OPTION_THREAD_POOL_SIZE, threads > 1 ? threads : 0u,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONN_LIMIT,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
		MHD_OPTION_NOTIFY_CONNECTION, notify, h, MHD_OPTION_END);
	if (h->d == NULL) {
		http_stats_fini(&h->stats);
		af_free(h);
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
	http_stats_fini(&h->stats);
	af_free(h);
	r->http = NULL;
}
