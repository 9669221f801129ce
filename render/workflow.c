/* af report --unit workflow rows as JSON: counts, the success rate, and
 * money as exact decimal strings with 6 decimals (integer micro-USD). */
#include "common/money.h"
#include "common/timeutil.h"
#include "render/render.h"

#include <math.h>
#include <string.h>

static json_t *money(int64_t micro)
{
	char b[AF_MONEY_LEN];

	return json_string(af_money_str(micro, b));
}

/* a / b rounded to the nearest micro-USD (b > 0) */
static int64_t per(int64_t a, uint64_t b)
{
	return (int64_t)(((uint64_t)a + b / 2) / b);
}

static json_t *pctl(const Af__WorkflowRow *r, unsigned pct)
{
	uint64_t hist[AF_COSTHIST_BUCKETS] = {0};

	if (r->succeeded == 0)
		return json_null();
	for (size_t i = 0; i + 1 < r->n_success_hist; i += 2)
		if (r->success_hist[i] < AF_COSTHIST_BUCKETS)
			hist[r->success_hist[i]] += r->success_hist[i + 1];
	return money(af_costhist_percentile(hist, AF_COSTHIST_BUCKETS, pct,
					    r->success_min_micro,
					    r->success_max_micro));
}

/* succeeded / workflows, to 6 decimals */
static double rate(const Af__WorkflowRow *r)
{
	return round((double)r->succeeded / (double)r->workflows * 1e6) / 1e6;
}

json_t *af_render_workflow_row(const Af__WorkflowRow *r)
{
	json_t *o = json_object();
	int64_t cost = r->inference_micro + r->tool_micro + r->human_micro;

	json_object_set_new(o, "workflows",
			    json_integer((json_int_t)r->workflows));
	json_object_set_new(o, "succeeded",
			    json_integer((json_int_t)r->succeeded));
	json_object_set_new(o, "failed", json_integer((json_int_t)r->failed));
	json_object_set_new(o, "abandoned",
			    json_integer((json_int_t)r->abandoned));
	json_object_set_new(o, "success_rate",
			    r->workflows ? json_real(rate(r)) : json_null());
	json_object_set_new(o, "cost_usd", money(cost));
	json_object_set_new(o, "inference_usd", money(r->inference_micro));
	json_object_set_new(o, "tool_usd", money(r->tool_micro));
	json_object_set_new(o, "human_review_usd", money(r->human_micro));
	json_object_set_new(o, "usd_per_success",
			    r->succeeded ? money(per(cost, r->succeeded))
					 : json_null());
	json_object_set_new(o, "p50_success_usd", pctl(r, 50));
	json_object_set_new(o, "p95_success_usd", pctl(r, 95));
	json_object_set_new(o, "waste_usd", money(r->waste_micro));
	json_object_set_new(o, "hops", json_integer((json_int_t)r->hops));
	return o;
}

json_t *af_render_workflow_report(const Af__WorkflowReportResp *wr,
				  char *const *by, size_t nby)
{
	json_t *arr = json_array();

	for (size_t i = 0; wr && i < wr->n_rows; i++) {
		const Af__WorkflowGroup *g = wr->rows[i];
		json_t *o = json_object(), *rest;

		for (size_t k = 0; k < nby && k < g->n_key; k++)
			json_object_set_new(o, by[k], json_string(g->key[k]));
		rest = af_render_workflow_row(g->totals);
		json_object_update(o, rest);
		json_decref(rest);
		json_array_append_new(arr, o);
	}
	return arr;
}

json_t *af_render_anomalies(const Af__AnomalyResp *ar)
{
	json_t *arr = json_array();

	for (size_t i = 0; ar && i < ar->n_rows; i++) {
		const Af__Anomaly *a = ar->rows[i];
		json_t *o = json_object();
		char d[32];

		af_format_time(a->day_ms, d, sizeof(d));
		d[10] = '\0';
		json_object_set_new(o, "tenant", json_string(a->tenant));
		json_object_set_new(o, "day", json_string(d));
		json_object_set_new(o, "spend_usd", money(a->spend_micro));
		json_object_set_new(o, "mean_usd",
				    money((int64_t)llround(a->mean_micro)));
		json_object_set_new(o, "stddev_usd",
				    money((int64_t)llround(a->stddev_micro)));
		json_object_set_new(o, "z", json_real(round(a->z * 1e3) / 1e3));
		json_array_append_new(arr, o);
	}
	return arr;
}

size_t af_render_split_by(char *list, char **keys, size_t max)
{
	char *save = NULL, *k;
	size_t n = 0;

	for (k = strtok_r(list, ",", &save); k != NULL;
	     k = strtok_r(NULL, ",", &save)) {
		if (n == max)
			return max + 1;
		keys[n++] = k;
	}
	return n;
}
