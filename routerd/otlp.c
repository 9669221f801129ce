/* OTLP/HTTP JSON span export (see otlp.h). */
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "routerd/otlp.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Names are cut to this many bytes in a span (at a UTF-8 boundary). */
#define SPAN_STR 96

struct span {
	char trace_id[33], span_id[17], parent_id[17];
	bool has_parent, route, degraded, canary;
	int64_t start_ns;
	uint64_t dur_ns;
	int64_t est_cost_nano;
	uint64_t revision;
	char state[ROUTERD_TRACESTATE_MAX + 1];
	char decision_id[SPAN_STR], workflow_id[SPAN_STR], tenant[SPAN_STR],
		class_name[SPAN_STR], model[SPAN_STR], provider[SPAN_STR],
		tier[SPAN_STR], region[SPAN_STR], lane[SPAN_STR],
		rule[SPAN_STR], code[SPAN_STR];
};

struct routerd_otlp {
	char url[ROUTERD_OTLP_URL_MAX + 16];
	char service_id[SPAN_STR];
	CURL *curl;
	struct curl_slist *headers;
	/* queue, under mu */
	pthread_mutex_t mu;
	/* one flush at a time: the exporter's and a caller's share the curl
	 * handle and the batch */
	pthread_mutex_t flush_mu;
	pthread_cond_t cond;
	struct span *ring;
	size_t head, count;
	bool stop;
	pthread_t thread;
	bool started;
	struct span *batch; /* the exporter's, ROUTERD_OTLP_BATCH */
	bool failing;	    /* last export failed (logged once) */
	atomic_ullong exported, dropped_full, dropped_failed, exports_ok,
		exports_failed;
};

/* ------------------------------------------------------- decision path */

static void cut(char *dst, const char *src)
{
	size_t n = src != NULL ? strnlen(src, SPAN_STR - 1) : 0;

	/* never end inside a UTF-8 sequence */
	if (n == SPAN_STR - 1 && src[n] != '\0')
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

static void hex(char *dst, uint64_t v, int digits)
{
	static const char x[] = "0123456789abcdef";

	for (int i = digits - 1; i >= 0; i--, v >>= 4)
		dst[i] = x[v & 15];
	dst[digits] = '\0';
}

/* splitmix64 per thread, seeded from the clock and the thread's address:
 * span and trace ids need uniqueness, not secrecy. */
static uint64_t next_id(void)
{
	static _Thread_local uint64_t s;
	uint64_t z;

	if (s == 0)
		s = af_mono_ns() ^ (uint64_t)(uintptr_t)&s ^
		    ((uint64_t)af_wall_ms() << 20);
	z = (s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return z != 0 ? z : 1;
}

static void fill(struct span *s, const struct routerd_trace *t,
		 const struct af_request *req, const struct af_decision *d)
{
	bool route = d->kind == AF_DECISION_ROUTE;

	if (t != NULL && t->has) {
		memcpy(s->trace_id, t->trace_id, sizeof(s->trace_id));
		memcpy(s->parent_id, t->parent_id, sizeof(s->parent_id));
		memcpy(s->state, t->state, strlen(t->state) + 1);
		s->has_parent = true;
	} else {
		hex(s->trace_id, next_id(), 16);
		hex(s->trace_id + 16, next_id(), 16);
		s->parent_id[0] = s->state[0] = '\0';
		s->has_parent = false;
	}
	hex(s->span_id, next_id(), 16);
	s->route = route;
	s->degraded = d->degraded;
	s->canary = d->canary;
	s->revision = d->revision;
	s->est_cost_nano = route ? d->est_cost_nano_usd : 0;
	cut(s->decision_id, d->decision_id);
	cut(s->workflow_id, req->workflow_id);
	cut(s->tenant, req->tenant);
	cut(s->class_name, req->class_name);
	cut(s->model, route ? d->primary.model : NULL);
	cut(s->provider, route ? d->primary.provider : NULL);
	cut(s->tier, route ? d->primary.tier : NULL);
	cut(s->region, route ? d->primary.region : NULL);
	cut(s->lane, route ? d->lane : NULL);
	cut(s->rule, d->rule);
	cut(s->code, route ? NULL : d->code);
}

void routerd_otlp_decision(struct routerd_otlp *o,
			   const struct routerd_trace *t,
			   const struct af_request *req,
			   const struct af_decision *d, uint64_t dur_ns)
{
	struct timespec now;
	struct span *s;

	if (o == NULL)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	pthread_mutex_lock(&o->mu);
	if (o->count == ROUTERD_OTLP_QUEUE) {
		pthread_mutex_unlock(&o->mu);
		atomic_fetch_add_explicit(&o->dropped_full, 1,
					  memory_order_relaxed);
		return;
	}
	s = &o->ring[(o->head + o->count) % ROUTERD_OTLP_QUEUE];
	fill(s, t, req, d);
	s->start_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec -
		      (int64_t)dur_ns;
	s->dur_ns = dur_ns;
	if (++o->count == ROUTERD_OTLP_BATCH)
		pthread_cond_signal(&o->cond);
	pthread_mutex_unlock(&o->mu);
}

size_t routerd_otlp_trace(struct routerd_otlp *o, const char *traceparent,
			  const char *tracestate, struct routerd_trace *t,
			  const struct af_request *req,
			  const struct af_decision *d, char *body, size_t cap,
			  size_t len, uint64_t t0_ns)
{
	routerd_trace_parse(traceparent, tracestate, t);
	len = routerd_trace_splice(t, body, cap, len);
	if (o != NULL)
		routerd_otlp_decision(o, t, req, d, af_mono_ns() - t0_ns);
	return len;
}

/* ---------------------------------------------------------- rendering */

static void attr_str(json_t *a, const char *k, const char *v)
{
	if (v[0] != '\0')
		json_array_append_new(a, json_pack("{s:s, s:{s:s}}", "key", k,
						   "value", "stringValue", v));
}

static void attr_int(json_t *a, const char *k, long long v)
{
	char n[24];

	/* OTLP JSON carries 64-bit integers as strings */
	snprintf(n, sizeof(n), "%lld", v);
	json_array_append_new(a, json_pack("{s:s, s:{s:s}}", "key", k, "value",
					   "intValue", n));
}

static void attr_double(json_t *a, const char *k, double v)
{
	json_array_append_new(a, json_pack("{s:s, s:{s:f}}", "key", k, "value",
					   "doubleValue", v));
}

static void attr_bool(json_t *a, const char *k, bool v)
{
	json_array_append_new(a, json_pack("{s:s, s:{s:b}}", "key", k, "value",
					   "boolValue", v));
}

/* The attributes: GenAI semantic-convention names where one fits
 * (gen_ai.request.model, gen_ai.provider.name, gen_ai.conversation.id for
 * the workflow), af.* for the rest. */
static json_t *span_attrs(const struct span *s)
{
	json_t *a = json_array();

	attr_str(a, "af.decision", s->route ? "route" : "deny");
	attr_str(a, "af.decision_id", s->decision_id);
	attr_str(a, "gen_ai.conversation.id", s->workflow_id);
	attr_str(a, "af.tenant", s->tenant);
	attr_str(a, "af.class", s->class_name);
	attr_str(a, "af.rule", s->rule);
	attr_str(a, "af.cohort", s->canary ? "canary" : "stable");
	attr_int(a, "af.policy.revision", (long long)s->revision);
	if (s->route) {
		attr_str(a, "gen_ai.request.model", s->model);
		attr_str(a, "gen_ai.provider.name", s->provider);
		attr_str(a, "af.tier", s->tier);
		attr_str(a, "af.region", s->region);
		attr_str(a, "af.lane", s->lane);
		attr_bool(a, "af.degraded", s->degraded);
		attr_double(a, "af.est_cost_usd",
			    (double)s->est_cost_nano / 1e9);
	} else {
		attr_str(a, "af.deny.code", s->code);
	}
	return a;
}

static json_t *span_json(const struct span *s)
{
	char t0[24], t1[24];
	json_t *j;

	snprintf(t0, sizeof(t0), "%lld", (long long)s->start_ns);
	snprintf(t1, sizeof(t1), "%lld",
		 (long long)(s->start_ns + (int64_t)s->dur_ns));
	j = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:o, s:{s:i}}", "traceId",
		      s->trace_id, "spanId", s->span_id, "name", "af.route",
		      "kind", 2 /* SERVER */, "startTimeUnixNano", t0,
		      "endTimeUnixNano", t1, "attributes", span_attrs(s),
		      "status", "code", 0 /* UNSET: a deny is an answer */);
	if (j != NULL && s->has_parent)
		json_object_set_new(j, "parentSpanId",
				    json_string(s->parent_id));
	if (j != NULL && s->state[0] != '\0')
		json_object_set_new(j, "traceState", json_string(s->state));
	return j;
}

/* One ExportTraceServiceRequest for spans s[0..n). */
static char *request_json(const struct routerd_otlp *o, const struct span *s,
			  size_t n)
{
	json_t *spans = json_array(), *res, *doc;
	char *out;

	for (size_t i = 0; i < n; i++)
		json_array_append_new(spans, span_json(&s[i]));
	res = json_pack("{s:[{s:s, s:{s:s}}, {s:s, s:{s:s}}]}", "attributes",
			"key", "service.name", "value", "stringValue",
			"routerd", "key", "service.instance.id", "value",
			"stringValue", o->service_id);
	doc = json_pack("{s:[{s:o, s:[{s:{s:s}, s:o}]}]}", "resourceSpans",
			"resource", res, "scopeSpans", "scope", "name",
			"af.routerd", "spans", spans);
	out = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	return out;
}

/* ------------------------------------------------------------ export */

static size_t discard(char *p, size_t size, size_t n, void *u)
{
	(void)p;
	(void)u;
	return size * n;
}

static bool post(struct routerd_otlp *o, const struct span *s, size_t n)
{
	char *body = request_json(o, s, n);
	long status = 0;
	CURLcode rc = CURLE_OUT_OF_MEMORY;

	if (body != NULL) {
		curl_easy_setopt(o->curl, CURLOPT_POSTFIELDS, body);
		rc = curl_easy_perform(o->curl);
		curl_easy_getinfo(o->curl, CURLINFO_RESPONSE_CODE, &status);
	}
	free(body);
	if (rc == CURLE_OK && status >= 200 && status < 300) {
		atomic_fetch_add(&o->exported, n);
		atomic_fetch_add(&o->exports_ok, 1);
		if (o->failing)
			log_info("event=otlp_export_ok url=%s", o->url);
		o->failing = false;
		return true;
	}
	atomic_fetch_add(&o->dropped_failed, n);
	atomic_fetch_add(&o->exports_failed, 1);
	if (!o->failing)
		log_warn("event=otlp_export_failed url=%s status=%ld "
			 "error=\"%s\" spans_dropped=%zu",
			 o->url, status,
			 rc == CURLE_OK ? "HTTP status"
					: curl_easy_strerror(rc),
			 n);
	o->failing = true;
	return false;
}

/* Moves up to a batch out of the queue (under mu). */
static size_t take(struct routerd_otlp *o)
{
	size_t n =
		o->count < ROUTERD_OTLP_BATCH ? o->count : ROUTERD_OTLP_BATCH;

	for (size_t i = 0; i < n; i++)
		o->batch[i] = o->ring[(o->head + i) % ROUTERD_OTLP_QUEUE];
	o->head = (o->head + n) % ROUTERD_OTLP_QUEUE;
	o->count -= n;
	return n;
}

static void flush_locked(struct routerd_otlp *o)
{
	size_t n;
	bool stop;

	for (;;) {
		pthread_mutex_lock(&o->mu);
		n = take(o);
		stop = o->stop;
		pthread_mutex_unlock(&o->mu);
		if (n == 0)
			return;
		if (stop) /* stopping: a short last chance */
			curl_easy_setopt(o->curl, CURLOPT_TIMEOUT_MS,
					 (long)ROUTERD_OTLP_STOP_TIMEOUT_MS);
		if (!post(o, o->batch, n) && stop)
			break;
	}
	/* stopping and the collector fails: drop the rest */
	pthread_mutex_lock(&o->mu);
	atomic_fetch_add(&o->dropped_failed, o->count);
	o->count = 0;
	pthread_mutex_unlock(&o->mu);
}

void routerd_otlp_flush(struct routerd_otlp *o)
{
	pthread_mutex_lock(&o->flush_mu);
	flush_locked(o);
	pthread_mutex_unlock(&o->flush_mu);
}

static void *exporter_main(void *arg)
{
	struct routerd_otlp *o = arg;
	struct timespec ts;
	bool stop;

	for (;;) {
		pthread_mutex_lock(&o->mu);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += ROUTERD_OTLP_FLUSH_MS / 1000;
		while (!o->stop && o->count < ROUTERD_OTLP_BATCH &&
		       pthread_cond_timedwait(&o->cond, &o->mu, &ts) == 0)
			;
		stop = o->stop;
		pthread_mutex_unlock(&o->mu);
		routerd_otlp_flush(o);
		if (stop)
			return NULL;
	}
}

/* -------------------------------------------------------------- setup */

int routerd_otlp_url(const char *endpoint, char *out, size_t cap,
		     struct af_err *err)
{
	const char *rest;
	size_t n = strlen(endpoint);

	if (strncmp(endpoint, "http://", 7) == 0)
		rest = endpoint + 7;
	else if (strncmp(endpoint, "https://", 8) == 0)
		rest = endpoint + 8;
	else
		return af_errf(err, AF_EINVAL,
			       "--otlp-endpoint: \"%.80s\": expected "
			       "http://HOST:PORT or https://HOST:PORT",
			       endpoint);
	if (n > ROUTERD_OTLP_URL_MAX || rest[0] == '\0' || rest[0] == '/' ||
	    strpbrk(endpoint, " \t\r\n?#") != NULL)
		return af_errf(err, AF_EINVAL,
			       "--otlp-endpoint: \"%.80s\": expected "
			       "http(s)://HOST[:PORT][/PATH], no spaces, "
			       "query or fragment, at most %d characters",
			       endpoint, ROUTERD_OTLP_URL_MAX);
	rest = strchr(rest, '/');
	if (out != NULL)
		snprintf(out, cap, "%s%s", endpoint,
			 rest == NULL		  ? "/v1/traces"
			 : strcmp(rest, "/") == 0 ? "v1/traces"
						  : "");
	return 0;
}

static int curl_setup(struct routerd_otlp *o, struct af_err *err)
{
	o->curl = curl_easy_init();
	o->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (o->curl == NULL || o->headers == NULL)
		return af_errf(err, AF_ENOMEM, "otlp: out of memory");
	curl_easy_setopt(o->curl, CURLOPT_URL, o->url);
	curl_easy_setopt(o->curl, CURLOPT_HTTPHEADER, o->headers);
	curl_easy_setopt(o->curl, CURLOPT_TIMEOUT_MS,
			 (long)ROUTERD_OTLP_TIMEOUT_MS);
	curl_easy_setopt(o->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(o->curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(o->curl, CURLOPT_USERAGENT, "af-routerd");
	return 0;
}

int routerd_otlp_new(const char *endpoint, const char *service_id,
		     struct routerd_otlp **ret, struct af_err *err)
{
	struct routerd_otlp *o = af_calloc(1, sizeof(*o));
	int rc;

	*ret = NULL;
	if (o == NULL)
		return af_errf(err, AF_ENOMEM, "otlp: out of memory");
	pthread_mutex_init(&o->mu, NULL);
	pthread_mutex_init(&o->flush_mu, NULL);
	pthread_cond_init(&o->cond, NULL);
	cut(o->service_id, service_id);
	rc = routerd_otlp_url(endpoint, o->url, sizeof(o->url), err);
	if (rc == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		rc = af_errf(err, AF_EIO, "otlp: libcurl did not initialize");
	if (rc == 0)
		rc = curl_setup(o, err);
	if (rc == 0) {
		o->ring = af_calloc(ROUTERD_OTLP_QUEUE, sizeof(*o->ring));
		o->batch = af_calloc(ROUTERD_OTLP_BATCH, sizeof(*o->batch));
		if (o->ring == NULL || o->batch == NULL)
			rc = af_errf(err, AF_ENOMEM, "otlp: out of memory");
	}
	if (rc == 0 && pthread_create(&o->thread, NULL, exporter_main, o) != 0)
		rc = af_errf(err, AF_EIO, "otlp: cannot start the exporter");
	o->started = rc == 0;
	if (rc != 0) {
		routerd_otlp_free(o);
		return rc;
	}
	log_info("event=otlp_export url=%s queue=%d batch=%d flush_ms=%d",
		 o->url, ROUTERD_OTLP_QUEUE, ROUTERD_OTLP_BATCH,
		 ROUTERD_OTLP_FLUSH_MS);
	*ret = o;
	return 0;
}

void routerd_otlp_free(struct routerd_otlp *o)
{
	if (o == NULL)
		return;
	if (o->started) {
		pthread_mutex_lock(&o->mu);
		o->stop = true;
		pthread_cond_signal(&o->cond);
		pthread_mutex_unlock(&o->mu);
		pthread_join(o->thread, NULL);
	}
	if (o->curl != NULL) {
		curl_easy_cleanup(o->curl);
		curl_global_cleanup();
	}
	curl_slist_free_all(o->headers);
	pthread_cond_destroy(&o->cond);
	pthread_mutex_destroy(&o->mu);
	pthread_mutex_destroy(&o->flush_mu);
	af_free(o->ring);
	af_free(o->batch);
	af_free(o);
}

void routerd_otlp_metrics(struct routerd_otlp *o, struct af_textbuf *b)
{
	size_t queued;

	if (o == NULL)
		return;
	pthread_mutex_lock(&o->mu);
	queued = o->count;
	pthread_mutex_unlock(&o->mu);
	af_textbuf_printf(
		b,
		"# HELP af_routerd_otlp_spans_exported_total Decision spans "
		"accepted by the OTLP collector.\n"
		"# TYPE af_routerd_otlp_spans_exported_total counter\n"
		"af_routerd_otlp_spans_exported_total %llu\n"
		"# HELP af_routerd_otlp_spans_dropped_total Decision spans not "
		"exported: the queue was full, or their export failed.\n"
		"# TYPE af_routerd_otlp_spans_dropped_total counter\n"
		"af_routerd_otlp_spans_dropped_total{reason=\"queue_full\"} "
		"%llu\n"
		"af_routerd_otlp_spans_dropped_total{reason=\"export_failed\"} "
		"%llu\n"
		"# HELP af_routerd_otlp_exports_total OTLP export requests.\n"
		"# TYPE af_routerd_otlp_exports_total counter\n"
		"af_routerd_otlp_exports_total{result=\"ok\"} %llu\n"
		"af_routerd_otlp_exports_total{result=\"error\"} %llu\n"
		"# HELP af_routerd_otlp_queue_spans Decision spans waiting for "
		"export.\n# TYPE af_routerd_otlp_queue_spans gauge\n"
		"af_routerd_otlp_queue_spans %zu\n",
		(unsigned long long)atomic_load(&o->exported),
		(unsigned long long)atomic_load(&o->dropped_full),
		(unsigned long long)atomic_load(&o->dropped_failed),
		(unsigned long long)atomic_load(&o->exports_ok),
		(unsigned long long)atomic_load(&o->exports_failed), queued);
}
