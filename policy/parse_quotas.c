/* The bundle's `quotas` section and the lanes' `fleet_max_inflight`:
 * fleet-wide limits routerds enforce with capacity leases
 * (docs/quotas.md). Parsing (YAML, file:line:col errors) and the
 * validation of compiled bytes. */
#include "policy/parse_int.h"
#include "policy/parse_rules.h"
#include "policy/view_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_quota(const void *a, const void *b)
{
	return strcmp((*(Af__Policy__Quota *const *)a)->name,
		      (*(Af__Policy__Quota *const *)b)->name);
}

/* Quota names go into headers, metrics labels and lease keys: letters,
 * digits, '.', '_' and '-' only. */
static bool quota_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > AF_QUOTA_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' ||
		      *s == '-'))
			return false;
	return true;
}

/* Tenants are leased by name (budgets use the same bound). */
static bool quota_tenant_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > AF_QUOTA_TENANT_MAX)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

static bool has_class(const Af__Policy__Bundle *b, const char *name)
{
	for (size_t i = 0; i < b->n_classes; i++)
		if (strcmp(b->classes[i]->name, name) == 0)
			return true;
	return false;
}

static int limit(struct pctx *p, yaml_node_t *q, const char *key, int64_t max,
		 int64_t *ret)
{
	yaml_node_t *v = af_yaml_get(p->y, q, key);

	if (v == NULL)
		return 0;
	return af_yaml_int(p->y, v, key, 1, max, ret, p->err);
}

static int parse_quota(struct pctx *p, yaml_node_t *q, Af__Policy__Quota *o)
{
	static const char *const keys[] = {"name",  "tenant",
					   "class", "max_inflight",
					   "rpm",   "max_tokens_in_flight",
					   "tpm",   NULL};
	yaml_node_t *v;
	int rc;

	rc = af_yaml_expect_map(p->y, q, "quota", p->err);
	if (rc == 0)
		rc = af_yaml_check_keys(p->y, q, keys, p->err);
	if (rc != 0)
		return rc;
	if ((v = yaml_need(p->y, q, "name", "quota", p->err)) == NULL)
		return AF_EPARSE;
	if ((rc = yaml_name(p->y, v, "quota name", p->a, &o->name, p->err)))
		return rc;
	if (!quota_name_ok(o->name))
		return af_yaml_errf(p->y, v, p->err,
				    "quota name \"%s\": use 1-%d letters, "
				    "digits, '.', '_' or '-'",
				    o->name, AF_QUOTA_NAME_MAX);
	if ((v = yaml_need(p->y, q, "tenant", "quota", p->err)) == NULL)
		return AF_EPARSE;
	if ((rc = yaml_name(p->y, v, "quota tenant", p->a, &o->tenant, p->err)))
		return rc;
	if (!quota_tenant_ok(o->tenant))
		return af_yaml_errf(p->y, v, p->err,
				    "quota tenant: 1-%d printable characters "
				    "without spaces, or \"*\" for each tenant",
				    AF_QUOTA_TENANT_MAX);
	if ((v = af_yaml_get(p->y, q, "class")) != NULL &&
	    (rc = yaml_name(p->y, v, "quota class", p->a, &o->class_name,
			    p->err)))
		return rc;
	if (v != NULL && !has_class(p->b, o->class_name))
		return af_yaml_errf(p->y, v, p->err,
				    "quota \"%s\": unknown class \"%s\"",
				    o->name, o->class_name);
	if ((rc = limit(p, q, "max_inflight", MAX_COUNT, &o->max_inflight)) ||
	    (rc = limit(p, q, "max_tokens_in_flight", MAX_TOKENS,
			&o->max_tokens_in_flight)) ||
	    (rc = limit(p, q, "rpm", MAX_COUNT, &o->rpm)) ||
	    (rc = limit(p, q, "tpm", MAX_TOKENS, &o->tpm)))
		return rc;
	if (o->max_inflight == 0 && o->max_tokens_in_flight == 0 &&
	    o->rpm == 0 && o->tpm == 0)
		return af_yaml_errf(p->y, q, p->err,
				    "quota \"%s\" sets no limit: give "
				    "max_inflight, max_tokens_in_flight, rpm "
				    "or tpm",
				    o->name);
	return 0;
}

/* At most AF_QUOTA_PER_HOP quotas may apply to one request: the "*"
 * quotas plus those of any one tenant. */
static int per_hop_ok(const Af__Policy__Quota *const *q, size_t n,
		      const char **ret_tenant)
{
	size_t star = 0, most = 0;

	for (size_t i = 0; i < n; i++)
		star += strcmp(q[i]->tenant, "*") == 0;
	for (size_t i = 0; i < n; i++) {
		size_t c = 0;

		if (strcmp(q[i]->tenant, "*") == 0)
			continue;
		for (size_t j = 0; j < n; j++)
			c += strcmp(q[j]->tenant, q[i]->tenant) == 0;
		if (c > most) {
			most = c;
			*ret_tenant = q[i]->tenant;
		}
	}
	if (most == 0)
		*ret_tenant = "*";
	return star + most <= AF_QUOTA_PER_HOP;
}

int parse_quotas(struct pctx *p, yaml_node_t *n)
{
	const char *t;
	size_t cnt;
	int rc;

	if (n == NULL)
		return 0;
	if ((rc = af_yaml_expect_seq(p->y, n, "quotas", AF_POLICY_MAX_QUOTAS,
				     p->err)) != 0)
		return rc;
	cnt = af_yaml_len(n);
	p->b->quotas = arena_calloc(p->a, cnt + 1, sizeof(void *));
	if (p->b->quotas == NULL)
		return yaml_oom(p->y, p->err);
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_t *q = af_yaml_item(p->y, n, i);
		Af__Policy__Quota *o = arena_alloc(p->a, sizeof(*o));

		if (o == NULL)
			return yaml_oom(p->y, p->err);
		af__policy__quota__init(o);
		if ((rc = parse_quota(p, q, o)) != 0)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (strcmp(p->b->quotas[j]->name, o->name) == 0)
				return af_yaml_errf(p->y, q, p->err,
						    "quota \"%s\" is defined "
						    "twice",
						    o->name);
		p->b->quotas[p->b->n_quotas++] = o;
	}
	if (!per_hop_ok((const Af__Policy__Quota *const *)p->b->quotas, cnt,
			&t))
		return af_yaml_errf(p->y, n, p->err,
				    "quotas: more than %d apply to tenant "
				    "\"%s\" (with the \"*\" ones); merge some",
				    AF_QUOTA_PER_HOP, t);
	qsort(p->b->quotas, cnt, sizeof(void *), cmp_quota);
	return 0;
}

int validate_quotas(const Af__Policy__Bundle *b, struct af_err *err)
{
	const char *t;

	if (b->n_quotas > AF_POLICY_MAX_QUOTAS)
		return af_errf(err, AF_ECORRUPT, "bundle: too many quotas");
	for (size_t i = 0; i < b->n_quotas; i++) {
		const Af__Policy__Quota *q = b->quotas[i];

		if (!quota_name_ok(q->name) || !quota_tenant_ok(q->tenant) ||
		    strlen(q->class_name) > AF_POLICY_NAME_MAX ||
		    (i > 0 && strcmp(b->quotas[i - 1]->name, q->name) >= 0) ||
		    q->max_inflight < 0 || q->max_inflight > MAX_COUNT ||
		    q->rpm < 0 || q->rpm > MAX_COUNT ||
		    q->max_tokens_in_flight < 0 ||
		    q->max_tokens_in_flight > MAX_TOKENS || q->tpm < 0 ||
		    q->tpm > MAX_TOKENS ||
		    (q->max_inflight | q->rpm | q->max_tokens_in_flight |
		     q->tpm) == 0)
			return af_errf(err, AF_ECORRUPT,
				       "bundle: bad quota %zu", i);
	}
	if (!per_hop_ok((const Af__Policy__Quota *const *)b->quotas,
			b->n_quotas, &t))
		return af_errf(err, AF_ECORRUPT,
			       "bundle: too many quotas for one tenant");
	for (size_t i = 0; i < b->n_lanes; i++)
		if (b->lanes[i]->fleet_max_inflight < 0 ||
		    b->lanes[i]->fleet_max_inflight > MAX_COUNT)
			return af_errf(err, AF_ECORRUPT, "bundle: bad lane %zu",
				       i);
	return 0;
}

/* ---------------------------------------------------------------- view */

static const char *view_str(struct af_policy_view *v, const char *s)
{
	return s[0] != '\0' ? arena_strdup(&v->a, s) : NULL;
}

int view_quotas(struct af_policy_view *v, struct vbundle *vb,
		const Af__Policy__Bundle *b)
{
	vb->quotas = arena_calloc(&v->a, b->n_quotas + 1, sizeof(*vb->quotas));
	vb->lane_quota =
		arena_calloc(&v->a, v->lanes.n + 1, sizeof(*vb->lane_quota));
	if (vb->quotas == NULL || vb->lane_quota == NULL)
		return AF_ENOMEM;
	for (size_t i = 0; i < b->n_quotas; i++) {
		const Af__Policy__Quota *q = b->quotas[i];
		struct af_quota_def *d = &vb->quotas[i];

		d->name = view_str(v, q->name);
		d->tenant = view_str(v, q->tenant);
		d->class_name = view_str(v, q->class_name);
		if (d->name == NULL || d->tenant == NULL ||
		    (q->class_name[0] != '\0' && d->class_name == NULL))
			return AF_ENOMEM;
		d->limit[AF_QUOTA_INFLIGHT] = q->max_inflight;
		d->limit[AF_QUOTA_TOKENS] = q->max_tokens_in_flight;
		d->limit[AF_QUOTA_RPM] = q->rpm;
		d->limit[AF_QUOTA_TPM] = q->tpm;
	}
	vb->nquotas = (uint32_t)b->n_quotas;
	for (size_t i = 0; i < b->n_lanes; i++) {
		const Af__Policy__Lane *l = b->lanes[i];
		uint32_t id = intern_find(&v->lanes, l->name);
		char name[AF_POLICY_NAME_MAX + 8];

		if (l->fleet_max_inflight == 0 || id >= v->lanes.n)
			continue;
		snprintf(name, sizeof(name), "lane:%s", l->name);
		if ((vb->lane_quota[id].name = view_str(v, name)) == NULL)
			return AF_ENOMEM;
		vb->lane_quota[id].limit[AF_QUOTA_INFLIGHT] =
			l->fleet_max_inflight;
	}
	return 0;
}

size_t af_policy_view_quotas_for(const struct af_policy_view *v,
				 const char *tenant, const char *class_name,
				 uint32_t lane_id,
				 const struct af_quota_def **ret)
{
	const struct vbundle *vb = &v->b[0];
	size_t n = 0;

	for (uint32_t i = 0; i < vb->nquotas && n < AF_QUOTA_PER_HOP; i++) {
		const struct af_quota_def *d = &vb->quotas[i];

		if ((strcmp(d->tenant, "*") == 0 ||
		     strcmp(d->tenant, tenant) == 0) &&
		    (d->class_name == NULL ||
		     strcmp(d->class_name, class_name) == 0))
			ret[n++] = d;
	}
	if (lane_id < v->lanes.n && vb->lane_quota[lane_id].name != NULL)
		ret[n++] = &vb->lane_quota[lane_id];
	return n;
}

const struct af_quota_def *
af_policy_view_quota_at(const struct af_policy_view *v, size_t i)
{
	const struct vbundle *vb = &v->b[0];

	if (i < vb->nquotas)
		return &vb->quotas[i];
	i -= vb->nquotas;
	for (uint32_t l = 0; l < v->lanes.n; l++)
		if (vb->lane_quota[l].name != NULL && i-- == 0)
			return &vb->lane_quota[l];
	return NULL;
}

const char *af_quota_dim_name(enum af_quota_dim d)
{
	static const char *const names[] = {"inflight", "tokens_in_flight",
					    "rpm", "tpm"};

	return (unsigned)d < AF_QUOTA_NDIM ? names[d] : "?";
}
