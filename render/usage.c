/* Budgets, showback, the rollout's cohorts and the fleet as JSON. */
#include "render/render.h"
#include "common/metrics.h"
#include "common/money.h"

#include <stdio.h>
#include <string.h>

json_t *af_render_budget(const Af__BudgetState *s)
{
	const Af__Budget *b = s->budget;
	json_t *o = json_object();
	int64_t rem = b->hard_micro - s->spent_micro - s->leased_micro;

	json_object_set_new(o, "tenant", json_string(b->tenant));
	json_object_set_new(o, "period", json_string(b->period));
	json_object_set_new(o, "spent_usd", af_render_usd(s->spent_micro));
	json_object_set_new(o, "leased_usd", af_render_usd(s->leased_micro));
	json_object_set_new(o, "soft_usd",
			    b->soft_micro ? af_render_usd(b->soft_micro)
					  : json_null());
	json_object_set_new(o, "hard_usd", af_render_usd(b->hard_micro));
	json_object_set_new(o, "remaining_usd",
			    af_render_usd(rem > 0 ? rem : 0));
	json_object_set_new(o, "period_end", af_render_time(s->period_end_ms));
	return o;
}

json_t *af_render_budgets(const Af__BudgetListResp *bl)
{
	json_t *arr = json_array();

	for (size_t i = 0; bl && i < bl->n_budgets; i++) {
		const Af__BudgetState *st = bl->budgets[i];
		json_t *o = af_render_budget(st), *h;

		if (bl->history) {
			h = json_array();
			for (size_t k = 0; k < st->n_history; k++) {
				json_t *p = json_object();

				json_object_set_new(
					p, "at",
					af_render_time(st->history[k]->at_ms));
				json_object_set_new(
					p, "spent_usd",
					af_render_usd(
						st->history[k]->spent_micro));
				json_array_append_new(h, p);
			}
			json_object_set_new(o, "history", h);
		}
		json_array_append_new(arr, o);
	}
	return arr;
}

/* The row's group name (values joined by 0x1f) under the keys of by. */
static void group_keys(json_t *o, const char *by, const char *key)
{
	char list[256], *keys[4];
	size_t n;

	snprintf(list, sizeof(list), "%s", by);
	n = af_render_split_by(list, keys, 3);
	for (size_t k = 0; k < n && k < 3; k++) {
		const char *end = strchr(key, 0x1f);
		size_t len = end ? (size_t)(end - key) : strlen(key);

		json_object_set_new(o, keys[k], json_stringn(key, len));
		key += end ? len + 1 : len;
	}
}

/* Money as an exact 6-decimal string of micro-USD. */
static json_t *money(int64_t micro)
{
	char b[AF_MONEY_LEN];

	return json_string(af_money_str(micro, b));
}

/* Each row's money is its exact 1e-9 USD sum rounded once to the
 * micro-USD, as a 6-decimal string; usd_per_success is that spend over
 * the successes, to the micro-USD. */
json_t *af_render_showback(const Af__ShowbackResp *sb, const char *by)
{
	json_t *arr = json_array();

	for (size_t i = 0; sb && i < sb->n_rows; i++) {
		const Af__ShowbackRow *r = sb->rows[i];
		int64_t spend = af_money_micro_of_nano(r->cost_nano_usd);
		json_t *o = json_object();

		group_keys(o, by, r->key);
		json_object_set_new(o, "successes",
				    json_integer((json_int_t)r->ok));
		json_object_set_new(
			o, "failures",
			json_integer((json_int_t)(r->count - r->ok)));
		json_object_set_new(o, "spend_usd", money(spend));
		json_object_set_new(
			o, "usd_per_success",
			r->ok ? money((int64_t)(((uint64_t)spend + r->ok / 2) /
						r->ok))
			      : json_null());
		json_object_set_new(
			o, "waste_usd",
			money(af_money_micro_of_nano(r->failed_cost_nano_usd)));
		json_array_append_new(arr, o);
	}
	return arr;
}

/* The latency (ms) at percentile p of the cohort's buckets. */
static uint64_t pctl(const Af__UsageTotals *u, unsigned p)
{
	uint64_t total = 0, seen = 0, want;

	for (size_t i = 0; i < u->n_latency_buckets; i++)
		total += u->latency_buckets[i];
	if (total == 0)
		return 0;
	want = (total * p + 99) / 100;
	for (size_t i = 0; i < u->n_latency_buckets; i++) {
		seen += u->latency_buckets[i];
		if (seen >= want)
			return af_usage_bucket_ms[i < AF_USAGE_BUCKETS - 1
							  ? i
							  : AF_USAGE_BUCKETS -
								    2];
	}
	return af_usage_bucket_ms[AF_USAGE_BUCKETS - 2];
}

static json_t *cohort_json(const Af__UsageTotals *u)
{
	json_t *o = json_object();
	double err =
		u->count ? (double)(u->count - u->ok) / (double)u->count : 0;

	json_object_set_new(o, "requests", json_integer((json_int_t)u->count));
	json_object_set_new(o, "ok", json_integer((json_int_t)u->ok));
	json_object_set_new(o, "error_rate", json_real(err));
	json_object_set_new(o, "p50_ms", json_integer((json_int_t)pctl(u, 50)));
	json_object_set_new(o, "p99_ms", json_integer((json_int_t)pctl(u, 99)));
	json_object_set_new(o, "usd_per_success",
			    u->ok ? json_real((double)u->cost_nano_usd / 1e9 /
					      (double)u->ok)
				  : json_null());
	json_object_set_new(o, "quality",
			    u->quality_count
				    ? json_real((double)u->quality_sum_ppm /
						1e6 / (double)u->quality_count)
				    : json_null());
	json_object_set_new(o, "quality_samples",
			    json_integer((json_int_t)u->quality_count));
	return o;
}

static json_t *gates_json(const Af__Rollout *r)
{
	json_t *g = json_object();

	if (r == NULL || r->gates == NULL)
		return g;
	json_object_set_new(
		g, "max_error_delta",
		json_real((double)r->gates->max_error_delta_ppm / 1e6));
	json_object_set_new(
		g, "max_latency_ratio",
		json_real((double)r->gates->max_latency_ratio_ppm / 1e6));
	json_object_set_new(
		g, "max_cost_ratio",
		json_real((double)r->gates->max_cost_ratio_ppm / 1e6));
	json_object_set_new(g, "min_samples",
			    json_integer((json_int_t)r->gates->min_samples));
	json_object_set_new(g, "require_fleet_pct",
			    json_integer(r->gates->require_fleet_pct));
	json_object_set_new(g, "max_nack_pct",
			    json_integer(r->gates->max_nack_pct));
	json_object_set_new(
		g, "max_quality_drop",
		json_real((double)r->gates->max_quality_drop_ppm / 1e6));
	return g;
}

/* The fleet gate: live routerds, the share serving the rollout's state
 * and the share NACKing its canary hash; whether the step waits. */
static json_t *fleet_json(const Af__CanaryStatusResp *cs)
{
	const Af__Rollout *r = cs->rollout;
	const Af__FleetGate *f = cs->fleet;
	uint32_t live = f ? f->live : 0, serving = f ? f->serving : 0;
	uint32_t nacked = f ? f->nacked : 0;
	bool waiting = r && r->canary_revision && r->fleet_waiting;
	json_t *o = json_object();

	json_object_set_new(o, "live", json_integer(live));
	json_object_set_new(o, "serving", json_integer(serving));
	json_object_set_new(o, "serving_share",
			    json_real(af_fleet_share(serving, live)));
	json_object_set_new(o, "nacked", json_integer(nacked));
	json_object_set_new(o, "nack_share",
			    json_real(af_fleet_share(nacked, live)));
	json_object_set_new(o, "waiting", json_boolean(waiting));
	json_object_set_new(o, "waiting_since",
			    waiting ? af_render_time(r->fleet_waiting_since_ms)
				    : json_null());
	return o;
}

/* The canary's points over time, oldest first: each the step's cohorts
 * so far at that time. */
static json_t *history_json(const Af__RolloutHistory *h)
{
	json_t *arr = json_array();
	static const Af__UsageTotals none = AF__USAGE_TOTALS__INIT;

	for (size_t i = 0; h != NULL && i < h->n_points; i++) {
		const Af__RolloutPoint *p = h->points[i];
		json_t *o = json_object();

		json_object_set_new(o, "at", af_render_time(p->at_ms));
		json_object_set_new(o, "step_index",
				    json_integer(p->step_index));
		json_object_set_new(o, "weight", json_integer(p->weight));
		json_object_set_new(o, "stable",
				    cohort_json(p->stable ? p->stable : &none));
		json_object_set_new(o, "canary",
				    cohort_json(p->canary ? p->canary : &none));
		json_array_append_new(arr, o);
	}
	return arr;
}

json_t *af_render_canary(const Af__CanaryStatusResp *cs)
{
	const Af__Rollout *r = cs->rollout;
	json_t *o = json_object(), *steps = json_array();

	json_object_set_new(o, "state", json_string(r ? r->state : "none"));
	json_object_set_new(
		o, "stable_revision",
		json_integer(r ? (json_int_t)r->stable_revision : 0));
	json_object_set_new(o, "stable_hash", json_string(cs->stable_hash));
	json_object_set_new(
		o, "canary_revision",
		json_integer(r ? (json_int_t)r->canary_revision : 0));
	json_object_set_new(o, "canary_hash", json_string(cs->canary_hash));
	json_object_set_new(o, "weight", json_integer(r ? r->weight : 0));
	for (size_t i = 0; r && i < r->n_steps; i++)
		json_array_append_new(steps, json_integer(r->steps[i]));
	json_object_set_new(o, "steps", steps);
	json_object_set_new(o, "step_index",
			    json_integer(r ? r->step_index : -1));
	json_object_set_new(o, "interval_ms",
			    json_integer(r ? (json_int_t)r->interval_ms : 0));
	json_object_set_new(o, "gates", gates_json(r));
	json_object_set_new(o, "fleet", fleet_json(cs));
	json_object_set_new(o, "stable", cohort_json(cs->stable_step));
	json_object_set_new(o, "canary", cohort_json(cs->canary_step));
	json_object_set_new(o, "verdict", json_string(cs->verdict_now));
	json_object_set_new(o, "last_action", json_string(r ? r->verdict : ""));
	json_object_set_new(o, "history", history_json(cs->history));
	return o;
}

/* The emergency override set the routerd enforces: the cluster set's
 * version and its --override-file's hash (null: none). */
static json_t *overrides_json(const Af__FleetReport *f)
{
	json_t *o = json_object();

	json_object_set_new(o, "version",
			    json_integer((json_int_t)f->override_version));
	json_object_set_new(o, "file",
			    f->override_file[0] ? json_string(f->override_file)
						: json_null());
	return o;
}

static json_t *fleet_entry(const Af__FleetEntry *e)
{
	const Af__FleetReport *f = e->record->last;
	json_t *o = json_object();

	json_object_set_new(o, "id", json_string(f->routerd_id));
	json_object_set_new(o, "revision",
			    json_integer((json_int_t)f->stable_revision));
	json_object_set_new(o, "hash", json_string(f->stable_hash));
	json_object_set_new(o, "canary_revision",
			    json_integer((json_int_t)f->canary_revision));
	json_object_set_new(o, "canary_hash", json_string(f->canary_hash));
	json_object_set_new(o, "canary_weight", json_integer(f->canary_weight));
	json_object_set_new(o, "registry_revision",
			    json_integer((json_int_t)f->registry_revision));
	json_object_set_new(o, "overrides", overrides_json(f));
	json_object_set_new(o, "state", json_string(e->state));
	json_object_set_new(o, "last_seen",
			    af_render_time(e->record->last_seen_ms));
	if (f->nack)
		json_object_set_new(o, "reason", json_string(f->reason));
	return o;
}

json_t *af_render_fleet(const Af__FleetStatusResp *fs)
{
	json_t *arr = json_array();

	for (size_t i = 0; fs && i < fs->n_entries; i++)
		json_array_append_new(arr, fleet_entry(fs->entries[i]));
	return arr;
}
