/* Model registry YAML (kind: Models) -> canonical
 * Af__Policy__Registry. */
#include "policy/parse_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static int parse_status(struct af_yaml *y, yaml_node_t *n,
			Af__Policy__Status *ret, struct af_err *err)
{
	const char *s;
	int rc;

	*ret = AF__POLICY__STATUS__STATUS_ACTIVE;
	if (n == NULL)
		return 0;
	rc = af_yaml_str(y, n, "status", 32, &s, err);
	if (rc != 0)
		return rc;
	if (strcmp(s, "active") == 0)
		*ret = AF__POLICY__STATUS__STATUS_ACTIVE;
	else if (strcmp(s, "deprecated") == 0)
		*ret = AF__POLICY__STATUS__STATUS_DEPRECATED;
	else if (strcmp(s, "disabled") == 0)
		*ret = AF__POLICY__STATUS__STATUS_DISABLED;
	else
		return af_yaml_errf(y, n, err,
				    "status: expected active, deprecated or "
				    "disabled, got \"%s\"",
				    s);
	return 0;
}

/* The three prices of node n (a model or a prices: item) into in, out
 * and cached (*has_cached: given). */
static int prices_of(struct af_yaml *y, yaml_node_t *n, const char *what,
		     int64_t *in, int64_t *out, int64_t *cached,
		     protobuf_c_boolean *has_cached, struct af_err *err)
{
	yaml_node_t *v;
	int rc;

	if ((v = yaml_need(y, n, "usd_per_1k_input", what, err)) == NULL)
		return AF_EPARSE;
	rc = af_yaml_fixed(y, v, "usd_per_1k_input", 1000000, 0,
			   MAX_PRICE_MICRO, in, err);
	if (rc != 0)
		return rc;
	if ((v = yaml_need(y, n, "usd_per_1k_output", what, err)) == NULL)
		return AF_EPARSE;
	rc = af_yaml_fixed(y, v, "usd_per_1k_output", 1000000, 0,
			   MAX_PRICE_MICRO, out, err);
	if (rc != 0 ||
	    (v = af_yaml_get(y, n, "usd_per_1k_cached_input")) == NULL)
		return rc;
	*has_cached = 1;
	return af_yaml_fixed(y, v, "usd_per_1k_cached_input", 1000000, 0,
			     MAX_PRICE_MICRO, cached, err);
}

static int parse_effective(struct af_yaml *y, yaml_node_t *n, int64_t *ret,
			   struct af_err *err)
{
	struct tm tm = {0};
	const char *s, *end;
	int rc = af_yaml_str(y, n, "effective", 32, &s, err);

	if (rc != 0)
		return rc;
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0')
		return af_yaml_errf(y, n, err,
				    "effective: expected an RFC 3339 UTC time "
				    "like 2026-12-01T00:00:00Z, got \"%s\"",
				    s);
	*ret = (int64_t)timegm(&tm) * 1000;
	return 0;
}

/* prices: [{effective, usd_per_1k_input, usd_per_1k_output,
 * usd_per_1k_cached_input}], in effective order. */
static int price_list(struct af_yaml *y, struct arena *a, yaml_node_t *seq,
		      Af__Policy__Model *m, struct af_err *err)
{
	static const char *const keys[] = {"effective", "usd_per_1k_input",
					   "usd_per_1k_output",
					   "usd_per_1k_cached_input", NULL};
	int rc = af_yaml_expect_seq(y, seq, "prices", AF_MODEL_PRICES_MAX, err);
	size_t n = rc == 0 ? af_yaml_len(seq) : 0;

	if (rc == 0 && n == 0)
		return af_yaml_errf(y, seq, err, "prices: must not be empty");
	if (rc == 0 &&
	    (m->prices = arena_calloc(a, n, sizeof(*m->prices))) == NULL)
		return yaml_oom(y, err);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		yaml_node_t *it = af_yaml_item(y, seq, i), *v;
		Af__Policy__Price *p = arena_alloc(a, sizeof(*p));

		if (p == NULL)
			return yaml_oom(y, err);
		af__policy__price__init(p);
		rc = af_yaml_expect_map(y, it, "prices item", err);
		if (rc == 0)
			rc = af_yaml_check_keys(y, it, keys, err);
		if (rc == 0 && (v = yaml_need(y, it, "effective", "prices item",
					      err)) == NULL)
			rc = AF_EPARSE;
		if (rc == 0)
			rc = parse_effective(y, v, &p->effective_ms, err);
		if (rc == 0)
			rc = prices_of(y, it, "prices item",
				       &p->micro_usd_per_1k_input,
				       &p->micro_usd_per_1k_output,
				       &p->micro_usd_per_1k_cached_input,
				       &p->has_cached_input, err);
		if (rc == 0 && i > 0 &&
		    p->effective_ms <= m->prices[i - 1]->effective_ms)
			rc = af_yaml_errf(y, v, err,
					  "prices: effective times must grow "
					  "from one version to the next");
		m->prices[m->n_prices++] = p;
	}
	if (rc == 0) { /* the flat prices: the earliest version's */
		m->micro_usd_per_1k_input =
			m->prices[0]->micro_usd_per_1k_input;
		m->micro_usd_per_1k_output =
			m->prices[0]->micro_usd_per_1k_output;
		m->micro_usd_per_1k_cached_input =
			m->prices[0]->micro_usd_per_1k_cached_input;
		m->has_cached_input = m->prices[0]->has_cached_input;
	}
	return rc;
}

static int model_numbers(struct af_yaml *y, struct arena *a, yaml_node_t *n,
			 Af__Policy__Model *m, struct af_err *err)
{
	yaml_node_t *v, *pl;
	int rc;

	if ((v = yaml_need(y, n, "context_limit", "model", err)) == NULL)
		return AF_EPARSE;
	rc = af_yaml_int(y, v, "context_limit", 1, MAX_TOKENS,
			 &m->context_limit, err);
	if (rc != 0)
		return rc;
	if ((pl = af_yaml_get(y, n, "prices")) == NULL)
		return prices_of(y, n, "model", &m->micro_usd_per_1k_input,
				 &m->micro_usd_per_1k_output,
				 &m->micro_usd_per_1k_cached_input,
				 &m->has_cached_input, err);
	if ((v = af_yaml_get(y, n, "usd_per_1k_input")) != NULL ||
	    (v = af_yaml_get(y, n, "usd_per_1k_output")) != NULL ||
	    (v = af_yaml_get(y, n, "usd_per_1k_cached_input")) != NULL)
		return af_yaml_errf(y, v, err,
				    "model: give either prices: or the flat "
				    "usd_per_1k_* keys, not both");
	return price_list(y, a, pl, m, err);
}

static int need_name(struct af_yaml *y, struct arena *a, yaml_node_t *n,
		     const char *key, char **ret, struct af_err *err)
{
	yaml_node_t *v = yaml_need(y, n, key, "model", err);

	if (v == NULL)
		return AF_EPARSE;
	return yaml_name(y, v, key, a, ret, err);
}

static int parse_model(struct af_yaml *y, struct arena *a, yaml_node_t *n,
		       Af__Policy__Model **ret, struct af_err *err)
{
	static const char *const keys[] = {
		"id",
		"provider",
		"tier",
		"regions",
		"context_limit",
		"capabilities",
		"usd_per_1k_input",
		"usd_per_1k_output",
		"usd_per_1k_cached_input",
		"prices",
		"status",
		NULL,
	};
	Af__Policy__Model *m = arena_alloc(a, sizeof(*m));
	yaml_node_t *v;
	int rc;

	if (m == NULL)
		return yaml_oom(y, err);
	af__policy__model__init(m);
	rc = af_yaml_expect_map(y, n, "model", err);
	if (rc == 0)
		rc = af_yaml_check_keys(y, n, keys, err);
	if (rc != 0)
		return rc;
	rc = need_name(y, a, n, "id", &m->id, err);
	if (rc == 0)
		rc = need_name(y, a, n, "provider", &m->provider, err);
	if (rc == 0)
		rc = need_name(y, a, n, "tier", &m->tier, err);
	if (rc != 0)
		return rc;
	if ((v = yaml_need(y, n, "regions", "model", err)) == NULL)
		return AF_EPARSE;
	rc = yaml_str_list(y, v, "regions", AF_POLICY_MAX_LIST, true, a,
			   &m->regions, &m->n_regions, err);
	if (rc == 0 && m->n_regions == 0)
		rc = af_yaml_errf(y, v, err, "regions: must not be empty");
	if (rc == 0 && (v = af_yaml_get(y, n, "capabilities")) != NULL)
		rc = yaml_str_list(y, v, "capabilities", AF_POLICY_MAX_LIST,
				   true, a, &m->capabilities,
				   &m->n_capabilities, err);
	if (rc == 0)
		rc = model_numbers(y, a, n, m, err);
	if (rc == 0)
		rc = parse_status(y, af_yaml_get(y, n, "status"), &m->status,
				  err);
	if (rc == 0)
		*ret = m;
	return rc;
}

static int cmp_model(const void *a, const void *b)
{
	return strcmp((*(Af__Policy__Model *const *)a)->id,
		      (*(Af__Policy__Model *const *)b)->id);
}

/* Duplicate ids: sort a copy of (id, node) pairs, report the later one. */
static int check_dup_ids(struct af_yaml *y, yaml_node_t *seq,
			 Af__Policy__Model **v, size_t n, struct af_err *err)
{
	for (size_t i = 1; i < n; i++) {
		if (strcmp(v[i - 1]->id, v[i]->id) != 0)
			continue;
		/* Find the second occurrence in source order. */
		size_t first = SIZE_MAX;

		for (size_t j = 0; j < n; j++) {
			yaml_node_t *it = af_yaml_item(y, seq, j);
			yaml_node_t *id = af_yaml_get(y, it, "id");

			if (strcmp((char *)id->data.scalar.value, v[i]->id))
				continue;
			if (first != SIZE_MAX)
				return af_yaml_errf(y, id, err,
						    "duplicate model id \"%s\"",
						    v[i]->id);
			first = j;
		}
	}
	return 0;
}

int parse_registry(struct af_yaml *y, struct arena *a,
		   Af__Policy__Registry **ret, struct af_err *err)
{
	static const char *const keys[] = {"apiVersion", "kind", "models",
					   NULL};
	yaml_node_t *root = af_yaml_root(y), *seq;
	Af__Policy__Registry *r;
	size_t cnt;
	int rc;

	rc = af_yaml_expect_map(y, root, "models file", err);
	if (rc == 0)
		rc = af_yaml_check_keys(y, root, keys, err);
	if (rc == 0)
		rc = yaml_header(y, root, "Models", err);
	if (rc != 0)
		return rc;
	if ((seq = yaml_need(y, root, "models", "models file", err)) == NULL)
		return AF_EPARSE;
	rc = af_yaml_expect_seq(y, seq, "models", AF_POLICY_MAX_MODELS, err);
	if (rc != 0)
		return rc;
	cnt = af_yaml_len(seq);
	r = arena_alloc(a, sizeof(*r));
	if (r == NULL)
		return yaml_oom(y, err);
	af__policy__registry__init(r);
	r->models = arena_calloc(a, cnt + 1, sizeof(void *));
	if (r->models == NULL)
		return yaml_oom(y, err);
	for (size_t i = 0; i < cnt; i++) {
		rc = parse_model(y, a, af_yaml_item(y, seq, i),
				 &r->models[r->n_models], err);
		if (rc != 0)
			return rc;
		r->n_models++;
	}
	qsort(r->models, cnt, sizeof(void *), cmp_model);
	rc = check_dup_ids(y, seq, r->models, cnt, err);
	if (rc == 0)
		*ret = r;
	return rc;
}
