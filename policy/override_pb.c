/* Emergency overrides to and from their protobuf form (override.h). */
#include "policy/override.h"
#include "proto/af.pb-c.h"

#include <stdio.h>
#include <string.h>

#define CP(dst, src) snprintf(dst, sizeof(dst), "%s", (src) ? (src) : "")

void af_override_from_pb(const Af__Override *m, struct af_override *o)
{
	memset(o, 0, sizeof(*o));
	CP(o->id, m->id);
	CP(o->tenant, m->tenant);
	CP(o->cls, m->class_name);
	CP(o->deny_tier, m->deny_tier);
	CP(o->drain_lane, m->drain_lane);
	o->effects = m->effects & AF_OV_ALL;
	o->max_fanout = m->max_fanout;
	o->max_tool_calls = m->max_tool_calls;
	o->max_cost_micro = m->max_cost_micro;
	o->expires_ms = m->expires_ms;
}

void af_override_set_from_pb(const Af__OverrideSet *m,
			     struct af_override_set *s)
{
	s->version = m != NULL ? m->version : 0;
	s->n = 0;
	for (size_t i = 0;
	     m != NULL && i < m->n_overrides && s->n < AF_OVERRIDE_MAX; i++)
		af_override_from_pb(m->overrides[i], &s->ov[s->n++]);
}

void af_override_to_pb(const struct af_override *o, Af__Override *m)
{
	af__override__init(m);
	m->id = (char *)o->id;
	m->tenant = (char *)o->tenant;
	m->class_name = (char *)o->cls;
	m->effects = o->effects;
	m->max_fanout = o->max_fanout;
	m->max_tool_calls = o->max_tool_calls;
	m->max_cost_micro = o->max_cost_micro;
	m->deny_tier = (char *)o->deny_tier;
	m->drain_lane = (char *)o->drain_lane;
	m->expires_ms = o->expires_ms;
}
