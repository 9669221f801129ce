/* Policy rules: `when` conditions, `route` and `deny` actions. */
#include "policy/parse_rules.h"
#include "common/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_STR, K_NUM, K_MONEY, K_NEEDS };

struct attr_def {
	const char *name;
	Af__Policy__Attr attr;
	enum kind kind;
};

static const struct attr_def attrs[] = {
	{"class", AF__POLICY__ATTR__ATTR_CLASS, K_STR},
	{"tenant", AF__POLICY__ATTR__ATTR_TENANT, K_STR},
	{"sensitivity", AF__POLICY__ATTR__ATTR_SENSITIVITY, K_STR},
	{"agent_role", AF__POLICY__ATTR__ATTR_AGENT_ROLE, K_STR},
	{"region", AF__POLICY__ATTR__ATTR_REGION, K_STR},
	{"latency_slo_ms", AF__POLICY__ATTR__ATTR_LATENCY_SLO_MS, K_NUM},
	{"max_cost_usd", AF__POLICY__ATTR__ATTR_MAX_COST_USD, K_MONEY},
	{"input_tokens", AF__POLICY__ATTR__ATTR_INPUT_TOKENS, K_NUM},
	{"output_tokens", AF__POLICY__ATTR__ATTR_OUTPUT_TOKENS, K_NUM},
	{"fanout", AF__POLICY__ATTR__ATTR_FANOUT, K_NUM},
	{"tool_calls", AF__POLICY__ATTR__ATTR_TOOL_CALLS, K_NUM},
	{"attempt", AF__POLICY__ATTR__ATTR_ATTEMPT, K_NUM},
	{"needs", AF__POLICY__ATTR__ATTR_NEEDS, K_NEEDS},
};

struct op_def {
	const char *name;
	Af__Policy__Op op;
};

static const struct op_def num_ops[] = {
	{"lt", AF__POLICY__OP__OP_LT}, {"lte", AF__POLICY__OP__OP_LTE},
	{"gt", AF__POLICY__OP__OP_GT}, {"gte", AF__POLICY__OP__OP_GTE},
	{"eq", AF__POLICY__OP__OP_EQ}, {"ne", AF__POLICY__OP__OP_NE},
};

static const struct op_def str_ops[] = {
	{"eq", AF__POLICY__OP__OP_EQ},
	{"ne", AF__POLICY__OP__OP_NE},
	{"in", AF__POLICY__OP__OP_IN},
	{"not_in", AF__POLICY__OP__OP_NOT_IN},
};

struct conds {
	Af__Policy__Cond **v;
	size_t n;
};

static Af__Policy__Cond *new_cond(struct pctx *p, struct conds *cs,
				  yaml_node_t *at, Af__Policy__Attr attr,
				  const char *label, Af__Policy__Op op)
{
	Af__Policy__Cond *c;

	if (cs->n >= AF_POLICY_MAX_CONDS) {
		af_yaml_errf(p->y, at, p->err, "more than %d conditions",
			     AF_POLICY_MAX_CONDS);
		return NULL;
	}
	c = arena_alloc(p->a, sizeof(*c));
	if (c == NULL) {
		yaml_oom(p->y, p->err);
		return NULL;
	}
	af__policy__cond__init(c);
	c->attr = attr;
	c->op = op;
	if (label != NULL)
		c->label = (char *)label;
	cs->v[cs->n++] = c;
	return c;
}

static int class_refs(struct pctx *p, yaml_node_t *n, Af__Policy__Cond *c)
{
	for (size_t i = 0; i < c->n_values; i++) {
		bool found = false;

		for (size_t j = 0; j < p->b->n_classes && !found; j++)
			found = strcmp(p->b->classes[j]->name, c->values[i]) ==
				0;
		if (!found)
			return af_yaml_errf(p->y, n, p->err,
					    "unknown class \"%s\"",
					    c->values[i]);
	}
	return 0;
}

/* Values of a string condition: a scalar or a list, into c->values. */
static int str_values(struct pctx *p, yaml_node_t *n, const char *what,
		      Af__Policy__Cond *c)
{
	int rc;

	if (n->type == YAML_SCALAR_NODE) {
		c->values = arena_alloc(p->a, sizeof(char *));
		if (c->values == NULL)
			return yaml_oom(p->y, p->err);
		c->n_values = 1;
		rc = yaml_name(p->y, n, what, p->a, &c->values[0], p->err);
	} else {
		rc = yaml_str_list(p->y, n, what, AF_POLICY_MAX_LIST, true,
				   p->a, &c->values, &c->n_values, p->err);
		if (rc == 0 && c->n_values == 0)
			rc = af_yaml_errf(p->y, n, p->err,
					  "%s: list must not be empty", what);
	}
	if (rc == 0 && c->attr == AF__POLICY__ATTR__ATTR_CLASS)
		rc = class_refs(p, n, c);
	return rc;
}

static int str_cond(struct pctx *p, struct conds *cs, yaml_node_t *k,
		    yaml_node_t *v, Af__Policy__Attr attr, const char *label,
		    const char *what)
{
	Af__Policy__Cond *c;
	int rc;

	if (v->type != YAML_MAPPING_NODE) {
		c = new_cond(p, cs, k, attr, label,
			     v->type == YAML_SCALAR_NODE
				     ? AF__POLICY__OP__OP_EQ
				     : AF__POLICY__OP__OP_IN);
		return c == NULL ? AF_EPARSE : str_values(p, v, what, c);
	}
	if (af_yaml_len(v) == 0)
		return af_yaml_errf(p->y, v, p->err, "%s: empty mapping", what);
	for (size_t i = 0; i < af_yaml_len(v); i++) {
		yaml_node_t *ok = af_yaml_key(p->y, v, i);
		yaml_node_t *ov = af_yaml_value(p->y, v, i);
		const struct op_def *od = NULL;

		for (size_t j = 0; j < sizeof(str_ops) / sizeof(*str_ops); j++)
			if (ok->type == YAML_SCALAR_NODE &&
			    strcmp((char *)ok->data.scalar.value,
				   str_ops[j].name) == 0)
				od = &str_ops[j];
		if (od == NULL)
			return af_yaml_errf(
				p->y, ok, p->err,
				"%s: unknown operator (expected eq, "
				"ne, in or not_in)",
				what);
		if ((od->op == AF__POLICY__OP__OP_IN ||
		     od->op == AF__POLICY__OP__OP_NOT_IN) !=
		    (ov->type == YAML_SEQUENCE_NODE))
			return af_yaml_errf(
				p->y, ov, p->err, "%s.%s: expected %s", what,
				od->name,
				ov->type == YAML_SEQUENCE_NODE ? "a string"
							       : "a list");
		c = new_cond(p, cs, ok, attr, label, od->op);
		if (c == NULL)
			return AF_EPARSE;
		rc = str_values(p, ov, what, c);
		if (rc != 0)
			return rc;
	}
	return af_yaml_check_keys(
		p->y, v,
		(const char *const[]){"eq", "ne", "in", "not_in", NULL},
		p->err);
}

static int num_value(struct pctx *p, yaml_node_t *n, const char *what,
		     enum kind kind, int64_t *ret)
{
	if (kind == K_MONEY)
		return af_yaml_fixed(p->y, n, what, 1000000, 0, MAX_COST_MICRO,
				     ret, p->err);
	return af_yaml_int(p->y, n, what, 0, MAX_NUMBER, ret, p->err);
}

static int num_cond(struct pctx *p, struct conds *cs, yaml_node_t *k,
		    yaml_node_t *v, const struct attr_def *ad)
{
	Af__Policy__Cond *c;
	int rc;

	if (v->type != YAML_MAPPING_NODE) {
		c = new_cond(p, cs, k, ad->attr, NULL, AF__POLICY__OP__OP_EQ);
		if (c == NULL)
			return AF_EPARSE;
		return num_value(p, v, ad->name, ad->kind, &c->number);
	}
	rc = af_yaml_check_keys(p->y, v,
				(const char *const[]){"lt", "lte", "gt", "gte",
						      "eq", "ne", NULL},
				p->err);
	if (rc == 0 && af_yaml_len(v) == 0)
		rc = af_yaml_errf(p->y, v, p->err, "%s: empty mapping",
				  ad->name);
	for (size_t i = 0; rc == 0 && i < af_yaml_len(v); i++) {
		const char *on =
			(char *)af_yaml_key(p->y, v, i)->data.scalar.value;
		Af__Policy__Op op = AF__POLICY__OP__OP_NONE;

		for (size_t j = 0; j < sizeof(num_ops) / sizeof(*num_ops); j++)
			if (strcmp(on, num_ops[j].name) == 0)
				op = num_ops[j].op;
		c = new_cond(p, cs, k, ad->attr, NULL, op);
		if (c == NULL)
			return AF_EPARSE;
		rc = num_value(p, af_yaml_value(p->y, v, i), ad->name, ad->kind,
			       &c->number);
	}
	return rc;
}

static int needs_cond(struct pctx *p, struct conds *cs, yaml_node_t *k,
		      yaml_node_t *v)
{
	Af__Policy__Cond *c;

	c = new_cond(p, cs, k, AF__POLICY__ATTR__ATTR_NEEDS, NULL,
		     AF__POLICY__OP__OP_INCLUDES);
	if (c == NULL)
		return AF_EPARSE;
	if (v->type != YAML_SEQUENCE_NODE && v->type != YAML_SCALAR_NODE)
		return af_yaml_errf(p->y, v, p->err,
				    "needs: expected a list, got %s",
				    af_yaml_kind(v));
	return str_values(p, v, "needs", c);
}

static int label_cond(struct pctx *p, struct conds *cs, yaml_node_t *k,
		      yaml_node_t *v, const char *key)
{
	const char *lk = key + strlen("labels.");
	char *label;

	if (lk[0] == '\0' || strlen(lk) > AF_POLICY_LABEL_KEY_MAX)
		return af_yaml_errf(p->y, k, p->err,
				    "label key must be 1 to %d bytes",
				    AF_POLICY_LABEL_KEY_MAX);
	label = arena_strdup(p->a, lk);
	if (label == NULL)
		return yaml_oom(p->y, p->err);
	return str_cond(p, cs, k, v, AF__POLICY__ATTR__ATTR_LABEL, label, key);
}

static int when_key(struct pctx *p, struct conds *cs, yaml_node_t *k,
		    yaml_node_t *v)
{
	const char *key = (const char *)k->data.scalar.value;

	if (strncmp(key, "labels.", 7) == 0)
		return label_cond(p, cs, k, v, key);
	for (size_t i = 0; i < sizeof(attrs) / sizeof(*attrs); i++) {
		const struct attr_def *ad = &attrs[i];

		if (strcmp(key, ad->name) != 0)
			continue;
		if (ad->kind == K_STR)
			return str_cond(p, cs, k, v, ad->attr, NULL, ad->name);
		if (ad->kind == K_NEEDS)
			return needs_cond(p, cs, k, v);
		return num_cond(p, cs, k, v, ad);
	}
	return af_yaml_errf(p->y, k, p->err, "unknown key \"%.64s\"", key);
}

static int cmp_cond(const void *a, const void *b)
{
	const Af__Policy__Cond *x = *(Af__Policy__Cond *const *)a;
	const Af__Policy__Cond *y = *(Af__Policy__Cond *const *)b;
	int c;

	if (x->attr != y->attr)
		return x->attr < y->attr ? -1 : 1;
	c = strcmp(x->label, y->label);
	if (c != 0)
		return c;
	if (x->op != y->op)
		return x->op < y->op ? -1 : 1;
	return 0;
}

static int parse_when(struct pctx *p, yaml_node_t *n, Af__Policy__Rule *r)
{
	struct conds cs = {0};
	int rc;

	rc = af_yaml_expect_map(p->y, n, "when", p->err);
	if (rc != 0)
		return rc;
	cs.v = arena_calloc(p->a, AF_POLICY_MAX_CONDS, sizeof(*cs.v));
	if (cs.v == NULL)
		return yaml_oom(p->y, p->err);
	for (size_t i = 0; i < af_yaml_len(n); i++) {
		yaml_node_t *k = af_yaml_key(p->y, n, i);

		if (k->type != YAML_SCALAR_NODE)
			return af_yaml_errf(p->y, k, p->err,
					    "keys must be strings");
		for (size_t j = 0; j < i; j++)
			if (strcmp((char *)af_yaml_key(p->y, n, j)
					   ->data.scalar.value,
				   (char *)k->data.scalar.value) == 0)
				return af_yaml_errf(p->y, k, p->err,
						    "duplicate key \"%.64s\"",
						    k->data.scalar.value);
		rc = when_key(p, &cs, k, af_yaml_value(p->y, n, i));
		if (rc != 0)
			return rc;
	}
	qsort(cs.v, cs.n, sizeof(*cs.v), cmp_cond);
	r->when = cs.v;
	r->n_when = cs.n;
	return 0;
}

static bool has_tier(const Af__Policy__Bundle *b, const char *t)
{
	for (size_t i = 0; i < b->n_tiers; i++)
		if (strcmp(b->tiers[i], t) == 0)
			return true;
	return false;
}

static int parse_route(struct pctx *p, yaml_node_t *n, Af__Policy__Rule *r)
{
	static const char *const keys[] = {"tier", "fallback_tiers", NULL};
	yaml_node_t *t, *f;
	int rc;

	rc = af_yaml_expect_map(p->y, n, "route", p->err);
	if (rc == 0)
		rc = af_yaml_check_keys(p->y, n, keys, p->err);
	if (rc != 0)
		return rc;
	if ((t = yaml_need(p->y, n, "tier", "route", p->err)) == NULL)
		return AF_EPARSE;
	rc = yaml_name(p->y, t, "tier", p->a, &r->tier, p->err);
	if (rc != 0)
		return rc;
	if (!has_tier(p->b, r->tier))
		return af_yaml_errf(p->y, t, p->err, "unknown tier \"%s\"",
				    r->tier);
	if ((f = af_yaml_get(p->y, n, "fallback_tiers")) == NULL)
		return 0;
	rc = yaml_str_list(p->y, f, "fallback_tiers", AF_POLICY_MAX_TIERS,
			   false, p->a, &r->fallback_tiers,
			   &r->n_fallback_tiers, p->err);
	for (size_t i = 0; rc == 0 && i < r->n_fallback_tiers; i++) {
		yaml_node_t *it = af_yaml_item(p->y, f, i);

		if (!has_tier(p->b, r->fallback_tiers[i]))
			rc = af_yaml_errf(p->y, it, p->err,
					  "unknown tier \"%s\"",
					  r->fallback_tiers[i]);
		else if (strcmp(r->fallback_tiers[i], r->tier) == 0)
			rc = af_yaml_errf(p->y, it, p->err,
					  "fallback tier \"%s\" is the rule's "
					  "own tier",
					  r->tier);
	}
	return rc;
}

static int parse_deny(struct pctx *p, yaml_node_t *n, Af__Policy__Rule *r)
{
	static const char *const keys[] = {"code", "message", NULL};
	yaml_node_t *c, *m;
	const char *s;
	int rc;

	r->deny = true;
	rc = af_yaml_expect_map(p->y, n, "deny", p->err);
	if (rc == 0)
		rc = af_yaml_check_keys(p->y, n, keys, p->err);
	if (rc != 0)
		return rc;
	if ((c = yaml_need(p->y, n, "code", "deny", p->err)) == NULL)
		return AF_EPARSE;
	rc = yaml_name(p->y, c, "code", p->a, &r->deny_code, p->err);
	if (rc == 0 && !valid_deny_code(r->deny_code))
		rc = af_yaml_errf(p->y, c, p->err,
				  "code: expected 1 to %d of A-Z, 0-9 and _",
				  MAX_CODE_LEN);
	if (rc != 0 || (m = af_yaml_get(p->y, n, "message")) == NULL)
		return rc;
	rc = af_yaml_str(p->y, m, "message", 200, &s, p->err);
	if (rc == 0 && (r->deny_message = arena_strdup(p->a, s)) == NULL)
		rc = yaml_oom(p->y, p->err);
	return rc;
}

static int parse_rule(struct pctx *p, yaml_node_t *n, Af__Policy__Rule **ret)
{
	static const char *const keys[] = {"name", "when", "route", "deny",
					   NULL};
	Af__Policy__Rule *r = arena_alloc(p->a, sizeof(*r));
	yaml_node_t *v, *route, *deny;
	int rc;

	if (r == NULL)
		return yaml_oom(p->y, p->err);
	af__policy__rule__init(r);
	rc = af_yaml_expect_map(p->y, n, "rule", p->err);
	if (rc == 0)
		rc = af_yaml_check_keys(p->y, n, keys, p->err);
	if (rc != 0)
		return rc;
	if ((v = yaml_need(p->y, n, "name", "rule", p->err)) == NULL)
		return AF_EPARSE;
	rc = yaml_name(p->y, v, "name", p->a, &r->name, p->err);
	for (size_t i = 0; rc == 0 && i < p->b->n_rules; i++)
		if (strcmp(p->b->rules[i]->name, r->name) == 0)
			rc = af_yaml_errf(p->y, v, p->err,
					  "duplicate rule name \"%s\"",
					  r->name);
	if (rc == 0 && (v = af_yaml_get(p->y, n, "when")) != NULL)
		rc = parse_when(p, v, r);
	if (rc != 0)
		return rc;
	route = af_yaml_get(p->y, n, "route");
	deny = af_yaml_get(p->y, n, "deny");
	if ((route == NULL) == (deny == NULL))
		return af_yaml_errf(p->y, n, p->err,
				    "rule \"%s\": needs exactly one of route "
				    "and deny",
				    r->name);
	rc = route ? parse_route(p, route, r) : parse_deny(p, deny, r);
	if (rc == 0)
		*ret = r;
	return rc;
}

static void warn(struct pctx *p, yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void warn(struct pctx *p, yaml_node_t *n, const char *fmt, ...)
{
	char msg[AF_ERRMSG_SIZE];
	va_list ap;
	char *w;

	if (p->out->nwarn >= MAX_WARNINGS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	w = af_malloc(AF_ERRMSG_SIZE + 300);
	if (w == NULL)
		return;
	snprintf(w, AF_ERRMSG_SIZE + 300, "%s:%zu:%zu: warning: %s", p->y->file,
		 n->start_mark.line + 1, n->start_mark.column + 1, msg);
	p->out->warn[p->out->nwarn++] = w;
}

static void lint_rules(struct pctx *p, yaml_node_t *seq)
{
	size_t n = p->b->n_rules;

	for (size_t i = 0; i + 1 < n; i++)
		if (p->b->rules[i]->n_when == 0)
			warn(p, af_yaml_item(p->y, seq, i + 1),
			     "rule \"%s\" is unreachable: rule \"%s\" before "
			     "it matches every request",
			     p->b->rules[i + 1]->name, p->b->rules[i]->name);
	if (n == 0)
		warn(p, seq,
		     "no rules: every request is denied NO_MATCHING_RULE");
	else if (p->b->rules[n - 1]->n_when != 0)
		warn(p, af_yaml_item(p->y, seq, n - 1),
		     "last rule \"%s\" is not a catch-all: requests that match "
		     "no rule are denied NO_MATCHING_RULE",
		     p->b->rules[n - 1]->name);
}

int parse_rules(struct pctx *p, yaml_node_t *root)
{
	yaml_node_t *seq;
	size_t cnt;
	int rc;

	if ((seq = yaml_need(p->y, root, "rules", "policy", p->err)) == NULL)
		return AF_EPARSE;
	rc = af_yaml_expect_seq(p->y, seq, "rules", AF_POLICY_MAX_RULES,
				p->err);
	if (rc != 0)
		return rc;
	cnt = af_yaml_len(seq);
	p->b->rules = arena_calloc(p->a, cnt + 1, sizeof(void *));
	if (p->b->rules == NULL)
		return yaml_oom(p->y, p->err);
	for (size_t i = 0; i < cnt; i++) {
		rc = parse_rule(p, af_yaml_item(p->y, seq, i),
				&p->b->rules[p->b->n_rules]);
		if (rc != 0)
			return rc;
		p->b->n_rules++;
	}
	lint_rules(p, seq);
	return 0;
}
