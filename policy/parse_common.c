/* Helpers shared by the bundle and registry parsers and validators. */
#include "common/name.h"
#include "policy/parse_int.h"

#include <stdlib.h>
#include <string.h>

int cmp_str_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

long sort_unique(char **strs, size_t n)
{
	if (n < 2)
		return -1;
	qsort(strs, n, sizeof(*strs), cmp_str_ptr);
	for (size_t i = 1; i < n; i++)
		if (strcmp(strs[i - 1], strs[i]) == 0)
			return (long)i;
	return -1;
}

bool valid_deny_code(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > MAX_CODE_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

int yaml_header(struct af_yaml *y, yaml_node_t *root, const char *kind,
		struct af_err *err)
{
	yaml_node_t *n;
	const char *s;
	int rc;

	n = af_yaml_get(y, root, "apiVersion");
	if (n == NULL)
		return af_yaml_errf(y, root, err, "missing apiVersion");
	rc = af_yaml_str(y, n, "apiVersion", 64, &s, err);
	if (rc != 0)
		return rc;
	if (strcmp(s, "af/v1") != 0)
		return af_yaml_errf(
			y, n, err, "apiVersion: expected af/v1, got \"%s\"", s);
	n = af_yaml_get(y, root, "kind");
	if (n == NULL)
		return af_yaml_errf(y, root, err, "missing kind");
	rc = af_yaml_str(y, n, "kind", 64, &s, err);
	if (rc != 0)
		return rc;
	if (strcmp(s, kind) != 0)
		return af_yaml_errf(y, n, err, "kind: expected %s, got \"%s\"",
				    kind, s);
	return 0;
}

yaml_node_t *yaml_need(struct af_yaml *y, yaml_node_t *map, const char *key,
		       const char *what, struct af_err *err)
{
	yaml_node_t *n = af_yaml_get(y, map, key);

	if (n == NULL)
		af_yaml_errf(y, map, err, "%s: missing %s", what, key);
	return n;
}

/* A string that is also a valid name (common/name.h). */
static int yaml_checked_name(struct af_yaml *y, yaml_node_t *n,
			     const char *what, const char **ret,
			     struct af_err *err)
{
	char why[96];
	const char *s;
	int rc;

	rc = af_yaml_str(y, n, what, AF_POLICY_NAME_MAX, &s, err);
	if (rc != 0)
		return rc;
	if (!af_name_valid(s, n->data.scalar.length, AF_POLICY_NAME_MAX, why,
			   sizeof(why)))
		return af_yaml_errf(y, n, err, "%s: the name %s", what, why);
	*ret = s;
	return 0;
}

int yaml_name(struct af_yaml *y, yaml_node_t *n, const char *what,
	      struct arena *a, char **ret, struct af_err *err)
{
	const char *s;
	char *d;
	int rc;

	rc = yaml_checked_name(y, n, what, &s, err);
	if (rc != 0)
		return rc;
	d = arena_strdup(a, s);
	if (d == NULL)
		return af_errf(err, AF_ENOMEM, "%s: out of memory", y->file);
	*ret = d;
	return 0;
}

int yaml_map_names(struct af_yaml *y, yaml_node_t *map, const char *what,
		   size_t max, struct af_err *err)
{
	size_t n;
	int rc;

	rc = af_yaml_expect_map(y, map, what, err);
	if (rc != 0)
		return rc;
	n = af_yaml_len(map);
	if (n > max)
		return af_yaml_errf(y, map, err, "%s: more than %zu entries",
				    what, max);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *k = af_yaml_key(y, map, i);
		const char *s;

		rc = yaml_checked_name(y, k, what, &s, err);
		if (rc != 0)
			return rc;
		for (size_t j = 0; j < i; j++) {
			yaml_node_t *o = af_yaml_key(y, map, j);

			if (strcmp((const char *)o->data.scalar.value, s) == 0)
				return af_yaml_errf(y, k, err,
						    "%s: duplicate name "
						    "\"%s\"",
						    what, s);
		}
	}
	return 0;
}

int yaml_str_list(struct af_yaml *y, yaml_node_t *n, const char *what,
		  size_t max, bool set, struct arena *a, char ***ret,
		  size_t *ret_n, struct af_err *err)
{
	size_t cnt;
	char **v;
	int rc;

	rc = af_yaml_expect_seq(y, n, what, max, err);
	if (rc != 0)
		return rc;
	cnt = af_yaml_len(n);
	v = arena_calloc(a, cnt ? cnt : 1, sizeof(*v));
	if (v == NULL)
		return af_errf(err, AF_ENOMEM, "%s: out of memory", y->file);
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_t *it = af_yaml_item(y, n, i);

		rc = yaml_name(y, it, what, a, &v[i], err);
		if (rc != 0)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (strcmp(v[j], v[i]) == 0)
				return af_yaml_errf(y, it, err,
						    "%s: duplicate \"%s\"",
						    what, v[i]);
	}
	if (set && cnt > 1)
		qsort(v, cnt, sizeof(*v), cmp_str_ptr);
	*ret = v;
	*ret_n = cnt;
	return 0;
}

int yaml_oom(struct af_yaml *y, struct af_err *err)
{
	return af_errf(err, AF_ENOMEM, "%s: out of memory", y->file);
}
