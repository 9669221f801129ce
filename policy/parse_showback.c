/* The bundle's `showback` section: the request and outcome labels that
 * workflow showback groups by (`af report --by labels.KEY`). */
#include "policy/parse_int.h"
#include "policy/parse_rules.h"
#include "policy/policy_int.h"

#include <string.h>

#define PREFIX "labels."

static bool dim_ok(const char *d)
{
	size_t n;

	if (strncmp(d, PREFIX, strlen(PREFIX)) != 0)
		return false;
	n = strlen(d + strlen(PREFIX));
	return n > 0 && n <= AF_POLICY_LABEL_KEY_MAX && strchr(d, '=') == NULL;
}

int parse_showback(struct pctx *p, yaml_node_t *n)
{
	static const char *const keys[] = {"dimensions", NULL};
	Af__Policy__ShowbackDims *s;
	yaml_node_t *v;
	int rc;

	if (n == NULL)
		return 0;
	rc = af_yaml_expect_map(p->y, n, "showback", p->err);
	if (rc == 0)
		rc = af_yaml_check_keys(p->y, n, keys, p->err);
	if (rc != 0)
		return rc;
	if ((s = arena_alloc(p->a, sizeof(*s))) == NULL)
		return yaml_oom(p->y, p->err);
	af__policy__showback_dims__init(s);
	if ((v = yaml_need(p->y, n, "dimensions", "showback", p->err)) == NULL)
		return AF_EPARSE;
	rc = yaml_str_list(p->y, v, "showback.dimensions", AF_SHOWBACK_DIMS_MAX,
			   true, p->a, &s->dimensions, &s->n_dimensions,
			   p->err);
	for (size_t j = 0; rc == 0 && j < af_yaml_len(v); j++) {
		yaml_node_t *it = af_yaml_item(p->y, v, j);

		if (!dim_ok((const char *)it->data.scalar.value))
			rc = af_yaml_errf(p->y, it, p->err,
					  "showback.dimensions: \"%s\" is not "
					  "a label dimension: write "
					  "labels.KEY (KEY 1 to %d bytes, no "
					  "'=')",
					  (const char *)it->data.scalar.value,
					  AF_POLICY_LABEL_KEY_MAX);
	}
	if (rc == 0)
		p->b->showback = s;
	return rc;
}

int validate_showback(const Af__Policy__Bundle *b, struct af_err *err)
{
	const Af__Policy__ShowbackDims *s = b->showback;

	if (s == NULL)
		return 0;
	if (s->n_dimensions > AF_SHOWBACK_DIMS_MAX)
		return af_errf(err, AF_ECORRUPT, "bundle: bad showback");
	for (size_t i = 0; i < s->n_dimensions; i++)
		if (!dim_ok(s->dimensions[i]) ||
		    (i > 0 &&
		     strcmp(s->dimensions[i - 1], s->dimensions[i]) >= 0))
			return af_errf(err, AF_ECORRUPT,
				       "bundle: bad showback");
	return 0;
}
