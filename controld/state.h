/*
 * The replicated schema: typed accessors for the records apply writes and
 * the readers (handlers, publisher, rollout controller) read, so no table
 * key or meta name is spelled outside state.c.
 *
 * Every function takes an open transaction (store/store.h) and returns 0
 * or a negative AF_E* code; *ret messages are owned by the caller
 * (protobuf_c_message_free_unpacked).
 */
#ifndef AF_CONTROLD_STATE_H
#define AF_CONTROLD_STATE_H

#include "proto/af.pb-c.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

/* Revisions, keyed by number. Errors: AF_ENOTFOUND, storage errors. */
int af_state_revision_get(struct af_txn *t, uint64_t rev, Af__Revision **ret);
int af_state_revision_put(struct af_txn *t, const Af__Revision *r);
/* Like af_state_revision_get, but rev 0 or an absent revision is 0 with
 * *ret NULL. */
int af_state_revision_find(struct af_txn *t, uint64_t rev, Af__Revision **ret);
/* The hash of revision rev into out: "" when rev is 0 or absent (0),
 * and after a storage error (returned). */
int af_state_revision_hash(struct af_txn *t, uint64_t rev, char *out,
			   size_t outlen);
/* The newest policy revision number handed out (0: none yet). */
uint64_t af_state_policy_revision(struct af_txn *t);
int af_state_set_policy_revision(struct af_txn *t, uint64_t rev);

/* The one rollout record (stable and canary heads, steps, gates).
 * Errors: AF_ENOTFOUND (nothing applied yet), storage errors. */
int af_state_rollout_get(struct af_txn *t, Af__Rollout **ret);
int af_state_rollout_put(struct af_txn *t, const Af__Rollout *ro);

/* The running canary's history (*ret NULL, and 0, when none). */
int af_state_rollout_history_get(struct af_txn *t, Af__RolloutHistory **ret);
int af_state_rollout_history_put(struct af_txn *t, const Af__RolloutHistory *h);

/* The emergency override set: *ret NULL (and 0) when none was ever set. */
int af_state_overrides_get(struct af_txn *t, Af__OverrideSet **ret);
int af_state_overrides_put(struct af_txn *t, const Af__OverrideSet *s);

/* Whether the bundle of this hash is stored (false once the history
 * retention pruned it). */
bool af_state_bundle_stored(struct af_txn *t, const char *hash);
/* The shadow record (*ret NULL, and 0, when none was ever started), and
 * the agreement totals of a shadow hash (*ret NULL when none). */
int af_state_shadow_get(struct af_txn *t, Af__Shadow **ret);
int af_state_shadow_put(struct af_txn *t, const Af__Shadow *s);
int af_state_shadow_totals_get(struct af_txn *t, const char *hash,
			       Af__ShadowTotals **ret);
int af_state_shadow_totals_put(struct af_txn *t, const char *hash,
			       const Af__ShadowTotals *st);
int af_state_shadow_totals_del(struct af_txn *t, const char *hash);

/* The heads routerd follows: the rollout's revisions, unpacked. */
struct af_state_heads {
	uint64_t stable, canary;
	uint32_t weight;
	Af__Revision *stable_rev, *canary_rev; /* owned; NULL when none */
};

/* Fills h (zeroed when no rollout exists); free with af_state_heads_free,
 * also after an error. */
int af_state_heads_read(struct af_txn *t, struct af_state_heads *h);
void af_state_heads_free(struct af_state_heads *h);

/* The model registry's revision, bumped by every registry change. */
uint64_t af_state_registry_revision(struct af_txn *t);
int af_state_set_registry_revision(struct af_txn *t, uint64_t rev);

/* Showback rows (usage table), one per day, tenant, class, model and
 * revision. af_showback_key writes the key into out and returns its length
 * (0: it does not fit in len). */
size_t af_showback_key(int64_t day_ms, const char *tenant, const char *cls,
		       const char *model, uint64_t rev, uint8_t *out,
		       size_t len);
/* A showback key's parts; they point into the key. Labels follow the
 * revision: nlabels (key, value) pairs, each NUL-terminated (keys of
 * rows without labels end at the revision). */
struct af_showback_key {
	int64_t day_ms;
	const char *part[3]; /* tenant, class, model: not NUL-terminated */
	size_t len[3];
	uint64_t revision;
	size_t nlabels;
	const char *label[4][2];
};
/* 0, or AF_ECORRUPT for a key that is not a showback key. */
int af_showback_key_parse(const void *key, size_t klen,
			  struct af_showback_key *ret);
/* Workflow rows (usage table, fsm_workflow.c): per day, tenant, class and
 * declared labels. A label key keeps AF_SHOWBACK_VALUES_MAX distinct
 * values a day; the rest count as "other". */
#define AF_SHOWBACK_VALUES_MAX 1000
/* 0 when value `val` of label key[0..klen) is (now) one of the day's
 * first AF_SHOWBACK_VALUES_MAX, 1 when it is to count as "other"; <0 an
 * error. Values are counted per day across hop and workflow rows. */
int af_showback_value_counted(struct af_txn *t, int64_t day, const char *key,
			      size_t klen, const char *val);
/* A workflow row key's parts, pointing into the key: tenant, class, then
 * nlabels (key, value) pairs; all NUL-terminated inside the key. */
struct af_workflow_key {
	int64_t day_ms;
	const char *tenant, *class_name;
	size_t nlabels;
	const char *label[4][2];
};
/* 0, or AF_ECORRUPT for a key that is not a workflow row key. */
int af_workflow_key_parse(const void *key, size_t klen,
			  struct af_workflow_key *ret);
/* Adds row r into `to` (counts, money, min and max of success costs) and
 * its success buckets into hist[AF_COSTHIST_BUCKETS]. to starts zeroed
 * with success_min_micro -1. */
void af_workflow_sum(Af__WorkflowRow *to, const Af__WorkflowRow *r,
		     uint64_t *hist);
/* The usage table's rows under `prefix` (3 bytes, then the day) of the
 * days in [since_ms, until_ms) (0: no bound); `end`: the 3 bytes right
 * after prefix. Same contract as af_txn_iter_range. */
int af_usage_iter_days(struct af_txn *t, const char *prefix, const char *end,
		       int64_t since_ms, int64_t until_ms, af_store_iter_fn fn,
		       void *arg);
/* As af_showback_iter, over the workflow rows. */
int af_workflow_iter(struct af_txn *t, int64_t since_ms, int64_t until_ms,
		     af_store_iter_fn fn, void *arg);

/* Calls fn for every showback row of the days starting at or after
 * since_ms (0: all) and before until_ms (0: no end), in key order, by a
 * cursor seek (the day leads the key). Same contract as
 * af_txn_iter_range. */
int af_showback_iter(struct af_txn *t, int64_t since_ms, int64_t until_ms,
		     af_store_iter_fn fn, void *arg);

#endif
