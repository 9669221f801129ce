/*
 * One controld node's context: everything a node owns, passed by pointer
 * (no globals), so tests can run several nodes in one process.
 *
 * Threads: the libuv loop thread runs raft, the state machine, the request
 * handlers and the publisher. NNG's own threads receive API requests (aio
 * callbacks) and hand them to the loop through a locked queue and one
 * uv_async_send per batch; the loop thread sends the replies. The HTTP
 * server's threads read the atomics in `stats` for /metrics and submit
 * /api/v1 reads to the loop through the same queue (http_call.c).
 */
#ifndef AF_CONTROLD_NODE_H
#define AF_CONTROLD_NODE_H

#include "common/cluster.h"
#include "common/metrics.h"
#include "common/sign.h"
#include "net/tls.h"
#include "controld/consensus.h"
#include "controld/fsm.h"
#include "controld/verbs.h"
#include "proto/af.pb-c.h"
#include "store/store.h"

#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>
#include <uv.h>

#define CONTROLD_API_SLOTS 64 /* requests served at once */
#define CONTROLD_MAX_REQUEST (40u * 1024 * 1024)

struct controld_job;
struct controld_slot;
struct af_auth;

/* Counters by API verb (row of the verb table, verbs.h) and result, for
 * /metrics. */
enum controld_result {
	RES_OK,
	RES_REFUSED,
	RES_NOT_LEADER,
	RES_ERROR,
	RES_COUNT
};

struct controld_stats {
	_Atomic uint64_t term, commit, applied, leader_id;
	_Atomic int is_leader, ready;
	_Atomic uint64_t api[CONTROLD_MAX_VERBS][RES_COUNT];
	struct af_histogram apply_latency; /* propose -> applied, leader */
	struct af_histogram loop_lag;	   /* loop timer drift (api.c) */
	_Atomic uint64_t hints_published, heartbeats_published;
	_Atomic uint64_t pushes_sent,
		pushes_too_large; /* hints with(out) Sync */
	_Atomic uint64_t auth_denied;
	_Atomic uint64_t replies_queued; /* behind another on its connection */
	/* Copied by the loop's 100 ms tick for /metrics (daemon.c). */
	_Atomic uint64_t leader_changes; /* leader id seen changing to non-0 */
	_Atomic uint64_t log_bytes;	 /* log appended since the snapshot */
	_Atomic uint64_t nfollowers;	 /* valid rows below (on a leader) */
	_Atomic uint64_t follower_id[AF_MAX_NODES * 2];
	_Atomic uint64_t follower_lag[AF_MAX_NODES * 2]; /* commit - match */
};

struct controld_node {
	const struct af_cluster_cfg *cfg;
	const struct af_node_cfg *self;
	uv_loop_t loop;
	uv_signal_t sigint, sigterm;
	uv_timer_t tick;   /* stats + heartbeat */
	uv_check_t ready;  /* a new leader's barrier, in the iteration it won */
	uv_async_t wakeup; /* jobs from NNG workers */
	struct af_store *store;
	struct af_auth *auth; /* NULL: auth off, every caller is admin */
	struct af_tls *tls;   /* NULL: plain TCP on api and pub */
	struct af_pubkey keys[AF_MAX_TRUSTED_KEYS]; /* signing.trusted_keys */
	size_t nkeys;
	struct af_fsm fsm;
	struct af_consensus cons;
	bool cons_started;
	bool stopping;
	/* SIGTERM on a leader: leadership goes to the most up-to-date voter
	 * first (daemon.c); the stop follows when it has a new leader, or
	 * after handoff_timer (two election timeouts). */
	bool handing_off;
	int handoff_status;	/* 1: transfer running, 0: done, <0: failed */
	uint64_t handoff_index; /* last log index when it began */
	uint64_t handoff_to;	/* the voter it goes to */
	uv_timer_t handoff_timer;
	const char *stop_why;
	int exit_code;		  /* of the process, set before stop() */
	uint64_t halted_since_ms; /* raft reported "unavailable" since */

	/* API (api.c) */
	nng_socket rep;
	struct controld_slot *slots; /* request contexts (api.c) */
	unsigned n_slots;
	pthread_t loop_tid;	       /* the thread that runs the loop */
	struct controld_slot *sending; /* replies queued (loop thread) */
	pthread_mutex_t qlock;
	struct controld_job *qhead, *qtail;
	/* Policy and model applies wait here (under qlock) for the compile
	 * thread, which compiles one at a time and queues them for the loop:
	 * a large bundle's compile holds neither an NNG callback thread nor
	 * the loop. */
	pthread_t compiler;
	pthread_cond_t ccond;
	struct controld_job *chead, *ctail;
	bool compiler_started, compiler_stop;
	uv_timer_t lag_timer;  /* measures how late the loop runs timers */
	uv_timer_t send_timer; /* polls the queued replies (api.c) */
	uint64_t lag_due_ns;

	/* publisher (pub.c) */
	nng_socket pub;
	uint64_t last_heartbeat_ms;

	/* rollout controller (controller.c) */
	bool controller_busy, controller_aborting;
	uint64_t controller_last_ms;
	bool emergency_busy;   /* an expiry entry in flight (emergency.c) */
	bool fleet_sweep_busy; /* a forget entry in flight (rollout_fleet.c) */
	uint64_t fleet_sweep_ms;
	bool shadow_busy;	      /* a shadow expiry in flight (shadow.c) */
	_Atomic uint64_t verdicts[3]; /* by enum af_verdict, this leader */
	_Atomic uint64_t auto_aborts; /* AUTO_ABORTs this leader committed */

	/* State-derived /metrics (metrics_state.c): rebuilt by the loop at
	 * most every CONTROLD_STATE_METRICS_MS, copied by HTTP threads. */
	pthread_mutex_t state_metrics_mu;
	char *state_metrics; /* owned, under state_metrics_mu */
	size_t state_metrics_len;
	uint64_t state_metrics_ms; /* loop thread */
	/* af_spend_anomaly_z (leader): the last series, rebuilt at most every
	 * CONTROLD_ANOMALY_METRICS_MS (a scan of the window's usage rows);
	 * loop thread. */
	struct af_textbuf anomaly_metrics;
	uint64_t anomaly_metrics_ms;

	/* scheduled backups (backup.c); NULL without a backup section */
	struct controld_backup *backup;

	/* HTTP (http.c) */
	struct MHD_Daemon *http;
	char *http_cert, *http_key; /* PEM for HTTPS (tls:), or NULL */

	struct controld_stats stats;
};

/* api.c */
int controld_api_start(struct controld_node *n, struct af_err *err);
void controld_api_stop(struct controld_node *n);
/* Loop thread: runs queued jobs. */
void controld_api_drain(struct controld_node *n);

/* pub.c */
int controld_pub_start(struct controld_node *n, struct af_err *err);
void controld_pub_stop(struct controld_node *n);
/* Publishes a hint (heartbeat 0) or heartbeat; index: the entry just
 * applied (0: the applied index). */
void controld_pub_hint(struct controld_node *n, int heartbeat, uint64_t index);

/* metrics_state.c: budgets per tenant (at most CONTROLD_METRIC_TENANTS),
 * the rollout and fleet counts by state, read from the store on the loop
 * thread at most every CONTROLD_STATE_METRICS_MS; the HTTP threads copy
 * the last text. */
#define CONTROLD_STATE_METRICS_MS 2000
#define CONTROLD_METRIC_TENANTS 200
#define CONTROLD_ANOMALY_METRICS_MS 60000
void controld_state_metrics_tick(struct controld_node *n, uint64_t now_mono);
void controld_state_metrics_copy(struct controld_node *n, struct af_textbuf *b);

/* http.c */
int controld_http_start(struct controld_node *n, struct af_err *err);
void controld_http_stop(struct controld_node *n);

/* controller.c */
void controld_rollout_tick(struct controld_node *n, uint64_t now_mono);
/* emergency.c: on the ready leader, proposes the expiry of overrides whose
 * time has passed. */
void controld_emergency_tick(struct controld_node *n);
/* shadow.c: on the ready leader, proposes the expiry of a shadow whose
 * duration has passed. */
void controld_shadow_tick(struct controld_node *n);
struct af_txn;
struct af_rollout;
struct af_usage;
/* Judges the running canary now; returns an af_verdict and fills the
 * per-step usage deltas. */
int controld_rollout_judge_now(struct af_txn *t, const struct af_rollout *ro,
			       struct af_usage *ret_s, struct af_usage *ret_c,
			       char *why, size_t whylen);

/* rollout_fleet.c: the live fleet against the running rollout (zero
 * counts with none). */
int controld_fleet_gate(struct af_txn *t, const struct af_rollout *ro,
			int64_t now, int64_t lost_ms, Af__FleetGate *ret);
/* On the ready leader, every few seconds: proposes that routerds unheard
 * of for fleet.forget_s leave the fleet table. */
void controld_fleet_sweep_tick(struct controld_node *n, uint64_t now_mono);

/* The API URL of node `id` from the cluster file ("" when unknown). */
const char *controld_api_url(const struct controld_node *n, uint64_t id);

#endif
