/* Private to the request handlers (handlers.c, h_write.c, h_read.c,
 * h_sync.c, h_report.c). All of it runs on the loop thread but
 * controld_prepare and controld_job_release (worker threads, h_write.c). */
#ifndef AF_CONTROLD_HANDLERS_INT_H
#define AF_CONTROLD_HANDLERS_INT_H

#include "controld/api_int.h"
#include "controld/state.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

/* Most rows a list read returns (budgets, fleet). */
#define MAX_LIST 10000u

/* The Af__Code answering an AF_E* code from consensus. */
Af__Code controld_status_of_rc(int rc);

/* h_write.c: Propose (the verb table's "write"). */
void controld_handle_write(struct controld_job *j);

/* h_read.c */
/* Collects unpacked messages of one table, newest first. */
struct controld_collect {
	const ProtobufCMessageDescriptor *desc;
	ProtobufCMessage **items;
	size_t n, max;
};

/* Unpacks at most max entries of tbl (reverse: newest key first) into c;
 * free with controld_collect_free, also after an error. */
int controld_collect(struct af_txn *t, enum af_table tbl,
		     const ProtobufCMessageDescriptor *desc, bool reverse,
		     size_t max, struct controld_collect *c);
void controld_collect_free(struct controld_collect *c);
/* The whole registry as one packed af.policy.Registry (models in id
 * order). *ret owned (af_free). */
int controld_registry_pack(struct af_txn *t, uint8_t **ret, size_t *ret_len);
void controld_read_policy_get(struct controld_job *j, struct af_txn *t);
/* Policy history and audit pages. */
void controld_read_page(struct controld_job *j, struct af_txn *t);
void controld_read_models(struct controld_job *j, struct af_txn *t);
void controld_read_canary(struct controld_job *j, struct af_txn *t);
void controld_read_budgets(struct controld_job *j, struct af_txn *t);
void controld_read_quotas(struct controld_job *j, struct af_txn *t);
/* emergency.c. The leader's checks of an emergency write (0, or -1 with
 * the job failed); stamps whether the caller of a clear is an admin
 * (cmd is the job's own copy). */
int controld_check_emergency(struct controld_job *j, const Af__Command *cmd);
void controld_read_emergency(struct controld_job *j, struct af_txn *t);

/* shadow.c: af shadow status; the running shadow for Sync (its
 * sample and expiry into out, its revision into *ret_rev, NULL when
 * none; free it); the leader's checks of a shadow write (0, or -1 with
 * the job failed). */
void controld_read_shadow(struct controld_job *j, struct af_txn *t);
int controld_sync_shadow(struct af_txn *t, Af__SyncResp *out,
			 Af__Revision **ret_rev);
int controld_check_shadow(struct controld_job *j, const Af__Command *cmd);

/* h_sync.c: Sync and fleet state. */
void controld_read_sync(struct controld_job *j, struct af_txn *t);
/* The Sync answer as of t for a routerd that caches what sr offers
 * (state_index left 0: the caller's). Free with controld_sync_out_free,
 * also after an error. */
struct controld_sync_out {
	Af__SyncResp resp;
	Af__SyncBundle st, ca, sh;
	Af__StoredBundle *sst, *sca, *ssh;
	Af__Revision *shr;
	struct controld_collect budgets;
	struct af_state_heads heads;
	Af__OverrideSet *ov;
	uint8_t *reg;
};
int controld_sync_fill(struct af_txn *t, const Af__SyncReq *sr,
		       struct controld_sync_out *o);
void controld_sync_out_free(struct controld_sync_out *o);
void controld_read_fleet(struct controld_job *j, struct af_txn *t);

/* h_report.c: showback. */
void controld_read_showback(struct controld_job *j, struct af_txn *t);
/* h_workflow.c: af report --unit workflow. */
void controld_read_workflows(struct controld_job *j, struct af_txn *t);
/* h_workflow.c: af report --anomalies. */
void controld_read_anomalies(struct controld_job *j, struct af_txn *t);

/* h_sync.c: SYNCED, STALE, NACKED or LOST for a fleet record. */
struct af_state_heads;
const char *controld_fleet_state(const Af__FleetRecord *r,
				 const struct af_state_heads *h,
				 uint64_t registry, int64_t now,
				 int64_t lost_ms);

#endif
