/* Replaying a decision record's live inputs (replay.h). */
#include "policy/replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bad(struct af_err *err, const char *what)
{
	return af_errf(err, AF_EPARSE, "live.%s: %s", what,
		       "expected the form routerd's decision log writes");
}

static int uint_of(json_t *v, uint64_t *ret)
{
	json_int_t n;

	if (!json_is_integer(v) || (n = json_integer_value(v)) < 0)
		return -1;
	*ret = (uint64_t)n;
	return 0;
}

static int lanes_parse(json_t *o, struct af_replay_live *rl, struct af_err *err)
{
	const char *k;
	json_t *v;

	if (o == NULL)
		return 0;
	if (!json_is_object(o) || json_object_size(o) > AF_REC_LANES)
		return bad(err, "lanes");
	json_object_foreach(o, k, v)
	{
		struct af_replay_name *n = &rl->lanes[rl->nlanes++];

		n->model = k;
		n->region = NULL;
		if (uint_of(v, &n->value) != 0 || n->value > UINT32_MAX)
			return bad(err, "lanes");
	}
	return 0;
}

/* [{"model","region",<vkey>}] into tab. */
static int pairs_parse(json_t *a, const char *what, const char *vkey,
		       struct af_replay_name *tab, uint32_t cap, uint32_t *n,
		       struct af_err *err)
{
	size_t i;
	json_t *it;

	if (a == NULL)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > cap)
		return bad(err, what);
	json_array_foreach(a, i, it)
	{
		struct af_replay_name *p = &tab[(*n)++];

		p->model = json_string_value(json_object_get(it, "model"));
		p->region = json_string_value(json_object_get(it, "region"));
		if (p->model == NULL || p->region == NULL ||
		    uint_of(json_object_get(it, vkey), &p->value) != 0)
			return bad(err, what);
	}
	return 0;
}

static int lease_parse(json_t *o, struct af_rec_lease *l, struct af_err *err)
{
	json_t *r = json_object_get(o, "retry_after_ms");
	const char *msg = json_string_value(json_object_get(o, "message"));

	l->code = json_string_value(json_object_get(o, "code"));
	if (l->code == NULL || msg == NULL || !json_is_integer(r))
		return bad(err, "budget.lease");
	snprintf(l->message, sizeof(l->message), "%s", msg);
	l->retry_after_ms = json_integer_value(r);
	l->retryable = json_is_true(json_object_get(o, "retryable"));
	l->set = true;
	return 0;
}

static int budget_parse(json_t *o, struct af_replay_live *rl,
			struct af_err *err)
{
	json_t *lease;

	if (o == NULL)
		return 0;
	if (!json_is_object(o))
		return bad(err, "budget");
	if (json_is_true(json_object_get(o, "hard_over")))
		rl->budget = AF_BUDGET_OVER_HARD;
	else if (json_is_true(json_object_get(o, "soft_over")))
		rl->budget = AF_BUDGET_OVER_SOFT;
	if (json_object_get(o, "retry_after_ms") != NULL &&
	    uint_of(json_object_get(o, "retry_after_ms"),
		    &rl->budget_retry_ms) != 0)
		return bad(err, "budget.retry_after_ms");
	lease = json_object_get(o, "lease");
	return lease != NULL ? lease_parse(lease, &rl->lease, err) : 0;
}

/* {} (no workflow signal) or {"hops","inflight","tokens","cost_nano_usd"}. */
static int workflow_parse(json_t *o, struct af_replay_live *rl,
			  struct af_err *err)
{
	struct af_workflow_state *w = &rl->workflow;
	uint64_t cost;

	if (o == NULL || (json_is_object(o) && json_object_size(o) == 0))
		return 0;
	if (!json_is_object(o) ||
	    uint_of(json_object_get(o, "hops"), &w->hops) != 0 ||
	    uint_of(json_object_get(o, "inflight"), &w->inflight) != 0 ||
	    uint_of(json_object_get(o, "tokens"), &w->tokens) != 0 ||
	    uint_of(json_object_get(o, "cost_nano_usd"), &cost) != 0 ||
	    cost > INT64_MAX)
		return bad(err, "workflow");
	w->cost_nano_usd = (int64_t)cost;
	rl->has_workflow = true;
	return 0;
}

/* "stale_ms" (absent: fresh) and "overrides" (absent: none), the items
 * in the form of an override file's. */
static int overrides_parse(json_t *live, struct af_replay_live *rl,
			   struct af_err *err)
{
	json_t *st = json_object_get(live, "stale_ms");
	json_t *ov = json_object_get(live, "overrides");
	struct af_err oerr = {{0}};
	char *text;
	int rc;

	if (st != NULL && uint_of(st, &rl->stale_ms) != 0)
		return bad(err, "stale_ms");
	if (ov == NULL)
		return 0;
	if (!json_is_array(ov) || json_array_size(ov) > AF_OVERRIDE_MAX)
		return bad(err, "overrides");
	text = json_dumps(ov, JSON_COMPACT);
	if (text == NULL)
		return af_errf(err, AF_ENOMEM, "live.overrides: out of memory");
	rc = af_override_parse_json("live.overrides", text, strlen(text),
				    &rl->ov, &oerr);
	free(text);
	if (rc != 0)
		return af_errf(err, AF_EPARSE, "%s", oerr.msg);
	return 0;
}

int af_replay_live_parse(json_t *live, struct af_replay_live *rl,
			 struct af_err *err)
{
	int rc;

	rl->nlanes = rl->ncool = rl->nlat = 0;
	rl->budget = AF_BUDGET_OK;
	rl->budget_retry_ms = 0;
	rl->lease.set = false;
	rl->has_workflow = false;
	rl->ov.n = 0;
	rl->stale_ms = 0;
	rl->v = NULL;
	if (live == NULL || json_is_null(live))
		return 0;
	if (!json_is_object(live))
		return af_errf(err, AF_EPARSE, "live: expected an object");
	rc = lanes_parse(json_object_get(live, "lanes"), rl, err);
	if (rc == 0)
		rc = pairs_parse(json_object_get(live, "cooldowns"),
				 "cooldowns", "remaining_ms", rl->cool,
				 AF_REC_COOL, &rl->ncool, err);
	if (rc == 0)
		rc = pairs_parse(json_object_get(live, "latency_ms"),
				 "latency_ms", "ms", rl->lat, AF_REC_LAT,
				 &rl->nlat, err);
	if (rc == 0)
		rc = budget_parse(json_object_get(live, "budget"), rl, err);
	if (rc == 0)
		rc = workflow_parse(json_object_get(live, "workflow"), rl, err);
	if (rc == 0)
		rc = overrides_parse(live, rl, err);
	return rc;
}

static uint64_t find(const int32_t *ids, const struct af_replay_name *tab,
		     uint32_t n, uint32_t id)
{
	for (uint32_t i = 0; i < n; i++)
		if (ids[i] == (int32_t)id)
			return tab[i].value;
	return 0;
}

static uint32_t rp_inflight(void *ctx, uint32_t lane_id)
{
	const struct af_replay_live *rl = ctx;

	return (uint32_t)find(rl->lane_id, rl->lanes, rl->nlanes, lane_id);
}

/* The record holds the cooldowns of its own cohort: they apply to the
 * replayed decision whatever cohort the replaying view gives it. */
static uint64_t rp_cooldown(void *ctx, uint32_t pair, bool canary)
{
	const struct af_replay_live *rl = ctx;

	(void)canary;
	return find(rl->cool_id, rl->cool, rl->ncool, pair);
}

static uint32_t rp_latency(void *ctx, uint32_t pair)
{
	const struct af_replay_live *rl = ctx;

	return (uint32_t)find(rl->lat_id, rl->lat, rl->nlat, pair);
}

static enum af_budget_state rp_budget(void *ctx, const char *tenant,
				      uint64_t *ret_retry_after_ms)
{
	const struct af_replay_live *rl = ctx;

	(void)tenant;
	*ret_retry_after_ms = rl->budget_retry_ms;
	return rl->budget;
}

static void rp_workflow(void *ctx, const char *workflow_id,
			struct af_workflow_state *ret)
{
	const struct af_replay_live *rl = ctx;

	(void)workflow_id;
	*ret = rl->workflow;
}

void af_replay_live_bind(struct af_replay_live *rl,
			 const struct af_policy_view *v, struct af_live *ret)
{
	if (rl->v != v) {
		for (uint32_t i = 0; i < rl->nlanes; i++)
			rl->lane_id[i] =
				af_policy_view_lane_id(v, rl->lanes[i].model);
		for (uint32_t i = 0; i < rl->ncool; i++)
			rl->cool_id[i] = af_policy_view_pair_id(
				v, rl->cool[i].model, rl->cool[i].region);
		for (uint32_t i = 0; i < rl->nlat; i++)
			rl->lat_id[i] = af_policy_view_pair_id(
				v, rl->lat[i].model, rl->lat[i].region);
		rl->v = v;
	}
	*ret = (struct af_live){
		.ctx = rl,
		.lane_inflight = rp_inflight,
		.cooldown_ms = rp_cooldown,
		.latency_ms = rp_latency,
		.budget = rp_budget,
		.workflow = rl->has_workflow ? rp_workflow : NULL,
		.overrides = rl->ov.n > 0 ? &rl->ov : NULL,
		.stale_ms = rl->stale_ms,
	};
}

void af_replay_lease(const struct af_replay_live *rl, struct af_decision *d)
{
	if (!rl->lease.set || d->kind != AF_DECISION_ROUTE)
		return;
	d->kind = AF_DECISION_DENY;
	d->nfallback = 0;
	d->code = rl->lease.code;
	memcpy(d->message, rl->lease.message, sizeof(d->message));
	d->retry_after_ms = rl->lease.retry_after_ms;
	d->retryable = rl->lease.retryable;
}

void af_live_rec_replay(const struct af_live_rec *rec,
			struct af_replay_live *rl)
{
	rl->nlanes = rl->ncool = rl->nlat = 0;
	for (uint32_t i = 0; i < rec->nlanes; i++) {
		struct af_replay_name *n = &rl->lanes[rl->nlanes++];

		n->model = af_policy_view_lane_name(rec->v, rec->lanes[i].id);
		n->region = NULL;
		n->value = rec->lanes[i].inflight;
	}
	for (uint32_t i = 0; i < rec->ncool; i++) {
		struct af_replay_name *n = &rl->cool[rl->ncool++];

		af_policy_view_pair(rec->v, rec->cool[i].id, &n->model,
				    &n->region);
		n->value = rec->cool[i].value;
	}
	for (uint32_t i = 0; i < rec->nlat; i++) {
		struct af_replay_name *n = &rl->lat[rl->nlat++];

		af_policy_view_pair(rec->v, rec->lat[i].id, &n->model,
				    &n->region);
		n->value = rec->lat[i].value;
	}
	rl->budget = rec->budget_read ? rec->budget : AF_BUDGET_OK;
	rl->budget_retry_ms = rec->budget_read ? rec->budget_retry_ms : 0;
	rl->lease = rec->lease;
	rl->has_workflow = rec->workflow_read;
	rl->workflow = rec->workflow;
	rl->v = NULL;
}

const char *af_decision_deny_code(const struct af_decision *d, int rc)
{
	if (rc != 0)
		return "UNKNOWN_CLASS";
	return d->kind == AF_DECISION_DENY && d->code ? d->code : "";
}

unsigned af_decision_changes(const struct af_decision *base, int brc,
			     const struct af_decision *cand, int crc)
{
	bool bdeny = brc != 0 || base->kind == AF_DECISION_DENY;
	bool cdeny = crc != 0 || cand->kind == AF_DECISION_DENY;
	unsigned ch = 0;

	if (!bdeny && !cdeny) {
		if (strcmp(base->primary.model, cand->primary.model) != 0)
			ch |= AF_CHANGE_MODEL;
		if (strcmp(base->primary.tier, cand->primary.tier) != 0)
			ch |= AF_CHANGE_TIER;
		if (strcmp(base->primary.region, cand->primary.region) != 0)
			ch |= AF_CHANGE_REGION;
	} else if (!bdeny) {
		ch = AF_CHANGE_ROUTE_TO_DENY;
	} else if (!cdeny) {
		ch = AF_CHANGE_DENY_TO_ROUTE;
	} else if (strcmp(af_decision_deny_code(base, brc),
			  af_decision_deny_code(cand, crc)) != 0) {
		ch = AF_CHANGE_DENY_CODE;
	}
	return ch;
}
