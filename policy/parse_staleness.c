/* The bundle's `staleness` section: how long routerd may serve its last
 * view without a confirmed sync, the overlay it applies meanwhile
 * (`degraded`: override effects on every scope) and when non-critical
 * classes are refused (docs/policy.md, "Staleness"). */
#include "policy/parse_int.h"
#include "policy/parse_rules.h"
#include "policy/view_int.h"

#include <stdio.h>
#include <string.h>

#define STALE_MAX_S (30 * 86400) /* 30 days */

static int parse_degraded(struct pctx *p, yaml_node_t *n,
			  Af__Policy__Staleness *s)
{
	static const char *const keys[] = {"max_fanout",   "max_tool_calls",
					   "max_cost_usd", "deny_tier",
					   "drain_lane",   NULL};
	yaml_node_t *v;
	int rc;

	rc = af_yaml_expect_map(p->y, n, "degraded", p->err);
	if (rc == 0)
		rc = af_yaml_check_keys(p->y, n, keys, p->err);
	if (rc == 0 && (v = af_yaml_get(p->y, n, "max_fanout")) != NULL) {
		rc = af_yaml_int(p->y, v, "max_fanout", 0,
				 AF_OVERRIDE_COUNT_MAX, &s->max_fanout, p->err);
		s->effects |= AF_OV_MAX_FANOUT;
	}
	if (rc == 0 && (v = af_yaml_get(p->y, n, "max_tool_calls")) != NULL) {
		rc = af_yaml_int(p->y, v, "max_tool_calls", 0,
				 AF_OVERRIDE_COUNT_MAX, &s->max_tool_calls,
				 p->err);
		s->effects |= AF_OV_MAX_TOOL_CALLS;
	}
	if (rc == 0 && (v = af_yaml_get(p->y, n, "max_cost_usd")) != NULL) {
		rc = af_yaml_fixed(p->y, v, "max_cost_usd", 1000000, 0,
				   AF_OVERRIDE_COST_MAX_MICRO,
				   &s->max_cost_micro, p->err);
		s->effects |= AF_OV_MAX_COST;
	}
	if (rc == 0 && (v = af_yaml_get(p->y, n, "deny_tier")) != NULL) {
		rc = yaml_name(p->y, v, "deny_tier", p->a, &s->deny_tier,
			       p->err);
		if (rc == 0 && strlen(s->deny_tier) > AF_OVERRIDE_NAME_MAX)
			rc = af_yaml_errf(p->y, v, p->err,
					  "deny_tier: at most %d bytes",
					  AF_OVERRIDE_NAME_MAX);
		s->effects |= AF_OV_DENY_TIER;
	}
	if (rc == 0 && (v = af_yaml_get(p->y, n, "drain_lane")) != NULL) {
		rc = yaml_name(p->y, v, "drain_lane", p->a, &s->drain_lane,
			       p->err);
		if (rc == 0 && strlen(s->drain_lane) > AF_OVERRIDE_NAME_MAX)
			rc = af_yaml_errf(p->y, v, p->err,
					  "drain_lane: at most %d bytes",
					  AF_OVERRIDE_NAME_MAX);
		s->effects |= AF_OV_DRAIN_LANE;
	}
	return rc;
}

int parse_staleness(struct pctx *p, yaml_node_t *n)
{
	static const char *const keys[] = {"degrade_after_s", "degraded",
					   "fail_closed_after_s", NULL};
	Af__Policy__Staleness *s;
	yaml_node_t *v;
	int rc;

	if (n == NULL)
		return 0;
	if ((s = arena_alloc(p->a, sizeof(*s))) == NULL)
		return yaml_oom(p->y, p->err);
	af__policy__staleness__init(s);
	rc = af_yaml_expect_map(p->y, n, "staleness", p->err);
	if (rc == 0)
		rc = af_yaml_check_keys(p->y, n, keys, p->err);
	if (rc != 0)
		return rc;
	if ((v = yaml_need(p->y, n, "degrade_after_s", "staleness", p->err)) ==
	    NULL)
		return AF_EPARSE;
	rc = af_yaml_int(p->y, v, "degrade_after_s", 1, STALE_MAX_S,
			 &s->degrade_after_s, p->err);
	if (rc == 0 &&
	    (v = af_yaml_get(p->y, n, "fail_closed_after_s")) != NULL) {
		rc = af_yaml_int(p->y, v, "fail_closed_after_s", 1, STALE_MAX_S,
				 &s->fail_closed_after_s, p->err);
		if (rc == 0 && s->fail_closed_after_s <= s->degrade_after_s)
			rc = af_yaml_errf(p->y, v, p->err,
					  "fail_closed_after_s: must be above "
					  "degrade_after_s (%lld)",
					  (long long)s->degrade_after_s);
	}
	if (rc == 0 && (v = af_yaml_get(p->y, n, "degraded")) != NULL)
		rc = parse_degraded(p, v, s);
	if (rc == 0)
		p->b->staleness = s;
	return rc;
}

int validate_staleness(const Af__Policy__Bundle *b, struct af_err *err)
{
	const Af__Policy__Staleness *s = b->staleness;

	if (s == NULL)
		return 0;
	if (s->degrade_after_s < 1 || s->degrade_after_s > STALE_MAX_S ||
	    s->fail_closed_after_s < 0 ||
	    s->fail_closed_after_s > STALE_MAX_S ||
	    (s->fail_closed_after_s != 0 &&
	     s->fail_closed_after_s <= s->degrade_after_s) ||
	    (s->effects & ~(AF_OV_ALL & ~(unsigned)AF_OV_FREEZE_TENANT)) != 0 ||
	    s->max_fanout < 0 || s->max_fanout > AF_OVERRIDE_COUNT_MAX ||
	    s->max_tool_calls < 0 ||
	    s->max_tool_calls > AF_OVERRIDE_COUNT_MAX ||
	    s->max_cost_micro < 0 ||
	    s->max_cost_micro > AF_OVERRIDE_COST_MAX_MICRO ||
	    strlen(s->deny_tier) > AF_OVERRIDE_NAME_MAX ||
	    strlen(s->drain_lane) > AF_OVERRIDE_NAME_MAX)
		return af_errf(err, AF_ECORRUPT, "bundle: bad staleness");
	return 0;
}

void view_staleness(struct vbundle *vb, const Af__Policy__Staleness *s)
{
	struct af_override *o = &vb->stale_ov;

	memset(o, 0, sizeof(*o));
	snprintf(o->id, sizeof(o->id), "stale");
	vb->stale_degrade_ms = s ? s->degrade_after_s * 1000 : 0;
	vb->stale_fail_ms = s ? s->fail_closed_after_s * 1000 : 0;
	if (s == NULL)
		return;
	o->effects = s->effects;
	o->max_fanout = s->max_fanout;
	o->max_tool_calls = s->max_tool_calls;
	o->max_cost_micro = s->max_cost_micro;
	snprintf(o->deny_tier, sizeof(o->deny_tier), "%s", s->deny_tier);
	snprintf(o->drain_lane, sizeof(o->drain_lane), "%s", s->drain_lane);
}
