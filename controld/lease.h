/* Lease tables shared by budget leases (budget.c) and quota capacity
 * leases (quota.c): one scan of a key prefix sums the other routerds'
 * live leases, finds the asking routerd's and deletes dead ones. Loop
 * thread (inside apply) or a read transaction (drop_dead false). */
#ifndef AF_CONTROLD_LEASE_H
#define AF_CONTROLD_LEASE_H

#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AF_LEASE_KEY_MAX 512
#define AF_LEASE_DEAD_MAX 64 /* dead leases deleted per scan (more: later) */

/* What one stored lease says: its amount, whether it is dead, and whether
 * it is the asking routerd's. 0, AF_ENOMEM, or AF_ECORRUPT. */
typedef int (*af_lease_judge_fn)(const void *val, size_t vlen, void *arg,
				 int64_t *ret_amount, bool *ret_dead,
				 bool *ret_mine);

struct af_lease_scan {
	af_lease_judge_fn judge;
	void *arg;
	int64_t others, mine; /* sums of live leases (saturating) */
	bool have_mine;
	size_t ndead;
	size_t dead_len[AF_LEASE_DEAD_MAX];
	char dead[AF_LEASE_DEAD_MAX][AF_LEASE_KEY_MAX];
};

/* Scans table LEASES under prefix into *ls (judge and arg set, the rest
 * zero); deletes the dead leases when drop_dead. 0 or a storage error. */
int af_lease_scan(struct af_txn *t, const void *prefix, size_t plen,
		  bool drop_dead, struct af_lease_scan *ls);

#endif
