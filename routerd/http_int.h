/* Private to http.c, http_conns.c, http_info.c and http_outcome.c: the HTTP
 * server state and its decision counters. */
#ifndef AF_ROUTERD_HTTP_INT_H
#define AF_ROUTERD_HTTP_INT_H

#include "common/metrics.h"
#include "routerd/report.h"
#include "routerd/routerd_int.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <microhttpd.h>

/* Distinct tiers and deny/error codes counted by name; more share the
 * "other" row. */
#define HTTP_LABELS 64
#define HTTP_LABEL_LEN 64

struct label_tab {
	pthread_mutex_t mu; /* writers only; readers scan up to n */
	_Atomic uint32_t n;
	char names[HTTP_LABELS][HTTP_LABEL_LEN];
};

struct http_stats {
	struct label_tab tiers, codes;
	_Atomic uint64_t route[HTTP_LABELS + 1][2]; /* tier, cohort */
	_Atomic uint64_t degraded[2];		    /* cohort */
	_Atomic uint64_t deny[HTTP_LABELS + 1][2];  /* code, cohort */
	_Atomic uint64_t error[HTTP_LABELS + 1];    /* code */
	_Atomic uint64_t reports;		    /* accepted (202) */
	_Atomic uint64_t reports_unmatched; /* accepted, decision unknown */
	_Atomic uint64_t outcomes;	    /* POST /v1/outcome accepted */
	_Atomic uint64_t fallbacks[2];	    /* served by a fallback: cohort */
	_Atomic uint64_t shed;		    /* connections cut: too slow */
	_Atomic uint64_t refused_full;	    /* over the connection limit */
	struct af_histogram latency;	    /* POST /v1/route */
};

/* Connections: as many as RLIMIT_NOFILE allows (raised to its hard limit),
 * less HTTP_FD_RESERVE for routerd's other files, at most HTTP_CONN_MAX.
 * A connection gets HTTP_REQUEST_TIMEOUT_S to send each complete request
 * (from its opening or its previous answer), then it is closed; only
 * HTTP_CROWDED_TIMEOUT_MS when routerd is close to its limit. */
#define HTTP_CONN_MAX 65536u
#define HTTP_FD_RESERVE 256u
#define HTTP_REQUEST_TIMEOUT_S 10
#define HTTP_CROWDED_TIMEOUT_MS 1000 /* over 7/8 of the limit open */

enum phase { PH_WAIT, PH_BODY, PH_ANSWER };

/* One per open connection (MHD's socket context): small, so idle
 * connections cost little; the request buffers come with the first
 * request. */
struct track {
	struct track *prev, *next; /* h->tracks, under h->track_mu */
	int fd;
	bool shut;
	_Atomic int phase;	   /* enum phase */
	_Atomic uint64_t since_ms; /* monotonic start of the phase */
	struct conn *k;
};

/* Monotonic milliseconds from the kernel's tick-resolution clock (a few
 * ms coarse, no counter read): enough for deadlines of seconds, and three
 * phase changes per request make it the most frequent clock call. */
static inline uint64_t coarse_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline void phase_set(struct track *t, enum phase p)
{
	atomic_store_explicit(&t->since_ms, coarse_ms(), memory_order_relaxed);
	atomic_store_explicit(&t->phase, (int)p, memory_order_relaxed);
}

struct routerd_http {
	struct routerd *r;
	struct MHD_Daemon *d;
	_Atomic uint64_t seq; /* decision sequence: ids and lane slots */
	char prefix[ROUTERD_ID_MAX + 2]; /* "<id>-" */
	size_t prefix_len;
	_Atomic int conns;   /* open connections */
	unsigned conn_limit; /* MHD's limit, from RLIMIT_NOFILE */
	struct routerd_decisions *decisions; /* report attribution */
	struct http_stats stats;
	/* Open connections, for the reaper thread that cuts those too slow
	 * to send a request (slowloris) or idle too long. */
	pthread_mutex_t track_mu;
	struct track *tracks;
	pthread_t reaper;
	pthread_cond_t reaper_cond;
	bool reaper_stop, reaper_started;
};

int http_stats_init(struct http_stats *s);
void http_stats_fini(struct http_stats *s);
void http_count_decision(struct http_stats *s, const struct af_decision *d);
void http_count_error(struct http_stats *s, const char *code);
/* An accepted report of decision a (cohort LIVE_COHORT_*): counted, and
 * counted as a fallback activation when the model or region it reports
 * is not the decision's primary. */
void http_count_report(struct http_stats *s, const struct routerd_report *rep,
		       const struct routerd_decision_rec *a, int cohort);

/* http_conns.c: the open-file limit raised and the connections it allows;
 * the reaper thread (arg: the struct routerd_http) that cuts connections
 * too slow to send a request. */
unsigned http_conn_limit(void);
void *http_reaper_main(void *arg);

/* http_outcome.c: POST /v1/outcome (its answer written into out[0..cap),
 * which must live until it is sent). */
enum MHD_Result http_outcome(struct routerd_http *h, struct MHD_Connection *c,
			     const char *body, size_t len, bool too_big,
			     char *out, size_t cap);
/* http_quota.c: the quota and budget reservations of decision d (seq),
 * after the policy decided it; and the reply of every answer (d: the
 * decision, for its X-AF-Quota-* headers, or NULL). */
struct MHD_Connection;
void http_admit_hop(struct routerd *r, const struct routerd_view *v,
		    const struct live_ctx *lc, const struct af_request *req,
		    uint64_t seq, struct af_decision *d);
enum MHD_Result http_reply(struct MHD_Connection *c, unsigned status,
			   const char *type, const char *body, size_t len,
			   const char *allow, const struct af_decision *d);

/* GET /v1/status body. Returns 0 or AF_ETOOBIG. */
int http_status_json(struct routerd *r, char *buf, size_t len, size_t *ret_len);
/* GET /metrics body (b->failed on allocation failure). */
void http_metrics(struct routerd *r, struct af_textbuf *b);

#endif
