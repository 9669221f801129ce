/* Fleet-wide quotas (quota.c): capacity leases granted through Raft, and
 * the read of every live lease. Loop thread (apply) or a read
 * transaction. docs/quotas.md has the guarantee. */
#ifndef AF_CONTROLD_QUOTA_H
#define AF_CONTROLD_QUOTA_H

#include "proto/af.pb-c.h"
#include "store/store.h"

#include <stdint.h>

#define AF_QUOTA_TTL_MIN_MS 1000
#define AF_QUOTA_TTL_MAX_MS 60000
#define AF_QUOTA_WINDOW_MS 60000 /* rpm and tpm: the rolling minute */
#define AF_QUOTA_ASKS_MAX 64	 /* asks in one QuotaLeaseRequest */
#define AF_QUOTA_LEASES_MAX 4096 /* leases one read returns */
#define AF_QUOTA_DIMS 4		 /* inflight, tokens, rpm, tpm */

/* The lease to hold after an ask: min(want, limit - others), never
 * negative. Pure: the invariant's one formula. */
int64_t af_quota_grant(int64_t limit, int64_t others, int64_t want);

/* Every live quota lease at now_ms (owned array of owned messages: free
 * with af_quota_leases_free). 0, AF_ENOMEM, AF_ECORRUPT or a storage
 * error. */
int af_quota_leases(struct af_txn *t, int64_t now_ms, Af__QuotaLease ***ret,
		    size_t *ret_n);
void af_quota_leases_free(Af__QuotaLease **l, size_t n);

#endif
