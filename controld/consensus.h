/*
 * Consensus: the only code that drives libraft. Wraps one `struct raft`
 * (on raft_uv in production, or an instance of libraft's raft_fixture in
 * unit tests) with what controld needs on top of it:
 *
 * - proposals whose results come back from the state machine;
 * - readiness: a new leader serves nothing until a barrier it issued in its
 *   current term has applied (libraft 0.15 caveat);
 * - linearizable read points (a barrier issued after the read arrived).
 *
 * Every function runs on the loop thread that drives raft. Callbacks are
 * never called when the function returned an error.
 */
#ifndef AF_CONTROLD_CONSENSUS_H
#define AF_CONTROLD_CONSENSUS_H

#include "common/cluster.h"
#include "common/metrics.h"
#include "controld/fsm.h"

#include <raft.h>
#include <raft/uv.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/* status: 0, AF_ENOTLEADER, AF_EUNAVAIL (leadership lost, shutting down).
 * res: the state machine's result (borrowed, valid during the call) for a
 * proposal; NULL for barriers and membership changes. */
typedef void (*af_consensus_cb)(void *arg, int status,
				const struct af_fsm_result *res);

struct af_consensus {
	struct raft *raft; /* borrowed or owned (uv) */
	struct af_fsm *fsm;
	uint64_t ready_term; /* term in which our barrier applied */
	bool barrier_inflight;
	struct af_consensus_wait *waiting; /* ops waiting for readiness */
	/* Owned only when started with af_consensus_start_uv(). */
	struct raft raft_storage;
	struct raft_io io;
	struct raft_uv_transport transport;
	bool owns_raft;
	bool closing;
	char errmsg[256];
	/* The raft_uv methods that controld wraps to see I/O failures
	 * (libraft 0.15 keeps serving after a failed disk write and never
	 * writes those entries again). */
	int (*uv_append)(struct raft_io *io, struct raft_io_append *req,
			 const struct raft_entry entries[], unsigned n,
			 raft_io_append_cb cb);
	int (*uv_snapshot_put)(struct raft_io *io, unsigned trailing,
			       struct raft_io_snapshot_put *req,
			       const struct raft_snapshot *snapshot,
			       raft_io_snapshot_put_cb cb);
	int (*uv_set_term)(struct raft_io *io, raft_term term);
	int (*uv_set_vote)(struct raft_io *io, raft_id server_id);
	int (*uv_truncate)(struct raft_io *io, raft_index index);
	/* Inbound raft connections, watched for the peer closing them (a
	 * follower that sees its leader's connection close campaigns at its
	 * next tick instead of waiting out the election timeout). */
	raft_uv_accept_cb uv_accept_cb;
	int (*uv_listen)(struct raft_uv_transport *t, raft_uv_accept_cb cb);
	struct af_peer_watch *watches;
	/* Raft addresses that are names (consensus_dns.c): raft_uv_tcp's
	 * connect and close, the resolutions under way, and per peer the
	 * address its name last resolved to. */
	int (*uv_connect)(struct raft_uv_transport *t,
			  struct raft_uv_connect *req, raft_id id,
			  const char *address, raft_uv_connect_cb cb);
	void (*uv_close)(struct raft_uv_transport *t,
			 raft_uv_transport_close_cb cb);
	raft_uv_transport_close_cb dns_close_cb;
	struct af_dns_dial *dials;
	bool dns_closing, dns_tcp_closed;
	struct af_dns_peer {
		uint64_t id;
		bool failing;
		char addr[AF_ADDR_MAX];
	} dns_peers[AF_MAX_NODES * 2];
	_Atomic uint64_t dns_failures; /* resolutions that failed */
	uv_loop_t *loop;
	uint64_t leader_gone; /* leader connections seen closing */
	uint64_t gone_id;     /* the leader whose connection closed */
	uint64_t hurry_until; /* raft time: pre-votes at every tick until */
	int io_status;	      /* first failed disk write: RAFT_* code */
	char io_error[400];   /* what failed, with libraft's reason */
	/* Followers' replication as seen by this leader (index as in the
	 * configuration): last match index and when it last moved. */
	struct {
		uint64_t id, match, since_ms;
		bool stalled;
	} peers[AF_MAX_NODES * 2];
	/* Snapshots by size as well as by count (libraft 0.15 counts
	 * entries only): bytes appended since the last snapshot, the limit,
	 * and the entry threshold the cluster file set. */
	uint64_t log_bytes, log_entries, log_bytes_max;
	/* For /metrics (read from other threads): snapshots written and
	 * failed with their duration; proposals failed and not yet
	 * answered. */
	_Atomic uint64_t snapshots, snapshot_failures;
	_Atomic uint64_t proposals_failed, proposals_pending;
	uint64_t snapshot_started_ns;
	struct af_histogram snapshot_seconds;
	/* Appends to the raft log until durable (raft_uv writes with
	 * synchronous I/O: the log's fsync latency). */
	struct af_histogram append_seconds;
	unsigned threshold, trailing;
	bool snapshot_forced;
};

/* Loop thread, every iteration: after the leader's connection closed, a
 * pre-vote candidate asks again at every raft tick (see consensus.c). */
void af_consensus_hurry(struct af_consensus *c);

/* Index of the last entry in this node's log. */
uint64_t af_consensus_last_index(struct af_consensus *c);

/* Loop thread, every tick: forgets watched connections that raft_uv closed
 * by itself. */
void af_consensus_check_watches(struct af_consensus *c);

/* Whether peer id has a raft connection open to this node (it sent
 * something and has not closed it since). */
bool af_consensus_peer_connected(struct af_consensus *c, uint64_t id);

/* On the leader: the connected voter other than this node with the highest
 * match index (0: none). */
uint64_t af_consensus_best_voter(struct af_consensus *c);

/* Attaches to an initialized, started raft instance (fixture tests). */
void af_consensus_attach(struct af_consensus *c, struct raft *r,
			 struct af_fsm *fsm);

/* Production: raft_uv with the TCP transport on `loop`, log in `dir`,
 * auto-recovery off, pre-vote on, timeouts from the cluster file. Bootstraps
 * the configuration of the cluster file on a pristine dir (unless `join`:
 * then the node waits to be added by the leader), then starts.
 * Errors: AF_EIO, AF_ECORRUPT (refuses a damaged log), AF_ENOMEM. */
int af_consensus_start_uv(struct af_consensus *c, uv_loop_t *loop,
			  const struct af_cluster_cfg *cfg, uint64_t id,
			  const char *dir, bool join, struct af_fsm *fsm,
			  struct af_err *err);
/* A disk write of raft failed (0: none so far). The reason goes to
 * *ret_msg (static storage of c). */
int af_consensus_io_error(struct af_consensus *c, const char **ret_msg);

/* On the leader, once per tick: logs a follower whose match index has not
 * moved for stall_ms while the commit index is ahead of it, and logs again
 * when it catches up. Does nothing on other roles. */
void af_consensus_watch_followers(struct af_consensus *c, uint64_t now_ms,
				  uint64_t stall_ms);

/* Closes raft (and its I/O); cb runs when everything is released. */
void af_consensus_close(struct af_consensus *c, void (*cb)(void *), void *arg);

/* Appends a Command (Af__Command*) and calls cb once applied (or failed).
 * Waits for leader readiness first. Errors: AF_ENOTLEADER, AF_ENOMEM,
 * AF_ETOOBIG. */
int af_consensus_propose(struct af_consensus *c, const void *cmd,
			 af_consensus_cb cb, void *arg);
/* On a leader that is not ready yet, issues its readiness barrier (once).
 * Otherwise does nothing. Errors: AF_ENOMEM. */
int af_consensus_make_ready(struct af_consensus *c);
/* Calls cb once every entry committed before this call has applied on this
 * leader: a linearizable read point. Errors: AF_ENOTLEADER, AF_ENOMEM. */
int af_consensus_read_barrier(struct af_consensus *c, af_consensus_cb cb,
			      void *arg);

int af_consensus_transfer(struct af_consensus *c, uint64_t to,
			  af_consensus_cb cb, void *arg);
int af_consensus_add(struct af_consensus *c, uint64_t id, const char *addr,
		     af_consensus_cb cb, void *arg);
int af_consensus_remove(struct af_consensus *c, uint64_t id, af_consensus_cb cb,
			void *arg);

/* Read-only views of the raft state. */
bool af_consensus_is_leader(struct af_consensus *c);
/* The leader's id (0: unknown). */
uint64_t af_consensus_leader(struct af_consensus *c);
/* "leader", "follower", "candidate" or "unavailable". */
const char *af_consensus_role(struct af_consensus *c);
uint64_t af_consensus_term(struct af_consensus *c);
uint64_t af_consensus_commit_index(struct af_consensus *c);
uint64_t af_consensus_applied_index(struct af_consensus *c);
/* Leader and ready (its barrier for this term applied). */
bool af_consensus_ready(struct af_consensus *c);
/* Voters in the current configuration (ids into ret, at most max). */
unsigned af_consensus_voters(struct af_consensus *c, uint64_t *ret,
			     unsigned max);

/* One server of the current Raft configuration; raft is borrowed from
 * libraft (valid until the loop runs again), role is voter, standby or
 * spare. */
struct af_consensus_member {
	uint64_t id;
	const char *raft;
	const char *role;
};
/* The current configuration (at most max servers into ret). */
unsigned af_consensus_members(struct af_consensus *c,
			      struct af_consensus_member *ret, unsigned max);

/* What the FSM's raft_fsm callbacks need of libraft, so that every libraft
 * call stays in consensus.[ch]: entry buffers (libraft owns and frees
 * them), the index being applied, and the codes a callback returns. */
#define AF_CONSENSUS_NOMEM RAFT_NOMEM
#define AF_CONSENSUS_CORRUPT RAFT_CORRUPT
#define AF_CONSENSUS_BUSY RAFT_BUSY

static inline void *af_consensus_buf_alloc(size_t size)
{
	return raft_malloc(size);
}

static inline void af_consensus_buf_free(void *p)
{
	raft_free(p);
}

/* The index of the entry being applied (0 before raft is initialized). */
static inline uint64_t af_consensus_applying_index(struct raft *r)
{
	return r != NULL ? raft_last_applied(r) + 1 : 0;
}

#endif
