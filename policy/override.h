/*
 * Emergency overrides: effects that narrow what routing may do for a scope
 * (a tenant, a class, both, or everything) until they expire, applied on
 * top of the bundle's own steps by af_decide(). The same effects are the
 * `degraded` overlay of a bundle's `staleness` section.
 *
 * A set is a fixed-size value (no pointers): it can be copied, kept in
 * shared memory slots and read by any number of deciding threads.
 */
#ifndef AF_POLICY_OVERRIDE_H
#define AF_POLICY_OVERRIDE_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Overrides one set may hold: sized so that a full set fits a hint. */
#define AF_OVERRIDE_MAX 16
/* Longest tenant, class, tier or lane name in an override (bytes). */
#define AF_OVERRIDE_NAME_MAX 64
/* Longest override id ("ov-<index>", "file-<n>", "stale"). */
#define AF_OVERRIDE_ID_MAX 31
/* Longest reason (bytes). */
#define AF_OVERRIDE_REASON_MAX 200
/* Longest TTL: 7 days. */
#define AF_OVERRIDE_TTL_MAX_MS (7ll * 24 * 3600 * 1000)
/* Largest cap values accepted. */
#define AF_OVERRIDE_COUNT_MAX 1000000
#define AF_OVERRIDE_COST_MAX_MICRO 1000000000000ll /* 1e6 USD */

/* Effect bits (struct af_override.effects, Override.effects). */
enum af_override_effect {
	AF_OV_MAX_FANOUT = 1u << 0,
	AF_OV_MAX_TOOL_CALLS = 1u << 1,
	AF_OV_MAX_COST = 1u << 2,
	AF_OV_DENY_TIER = 1u << 3,
	AF_OV_DRAIN_LANE = 1u << 4,
	AF_OV_FREEZE_TENANT = 1u << 5,
};
#define AF_OV_ALL 0x3fu

struct af_override {
	char id[AF_OVERRIDE_ID_MAX + 1];
	char tenant[AF_OVERRIDE_NAME_MAX + 1]; /* "": every tenant */
	char cls[AF_OVERRIDE_NAME_MAX + 1];    /* "": every class */
	unsigned effects;
	int64_t max_fanout, max_tool_calls;
	int64_t max_cost_micro; /* per hop, micro-USD */
	char deny_tier[AF_OVERRIDE_NAME_MAX + 1];
	char drain_lane[AF_OVERRIDE_NAME_MAX + 1];
	int64_t expires_ms; /* wall clock; 0: never (the degraded overlay) */
};

struct af_override_set {
	uint64_t version; /* controld's: the entry that last changed it */
	size_t n;
	struct af_override ov[AF_OVERRIDE_MAX];
};

/* Denial codes of the overlay (the caps keep the bundle step's own codes:
 * FANOUT_CAP, TOOL_CALL_CAP, COST_LIMIT). */
#define AF_DENY_LANE_DRAINED "LANE_DRAINED"
#define AF_DENY_TENANT_FROZEN "TENANT_FROZEN"
#define AF_DENY_TIER_DENIED "TIER_DENIED"
#define AF_DENY_POLICY_STALE "POLICY_STALE"

/* Checks one override's fields (names, bounds, at least one effect, a
 * freeze scoped to a tenant). 0, or AF_EINVAL with a message naming the
 * field in *err. */
int af_override_check(const struct af_override *o, struct af_err *err);

/* Parses the JSON of one override as `af emergency list -o json` prints
 * an item, or a list of them ({"id", "scope": {"tenant", "class"},
 * "effect": {...}, "expires"}), into *ret (ret->version 0). `file` names
 * the source in messages ("file:line:col: ..."). Errors: AF_EPARSE,
 * AF_ETOOBIG (more than AF_OVERRIDE_MAX). */
int af_override_parse_json(const char *file, const char *buf, size_t len,
			   struct af_override_set *ret, struct af_err *err);

/* Renders one override's scope and effect as JSON members
 * ("scope":{...},"effect":{...}) into buf. Returns the length, or 0 when
 * buf is too small. */
/* Whether o is in force at now_ms (0: judge no expiry) for a request of
 * tenant and class cls. */
bool af_override_in_scope(const struct af_override *o, const char *tenant,
			  const char *cls, int64_t now_ms);

size_t af_override_json_members(const struct af_override *o, char *buf,
				size_t len);

/* Merges b into a (a's version kept); entries beyond AF_OVERRIDE_MAX are
 * dropped and counted in the return value. */
size_t af_override_merge(struct af_override_set *a,
			 const struct af_override_set *b);

/* The staleness mode of view v's stable bundle after stale_ms without a
 * confirmed sync: -1 no `staleness` section, 0 fresh, 1 degraded, 2 fail
 * closed. */
struct af_policy_view;
int af_policy_stale_mode(const struct af_policy_view *v, uint64_t stale_ms);

/* Protobuf form (proto/af.proto Override, OverrideSet). from_pb copies
 * (names over the bounds are cut: apply checked them); to_pb borrows o's
 * strings into m (initialized here). */
struct Af__Override;
struct Af__OverrideSet;
void af_override_from_pb(const struct Af__Override *m, struct af_override *o);
void af_override_set_from_pb(const struct Af__OverrideSet *m,
			     struct af_override_set *s);
void af_override_to_pb(const struct af_override *o, struct Af__Override *m);

#endif
