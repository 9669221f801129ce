/*
 * af policy engine: policy bundles and model registries (YAML -> validated,
 * canonical compiled protobuf form + "sha256:" version hash), views that
 * intern both for the hot path, and the pure decision function af_decide().
 *
 * The module is pure: no sockets, clocks, files or randomness. Callers read
 * files themselves and hand over buffers; live signals (lane in-flight
 * counts, cooldowns, observed latency, tenant budgets) come in through
 * struct af_live.
 *
 * Ownership: every object returned through ret_* is owned by the caller
 * and freed with the destructor named beside it (destructors accept NULL).
 * Strings returned by accessors are borrowed from the object and live until
 * it is freed. Bundles, registries and views are immutable after creation:
 * any number of threads may read them concurrently.
 *
 * Errors: functions return 0 or a negative AF_E* code (common/err.h) and
 * describe the problem in *err (which may be NULL). Parse errors read
 * "file:line:col: message".
 */
#ifndef AF_POLICY_POLICY_H
#define AF_POLICY_POLICY_H

#include "common/err.h"
#include "policy/override.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ bounds */

#define AF_POLICY_MAX_BYTES (16u << 20) /* bundle or registry source/bytes */
#define AF_POLICY_NAME_MAX 256		/* any name or string value */
#define AF_POLICY_MAX_RULES 10000
#define AF_POLICY_MAX_CLASSES 1000
#define AF_POLICY_MAX_LANES 256
#define AF_POLICY_MAX_TIERS 16
#define AF_POLICY_MAX_LIST 64  /* regions, capabilities, in-lists */
#define AF_POLICY_MAX_CONDS 32 /* conditions of one rule */
#define AF_POLICY_MAX_MODELS 50000
#define AF_POLICY_MAX_FALLBACKS 16 /* defaults.max_fallbacks upper bound */
#define AF_POLICY_MAX_REGIONS 64   /* distinct regions in one view */
#define AF_POLICY_MAX_CAPS 64	   /* distinct capabilities in one view */
#define AF_POLICY_MAX_QUOTAS 64	   /* quotas of one bundle */
#define AF_QUOTA_NAME_MAX 64
#define AF_QUOTA_TENANT_MAX 64
#define AF_QUOTA_PER_HOP 8 /* quotas of a bundle one request may meet */
#define AF_POLICY_LABEL_KEY_MAX 64
#define AF_MODEL_PRICES_MAX 16 /* price versions per model */

/* ------------------------------------------------ bundles, registries */

struct af_bundle;
struct af_registry;

/* Parses and validates a policy bundle read from `file`
 * (used in messages only) and compiles it to canonical form. Errors:
 * AF_EPARSE ("file:line:col: message"), AF_ETOOBIG, AF_ENOMEM. On success
 * *ret is owned (af_bundle_free). Lint warnings are kept in the bundle. */
int af_bundle_compile(const char *file, const char *buf, size_t len,
		      struct af_bundle **ret, struct af_err *err);
/* Loads canonical compiled bytes (as af_bundle_bytes() gave them) and
 * validates them again: every reference, bound and enum value, and that the
 * bytes are canonical. Errors: AF_ECORRUPT, AF_ETOOBIG, AF_ENOMEM. */
int af_bundle_load(const void *buf, size_t len, struct af_bundle **ret,
		   struct af_err *err);
void af_bundle_free(struct af_bundle *b);
/* Canonical compiled bytes; borrowed. */
const uint8_t *af_bundle_bytes(const struct af_bundle *b, size_t *ret_len);
/* "sha256:<hex>" of af_bundle_bytes(); borrowed. */
const char *af_bundle_hash(const struct af_bundle *b);
const char *af_bundle_name(const struct af_bundle *b);
size_t af_bundle_nrules(const struct af_bundle *b);
/* The bundle's `health` section: cooldown thresholds. */
struct af_health {
	uint32_t error_rate_ppm;       /* 1..1000000 */
	uint32_t min_samples;	       /* reports before the rate counts */
	uint32_t consecutive_failures; /* failures in a row */
	uint32_t cooldown_s;
};
void af_bundle_health(const struct af_bundle *b, struct af_health *ret);
/* Lint warnings ("file:line:col: warning: ..."), only after compile. */
size_t af_bundle_nwarnings(const struct af_bundle *b);
const char *af_bundle_warning(const struct af_bundle *b, size_t i);

/* Same contract for model registry files (kind: Models). */
int af_registry_compile(const char *file, const char *buf, size_t len,
			struct af_registry **ret, struct af_err *err);
int af_registry_load(const void *buf, size_t len, struct af_registry **ret,
		     struct af_err *err);
void af_registry_free(struct af_registry *r);
const uint8_t *af_registry_bytes(const struct af_registry *r, size_t *ret_len);
const char *af_registry_hash(const struct af_registry *r);
size_t af_registry_nmodels(const struct af_registry *r);

/* -------------------------------------------------------------- views */

/* A view: stable bundle + optional canary bundle and weight + registry,
 * with every name interned to a small integer and every rule condition
 * precompiled. The view copies what it needs: the bundles and the registry
 * may be freed once af_policy_view_new() returned. */
struct af_policy_view;

struct af_policy_view_config {
	const struct af_bundle *stable; /* required */
	uint64_t stable_revision;
	const struct af_bundle *canary; /* NULL: no canary */
	uint64_t canary_revision;
	uint32_t canary_weight_bp;	    /* weight percent * 100: 0..10000 */
	const struct af_registry *registry; /* required */
	uint64_t registry_revision;
	/* Wall-clock ms the models' price versions are chosen at (the one
	 * in force then; before the first, the first); 0: now. */
	int64_t now_ms;
};

/* Errors: AF_EINVAL (bad config, too many distinct regions or
 * capabilities), AF_ENOMEM. */
int af_policy_view_new(const struct af_policy_view_config *cfg,
		       struct af_policy_view **ret, struct af_err *err);
void af_policy_view_free(struct af_policy_view *v);

/* Lanes (union of both bundles' lanes) have dense ids 0..n-1; so have
 * (model, region) pairs of the registry, in model id then region order.
 * routerd sizes its live-state arrays with these. Name lookups return the
 * id or -1. */
uint32_t af_policy_view_nlanes(const struct af_policy_view *v);
const char *af_policy_view_lane_name(const struct af_policy_view *v,
				     uint32_t lane_id);
int32_t af_policy_view_lane_id(const struct af_policy_view *v,
			       const char *lane);
uint32_t af_policy_view_npairs(const struct af_policy_view *v);
void af_policy_view_pair(const struct af_policy_view *v, uint32_t pair_id,
			 const char **ret_model, const char **ret_region);
int32_t af_policy_view_pair_id(const struct af_policy_view *v,
			       const char *model, const char *region);
/* The registry price of a call: (input_tokens * usd_per_1k_input +
 * output_tokens * usd_per_1k_output) / 1000, exactly, in 1e-9 USD.
 * Errors: AF_ENOTFOUND (no such model), AF_EINVAL (tokens out of range). */
int af_policy_view_cost(const struct af_policy_view *v, const char *model,
			int64_t input_tokens, int64_t output_tokens,
			int64_t *ret_nano_usd);
/* As af_policy_view_cost, `cached` of the input tokens (0..input_tokens)
 * billed at usd_per_1k_cached_input (default: the input price). */
int af_policy_view_cost_cached(const struct af_policy_view *v,
			       const char *model, int64_t input_tokens,
			       int64_t cached, int64_t output_tokens,
			       int64_t *ret_nano_usd);
/* When the next price version of v's registry takes effect (wall-clock
 * ms; 0: none): a view built after it prices by it. */
int64_t af_policy_view_next_price_ms(const struct af_policy_view *v);
/* The label keys ("cost_center", without "labels.") the stable bundle's
 * `showback` section declares, sorted; borrowed from v. At most
 * AF_SHOWBACK_DIMS_MAX. */
#define AF_SHOWBACK_DIMS_MAX 4
const char *const *af_policy_view_showback_dims(const struct af_policy_view *v,
						size_t *ret_n);
/* The request field paths ("tenant", "labels.customer") the decision log
 * masks, by the stable (canary false) or the canary bundle's
 * decision_log section; borrowed from v. */
const char *const *af_policy_view_log_masks(const struct af_policy_view *v,
					    bool canary, size_t *ret_n);
/* Upper bound of explain entries af_decide() can produce. */
size_t af_policy_view_nrules_max(const struct af_policy_view *v);

/* Fleet-wide quotas (docs/quotas.md) of the view's stable bundle: a
 * bundle `quotas` entry, or a lane's fleet_max_inflight (named
 * "lane:<lane>", every tenant together). */
enum af_quota_dim {
	AF_QUOTA_INFLIGHT = 0, /* hops in flight */
	AF_QUOTA_TOKENS = 1,   /* input + output tokens in flight */
	AF_QUOTA_RPM = 2,      /* hops routed per rolling minute */
	AF_QUOTA_TPM = 3,      /* tokens routed per rolling minute */
	AF_QUOTA_NDIM = 4,
};
struct af_quota_def {
	const char *name;
	const char *tenant;	      /* "*": each tenant; NULL: all together */
	const char *class_name;	      /* NULL: every class */
	int64_t limit[AF_QUOTA_NDIM]; /* 0: no such limit */
};
/* The quotas that apply to a request of tenant and class routed on lane
 * lane_id, into ret (room for AF_QUOTA_PER_HOP + 1; the lane's comes
 * last); returns how many. Borrowed from v. Any thread, no allocation. */
size_t af_policy_view_quotas_for(const struct af_policy_view *v,
				 const char *tenant, const char *class_name,
				 uint32_t lane_id,
				 const struct af_quota_def **ret);
/* The i-th quota of the view's stable bundle (its `quotas`, then the
 * lanes' fleet_max_inflight); NULL past the last. Borrowed from v. */
const struct af_quota_def *
af_policy_view_quota_at(const struct af_policy_view *v, size_t i);
/* "inflight", "tokens_in_flight", "rpm", "tpm". */
const char *af_quota_dim_name(enum af_quota_dim d);

/* ---------------------------------------------------------- live state */

enum af_budget_state {
	AF_BUDGET_OK = 0,
	AF_BUDGET_OVER_SOFT = 1,
	AF_BUDGET_OVER_HARD = 2,
};

/* What routerd knows of one workflow when a decision is made for it: the
 * hops routed so far, those still in flight (routed, not yet reported or
 * expired), their tokens and their cost (the reported cost of reported
 * hops, the estimate of the others), exactly, in 1e-9 USD. */
struct af_workflow_state {
	uint64_t hops;
	uint64_t inflight;
	uint64_t tokens;
	int64_t cost_nano_usd;
};

/* A class's workflow_idle_s when it sets none, and its upper bound. */
#define AF_WORKFLOW_IDLE_DEFAULT_S 3600
#define AF_WORKFLOW_IDLE_MAX_S (30 * 86400)
/* Hops in flight routerd tracks per workflow: max_inflight_per_workflow
 * is at most this. */
#define AF_WORKFLOW_INFLIGHT_MAX 16

/* Live signals, supplied by the caller (routerd) on every decision. Every
 * callback may be NULL (then: 0 in flight, not cooling, latency 0, budget
 * OK). Callbacks run on the deciding thread, must not block, must not
 * allocate if the caller wants an allocation-free decision, and must not
 * call back into the view. Ids are those of af_policy_view_*(): lane ids
 * and pair ids of the view passed to af_decide(). */
struct af_live {
	void *ctx;
	/* Requests currently in flight on lane `lane_id`. */
	uint32_t (*lane_inflight)(void *ctx, uint32_t lane_id);
	/* Whether (model, region) pair `pair_id` is cooling down. */
	bool (*cooling)(void *ctx, uint32_t pair_id);
	/* Observed latency of the pair in ms (0 when unknown). */
	uint32_t (*latency_ms)(void *ctx, uint32_t pair_id);
	/* Budget state of `tenant`; for AF_BUDGET_OVER_HARD also the time
	 * until the budget may allow spending again (0 when unknown). */
	enum af_budget_state (*budget)(void *ctx, const char *tenant,
				       uint64_t *ret_retry_after_ms);
	/* Cooldowns per cohort: milliseconds until pair
	 * `pair_id` stops cooling down for the stable (canary false) or the
	 * canary cohort; 0 when it is not cooling. When set it replaces
	 * `cooling`; a decision asks for its own cohort only. */
	uint64_t (*cooldown_ms)(void *ctx, uint32_t pair_id, bool canary);
	/* The state of workflow `workflow_id` before this decision (all
	 * zero for one not seen yet). When NULL the decision carries no
	 * workflow state and the class's workflow caps do not apply. */
	void (*workflow)(void *ctx, const char *workflow_id,
			 struct af_workflow_state *ret);
	/* Emergency overrides in force (NULL: none), applied after the
	 * bundle's own steps; entries expired at now_ms are skipped. */
	const struct af_override_set *overrides;
	/* Wall-clock milliseconds, for override expiry (0: none expire). */
	int64_t now_ms;
	/* Milliseconds since the caller last confirmed its view current
	 * (0: fresh). Compared with the deciding bundle's `staleness`. */
	uint64_t stale_ms;
};

/* ------------------------------------------------------------ requests */

#define AF_REQ_MAX_BODY 65536
#define AF_REQ_MAX_NEEDS 16
#define AF_REQ_MAX_LABELS 16
#define AF_REQ_ABSENT (-1) /* numeric request fields not given */

struct af_label {
	char key[AF_POLICY_LABEL_KEY_MAX + 1];
	char value[AF_POLICY_NAME_MAX + 1];
};

/* One routing request. Strings are NUL-terminated; an
 * empty string means absent. Numeric fields are AF_REQ_ABSENT or >= 0. */
struct af_request {
	char workflow_id[AF_POLICY_NAME_MAX + 1];
	char tenant[AF_POLICY_NAME_MAX + 1];
	char class_name[AF_POLICY_NAME_MAX + 1];
	char sensitivity[AF_POLICY_NAME_MAX + 1];
	char agent_role[AF_POLICY_NAME_MAX + 1];
	char region[AF_POLICY_NAME_MAX + 1]; /* preferred */
	int64_t latency_slo_ms;
	int64_t max_cost_micro_usd;
	int64_t input_tokens;
	int64_t cached_input_tokens; /* <= input_tokens */
	int64_t output_tokens;
	int64_t fanout;
	int64_t tool_calls;
	int64_t attempt;
	size_t nneeds;
	char needs[AF_REQ_MAX_NEEDS][AF_POLICY_NAME_MAX + 1];
	size_t nlabels;
	struct af_label labels[AF_REQ_MAX_LABELS];
};

/* Sets every field absent. */
void af_request_init(struct af_request *r);

/* A request packed into the bytes in use (each string up to its end, the
 * needs and labels present): a few hundred bytes for a typical request,
 * where the struct is over 10 KB, and never more than the struct.
 * af_request_pack returns the length written to buf (cap at least
 * sizeof(struct af_request) always suffices), 0 when it does not fit;
 * af_request_unpack reads it back into *ret and returns the length read,
 * 0 for bytes not written by af_request_pack (same build). */
size_t af_request_pack(const struct af_request *r, uint8_t *buf, size_t cap);
size_t af_request_unpack(const uint8_t *buf, size_t len,
			 struct af_request *ret);

/* Why a request body was refused: the HTTP status and error code
 * (400 "MALFORMED_JSON", 400 "MISSING_FIELD", 422 "WRONG_TYPE", 422
 * "INVALID_FIELD" for a value out of range or over its bound, 413
 * "BODY_TOO_LARGE"), the field (empty when none) and a message. An
 * unknown class is found by af_decide() (AF_ENOTFOUND): answer 422
 * "UNKNOWN_CLASS" with field "class". */
struct af_request_error {
	int http_status;
	const char *code; /* static */
	char field[AF_POLICY_LABEL_KEY_MAX + 16];
	char message[256];
};

/* Parses a POST /v1/route body. Returns 0, or AF_EPARSE with *rerr
 * filled (400 malformed JSON or missing workflow_id/tenant/class; 422 a
 * field of the wrong type, a value out of range or a string or list over
 * its bound; 413 over AF_REQ_MAX_BODY). Unknown fields are ignored.
 * Thread-safe. */
int af_request_parse_json(const char *buf, size_t len, struct af_request *ret,
			  struct af_request_error *rerr);

/* ----------------------------------------------------------- decisions */

enum af_decision_kind {
	AF_DECISION_ROUTE = 1,
	AF_DECISION_DENY = 2,
};

struct af_hop {
	const char *model;
	const char *provider;
	const char *tier;
	const char *region;
};

/* Written by af_decide(). Every const char * is borrowed from the view
 * (or is decision_id, borrowed from the caller) and lives as long as both. */
struct af_decision {
	enum af_decision_kind kind;
	const char *decision_id;
	const char *rule; /* NULL when no rule decided (caps, no match) */
	bool canary;	  /* cohort */
	uint64_t revision;
	const char *hash; /* "sha256:..." of the deciding bundle */
	uint64_t registry_revision;
	/* route */
	struct af_hop primary;
	const char *lane;
	uint32_t lane_id;	/* view lane id of `lane` */
	int64_t latency_slo_ms; /* effective (request or class); -1: none */
	size_t nfallback;
	struct af_hop fallback[AF_POLICY_MAX_FALLBACKS];
	int64_t max_retries;
	int64_t est_cost_nano_usd; /* exact: 1e-9 USD */
	bool degraded;
	/* The deciding bundle's decision_log sample rate for the request's
	 * class, 0..1000000 (1000000 when the bundle says nothing). */
	uint32_t log_ppm;
	/* deny */
	const char *code; /* "COST_LIMIT", a deny rule's code, ... */
	char message[256];
	int64_t retry_after_ms; /* -1: absent */
	/* Trying again later may succeed (LANE_SATURATED,
	 * MODELS_COOLING_DOWN, BUDGET_LEASE_PENDING); such denials carry
	 * retry_after_ms. */
	bool retryable;
	/* The workflow's state before this decision, when the live signals
	 * gave one (has_workflow), and the class's workflow_idle_s. */
	bool has_workflow;
	struct af_workflow_state workflow;
	uint32_t workflow_idle_s;
	/* The emergency overrides (and "stale", the staleness overlay) that
	 * shaped this decision, in set order. */
	size_t noverrides;
	char overrides[AF_OVERRIDE_MAX + 1][AF_OVERRIDE_ID_MAX + 1];
	/* NULL, or "degraded" / "fail_closed" with the seconds since the
	 * last confirmed sync. */
	const char *stale_mode;
	int64_t stale_since_s;
	/* The fleet-wide quota that bounded this decision (quota_name NULL:
	 * none): for QUOTA_EXCEEDED the one exceeded, for a route the one
	 * with least room left; in_use across the fleet as this routerd
	 * knows it. Strings borrowed from the caller (routerd). */
	const char *quota_name;
	const char *quota_dim;
	int64_t quota_limit, quota_in_use;
};

/* Deny codes af_decide() and routerd produce themselves (deny rules
 * add their own, never retryable). */
#define AF_DENY_MODELS_COOLING_DOWN "MODELS_COOLING_DOWN"
#define AF_DENY_BUDGET_EXCEEDED "BUDGET_EXCEEDED"
#define AF_DENY_BUDGET_LEASE_PENDING "BUDGET_LEASE_PENDING"
#define AF_DENY_LANE_SATURATED "LANE_SATURATED"
/* A class's max_workflow_cost_usd, _tokens or _hops is used up (not
 * retryable); FANOUT_CAP also when max_inflight_per_workflow hops of the
 * workflow are in flight (then retryable, retry_after_ms as for a
 * saturated lane). */
#define AF_DENY_WORKFLOW_BUDGET "WORKFLOW_BUDGET"
#define AF_DENY_FANOUT_CAP "FANOUT_CAP"
/* A fleet-wide quota is used up (retryable; retry_after_ms is the time
 * the observed release rate needs to free enough; routerd only). */
#define AF_DENY_QUOTA_EXCEEDED "QUOTA_EXCEEDED"
/* retry_after_ms of LANE_SATURATED: the class's latency SLO (a hop in
 * flight should end by then) clamped to these bounds, else the default. */
#define AF_LANE_RETRY_MIN_MS 50
#define AF_LANE_RETRY_MAX_MS 1000
#define AF_LANE_RETRY_DEFAULT_MS 250

/* Why a candidate was dropped (bits of struct af_explain_cand.drops). */
enum af_drop {
	AF_DROP_DISABLED = 1u << 0,
	AF_DROP_CAPABILITY = 1u << 1,
	AF_DROP_CONTEXT = 1u << 2,
	AF_DROP_REGION = 1u << 3,
	AF_DROP_COST = 1u << 4,
	AF_DROP_COOLING = 1u << 5,
	AF_DROP_LIMIT = 1u << 6, /* qualified, beyond max_fallbacks */
};

struct af_explain_rule {
	const char *name;
	bool matched;
	char why[160]; /* the first condition that failed */
};

struct af_explain_cand {
	const char *model;
	const char *tier;
	const char *region;
	unsigned drops; /* 0 when chosen */
	int position;	/* 0 primary, 1.. fallback, -1 dropped */
	int64_t est_cost_nano_usd;
};

/* Optional trace. The caller provides both arrays and their capacity;
 * entries beyond capacity are counted in n* but not written (truncated).
 * af_policy_view_nrules_max() and af_policy_view_npairs() are enough. */
struct af_explain {
	struct af_explain_rule *rules;
	size_t rules_cap, nrules;
	struct af_explain_cand *cands;
	size_t cands_cap, ncands;
	char notes[512]; /* cohort, defaults, step-down, allowed regions */
};

/* Decides one request (steps 1 to 10 of docs/policy.md). Pure, allocates
 * nothing, takes no lock: any number of threads may decide on one view.
 * `live` may be NULL. `decision_id` is borrowed into *ret. `explain` may be
 * NULL (the fast path). Returns 0 with *ret written (route or deny), or
 * AF_ENOTFOUND when the request's class is unknown to the deciding bundle
 * (HTTP 422, field "class"; *ret untouched), AF_EINVAL on NULL arguments. */
int af_decide(const struct af_policy_view *v, const struct af_request *req,
	      const struct af_live *live, const char *decision_id,
	      struct af_decision *ret, struct af_explain *explain);

/* Whether `region` is one the request may use (step 6: the class's regions
 * and the residency of its sensitivity) under the stable (canary false)
 * or the canary bundle. Returns 0 with *ret set, or AF_ENOTFOUND (unknown
 * class). Pure, no allocation. */
int af_policy_view_region_allowed(const struct af_policy_view *v,
				  const struct af_request *req, bool canary,
				  const char *region, bool *ret);

/* ---------------------------------------------------------- rendering */

/* Renders the exact decision body of docs/routerd.md (route or deny form,
 * one JSON object, no newline) into buf. Returns 0 and the length (without
 * the NUL) in *ret_len, or AF_ETOOBIG when len is too small (4 KiB is
 * always enough). No allocation. */
int af_decision_json(const struct af_decision *d, char *buf, size_t len,
		     size_t *ret_len);
/* {"error":{"code","message","field"?}}; field may be NULL or "". */
int af_error_json(const char *code, const char *message, const char *field,
		  char *buf, size_t len, size_t *ret_len);
/* Human-readable explain trace (several lines). Returns 0 or AF_ETOOBIG
 * (output truncated but NUL-terminated). */
int af_explain_text(const struct af_explain *x, char *buf, size_t len);
/* Writes the shortest exact decimal of a nano-USD amount ("0.06624"). */
size_t af_policy_fmt_usd(int64_t nano_usd, char out[32]);

#endif
