/*
 * routerd's side of budgets:
 * each budgeted tenant gets a lease from controld (a Raft command); every
 * routed decision reserves its estimated cost from the local lease with no
 * network on the decision path; reports settle the actual cost; the sync
 * thread tops leases up below a low-water mark, settles what was consumed,
 * and gives leases back at shutdown. A tenant without a budget is not
 * limited. Money here is nano-USD.
 *
 * Decision and report paths: any thread, lock-free. Definitions and lease
 * traffic: the sync thread only.
 */
#ifndef AF_ROUTERD_BUDGET_H
#define AF_ROUTERD_BUDGET_H

#include "policy/policy.h"
#include "proto/af.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROUTERD_MAX_BUDGETS 1024

struct routerd_budgets;

int routerd_budgets_new(struct routerd_budgets **ret);
void routerd_budgets_free(struct routerd_budgets *b);

/* The budgeted tenants, as Sync reports them (sync thread). Tenants no
 * longer listed become unlimited. */
void routerd_budgets_define(struct routerd_budgets *b, Af__Budget *const *list,
			    size_t n);

/* Hot path: OVER_HARD (with the time until the period ends), OVER_SOFT,
 * or OK. now_wall_ms: wall clock. */
enum af_budget_state routerd_budgets_state(struct routerd_budgets *b,
					   const char *tenant,
					   int64_t now_wall_ms,
					   uint64_t *ret_retry_after_ms);
/* Hot path, after decision d (any kind; only routes of budgeted tenants
 * are touched): reserves d's estimated cost from the tenant's lease for
 * decision `seq`. When the lease cannot cover it, d becomes a denial:
 * BUDGET_EXCEEDED (not retryable, retry_after_ms = time to the next
 * period) when the period's budget is spent or all that is left is in
 * this lease, else BUDGET_LEASE_PENDING (retryable, a short
 * retry_after_ms: the lease is being refilled). No allocation. */
void routerd_budgets_reserve_hop(struct routerd_budgets *b, const char *tenant,
				 uint64_t seq, int64_t now_wall_ms,
				 struct af_decision *d);
/* A report for decision seq with its actual cost: the difference to the
 * reserved estimate is settled. */
void routerd_budgets_settle(struct routerd_budgets *b, uint64_t seq,
			    int64_t actual_nano);

/* Sync thread: the next tenant whose lease needs a request (consumption to
 * settle, below the low-water mark, or close to expiry); fills req and
 * returns its slot, or -1. release: give everything back (shutdown). */
int routerd_budgets_next(struct routerd_budgets *b, uint64_t now_mono_ms,
			 bool release, Af__LeaseRequest *req, char *tenant_buf,
			 size_t tenant_len);
/* The answer to that request (ok false: the request failed; what it
 * settled is put back to be sent again). */
void routerd_budgets_granted(struct routerd_budgets *b, int slot, bool ok,
			     int64_t consumed_micro_sent,
			     const Af__ApplyResult *res, uint64_t now_mono_ms);

#endif
