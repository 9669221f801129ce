/* Private to the state machine (fsm.c and the apply code it delegates
 * to: budget.c). */
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
};

void af_fsm_resultf(struct af_fsm_result *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* budget.c: apply of BudgetSet, LeaseRequest and the showback part of
 * UsageReport. Same contract as every apply: 0, or a storage error. */
int af_budget_apply_set(struct af_txn *t, struct apply_ctx *c);
int af_budget_apply_lease(struct af_txn *t, struct apply_ctx *c);
int af_showback_apply(struct af_txn *t, int64_t now_ms,
		      const Af__UsageRow *row);

#endif
