/* Private: the interned, precompiled form of a view (view.c builds it,
 * decide.c reads it). */
#ifndef AF_POLICY_VIEW_INT_H
#define AF_POLICY_VIEW_INT_H

#include "policy/policy_int.h"

#define NONE UINT32_MAX
#define ALL_REGIONS UINT64_MAX

/* Name -> small dense id (open addressing, XXH3). */
struct intern {
	uint32_t cap; /* power of two, 0 when empty */
	uint32_t n;
	uint32_t *slots; /* id + 1, 0 = free */
	const char **names;
};

uint32_t intern_find(const struct intern *t, const char *s);
/* Interns s (copied into arena a); returns the id or NONE on ENOMEM. */
uint32_t intern_add(struct arena *a, struct intern *t, const char *s);
void intern_free(struct intern *t);

struct vcond {
	uint8_t attr; /* Af__Policy__Attr */
	uint8_t op;   /* Af__Policy__Op */
	uint32_t nvals;
	int64_t number;
	const char *label;
	const char **svals; /* string values (all attrs) */
	uint32_t *ids;	    /* class index, sensitivity or region id */
	uint64_t mask;	    /* needs: capability bits */
	bool unknown_cap;   /* needs a capability no model has */
};

struct vrule {
	const char *name;
	uint32_t nconds;
	struct vcond *conds;
	bool deny;
	uint32_t tier_pos; /* position in the bundle's tiers */
	uint32_t nfb;
	uint32_t fb_pos[AF_POLICY_MAX_TIERS];
	const char *code;
	const char *message;
};

struct vclass {
	const char *name;
	uint32_t lane; /* view lane id */
	int64_t max_inflight;
	int64_t latency_slo_ms, max_cost_micro, max_fanout, max_tool_calls;
	int64_t max_retries; /* class or bundle default */
	uint64_t regions;    /* ALL_REGIONS when absent */
	bool critical;
	uint32_t log_ppm; /* decision_log sample rate, 0..1000000 */
	/* Per-workflow caps, -1 when absent; idle timeout in seconds. */
	int64_t wf_max_cost_nano, wf_max_tokens, wf_max_hops, wf_max_inflight;
	uint32_t wf_idle_s;
};

/* The rules a request can match (view_index.c): each rule that can ever
 * match is listed once, under the values of its first positive tenant
 * condition, else of its first positive class condition, else in
 * `always`; every list is in rule order. */
struct vrindex {
	uint32_t nalways;
	uint32_t *always;
	uint32_t *cls_start; /* per class index, into cls_rules; [n] end */
	uint32_t *cls_rules;
	struct intern tenants;
	uint32_t *ten_start; /* per tenant id, into ten_rules; [n] end */
	uint32_t *ten_rules;
};

struct vbundle {
	const char *hash;
	uint64_t revision;
	uint32_t ntiers;
	uint32_t tiers[AF_POLICY_MAX_TIERS]; /* view tier ids, in order */
	const char *tier_names[AF_POLICY_MAX_TIERS];
	struct intern classes;
	struct vclass *cls;
	uint32_t nrules;
	struct vrule *rules;
	uint32_t default_sens; /* NONE when no default */
	int64_t max_fallbacks;
	uint64_t *residency; /* per sensitivity id */
	int64_t watermark_ppm;
	bool soft_step_down;
	size_t nmask; /* decision_log masks */
	const char **mask;
	size_t ndims; /* showback label keys, "labels." stripped */
	const char **dims;
	struct vrindex ix;
	/* The `staleness` section: thresholds in ms (0: absent) and the
	 * degraded overlay (id "stale", every scope). */
	int64_t stale_degrade_ms, stale_fail_ms;
	struct af_override stale_ov;
	/* Fleet-wide quotas (the stable bundle's apply): the bundle's, and
	 * per view lane id the lane's fleet_max_inflight (limit 0: none). */
	uint32_t nquotas;
	struct af_quota_def *quotas;
	struct af_quota_def *lane_quota;
};

struct vmodel {
	const char *id, *provider, *tier_name;
	uint32_t tier;
	uint64_t caps;
	int64_t context_limit, pin, pout, pcached; /* prices in force */
	uint8_t status;				   /* Af__Policy__Status */
};

struct vpair {
	uint32_t model, region;
};

/* Price lists (view_index.c): the usable (not disabled) pairs of each
 * tier a bundle routes to, one list per (tier, region, status) in three
 * orders. ORD_IN sorts by (input price, output price, model), ORD_OUT by
 * (output price, input price, model), ORD_NAT by model. A block is a run
 * of equal (p1, p2), the order's first and second price (ORD_NAT: one
 * block, prices 0); its bound fields give the cheapest prices after it. */
enum { ORD_IN, ORD_OUT, ORD_NAT, NORD };

struct vitem {
	uint32_t pair, blk;
};

struct vblock {
	uint32_t end;	      /* index after the block's last item */
	int64_t p1, p2;	      /* prices of the block */
	int64_t nb_p2;	      /* p2 of the next block of equal p1, or -1 */
	int64_t ng_p1, ng_p2; /* next p1 and the least p2 from there, or -1 */
};

struct af_policy_view {
	struct arena a;
	struct vbundle b[2]; /* stable, canary */
	bool has_canary;
	uint32_t weight_bp;
	uint64_t registry_revision;
	struct intern tiers, regions, caps, lanes, sens;
	uint32_t *region_rank; /* by region id: rank in name order */
	uint32_t nmodels;
	struct vmodel *models;
	int64_t next_price_ms; /* the next price version's time; 0: none */
	uint32_t *model_pair0; /* first pair of each model; [nmodels] = end */
	uint32_t npairs;
	struct vpair *pairs;
	uint32_t *tier_start; /* per tier id, into tier_pairs; [ntiers] end */
	uint32_t *tier_pairs; /* pair ids grouped by tier */
	size_t max_rules;
	uint32_t *tier_slot;  /* per tier id: price-list slot or NONE */
	uint32_t *list_start; /* per list (slot, region, status, order) */
	struct vitem *items;
	struct vblock *blocks;
};

/* Index of the price list of slot, region, status (0 active, 1
 * deprecated) and order. */
static inline uint32_t plist(const struct af_policy_view *v, uint32_t slot,
			     uint32_t region, uint32_t status, uint32_t ord)
{
	return ((slot * v->regions.n + region) * 2 + status) * NORD + ord;
}

/* Copies a bundle's `staleness` section (NULL: none) into vb
 * (parse_staleness.c). */
void view_staleness(struct vbundle *vb, const Af__Policy__Staleness *s);
/* Copies b's quotas and lane fleet caps into vb (parse_quotas.c). */
int view_quotas(struct af_policy_view *v, struct vbundle *vb,
		const Af__Policy__Bundle *b);

/* Builds the rule indexes of both bundles and the price lists. */
int view_index(struct af_policy_view *v);

#endif
