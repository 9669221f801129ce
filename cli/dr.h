/* af dr drill, private to cmd_dr.c and dr_probe.c. */
#ifndef AF_CLI_DR_H
#define AF_CLI_DR_H

#include "common/err.h"
#include "policy/policy.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DR_MAX_ROUTERD 16
#define DR_URL_MAX 256
#define DR_MAX_BODY (64 * 1024) /* routerd's own request limit */

/* Decisions asked of routerds while the drill runs, on a thread of its
 * own: POST /v1/route to each URL in turn. */
struct dr_probe {
	char urls[DR_MAX_ROUTERD][DR_URL_MAX]; /* .../v1/route */
	size_t n_urls;
	char *body; /* the request, owned */
	size_t body_len;
	/* The residency of every returned region, judged as af_decide does:
	 * the request parsed, and a view of the cluster's stable and canary
	 * bundles and registry (all owned). */
	struct af_request req;
	struct af_bundle *stable, *canary;
	struct af_registry *registry;
	struct af_policy_view *view;
	pthread_t thread;
	bool started;
	_Atomic bool stop;
	_Atomic uint64_t decisions, errors, violations;
	char last_error[256]; /* written by the thread, read after stop */
};

/* Adds a routerd base URL ("http://127.0.0.1:8080"); a list may be given
 * comma-separated. Returns 0 or an exit code (printed). */
int dr_probe_add(struct dr_probe *p, const char *urls);
struct af_cli;
/* The request body: request_file, or one built from the stable policy's
 * first class; the view its decisions are judged by (the cluster's
 * stable policy, its canary if one runs, the registry). No-op without
 * URLs. Returns 0 or an exit code (printed). */
int dr_probe_prepare(struct dr_probe *p, struct af_cli *cli,
		     const char *request_file);
/* Starts the thread (no-op without URLs). Returns 0 or an exit code. */
int dr_probe_start(struct dr_probe *p);
/* Stops and joins the thread. Accepts a probe never started. */
void dr_probe_stop(struct dr_probe *p);
void dr_probe_free(struct dr_probe *p);

/* The drill's snapshot: file (kept when keep, else a temporary file),
 * what the leader sent and what controld --verify-snapshot said. */
struct dr_snap {
	char file[PATH_MAX];
	bool keep;
	uint64_t bytes, index;
	bool verified;
	char hash[80];
	char error[640];
};

/* Takes a snapshot from the leader into s->file and runs `controld
 * --verify-snapshot` on it (controld: the binary, or NULL for the one
 * next to af, else on PATH). Returns 0 (verified or not, in s) or an exit
 * code (printed) when no snapshot could be had. */
int dr_snapshot(struct af_cli *cli, const char *controld, struct dr_snap *s);

#endif
