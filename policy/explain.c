/* Explain traces: why a rule did not match, why a candidate was dropped.
 * Only runs when the caller asked for a trace. */
#include "policy/decide_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const attr_names[] = {
	"",
	"class",
	"tenant",
	"sensitivity",
	"agent_role",
	"region",
	"labels.",
	"latency_slo_ms",
	"max_cost_usd",
	"input_tokens",
	"output_tokens",
	"fanout",
	"tool_calls",
	"attempt",
	"needs",
};

static const char *const op_names[] = {
	"", "eq", "ne", "in", "not_in", "lt", "lte", "gt", "gte", "includes",
};

void explain_note(struct af_explain *x, const char *fmt, ...)
{
	size_t used = strlen(x->notes);
	va_list ap;

	if (used + 2 >= sizeof(x->notes))
		return;
	if (used > 0)
		x->notes[used++] = '\n';
	va_start(ap, fmt);
	vsnprintf(x->notes + used, sizeof(x->notes) - used, fmt, ap);
	va_end(ap);
}

static const char *str_attr(const struct rctx *r, const struct vcond *c)
{
	switch (c->attr) {
	case AF__POLICY__ATTR__ATTR_CLASS:
		return r->cls->name;
	case AF__POLICY__ATTR__ATTR_TENANT:
		return r->req->tenant;
	case AF__POLICY__ATTR__ATTR_SENSITIVITY:
		return r->sens_name;
	case AF__POLICY__ATTR__ATTR_AGENT_ROLE:
		return r->req->agent_role;
	case AF__POLICY__ATTR__ATTR_REGION:
		return r->req->region;
	case AF__POLICY__ATTR__ATTR_LABEL:
		for (size_t i = 0; i < r->req->nlabels; i++)
			if (strcmp(r->req->labels[i].key, c->label) == 0)
				return r->req->labels[i].value;
		return "";
	default:
		return "";
	}
}

static int64_t num_attr(const struct rctx *r, uint8_t attr)
{
	switch (attr) {
	case AF__POLICY__ATTR__ATTR_LATENCY_SLO_MS:
		return r->latency;
	case AF__POLICY__ATTR__ATTR_MAX_COST_USD:
		return r->max_cost;
	case AF__POLICY__ATTR__ATTR_INPUT_TOKENS:
		return r->input;
	case AF__POLICY__ATTR__ATTR_OUTPUT_TOKENS:
		return r->output;
	case AF__POLICY__ATTR__ATTR_FANOUT:
		return r->fanout;
	case AF__POLICY__ATTR__ATTR_TOOL_CALLS:
		return r->tool_calls;
	default:
		return r->attempt;
	}
}

static void fmt_num(uint8_t attr, int64_t n, char out[32])
{
	if (n < 0)
		snprintf(out, 32, "absent");
	else if (attr == AF__POLICY__ATTR__ATTR_MAX_COST_USD)
		af_policy_fmt_usd(n * 1000, out);
	else
		snprintf(out, 32, "%lld", (long long)n);
}

void explain_cond(const struct rctx *r, const struct vcond *c, char *buf,
		  size_t len)
{
	const char *an = c->attr < sizeof(attr_names) / sizeof(*attr_names)
				 ? attr_names[c->attr]
				 : "?";
	const char *on = c->op < sizeof(op_names) / sizeof(*op_names)
				 ? op_names[c->op]
				 : "?";
	char a[32], b[32];
	size_t used;

	if (c->attr >= AF__POLICY__ATTR__ATTR_LATENCY_SLO_MS &&
	    c->attr <= AF__POLICY__ATTR__ATTR_ATTEMPT) {
		fmt_num(c->attr, num_attr(r, c->attr), a);
		fmt_num(c->attr, c->number, b);
		snprintf(buf, len, "%s is %s, not %s %s", an, a, on, b);
		return;
	}
	if (c->attr == AF__POLICY__ATTR__ATTR_NEEDS)
		snprintf(buf, len, "needs do not include all of [");
	else {
		const char *val = str_attr(r, c);

		snprintf(buf, len, "%s%s is %s%s%s, not %s [", an, c->label,
			 val[0] ? "\"" : "", val[0] ? val : "absent",
			 val[0] ? "\"" : "", on);
	}
	for (uint32_t i = 0; i < c->nvals; i++) {
		used = strlen(buf);
		snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
			 c->svals[i]);
	}
	used = strlen(buf);
	snprintf(buf + used, len - used, "]");
}

static void drops_text(unsigned drops, char *buf, size_t len)
{
	static const struct {
		unsigned bit;
		const char *what;
	} names[] = {
		{AF_DROP_DISABLED, "disabled"},
		{AF_DROP_CAPABILITY, "lacks a needed capability"},
		{AF_DROP_CONTEXT, "context too small"},
		{AF_DROP_REGION, "region not allowed"},
		{AF_DROP_COST, "over max_cost_usd"},
		{AF_DROP_COOLING, "cooling down"},
		{AF_DROP_LIMIT, "beyond max_fallbacks"},
	};
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		if (!(drops & names[i].bit))
			continue;
		snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
			 names[i].what);
		used = strlen(buf);
	}
}

int af_explain_text(const struct af_explain *x, char *buf, size_t len)
{
	size_t nr = x->nrules < x->rules_cap ? x->nrules : x->rules_cap;
	size_t nc = x->ncands < x->cands_cap ? x->ncands : x->cands_cap;
	size_t used = 0;
	int n;

#define OUT(...)                                                               \
	do {                                                                   \
		n = snprintf(buf + used, len - used, __VA_ARGS__);             \
		if (n < 0 || (size_t)n >= len - used)                          \
			return AF_ETOOBIG;                                     \
		used += (size_t)n;                                             \
	} while (0)

	if (len == 0)
		return AF_ETOOBIG;
	buf[0] = '\0';
	OUT("%s\n", x->notes);
	OUT("rules:\n");
	for (size_t i = 0; i < nr; i++)
		OUT("  %-8s %s%s%s\n", x->rules[i].matched ? "MATCH" : "skip",
		    x->rules[i].name, x->rules[i].matched ? "" : ": ",
		    x->rules[i].why);
	if (x->nrules > nr)
		OUT("  ... %zu more\n", x->nrules - nr);
	OUT("candidates:\n");
	for (size_t i = 0; i < nc; i++) {
		const struct af_explain_cand *c = &x->cands[i];
		char why[160], usd[32];

		af_policy_fmt_usd(c->est_cost_nano_usd, usd);
		drops_text(c->drops, why, sizeof(why));
		if (c->position == 0)
			snprintf(why, sizeof(why), "primary");
		else if (c->position > 0)
			snprintf(why, sizeof(why), "fallback %d", c->position);
		OUT("  %s/%s (tier %s, est %s USD): %s\n", c->model, c->region,
		    c->tier, usd, why);
	}
	if (x->ncands > nc)
		OUT("  ... %zu more\n", x->ncands - nc);
#undef OUT
	return 0;
}
