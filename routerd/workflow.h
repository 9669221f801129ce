/*
 * Workflow tracking: what routerd knows of every workflow_id it decided
 * for (hops, hops in flight, tokens, estimated and reported cost), in a
 * table sized once at start (--max-workflows). The least recently used
 * workflow makes room for a new one; a workflow idle for its class's
 * workflow_idle_s starts again from zero.
 *
 * Nothing here allocates after routerd_workflows_new() and nothing blocks
 * but a short per-shard mutex, so the decision path may call it. Any
 * thread may call every function.
 */
#ifndef AF_ROUTERD_WORKFLOW_H
#define AF_ROUTERD_WORKFLOW_H

#include "policy/policy.h"

#include <stdatomic.h>
#include <stdint.h>

#define ROUTERD_WORKFLOWS_DEFAULT 100000
#define ROUTERD_WORKFLOWS_MAX 10000000
/* Hops in flight tracked per workflow; the oldest makes room beyond. */
#define ROUTERD_WORKFLOW_SLOTS AF_WORKFLOW_INFLIGHT_MAX

struct routerd_workflows;

struct routerd_workflows_stats {
	_Atomic uint64_t tracked;    /* workflows in the table now */
	_Atomic uint64_t started;    /* workflows entered */
	_Atomic uint64_t evicted;    /* made room for a newer one */
	_Atomic uint64_t idled;	     /* restarted after their idle timeout */
	_Atomic uint64_t expired;    /* in-flight hops never reported */
	_Atomic uint64_t overflowed; /* in-flight hops over the slots */
};

/* A table for `max` workflows (1..ROUTERD_WORKFLOWS_MAX). Errors:
 * AF_EINVAL, AF_ENOMEM. Free with routerd_workflows_free (NULL ok). */
int routerd_workflows_new(uint32_t max, struct routerd_workflows **ret);
void routerd_workflows_free(struct routerd_workflows *t);
const struct routerd_workflows_stats *
routerd_workflows_stats(const struct routerd_workflows *t);

/* Appends the table's metrics (Prometheus text) to b: af_routerd_workflows
 * (tracked now), af_routerd_workflows_max, and the counters
 * af_routerd_workflows_started_total, _evicted_total, _idle_total,
 * af_routerd_workflow_inflight_expired_total and _overflow_total. */
struct af_textbuf;
void routerd_workflows_metrics(const struct routerd_workflows *t,
			       struct af_textbuf *b);

/* The state of workflow `id` at monotonic time now_ms (all zero when
 * unknown or idle). Hops in flight past their expiry are released. */
void routerd_workflows_state(struct routerd_workflows *t, const char *id,
			     uint64_t now_ms, struct af_workflow_state *ret);

/* Routed decision `seq` of workflow `id`: one more hop, in flight until
 * reported or ttl_ms passed, with d's estimated cost and `tokens`
 * (the request's input + output). Enters the workflow when new. */
void routerd_workflows_routed(struct routerd_workflows *t, const char *id,
			      uint64_t seq, const struct af_decision *d,
			      int64_t tokens, uint64_t ttl_ms, uint64_t now_ms);

/* Report of hop `seq` (0: not one of ours) of workflow `id`: the hop no
 * longer is in flight; its reported cost replaces its estimate and
 * `tokens` (-1: not reported) its estimated tokens. */
void routerd_workflows_reported(struct routerd_workflows *t, const char *id,
				uint64_t seq, int64_t cost_nano_usd,
				int64_t tokens, uint64_t now_ms);

#endif
