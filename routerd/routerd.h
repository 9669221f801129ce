/*
 * routerd: the stateless decision sidecar.
 *
 * Parts and who calls whom:
 * - view.c: immutable "views" (stable + canary bundle, weight, registry,
 *   compiled into an af_policy_view). The sync side publishes a new view;
 *   the decision path acquires the current one without taking any lock
 *   shared with sync; old views are freed only after every reader left.
 * - sync.c, cache.c: subscribes to every controld's hints, pulls changes
 *   with Sync, verifies hashes, builds and publishes views, persists the
 *   last good view under --cache and serves it at start, reports what it
 *   applied (ACK) or rejected (NACK) to controld.
 * - http.c, live.c: the HTTP API and live signals.
 *
 * One `struct routerd` per process (tests may run several): no globals.
 */
#ifndef AF_ROUTERD_ROUTERD_H
#define AF_ROUTERD_ROUTERD_H

#include "common/cluster.h"
#include "common/hash.h"
#include "policy/policy.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROUTERD_ID_MAX 128

/* An immutable view. Built off the hot path; never modified once
 * published. */
struct routerd_view {
	struct af_policy_view *pv;
	uint64_t state_index; /* controld applied index it reflects */
	uint64_t stable_revision, canary_revision, registry_revision;
	char stable_hash[AF_HASH_STR_LEN];
	char canary_hash[AF_HASH_STR_LEN]; /* "" without canary */
	uint32_t canary_weight;		   /* percent 0..100 */
	int64_t activated_ms;		   /* wall clock, for view age */
	/* The canonical bytes it was built from (persisted, and offered as
	 * cached hashes in the next Sync). Owned. */
	uint8_t *stable_bytes, *canary_bytes, *registry_bytes;
	size_t stable_len, canary_len, registry_len;
	/* The shadow bundle evaluated beside the stable one on a sample of
	 * requests (shadow.h), never served; revision 0: none. */
	uint64_t shadow_revision;
	char shadow_hash[AF_HASH_STR_LEN];
	uint32_t shadow_sample_pct; /* 1..100 */
	int64_t shadow_expires_ms;  /* wall ms; 0: until stopped */
	uint8_t *shadow_bytes;	    /* owned */
	size_t shadow_len;
};

/* Sync and connection state, read by /v1/status and /metrics. */
struct routerd_sync_stats {
	_Atomic int connected;	      /* a controld answered the last Sync */
	_Atomic int64_t last_sync_ms; /* wall ms of the last good Sync; 0 */
	_Atomic uint64_t syncs, sync_errors, nacks, views_published;
	_Atomic uint64_t hints_received;
	_Atomic uint64_t pushes;   /* Sync answers taken from a hint */
	_Atomic uint64_t connects; /* connections to controld established */
};

struct routerd_sync;	  /* private to sync.c */
struct routerd_viewslot;  /* private to view.c */
struct routerd_live;	  /* private to live.c */
struct routerd_http;	  /* private to http.c */
struct routerd_dlog;	  /* decision_log.h */
struct routerd_workflows; /* workflow.h */
struct routerd_quotas;	  /* quota.h */
struct routerd_otlp;	  /* otlp.h */
struct routerd_shadow;	  /* shadow.h */

struct routerd {
	const struct af_cluster_cfg *cfg;
	char id[ROUTERD_ID_MAX];
	const char *cache_dir; /* NULL: no persistence */
	const char *token;     /* API token (AF_TOKEN_FILE, AF_TOKEN); NULL */
	/* view.c */
	_Atomic(struct routerd_view *) current;
	struct routerd_viewslot *slots;
	/* sync.c (created by routerd_sync_start when NULL) */
	struct routerd_sync *sync;
	struct routerd_usage *usage;	 /* usage.h: record outcomes here */
	struct routerd_budgets *budgets; /* budget.h: tenant leases */
	struct routerd_sync_stats sync_stats;
	/* live.c (NULL: no live signals; views then carry no live slots) */
	struct routerd_live *live;
	/* http.c */
	struct routerd_http *http;
	/* decision_log.c (NULL: no decision log) */
	struct routerd_dlog *dlog;
	/* workflow.c (NULL: workflows are not tracked) */
	struct routerd_workflows *workflows;
	/* quota.c (NULL: quotas are not enforced) */
	struct routerd_quotas *quotas;
	/* otlp.c (NULL: no span export) */
	struct routerd_otlp *otlp;
	/* shadow.c (NULL: shadows are not evaluated) */
	struct routerd_shadow *shadow;
	/* override.c: the emergency overrides enforced (created by
	 * routerd_sync_start), from hints and from override_file. */
	const char *override_file; /* NULL: none */
	struct routerd_overrides *overrides;
};

/* ------------------------------------------------------------ view.c */

/* Sets up r->current and the reader slots (before any publish/acquire).
 * Errors: AF_ENOMEM. routerd_views_fini frees the current view and the
 * slots; no reader may be left. */
int routerd_views_init(struct routerd *r, struct af_err *err);
void routerd_views_fini(struct routerd *r);

/* Builds a view from canonical bytes: verifies each hash against
 * "sha256:" of its bytes, loads (validates) the bundles and registry, and
 * compiles the policy view. canary may be NULL/0. Copies the bytes.
 * Errors: AF_ECORRUPT (hash mismatch, invalid bundle), AF_ENOMEM. */
int routerd_view_build(uint64_t state_index, uint64_t stable_revision,
		       const char *stable_hash, const void *stable,
		       size_t stable_len, uint64_t canary_revision,
		       const char *canary_hash, const void *canary,
		       size_t canary_len, uint32_t canary_weight,
		       uint64_t registry_revision, const void *registry,
		       size_t registry_len, struct routerd_view **ret,
		       struct af_err *err);
void routerd_view_free(struct routerd_view *v);
/* Adds the shadow bundle to a view not yet published: verifies its hash,
 * loads it and compiles it with the view's registry into a view of its
 * own. Copies the bytes. Errors: AF_ECORRUPT, AF_ENOMEM. */
int routerd_view_set_shadow(struct routerd_view *v, uint64_t revision,
			    const char *hash, const void *bytes, size_t len,
			    uint32_t sample_pct, int64_t expires_ms,
			    struct af_err *err);

/* Makes v current (ownership passes to r). Refuses a view older than the
 * current one, judged by state_index only (a rollback legitimately makes a
 * lower revision number stable): returns AF_ECONFLICT and frees v. The previous
 * view is freed once no reader holds it. Any thread; one publisher at a time.
 */
int routerd_view_publish(struct routerd *r, struct routerd_view *v);
/* The current view (NULL before the first publish), for the duration of
 * one request; pair with routerd_view_release on the same thread.
 * Lock-free; any thread. */
const struct routerd_view *routerd_view_acquire(struct routerd *r);
void routerd_view_release(struct routerd *r, const struct routerd_view *v);

/* ------------------------------------------------------ sync.c, cache.c */

/* Loads the persisted view from r->cache_dir (if any) and publishes it,
 * then starts following the cluster in a background thread. Returns 0
 * even when no controld answers (routerd serves its cache meanwhile).
 * Errors: AF_ENOMEM, AF_EIO (sockets). */
int routerd_sync_start(struct routerd *r, struct af_err *err);
void routerd_sync_stop(struct routerd *r);

#endif
