/* Decision counters, GET /v1/status and GET /metrics. */
#include "common/timeutil.h"
#include "routerd/http_int.h"
#include "routerd/shadow.h"
#include "routerd/workflow.h"
#include "routerd/override.h"
#include "routerd/quota.h"

#include <stdio.h>
#include <string.h>

static const char *cohorts[2] = {"stable", "canary"};

static int labels_init(struct label_tab *t)
{
	atomic_init(&t->n, 0);
	return pthread_mutex_init(&t->mu, NULL) != 0 ? AF_ENOMEM : 0;
}

int http_stats_init(struct http_stats *s)
{
	if (labels_init(&s->tiers) != 0)
		return AF_ENOMEM;
	if (labels_init(&s->codes) != 0) {
		pthread_mutex_destroy(&s->tiers.mu);
		return AF_ENOMEM;
	}
	return 0;
}

void http_stats_fini(struct http_stats *s)
{
	pthread_mutex_destroy(&s->tiers.mu);
	pthread_mutex_destroy(&s->codes.mu);
}

static uint32_t label_find(const struct label_tab *t, const char *name,
			   uint32_t from, uint32_t n)
{
	for (uint32_t i = from; i < n; i++)
		if (strncmp(t->names[i], name, HTTP_LABEL_LEN - 1) == 0)
			return i;
	return HTTP_LABELS;
}

/* Index of `name` (added when new); HTTP_LABELS ("other") when full. A
 * few short names: a scan is cheaper than hashing. */
static uint32_t label_index(struct label_tab *t, const char *name)
{
	uint32_t n = atomic_load_explicit(&t->n, memory_order_acquire);
	uint32_t i = label_find(t, name, 0, n), m;

	if (i != HTTP_LABELS)
		return i;
	pthread_mutex_lock(&t->mu);
	m = atomic_load_explicit(&t->n, memory_order_relaxed);
	i = label_find(t, name, n, m);
	if (i == HTTP_LABELS && m < HTTP_LABELS) {
		snprintf(t->names[m], HTTP_LABEL_LEN, "%s", name);
		atomic_store_explicit(&t->n, m + 1, memory_order_release);
		i = m;
	}
	pthread_mutex_unlock(&t->mu);
	return i;
}

void http_count_decision(struct http_stats *s, const struct af_decision *d)
{
	int cohort = d->canary ? 1 : 0;
	uint32_t i;

	if (d->kind == AF_DECISION_ROUTE) {
		i = label_index(&s->tiers, d->primary.tier);
		atomic_fetch_add_explicit(&s->route[i][cohort], 1,
					  memory_order_relaxed);
		if (d->degraded)
			atomic_fetch_add_explicit(&s->degraded[cohort], 1,
						  memory_order_relaxed);
		return;
	}
	i = label_index(&s->codes, d->code != NULL ? d->code : "");
	atomic_fetch_add_explicit(&s->deny[i][cohort], 1, memory_order_relaxed);
}

void http_count_report(struct http_stats *s, const struct routerd_report *rep,
		       const struct routerd_decision_rec *a, int cohort)
{
	atomic_fetch_add(&s->reports, 1);
	if (cohort == LIVE_COHORT_UNKNOWN)
		return; /* no decision to compare with */
	if ((rep->model != NULL && strcmp(rep->model, a->model) != 0) ||
	    (rep->region != NULL && strcmp(rep->region, a->region) != 0))
		atomic_fetch_add(
			&s->fallbacks[cohort == LIVE_COHORT_CANARY ? 1 : 0], 1);
}

void http_count_error(struct http_stats *s, const char *code)
{
	atomic_fetch_add_explicit(&s->error[label_index(&s->codes, code)], 1,
				  memory_order_relaxed);
}

/* ------------------------------------------------------------ status */

static void json_str(char *out, size_t len, const char *s)
{
	size_t o = 0;

	for (; *s != '\0' && o + 7 < len; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch < 0x20) {
			o += (size_t)snprintf(out + o, len - o, "\\u%04x", ch);
		} else {
			out[o++] = (char)ch;
		}
	}
	out[o] = '\0';
}

static bool degraded(struct routerd *r, bool loaded, int64_t now)
{
	int64_t last = atomic_load(&r->sync_stats.last_sync_ms);

	return !loaded || last == 0 || now - last > ROUTERD_DEGRADED_AFTER_MS;
}

static int view_json(const struct routerd_view *v, int64_t now, char *buf,
		     size_t len)
{
	char canary[256] = "null", shadow[256] = "null";

	if (v != NULL && v->shadow_hash[0] != '\0')
		snprintf(
			shadow, sizeof(shadow),
			"{\"revision\":%llu,\"hash\":\"%s\",\"sample_pct\":%u}",
			(unsigned long long)v->shadow_revision, v->shadow_hash,
			v->shadow_sample_pct);
	if (v == NULL)
		return snprintf(buf, len,
				"\"policy\":null,\"registry_revision\":null,"
				"\"state_index\":null,\"view_age_s\":null");
	if (v->canary_hash[0] != '\0')
		snprintf(canary, sizeof(canary),
			 "{\"revision\":%llu,\"hash\":\"%s\",\"weight\":%u}",
			 (unsigned long long)v->canary_revision, v->canary_hash,
			 v->canary_weight);
	return snprintf(
		buf, len,
		"\"policy\":{\"stable\":{\"revision\":%llu,\"hash\":\"%s\"},"
		"\"canary\":%s,\"shadow\":%s},\"registry_revision\":%llu,"
		"\"state_index\":%llu,\"view_age_s\":%lld",
		(unsigned long long)v->stable_revision, v->stable_hash, canary,
		shadow, (unsigned long long)v->registry_revision,
		(unsigned long long)v->state_index,
		(long long)((now - v->activated_ms) / 1000));
}

int http_status_json(struct routerd *r, char *buf, size_t len, size_t *ret_len)
{
	const struct routerd_view *v = routerd_view_acquire(r);
	int64_t now = af_wall_ms();
	int64_t last = atomic_load(&r->sync_stats.last_sync_ms);
	char id[2 * ROUTERD_ID_MAX * 6], since[32] = "null", view[1024];
	char ov[512];
	const char *conn =
		atomic_load(&r->sync_stats.connected) ? "true" : "false";
	int n;

	json_str(id, sizeof(id), r->id);
	if (last > 0)
		snprintf(since, sizeof(since), "%lld",
			 (long long)((now - last) / 1000));
	view_json(v, now, view, sizeof(view));
	if (routerd_overrides_status_json(r, v, ov, sizeof(ov)) == 0)
		snprintf(ov, sizeof(ov), "\"overrides\":null");
	n = snprintf(buf, len,
		     "{\"id\":\"%s\",\"state\":\"%s\",\"ready\":%s,%s,"
		     "\"controld\":{\"connected\":%s,"
		     "\"seconds_since_sync\":%s},\"controld_connected\":%s,"
		     "%s}",
		     id, degraded(r, v != NULL, now) ? "degraded" : "healthy",
		     v != NULL ? "true" : "false", view, conn, since, conn, ov);
	routerd_view_release(r, v);
	if (n < 0 || (size_t)n >= len)
		return AF_ETOOBIG;
	*ret_len = (size_t)n;
	return 0;
}

/* ----------------------------------------------------------- metrics */

static const char *label_name(const struct label_tab *t, uint32_t i)
{
	return i < HTTP_LABELS ? t->names[i] : "other";
}

/* A counter with one series per cohort. */
static void by_cohort(struct af_textbuf *b, const char *name, const char *help,
		      _Atomic uint64_t v[2])
{
	af_textbuf_printf(b,
			  "# HELP %s %s\n# TYPE %s counter\n"
			  "%s{cohort=\"stable\"} %llu\n"
			  "%s{cohort=\"canary\"} %llu\n",
			  name, help, name, name,
			  (unsigned long long)atomic_load(&v[0]), name,
			  (unsigned long long)atomic_load(&v[1]));
}

static void decisions_metrics(struct http_stats *s, struct af_textbuf *b)
{
	uint32_t nt = atomic_load(&s->tiers.n), nc = atomic_load(&s->codes.n);
	uint64_t x;

	af_textbuf_printf(
		b, "# HELP af_routerd_decisions_total Answers to POST "
		   "/v1/route by outcome (route, deny, error), code, tier "
		   "and cohort.\n# TYPE af_routerd_decisions_total counter\n");
#define ROW(outcome, code, tier, cohort, v)                                    \
	af_textbuf_printf(b,                                                   \
			  "af_routerd_decisions_total{outcome=\"%s\",code=\"%" \
			  "s\",tier=\"%s\",cohort=\"%s\"} %llu\n",             \
			  outcome, code, tier, cohort,                         \
			  (unsigned long long)(v))
	for (uint32_t i = 0; i <= HTTP_LABELS; i++)
		for (int c = 0; c < 2; c++) {
			if ((i < nt || i == HTTP_LABELS) &&
			    (x = atomic_load(&s->route[i][c])) != 0)
				ROW("route", "", label_name(&s->tiers, i),
				    cohorts[c], x);
			if ((i < nc || i == HTTP_LABELS) &&
			    (x = atomic_load(&s->deny[i][c])) != 0)
				ROW("deny", label_name(&s->codes, i), "",
				    cohorts[c], x);
		}
	for (uint32_t i = 0; i <= HTTP_LABELS; i++)
		if ((i < nc || i == HTTP_LABELS) &&
		    (x = atomic_load(&s->error[i])) != 0)
			ROW("error", label_name(&s->codes, i), "", "", x);
#undef ROW
	by_cohort(b, "af_routerd_decisions_degraded_total",
		  "Routes stepped down one tier.", s->degraded);
	by_cohort(b, "af_routerd_fallbacks_total",
		  "Reports of a routed decision served by a fallback hop (the "
		  "reported model or region is not the primary's).",
		  s->fallbacks);
	af_histogram_format(b, "af_routerd_decision_seconds",
			    "Server-side time of POST /v1/route (parse, "
			    "decide, render).",
			    "", &s->latency);
}

static void gauge(struct af_textbuf *b, const char *name, const char *help,
		  const char *type, long long v)
{
	af_textbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %lld\n", name,
			  help, name, type, name, v);
}

static void view_metrics(struct routerd *r, struct af_textbuf *b)
{
	const struct routerd_view *v = routerd_view_acquire(r);

	gauge(b, "af_routerd_view_loaded", "1 once a policy view is loaded.",
	      "gauge", v != NULL);
	if (v != NULL) {
		gauge(b, "af_routerd_view_state_index",
		      "controld applied index the view reflects.", "gauge",
		      (long long)v->state_index);
		af_textbuf_printf(
			b,
			"# HELP af_routerd_view_revision Policy revision by "
			"cohort (0: none).\n"
			"# TYPE af_routerd_view_revision gauge\n"
			"af_routerd_view_revision{cohort=\"stable\"} %llu\n"
			"af_routerd_view_revision{cohort=\"canary\"} %llu\n",
			(unsigned long long)v->stable_revision,
			(unsigned long long)v->canary_revision);
		af_textbuf_printf(
			b,
			"# HELP af_routerd_canary_weight_ratio Share "
			"of traffic the view sends to the canary, "
			"0-1.\n# TYPE af_routerd_canary_weight_ratio "
			"gauge\naf_routerd_canary_weight_ratio %.2f\n",
			(double)v->canary_weight / 100.0);
		gauge(b, "af_routerd_registry_revision",
		      "Model registry revision of the view.", "gauge",
		      (long long)v->registry_revision);
		gauge(b, "af_routerd_view_age_seconds",
		      "Seconds since the view was activated.", "gauge",
		      (long long)((af_wall_ms() - v->activated_ms) / 1000));
	}
	routerd_view_release(r, v);
}

static void sync_metrics(struct routerd *r, struct af_textbuf *b)
{
	struct routerd_sync_stats *s = &r->sync_stats;
	int64_t last = atomic_load(&s->last_sync_ms);

	gauge(b, "af_routerd_controld_connected",
	      "1 when a controld answered the last Sync.", "gauge",
	      atomic_load(&s->connected));
	af_textbuf_printf(b,
			  "# HELP af_routerd_last_sync_timestamp_seconds Unix "
			  "time of the last successful Sync (0: never).\n"
			  "# TYPE af_routerd_last_sync_timestamp_seconds "
			  "gauge\naf_routerd_last_sync_timestamp_seconds "
			  "%.3f\n",
			  last > 0 ? (double)last / 1000.0 : 0.0);
#define COUNTER(name, help, field)                                             \
	gauge(b, name, help, "counter", (long long)atomic_load(&s->field))
	COUNTER("af_routerd_syncs_total", "Successful Syncs.", syncs);
	COUNTER("af_routerd_sync_errors_total", "Failed Syncs.", sync_errors);
	COUNTER("af_routerd_nacks_total", "Views rejected (NACK).", nacks);
	COUNTER("af_routerd_views_published_total", "Views activated.",
		views_published);
	COUNTER("af_routerd_hints_received_total",
		"Hints and heartbeats received.", hints_received);
	COUNTER("af_routerd_pushes_total",
		"Change hints whose Sync answer was taken (no pull).", pushes);
	COUNTER("af_routerd_controld_connects_total",
		"Connections to controld established (kept open).", connects);
#undef COUNTER
}

static void lane_row(void *arg, const char *lane, uint32_t inflight,
		     int64_t limit)
{
	af_textbuf_printf(arg,
			  "af_routerd_lane_inflight{lane=\"%s\"} %u\n"
			  "af_routerd_lane_limit{lane=\"%s\"} %lld\n",
			  lane, inflight, lane, (long long)limit);
}

/* In-flight and limit per lane, each family under its own header (the
 * lane table is bounded: LIVE_MAX_LANES). */
static void lane_metrics(struct routerd_live *l, struct af_textbuf *b)
{
	struct af_textbuf rows = {0};

	routerd_live_lanes(l, lane_row, &rows);
	af_family_filter(b, &rows, "af_routerd_lane_inflight", "gauge",
			 "Routed decisions not yet reported or expired, by "
			 "lane.");
	af_family_filter(b, &rows, "af_routerd_lane_limit", "gauge",
			 "The lane's max_inflight in the published policy (0: "
			 "not known).");
	af_textbuf_free(&rows);
}

static void live_metrics(struct routerd *r, struct af_textbuf *b)
{
	const struct live_stats *s;

	if (r->live == NULL)
		return;
	s = routerd_live_stats(r->live);
	lane_metrics(r->live, b);
#define COUNTER(name, help, field)                                             \
	gauge(b, name, help, "counter", (long long)atomic_load(&s->field))
	COUNTER("af_routerd_reports_total", "Reports received.", reports);
	COUNTER("af_routerd_report_failures_total", "Reports with ok=false.",
		report_errors);
	COUNTER("af_routerd_inflight_expired_total",
		"Routed decisions released by expiry (no report).", expired);
	COUNTER("af_routerd_inflight_evicted_total",
		"Routed decisions released early: tracking table full.",
		evicted);
	COUNTER("af_routerd_cooldowns_total", "Model+region cooldowns started.",
		cooldowns);
#undef COUNTER
}

static void http_conn_metrics(struct routerd_http *h, struct af_textbuf *b)
{
	const struct routerd_decisions_stats *d =
		routerd_decisions_stats(h->decisions);

	gauge(b, "af_routerd_http_connections", "Open HTTP connections.",
	      "gauge", atomic_load(&h->conns));
	gauge(b, "af_routerd_http_connection_limit",
	      "Connections routerd accepts (from RLIMIT_NOFILE).", "gauge",
	      (long long)h->conn_limit);
	gauge(b, "af_routerd_http_connections_shed_total",
	      "Connections closed for not sending a complete request in "
	      "time (idle or slow).",
	      "counter", (long long)atomic_load(&h->stats.shed));
	gauge(b, "af_routerd_reports_accepted_total", "Reports answered 202.",
	      "counter", (long long)atomic_load(&h->stats.reports));
	gauge(b, "af_routerd_outcomes_accepted_total",
	      "Workflow outcomes (POST /v1/outcome) answered 202.", "counter",
	      (long long)atomic_load(&h->stats.outcomes));
	gauge(b, "af_routerd_reports_unmatched_total",
	      "Reports accepted for a decision routerd does not know, "
	      "attributed from their own tenant, class and revision.",
	      "counter", (long long)atomic_load(&h->stats.reports_unmatched));
	gauge(b, "af_routerd_decisions_kept_total",
	      "Routed decisions kept for report attribution.", "counter",
	      (long long)atomic_load(&d->stored));
	gauge(b, "af_routerd_decisions_dropped_early_total",
	      "Kept decisions replaced less than 10 minutes after they were "
	      "made (table full).",
	      "counter",
	      (long long)(atomic_load(&d->dropped_early) +
			  atomic_load(&d->oversized)));
}

/* One series each per known (model, region), at most LIVE_METRIC_PAIRS. */
static void pair_rows(void *arg, const struct live_pair_row *p)
{
	struct af_textbuf *b = arg;
	char l[512];

	snprintf(l, sizeof(l), "model=\"%s\",region=\"%s\"", p->model,
		 p->region);
	for (int c = 0; c < 2; c++)
		af_textbuf_printf(b,
				  "af_routerd_cooldown_remaining_seconds{%s,"
				  "cohort=\"%s\"} %.3f\n",
				  l, cohorts[c],
				  (double)p->cooling_ms[c] / 1000.0);
	af_textbuf_printf(
		b,
		"af_routerd_model_latency_seconds{%s} %.3f\n"
		"af_routerd_model_reports_total{%s,ok=\"true\"} %llu\n"
		"af_routerd_model_reports_total{%s,ok=\"false\"} %llu\n",
		l, (double)p->ewma_ms / 1000.0, l, (unsigned long long)p->ok, l,
		(unsigned long long)p->failed);
}

static void pair_metrics(struct routerd *r, struct af_textbuf *b)
{
	struct af_textbuf rows = {0};

	if (r->live == NULL)
		return;
	routerd_live_pairs(r->live, af_mono_ms(), pair_rows, &rows);
	/* rows interleave three families: print each family's lines under
	 * its own header. */
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
		{"af_routerd_cooldown_remaining_seconds", "gauge",
		 "Seconds a (model, region) stays cooled down for a cohort (0: "
		 "usable)."},
		{"af_routerd_model_latency_seconds", "gauge",
		 "Moving average of the latency reported for a (model, region) "
		 "(0: none yet)."},
		{"af_routerd_model_reports_total", "counter",
		 "Reports by (model, region) and outcome."},
	};
	for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++)
		af_family_filter(b, &rows, fam[f].name, fam[f].type,
				 fam[f].help);
	af_textbuf_free(&rows);
}

void http_metrics(struct routerd *r, struct af_textbuf *b)
{
	af_process_metrics(b, "routerd", AF_VERSION);
	pair_metrics(r, b);
	if (r->http != NULL) {
		decisions_metrics(&r->http->stats, b);
		http_conn_metrics(r->http, b);
	}
	view_metrics(r, b);
	sync_metrics(r, b);
	routerd_overrides_metrics(r, b);
	live_metrics(r, b);
	if (r->workflows != NULL)
		routerd_workflows_metrics(r->workflows, b);
	routerd_shadow_metrics(r, b);
	routerd_quotas_metrics(r->quotas, b);
}
