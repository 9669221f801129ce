/* The shadow status document, and the sums of agreement counters the
 * state machine and the document share. */
#include "common/satarith.h"
#include "render/render.h"

#include <stdlib.h>
#include <string.h>

void af_shadow_counts_add(Af__ShadowCounts *to, const Af__ShadowCounts *from)
{
	to->sampled = af_sat_add_u64(to->sampled, from->sampled);
	to->same = af_sat_add_u64(to->same, from->same);
	to->model = af_sat_add_u64(to->model, from->model);
	to->tier = af_sat_add_u64(to->tier, from->tier);
	to->region = af_sat_add_u64(to->region, from->region);
	to->route_to_deny =
		af_sat_add_u64(to->route_to_deny, from->route_to_deny);
	to->deny_to_route =
		af_sat_add_u64(to->deny_to_route, from->deny_to_route);
	to->deny_code = af_sat_add_u64(to->deny_code, from->deny_code);
	to->cost_stable_nano_usd = af_sat_add_i64(to->cost_stable_nano_usd,
						  from->cost_stable_nano_usd);
	to->cost_shadow_nano_usd = af_sat_add_i64(to->cost_shadow_nano_usd,
						  from->cost_shadow_nano_usd);
	to->dropped = af_sat_add_u64(to->dropped, from->dropped);
}

void af_shadow_totals_sum(const Af__ShadowTotals *st, Af__ShadowCounts *ret)
{
	af__shadow_counts__init(ret);
	for (size_t i = 0; st != NULL && i < st->n_classes; i++)
		af_shadow_counts_add(ret, st->classes[i]);
}

/* nano-USD to the nearest micro-USD. */
static int64_t micro_of(int64_t nano)
{
	return nano >= 0 ? (nano + 500) / 1000 : -((-nano + 500) / 1000);
}

static json_t *counts_doc(const Af__ShadowCounts *c, const char *cls)
{
	json_t *o = json_object();
	json_t *ch = json_object(), *usd = json_object(), *mic = json_object();

	if (cls != NULL)
		json_object_set_new(o, "class", json_string(cls));
	json_object_set_new(o, "sampled", json_integer((json_int_t)c->sampled));
	json_object_set_new(o, "same", json_integer((json_int_t)c->same));
	json_object_set_new(o, "agreement_pct",
			    c->sampled ? json_real(100.0 * (double)c->same /
						   (double)c->sampled)
				       : json_null());
	json_object_set_new(ch, "total",
			    json_integer((json_int_t)(c->sampled - c->same)));
	json_object_set_new(ch, "model", json_integer((json_int_t)c->model));
	json_object_set_new(ch, "tier", json_integer((json_int_t)c->tier));
	json_object_set_new(ch, "region", json_integer((json_int_t)c->region));
	json_object_set_new(ch, "route_to_deny",
			    json_integer((json_int_t)c->route_to_deny));
	json_object_set_new(ch, "deny_to_route",
			    json_integer((json_int_t)c->deny_to_route));
	json_object_set_new(ch, "deny_code",
			    json_integer((json_int_t)c->deny_code));
	json_object_set_new(o, "changed", ch);
	json_object_set_new(usd, "stable",
			    af_render_usd(micro_of(c->cost_stable_nano_usd)));
	json_object_set_new(usd, "shadow",
			    af_render_usd(micro_of(c->cost_shadow_nano_usd)));
	json_object_set_new(o, "cost_usd", usd);
	json_object_set_new(
		mic, "stable",
		json_integer((json_int_t)micro_of(c->cost_stable_nano_usd)));
	json_object_set_new(
		mic, "shadow",
		json_integer((json_int_t)micro_of(c->cost_shadow_nano_usd)));
	json_object_set_new(o, "cost_micro_usd", mic);
	json_object_set_new(o, "dropped", json_integer((json_int_t)c->dropped));
	return o;
}

static int by_class(const void *a, const void *b)
{
	const Af__ShadowCounts *x = *(Af__ShadowCounts *const *)a;
	const Af__ShadowCounts *y = *(Af__ShadowCounts *const *)b;

	return strcmp(x->class_name, y->class_name);
}

json_t *af_render_shadow(const Af__ShadowStatusResp *ss)
{
	const Af__Shadow *s = ss->shadow;
	const Af__ShadowTotals *st = ss->totals;
	Af__ShadowCounts sum;
	json_t *o = json_object(), *cls = json_array();
	size_t n = st != NULL ? st->n_classes : 0;

	if (s == NULL) {
		json_object_set_new(o, "state", json_string("none"));
		json_decref(cls);
		return o;
	}
	json_object_set_new(o, "revision",
			    json_integer((json_int_t)s->revision));
	json_object_set_new(o, "hash", json_string(s->hash));
	json_object_set_new(o, "name", json_string(s->name));
	json_object_set_new(o, "state", json_string(s->state));
	json_object_set_new(o, "started", af_render_time(s->started_ms));
	json_object_set_new(o, "expires",
			    s->expires_ms ? af_render_time(s->expires_ms)
					  : json_null());
	json_object_set_new(o, "ended",
			    s->ended_ms ? af_render_time(s->ended_ms)
					: json_null());
	json_object_set_new(o, "sample_pct",
			    json_integer((json_int_t)s->sample_pct));
	json_object_set_new(o, "author", json_string(s->author));
	json_object_set_new(o, "message", json_string(s->message));
	af_shadow_totals_sum(st, &sum);
	json_object_set_new(o, "total", counts_doc(&sum, NULL));
	if (n > 0) {
		Af__ShadowCounts **sorted = malloc(n * sizeof(*sorted));

		if (sorted != NULL) {
			memcpy(sorted, st->classes, n * sizeof(*sorted));
			qsort(sorted, n, sizeof(*sorted), by_class);
			for (size_t i = 0; i < n; i++)
				json_array_append_new(
					cls, counts_doc(sorted[i],
							sorted[i]->class_name));
			free(sorted);
		}
	}
	json_object_set_new(o, "classes", cls);
	return o;
}
