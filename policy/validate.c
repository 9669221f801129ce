/* Validation of compiled bundles and registries. Runs after every compile
 * (a sanity check) and after every load of bytes from elsewhere: protobuf-c
 * accepts unknown enum values, unsorted lists and missing messages. */
#include "policy/parse_rules.h"
#include "policy/policy_int.h"

#include <string.h>

#define BAD(...) af_errf(err, AF_ECORRUPT, __VA_ARGS__)

static bool name_ok(const char *s)
{
	size_t n = strnlen(s, AF_POLICY_NAME_MAX + 1);

	return n > 0 && n <= AF_POLICY_NAME_MAX;
}

/* Strictly increasing list of valid names of at most max entries. */
static bool set_ok(char *const *v, size_t n, size_t max)
{
	if (n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!name_ok(v[i]))
			return false;
		if (i > 0 && strcmp(v[i - 1], v[i]) >= 0)
			return false;
	}
	return true;
}

static bool in_list(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static bool range(int64_t v, int64_t min, int64_t max)
{
	return v >= min && v <= max;
}

static bool opt_range(int64_t v, int64_t max)
{
	return v == -1 || range(v, 0, max);
}

static int check_head(const Af__Policy__Bundle *b, struct af_err *err)
{
	const Af__Policy__Defaults *d = b->defaults;

	if (!name_ok(b->name))
		return BAD("bundle: bad name");
	if (b->n_tiers == 0 || b->n_tiers > AF_POLICY_MAX_TIERS)
		return BAD("bundle: bad tier count");
	for (size_t i = 0; i < b->n_tiers; i++)
		if (!name_ok(b->tiers[i]) || in_list(b->tiers, i, b->tiers[i]))
			return BAD("bundle: bad or duplicate tier");
	if (d == NULL || !range(d->max_retries, 0, 100) ||
	    !range(d->max_fallbacks, 0, AF_POLICY_MAX_FALLBACKS) ||
	    strlen(d->sensitivity) > AF_POLICY_NAME_MAX)
		return BAD("bundle: bad defaults");
	if (b->degrade == NULL ||
	    !range(b->degrade->lane_watermark_ppm, 0, 1000000))
		return BAD("bundle: bad degrade");
	if (b->health == NULL ||
	    !range(b->health->error_rate_ppm, 1, 1000000) ||
	    !range(b->health->min_samples, 1, MAX_COUNT) ||
	    !range(b->health->consecutive_failures, 1, MAX_COUNT) ||
	    !range(b->health->cooldown_s, 1, 86400))
		return BAD("bundle: bad health");
	return 0;
}

static int check_sets(const Af__Policy__Bundle *b, struct af_err *err)
{
	if (b->n_residency > AF_POLICY_MAX_CLASSES)
		return BAD("bundle: too many residency entries");
	for (size_t i = 0; i < b->n_residency; i++) {
		const Af__Policy__Residency *r = b->residency[i];

		if (!name_ok(r->sensitivity) ||
		    (i > 0 && strcmp(b->residency[i - 1]->sensitivity,
				     r->sensitivity) >= 0) ||
		    !set_ok(r->regions, r->n_regions, AF_POLICY_MAX_LIST))
			return BAD("bundle: bad residency entry %zu", i);
	}
	if (b->n_lanes > AF_POLICY_MAX_LANES)
		return BAD("bundle: too many lanes");
	for (size_t i = 0; i < b->n_lanes; i++) {
		const Af__Policy__Lane *l = b->lanes[i];

		if (!name_ok(l->name) ||
		    (i > 0 && strcmp(b->lanes[i - 1]->name, l->name) >= 0) ||
		    !range(l->max_inflight, 1, MAX_COUNT))
			return BAD("bundle: bad lane %zu", i);
	}
	return 0;
}

static bool has_lane(const Af__Policy__Bundle *b, const char *name)
{
	for (size_t i = 0; i < b->n_lanes; i++)
		if (strcmp(b->lanes[i]->name, name) == 0)
			return true;
	return false;
}

static bool has_class(const Af__Policy__Bundle *b, const char *name)
{
	size_t lo = 0, hi = b->n_classes;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(b->classes[mid]->name, name);

		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static bool workflow_ok(const Af__Policy__WorkflowCaps *w)
{
	if (w == NULL)
		return true;
	return opt_range(w->max_cost_micro_usd, MAX_COST_MICRO) &&
	       opt_range(w->max_tokens, MAX_NUMBER) && w->max_tokens != 0 &&
	       opt_range(w->max_hops, MAX_COUNT) && w->max_hops != 0 &&
	       opt_range(w->max_inflight, AF_WORKFLOW_INFLIGHT_MAX) &&
	       w->max_inflight != 0 &&
	       opt_range(w->idle_s, AF_WORKFLOW_IDLE_MAX_S) && w->idle_s != 0;
}

static int check_classes(const Af__Policy__Bundle *b, struct af_err *err)
{
	if (b->n_classes > AF_POLICY_MAX_CLASSES)
		return BAD("bundle: too many classes");
	for (size_t i = 0; i < b->n_classes; i++) {
		const Af__Policy__Class *c = b->classes[i];

		if (!name_ok(c->name) ||
		    (i > 0 && strcmp(b->classes[i - 1]->name, c->name) >= 0) ||
		    !has_lane(b, c->lane) ||
		    !opt_range(c->latency_slo_ms, MAX_COUNT) ||
		    !opt_range(c->max_cost_micro_usd, MAX_COST_MICRO) ||
		    !opt_range(c->max_fanout, MAX_COUNT) ||
		    !opt_range(c->max_tool_calls, MAX_COUNT) ||
		    !opt_range(c->max_retries, 100) ||
		    !workflow_ok(c->workflow) ||
		    !set_ok(c->regions, c->n_regions, AF_POLICY_MAX_LIST) ||
		    (!c->has_regions && c->n_regions != 0))
			return BAD("bundle: bad class %zu", i);
	}
	return 0;
}

static bool is_string_attr(Af__Policy__Attr a)
{
	return a >= AF__POLICY__ATTR__ATTR_CLASS &&
	       a <= AF__POLICY__ATTR__ATTR_LABEL;
}

static bool cond_ok(const Af__Policy__Bundle *b, const Af__Policy__Cond *c)
{
	Af__Policy__Attr a = c->attr;
	Af__Policy__Op op = c->op;

	if (a <= AF__POLICY__ATTR__ATTR_NONE ||
	    a > AF__POLICY__ATTR__ATTR_NEEDS)
		return false;
	if ((a == AF__POLICY__ATTR__ATTR_LABEL) !=
	    (c->label[0] != '\0' &&
	     strlen(c->label) <= AF_POLICY_LABEL_KEY_MAX))
		return false;
	if (is_string_attr(a) || a == AF__POLICY__ATTR__ATTR_NEEDS) {
		if (a == AF__POLICY__ATTR__ATTR_NEEDS
			    ? op != AF__POLICY__OP__OP_INCLUDES
			    : (op < AF__POLICY__OP__OP_EQ ||
			       op > AF__POLICY__OP__OP_NOT_IN))
			return false;
		if (c->n_values == 0 || c->number != 0 ||
		    !set_ok(c->values, c->n_values, AF_POLICY_MAX_LIST))
			return false;
		if ((op == AF__POLICY__OP__OP_EQ ||
		     op == AF__POLICY__OP__OP_NE) &&
		    c->n_values != 1)
			return false;
		for (size_t i = 0;
		     a == AF__POLICY__ATTR__ATTR_CLASS && i < c->n_values; i++)
			if (!has_class(b, c->values[i]))
				return false;
		return true;
	}
	return op >= AF__POLICY__OP__OP_EQ && op <= AF__POLICY__OP__OP_GTE &&
	       op != AF__POLICY__OP__OP_IN && op != AF__POLICY__OP__OP_NOT_IN &&
	       c->n_values == 0 &&
	       range(c->number, 0,
		     a == AF__POLICY__ATTR__ATTR_MAX_COST_USD ? MAX_COST_MICRO
							      : MAX_NUMBER);
}

static int cmp_cond(const Af__Policy__Cond *x, const Af__Policy__Cond *y)
{
	int c;

	if (x->attr != y->attr)
		return x->attr < y->attr ? -1 : 1;
	c = strcmp(x->label, y->label);
	if (c != 0)
		return c;
	return x->op < y->op ? -1 : x->op > y->op;
}

static bool action_ok(const Af__Policy__Bundle *b, const Af__Policy__Rule *r)
{
	if (r->deny)
		return valid_deny_code(r->deny_code) && r->tier[0] == '\0' &&
		       r->n_fallback_tiers == 0 &&
		       strlen(r->deny_message) <= 200;
	if (r->deny_code[0] != '\0' || r->deny_message[0] != '\0' ||
	    !in_list(b->tiers, b->n_tiers, r->tier) ||
	    r->n_fallback_tiers > AF_POLICY_MAX_TIERS)
		return false;
	for (size_t i = 0; i < r->n_fallback_tiers; i++)
		if (!in_list(b->tiers, b->n_tiers, r->fallback_tiers[i]) ||
		    strcmp(r->fallback_tiers[i], r->tier) == 0 ||
		    in_list(r->fallback_tiers, i, r->fallback_tiers[i]))
			return false;
	return true;
}

static int check_rules(const Af__Policy__Bundle *b, struct af_err *err)
{
	if (b->n_rules > AF_POLICY_MAX_RULES)
		return BAD("bundle: too many rules");
	for (size_t i = 0; i < b->n_rules; i++) {
		const Af__Policy__Rule *r = b->rules[i];

		if (!name_ok(r->name) || r->n_when > AF_POLICY_MAX_CONDS ||
		    !action_ok(b, r))
			return BAD("bundle: bad rule %zu", i);
		for (size_t j = 0; j < i; j++)
			if (strcmp(b->rules[j]->name, r->name) == 0)
				return BAD("bundle: duplicate rule %zu", i);
		for (size_t j = 0; j < r->n_when; j++)
			if (!cond_ok(b, r->when[j]) ||
			    (j > 0 &&
			     cmp_cond(r->when[j - 1], r->when[j]) >= 0))
				return BAD("bundle: bad condition %zu of rule "
					   "%zu",
					   j, i);
	}
	return 0;
}

static int check_decision_log(const Af__Policy__Bundle *b, struct af_err *err)
{
	const Af__Policy__DecisionLog *d = b->decision_log;

	if (d == NULL)
		return 0;
	if (!set_ok(d->mask, d->n_mask, AF_POLICY_MAX_LIST))
		return BAD("bundle: bad decision_log mask list");
	for (size_t i = 0; i < d->n_mask; i++)
		if (!dlog_mask_ok(d->mask[i]))
			return BAD("bundle: decision_log mask \"%.64s\" is "
				   "not a request field",
				   d->mask[i]);
	if (d->n_sample > AF_POLICY_MAX_CLASSES)
		return BAD("bundle: too many decision_log sample rates");
	for (size_t i = 0; i < d->n_sample; i++) {
		const Af__Policy__SampleRate *s = d->sample[i];

		if (!has_class(b, s->class_) || !range(s->ppm, 0, 1000000) ||
		    (i > 0 && strcmp(d->sample[i - 1]->class_, s->class_) >= 0))
			return BAD("bundle: bad decision_log sample %zu", i);
	}
	return 0;
}

int validate_bundle(const Af__Policy__Bundle *b, struct af_err *err)
{
	int rc = check_head(b, err);

	if (rc == 0)
		rc = check_sets(b, err);
	if (rc == 0)
		rc = check_classes(b, err);
	if (rc == 0)
		rc = check_rules(b, err);
	if (rc == 0)
		rc = check_decision_log(b, err);
	if (rc == 0)
		rc = validate_staleness(b, err);
	if (rc == 0)
		rc = validate_showback(b, err);
	if (rc == 0)
		rc = validate_quotas(b, err);
	return rc;
}

static bool prices_ok(const Af__Policy__Model *m)
{
	if (m->n_prices > AF_MODEL_PRICES_MAX)
		return false;
	for (size_t i = 0; i < m->n_prices; i++) {
		const Af__Policy__Price *p = m->prices[i];

		if (!range(p->micro_usd_per_1k_input, 0, MAX_PRICE_MICRO) ||
		    !range(p->micro_usd_per_1k_output, 0, MAX_PRICE_MICRO) ||
		    !range(p->micro_usd_per_1k_cached_input, 0,
			   MAX_PRICE_MICRO) ||
		    (i > 0 &&
		     p->effective_ms <= m->prices[i - 1]->effective_ms))
			return false;
	}
	return true;
}

int validate_registry(const Af__Policy__Registry *r, struct af_err *err)
{
	if (r->n_models > AF_POLICY_MAX_MODELS)
		return BAD("registry: too many models");
	for (size_t i = 0; i < r->n_models; i++) {
		const Af__Policy__Model *m = r->models[i];

		if (!name_ok(m->id) || !name_ok(m->provider) ||
		    !name_ok(m->tier) ||
		    (i > 0 && strcmp(r->models[i - 1]->id, m->id) >= 0) ||
		    m->n_regions == 0 ||
		    !set_ok(m->regions, m->n_regions, AF_POLICY_MAX_LIST) ||
		    !set_ok(m->capabilities, m->n_capabilities,
			    AF_POLICY_MAX_LIST) ||
		    !range(m->context_limit, 1, MAX_TOKENS) ||
		    !range(m->micro_usd_per_1k_input, 0, MAX_PRICE_MICRO) ||
		    !range(m->micro_usd_per_1k_output, 0, MAX_PRICE_MICRO) ||
		    !range(m->micro_usd_per_1k_cached_input, 0,
			   MAX_PRICE_MICRO) ||
		    !prices_ok(m) ||
		    m->status < AF__POLICY__STATUS__STATUS_ACTIVE ||
		    m->status > AF__POLICY__STATUS__STATUS_DISABLED)
			return BAD("registry: bad model %zu", i);
	}
	return 0;
}
