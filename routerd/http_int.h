/* Private to http.c and http_info.c: the HTTP server state and its
 * decision counters. */
#ifndef AF_ROUTERD_HTTP_INT_H
#define AF_ROUTERD_HTTP_INT_H

#include "common/metrics.h"
#include "routerd/report.h"
#include "routerd/routerd_int.h"

#include <pthread.h>

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
	_Atomic uint64_t shed;		    /* connections cut: too slow */
	_Atomic uint64_t refused_full;	    /* over the connection limit */
	struct af_histogram latency;	    /* POST /v1/route */
};

struct track;

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

/* GET /v1/status body. Returns 0 or AF_ETOOBIG. */
int http_status_json(struct routerd *r, char *buf, size_t len, size_t *ret_len);
/* GET /metrics body (b->failed on allocation failure). */
void http_metrics(struct routerd *r, struct af_textbuf *b);

#endif
