/* controld daemon entry points (used by main.c and by tests that run a
 * node in-process). */
#ifndef AF_CONTROLD_CONTROLD_H
#define AF_CONTROLD_CONTROLD_H

#include "common/cluster.h"

#include <stdbool.h>
#include <stdint.h>

struct controld_opts {
	const char *config;
	uint64_t id;
	const char *restore; /* backup file to bootstrap from, or NULL */
	bool join;	     /* new node of a running cluster: no bootstrap */
};

/* Runs the node until SIGINT/SIGTERM. Returns the process exit code. */
int controld_run(const struct af_cluster_cfg *cfg,
		 const struct controld_opts *o);

#endif
