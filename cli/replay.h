/*
 * af policy simulate and af policy test: bundles, registries and views
 * loaded from files or from the cluster (replay_load.c), the replay of
 * decision logs (cmd_simulate.c, sim_report.c) and PolicyTest files
 * (cmd_ptest.c, ptest_file.c).
 */
#ifndef AF_CLI_REPLAY_H
#define AF_CLI_REPLAY_H

#include "cli/cli.h"
#include "policy/replay.h"

#include <jansson.h>

int af_cli_policy_simulate(struct af_cli *cli, int argc, char **argv);
int af_cli_policy_test(struct af_cli *cli, int argc, char **argv);

/* ------------------------------------------------------- replay_load.c */

/* A bundle and the views that decide with it over one registry: `v[0]`
 * gives every decision the stable cohort, `v[1]` (built on first use)
 * the canary cohort, so a replayed decision carries its record's cohort. */
struct rp_bundle {
	uint64_t revision;
	struct af_bundle *b;
	struct af_policy_view *v[2];
};

struct rp_env {
	struct af_cli *cli;
	struct af_registry *registry;
	uint64_t registry_revision;
	struct rp_bundle cand; /* -f, or the PolicyTest's policy */
	bool have_cand;
	/* Baselines by revision, fetched from the cluster on first use. */
	size_t nbase;
	struct rp_bundle base[64];
};

/* Reads and compiles a policy file. Returns 0 or an exit code (printed,
 * with file:line:col). */
int rp_bundle_file(const char *path, struct af_bundle **ret);
/* The registry from --models FILE, else the cluster's. Returns 0 or an
 * exit code (printed). */
int rp_registry(struct rp_env *e, const char *models_file);
/* The cluster's revision REV (0: the stable one) into *ret_b with its
 * number. Returns 0 or an exit code (printed). */
int rp_fetch_revision(struct af_cli *cli, uint64_t rev,
		      struct af_bundle **ret_b, uint64_t *ret_rev);
/* The view of rb for the cohort (building it on first use). Returns 0 or
 * an exit code (printed). */
int rp_view(struct rp_env *e, struct rp_bundle *rb, bool canary,
	    const struct af_policy_view **ret);
/* The baseline of revision rev: cached, else fetched. Returns 0 or an
 * exit code (printed). */
int rp_baseline(struct rp_env *e, uint64_t rev, struct rp_bundle **ret);
void rp_env_free(struct rp_env *e);

#endif
