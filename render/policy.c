/* Policy revisions, history pages and models as JSON. */
#include "render/render.h"
#include "common/timeutil.h"

#include <stdbool.h>

json_t *af_render_usd(int64_t micro)
{
	return json_real((double)micro / 1e6);
}

json_t *af_render_time(int64_t ms)
{
	char t[32];

	return json_string(af_format_time(ms, t, sizeof(t)));
}

json_t *af_render_page(const char *field, json_t *items, uint64_t next_after)
{
	json_t *o = json_object();

	json_object_set_new(o, field, items);
	json_object_set_new(o, "next_after",
			    next_after ? json_integer((json_int_t)next_after)
				       : json_null());
	return o;
}

json_t *af_render_apply(const Af__ApplyResult *ar)
{
	json_t *o = json_object();

	json_object_set_new(o, "revision",
			    json_integer((json_int_t)ar->revision));
	json_object_set_new(o, "hash", json_string(ar->hash));
	json_object_set_new(o, "state", json_string(ar->state));
	json_object_set_new(o, "unchanged", json_boolean(ar->unchanged));
	json_object_set_new(o, "index", json_integer((json_int_t)ar->index));
	return o;
}

json_t *af_render_revision(const Af__Revision *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "revision",
			    json_integer((json_int_t)r->revision));
	json_object_set_new(o, "hash", json_string(r->hash));
	json_object_set_new(o, "author", json_string(r->author));
	json_object_set_new(o, "time", af_render_time(r->time_ms));
	json_object_set_new(o, "message", json_string(r->message));
	json_object_set_new(o, "state", json_string(r->state));
	json_object_set_new(o, "pruned", json_boolean(r->pruned));
	return o;
}

json_t *af_render_history(const Af__PolicyHistoryResp *ph)
{
	json_t *arr = json_array();

	for (size_t i = 0; ph && i < ph->n_revisions; i++)
		json_array_append_new(arr,
				      af_render_revision(ph->revisions[i]));
	return af_render_page("revisions", arr, ph ? ph->next_after : 0);
}

json_t *af_render_policy_get(const Af__PolicyGetResp *pg)
{
	const Af__Revision *r = pg->revision;
	json_t *o = json_object();

	json_object_set_new(o, "revision",
			    json_integer((json_int_t)r->revision));
	json_object_set_new(o, "hash", json_string(r->hash));
	json_object_set_new(o, "state", json_string(r->state));
	json_object_set_new(
		o, "source",
		json_stringn((const char *)pg->source.data, pg->source.len));
	return o;
}

const char *af_render_model_status(Af__Policy__Status s)
{
	switch (s) {
	case AF__POLICY__STATUS__STATUS_ACTIVE:
		return "active";
	case AF__POLICY__STATUS__STATUS_DEPRECATED:
		return "deprecated";
	case AF__POLICY__STATUS__STATUS_DISABLED:
		return "disabled";
	default:
		return "unknown";
	}
}

static json_t *strs(char **v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

json_t *af_render_model(const Af__Policy__Model *m)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_string(m->id));
	json_object_set_new(o, "provider", json_string(m->provider));
	json_object_set_new(o, "tier", json_string(m->tier));
	json_object_set_new(o, "regions", strs(m->regions, m->n_regions));
	json_object_set_new(o, "context_limit", json_integer(m->context_limit));
	json_object_set_new(o, "capabilities",
			    strs(m->capabilities, m->n_capabilities));
	json_object_set_new(o, "usd_per_1k_input",
			    af_render_usd(m->micro_usd_per_1k_input));
	json_object_set_new(o, "usd_per_1k_output",
			    af_render_usd(m->micro_usd_per_1k_output));
	json_object_set_new(o, "status",
			    json_string(af_render_model_status(m->status)));
	return o;
}

/* One price version (effective_ms < 0: since ever). */
static json_t *price_json(int64_t effective_ms, int64_t in, int64_t out,
			  int64_t cached, bool has_cached, bool in_force)
{
	json_t *o = json_object();

	json_object_set_new(o, "effective",
			    effective_ms < 0 ? json_null()
					     : af_render_time(effective_ms));
	json_object_set_new(o, "usd_per_1k_input", af_render_usd(in));
	json_object_set_new(o, "usd_per_1k_output", af_render_usd(out));
	json_object_set_new(o, "usd_per_1k_cached_input",
			    af_render_usd(has_cached ? cached : in));
	json_object_set_new(o, "in_force", json_boolean(in_force));
	return o;
}

json_t *af_render_price_history(const Af__Policy__Model *m, int64_t now_ms)
{
	json_t *arr = json_array();
	size_t cur = 0;

	if (m->n_prices == 0) {
		json_array_append_new(
			arr, price_json(-1, m->micro_usd_per_1k_input,
					m->micro_usd_per_1k_output,
					m->micro_usd_per_1k_cached_input,
					m->has_cached_input, true));
		return arr;
	}
	/* in force: the last version effective by now (else the first) */
	for (size_t i = 0; i < m->n_prices; i++)
		if (m->prices[i]->effective_ms <= now_ms)
			cur = i;
	for (size_t i = 0; i < m->n_prices; i++) {
		const Af__Policy__Price *p = m->prices[i];

		json_array_append_new(
			arr,
			price_json(p->effective_ms, p->micro_usd_per_1k_input,
				   p->micro_usd_per_1k_output,
				   p->micro_usd_per_1k_cached_input,
				   p->has_cached_input, i == cur));
	}
	return arr;
}
