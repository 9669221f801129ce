/* Private to the state machine: fsm.c (dispatch, entry framing, results
 * by request id, audit, raft_fsm callbacks) and the apply code it
 * delegates to, one file per concern: fsm_policy.c, fsm_rollout.c,
 * fsm_models.c, fsm_fleet.c, fsm_usage.c, fsm_override.c, budget.c. */
#ifndef AF_CONTROLD_FSM_INT_H
#define AF_CONTROLD_FSM_INT_H

#include "controld/fsm.h"
#include "proto/af.pb-c.h"

/* One entry being applied. */
struct apply_ctx {
	struct af_fsm *fsm;
	const Af__Command *cmd;
	uint64_t index;
	struct af_fsm_result *res;
	const char *verb; /* audit verb; NULL: no audit record */
	bool dry_run;	  /* af_fsm_dry_run: the transaction is aborted */
	char target[160];
	/* The heads after this entry, set when it moved the distribution
	 * index; they become fsm->heads once the transaction commits. */
	bool moved;
	struct af_fsm_heads heads;
};

void af_fsm_resultf(struct af_fsm_result *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Unpacks a message inside apply through the failing allocator: NULL only
 * for bytes that do not decode, which every node sees alike. Running out of
 * memory is this node's trouble and must not become a refusal the others
 * do not make: it is logged and the process aborts (a restart replays the
 * log). Free with protobuf_c_message_free_unpacked(m, NULL). */
void *af_fsm_unpack(const ProtobufCMessageDescriptor *desc, size_t len,
		    const void *data);

struct af_rollout;

/* Every apply below: 0 (a refusal is a result in c->res), or a storage
 * error. */

/* fsm_policy.c */
int af_fsm_apply_policy(struct af_txn *t, struct apply_ctx *c);
int af_fsm_apply_rollback(struct af_txn *t, struct apply_ctx *c);
/* Sets the state of revision `rev` (if it exists). */
int af_fsm_set_revision_state(struct af_txn *t, uint64_t rev,
			      const char *state);

/* fsm_rollout.c */
int af_fsm_apply_rollout(struct af_txn *t, struct apply_ctx *c);
/* Starts the step timer: the gates judge usage from here on. */
int af_fsm_start_step(struct af_txn *t, struct af_rollout *ro, int64_t now);
/* Clears the canary part of ro: all traffic on stable. */
void af_fsm_end_canary(struct af_rollout *ro);

/* The revision record of pa as revision rev, applied by c (strings
 * borrowed; the state is the caller's). */
void af_fsm_revision_of(const struct apply_ctx *c, const Af__PolicyApply *pa,
			uint64_t rev, Af__Revision *r);
/* fsm_history.c: stores the bundle of c's PolicyApply under its hash
 * (once per content) for new revision rev, and applies the entry's
 * history retention (af_fsm_history_prune). */
int af_fsm_store_bundle(struct af_txn *t, const struct apply_ctx *c,
			uint64_t rev);
/* Deletes up to AF_HISTORY_PRUNE_MAX bundles, oldest first, whose newest
 * revision is not among the newest `keep` up to revision `newest` (keep 0:
 * no limit by count) or was made before before_ms (0: no limit by age),
 * except those of the stable, canary and running shadow revisions. The
 * revision records stay. *ret_pruned (may be NULL): how many. 0 or a
 * storage error. */
#define AF_HISTORY_PRUNE_MAX 256
int af_fsm_history_prune(struct af_txn *t, uint64_t newest, uint32_t keep,
			 int64_t before_ms, size_t *ret_pruned);

/* fsm_shadow.c: shadow start (a PolicyApply with shadow set, while
 * `stable` is the stable revision), stop and expiry (audited); the shadow
 * rows of a usage report; the agreement a canary start requires
 * (1: refused, result set). */
int af_fsm_apply_shadow_start(struct af_txn *t, struct apply_ctx *c,
			      uint64_t stable);
int af_fsm_apply_shadow_stop(struct af_txn *t, struct apply_ctx *c);
int af_fsm_apply_shadow_usage(struct af_txn *t, const Af__UsageReport *ur);
int af_fsm_check_shadow(struct af_txn *t, struct apply_ctx *c,
			const Af__PolicyApply *pa);

/* rollout_history.c: a point of the running canary's history, when the
 * last is spacing_ms older than the entry (at_ms). */
int af_fsm_rollout_history_apply(struct af_txn *t, int64_t at_ms);

/* fsm_models.c */
int af_fsm_apply_models(struct af_txn *t, struct apply_ctx *c);
int af_fsm_apply_model_status(struct af_txn *t, struct apply_ctx *c);
int af_fsm_apply_model_delete(struct af_txn *t, struct apply_ctx *c);

/* fsm_fleet.c: telemetry, no audit record. */
int af_fsm_apply_fleet_report(struct af_txn *t, struct apply_ctx *c);
int af_fsm_apply_fleet_deregister(struct af_txn *t, struct apply_ctx *c);

/* fsm_usage.c: telemetry, no audit record. */
int af_fsm_apply_usage(struct af_txn *t, struct apply_ctx *c);
/* fsm_workflow.c: the workflow rows of a UsageReport. */
int af_fsm_apply_workflows(struct af_txn *t, struct apply_ctx *c);
/* Deletes up to AF_USAGE_PRUNE_MAX usage and workflow rows (and label
 * value counters) of the days before before_ms (0: none): retention, a
 * bounded share per UsageReport entry. 0 or a storage error. */
#define AF_USAGE_PRUNE_MAX 256
int af_usage_prune(struct af_txn *t, int64_t before_ms);
/* One workflow row into day day_ms's totals (a row that is not valid is
 * skipped). 0 or a storage error. */
int af_workflow_apply_row(struct af_txn *t, int64_t day_ms,
			  const Af__WorkflowRow *r);
/* As af_workflow_apply_row; subtract: r leaves the totals instead (a row
 * left with no workflow is deleted). */
int af_workflow_add_row(struct af_txn *t, int64_t day_ms,
			const Af__WorkflowRow *r, bool subtract);
/* fsm_wfmerge.c: one routerd's part of workflow r->workflow_id (one
 * workflow) merged with the parts other routerds sent (today's and
 * yesterday's, up to AF_WORKFLOW_MERGE_MAX workflows a day): the
 * workflow counts once, hops and money summed, its outcome the one a
 * routerd received, abandoned only if none did. 0 or a storage error. */
#define AF_WORKFLOW_MERGE_MAX 100000
int af_workflow_merge(struct af_txn *t, int64_t day_ms,
		      const Af__WorkflowRow *r);
/* Deletes up to AF_USAGE_PRUNE_MAX entries of the merge index of the days
 * before before_ms. */
int af_workflow_prune_index(struct af_txn *t, int64_t before_ms);

/* fsm_override.c: emergency overrides (audited), and the set in force
 * for the heads. */
int af_fsm_apply_emergency_set(struct af_txn *t, struct apply_ctx *c);
int af_fsm_apply_emergency_clear(struct af_txn *t, struct apply_ctx *c);
int af_fsm_read_overrides(struct af_txn *t, struct af_override_set *ret);

/* budget.c: apply of BudgetSet, LeaseRequest and the showback part of
 * UsageReport. Same contract as every apply: 0, or a storage error. */
int af_budget_apply_set(struct af_txn *t, struct apply_ctx *c);
int af_budget_apply_lease(struct af_txn *t, struct apply_ctx *c);
/* quota.c: apply of QuotaLeaseRequest (telemetry, no audit record). */
int af_quota_apply_lease(struct af_txn *t, struct apply_ctx *c);
int af_showback_apply(struct af_txn *t, int64_t now_ms,
		      const Af__UsageRow *row);

#endif
