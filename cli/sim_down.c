/* af policy simulate --down: the candidate replays with some (model,
 * region) pairs, or whole regions, cooling down; the report says how much
 * traffic loses its primary, what gets denied, and whether any hop would
 * leave the request's allowed regions (it must not). */
#include "cli/sim.h"
#include "common/alloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int sim_parse_down(const char *v, struct sim_args *a)
{
	const char *p = v;

	while (*p != '\0') {
		size_t n = strcspn(p, ",");

		if (n == 0 || n >= sizeof(a->down[0]) ||
		    a->ndown == SIM_DOWN_MAX || p[0] == '@' || p[n - 1] == '@')
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "--down \"%s\": expected REGION or "
					   "MODEL@REGION, comma-separated, at "
					   "most %d",
					   v, SIM_DOWN_MAX);
		memcpy(a->down[a->ndown], p, n);
		a->down[a->ndown++][n] = '\0';
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

static bool matches(const char *spec, const char *model, const char *region)
{
	const char *at = strchr(spec, '@');
	size_t mlen;

	if (at == NULL)
		return strcmp(spec, region) == 0;
	mlen = (size_t)(at - spec);
	return strlen(model) == mlen && strncmp(spec, model, mlen) == 0 &&
	       strcmp(at + 1, region) == 0;
}

static bool is_down(const struct sim_args *a, const char *model,
		    const char *region)
{
	for (int i = 0; i < a->ndown; i++)
		if (matches(a->down[i], model, region))
			return true;
	return false;
}

/* The map of v, built on first use; a spec that matches no pair of the
 * registry is a usage error. */
static int map_of(struct sim *s, const struct af_policy_view *v,
		  const uint8_t **ret)
{
	const struct sim_args *a = s->args;
	uint32_t n = af_policy_view_npairs(v);
	struct sim_down_map *m;
	const char *model, *region;

	for (size_t i = 0; i < s->ndmap; i++)
		if (s->dmap[i].v == v) {
			*ret = s->dmap[i].down;
			return 0;
		}
	if (s->ndmap == SIM_VIEWS_MAX)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE", "too many views");
	m = &s->dmap[s->ndmap];
	m->down = af_calloc(n + 1, 1);
	if (m->down == NULL)
		return af_cli_fail(AF_EXIT_REFUSED, "ENOMEM", "out of memory");
	m->v = v;
	s->ndmap++;
	for (int k = 0; k < a->ndown; k++) {
		bool any = false;

		for (uint32_t i = 0; i < n; i++) {
			af_policy_view_pair(v, i, &model, &region);
			if (matches(a->down[k], model, region))
				m->down[i] = 1, any = true;
		}
		if (!any)
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "--down %s: no model of the "
					   "registry is there",
					   a->down[k]);
	}
	*ret = m->down;
	return 0;
}

static uint32_t d_inflight(void *ctx, uint32_t lane)
{
	const struct sim *s = ctx;

	return s->dctx.inner.lane_inflight(s->dctx.inner.ctx, lane);
}

static uint64_t d_cooldown(void *ctx, uint32_t pair, bool canary)
{
	const struct sim *s = ctx;

	if (s->dctx.down[pair])
		return SIM_DOWN_MS;
	return s->dctx.inner.cooldown_ms(s->dctx.inner.ctx, pair, canary);
}

static uint32_t d_latency(void *ctx, uint32_t pair)
{
	const struct sim *s = ctx;

	return s->dctx.inner.latency_ms(s->dctx.inner.ctx, pair);
}

static enum af_budget_state d_budget(void *ctx, const char *tenant,
				     uint64_t *ret)
{
	const struct sim *s = ctx;

	return s->dctx.inner.budget(s->dctx.inner.ctx, tenant, ret);
}

static void d_workflow(void *ctx, const char *workflow_id,
		       struct af_workflow_state *ret)
{
	const struct sim *s = ctx;

	s->dctx.inner.workflow(s->dctx.inner.ctx, workflow_id, ret);
}

int sim_down_live(struct sim *s, const struct af_policy_view *v,
		  struct af_live *live)
{
	int rc = map_of(s, v, &s->dctx.down);

	if (rc != 0)
		return rc;
	s->dctx.inner = *live;
	*live = (struct af_live){
		.ctx = s,
		.lane_inflight = d_inflight,
		.cooldown_ms = d_cooldown,
		.latency_ms = d_latency,
		.budget = d_budget,
		.workflow = s->dctx.inner.workflow != NULL ? d_workflow : NULL,
		.overrides = s->dctx.inner.overrides,
		.now_ms = s->dctx.inner.now_ms,
		.stale_ms = s->dctx.inner.stale_ms,
	};
	return 0;
}

static bool hop_allowed(struct sim *s, const struct af_policy_view *v,
			bool canary, const struct af_hop *h)
{
	bool ok = true;

	if (af_policy_view_region_allowed(v, s->req, canary, h->region, &ok) !=
	    0)
		return true; /* unknown class: no hop to check */
	return ok;
}

void sim_down_count(struct sim *s, const struct sim_rec *r,
		    const struct af_policy_view *cv,
		    const struct af_decision *bd, int brc,
		    const struct af_decision *cd, int crc)
{
	struct sim_stats *st = &s->st;
	bool bad = false;

	if (brc == 0 && bd->kind == AF_DECISION_ROUTE &&
	    is_down(s->args, bd->primary.model, bd->primary.region))
		st->lost_primary++;
	if (crc != 0 || cd->kind != AF_DECISION_ROUTE)
		return;
	bad = !hop_allowed(s, cv, cd->canary, &cd->primary);
	for (size_t i = 0; i < cd->nfallback && !bad; i++)
		bad = !hop_allowed(s, cv, cd->canary, &cd->fallback[i]);
	if (!bad)
		return;
	st->residency_violations++;
	if (json_array_size(st->residency_ids) < SIM_SAMPLES)
		json_array_append_new(st->residency_ids, json_string(r->id));
}

json_t *sim_down_doc(const struct sim *s)
{
	const struct sim_stats *st = &s->st;
	json_t *down = json_array();

	for (int i = 0; i < s->args->ndown; i++)
		json_array_append_new(down, json_string(s->args->down[i]));
	return json_pack(
		"{s:o,s:I,s:f,s:I,s:I,s:O}", "down", down, "lost_primary",
		(json_int_t)st->lost_primary, "lost_primary_pct",
		st->requests ? 100.0 * (double)st->lost_primary /
				       (double)st->requests
			     : 0.0,
		"denied", (json_int_t)st->route_to_deny, "residency_violations",
		(json_int_t)st->residency_violations, "residency_violation_ids",
		st->residency_ids);
}

void sim_down_table(const struct sim *s)
{
	const struct sim_stats *st = &s->st;

	printf("down                  ");
	for (int i = 0; i < s->args->ndown; i++)
		printf(" %s", s->args->down[i]);
	printf("\nlost primary           %" PRIu64 " (%.2f%%)\n",
	       st->lost_primary,
	       st->requests
		       ? 100.0 * (double)st->lost_primary / (double)st->requests
		       : 0.0);
	printf("denied by the outage   %" PRIu64 "\n", st->route_to_deny);
	printf("residency violations   %" PRIu64 "%s\n",
	       st->residency_violations,
	       st->residency_violations ? " (see -o json)" : "");
}

void sim_down_free(struct sim *s)
{
	for (size_t i = 0; i < s->ndmap; i++)
		af_free(s->dmap[i].down);
	s->ndmap = 0;
}
