/*
 * routerd's side of fleet-wide quotas (docs/quotas.md): each (quota,
 * tenant) this routerd serves holds capacity leases from controld (Raft
 * commands), one per dimension (hops in flight, tokens in flight, hops and
 * tokens per rolling minute). A routed hop reserves from the local lease
 * with no network and no lock; its report (or its expiry) gives in-flight
 * capacity back; what a rate lease admitted ages out after the minute. The
 * telemetry thread asks for more when demand outgrows the lease, gives
 * back what is idle, renews before the TTL and releases at shutdown.
 *
 * Decision and report paths: any thread, lock-free, no allocation. Lease
 * traffic: the telemetry thread only.
 */
#ifndef AF_ROUTERD_QUOTA_H
#define AF_ROUTERD_QUOTA_H

#include "policy/policy.h"
#include "proto/af.pb-c.h"

#include <stdbool.h>
#include <stdint.h>

#define ROUTERD_MAX_QUOTAS 1024 /* (quota, tenant) pairs tracked */
#define ROUTERD_QUOTA_TTL_DEFAULT_MS 15000
#define ROUTERD_QUOTA_ASKS_MAX 64 /* asks per lease request */
#define ROUTERD_QUOTA_WINDOW_S 60 /* rpm and tpm: the rolling minute */

struct routerd_quotas;
struct af_textbuf;

/* ttl_ms: the lease TTL asked of controld (1000..60000). Errors:
 * AF_EINVAL, AF_ENOMEM. Free with routerd_quotas_free (NULL ok). */
int routerd_quotas_new(uint64_t ttl_ms, struct routerd_quotas **ret);
void routerd_quotas_free(struct routerd_quotas *q);

/* Decision path, after decision d of request req (only routes are
 * touched) decided with view pv: reserves from the local leases of every
 * quota that applies; when one cannot cover the hop, nothing is reserved
 * and d becomes a QUOTA_EXCEEDED denial (retryable; retry_after_ms from
 * the observed release rate). Fills d's quota fields either way. seq
 * names the hop for routerd_quotas_reported; now_ms: monotonic. */
void routerd_quotas_admit(struct routerd_quotas *q,
			  const struct af_policy_view *pv,
			  const struct af_request *req, uint64_t seq,
			  uint64_t ttl_ms, uint64_t now_ms,
			  struct af_decision *d);
/* The sync thread, before it publishes a view: the entries of every
 * tenant pv names (its own quotas and the "*" ones) and of the lane caps
 * are claimed now and hold a standing lease (a 64th of each limit, at
 * least 1) while pv names them, so such a tenant's first hop here is
 * admitted if the fleet has room; with any quota in pv the telemetry
 * thread polls at its lease pace (another tenant's first hop waits for
 * one round). */
void routerd_quotas_prefetch(struct routerd_quotas *q,
			     const struct af_policy_view *pv);
/* The report of hop seq: its in-flight capacity (what its estimate
 * reserved) goes back; tokens >= 0: the tokens it reported (input +
 * output), which replace the estimate in the tpm count of its minute
 * (-1: none reported, the estimate stands). now_ms: monotonic. */
void routerd_quotas_reported(struct routerd_quotas *q, uint64_t seq,
			     int64_t tokens, uint64_t now_ms);

/* Telemetry thread. Whether any quota is in use (lease traffic due soon). */
bool routerd_quotas_active(struct routerd_quotas *q);
/* Fills req's asks (storage in asks[ROUTERD_QUOTA_ASKS_MAX] and ptrs)
 * with every lease due for a request at now_ms; release: give back
 * everything (shutdown). Returns how many (0: none due). */
size_t routerd_quotas_next(struct routerd_quotas *q, uint64_t now_ms,
			   bool release, Af__QuotaLeaseRequest *req,
			   Af__QuotaAsk *asks, Af__QuotaAsk **ptrs);
/* The answer to that request (res NULL: it failed). */
void routerd_quotas_granted(struct routerd_quotas *q,
			    const Af__ApplyResult *res, uint64_t sent_ms);

/* Metrics (Prometheus text) per (quota, tenant, dimension):
 * af_routerd_quota_limit, af_routerd_quota_leased, af_routerd_quota_in_use
 * and af_routerd_quota_denied_total. Any thread. */
void routerd_quotas_metrics(struct routerd_quotas *q, struct af_textbuf *b);

#endif
