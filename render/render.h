/*
 * The JSON documents of controld's read answers, built from the protobuf
 * responses: one code for `af ... -o json` and controld's /api/v1, so the
 * two cannot differ. Every function returns a new reference (owned by the
 * caller) and borrows its arguments; NULL only when out of memory.
 *
 * Also the parameters of paged and dated reads (--limit / ?limit=, ...),
 * parsed with the same bounds for both.
 */
#ifndef AF_RENDER_RENDER_H
#define AF_RENDER_RENDER_H

#include "proto/af.pb-c.h"
#include "proto/policy.pb-c.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Rows of a page when the caller gives no limit, and the most it may ask. */
#define AF_RENDER_PAGE_DEFAULT 100u
#define AF_RENDER_PAGE_MAX 1000u

/* micro-USD as a JSON number with no float noise in the output. */
json_t *af_render_usd(int64_t micro);
/* Epoch ms as an RFC 3339 UTC string. */
json_t *af_render_time(int64_t ms);

/* {"<field>": items, "next_after": N or null} (steals items). */
json_t *af_render_page(const char *field, json_t *items, uint64_t next_after);

/* policy */
/* {"revision", "hash", "state", "unchanged", "index"} of a policy write. */
json_t *af_render_apply(const Af__ApplyResult *ar);
/* One history row: {"revision", "hash", "author", "time", "message",
 * "state"}. */
json_t *af_render_revision(const Af__Revision *r);
/* A history page: {"revisions": [...], "next_after"}. */
json_t *af_render_history(const Af__PolicyHistoryResp *ph);
/* {"revision", "hash", "state", "source"}. */
json_t *af_render_policy_get(const Af__PolicyGetResp *pg);
/* "active", "deprecated", "disabled" (or "unknown"). */
const char *af_render_model_status(Af__Policy__Status s);
/* A model as in the registry file. */
json_t *af_render_model(const Af__Policy__Model *m);

/* cluster */
/* An audit page: {"records": [...], "next_after"}. */
json_t *af_render_audit(const Af__AuditResp *ar);
/* {"leader": ID|null, "members": [{"id", "raft", "role"}]}. */
json_t *af_render_members(const Af__MemberListResp *ml);

/* What one node answered for the cluster status: the endpoint asked, the
 * id the cluster file gives it (0: none) and its own status (NULL: no
 * answer). */
struct af_render_probe {
	const char *endpoint;
	uint64_t cfg_id;
	const Af__NodeStatus *ns;
};

/* The probe of the leader with the highest term, or -1. */
int af_render_leader_of(const struct af_render_probe *p, unsigned n);
/* {"leader", "nodes": [...], "not_members"?, "auth"}: members from ml
 * when a node gave the configuration (NULL: every endpoint). */
json_t *af_render_cluster(const struct af_render_probe *p, unsigned n,
			  const Af__MemberListResp *ml, uint64_t leader,
			  const char *auth);

/* usage */
/* One budget: {"tenant", "period", "spent_usd", "leased_usd", "soft_usd",
 * "hard_usd", "remaining_usd", "period_end"}. */
json_t *af_render_budget(const Af__BudgetState *s);
json_t *af_render_budgets(const Af__BudgetListResp *bl);
/* Live quota leases grouped per (quota, tenant, dimension): quota, tenant
 * (null: every tenant together), dimension, limit, leased, leases[]
 * {routerd, amount, expires}. */
json_t *af_render_quotas(const Af__QuotaStatusResp *qs);
/* Showback rows grouped by `by`. */
json_t *af_render_showback(const Af__ShowbackResp *sb, const char *by);
/* The rollout: weights, steps, gates, both cohorts, the verdict. */
json_t *af_render_canary(const Af__CanaryStatusResp *cs);
/* Every routerd seen. */
json_t *af_render_fleet(const Af__FleetStatusResp *fs);
/* The emergency overrides in force: [{"id", "scope", "effect", "reason",
 * "principal", "expires"}]. */
json_t *af_render_emergency(const Af__EmergencyListResp *el);

/* Parameters. Each returns 0, or -1 with why (naming `name`, the flag or
 * query parameter) filled. */
/* limit: 1..AF_RENDER_PAGE_MAX (NULL: the default); after: a positive
 * cursor (NULL: 0, the first page). */
int af_render_parse_page(const char *limit_name, const char *limit,
			 const char *after_name, const char *after,
			 uint32_t *ret_limit, uint64_t *ret_after, char *why,
			 size_t whylen);
/* "2026-11-01" or "2026-11-01T10:00:00Z" -> epoch ms (UTC). */
int af_render_parse_date(const char *name, const char *s, int64_t *ret,
			 char *why, size_t whylen);

#endif
