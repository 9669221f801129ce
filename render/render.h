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
#include <stdbool.h>
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
/* A model's price versions: [{"effective" (null: the flat prices, since
 * ever), "usd_per_1k_input", "usd_per_1k_output",
 * "usd_per_1k_cached_input", "in_force"}], the one in force at now_ms
 * marked. */
json_t *af_render_price_history(const Af__Policy__Model *m, int64_t now_ms);
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

/* fleet gates (fleetgate.c) */
/* A routerd not heard from for this long is LOST: not live. */
/* Whether the routerd of r reported within lost_ms of now (the cluster
 * file's fleet.lost_s). */
bool af_fleet_live(const Af__FleetRecord *r, int64_t now_ms, int64_t lost_ms);
/* What a rollout or an apply waits for. NULL hashes: any; canary ""
 * wants none; weight -1: any. new_hash: the hash whose NACK counts. */
struct af_fleet_want {
	const char *stable_hash, *canary_hash, *new_hash;
	int64_t weight;
};
enum af_fleet_serve { AF_FLEET_LAGGING, AF_FLEET_SERVING, AF_FLEET_NACKING };
/* SERVING: f serves w; NACKING: f rejected a view holding new_hash and
 * serves something else; LAGGING otherwise. */
enum af_fleet_serve af_fleet_judge(const Af__FleetReport *f,
				   const struct af_fleet_want *w);
/* n of live at least pct percent (never with no live routerd). */
bool af_fleet_reached(uint32_t n, uint32_t live, uint32_t pct);
/* n / live, 0 with no live routerd. */
double af_fleet_share(uint32_t n, uint32_t live);
/* shadow */
/* {"revision", "hash", "name", "state", "started", "expires", "ended",
 * "sample_pct", "author", "message", "total": {"sampled", "same",
 * "agreement_pct", "changed": {"total", "model", "tier", "region",
 * "route_to_deny", "deny_to_route", "deny_code"}, "cost_usd": {"stable",
 * "shadow"}, "cost_micro_usd": {...}}, "classes": [{"class", ...}]}, or
 * {"state": "none"} when no shadow was ever started. */
json_t *af_render_shadow(const Af__ShadowStatusResp *ss);
/* to += from, field by field (saturating); the sum of every class. */
void af_shadow_counts_add(Af__ShadowCounts *to, const Af__ShadowCounts *from);
void af_shadow_totals_sum(const Af__ShadowTotals *st, Af__ShadowCounts *ret);

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

/* af report --unit workflow: one row's columns (workflows, succeeded,
 * failed, abandoned, success_rate, cost_usd = inference_usd + tool_usd +
 * human_review_usd, usd_per_success, p50_success_usd, p95_success_usd,
 * waste_usd, hops); money as decimal strings with 6 decimals, null where
 * there is no success. */
json_t *af_render_workflow_row(const Af__WorkflowRow *r);
/* af report --anomalies: [{"tenant", "day" (YYYY-MM-DD), "spend_usd",
 * "mean_usd", "stddev_usd" (6-decimal strings, the last two rounded to
 * the micro-USD), "z" (3 decimals)}]. */
json_t *af_render_anomalies(const Af__AnomalyResp *ar);
/* Splits a --by / ?by= list ("tenant,day") in place into keys[0..max):
 * the number of keys, or max + 1 when there are more. */
size_t af_render_split_by(char *list, char **keys, size_t max);
/* The rows, each led by its key under the names of by[0..nby). */
json_t *af_render_workflow_report(const Af__WorkflowReportResp *wr,
				  char *const *by, size_t nby);

#endif
