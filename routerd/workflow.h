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
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROUTERD_WORKFLOWS_DEFAULT 100000
#define ROUTERD_WORKFLOWS_MAX 10000000
/* Hops in flight tracked per workflow; the oldest makes room beyond. */
#define ROUTERD_WORKFLOW_SLOTS AF_WORKFLOW_INFLIGHT_MAX

/* Bytes of declared labels ("key=value" NUL-separated) a workflow keeps
 * from its first hop; labels beyond are dropped. A workflow's tenant,
 * class (each cut to 64 bytes) and those labels share
 * ROUTERD_WORKFLOW_WHO bytes: labels past what the names leave are
 * dropped too. */
#define ROUTERD_WORKFLOW_LABELS 192
#define ROUTERD_WORKFLOW_WHO 256

struct routerd_workflows;

/* Whose workflow: its first hop's tenant, class and declared labels. */
struct routerd_workflow_who {
	const char *tenant, *class_name;
	const char *labels; /* "key=value" strings, each NUL-terminated */
	size_t labels_len;  /* bytes of all of them */
};

enum routerd_workflow_outcome {
	ROUTERD_WORKFLOW_SUCCESS,
	ROUTERD_WORKFLOW_FAILED,
	ROUTERD_WORKFLOW_ABANDONED,
};

/* A workflow that ended: by an outcome (POST /v1/outcome), or abandoned
 * (idle past its class's workflow_idle_s, or dropped to make room). The
 * table fills hops, tokens and inference_nano from what it tracked.
 * Strings are borrowed for the callback's duration. */
struct routerd_workflow_done {
	enum routerd_workflow_outcome outcome;
	/* finished: ended by an outcome (not idle, not dropped); id: the
	 * workflow_id (NULL: unknown), so the cluster merges the parts of a
	 * workflow that several routerds saw */
	bool finished;
	const char *id;
	const char *tenant, *class_name;
	const char *labels;
	size_t labels_len;
	uint64_t hops, tokens;
	int64_t inference_nano; /* reported cost, estimates in flight */
	int64_t tool_micro, human_micro; /* outcome's own figures */
};

/* Called (under a table lock: it must not call back into the table) for
 * every workflow that ended. */
typedef void (*routerd_workflow_done_fn)(void *arg,
					 const struct routerd_workflow_done *w);

struct routerd_workflows_stats {
	_Atomic uint64_t tracked;    /* workflows in the table now */
	_Atomic uint64_t started;    /* workflows entered */
	_Atomic uint64_t evicted;    /* made room for a newer one */
	_Atomic uint64_t idled;	     /* restarted after their idle timeout */
	_Atomic uint64_t expired;    /* in-flight hops never reported */
	_Atomic uint64_t overflowed; /* in-flight hops over the slots */
	_Atomic uint64_t abandoned;  /* ended without an outcome */
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

/* The hash the table keys workflow id on (never stored beyond it). */
uint64_t routerd_workflow_hash(const char *id);

/* Sets the callback of ended workflows (once, before any other call;
 * none: they are forgotten). */
void routerd_workflows_on_done(struct routerd_workflows *t,
			       routerd_workflow_done_fn fn, void *arg);

/* Routed decision `seq` of workflow `id` of `who`: one more hop, in
 * flight until reported or ttl_ms passed, with d's estimated cost and
 * `tokens` (the request's input + output). Enters the workflow when new
 * (who is kept from its first hop). */
void routerd_workflows_routed(struct routerd_workflows *t, const char *id,
			      const struct routerd_workflow_who *who,
			      uint64_t seq, const struct af_decision *d,
			      int64_t tokens, uint64_t ttl_ms, uint64_t now_ms);

/* Report of hop `seq` (0: not one of ours) of workflow `id`: the hop no
 * longer is in flight; its reported cost replaces its estimate and
 * `tokens` (-1: not reported) its estimated tokens. */
void routerd_workflows_reported(struct routerd_workflows *t, const char *id,
				uint64_t seq, int64_t cost_nano_usd,
				int64_t tokens, uint64_t now_ms);

/* As routerd_workflows_reported, for a report that names only its
 * decision: the workflow is found by the hash of its id the decision
 * kept (routerd_workflow_hash) and the hop seq it holds. */
void routerd_workflows_reported_hash(struct routerd_workflows *t, uint64_t hash,
				     uint64_t seq, int64_t cost_nano_usd,
				     int64_t tokens, uint64_t now_ms);

/* Workflow `id` ended with outcome o (its tenant, class, labels, tool and
 * human costs; no labels: those of its first hop): the done callback
 * gets o with what the table tracked of it (nothing for a workflow it does not
 * know: then o as given, with no hops), and the workflow leaves the table. True
 * when it was known. */
bool routerd_workflows_outcome(struct routerd_workflows *t, const char *id,
			       const struct routerd_workflow_done *o,
			       uint64_t now_ms);

/* Packs the labels of kv[0..2n) (key, value, key, value...) whose key is one of
 * dims[0..ndims) into out as "key=value" strings, each NUL-terminated,
 * in the order of dims; a pair that would not fit in cap is left out.
 * Returns the bytes written. */
size_t routerd_workflow_labels(const char *const *dims, size_t ndims,
			       const char *const *kv, size_t n, char *out,
			       size_t cap);

/* Ends every workflow idle at now_ms as abandoned (the done callback)
 * and takes it out of the table. Returns how many. Walks the whole
 * table, one shard lock at a time: call it about once a second. */
size_t routerd_workflows_sweep(struct routerd_workflows *t, uint64_t now_ms);

#endif
