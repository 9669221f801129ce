/* Recording the live inputs of a decision and replaying them (replay.h). */
#include "common/hash.h"
#include "policy/jsonw.h"
#include "policy/pack.h"
#include "policy/replay.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* What decide.c assumes when the live state says cooling but not for how
 * long (its COOL_UNKNOWN_MS). */
#define REC_COOL_UNKNOWN_MS 1000

/* ---------------------------------------------------------- recording */

static uint32_t rec_inflight(void *ctx, uint32_t lane_id)
{
	struct af_live_rec *rec = ctx;
	const struct af_live *in = rec->inner;
	uint32_t n =
		in->lane_inflight ? in->lane_inflight(in->ctx, lane_id) : 0;

	for (uint32_t i = 0; i < rec->nlanes; i++)
		if (rec->lanes[i].id == lane_id)
			return n;
	if (rec->nlanes < AF_REC_LANES)
		rec->lanes[rec->nlanes++] = (struct af_rec_lane){lane_id, n};
	else
		rec->truncated++;
	return n;
}

static void put_pair(struct af_live_rec *rec, struct af_rec_pair *tab,
		     uint32_t *n, uint32_t cap, uint32_t id, uint64_t value)
{
	for (uint32_t i = 0; i < *n; i++)
		if (tab[i].id == id)
			return;
	if (*n < cap)
		tab[(*n)++] = (struct af_rec_pair){id, value};
	else
		rec->truncated++;
}

static uint64_t rec_cooldown(void *ctx, uint32_t pair, bool canary)
{
	struct af_live_rec *rec = ctx;
	const struct af_live *in = rec->inner;
	uint64_t ms = 0;

	if (in->cooldown_ms != NULL)
		ms = in->cooldown_ms(in->ctx, pair, canary);
	else if (in->cooling != NULL && in->cooling(in->ctx, pair))
		ms = REC_COOL_UNKNOWN_MS;
	if (ms > 0)
		put_pair(rec, rec->cool, &rec->ncool, AF_REC_COOL, pair, ms);
	return ms;
}

static uint32_t rec_latency(void *ctx, uint32_t pair)
{
	struct af_live_rec *rec = ctx;
	const struct af_live *in = rec->inner;
	uint32_t ms = in->latency_ms ? in->latency_ms(in->ctx, pair) : 0;

	if (ms > 0)
		put_pair(rec, rec->lat, &rec->nlat, AF_REC_LAT, pair, ms);
	return ms;
}

static enum af_budget_state rec_budget(void *ctx, const char *tenant,
				       uint64_t *ret_retry_after_ms)
{
	struct af_live_rec *rec = ctx;
	const struct af_live *in = rec->inner;

	*ret_retry_after_ms = 0;
	rec->budget = in->budget
			      ? in->budget(in->ctx, tenant, ret_retry_after_ms)
			      : AF_BUDGET_OK;
	rec->budget_retry_ms = *ret_retry_after_ms;
	rec->budget_read = true;
	return rec->budget;
}

static void rec_workflow(void *ctx, const char *workflow_id,
			 struct af_workflow_state *ret)
{
	struct af_live_rec *rec = ctx;
	const struct af_live *in = rec->inner;

	in->workflow(in->ctx, workflow_id, ret);
	rec->workflow = *ret;
	rec->workflow_read = true;
}

void af_live_rec_wrap(struct af_live_rec *rec, const struct af_live *inner,
		      const struct af_policy_view *v, struct af_live *ret)
{
	static const struct af_live none;

	rec->inner = inner != NULL ? inner : &none;
	rec->v = v;
	rec->canary = false;
	rec->nlanes = rec->ncool = rec->nlat = rec->truncated = 0;
	rec->budget_read = false;
	rec->budget = AF_BUDGET_OK;
	rec->budget_retry_ms = 0;
	rec->lease.set = false;
	rec->workflow_read = false;
	rec->ov.n = 0;
	rec->stale_ms = 0;
	*ret = (struct af_live){
		.ctx = rec,
		.lane_inflight = rec_inflight,
		.cooldown_ms = rec_cooldown,
		.latency_ms = rec_latency,
		.budget = rec_budget,
		.workflow = rec->inner->workflow ? rec_workflow : NULL,
	};
}

void af_live_rec_overrides(struct af_live_rec *rec, const struct af_live *live,
			   const struct af_request *req)
{
	const struct af_override_set *set = live->overrides;

	rec->ov.n = 0;
	rec->stale_ms = live->stale_ms;
	for (size_t i = 0; set != NULL && i < set->n && i < AF_OVERRIDE_MAX;
	     i++) {
		const struct af_override *o = &set->ov[i];

		if (af_override_in_scope(o, req->tenant, req->class_name,
					 live->now_ms))
			rec->ov.ov[rec->ov.n++] = *o;
	}
}

void af_live_rec_finish(struct af_live_rec *rec, const struct af_decision *d)
{
	const struct af_live *in = rec->inner;
	uint32_t n = af_policy_view_nlanes(rec->v), known = rec->nlanes;

	rec->canary = d->canary;
	if (in->lane_inflight == NULL)
		return;
	for (uint32_t id = 0; id < n; id++) {
		uint32_t c;
		bool seen = false;

		for (uint32_t i = 0; i < known && !seen; i++)
			seen = rec->lanes[i].id == id;
		if (seen || (c = in->lane_inflight(in->ctx, id)) == 0)
			continue;
		if (rec->nlanes == AF_REC_LANES) {
			rec->truncated++;
			return;
		}
		rec->lanes[rec->nlanes++] = (struct af_rec_lane){id, c};
	}
}

/* The fields side by side: [inner, lanes), [budget_read, ov), and
 * after ov's entries stale_ms; the arrays in between by their counts. */
#define REC_HEAD offsetof(struct af_live_rec, lanes)
#define REC_MID                                                                \
	(offsetof(struct af_live_rec, ov) -                                    \
	 offsetof(struct af_live_rec, budget_read))

_Static_assert(offsetof(struct af_live_rec, lanes) <
			       offsetof(struct af_live_rec, cool) &&
		       offsetof(struct af_live_rec, cool) <
			       offsetof(struct af_live_rec, lat) &&
		       offsetof(struct af_live_rec, lat) <
			       offsetof(struct af_live_rec, budget_read) &&
		       offsetof(struct af_live_rec, budget_read) <
			       offsetof(struct af_live_rec, ov) &&
		       offsetof(struct af_live_rec, ov) <
			       offsetof(struct af_live_rec, stale_ms) &&
		       offsetof(struct af_live_rec, stale_ms) +
				       sizeof(uint64_t) ==
			       sizeof(struct af_live_rec),
	       "af_live_rec_pack: the fields' order changed");

size_t af_live_rec_pack(const struct af_live_rec *rec, uint8_t *buf, size_t cap)
{
	struct pk k = {.p = buf, .left = cap};

	pk_put(&k, rec, REC_HEAD);
	pk_put(&k, rec->lanes, rec->nlanes * sizeof(rec->lanes[0]));
	pk_put(&k, rec->cool, rec->ncool * sizeof(rec->cool[0]));
	pk_put(&k, rec->lat, rec->nlat * sizeof(rec->lat[0]));
	pk_put(&k, &rec->budget_read, REC_MID);
	pk_put(&k, &rec->ov.version, sizeof(rec->ov.version));
	pk_put(&k, &rec->ov.n, sizeof(rec->ov.n));
	pk_put(&k, rec->ov.ov, rec->ov.n * sizeof(rec->ov.ov[0]));
	pk_put(&k, &rec->stale_ms, sizeof(rec->stale_ms));
	return k.bad ? 0 : cap - k.left;
}

size_t af_live_rec_unpack(const uint8_t *buf, size_t len,
			  struct af_live_rec *ret)
{
	struct pk k = {.q = buf, .left = len};

	pk_get(&k, ret, REC_HEAD);
	if (ret->nlanes > AF_REC_LANES || ret->ncool > AF_REC_COOL ||
	    ret->nlat > AF_REC_LAT)
		k.bad = true;
	pk_get(&k, ret->lanes, k.bad ? 0 : ret->nlanes * sizeof(ret->lanes[0]));
	pk_get(&k, ret->cool, k.bad ? 0 : ret->ncool * sizeof(ret->cool[0]));
	pk_get(&k, ret->lat, k.bad ? 0 : ret->nlat * sizeof(ret->lat[0]));
	pk_get(&k, &ret->budget_read, REC_MID);
	pk_get(&k, &ret->ov.version, sizeof(ret->ov.version));
	pk_get(&k, &ret->ov.n, sizeof(ret->ov.n));
	if (ret->ov.n > AF_OVERRIDE_MAX)
		k.bad = true;
	pk_get(&k, ret->ov.ov, k.bad ? 0 : ret->ov.n * sizeof(ret->ov.ov[0]));
	pk_get(&k, &ret->stale_ms, sizeof(ret->stale_ms));
	if (k.bad)
		ret->nlanes = ret->ncool = ret->nlat = 0, ret->ov.n = 0;
	return k.bad ? 0 : len - k.left;
}

void af_live_rec_lease(struct af_live_rec *rec, const struct af_decision *d)
{
	rec->lease.set = true;
	rec->lease.code = d->code;
	memcpy(rec->lease.message, d->message, sizeof(rec->lease.message));
	rec->lease.retry_after_ms = d->retry_after_ms;
	rec->lease.retryable = d->retryable;
}

static void pair_obj(struct w *w, const struct af_policy_view *v, uint32_t id)
{
	const char *model, *region;

	af_policy_view_pair(v, id, &model, &region);
	lit(w, "{\"model\":");
	str(w, model);
	lit(w, ",\"region\":");
	str(w, region);
}

static void lease_obj(struct w *w, const struct af_rec_lease *l)
{
	lit(w, ",\"lease\":{\"code\":");
	str(w, l->code != NULL ? l->code : "");
	lit(w, ",\"message\":");
	str(w, l->message);
	lit(w, l->retryable ? ",\"retryable\":true" : ",\"retryable\":false");
	lit(w, ",\"retry_after_ms\":");
	i64(w, l->retry_after_ms);
	lit(w, "}");
}

/* ,"overrides":[{"id",scope,effect,"expires"}...] and ,"stale_ms" when
 * the decision had them. */
static void overrides_obj(struct w *w, const struct af_live_rec *rec)
{
	char m[1024], when[32];

	if (rec->stale_ms > 0) {
		lit(w, ",\"stale_ms\":");
		u64(w, rec->stale_ms);
	}
	if (rec->ov.n == 0)
		return;
	lit(w, ",\"overrides\":[");
	for (size_t i = 0; i < rec->ov.n; i++) {
		const struct af_override *o = &rec->ov.ov[i];
		time_t t = (time_t)((o->expires_ms + 999) / 1000);
		struct tm tm;

		if (af_override_json_members(o, m, sizeof(m)) == 0) {
			w->full = true;
			return;
		}
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		lit(w, i > 0 ? ",{\"id\":" : "{\"id\":");
		str(w, o->id);
		lit(w, ",");
		lit(w, m);
		lit(w, ",\"expires\":");
		str(w, when);
		lit(w, "}");
	}
	lit(w, "]");
}

int af_live_rec_json(const struct af_live_rec *rec, char *buf, size_t len,
		     size_t *ret_len)
{
	struct w w = {.p = buf, .left = len};

	lit(&w, "{\"lanes\":{");
	for (uint32_t i = 0; i < rec->nlanes; i++) {
		if (i > 0)
			lit(&w, ",");
		str(&w, af_policy_view_lane_name(rec->v, rec->lanes[i].id));
		lit(&w, ":");
		u64(&w, rec->lanes[i].inflight);
	}
	lit(&w, "},\"cooldowns\":[");
	for (uint32_t i = 0; i < rec->ncool; i++) {
		lit(&w, i > 0 ? "," : "");
		pair_obj(&w, rec->v, rec->cool[i].id);
		lit(&w, rec->canary ? ",\"cohort\":\"canary\""
				    : ",\"cohort\":\"stable\"");
		lit(&w, ",\"remaining_ms\":");
		u64(&w, rec->cool[i].value);
		lit(&w, "}");
	}
	lit(&w, "],\"latency_ms\":[");
	for (uint32_t i = 0; i < rec->nlat; i++) {
		lit(&w, i > 0 ? "," : "");
		pair_obj(&w, rec->v, rec->lat[i].id);
		lit(&w, ",\"ms\":");
		u64(&w, rec->lat[i].value);
		lit(&w, "}");
	}
	lit(&w, "],\"budget\":{\"soft_over\":");
	lit(&w, rec->budget == AF_BUDGET_OVER_SOFT ? "true" : "false");
	lit(&w, ",\"hard_over\":");
	lit(&w, rec->budget == AF_BUDGET_OVER_HARD ? "true" : "false");
	lit(&w, ",\"retry_after_ms\":");
	u64(&w, rec->budget_retry_ms);
	if (rec->lease.set)
		lease_obj(&w, &rec->lease);
	lit(&w, "},\"workflow\":{");
	if (rec->workflow_read) {
		lit(&w, "\"hops\":");
		u64(&w, rec->workflow.hops);
		lit(&w, ",\"inflight\":");
		u64(&w, rec->workflow.inflight);
		lit(&w, ",\"tokens\":");
		u64(&w, rec->workflow.tokens);
		lit(&w, ",\"cost_nano_usd\":");
		i64(&w, rec->workflow.cost_nano_usd);
	}
	lit(&w, "}");
	overrides_obj(&w, rec);
	if (rec->truncated > 0) {
		lit(&w, ",\"truncated\":");
		u64(&w, rec->truncated);
	}
	lit(&w, "}");
	if (w.full || w.left == 0)
		return AF_ETOOBIG;
	*w.p = '\0';
	*ret_len = len - w.left;
	return 0;
}

/* ------------------------------------------------------------ masking */

void af_mask_value(const char *s, char out[AF_MASKED_LEN])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t d[AF_SHA256_LEN];

	af_sha256(s, strlen(s), d);
	memcpy(out, "sha256:", 7);
	for (size_t i = 0; i < 8; i++) {
		out[7 + 2 * i] = hex[d[i] >> 4];
		out[8 + 2 * i] = hex[d[i] & 15];
	}
	out[23] = '\0';
}

static bool masked(const char *const *mask, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(mask[i], path) == 0)
			return true;
	return false;
}

struct mctx {
	struct w *w;
	const char *const *mask;
	size_t nmask;
	bool first;
};

/* Writes "name":"value" (masked when listed) for a non-empty value. */
static void mfield(struct mctx *m, const char *name, const char *value)
{
	char h[AF_MASKED_LEN];

	if (value[0] == '\0')
		return;
	lit(m->w, m->first ? "\"" : ",\"");
	m->first = false;
	lit(m->w, name);
	lit(m->w, "\":");
	if (masked(m->mask, m->nmask, name)) {
		af_mask_value(value, h);
		str(m->w, h);
	} else {
		str(m->w, value);
	}
}

static void nfield(struct mctx *m, const char *name, int64_t v)
{
	if (v == AF_REQ_ABSENT)
		return;
	lit(m->w, m->first ? "\"" : ",\"");
	m->first = false;
	lit(m->w, name);
	lit(m->w, "\":");
	i64(m->w, v);
}

static void labels(struct mctx *m, const struct af_request *r)
{
	char path[AF_POLICY_LABEL_KEY_MAX + 8], h[AF_MASKED_LEN];

	lit(m->w, ",\"labels\":{");
	for (size_t i = 0; i < r->nlabels; i++) {
		if (i > 0)
			lit(m->w, ",");
		str(m->w, r->labels[i].key);
		lit(m->w, ":");
		snprintf(path, sizeof(path), "labels.%s", r->labels[i].key);
		if (masked(m->mask, m->nmask, path)) {
			af_mask_value(r->labels[i].value, h);
			str(m->w, h);
		} else {
			str(m->w, r->labels[i].value);
		}
	}
	lit(m->w, "}");
}

int af_request_json(const struct af_request *r, const char *const *mask,
		    size_t nmask, char *buf, size_t len, size_t *ret_len)
{
	struct w w = {.p = buf, .left = len};
	struct mctx m = {&w, mask, nmask, true};
	char usd[32];

	lit(&w, "{");
	mfield(&m, "workflow_id", r->workflow_id);
	mfield(&m, "tenant", r->tenant);
	mfield(&m, "class", r->class_name);
	mfield(&m, "sensitivity", r->sensitivity);
	mfield(&m, "agent_role", r->agent_role);
	mfield(&m, "region", r->region);
	nfield(&m, "latency_slo_ms", r->latency_slo_ms);
	if (r->max_cost_micro_usd != AF_REQ_ABSENT) {
		lit(&w, ",\"max_cost_usd\":");
		raw(&w, usd,
		    af_policy_fmt_usd(r->max_cost_micro_usd * 1000, usd));
	}
	nfield(&m, "input_tokens", r->input_tokens);
	nfield(&m, "output_tokens", r->output_tokens);
	nfield(&m, "cached_input_tokens", r->cached_input_tokens);
	nfield(&m, "fanout", r->fanout);
	nfield(&m, "tool_calls", r->tool_calls);
	nfield(&m, "attempt", r->attempt);
	if (r->nneeds > 0) {
		lit(&w, ",\"needs\":[");
		for (size_t i = 0; i < r->nneeds; i++) {
			lit(&w, i > 0 ? "," : "");
			str(&w, r->needs[i]);
		}
		lit(&w, "]");
	}
	if (r->nlabels > 0)
		labels(&m, r);
	lit(&w, "}");
	if (w.full || w.left == 0)
		return AF_ETOOBIG;
	*w.p = '\0';
	*ret_len = len - w.left;
	return 0;
}
