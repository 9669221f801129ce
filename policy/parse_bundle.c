/* Policy bundle YAML -> canonical Af__Policy__Bundle. */
#include "policy/parse_int.h"
#include "policy/parse_rules.h"

#include <stdlib.h>
#include <string.h>

static const char *const top_keys[] = {
	"apiVersion", "kind",	   "name",   "tiers",
	"defaults",   "residency", "lanes",  "classes",
	"rules",      "degrade",   "health", "decision_log",
	"staleness",  "showback",  "quotas", NULL,
};

static int parse_defaults(struct pctx *p, yaml_node_t *n)
{
	static const char *const keys[] = {"sensitivity", "max_retries",
					   "max_fallbacks", NULL};
	Af__Policy__Defaults *d = arena_alloc(p->a, sizeof(*d));
	yaml_node_t *v;
	int rc;

	if (d == NULL)
		return yaml_oom(p->y, p->err);
	af__policy__defaults__init(d);
	d->max_fallbacks = 3;
	p->b->defaults = d;
	if (n == NULL)
		return 0;
	rc = af_yaml_expect_map(p->y, n, "defaults", p->err);
	if (rc == 0)
		rc = af_yaml_check_keys(p->y, n, keys, p->err);
	if (rc == 0 && (v = af_yaml_get(p->y, n, "sensitivity")) != NULL)
		rc = yaml_name(p->y, v, "defaults.sensitivity", p->a,
			       &d->sensitivity, p->err);
	if (rc == 0 && (v = af_yaml_get(p->y, n, "max_retries")) != NULL)
		rc = af_yaml_int(p->y, v, "defaults.max_retries", 0, 100,
				 &d->max_retries, p->err);
	if (rc == 0 && (v = af_yaml_get(p->y, n, "max_fallbacks")) != NULL)
		rc = af_yaml_int(p->y, v, "defaults.max_fallbacks", 0,
				 AF_POLICY_MAX_FALLBACKS, &d->max_fallbacks,
				 p->err);
	return rc;
}

static int cmp_residency(const void *a, const void *b)
{
	const Af__Policy__Residency *x = *(Af__Policy__Residency *const *)a;
	const Af__Policy__Residency *y = *(Af__Policy__Residency *const *)b;

	return strcmp(x->sensitivity, y->sensitivity);
}

static int parse_residency(struct pctx *p, yaml_node_t *n)
{
	size_t cnt;
	int rc;

	if (n == NULL)
		return 0;
	rc = yaml_map_names(p->y, n, "residency", AF_POLICY_MAX_CLASSES,
			    p->err);
	if (rc != 0)
		return rc;
	cnt = af_yaml_len(n);
	p->b->residency = arena_calloc(p->a, cnt + 1, sizeof(void *));
	if (p->b->residency == NULL)
		return yaml_oom(p->y, p->err);
	for (size_t i = 0; i < cnt; i++) {
		Af__Policy__Residency *r = arena_alloc(p->a, sizeof(*r));

		if (r == NULL)
			return yaml_oom(p->y, p->err);
		af__policy__residency__init(r);
		rc = yaml_name(p->y, af_yaml_key(p->y, n, i), "residency", p->a,
			       &r->sensitivity, p->err);
		if (rc == 0)
			rc = yaml_str_list(p->y, af_yaml_value(p->y, n, i),
					   "residency regions",
					   AF_POLICY_MAX_LIST, true, p->a,
					   &r->regions, &r->n_regions, p->err);
		if (rc != 0)
			return rc;
		p->b->residency[p->b->n_residency++] = r;
	}
	qsort(p->b->residency, cnt, sizeof(void *), cmp_residency);
	return 0;
}

static int cmp_lane(const void *a, const void *b)
{
	return strcmp((*(Af__Policy__Lane *const *)a)->name,
		      (*(Af__Policy__Lane *const *)b)->name);
}

static int parse_lanes(struct pctx *p, yaml_node_t *n)
{
	static const char *const keys[] = {"max_inflight", "fleet_max_inflight",
					   NULL};
	size_t cnt;
	int rc;

	if (n == NULL)
		return 0;
	rc = yaml_map_names(p->y, n, "lanes", AF_POLICY_MAX_LANES, p->err);
	if (rc != 0)
		return rc;
	cnt = af_yaml_len(n);
	p->b->lanes = arena_calloc(p->a, cnt + 1, sizeof(void *));
	if (p->b->lanes == NULL)
		return yaml_oom(p->y, p->err);
	for (size_t i = 0; i < cnt; i++) {
		Af__Policy__Lane *l = arena_alloc(p->a, sizeof(*l));
		yaml_node_t *v = af_yaml_value(p->y, n, i), *m;

		if (l == NULL)
			return yaml_oom(p->y, p->err);
		af__policy__lane__init(l);
		rc = yaml_name(p->y, af_yaml_key(p->y, n, i), "lanes", p->a,
			       &l->name, p->err);
		if (rc == 0)
			rc = af_yaml_expect_map(p->y, v, "lane", p->err);
		if (rc == 0)
			rc = af_yaml_check_keys(p->y, v, keys, p->err);
		if (rc != 0)
			return rc;
		m = yaml_need(p->y, v, "max_inflight", "lane", p->err);
		if (m == NULL)
			return AF_EPARSE;
		rc = af_yaml_int(p->y, m, "max_inflight", 1, MAX_COUNT,
				 &l->max_inflight, p->err);
		m = af_yaml_get(p->y, v, "fleet_max_inflight");
		if (rc == 0 && m != NULL)
			rc = af_yaml_int(p->y, m, "fleet_max_inflight", 1,
					 MAX_COUNT, &l->fleet_max_inflight,
					 p->err);
		if (rc != 0)
			return rc;
		p->b->lanes[p->b->n_lanes++] = l;
	}
	qsort(p->b->lanes, cnt, sizeof(void *), cmp_lane);
	return 0;
}

static bool has_lane(const Af__Policy__Bundle *b, const char *name)
{
	for (size_t i = 0; i < b->n_lanes; i++)
		if (strcmp(b->lanes[i]->name, name) == 0)
			return true;
	return false;
}

static int opt_int(struct pctx *p, yaml_node_t *map, const char *key,
		   int64_t max, int64_t *ret)
{
	yaml_node_t *v = af_yaml_get(p->y, map, key);

	*ret = -1;
	if (v == NULL)
		return 0;
	return af_yaml_int(p->y, v, key, 0, max, ret, p->err);
}

static int opt_int_min(struct pctx *p, yaml_node_t *map, const char *key,
		       int64_t min, int64_t max, int64_t *ret)
{
	yaml_node_t *v = af_yaml_get(p->y, map, key);

	*ret = -1;
	if (v == NULL)
		return 0;
	return af_yaml_int(p->y, v, key, min, max, ret, p->err);
}

/* The class's per-workflow keys; the message only when one is given. */
static int class_workflow(struct pctx *p, yaml_node_t *v, Af__Policy__Class *c)
{
	static const char *const keys[] = {
		"max_workflow_cost_usd", "max_workflow_tokens",
		"max_workflow_hops",	 "max_inflight_per_workflow",
		"workflow_idle_s",	 NULL,
	};
	Af__Policy__WorkflowCaps *w;
	yaml_node_t *n;
	bool any = false;
	int rc;

	for (size_t i = 0; keys[i] != NULL; i++)
		any = any || af_yaml_get(p->y, v, keys[i]) != NULL;
	if (!any)
		return 0;
	if ((w = arena_alloc(p->a, sizeof(*w))) == NULL)
		return yaml_oom(p->y, p->err);
	af__policy__workflow_caps__init(w);
	w->max_cost_micro_usd = -1;
	if ((n = af_yaml_get(p->y, v, keys[0])) != NULL) {
		rc = af_yaml_fixed(p->y, n, keys[0], 1000000, 0, MAX_COST_MICRO,
				   &w->max_cost_micro_usd, p->err);
		if (rc != 0)
			return rc;
	}
	rc = opt_int_min(p, v, keys[1], 1, MAX_NUMBER, &w->max_tokens);
	if (rc == 0)
		rc = opt_int_min(p, v, keys[2], 1, MAX_COUNT, &w->max_hops);
	if (rc == 0)
		rc = opt_int_min(p, v, keys[3], 1, AF_WORKFLOW_INFLIGHT_MAX,
				 &w->max_inflight);
	if (rc == 0)
		rc = opt_int_min(p, v, keys[4], 1, AF_WORKFLOW_IDLE_MAX_S,
				 &w->idle_s);
	if (rc == 0)
		c->workflow = w;
	return rc;
}

static int class_fields(struct pctx *p, yaml_node_t *v, Af__Policy__Class *c)
{
	yaml_node_t *n;
	int rc;

	rc = opt_int(p, v, "latency_slo_ms", MAX_COUNT, &c->latency_slo_ms);
	if (rc == 0)
		rc = opt_int(p, v, "max_fanout", MAX_COUNT, &c->max_fanout);
	if (rc == 0)
		rc = opt_int(p, v, "max_tool_calls", MAX_COUNT,
			     &c->max_tool_calls);
	if (rc == 0)
		rc = opt_int(p, v, "max_retries", 100, &c->max_retries);
	if (rc != 0)
		return rc;
	c->max_cost_micro_usd = -1;
	if ((n = af_yaml_get(p->y, v, "max_cost_usd")) != NULL) {
		rc = af_yaml_fixed(p->y, n, "max_cost_usd", 1000000, 0,
				   MAX_COST_MICRO, &c->max_cost_micro_usd,
				   p->err);
		if (rc != 0)
			return rc;
	}
	if ((n = af_yaml_get(p->y, v, "regions")) != NULL) {
		c->has_regions = true;
		rc = yaml_str_list(p->y, n, "regions", AF_POLICY_MAX_LIST, true,
				   p->a, &c->regions, &c->n_regions, p->err);
		if (rc != 0)
			return rc;
	}
	if ((n = af_yaml_get(p->y, v, "critical")) != NULL) {
		bool crit;

		rc = af_yaml_bool(p->y, n, "critical", &crit, p->err);
		c->critical = crit;
	}
	return rc == 0 ? class_workflow(p, v, c) : rc;
}

static int parse_class(struct pctx *p, yaml_node_t *k, yaml_node_t *v,
		       Af__Policy__Class **ret)
{
	static const char *const keys[] = {
		"lane",
		"latency_slo_ms",
		"max_cost_usd",
		"max_fanout",
		"max_tool_calls",
		"max_retries",
		"regions",
		"critical",
		"max_workflow_cost_usd",
		"max_workflow_tokens",
		"max_workflow_hops",
		"max_inflight_per_workflow",
		"workflow_idle_s",
		NULL,
	};
	Af__Policy__Class *c = arena_alloc(p->a, sizeof(*c));
	yaml_node_t *n;
	int rc;

	if (c == NULL)
		return yaml_oom(p->y, p->err);
	af__policy__class__init(c);
	rc = yaml_name(p->y, k, "classes", p->a, &c->name, p->err);
	if (rc == 0)
		rc = af_yaml_expect_map(p->y, v, "class", p->err);
	if (rc == 0)
		rc = af_yaml_check_keys(p->y, v, keys, p->err);
	if (rc != 0)
		return rc;
	n = af_yaml_get(p->y, v, "lane");
	if (n == NULL)
		return af_yaml_errf(p->y, k, p->err, "class \"%s\" has no lane",
				    c->name);
	rc = yaml_name(p->y, n, "lane", p->a, &c->lane, p->err);
	if (rc != 0)
		return rc;
	if (!has_lane(p->b, c->lane))
		return af_yaml_errf(p->y, n, p->err, "unknown lane \"%s\"",
				    c->lane);
	rc = class_fields(p, v, c);
	if (rc == 0)
		*ret = c;
	return rc;
}

static int cmp_class(const void *a, const void *b)
{
	return strcmp((*(Af__Policy__Class *const *)a)->name,
		      (*(Af__Policy__Class *const *)b)->name);
}

static int parse_classes(struct pctx *p, yaml_node_t *n)
{
	size_t cnt;
	int rc;

	if (n == NULL)
		return 0;
	rc = yaml_map_names(p->y, n, "classes", AF_POLICY_MAX_CLASSES, p->err);
	if (rc != 0)
		return rc;
	cnt = af_yaml_len(n);
	p->b->classes = arena_calloc(p->a, cnt + 1, sizeof(void *));
	if (p->b->classes == NULL)
		return yaml_oom(p->y, p->err);
	for (size_t i = 0; i < cnt; i++) {
		rc = parse_class(p, af_yaml_key(p->y, n, i),
				 af_yaml_value(p->y, n, i),
				 &p->b->classes[p->b->n_classes]);
		if (rc != 0)
			return rc;
		p->b->n_classes++;
	}
	qsort(p->b->classes, cnt, sizeof(void *), cmp_class);
	return 0;
}

static int parse_degrade(struct pctx *p, yaml_node_t *n)
{
	static const char *const keys[] = {"lane_watermark", "soft_budget",
					   NULL};
	Af__Policy__Degrade *d = arena_alloc(p->a, sizeof(*d));
	yaml_node_t *v;
	const char *s;
	int rc;

	if (d == NULL)
		return yaml_oom(p->y, p->err);
	af__policy__degrade__init(d);
	p->b->degrade = d;
	if (n == NULL)
		return 0;
	rc = af_yaml_expect_map(p->y, n, "degrade", p->err);
	if (rc == 0)
		rc = af_yaml_check_keys(p->y, n, keys, p->err);
	if (rc == 0 && (v = af_yaml_get(p->y, n, "lane_watermark")) != NULL)
		rc = af_yaml_fixed(p->y, v, "lane_watermark", 1000000, 1,
				   1000000, &d->lane_watermark_ppm, p->err);
	if (rc == 0 && (v = af_yaml_get(p->y, n, "soft_budget")) != NULL) {
		rc = af_yaml_str(p->y, v, "soft_budget", 32, &s, p->err);
		if (rc == 0 && strcmp(s, "step_down") == 0)
			d->soft_budget_step_down = true;
		else if (rc == 0 && strcmp(s, "none") != 0)
			rc = af_yaml_errf(p->y, v, p->err,
					  "soft_budget: expected step_down "
					  "or none, got \"%s\"",
					  s);
	}
	return rc;
}

static int parse_health(struct pctx *p, yaml_node_t *n)
{
	static const char *const keys[] = {"error_rate", "min_samples",
					   "consecutive_failures", "cooldown_s",
					   NULL};
	Af__Policy__Health *h = arena_alloc(p->a, sizeof(*h));
	yaml_node_t *v;
	int rc;

	if (h == NULL)
		return yaml_oom(p->y, p->err);
	af__policy__health__init(h);
	h->error_rate_ppm = 500000;
	h->min_samples = 20;
	h->consecutive_failures = 3;
	h->cooldown_s = 30;
	p->b->health = h;
	if (n == NULL)
		return 0;
	rc = af_yaml_expect_map(p->y, n, "health", p->err);
	if (rc == 0)
		rc = af_yaml_check_keys(p->y, n, keys, p->err);
	if (rc == 0 && (v = af_yaml_get(p->y, n, "error_rate")) != NULL)
		rc = af_yaml_fixed(p->y, v, "error_rate", 1000000, 1, 1000000,
				   &h->error_rate_ppm, p->err);
	if (rc == 0 && (v = af_yaml_get(p->y, n, "min_samples")) != NULL)
		rc = af_yaml_int(p->y, v, "min_samples", 1, MAX_COUNT,
				 &h->min_samples, p->err);
	if (rc == 0 &&
	    (v = af_yaml_get(p->y, n, "consecutive_failures")) != NULL)
		rc = af_yaml_int(p->y, v, "consecutive_failures", 1, MAX_COUNT,
				 &h->consecutive_failures, p->err);
	if (rc == 0 && (v = af_yaml_get(p->y, n, "cooldown_s")) != NULL)
		rc = af_yaml_int(p->y, v, "cooldown_s", 1, 86400,
				 &h->cooldown_s, p->err);
	return rc;
}

static int parse_head(struct pctx *p, yaml_node_t *root)
{
	yaml_node_t *n;
	int rc;

	rc = af_yaml_expect_map(p->y, root, "policy", p->err);
	if (rc == 0)
		rc = af_yaml_check_keys(p->y, root, top_keys, p->err);
	if (rc == 0)
		rc = yaml_header(p->y, root, "Policy", p->err);
	if (rc != 0)
		return rc;
	if ((n = yaml_need(p->y, root, "name", "policy", p->err)) == NULL)
		return AF_EPARSE;
	rc = yaml_name(p->y, n, "name", p->a, &p->b->name, p->err);
	if (rc != 0)
		return rc;
	if ((n = yaml_need(p->y, root, "tiers", "policy", p->err)) == NULL)
		return AF_EPARSE;
	rc = yaml_str_list(p->y, n, "tiers", AF_POLICY_MAX_TIERS, false, p->a,
			   &p->b->tiers, &p->b->n_tiers, p->err);
	if (rc == 0 && p->b->n_tiers == 0)
		rc = af_yaml_errf(p->y, n, p->err, "tiers: must not be empty");
	return rc;
}

int parse_bundle(struct af_yaml *y, struct arena *a, struct af_bundle *out,
		 Af__Policy__Bundle **ret, struct af_err *err)
{
	yaml_node_t *root = af_yaml_root(y);
	struct pctx p = {.y = y, .a = a, .err = err, .out = out};
	int rc;

	p.b = arena_alloc(a, sizeof(*p.b));
	if (p.b == NULL)
		return yaml_oom(y, err);
	af__policy__bundle__init(p.b);
	rc = parse_head(&p, root);
	if (rc == 0)
		rc = parse_defaults(&p, af_yaml_get(y, root, "defaults"));
	if (rc == 0)
		rc = parse_residency(&p, af_yaml_get(y, root, "residency"));
	if (rc == 0)
		rc = parse_lanes(&p, af_yaml_get(y, root, "lanes"));
	if (rc == 0)
		rc = parse_classes(&p, af_yaml_get(y, root, "classes"));
	if (rc == 0)
		rc = parse_degrade(&p, af_yaml_get(y, root, "degrade"));
	if (rc == 0)
		rc = parse_health(&p, af_yaml_get(y, root, "health"));
	if (rc == 0)
		rc = parse_staleness(&p, af_yaml_get(y, root, "staleness"));
	if (rc == 0)
		rc = parse_showback(&p, af_yaml_get(y, root, "showback"));
	if (rc == 0)
		rc = parse_quotas(&p, af_yaml_get(y, root, "quotas"));
	if (rc == 0)
		rc = parse_rules(&p, root);
	if (rc == 0)
		rc = parse_decision_log(&p,
					af_yaml_get(y, root, "decision_log"));
	if (rc == 0)
		*ret = p.b;
	return rc;
}
