/*
 * Canary rollouts: the rollout record, per-revision usage totals, and the
 * pure gate judgement the leader's controller applies every interval.
 * Storage helpers run inside store transactions on the loop thread.
 */
#ifndef AF_CONTROLD_ROLLOUT_H
#define AF_CONTROLD_ROLLOUT_H

#include "common/metrics.h"
#include "proto/af.pb-c.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AF_MAX_STEPS 16

struct af_usage {
	uint64_t count, ok;
	uint64_t lat[AF_USAGE_BUCKETS];
	uint64_t lat_sum_ms;
	int64_t cost_nano, ok_cost_nano;
	uint64_t q_count, q_sum_ppm; /* outcomes that carried a quality */
};

struct af_gates {
	int64_t max_error_delta_ppm;   /* 0: off */
	int64_t max_latency_ratio_ppm; /* 0: off */
	int64_t max_cost_ratio_ppm;    /* 0: off */
	uint64_t min_samples;
	uint32_t require_fleet_pct;   /* 0: off */
	uint32_t max_nack_pct;	      /* 0: off */
	int64_t max_quality_drop_ppm; /* 0: off */
};

struct af_rollout {
	uint64_t stable, canary; /* revisions; canary 0: none */
	uint32_t weight;	 /* percent */
	bool paused;
	uint32_t steps[AF_MAX_STEPS];
	size_t nsteps;
	int32_t step_index; /* -1: no steps (manual weight) */
	uint64_t interval_ms;
	int64_t step_started_ms, started_ms;
	struct af_gates gates;
	struct af_usage stable_base, canary_base;
	char verdict[200];
	bool fleet_waiting; /* the step's interval waits for the fleet */
	int64_t fleet_waiting_since_ms;
};

/* The rollout record (zeroed, step_index -1, when absent). */
int af_rollout_get(struct af_txn *t, struct af_rollout *ret);
int af_rollout_put(struct af_txn *t, const struct af_rollout *r);
/* "none", "progressing" or "paused". */
const char *af_rollout_state(const struct af_rollout *r);

/* Cumulative usage of a revision (zero when none). */
int af_usage_get(struct af_txn *t, uint64_t revision, struct af_usage *ret);
int af_usage_put(struct af_txn *t, uint64_t revision, const struct af_usage *u);
/* Fills pb from u; pb borrows u's arrays (u must outlive pb). */
void af_usage_to_pb(const struct af_usage *u, Af__UsageTotals *pb);
/* out = now - base, field by field. */
void af_usage_sub(const struct af_usage *now, const struct af_usage *base,
		  struct af_usage *out);
/* p-th percentile (p in 1..100) latency in ms from the buckets: the upper
 * bound of the bucket holding it (the last finite bound for +Inf). */
uint64_t af_usage_percentile_ms(const struct af_usage *u, unsigned p);

/* Mean quality in ppm (0..1e6), -1 with no quality reported. */
int64_t af_usage_quality_ppm(const struct af_usage *u);

enum af_verdict { AF_VERDICT_HOLD, AF_VERDICT_PASS, AF_VERDICT_BREACH };

/* Judges the canary against the stable cohort since the step started
 * (deltas already taken). Pure. why: a one-line explanation. */
enum af_verdict af_rollout_judge(const struct af_gates *g,
				 const struct af_usage *stable,
				 const struct af_usage *canary, char *why,
				 size_t whylen);

#endif
