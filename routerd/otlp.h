/*
 * OTLP/HTTP JSON export of one span per decision (--otlp-endpoint URL).
 *
 * The decision path only copies a fixed-size record into a bounded queue
 * (no allocation, no I/O, one short mutex hold); a full queue drops the
 * span and counts it. An exporter thread sends the queue in batches of at
 * most ROUTERD_OTLP_BATCH spans, at least every ROUTERD_OTLP_FLUSH_MS, as
 * one ExportTraceServiceRequest (POST, application/json) over a kept-alive
 * libcurl connection; a failed batch is dropped and counted (no retry, so
 * a dead collector costs routerd nothing but the attempt). At stop, what
 * is queued is sent with a 1 s timeout; after a failure the rest is
 * dropped, so a hung collector delays a stop by 1 s at most beyond the
 * export already under way.
 */
#ifndef AF_ROUTERD_OTLP_H
#define AF_ROUTERD_OTLP_H

#include "common/err.h"
#include "common/metrics.h"
#include "policy/policy.h"
#include "routerd/trace.h"

#include <stdint.h>

#define ROUTERD_OTLP_QUEUE 4096 /* spans waiting, at most */
#define ROUTERD_OTLP_BATCH 512	/* spans per export request, at most */
#define ROUTERD_OTLP_FLUSH_MS 1000
#define ROUTERD_OTLP_TIMEOUT_MS 5000	  /* per export request */
#define ROUTERD_OTLP_STOP_TIMEOUT_MS 1000 /* the last ones, at stop */
#define ROUTERD_OTLP_URL_MAX 2000

struct routerd_otlp;

/* Checks endpoint and writes the URL spans are posted to into out (cap
 * bytes; out may be NULL). Returns 0 or AF_EINVAL naming the flag. */
int routerd_otlp_url(const char *endpoint, char *out, size_t cap,
		     struct af_err *err);

/* endpoint: http(s)://HOST[:PORT][/PATH]; without a path (or "/") the
 * spans go to /v1/traces. service_id: routerd's id (service.instance.id).
 * Starts the exporter thread. Errors: AF_EINVAL (a bad URL, named),
 * AF_ENOMEM, AF_EIO. */
int routerd_otlp_new(const char *endpoint, const char *service_id,
		     struct routerd_otlp **ret, struct af_err *err);

/* Sends what is queued, stops the thread, frees. NULL is a no-op. */
void routerd_otlp_free(struct routerd_otlp *o);

/* Queues the span of one decision, which took dur_ns until now: t the
 * request's trace context (a new trace when it has none). Allocates
 * nothing; any thread; o may be NULL (export off). */
void routerd_otlp_decision(struct routerd_otlp *o,
			   const struct routerd_trace *t,
			   const struct af_request *req,
			   const struct af_decision *d, uint64_t dur_ns);

/* A decision's trace context: parses the request's headers (either may be
 * NULL) into *t, splices its trace id into the decision body[0..len)
 * (buffer of cap bytes) and queues the decision's span, begun at t0_ns
 * (monotonic), when o is not NULL. Returns the body's new length.
 * Allocates nothing. */
size_t routerd_otlp_trace(struct routerd_otlp *o, const char *traceparent,
			  const char *tracestate, struct routerd_trace *t,
			  const struct af_request *req,
			  const struct af_decision *d, char *body, size_t cap,
			  size_t len, uint64_t t0_ns);

/* The exporter's counters in Prometheus text form (nothing when o is
 * NULL). */
void routerd_otlp_metrics(struct routerd_otlp *o, struct af_textbuf *b);

/* Sends what is queued now, from the calling thread (any thread: one
 * flush runs at a time, the exporter's included). */
void routerd_otlp_flush(struct routerd_otlp *o);

#endif
