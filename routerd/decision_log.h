/*
 * routerd's decision log: one JSON line per sampled decision, written by a
 * thread of its own so that the decision path never waits for the disk.
 *
 * The deciding thread renders the record into a thread-local buffer and
 * copies it into a bounded byte queue of its own (lock-free: the thread
 * writes, the writer reads; threads past DLOG_PRODUCERS - 1 share the last
 * queue under a mutex); a record that does not fit is dropped and counted. The
 * writer thread takes what the ring holds, appends it to DIR/decisions-<UTC
 * yyyymmddThhmmss>-<n>.jsonl, starts a new file once the current one
 * would pass max_bytes, keeps the newest `keep` files, and remembers the
 * last DLOG_RECENT records for GET /v1/decisions/ID.
 */
#ifndef AF_ROUTERD_DECISION_LOG_H
#define AF_ROUTERD_DECISION_LOG_H

#include "common/err.h"
#include "common/metrics.h"
#include "policy/replay.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DLOG_RECENT 10240	  /* records GET /v1/decisions/ID finds */
#define DLOG_PRODUCERS 8	  /* threads with a queue of their own */
#define DLOG_QUEUE (4u << 20)	  /* bytes queued per producing thread */
#define DLOG_LINE_MAX (24u << 10) /* one record; longer ones are dropped */
#define DLOG_MAX_MB_LIMIT 65536
#define DLOG_KEEP_LIMIT 10000
#define ROUTERD_DLOG_ID_JSON 1024 /* the routerd id as a JSON string */

struct routerd_dlog;

struct routerd_dlog_config {
	const char *dir;
	const char *routerd; /* routerd id, for every record */
	uint64_t max_bytes;  /* per file */
	unsigned keep;	     /* files kept, the current one included */
	bool no_writer;	     /* tests: no thread, routerd_dlog_flush writes */
};

/* Creates dir when missing, checks it is writable, opens the first file
 * and starts the writer thread. Errors: AF_EIO (with the path and cause),
 * AF_ENOMEM. Free with routerd_dlog_free (flushes what is queued). */
int routerd_dlog_new(const struct routerd_dlog_config *cfg,
		     struct routerd_dlog **ret, struct af_err *err);
void routerd_dlog_free(struct routerd_dlog *l);

/* Everything a record holds; borrowed for the call. */
struct routerd_dlog_rec {
	uint64_t seq;
	int64_t wall_ms;
	const struct af_request *req;
	const char *const *mask;
	size_t nmask;
	const struct af_decision *d;
	const char *body; /* the exact response body */
	size_t body_len;
	const struct af_live_rec *live;
	const char *trace_id; /* NULL: none */
};

/* Whether decision seq is logged at a rate of ppm parts per million
 * (deterministic in seq). */
bool routerd_dlog_sampled(uint64_t seq, uint32_t ppm);

/* The trace id of a request: the W3C traceparent header's trace id, else
 * the X-Trace-Id header when it is 1 to ROUTERD_TRACE_MAX characters of
 * [A-Za-z0-9._:-] (either may be NULL). Returns out, or NULL: none. */
#define ROUTERD_TRACE_MAX 64
const char *routerd_dlog_trace_id(const char *traceparent, const char *xtrace,
				  char out[ROUTERD_TRACE_MAX + 1]);

/* Renders r as its JSON line into buf (no allocation; decision_id is
 * "<routerd id>-<16 hex digits of seq>", id_json the routerd id as a JSON
 * string). Returns the line's length, or 0 when it does not fit in cap. */
size_t routerd_dlog_render(const char *id_json, size_t id_json_len,
			   const struct routerd_dlog_rec *r, char *buf,
			   size_t cap);

/* Queues one record. Never blocks on I/O and allocates nothing; a record
 * that does not fit is dropped and counted. Any thread. */
void routerd_dlog_put(struct routerd_dlog *l, const struct routerd_dlog_rec *r);

/* Copies the record of decision seq, when one of the last DLOG_RECENT
 * written, into a new buffer (*ret, af_free). Returns 0, AF_ENOTFOUND or
 * AF_ENOMEM. Any thread. */
int routerd_dlog_get(struct routerd_dlog *l, uint64_t seq, char **ret,
		     size_t *ret_len);

/* Writes the log's counters in Prometheus text form. */
void routerd_dlog_metrics(struct routerd_dlog *l, struct af_textbuf *b);

/* The writer's work, for tests: writes what is queued now. */
void routerd_dlog_flush(struct routerd_dlog *l);

#endif
