/*
 * routerd private declarations shared by view.c, live.c, http.c and
 * http_info.c. Not for sync.c: it uses routerd.h only.
 */
#ifndef AF_ROUTERD_ROUTERD_INT_H
#define AF_ROUTERD_ROUTERD_INT_H

#include "routerd/routerd.h"

#include <sys/socket.h>

/* Controld publishes a heartbeat every second; routerd counts itself
 * degraded after three missed ones. */
#define ROUTERD_HEARTBEAT_MS 1000
#define ROUTERD_DEGRADED_AFTER_MS (3 * ROUTERD_HEARTBEAT_MS)

struct live_lane;
struct live_pair;

/* What routerd_view_build allocates: the public view plus what the decision
 * path needs beside it. `v` comes first so a routerd_view pointer is also
 * a view_ext pointer. */
struct view_ext {
	struct routerd_view v;
	struct af_health health; /* of the stable bundle */
	uint32_t nlanes, npairs;
	/* Live slots by view lane id and pair id; filled by
	 * routerd_live_bind() at publish; NULL entries (or arrays) when
	 * there is no live state or a table is full. */
	struct live_lane **lanes;
	struct live_pair **pairs;
	/* max_inflight by view lane id, from the stable bundle (the canary's
	 * for a lane only it has); owned, NULL when out of memory. */
	int64_t *lane_max;
	/* The shadow bundle with the view's registry (NULL: no shadow),
	 * and a number no other view built by this process has, so a
	 * pointer to a view and its gen name one view for good. */
	struct af_policy_view *shadow_pv;
	uint64_t gen;
};

static inline const struct view_ext *view_ext(const struct routerd_view *v)
{
	return (const struct view_ext *)(const void *)v;
}

/* ------------------------------------------------------------ live.c */

/* Counters of the live state, read by /metrics. */
struct live_stats {
	_Atomic uint64_t routed, released, expired, evicted, reports;
	_Atomic uint64_t report_errors, cooldowns, unknown_pairs;
	_Atomic uint64_t unknown_cohort;  /* reports cooling nothing down */
	_Atomic uint64_t cooling_denials; /* MODELS_COOLING_DOWN counted */
	_Atomic uint64_t bind_full; /* lanes or pairs over the table bound */
};

/* Creates the live state and starts its expiry thread. Errors: AF_ENOMEM,
 * AF_EIO (thread). Free with routerd_live_free (any thread but the
 * deciding ones, after they stopped). */
int routerd_live_new(struct routerd_live **ret, struct af_err *err);
void routerd_live_free(struct routerd_live *l);
const struct live_stats *routerd_live_stats(const struct routerd_live *l);

/* Maps the view's lane and pair ids to live slots (creating slots for new
 * names), before the view is published. Publisher thread only. Errors:
 * AF_ENOMEM. */
int routerd_live_bind(struct routerd_live *l, struct view_ext *x);
void routerd_live_unbind(struct view_ext *x);

/* Per-decision context behind struct af_live. */
struct live_ctx {
	const struct view_ext *x;
	uint64_t now_ms;		 /* monotonic, read once per decision */
	struct routerd_budgets *budgets; /* NULL: every tenant unlimited */
	int64_t wall_ms;		 /* for budget periods */
	struct routerd_workflows *workflows; /* NULL: none tracked */
};
void routerd_live_prepare(struct live_ctx *c, const struct routerd_view *v,
			  uint64_t now_ms, struct af_live *ret);

/* Workflow signals (workflow.h): routerd_live_workflows() makes the
 * decision read workflow state from t (no-op when t is NULL); after it,
 * the routed hop and later its report update t. Any thread. */
struct routerd_report;
void routerd_live_workflows(struct live_ctx *c, struct routerd_workflows *t,
			    struct af_live *live);
/* The request's labels that v's bundle declares as showback dimensions,
 * packed into out[0..cap) (routerd_workflow_labels); returns the bytes. */
size_t routerd_live_labels(const struct routerd_view *v,
			   const struct af_request *req, char *out, size_t cap);
void routerd_live_workflow_routed(struct routerd_workflows *t,
				  const struct routerd_view *v,
				  const struct af_request *req,
				  const struct af_decision *d, uint64_t seq,
				  uint64_t now_ms);
void routerd_live_workflow_reported(struct routerd_workflows *t,
				    const struct routerd_report *rep,
				    uint64_t wf_hash, uint64_t seq,
				    int64_t cost_nano_usd, uint64_t now_ms);

/* A routed decision with sequence number `seq` (nonzero) takes one lane
 * slot until its report or its expiry. Any thread. */
void routerd_live_routed(struct routerd_live *l, const struct view_ext *x,
			 const struct af_decision *d, uint64_t seq,
			 uint64_t now_ms);
/* After a decision: while a canary runs, a MODELS_COOLING_DOWN denial
 * counts as a failed hop of its cohort's revision in r's usage (model
 * "(cooling down)", no cost), so canary analysis still sees a cohort whose
 * own failures cooled its models down. Any thread; no-op without usage. */
void routerd_live_denied(struct routerd *r, const struct routerd_view *v,
			 const struct af_request *req,
			 const struct af_decision *d);
/* How long an unreported decision holds its lane slot. */
uint64_t routerd_live_ttl_ms(int64_t latency_slo_ms);

/* Cohort of a report's decision; UNKNOWN: routerd_live_report finds it
 * from the decision's sequence number while its ring entry lasts. */
enum {
	LIVE_COHORT_UNKNOWN = 0,
	LIVE_COHORT_STABLE = 1,
	LIVE_COHORT_CANARY = 2,
};

struct live_report {
	uint64_t seq;		    /* 0: not one of ours */
	const char *model, *region; /* NULL: no health update */
	int cohort;		    /* LIVE_COHORT_* */
	bool ok;
	int64_t latency_ms; /* -1: absent */
};
/* Releases the lane slot of the decision and updates the pair's health
 * (x may be NULL before the first view). Any thread. */
void routerd_live_report(struct routerd_live *l, const struct view_ext *x,
			 const struct live_report *rep, uint64_t now_ms);

/* Releases every decision whose expiry passed (the expiry thread calls
 * it every second; tests call it with their own clock). */
void routerd_live_expire(struct routerd_live *l, uint64_t now_ms);

/* Lane in-flight counts for /metrics: calls fn for each known lane with
 * its max_inflight as last published (0: not known). */
void routerd_live_lanes(const struct routerd_live *l,
			void (*fn)(void *arg, const char *lane,
				   uint32_t inflight, int64_t limit),
			void *arg);

/* (model, region) pairs for /metrics: at most LIVE_METRIC_PAIRS of them
 * (the first known), so a scrape stays bounded. Any thread. */
#define LIVE_METRIC_PAIRS 256
struct live_pair_row {
	const char *model, *region;
	uint32_t ewma_ms;	/* 0: no latency reported yet */
	uint64_t ok, failed;	/* reports */
	uint64_t cooling_ms[2]; /* stable, canary; 0: not cooling */
};
void routerd_live_pairs(struct routerd_live *l, uint64_t now_ms,
			void (*fn)(void *arg, const struct live_pair_row *row),
			void *arg);

/* Budget hook: the tenant's budget state from routerd's leases
 * (budget.h); OK without budgets. */
enum af_budget_state routerd_budget_state(void *ctx, const char *tenant,
					  uint64_t *ret_retry_after_ms);

/* ------------------------------------------------------------ http.c */

/* Starts the HTTP API on addr (bound exactly) with `threads` polling
 * threads (epoll). Errors: AF_ENOMEM, AF_EIO (cannot listen). */
int routerd_http_start(struct routerd *r, const struct sockaddr *addr,
		       socklen_t addrlen, unsigned threads, struct af_err *err);
void routerd_http_stop(struct routerd *r);

#endif
