/* Views: intern every name of the bundles and the registry to a small id
 * and precompile rule conditions, so af_decide() compares integers. */
#include "common/timeutil.h"
#include "policy/view_int.h"
#include "common/alloc.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* ------------------------------------------------------------ intern */

static uint32_t slot_of(const struct intern *t, const char *s, size_t len)
{
	return (uint32_t)XXH3_64bits(s, len) & (t->cap - 1);
}

uint32_t intern_find(const struct intern *t, const char *s)
{
	size_t len = strlen(s);

	if (t->cap == 0)
		return NONE;
	for (uint32_t i = slot_of(t, s, len);; i = (i + 1) & (t->cap - 1)) {
		uint32_t id = t->slots[i];

		if (id == 0)
			return NONE;
		if (strcmp(t->names[id - 1], s) == 0)
			return id - 1;
	}
}

static int intern_grow(struct intern *t)
{
	uint32_t cap = t->cap ? t->cap * 2 : 16;
	uint32_t *slots = af_calloc(cap, sizeof(*slots));
	const char **names = af_realloc(t->names, cap * sizeof(*names));

	if (slots == NULL || names == NULL) {
		af_free(slots);
		if (names != NULL)
			t->names = names;
		return AF_ENOMEM;
	}
	t->names = names;
	af_free(t->slots);
	t->slots = slots;
	t->cap = cap;
	for (uint32_t id = 0; id < t->n; id++) {
		const char *s = t->names[id];
		uint32_t i = slot_of(t, s, strlen(s));

		while (t->slots[i] != 0)
			i = (i + 1) & (cap - 1);
		t->slots[i] = id + 1;
	}
	return 0;
}

uint32_t intern_add(struct arena *a, struct intern *t, const char *s)
{
	uint32_t id = intern_find(t, s), i;
	const char *copy;

	if (id != NONE)
		return id;
	if ((t->n + 1) * 2 > t->cap && intern_grow(t) != 0)
		return NONE;
	copy = arena_strdup(a, s);
	if (copy == NULL)
		return NONE;
	id = t->n++;
	t->names[id] = copy;
	i = slot_of(t, s, strlen(s));
	while (t->slots[i] != 0)
		i = (i + 1) & (t->cap - 1);
	t->slots[i] = id + 1;
	return id;
}

void intern_free(struct intern *t)
{
	af_free(t->slots);
	af_free(t->names);
}

/* ------------------------------------------------- name collection */

#define ADD(t, s)                                                              \
	do {                                                                   \
		if (intern_add(&v->a, &v->t, (s)) == NONE)                     \
			return AF_ENOMEM;                                      \
	} while (0)

static int collect_registry(struct af_policy_view *v,
			    const Af__Policy__Registry *r)
{
	for (size_t i = 0; i < r->n_models; i++) {
		const Af__Policy__Model *m = r->models[i];

		ADD(tiers, m->tier);
		for (size_t j = 0; j < m->n_regions; j++)
			ADD(regions, m->regions[j]);
		for (size_t j = 0; j < m->n_capabilities; j++)
			ADD(caps, m->capabilities[j]);
	}
	return 0;
}

static int collect_rules(struct af_policy_view *v, const Af__Policy__Bundle *b)
{
	for (size_t i = 0; i < b->n_rules; i++)
		for (size_t j = 0; j < b->rules[i]->n_when; j++) {
			const Af__Policy__Cond *c = b->rules[i]->when[j];

			for (size_t k = 0; k < c->n_values; k++) {
				if (c->attr == AF__POLICY__ATTR__ATTR_REGION)
					ADD(regions, c->values[k]);
				else if (c->attr ==
					 AF__POLICY__ATTR__ATTR_SENSITIVITY)
					ADD(sens, c->values[k]);
				else if (c->attr ==
					 AF__POLICY__ATTR__ATTR_NEEDS)
					ADD(caps, c->values[k]);
			}
		}
	return 0;
}

static int collect_bundle(struct af_policy_view *v, const Af__Policy__Bundle *b)
{
	for (size_t i = 0; i < b->n_tiers; i++)
		ADD(tiers, b->tiers[i]);
	for (size_t i = 0; i < b->n_lanes; i++)
		ADD(lanes, b->lanes[i]->name);
	if (b->defaults->sensitivity[0] != '\0')
		ADD(sens, b->defaults->sensitivity);
	for (size_t i = 0; i < b->n_residency; i++) {
		ADD(sens, b->residency[i]->sensitivity);
		for (size_t j = 0; j < b->residency[i]->n_regions; j++)
			ADD(regions, b->residency[i]->regions[j]);
	}
	for (size_t i = 0; i < b->n_classes; i++)
		for (size_t j = 0; j < b->classes[i]->n_regions; j++)
			ADD(regions, b->classes[i]->regions[j]);
	return collect_rules(v, b);
}

#undef ADD

static uint64_t region_mask(const struct af_policy_view *v, char *const *r,
			    size_t n)
{
	uint64_t m = 0;

	for (size_t i = 0; i < n; i++)
		m |= 1ull << intern_find(&v->regions, r[i]);
	return m;
}

/* ----------------------------------------------------------- bundles */

static void workflow_caps(struct vclass *vc, const Af__Policy__WorkflowCaps *w)
{
	vc->wf_max_cost_nano = vc->wf_max_tokens = -1;
	vc->wf_max_hops = vc->wf_max_inflight = -1;
	vc->wf_idle_s = AF_WORKFLOW_IDLE_DEFAULT_S;
	if (w == NULL)
		return;
	if (w->max_cost_micro_usd >= 0)
		vc->wf_max_cost_nano = w->max_cost_micro_usd * 1000;
	vc->wf_max_tokens = w->max_tokens;
	vc->wf_max_hops = w->max_hops;
	vc->wf_max_inflight = w->max_inflight;
	if (w->idle_s > 0)
		vc->wf_idle_s = (uint32_t)w->idle_s;
}

static int build_classes(struct af_policy_view *v, struct vbundle *vb,
			 const Af__Policy__Bundle *b)
{
	vb->cls = arena_calloc(&v->a, b->n_classes + 1, sizeof(*vb->cls));
	if (vb->cls == NULL)
		return AF_ENOMEM;
	for (size_t i = 0; i < b->n_classes; i++) {
		const Af__Policy__Class *c = b->classes[i];
		struct vclass *vc = &vb->cls[i];

		if (intern_add(&v->a, &vb->classes, c->name) != i)
			return AF_ENOMEM;
		vc->name = vb->classes.names[i];
		vc->lane = intern_find(&v->lanes, c->lane);
		for (size_t j = 0; j < b->n_lanes; j++)
			if (strcmp(b->lanes[j]->name, c->lane) == 0)
				vc->max_inflight = b->lanes[j]->max_inflight;
		vc->latency_slo_ms = c->latency_slo_ms;
		vc->max_cost_micro = c->max_cost_micro_usd;
		vc->max_fanout = c->max_fanout;
		vc->max_tool_calls = c->max_tool_calls;
		vc->max_retries = c->max_retries >= 0
					  ? c->max_retries
					  : b->defaults->max_retries;
		vc->regions = c->has_regions
				      ? region_mask(v, c->regions, c->n_regions)
				      : ALL_REGIONS;
		vc->critical = c->critical;
		workflow_caps(vc, c->workflow);
		vc->log_ppm = 1000000;
		if (b->decision_log == NULL)
			continue;
		for (size_t j = 0; j < b->decision_log->n_sample; j++)
			if (strcmp(b->decision_log->sample[j]->class_,
				   c->name) == 0)
				vc->log_ppm =
					(uint32_t)b->decision_log->sample[j]
						->ppm;
	}
	return 0;
}

static int build_cond(struct af_policy_view *v, struct vbundle *vb,
		      const Af__Policy__Cond *c, struct vcond *vc)
{
	vc->attr = (uint8_t)c->attr;
	vc->op = (uint8_t)c->op;
	vc->number = c->number;
	vc->nvals = (uint32_t)c->n_values;
	vc->label = arena_strdup(&v->a, c->label);
	vc->svals = arena_calloc(&v->a, c->n_values + 1, sizeof(char *));
	vc->ids = arena_calloc(&v->a, c->n_values + 1, sizeof(uint32_t));
	if (vc->label == NULL || vc->svals == NULL || vc->ids == NULL)
		return AF_ENOMEM;
	for (size_t i = 0; i < c->n_values; i++) {
		const char *s = c->values[i];
		uint32_t id = NONE;

		vc->svals[i] = arena_strdup(&v->a, s);
		if (vc->svals[i] == NULL)
			return AF_ENOMEM;
		if (c->attr == AF__POLICY__ATTR__ATTR_CLASS)
			id = intern_find(&vb->classes, s);
		else if (c->attr == AF__POLICY__ATTR__ATTR_SENSITIVITY)
			id = intern_find(&v->sens, s);
		else if (c->attr == AF__POLICY__ATTR__ATTR_REGION)
			id = intern_find(&v->regions, s);
		else if (c->attr == AF__POLICY__ATTR__ATTR_NEEDS) {
			id = intern_find(&v->caps, s);
			if (id == NONE)
				vc->unknown_cap = true;
			else
				vc->mask |= 1ull << id;
		}
		vc->ids[i] = id;
	}
	return 0;
}

static uint32_t tier_pos(const Af__Policy__Bundle *b, const char *t)
{
	for (uint32_t i = 0; i < b->n_tiers; i++)
		if (strcmp(b->tiers[i], t) == 0)
			return i;
	return 0; /* validated: never reached */
}

static int build_rules(struct af_policy_view *v, struct vbundle *vb,
		       const Af__Policy__Bundle *b)
{
	vb->nrules = (uint32_t)b->n_rules;
	vb->rules = arena_calloc(&v->a, b->n_rules + 1, sizeof(*vb->rules));
	if (vb->rules == NULL)
		return AF_ENOMEM;
	for (size_t i = 0; i < b->n_rules; i++) {
		const Af__Policy__Rule *r = b->rules[i];
		struct vrule *vr = &vb->rules[i];

		vr->name = arena_strdup(&v->a, r->name);
		vr->code = arena_strdup(&v->a, r->deny_code);
		vr->message = arena_strdup(&v->a, r->deny_message);
		vr->conds =
			arena_calloc(&v->a, r->n_when + 1, sizeof(*vr->conds));
		if (!vr->name || !vr->code || !vr->message || !vr->conds)
			return AF_ENOMEM;
		vr->nconds = (uint32_t)r->n_when;
		for (size_t j = 0; j < r->n_when; j++)
			if (build_cond(v, vb, r->when[j], &vr->conds[j]) != 0)
				return AF_ENOMEM;
		vr->deny = r->deny;
		if (r->deny)
			continue;
		vr->tier_pos = tier_pos(b, r->tier);
		vr->nfb = (uint32_t)r->n_fallback_tiers;
		for (size_t j = 0; j < r->n_fallback_tiers; j++)
			vr->fb_pos[j] = tier_pos(b, r->fallback_tiers[j]);
	}
	return 0;
}

/* Copies n strings of src, each less its first `skip` bytes, into the
 * view's arena: *ret, *ret_n. */
static int copy_strs(struct af_policy_view *v, char *const *src, size_t n,
		     size_t skip, const char ***ret, size_t *ret_n)
{
	if (n == 0)
		return 0;
	*ret = arena_calloc(&v->a, n, sizeof(**ret));
	if (*ret == NULL)
		return AF_ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (((*ret)[i] = arena_strdup(&v->a, src[i] + skip)) == NULL)
			return AF_ENOMEM;
	*ret_n = n;
	return 0;
}

static int build_masks(struct af_policy_view *v, struct vbundle *vb,
		       const Af__Policy__Bundle *b)
{
	const Af__Policy__DecisionLog *d = b->decision_log;
	int rc = 0;

	if (d != NULL)
		rc = copy_strs(v, d->mask, d->n_mask, 0, &vb->mask, &vb->nmask);
	if (rc == 0 && b->showback != NULL)
		rc = copy_strs(v, b->showback->dimensions,
			       b->showback->n_dimensions, strlen("labels."),
			       &vb->dims, &vb->ndims);
	return rc;
}

static int build_bundle(struct af_policy_view *v, struct vbundle *vb,
			const struct af_bundle *bundle, uint64_t revision)
{
	const Af__Policy__Bundle *b = bundle->pb;
	int rc;

	vb->hash = arena_strdup(&v->a, bundle->hash);
	vb->residency = arena_calloc(&v->a, v->sens.n + 1, sizeof(uint64_t));
	if (vb->hash == NULL || vb->residency == NULL)
		return AF_ENOMEM;
	vb->revision = revision;
	vb->ntiers = (uint32_t)b->n_tiers;
	for (size_t i = 0; i < b->n_tiers; i++) {
		vb->tiers[i] = intern_find(&v->tiers, b->tiers[i]);
		vb->tier_names[i] = v->tiers.names[vb->tiers[i]];
	}
	vb->default_sens =
		b->defaults->sensitivity[0] != '\0'
			? intern_find(&v->sens, b->defaults->sensitivity)
			: NONE;
	vb->max_fallbacks = b->defaults->max_fallbacks;
	for (uint32_t i = 0; i < v->sens.n; i++)
		vb->residency[i] = ALL_REGIONS;
	for (size_t i = 0; i < b->n_residency; i++)
		vb->residency[intern_find(&v->sens,
					  b->residency[i]->sensitivity)] =
			region_mask(v, b->residency[i]->regions,
				    b->residency[i]->n_regions);
	vb->watermark_ppm = b->degrade->lane_watermark_ppm;
	vb->soft_step_down = b->degrade->soft_budget_step_down;
	view_staleness(vb, b->staleness);
	rc = view_quotas(v, vb, b);
	if (rc == 0)
		rc = build_classes(v, vb, b);
	if (rc == 0)
		rc = build_masks(v, vb, b);
	if (rc == 0)
		rc = build_rules(v, vb, b);
	if (rc == 0 && b->n_rules > v->max_rules)
		v->max_rules = b->n_rules;
	return rc;
}

/* ---------------------------------------------------------- registry */

/* Rank of each region id in name order (at most 64 regions). */
static int build_ranks(struct af_policy_view *v)
{
	uint32_t n = v->regions.n;

	v->region_rank = arena_calloc(&v->a, n + 1, sizeof(uint32_t));
	if (v->region_rank == NULL)
		return AF_ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t j = 0; j < n; j++)
			if (strcmp(v->regions.names[j], v->regions.names[i]) <
			    0)
				v->region_rank[i]++;
	return 0;
}

/* The prices of m in force at now into vm; the view's next change. */
static void price_at(struct af_policy_view *v, struct vmodel *vm,
		     const Af__Policy__Model *m, int64_t now)
{
	int64_t cached = m->micro_usd_per_1k_cached_input;
	bool has = m->has_cached_input;

	vm->pin = m->micro_usd_per_1k_input;
	vm->pout = m->micro_usd_per_1k_output;
	for (size_t i = 0; i < m->n_prices; i++) {
		const Af__Policy__Price *p = m->prices[i];

		if (p->effective_ms > now) {
			if (v->next_price_ms == 0 ||
			    p->effective_ms < v->next_price_ms)
				v->next_price_ms = p->effective_ms;
			break;
		}
		vm->pin = p->micro_usd_per_1k_input;
		vm->pout = p->micro_usd_per_1k_output;
		cached = p->micro_usd_per_1k_cached_input;
		has = p->has_cached_input;
	}
	vm->pcached = has ? cached : vm->pin;
}

static int build_models(struct af_policy_view *v, const Af__Policy__Registry *r,
			int64_t now)
{
	uint32_t np = 0;

	v->nmodels = (uint32_t)r->n_models;
	v->models = arena_calloc(&v->a, r->n_models + 1, sizeof(*v->models));
	v->model_pair0 = arena_calloc(&v->a, r->n_models + 1, sizeof(uint32_t));
	if (v->models == NULL || v->model_pair0 == NULL)
		return AF_ENOMEM;
	for (size_t i = 0; i < r->n_models; i++)
		np += (uint32_t)r->models[i]->n_regions;
	v->pairs = arena_calloc(&v->a, np + 1, sizeof(*v->pairs));
	if (v->pairs == NULL)
		return AF_ENOMEM;
	for (uint32_t i = 0; i < v->nmodels; i++) {
		const Af__Policy__Model *m = r->models[i];
		struct vmodel *vm = &v->models[i];

		vm->id = arena_strdup(&v->a, m->id);
		vm->provider = arena_strdup(&v->a, m->provider);
		if (vm->id == NULL || vm->provider == NULL)
			return AF_ENOMEM;
		vm->tier = intern_find(&v->tiers, m->tier);
		vm->tier_name = v->tiers.names[vm->tier];
		for (size_t j = 0; j < m->n_capabilities; j++)
			vm->caps |= 1ull << intern_find(&v->caps,
							m->capabilities[j]);
		vm->context_limit = m->context_limit;
		price_at(v, vm, m, now);
		vm->status = (uint8_t)m->status;
		v->model_pair0[i] = v->npairs;
		for (size_t j = 0; j < m->n_regions; j++) {
			v->pairs[v->npairs].model = i;
			v->pairs[v->npairs++].region =
				intern_find(&v->regions, m->regions[j]);
		}
	}
	v->model_pair0[v->nmodels] = v->npairs;
	return 0;
}

static int group_by_tier(struct af_policy_view *v)
{
	uint32_t nt = v->tiers.n;
	uint32_t *fill = af_calloc(nt + 1, sizeof(*fill));

	v->tier_start = arena_calloc(&v->a, nt + 1, sizeof(uint32_t));
	v->tier_pairs = arena_calloc(&v->a, v->npairs + 1, sizeof(uint32_t));
	if (fill == NULL || v->tier_start == NULL || v->tier_pairs == NULL) {
		af_free(fill);
		return AF_ENOMEM;
	}
	for (uint32_t p = 0; p < v->npairs; p++)
		v->tier_start[v->models[v->pairs[p].model].tier + 1]++;
	for (uint32_t t = 0; t < nt; t++)
		v->tier_start[t + 1] += v->tier_start[t];
	for (uint32_t p = 0; p < v->npairs; p++) {
		uint32_t t = v->models[v->pairs[p].model].tier;

		v->tier_pairs[v->tier_start[t] + fill[t]++] = p;
	}
	af_free(fill);
	return 0;
}

/* -------------------------------------------------------------- view */

static int collect_all(struct af_policy_view *v,
		       const struct af_policy_view_config *cfg,
		       struct af_err *err)
{
	int rc = collect_registry(v, cfg->registry->pb);

	if (rc == 0)
		rc = collect_bundle(v, cfg->stable->pb);
	if (rc == 0 && cfg->canary != NULL)
		rc = collect_bundle(v, cfg->canary->pb);
	if (rc != 0)
		return af_errf(err, rc, "view: out of memory");
	if (v->regions.n > AF_POLICY_MAX_REGIONS)
		return af_errf(err, AF_EINVAL,
			       "view: %u distinct regions (limit %d)",
			       v->regions.n, AF_POLICY_MAX_REGIONS);
	if (v->caps.n > AF_POLICY_MAX_CAPS)
		return af_errf(err, AF_EINVAL,
			       "view: %u distinct capabilities (limit %d)",
			       v->caps.n, AF_POLICY_MAX_CAPS);
	return 0;
}

int af_policy_view_new(const struct af_policy_view_config *cfg,
		       struct af_policy_view **ret, struct af_err *err)
{
	struct af_policy_view *v;
	int rc;

	if (cfg == NULL || cfg->stable == NULL || cfg->registry == NULL ||
	    cfg->canary_weight_bp > 10000)
		return af_errf(err, AF_EINVAL, "view: bad configuration");
	v = af_calloc(1, sizeof(*v));
	if (v == NULL)
		return af_errf(err, AF_ENOMEM, "view: out of memory");
	v->has_canary = cfg->canary != NULL;
	v->weight_bp = cfg->canary_weight_bp;
	v->registry_revision = cfg->registry_revision;
	rc = collect_all(v, cfg, err);
	if (rc != 0)
		goto out_free;
	rc = build_bundle(v, &v->b[0], cfg->stable, cfg->stable_revision);
	if (rc == 0 && cfg->canary != NULL)
		rc = build_bundle(v, &v->b[1], cfg->canary,
				  cfg->canary_revision);
	if (rc == 0)
		rc = build_ranks(v);
	if (rc == 0)
		rc = build_models(v, cfg->registry->pb,
				  cfg->now_ms ? cfg->now_ms : af_wall_ms());
	if (rc == 0)
		rc = group_by_tier(v);
	if (rc == 0)
		rc = view_index(v);
	if (rc != 0) {
		af_errf(err, rc, "view: out of memory");
		goto out_free;
	}
	*ret = v;
	return 0;
out_free:
	af_policy_view_free(v);
	return rc;
}

void af_policy_view_free(struct af_policy_view *v)
{
	if (v == NULL)
		return;
	intern_free(&v->tiers);
	intern_free(&v->regions);
	intern_free(&v->caps);
	intern_free(&v->lanes);
	intern_free(&v->sens);
	intern_free(&v->b[0].classes);
	intern_free(&v->b[1].classes);
	intern_free(&v->b[0].ix.tenants);
	intern_free(&v->b[1].ix.tenants);
	arena_free(&v->a);
	af_free(v);
}

uint32_t af_policy_view_nlanes(const struct af_policy_view *v)
{
	return v->lanes.n;
}

const char *af_policy_view_lane_name(const struct af_policy_view *v,
				     uint32_t lane_id)
{
	return lane_id < v->lanes.n ? v->lanes.names[lane_id] : NULL;
}

int32_t af_policy_view_lane_id(const struct af_policy_view *v, const char *lane)
{
	uint32_t id = intern_find(&v->lanes, lane);

	return id == NONE ? -1 : (int32_t)id;
}

uint32_t af_policy_view_npairs(const struct af_policy_view *v)
{
	return v->npairs;
}

void af_policy_view_pair(const struct af_policy_view *v, uint32_t pair_id,
			 const char **ret_model, const char **ret_region)
{
	const struct vpair *p = &v->pairs[pair_id];

	*ret_model = v->models[p->model].id;
	*ret_region = v->regions.names[p->region];
}

int32_t af_policy_view_pair_id(const struct af_policy_view *v,
			       const char *model, const char *region)
{
	uint32_t lo = 0, hi = v->nmodels, r = intern_find(&v->regions, region);

	while (lo < hi && r != NONE) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = strcmp(v->models[mid].id, model);

		if (c == 0) {
			for (uint32_t p = v->model_pair0[mid];
			     p < v->model_pair0[mid + 1]; p++)
				if (v->pairs[p].region == r)
					return (int32_t)p;
			return -1;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

const char *const *af_policy_view_log_masks(const struct af_policy_view *v,
					    bool canary, size_t *ret_n)
{
	const struct vbundle *vb = &v->b[canary && v->has_canary ? 1 : 0];

	*ret_n = vb->nmask;
	return vb->mask;
}

const char *const *af_policy_view_showback_dims(const struct af_policy_view *v,
						size_t *ret_n)
{
	*ret_n = v->b[0].ndims;
	return v->b[0].dims;
}

size_t af_policy_view_nrules_max(const struct af_policy_view *v)
{
	return v->max_rules;
}

int af_policy_view_cost_cached(const struct af_policy_view *v,
			       const char *model, int64_t input_tokens,
			       int64_t cached, int64_t output_tokens,
			       int64_t *ret_nano_usd)
{
	if (input_tokens < 0 || output_tokens < 0 || cached < 0 ||
	    cached > input_tokens || input_tokens > MAX_TOKENS ||
	    output_tokens > MAX_TOKENS)
		return AF_EINVAL;
	for (uint32_t i = 0; i < v->nmodels; i++) {
		const struct vmodel *m = &v->models[i];

		if (strcmp(m->id, model) != 0)
			continue;
		*ret_nano_usd = (input_tokens - cached) * m->pin +
				cached * m->pcached + output_tokens * m->pout;
		return 0;
	}
	return AF_ENOTFOUND;
}

int af_policy_view_cost(const struct af_policy_view *v, const char *model,
			int64_t input_tokens, int64_t output_tokens,
			int64_t *ret_nano_usd)
{
	return af_policy_view_cost_cached(v, model, input_tokens, 0,
					  output_tokens, ret_nano_usd);
}

int64_t af_policy_view_next_price_ms(const struct af_policy_view *v)
{
	return v->next_price_ms;
}
