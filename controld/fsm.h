/*
 * The replicated state machine: applies protobuf Commands to the store.
 *
 * apply is deterministic (leader-stamped time, integer money, no clocks or
 * randomness) and never fails for a business reason: a rejected command is
 * a result, and the entry still advances the applied index and leaves an
 * audit record. Out of memory or storage I/O errors inside apply are fatal
 * to the process (restart and log replay recover).
 *
 * All functions run on the thread that drives libraft (the loop thread).
 */
#ifndef AF_CONTROLD_FSM_H
#define AF_CONTROLD_FSM_H

#include "common/hash.h"
#include "common/metrics.h"
#include "policy/override.h"
#include "proto/af.pb-c.h"
#include "store/store.h"

#include <raft.h>
#include <stdbool.h>
#include <stdint.h>

/* Result of one applied entry, valid until the next apply. */
struct af_fsm_result {
	int code; /* Af__Code */
	char message[256];
	uint64_t index;
	uint64_t revision;
	uint64_t registry_revision;
	char hash[AF_HASH_STR_LEN];
	char state[16];
	bool unchanged;
	/* lease requests */
	int64_t lease_micro;
	bool over_soft, over_hard, unlimited;
	int64_t period_end_ms;
	/* quota lease requests (controld/quota.h): per ask, the lease now
	 * held and the other routerds' leases */
	size_t n_quota;
	int64_t quota_granted[64], quota_others[64];
	/* The entry's request id was applied before: this is the result
	 * stored then, and nothing changed. */
	bool replayed;
};

/* Longest Command.request_id (bytes); the leader refuses longer ones. */
#define AF_REQUEST_ID_MAX 64
/* Results kept per request id, evicted oldest first in apply order. */
#define AF_FSM_KEEP_RESULTS 4096

typedef void (*af_fsm_applied_cb)(void *arg, uint64_t index);

/* What routerd follows, as of the last applied entry: the rollout heads
 * with their bundle hashes, the registry revision and the distribution
 * index. Apply sets it once its write transaction has committed (only
 * entries that move the distribution index change it); af_fsm_init and a
 * snapshot restore derive it from the store. The publisher builds hints
 * and heartbeats from it without opening a transaction. */
struct af_fsm_heads {
	uint64_t stable, canary;
	uint32_t weight;
	char stable_hash[AF_HASH_STR_LEN], canary_hash[AF_HASH_STR_LEN];
	uint64_t registry_revision;
	uint64_t distribution_index;
	/* The running shadow's revision (0: none) and when it expires (0:
	 * when stopped), for the leader's expiry timer. */
	uint64_t shadow;
	int64_t shadow_expires_ms;
	/* The emergency overrides in force (reasons and principals left
	 * out), sent inline in every hint and heartbeat. */
	struct af_override_set overrides;
};

struct af_fsm {
	struct raft_fsm raft_fsm; /* version 2; data points back here */
	struct raft *raft;	  /* set once raft is initialized */
	struct af_store *store;
	struct af_fsm_result result;
	struct af_fsm_heads heads;
	/* The heads before the last entry that moved them (zero after init
	 * and a snapshot restore): what a routerd that was current then
	 * holds, left out of the Sync answer a hint carries. */
	struct af_fsm_heads prev_heads;
	af_fsm_applied_cb on_applied; /* may be NULL */
	void *on_applied_arg;
	uint64_t entries_applied;	   /* count, for metrics */
	struct af_histogram apply_seconds; /* time inside each apply */
	/* Results kept per request id (AF_FSM_KEEP_RESULTS; tests may lower
	 * it). Must be the same on every node: it decides evictions. */
	uint64_t keep_results;
};

/* Initializes fsm over a borrowed, open store and reads its heads.
 * Errors: storage errors (fsm is usable, its heads zero). */
int af_fsm_init(struct af_fsm *fsm, struct af_store *store);
/* Whether a raft snapshot of this store is a compacted copy rather than a
 * view: the tables use less than a quarter of a data file of 1024 pages
 * or more (a history pruned after the file grew). */
bool af_fsm_snapshot_compacts(struct af_store *s);

/* Encodes a Command as a Raft entry payload: 4-byte little-endian length,
 * the packed message, zero padding to a multiple of 8 bytes. On success
 * *ret_buf is allocated with raft_malloc (ownership passes to raft_apply). */
int af_fsm_encode_entry(const void *cmd /* Af__Command */, void **ret_buf,
			size_t *ret_len);

/* Applies one entry payload at `index` (used by the raft_fsm callback and
 * by tests). Entries at or below the store's applied index are skipped
 * (replay after a restart). Returns 0, or a negative AF_E* code for a
 * storage failure (the caller treats that as fatal). */
int af_fsm_apply_entry(struct af_fsm *fsm, uint64_t index, const void *buf,
		       size_t len);

/* What applying cmd (Af__Command*) now would do, computed in a write
 * transaction that is then aborted: nothing changes. *ret as an apply
 * would return it (index: the next one). Errors: storage errors. */
int af_fsm_dry_run(struct af_fsm *fsm, const void *cmd,
		   struct af_fsm_result *ret);

/* The stored result of request id `id` (non-empty, at most
 * AF_REQUEST_ID_MAX bytes), with replayed set. Errors: AF_ENOTFOUND,
 * AF_EINVAL (bad id), storage errors. */
int af_fsm_lookup_result(struct af_fsm *fsm, const char *id,
			 struct af_fsm_result *ret);

/* The distribution index in t: the index of the last applied entry that
 * may have changed what routerd's Sync returns (0: none yet). */
uint64_t af_fsm_distribution_index(struct af_txn *t);

/* Fills ar and st (borrowing r's strings) from a result. */
void af_fsm_result_to_pb(const struct af_fsm_result *r, Af__ApplyResult *ar,
			 Af__Status *st);

#endif
