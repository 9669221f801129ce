/* Steps 3 and 4 of af_decide(): the conditions of a rule and the first
 * rule that holds for a request, through the rule index (view_index.c) or,
 * with an explain trace, every rule in order. Pure; no allocation. */
#include "policy/decide_int.h"

#include <string.h>

#define A(x) AF__POLICY__ATTR__ATTR_##x
#define O(x) AF__POLICY__OP__OP_##x

/* ------------------------------------------------------- conditions */

static bool id_in(const struct vcond *c, uint32_t id)
{
	for (uint32_t i = 0; i < c->nvals; i++)
		if (c->ids[i] == id)
			return true;
	return false;
}

static bool str_in(const struct vcond *c, const char *s)
{
	if (s == NULL || s[0] == '\0')
		return false;
	for (uint32_t i = 0; i < c->nvals; i++)
		if (strcmp(c->svals[i], s) == 0)
			return true;
	return false;
}

static bool set_op(uint8_t op, bool in)
{
	return (op == O(EQ) || op == O(IN)) ? in : !in;
}

static bool num_op(uint8_t op, int64_t x, int64_t n)
{
	if (x < 0)
		return false; /* absent: no numeric condition holds */
	switch (op) {
	case O(LT):
		return x < n;
	case O(LTE):
		return x <= n;
	case O(GT):
		return x > n;
	case O(GTE):
		return x >= n;
	case O(EQ):
		return x == n;
	case O(NE):
		return x != n;
	default:
		return false;
	}
}

static const char *label_value(const struct af_request *req, const char *k)
{
	for (size_t i = 0; i < req->nlabels; i++)
		if (strcmp(req->labels[i].key, k) == 0)
			return req->labels[i].value;
	return NULL;
}

static int64_t num_attr(const struct rctx *r, uint8_t attr)
{
	switch (attr) {
	case A(LATENCY_SLO_MS):
		return r->latency;
	case A(MAX_COST_USD):
		return r->max_cost;
	case A(INPUT_TOKENS):
		return r->input;
	case A(OUTPUT_TOKENS):
		return r->output;
	case A(FANOUT):
		return r->fanout;
	case A(TOOL_CALLS):
		return r->tool_calls;
	case A(ATTEMPT):
		return r->attempt;
	default:
		return -1;
	}
}

bool cond_holds(const struct rctx *r, const struct vcond *c)
{
	switch (c->attr) {
	case A(CLASS):
		return set_op(c->op, id_in(c, r->cls_idx));
	case A(SENSITIVITY):
		return set_op(c->op, r->sens != NONE && id_in(c, r->sens));
	case A(REGION):
		return set_op(c->op, r->region != NONE && id_in(c, r->region));
	case A(TENANT):
		return set_op(c->op, str_in(c, r->req->tenant));
	case A(AGENT_ROLE):
		return set_op(c->op, str_in(c, r->req->agent_role));
	case A(LABEL):
		return set_op(c->op, str_in(c, label_value(r->req, c->label)));
	case A(NEEDS):
		return !c->unknown_cap && (r->needs & c->mask) == c->mask;
	default:
		return num_op(c->op, num_attr(r, c->attr), c->number);
	}
}

static bool rule_holds(const struct rctx *r, const struct vrule *rule)
{
	for (uint32_t j = 0; j < rule->nconds; j++)
		if (!cond_holds(r, &rule->conds[j]))
			return false;
	return true;
}

/* Step 4 without a trace: only the rules listed for the request's tenant
 * and class and those listed always (view_index.c), merged in rule order;
 * the first that holds. */
const struct vrule *decide_match_fast(const struct rctx *r)
{
	const struct vrindex *ix = &r->vb->ix;
	const uint32_t *l[3], *e[3];
	uint32_t t = r->req->tenant[0] != '\0'
			     ? intern_find(&ix->tenants, r->req->tenant)
			     : NONE;

	l[0] = ix->always;
	e[0] = ix->always + ix->nalways;
	l[1] = ix->cls_rules + ix->cls_start[r->cls_idx];
	e[1] = ix->cls_rules + ix->cls_start[r->cls_idx + 1];
	l[2] = e[2] = ix->ten_rules;
	if (t != NONE) {
		l[2] = ix->ten_rules + ix->ten_start[t];
		e[2] = ix->ten_rules + ix->ten_start[t + 1];
	}
	for (;;) {
		const struct vrule *rule;
		int best = -1;

		for (int i = 0; i < 3; i++)
			if (l[i] < e[i] && (best < 0 || *l[i] < *l[best]))
				best = i;
		if (best < 0)
			return NULL;
		rule = &r->vb->rules[*l[best]++];
		if (rule_holds(r, rule))
			return rule;
	}
}

/* Step 4 with a trace: every rule in order until the first that holds, or
 * NULL. */
const struct vrule *decide_match(const struct rctx *r, struct af_explain *x)
{
	for (uint32_t i = 0; i < r->vb->nrules; i++) {
		const struct vrule *rule = &r->vb->rules[i];
		const struct vcond *failed = NULL;

		for (uint32_t j = 0; j < rule->nconds && failed == NULL; j++)
			if (!cond_holds(r, &rule->conds[j]))
				failed = &rule->conds[j];
		if (x != NULL) {
			if (x->nrules < x->rules_cap) {
				struct af_explain_rule *e =
					&x->rules[x->nrules];

				e->name = rule->name;
				e->matched = failed == NULL;
				e->why[0] = '\0';
				if (failed != NULL)
					explain_cond(r, failed, e->why,
						     sizeof(e->why));
			}
			x->nrules++;
		}
		if (failed == NULL)
			return rule;
	}
	return NULL;
}
