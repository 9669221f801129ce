/* The bundle's decision_log section: which request fields routerd's
 * decision log masks, and which share of each class's decisions it keeps. */
#include "policy/parse_int.h"
#include "policy/parse_rules.h"

#include <stdlib.h>
#include <string.h>

static const char *const mask_fields[] = {
	"workflow_id", "tenant", "agent_role", "region", "sensitivity", NULL,
};

bool dlog_mask_ok(const char *path)
{
	size_t n;

	for (size_t i = 0; mask_fields[i] != NULL; i++)
		if (strcmp(path, mask_fields[i]) == 0)
			return true;
	if (strncmp(path, "labels.", 7) != 0)
		return false;
	n = strlen(path + 7);
	return n > 0 && n <= AF_POLICY_LABEL_KEY_MAX;
}

static int parse_mask(struct pctx *p, yaml_node_t *n,
		      Af__Policy__DecisionLog *d)
{
	int rc = yaml_str_list(p->y, n, "decision_log.mask", AF_POLICY_MAX_LIST,
			       true, p->a, &d->mask, &d->n_mask, p->err);

	if (rc != 0)
		return rc;
	for (size_t i = 0; i < d->n_mask; i++) {
		if (dlog_mask_ok(d->mask[i]))
			continue;
		/* The list is sorted now: point at the item by its text. */
		for (size_t j = 0; j < af_yaml_len(n); j++) {
			yaml_node_t *it = af_yaml_item(p->y, n, j);

			if (strcmp((const char *)it->data.scalar.value,
				   d->mask[i]) == 0)
				return af_yaml_errf(
					p->y, it, p->err,
					"decision_log.mask: \"%s\" is not a "
					"request field that can be masked "
					"(workflow_id, tenant, agent_role, "
					"region, sensitivity, labels.KEY)",
					d->mask[i]);
		}
	}
	return 0;
}

static bool bundle_has_class(const Af__Policy__Bundle *b, const char *name)
{
	for (size_t i = 0; i < b->n_classes; i++)
		if (strcmp(b->classes[i]->name, name) == 0)
			return true;
	return false;
}

static int cmp_rate(const void *a, const void *b)
{
	return strcmp((*(Af__Policy__SampleRate *const *)a)->class_,
		      (*(Af__Policy__SampleRate *const *)b)->class_);
}

static int parse_sample(struct pctx *p, yaml_node_t *n,
			Af__Policy__DecisionLog *d)
{
	size_t cnt;
	int rc;

	rc = yaml_map_names(p->y, n, "decision_log.sample",
			    AF_POLICY_MAX_CLASSES, p->err);
	if (rc != 0)
		return rc;
	cnt = af_yaml_len(n);
	d->sample = arena_calloc(p->a, cnt + 1, sizeof(void *));
	if (d->sample == NULL)
		return yaml_oom(p->y, p->err);
	for (size_t i = 0; i < cnt; i++) {
		Af__Policy__SampleRate *s = arena_alloc(p->a, sizeof(*s));
		yaml_node_t *k = af_yaml_key(p->y, n, i);

		if (s == NULL)
			return yaml_oom(p->y, p->err);
		af__policy__sample_rate__init(s);
		rc = yaml_name(p->y, k, "decision_log.sample", p->a, &s->class_,
			       p->err);
		if (rc == 0 && !bundle_has_class(p->b, s->class_))
			rc = af_yaml_errf(p->y, k, p->err,
					  "decision_log.sample: unknown class "
					  "\"%s\"",
					  s->class_);
		if (rc == 0)
			rc = af_yaml_fixed(p->y, af_yaml_value(p->y, n, i),
					   "decision_log.sample", 1000000, 0,
					   1000000, &s->ppm, p->err);
		if (rc != 0)
			return rc;
		d->sample[d->n_sample++] = s;
	}
	qsort(d->sample, cnt, sizeof(void *), cmp_rate);
	return 0;
}

int parse_decision_log(struct pctx *p, yaml_node_t *n)
{
	static const char *const keys[] = {"mask", "sample", NULL};
	Af__Policy__DecisionLog *d;
	yaml_node_t *v;
	int rc;

	if (n == NULL)
		return 0;
	rc = af_yaml_expect_map(p->y, n, "decision_log", p->err);
	if (rc == 0)
		rc = af_yaml_check_keys(p->y, n, keys, p->err);
	if (rc != 0)
		return rc;
	d = arena_alloc(p->a, sizeof(*d));
	if (d == NULL)
		return yaml_oom(p->y, p->err);
	af__policy__decision_log__init(d);
	if ((v = af_yaml_get(p->y, n, "mask")) != NULL &&
	    (rc = parse_mask(p, v, d)) != 0)
		return rc;
	if ((v = af_yaml_get(p->y, n, "sample")) != NULL &&
	    (rc = parse_sample(p, v, d)) != 0)
		return rc;
	p->b->decision_log = d;
	return 0;
}
