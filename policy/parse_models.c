/* Model registry YAML (kind: Models) -> canonical
 * Af__Policy__Registry. */
#include "policy/parse_int.h"

#include <stdlib.h>
#include <string.h>

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

static int model_numbers(struct af_yaml *y, yaml_node_t *n,
			 Af__Policy__Model *m, struct af_err *err)
{
	yaml_node_t *v;
	int rc;

	if ((v = yaml_need(y, n, "context_limit", "model", err)) == NULL)
		return AF_EPARSE;
	rc = af_yaml_int(y, v, "context_limit", 1, MAX_TOKENS,
			 &m->context_limit, err);
	if (rc != 0)
		return rc;
	if ((v = yaml_need(y, n, "usd_per_1k_input", "model", err)) == NULL)
		return AF_EPARSE;
	rc = af_yaml_fixed(y, v, "usd_per_1k_input", 1000000, 0,
			   MAX_PRICE_MICRO, &m->micro_usd_per_1k_input, err);
	if (rc != 0)
		return rc;
	if ((v = yaml_need(y, n, "usd_per_1k_output", "model", err)) == NULL)
		return AF_EPARSE;
	return af_yaml_fixed(y, v, "usd_per_1k_output", 1000000, 0,
			     MAX_PRICE_MICRO, &m->micro_usd_per_1k_output, err);
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
		rc = model_numbers(y, n, m, err);
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
