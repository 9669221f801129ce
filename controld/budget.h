/* Budgets, leases and showback (budget.c): helpers shared by the state
 * machine, the read handlers and the tests. Loop thread. */
#ifndef AF_CONTROLD_BUDGET_H
#define AF_CONTROLD_BUDGET_H

#include "common/alloc.h"
#include "proto/af.pb-c.h"
#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

#define AF_LEASE_TTL_MS 15000 /* a lease not renewed by then returns */
#define AF_MAX_BUDGETS 1024   /* every routerd can track them all */

/* UTC period boundaries of the day or month holding t_ms. */
int64_t af_period_start_ms(int64_t t_ms, bool month);
int64_t af_period_end_ms(int64_t t_ms, bool month);

struct af_budget_period {
	int64_t spent_micro, leased_micro;
	int64_t period_start_ms, period_end_ms;
	Af__Spend *spend; /* with history: the stored spend (NULL: none) */
};

/* The budget of tenant (owned: protobuf_c_message_free_unpacked), or
 * AF_ENOTFOUND. */
int af_budget_get(struct af_txn *t, const char *tenant, Af__Budget **ret);
/* Spend and live leases of b's current period at now_ms; with history,
 * also ret->spend (free with af_budget_period_free, on error too). */
int af_budget_period(struct af_txn *t, const Af__Budget *b, int64_t now_ms,
		     bool history, struct af_budget_period *ret);
void af_budget_period_free(struct af_budget_period *p);

#endif
