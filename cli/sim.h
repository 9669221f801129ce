/* Private to af policy simulate (cmd_simulate.c, sim_report.c). */
#ifndef AF_CLI_SIM_H
#define AF_CLI_SIM_H

#include "cli/replay.h"

#include <jansson.h>
#include <stdint.h>

#define SIM_SAMPLES 20
#define SIM_DOWN_MAX 64	  /* --down pairs or regions */
#define SIM_DOWN_MS 60000 /* how long a down pair looks cooling */
#define SIM_VIEWS_MAX 132 /* baselines and the candidate, both cohorts */

struct sim_args {
	const char *file, *baseline_file, *models;
	uint64_t baseline_rev; /* 0: each record's own */
	const char **logs;
	int nlogs;
	int64_t since_ms, until_ms; /* [since, until) */
	/* --fail-if thresholds; negative: not given */
	double fail_changed_pct, fail_cost_pct;
	int64_t fail_new_denials;
	bool fail_if;
	/* --down: REGION or MODEL@REGION, the candidate replays with them
	 * cooling down */
	char down[SIM_DOWN_MAX][2 * AF_POLICY_NAME_MAX + 2];
	int ndown;
};

struct sim_stats {
	uint64_t requests, changed, skipped, reproduced, not_reproduced;
	uint64_t model, tier, region, route_to_deny, deny_to_route, deny_code;
	int64_t cost_base, cost_cand; /* nano-USD of the routed hops */
	json_t *tiers, *den_base, *den_cand, *rules, *samples, *mismatch;
	/* --down */
	uint64_t lost_primary, residency_violations;
	json_t *residency_ids;
};

/* Pairs a --down makes cooling, by pair id of one view. */
struct sim_down_map {
	const struct af_policy_view *v;
	uint8_t *down;
};

/* One record as the replay reads it; strings borrowed from its JSON. */
struct sim_rec {
	const char *line;
	size_t len;
	const char *id;
	uint64_t revision, registry_revision;
	bool canary;
};

struct sim {
	const struct sim_args *args;
	struct rp_env env;
	struct af_request *req;
	struct af_replay_live *live;
	struct sim_stats st;
	struct sim_down_map dmap[SIM_VIEWS_MAX];
	size_t ndmap;
	struct {
		struct af_live inner;
		const uint8_t *down;
	} dctx;
	unsigned nwarn;
	char why[600];
};

int sim_parse_time(const char *s, int64_t *ret);
/* "changed_pct>X,cost_delta_pct>X,new_denials>N" into a. Returns 0 or a
 * usage exit code (printed). */
int sim_parse_fail_if(const char *expr, struct sim_args *a);
int sim_stats_init(struct sim_stats *st);
void sim_stats_free(struct sim_stats *st);
/* Counts one replayed record: baseline bd (brc AF_ENOTFOUND: unknown
 * class) against candidate cd. */
void sim_count(struct sim *s, const struct sim_rec *r,
	       const struct af_decision *bd, int brc,
	       const struct af_decision *cd, int crc);
/* Prints the summary (table, or the JSON document) and applies --fail-if.
 * Returns the exit code. */
int sim_report(struct af_cli *cli, struct sim *s);

/* sim_down.c: --down. */
int sim_parse_down(const char *v, struct sim_args *a);
/* Replaces *live (bound to v) with the same inputs plus the --down pairs
 * cooling. Returns 0 or an exit code (printed). */
int sim_down_live(struct sim *s, const struct af_policy_view *v,
		  struct af_live *live);
/* Counts what the outage did to the record: lost primaries, hops out of
 * the request's allowed regions. */
void sim_down_count(struct sim *s, const struct sim_rec *r,
		    const struct af_policy_view *cv,
		    const struct af_decision *bd, int brc,
		    const struct af_decision *cd, int crc);
json_t *sim_down_doc(const struct sim *s);
void sim_down_table(const struct sim *s);
void sim_down_free(struct sim *s);

#endif
