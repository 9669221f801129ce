/* af_decide(): the ten decision steps of docs/policy.md. Pure; no allocation.
 */
#include "policy/decide_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

/* ----------------------------------------------------------- helpers */

static int resolve(const struct af_policy_view *v, const struct af_request *req,
		   bool canary, struct rctx *r)
{
	const struct vbundle *vb = &v->b[canary ? 1 : 0];
	const struct vclass *cls;

	memset(r, 0, sizeof(*r));
	r->v = v;
	r->req = req;
	r->vb = vb;
	r->cls_idx = intern_find(&vb->classes, req->class_name);
	if (r->cls_idx == NONE)
		return AF_ENOTFOUND;
	r->cls = cls = &vb->cls[r->cls_idx];
	/* Step 2: class defaults fill absent request fields. */
	r->latency = req->latency_slo_ms >= 0 ? req->latency_slo_ms
					      : cls->latency_slo_ms;
	r->max_cost = req->max_cost_micro_usd >= 0 ? req->max_cost_micro_usd
						   : cls->max_cost_micro;
	if (req->sensitivity[0] != '\0') {
		r->sens = intern_find(&v->sens, req->sensitivity);
		r->sens_name = req->sensitivity;
	} else {
		r->sens = vb->default_sens;
		r->sens_name = r->sens != NONE ? v->sens.names[r->sens] : "";
	}
	r->region =
		req->region[0] ? intern_find(&v->regions, req->region) : NONE;
	r->input = req->input_tokens > 0 ? req->input_tokens : 0;
	r->output = req->output_tokens > 0 ? req->output_tokens : 0;
	r->cached = req->cached_input_tokens > 0 &&
				    req->cached_input_tokens <= r->input
			    ? req->cached_input_tokens
			    : 0;
	r->fanout = req->fanout > 0 ? req->fanout : 0;
	r->tool_calls = req->tool_calls > 0 ? req->tool_calls : 0;
	r->attempt = req->attempt > 0 ? req->attempt : 0;
	for (size_t i = 0; i < req->nneeds && i < AF_REQ_MAX_NEEDS; i++) {
		uint32_t id = intern_find(&v->caps, req->needs[i]);

		if (id == NONE)
			r->needs_unknown = true;
		else
			r->needs |= 1ull << id;
	}
	return 0;
}

/* Step 3. Returns true when a cap denied. */
static bool caps(const struct rctx *r, const struct af_live *live,
		 uint32_t inflight, enum af_budget_state budget,
		 uint64_t retry_after, struct af_decision *d)
{
	const struct vclass *c = r->cls;

	if (c->max_fanout >= 0 && r->fanout > c->max_fanout)
		decide_deny(d, AF_DENY_FANOUT_CAP, NULL,
			    "fanout %lld exceeds max_fanout %lld of class %s",
			    (long long)r->fanout, (long long)c->max_fanout,
			    c->name);
	else if (c->max_tool_calls >= 0 && r->tool_calls > c->max_tool_calls)
		decide_deny(d, "TOOL_CALL_CAP", NULL,
			    "tool_calls %lld exceeds max_tool_calls %lld of "
			    "class %s",
			    (long long)r->tool_calls,
			    (long long)c->max_tool_calls, c->name);
	else if (r->attempt > c->max_retries)
		decide_deny(d, "RETRY_LIMIT", NULL,
			    "attempt %lld exceeds max_retries %lld of class %s",
			    (long long)r->attempt, (long long)c->max_retries,
			    c->name);
	else if (decide_workflow_caps(r, d))
		return true;
	else if (!c->critical && (int64_t)inflight >= c->max_inflight) {
		decide_deny(
			d, AF_DENY_LANE_SATURATED, NULL,
			"lane %s is saturated: %u in flight, max_inflight %lld",
			r->v->lanes.names[c->lane], inflight,
			(long long)c->max_inflight);
		d->retryable = true;
		d->retry_after_ms = decide_lane_retry_ms(r->latency);
	} else if (budget == AF_BUDGET_OVER_HARD) {
		decide_deny(
			d, AF_DENY_BUDGET_EXCEEDED, NULL,
			"tenant %s has spent its hard budget for this period",
			r->req->tenant);
		d->retry_after_ms =
			(int64_t)(retry_after > INT64_MAX ? INT64_MAX
							  : retry_after);
	} else
		return false;
	(void)live;
	return true;
}

/* ------------------------------------------------------ candidates */

struct cand {
	uint32_t pair, model, rank, latency;
	uint8_t pref, status;
	int64_t cost;
};

#define MAX_PICK (AF_POLICY_MAX_FALLBACKS + 1)

struct sel {
	const struct rctx *r;
	const struct af_live *live;
	bool canary; /* cohort: whose cooldowns count */
	uint64_t allowed;
	size_t k, n;
	struct cand out[MAX_PICK];
	bool but_region, but_cost, but_context, but_cooling;
	uint64_t cool_min_ms; /* first cooldown end among those */
	struct af_explain *x;
	unsigned tiers_denied, tiers_scanned; /* by an override, or not */
	uint64_t denied_mask;		      /* view tier ids skipped */
};

/* Cooldown fallback when the live state says cooling but not for how
 * long (the `cooling` callback only). */
#define COOL_UNKNOWN_MS 1000

/* Milliseconds the pair cools down for the cohort (0: not cooling). */
static uint64_t cool_ms(const struct af_live *live, uint32_t pair, bool canary)
{
	if (live->cooldown_ms != NULL)
		return live->cooldown_ms(live->ctx, pair, canary);
	if (live->cooling != NULL && live->cooling(live->ctx, pair))
		return COOL_UNKNOWN_MS;
	return 0;
}

/* Step 8: does a come before b? */
static bool before(const struct cand *a, const struct cand *b)
{
	if (a->pref != b->pref)
		return a->pref < b->pref;
	if (a->status != b->status)
		return a->status < b->status;
	if (a->cost != b->cost)
		return a->cost < b->cost;
	if (a->latency != b->latency)
		return a->latency < b->latency;
	if (a->model != b->model)
		return a->model < b->model;
	return a->rank < b->rank;
}

static void insert(struct cand *top, size_t *n, size_t cap,
		   const struct cand *c)
{
	size_t i = *n;

	if (cap == 0)
		return;
	if (i == cap) {
		if (!before(c, &top[cap - 1]))
			return;
		i = cap - 1;
	} else {
		(*n)++;
	}
	while (i > 0 && before(c, &top[i - 1])) {
		top[i] = top[i - 1];
		i--;
	}
	top[i] = *c;
}

/* A candidate that qualifies but for its cooldown of `left` ms. */
static void cooling_seen(struct sel *s, uint64_t left)
{
	s->but_cooling = true;
	if (s->cool_min_ms == 0 || left < s->cool_min_ms)
		s->cool_min_ms = left;
}

/* Step 7 filters for one pair; returns AF_DROP_* bits. */
static unsigned filters(struct sel *s, const struct vmodel *m,
			const struct vpair *p, uint32_t pair, int64_t cost)
{
	const struct rctx *r = s->r;
	unsigned drops = 0;

	if (m->status == AF__POLICY__STATUS__STATUS_DISABLED)
		return AF_DROP_DISABLED;
	if (r->needs_unknown || (m->caps & r->needs) != r->needs)
		drops |= AF_DROP_CAPABILITY;
	if (m->context_limit < r->input + r->output)
		drops |= AF_DROP_CONTEXT;
	if (!((s->allowed >> p->region) & 1))
		drops |= AF_DROP_REGION;
	if (r->max_cost >= 0 && cost > r->max_cost * 1000)
		drops |= AF_DROP_COST;
	if (drops == 0 || drops == AF_DROP_REGION || drops == AF_DROP_COST ||
	    drops == AF_DROP_CONTEXT) {
		uint64_t left = cool_ms(s->live, pair, s->canary);

		if (left > 0) {
			drops |= AF_DROP_COOLING;
			if (drops == AF_DROP_COOLING)
				cooling_seen(s, left);
		}
	}
	return drops;
}

static void record(struct sel *s, const struct vmodel *m, const struct vpair *p,
		   unsigned drops, int64_t cost)
{
	struct af_explain *x = s->x;

	if (x->ncands < x->cands_cap) {
		struct af_explain_cand *e = &x->cands[x->ncands];

		e->model = m->id;
		e->tier = m->tier_name;
		e->region = s->r->v->regions.names[p->region];
		e->drops = drops;
		e->position = -1;
		e->est_cost_nano_usd = cost;
	}
	x->ncands++;
}

static void scan_tier(struct sel *s, uint32_t tier)
{
	const struct af_policy_view *v = s->r->v;
	struct cand top[MAX_PICK];
	size_t ntop = 0, want = s->k - s->n;

	for (uint32_t i = v->tier_start[tier]; i < v->tier_start[tier + 1];
	     i++) {
		uint32_t pair = v->tier_pairs[i];
		const struct vpair *p = &v->pairs[pair];
		const struct vmodel *m = &v->models[p->model];
		int64_t cost = DECIDE_COST(s->r, m);
		unsigned drops = filters(s, m, p, pair, cost);

		s->but_region |= drops == AF_DROP_REGION;
		s->but_cost |= drops == AF_DROP_COST;
		s->but_context |= drops == AF_DROP_CONTEXT;
		if (s->x != NULL)
			record(s, m, p, drops, cost);
		if (drops != 0 || want == 0)
			continue;
		struct cand c = {
			.pair = pair,
			.model = p->model,
			.rank = v->region_rank[p->region],
			.pref = p->region != s->r->region,
			.status =
				m->status != AF__POLICY__STATUS__STATUS_ACTIVE,
			.cost = cost,
			.latency = s->live->latency_ms
					   ? s->live->latency_ms(s->live->ctx,
								 pair)
					   : 0,
		};
		insert(top, &ntop, want, &c);
	}
	memcpy(&s->out[s->n], top, ntop * sizeof(*top));
	s->n += ntop;
}

static void set_hop(const struct af_policy_view *v, const struct cand *c,
		    struct af_hop *h)
{
	const struct vpair *p = &v->pairs[c->pair];
	const struct vmodel *m = &v->models[p->model];

	h->model = m->id;
	h->provider = m->provider;
	h->tier = m->tier_name;
	h->region = v->regions.names[p->region];
}

static void mark_positions(struct sel *s, struct af_decision *d)
{
	struct af_explain *x = s->x;
	size_t n = x->ncands < x->cands_cap ? x->ncands : x->cands_cap;

	for (size_t i = 0; i < n; i++) {
		struct af_explain_cand *e = &x->cands[i];

		if (e->drops != 0)
			continue;
		e->drops = AF_DROP_LIMIT;
		for (size_t j = 0; j < s->n; j++) {
			const struct af_hop *h =
				j == 0 ? &d->primary : &d->fallback[j - 1];

			if (h->model == e->model && h->region == e->region) {
				e->drops = 0;
				e->position = (int)j;
			}
		}
	}
}

static void no_candidate(const struct sel *s, const struct vrule *rule,
			 struct af_decision *d)
{
	const struct rctx *r = s->r;
	char usd[32];

	if (s->tiers_denied > 0 && s->tiers_scanned == 0) {
		decide_deny(d, AF_DENY_TIER_DENIED, rule->name,
			    "every tier rule %s may route to is denied by an "
			    "emergency override",
			    rule->name);
	} else if (s->but_cooling) {
		/* Something would qualify now but for a cooldown: that is the
		 * cause, whatever else was filtered out. */
		decide_deny(d, AF_DENY_MODELS_COOLING_DOWN, rule->name,
			    "every model eligible for rule %s is cooling down "
			    "after "
			    "failures; the first cooldown ends in %llu ms",
			    rule->name, (unsigned long long)s->cool_min_ms);
		d->retryable = true;
		d->retry_after_ms = s->cool_min_ms > INT64_MAX
					    ? INT64_MAX
					    : (int64_t)s->cool_min_ms;
	} else if (s->but_region)
		decide_deny(d, "RESIDENCY_DENIED", rule->name,
			    "no candidate in a region allowed for class %s and "
			    "sensitivity %s",
			    r->cls->name,
			    r->sens_name[0] ? r->sens_name : "(none)");
	else if (s->but_cost) {
		af_policy_fmt_usd(r->max_cost * 1000, usd);
		decide_deny(d, "COST_LIMIT", rule->name,
			    "every candidate costs more than max_cost_usd %s",
			    usd);
	} else if (s->but_context)
		decide_deny(d, "CONTEXT_TOO_LARGE", rule->name,
			    "%lld tokens exceed the context_limit of every "
			    "candidate",
			    (long long)(r->input + r->output));
	else
		decide_deny(d, "NO_ELIGIBLE_MODEL", rule->name,
			    "no eligible model for rule %s", rule->name);
}

/* --------------------------------------------------- the fast scan */

/* Without a trace only the outcome counts, so a tier is read from its
 * price lists (view_index.c) group by group in the order of before():
 * preferred region active, preferred deprecated, other allowed regions
 * active, then deprecated; within a list in price order, stopping as soon
 * as no later pair can enter the selection. */

struct fscan {
	struct sel *s;
	struct cand *top;
	size_t ntop, want;
	int64_t w1, w2; /* weights of the order's first and second price */
	int64_t maxc;	/* max cost in 1e-9 USD, -1: none */
};

static uint32_t group(const struct cand *c)
{
	return c->pref * 2u + c->status;
}

/* The least cost of any item after block b. */
static int64_t after(const struct fscan *f, const struct vblock *b)
{
	int64_t a = INT64_MAX;

	if (b->nb_p2 >= 0)
		a = f->w1 * b->p1 + f->w2 * b->nb_p2;
	if (b->ng_p1 >= 0 && f->w1 * b->ng_p1 + f->w2 * b->ng_p2 < a)
		a = f->w1 * b->ng_p1 + f->w2 * b->ng_p2;
	return a;
}

/* Whether an item of group g, this cost, model and rank, and every item
 * after it in its block, cannot come before the worst selected one. */
static bool beaten(const struct fscan *f, uint32_t g, int64_t cost,
		   uint32_t model, uint32_t rank)
{
	const struct cand *w = &f->top[f->want - 1];

	if (group(w) < g || cost > w->cost)
		return true;
	return cost == w->cost && w->latency == 0 &&
	       (model > w->model || (model == w->model && rank > w->rank));
}

static void scan_list(struct fscan *f, uint32_t l, uint8_t pref, uint8_t status)
{
	const struct rctx *r = f->s->r;
	const struct af_policy_view *v = r->v;
	const struct af_live *live = f->s->live;
	uint32_t g = pref * 2u + status;

	for (uint32_t i = v->list_start[l]; i < v->list_start[l + 1];) {
		const struct vblock *b = &v->blocks[v->items[i].blk];
		uint32_t pair = v->items[i].pair;
		const struct vpair *p = &v->pairs[pair];
		const struct vmodel *m = &v->models[p->model];
		uint32_t rank = v->region_rank[p->region];
		int64_t cost = DECIDE_COST(r, m);

		if (f->ntop == f->want && beaten(f, g, cost, p->model, rank)) {
			if (group(&f->top[f->want - 1]) < g ||
			    after(f, b) > f->top[f->want - 1].cost)
				return;
			i = b->end;
			continue;
		}
		if (f->maxc >= 0 && cost > f->maxc) {
			if (after(f, b) > f->maxc)
				return;
			i = b->end;
			continue;
		}
		i++;
		if ((m->caps & r->needs) != r->needs)
			continue;
		/* What no_candidate() needs should nothing qualify: this
		 * pair is in an allowed region and within max_cost. */
		uint64_t left = cool_ms(live, pair, f->s->canary);

		if (m->context_limit < r->input + r->output) {
			f->s->but_context |= left == 0;
			continue;
		}
		if (left > 0) {
			cooling_seen(f->s, left);
			continue;
		}
		struct cand c = {
			.pair = pair,
			.model = p->model,
			.rank = rank,
			.pref = pref,
			.status = status,
			.cost = cost,
			.latency = live->latency_ms
					   ? live->latency_ms(live->ctx, pair)
					   : 0,
		};
		insert(f->top, &f->ntop, f->want, &c);
	}
}

/* The order to read for the request, its weights and the cost cap. */
static uint32_t fscan_init(struct fscan *f, const struct rctx *r)
{
	uint32_t ord = r->input == 0 && r->output == 0 ? ORD_NAT
		       : r->input >= r->output	       ? ORD_IN
						       : ORD_OUT;

	f->maxc = r->max_cost >= 0 ? r->max_cost * 1000 : -1;
	f->w1 = ord == ORD_OUT ? r->output : r->input;
	f->w2 = ord == ORD_OUT ? r->input : r->output;
	return ord;
}

static uint64_t region_ids(const struct af_policy_view *v)
{
	return v->regions.n >= 64 ? ALL_REGIONS : (1ull << v->regions.n) - 1;
}

static void fast_tier(struct sel *s, uint32_t tier)
{
	const struct rctx *r = s->r;
	const struct af_policy_view *v = r->v;
	struct cand top[MAX_PICK];
	struct fscan f = {.s = s, .top = top, .want = s->k - s->n};
	uint32_t slot = v->tier_slot[tier], pr = r->region, ord;
	uint64_t others = region_ids(v);

	if (f.want == 0)
		return; /* the list is full: later tiers cannot change it */
	ord = fscan_init(&f, r);
	others &= s->allowed;
	if (pr != NONE)
		others &= ~(1ull << pr);
	for (uint8_t g = 0; g < 4; g++) {
		uint8_t pref = g >> 1, st = g & 1;

		if (f.ntop == f.want && group(&top[f.want - 1]) < g)
			break;
		if (pref == 0 && pr != NONE && ((s->allowed >> pr) & 1))
			scan_list(&f, plist(v, slot, pr, st, ord), 0, st);
		for (uint64_t m = pref ? others : 0; m != 0; m &= m - 1)
			scan_list(&f,
				  plist(v, slot, (uint32_t)__builtin_ctzll(m),
					st, ord),
				  1, st);
	}
	memcpy(&s->out[s->n], top, f.ntop * sizeof(*top));
	s->n += f.ntop;
}

/* Whether a pair of the tier in one of `regions` passes every filter but
 * its region (over_cost false) or but its cost (true). */
static bool but_one(struct sel *s, uint32_t tier, uint64_t regions,
		    bool over_cost)
{
	const struct rctx *r = s->r;
	const struct af_policy_view *v = r->v;
	struct fscan f = {.s = s};
	uint32_t ord = fscan_init(&f, r), slot = v->tier_slot[tier];

	if (over_cost && f.maxc < 0)
		return false;
	for (uint64_t rm = regions; rm != 0; rm &= rm - 1)
		for (uint32_t st = 0; st < 2; st++) {
			uint32_t l =
				plist(v, slot, (uint32_t)__builtin_ctzll(rm),
				      st, ord);

			for (uint32_t i = v->list_start[l];
			     i < v->list_start[l + 1]; i++) {
				const struct vblock *b =
					&v->blocks[v->items[i].blk];
				uint32_t pair = v->items[i].pair;
				const struct vmodel *m =
					&v->models[v->pairs[pair].model];
				int64_t cost = DECIDE_COST(r, m);

				if (!over_cost && f.maxc >= 0 &&
				    cost > f.maxc) {
					if (after(&f, b) > f.maxc)
						break;
					i = b->end - 1;
					continue;
				}
				if ((over_cost && cost <= f.maxc) ||
				    (m->caps & r->needs) != r->needs ||
				    m->context_limit < r->input + r->output ||
				    cool_ms(s->live, pair, s->canary) > 0)
					continue;
				return true;
			}
		}
	return false;
}

static void region_tier(struct sel *s, uint32_t tier)
{
	if (!s->but_region)
		s->but_region = but_one(
			s, tier, region_ids(s->r->v) & ~s->allowed, false);
}

static void cost_tier(struct sel *s, uint32_t tier)
{
	if (!s->but_cost)
		s->but_cost = but_one(s, tier, region_ids(s->r->v) & s->allowed,
				      true);
}

/* A tier an emergency override denies is never scanned. */
static void scan_allowed(struct sel *s, uint32_t tier,
			 void (*scan)(struct sel *, uint32_t))
{
	if (tier < 64 && (s->r->deny_tiers >> tier) & 1) {
		s->tiers_denied++;
		s->denied_mask |= 1ull << tier;
	} else {
		s->tiers_scanned++;
		scan(s, tier);
	}
}

/* Step 6: the tier at `pos`, then each fallback tier not seen yet. */
static void chain(struct sel *s, const struct vrule *rule, uint32_t pos,
		  void (*scan)(struct sel *, uint32_t))
{
	const struct vbundle *vb = s->r->vb;

	scan_allowed(s, vb->tiers[pos], scan);
	for (uint32_t i = 0; i < rule->nfb; i++) {
		bool seen = rule->fb_pos[i] == pos;

		for (uint32_t j = 0; j < i && !seen; j++)
			seen = rule->fb_pos[j] == rule->fb_pos[i];
		if (!seen)
			scan_allowed(s, vb->tiers[rule->fb_pos[i]], scan);
	}
}

/* Steps 6 to 10. */
static void route(const struct rctx *r, const struct af_live *live, bool canary,
		  const struct vrule *rule, uint32_t pos, struct af_decision *d,
		  struct af_explain *x)
{
	const struct vbundle *vb = r->vb;
	struct sel s = {.r = r, .live = live, .canary = canary, .x = x};

	s.k = 1 + (size_t)vb->max_fallbacks;
	s.allowed = r->cls->regions &
		    (r->sens != NONE ? vb->residency[r->sens] : ALL_REGIONS);
	if (x != NULL)
		chain(&s, rule, pos, scan_tier);
	else if (!r->needs_unknown) /* else no pair qualifies */
		chain(&s, rule, pos, fast_tier);
	if (s.n == 0 && x == NULL && !r->needs_unknown && !s.but_cooling) {
		/* Nothing qualifies. The fast scan saw every pair in an
		 * allowed region within max_cost (cooldowns and context are
		 * known); find the causes of higher rank, in rank order. */
		chain(&s, rule, pos, region_tier);
		if (!s.but_region)
			chain(&s, rule, pos, cost_tier);
	}
	if (s.denied_mask != 0)
		decide_overlay_tiers(r, s.denied_mask, d);
	if (s.n == 0) {
		no_candidate(&s, rule, d);
		return;
	}
	set_hop(r->v, &s.out[0], &d->primary);
	d->est_cost_nano_usd = s.out[0].cost;
	for (size_t i = 1; i < s.n; i++)
		set_hop(r->v, &s.out[i], &d->fallback[i - 1]);
	d->nfallback = s.n - 1;
	if (x != NULL)
		mark_positions(&s, d);
}

/* Step 5: the tier position to route at. */
static uint32_t step_down(const struct rctx *r, const struct vrule *rule,
			  uint32_t inflight, enum af_budget_state budget,
			  struct af_decision *d, struct af_explain *x)
{
	const struct vbundle *vb = r->vb;
	const struct vclass *c = r->cls;
	bool lane = false, soft = false;

	if (c->critical || rule->tier_pos + 1 >= vb->ntiers)
		return rule->tier_pos;
	lane = vb->watermark_ppm > 0 &&
	       (int64_t)inflight * 1000000 >=
		       vb->watermark_ppm * c->max_inflight;
	soft = vb->soft_step_down && budget == AF_BUDGET_OVER_SOFT;
	if (!lane && !soft)
		return rule->tier_pos;
	d->degraded = true;
	if (x != NULL)
		explain_note(x, "stepped down from %s to %s: %s",
			     vb->tier_names[rule->tier_pos],
			     vb->tier_names[rule->tier_pos + 1],
			     lane ? "lane at or over its watermark"
				  : "tenant over its soft budget");
	return rule->tier_pos + 1;
}

static void start(const struct rctx *r, bool canary, const char *id,
		  struct af_decision *d)
{
	memset(d, 0, offsetof(struct af_decision, fallback));
	d->kind = AF_DECISION_ROUTE;
	d->decision_id = id != NULL ? id : "";
	d->canary = canary;
	d->revision = r->vb->revision;
	d->hash = r->vb->hash;
	d->registry_revision = r->v->registry_revision;
	d->lane = r->v->lanes.names[r->cls->lane];
	d->lane_id = r->cls->lane;
	d->latency_slo_ms = r->latency > 0 ? r->latency : -1;
	d->max_retries = r->cls->max_retries;
	d->degraded = false;
	d->log_ppm = r->cls->log_ppm;
	d->nfallback = 0;
	d->est_cost_nano_usd = 0;
	d->code = NULL;
	d->message[0] = '\0';
	d->retry_after_ms = -1;
	d->retryable = false;
	d->has_workflow = false;
	memset(&d->workflow, 0, sizeof(d->workflow));
	d->workflow_idle_s = r->cls->wf_idle_s;
	d->quota_name = d->quota_dim = NULL;
}

static void explain_start(const struct rctx *r, struct af_explain *x,
			  bool canary, uint64_t bucket)
{
	x->nrules = 0;
	x->ncands = 0;
	x->notes[0] = '\0';
	explain_note(x, "cohort %s (bucket %llu, canary weight %u.%02u%%)",
		     canary ? "canary" : "stable", (unsigned long long)bucket,
		     r->v->weight_bp / 100, r->v->weight_bp % 100);
	explain_note(x, "class %s on lane %s; sensitivity %s", r->cls->name,
		     r->v->lanes.names[r->cls->lane],
		     r->sens_name[0] ? r->sens_name : "(none)");
}

int af_policy_view_region_allowed(const struct af_policy_view *v,
				  const struct af_request *req, bool canary,
				  const char *region, bool *ret)
{
	uint64_t allowed;
	uint32_t id;
	struct rctx r;
	int rc = resolve(v, req, canary && v->has_canary, &r);

	if (rc != 0)
		return rc;
	allowed = r.cls->regions &
		  (r.sens != NONE ? r.vb->residency[r.sens] : ALL_REGIONS);
	id = intern_find(&v->regions, region);
	*ret = allowed == ALL_REGIONS || (id != NONE && ((allowed >> id) & 1));
	return 0;
}

int af_decide(const struct af_policy_view *v, const struct af_request *req,
	      const struct af_live *live, const char *decision_id,
	      struct af_decision *ret, struct af_explain *x)
{
	static const struct af_live nolive;
	enum af_budget_state budget = AF_BUDGET_OK;
	uint64_t bucket = 0, retry_after = 0;
	const struct vrule *rule;
	uint32_t inflight = 0, pos;
	bool canary = false;
	struct rctx r;
	int rc;

	if (v == NULL || req == NULL || ret == NULL)
		return AF_EINVAL;
	if (live == NULL)
		live = &nolive;
	/* Step 1: cohort. */
	if (v->has_canary) {
		bucket = XXH3_64bits(req->workflow_id,
				     strnlen(req->workflow_id,
					     AF_POLICY_NAME_MAX)) %
			 10000;
		canary = bucket < v->weight_bp;
	}
	rc = resolve(v, req, canary, &r);
	if (rc != 0)
		return rc;
	start(&r, canary, decision_id, ret);
	if (x != NULL)
		explain_start(&r, x, canary, bucket);
	if (live->workflow != NULL) {
		live->workflow(live->ctx, req->workflow_id, &ret->workflow);
		ret->has_workflow = true;
	}
	if (live->lane_inflight != NULL)
		inflight = live->lane_inflight(live->ctx, r.cls->lane);
	if (live->budget != NULL)
		budget = live->budget(live->ctx, req->tenant, &retry_after);
	if (decide_overlay(&r, live, ret) ||
	    caps(&r, live, inflight, budget, retry_after, ret) ||
	    decide_overlay_caps(&r, ret))
		return 0;
	rule = x != NULL ? decide_match(&r, x) : decide_match_fast(&r);
	if (rule == NULL) {
		decide_deny(ret, "NO_MATCHING_RULE", NULL,
			    "no rule matches the request");
		return 0;
	}
	if (rule->deny) {
		if (rule->message[0] != '\0')
			decide_deny(ret, rule->code, rule->name, "%s",
				    rule->message);
		else
			decide_deny(ret, rule->code, rule->name,
				    "denied by rule %s", rule->name);
		return 0;
	}
	ret->rule = rule->name;
	decide_overlay_cost(&r, ret);
	pos = step_down(&r, rule, inflight, budget, ret, x);
	route(&r, live, canary, rule, pos, ret, x);
	return 0;
}
