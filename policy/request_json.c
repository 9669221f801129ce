/* POST /v1/route bodies -> struct af_request, with the
 * HTTP status and field of every refusal.
 *
 * Two parsers give one answer. The fast one (a single pass over the body
 * made for this object: no allocation, no token array, and only the fields
 * the body carries are written into *ret) accepts a body only when it is
 * sure that jansson would accept it and read the same values: strict JSON
 * grammar, UTF-8 checked as jansson does, duplicate keys refused. Anything
 * else (any refusal, an escape in a field routerd reads, a nested object
 * in an unknown field, an overflowing number) goes to the reference parser
 * on jansson, whose answer (values, or status, code, field and message of
 * the refusal) is then the answer. Refusals are the cold path.
 *
 * Why not jsmn (Debian's libjsmn-dev 1.1.0, a header-only tokenizer): it
 * splits tokens but checks neither numbers, escapes, UTF-8 nor duplicate
 * keys, so each token would still need all of this, after a pass that
 * fills a token array. Measured figures: docs/benchmarks.md, route_http. */
#include "policy/policy_int.h"
#include "policy/replay.h"
#include "policy/request_json.h"

#include <errno.h>
#include <jansson.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(struct af_request_error *e, int status, const char *code,
		const char *field, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int fail(struct af_request_error *e, int status, const char *code,
		const char *field, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return AF_EPARSE;
	e->http_status = status;
	e->code = code;
	snprintf(e->field, sizeof(e->field), "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return AF_EPARSE;
}

void af_request_init(struct af_request *r)
{
	memset(r, 0, sizeof(*r));
	r->latency_slo_ms = AF_REQ_ABSENT;
	r->max_cost_micro_usd = AF_REQ_ABSENT;
	r->input_tokens = AF_REQ_ABSENT;
	r->output_tokens = AF_REQ_ABSENT;
	r->cached_input_tokens = AF_REQ_ABSENT;
	r->fanout = AF_REQ_ABSENT;
	r->tool_calls = AF_REQ_ABSENT;
	r->attempt = AF_REQ_ABSENT;
}

/* Copies a JSON string of 1..max bytes into out (max + 1 bytes). */
static int copy_str(json_t *v, const char *field, char *out, size_t max,
		    struct af_request_error *e)
{
	size_t len;

	if (!json_is_string(v))
		return fail(e, 422, "WRONG_TYPE", field, "%s must be a string",
			    field);
	len = json_string_length(v);
	if (len == 0)
		return fail(e, 422, "INVALID_FIELD", field,
			    "%s must not be empty", field);
	if (len > max)
		return fail(e, 422, "INVALID_FIELD", field,
			    "%s is longer than %zu bytes", field, max);
	memcpy(out, json_string_value(v), len);
	out[len] = '\0';
	return 0;
}

static int str_field(json_t *root, const char *field, bool required, char *out,
		     struct af_request_error *e)
{
	json_t *v = json_object_get(root, field);

	if (v == NULL || json_is_null(v)) {
		if (required)
			return fail(e, 400, "MISSING_FIELD", field,
				    "%s is required", field);
		return 0;
	}
	return copy_str(v, field, out, AF_POLICY_NAME_MAX, e);
}

static int int_field(json_t *root, const char *field, int64_t max, int64_t *out,
		     struct af_request_error *e)
{
	json_t *v = json_object_get(root, field);
	json_int_t n;

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return fail(e, 422, "WRONG_TYPE", field,
			    "%s must be an integer", field);
	n = json_integer_value(v);
	if (n < 0 || n > max)
		return fail(e, 422, "INVALID_FIELD", field,
			    "%s must be between 0 and %lld", field,
			    (long long)max);
	*out = (int64_t)n;
	return 0;
}

static int cost_field(json_t *root, int64_t *out, struct af_request_error *e)
{
	json_t *v = json_object_get(root, "max_cost_usd");
	double d;

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_number(v))
		return fail(e, 422, "WRONG_TYPE", "max_cost_usd",
			    "max_cost_usd must be a number");
	d = json_number_value(v);
	if (!(d >= 0) || d > (double)MAX_COST_MICRO / 1e6)
		return fail(e, 422, "INVALID_FIELD", "max_cost_usd",
			    "max_cost_usd must be between 0 and %lld",
			    MAX_COST_MICRO / 1000000);
	*out = (int64_t)(d * 1e6 + 0.5); /* d >= 0: round half up */
	return 0;
}

static int needs_field(json_t *root, struct af_request *r,
		       struct af_request_error *e)
{
	json_t *v = json_object_get(root, "needs"), *it;
	size_t i;

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return fail(e, 422, "WRONG_TYPE", "needs",
			    "needs must be a list of strings");
	if (json_array_size(v) > AF_REQ_MAX_NEEDS)
		return fail(e, 422, "INVALID_FIELD", "needs",
			    "needs has more than %d items", AF_REQ_MAX_NEEDS);
	json_array_foreach(v, i, it)
	{
		int rc = copy_str(it, "needs", r->needs[i], AF_POLICY_NAME_MAX,
				  e);

		if (rc != 0)
			return rc;
	}
	r->nneeds = json_array_size(v);
	return 0;
}

static int labels_field(json_t *root, struct af_request *r,
			struct af_request_error *e)
{
	json_t *v = json_object_get(root, "labels"), *it;
	const char *k;

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return fail(e, 422, "WRONG_TYPE", "labels",
			    "labels must be an object of strings");
	if (json_object_size(v) > AF_REQ_MAX_LABELS)
		return fail(e, 422, "INVALID_FIELD", "labels",
			    "labels has more than %d entries",
			    AF_REQ_MAX_LABELS);
	json_object_foreach(v, k, it)
	{
		struct af_label *l = &r->labels[r->nlabels];
		size_t klen = strlen(k);
		int rc;

		if (klen == 0 || klen > AF_POLICY_LABEL_KEY_MAX)
			return fail(e, 422, "INVALID_FIELD", "labels",
				    "label keys must be 1 to %d bytes",
				    AF_POLICY_LABEL_KEY_MAX);
		memcpy(l->key, k, klen + 1);
		rc = copy_str(it, "labels", l->value, AF_POLICY_NAME_MAX, e);
		if (rc != 0)
			return rc;
		r->nlabels++;
	}
	return 0;
}

static int fields(json_t *root, struct af_request *r,
		  struct af_request_error *e)
{
	int rc = 0;

	if (rc == 0)
		rc = str_field(root, "workflow_id", true, r->workflow_id, e);
	if (rc == 0)
		rc = str_field(root, "tenant", true, r->tenant, e);
	if (rc == 0)
		rc = str_field(root, "class", true, r->class_name, e);
	if (rc == 0)
		rc = str_field(root, "sensitivity", false, r->sensitivity, e);
	if (rc == 0)
		rc = str_field(root, "agent_role", false, r->agent_role, e);
	if (rc == 0)
		rc = str_field(root, "region", false, r->region, e);
	if (rc == 0)
		rc = int_field(root, "latency_slo_ms", MAX_COUNT,
			       &r->latency_slo_ms, e);
	if (rc == 0)
		rc = cost_field(root, &r->max_cost_micro_usd, e);
	if (rc == 0)
		rc = int_field(root, "input_tokens", MAX_TOKENS,
			       &r->input_tokens, e);
	if (rc == 0)
		rc = int_field(root, "output_tokens", MAX_TOKENS,
			       &r->output_tokens, e);
	if (rc == 0)
		rc = int_field(root, "cached_input_tokens", MAX_TOKENS,
			       &r->cached_input_tokens, e);
	if (rc == 0 && r->cached_input_tokens > 0 &&
	    r->cached_input_tokens >
		    (r->input_tokens > 0 ? r->input_tokens : 0))
		rc = fail(e, 422, "INVALID_FIELD", "cached_input_tokens",
			  "cached_input_tokens must be at most input_tokens");
	if (rc == 0)
		rc = int_field(root, "fanout", MAX_COUNT, &r->fanout, e);
	if (rc == 0)
		rc = int_field(root, "tool_calls", MAX_COUNT, &r->tool_calls,
			       e);
	if (rc == 0)
		rc = int_field(root, "attempt", MAX_COUNT, &r->attempt, e);
	if (rc == 0)
		rc = needs_field(root, r, e);
	if (rc == 0)
		rc = labels_field(root, r, e);
	return rc;
}

/* Required fields are checked before any other so that a body missing
 * one answers 400 even when another field is also wrong. */
static int required(json_t *root, struct af_request_error *e)
{
	static const char *const names[] = {"workflow_id", "tenant", "class"};

	for (size_t i = 0; i < 3; i++) {
		json_t *v = json_object_get(root, names[i]);

		if (v == NULL || json_is_null(v))
			return fail(e, 400, "MISSING_FIELD", names[i],
				    "%s is required", names[i]);
	}
	return 0;
}

int af_request_parse_json_ref(const char *buf, size_t len,
			      struct af_request *ret,
			      struct af_request_error *rerr)
{
	struct af_request r;
	json_error_t jerr;
	json_t *root;
	int rc;

	if (len > AF_REQ_MAX_BODY)
		return fail(rerr, 413, "BODY_TOO_LARGE", NULL,
			    "body is over %d bytes", AF_REQ_MAX_BODY);
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return fail(rerr, 400, "MALFORMED_JSON", NULL,
			    "malformed JSON at line %d column %d: %s",
			    jerr.line, jerr.column, jerr.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return fail(rerr, 400, "MALFORMED_JSON", NULL,
			    "the body must be a JSON object");
	}
	af_request_init(&r);
	rc = required(root, rerr);
	if (rc == 0)
		rc = fields(root, &r, rerr);
	json_decref(root);
	if (rc == 0)
		memcpy(ret, &r, sizeof(r));
	return rc;
}

int af_request_from_json(json_t *obj, struct af_request *ret,
			 struct af_request_error *rerr)
{
	int rc;

	if (!json_is_object(obj))
		return fail(rerr, 400, "MALFORMED_JSON", NULL,
			    "the request must be a JSON object");
	af_request_init(ret);
	rc = required(obj, rerr);
	if (rc == 0)
		rc = fields(obj, ret, rerr);
	return rc;
}

/* ------------------------------------------------------- fast parser */

enum field {
	F_WORKFLOW,
	F_TENANT,
	F_CLASS,
	F_SENSITIVITY,
	F_ROLE,
	F_REGION, /* last string field */
	F_SLO,
	F_INPUT,
	F_OUTPUT,
	F_FANOUT,
	F_TOOLS,
	F_ATTEMPT,
	F_CACHED, /* last integer field */
	F_COST,
	F_NEEDS,
	F_LABELS,
	F_UNKNOWN,
};

#define NSTR (F_REGION + 1)
#define NINT (F_CACHED - F_SLO + 1)
#define MAX_UNKNOWN 32 /* unknown keys checked for duplicates; more: ref */
#define MAX_DEPTH 16   /* arrays in unknown fields; deeper: ref */

struct span {
	const char *p;
	size_t n;
};

/* What one body carries, pointing into it. Lives on the stack. */
struct fast {
	const char *p, *end;
	uint32_t seen; /* 1 << enum field, present (null included) */
	struct span str[NSTR];
	int64_t num[NINT];
	double cost;
	size_t nneeds, nlabels, nunknown;
	struct span needs[AF_REQ_MAX_NEEDS];
	struct span lkey[AF_REQ_MAX_LABELS], lval[AF_REQ_MAX_LABELS];
	struct span unknown[MAX_UNKNOWN];
};

static void ws(struct fast *f)
{
	while (f->p < f->end && (*f->p == ' ' || *f->p == '\n' ||
				 *f->p == '\r' || *f->p == '\t'))
		f->p++;
}

static bool take(struct fast *f, char c)
{
	ws(f);
	if (f->p >= f->end || *f->p != c)
		return false;
	f->p++;
	return true;
}

static bool peek(struct fast *f, char c)
{
	ws(f);
	return f->p < f->end && *f->p == c;
}

/* One UTF-8 sequence at p (first byte >= 0x80), as jansson checks it:
 * no overlong form, no surrogate, at most U+10FFFF. Returns its length or
 * 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0], v;
	size_t n;

	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		v = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		v = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		v = c & 0x07;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3F);
	}
	if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10FFFF ||
	    (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	return n;
}

/* A string at f->p (after white space). Simple escapes only when
 * `escapes` (the span is then raw, fit only to be skipped); \u never. */
static bool string(struct fast *f, bool escapes, struct span *ret)
{
	const unsigned char *p, *end = (const unsigned char *)f->end;

	if (!take(f, '"'))
		return false;
	p = (const unsigned char *)f->p;
	for (;;) {
		size_t n;

		if (p >= end || *p < 0x20)
			return false;
		if (*p == '"')
			break;
		if (*p == '\\') {
			if (!escapes || p + 1 >= end ||
			    strchr("\"\\/bfnrt", p[1]) == NULL || p[1] == 0)
				return false;
			p += 2;
			continue;
		}
		if (*p < 0x80) {
			p++;
			continue;
		}
		n = utf8_len(p, end);
		if (n == 0)
			return false;
		p += n;
	}
	ret->p = f->p;
	ret->n = (size_t)((const char *)p - f->p);
	f->p = (const char *)p + 1;
	return true;
}

static bool digits(struct fast *f)
{
	const char *s = f->p;

	while (f->p < f->end && *f->p >= '0' && *f->p <= '9')
		f->p++;
	return f->p > s;
}

/* A number in strict JSON grammar. An integer of at most 18 digits is
 * *ret_int (*ret_is_int); a real is *ret_real, from strtod as jansson
 * reads it. Overflow, and a locale whose decimal point is not '.': false. */
static bool number(struct fast *f, bool *ret_is_int, int64_t *ret_int,
		   double *ret_real)
{
	const char *s;
	bool is_int = true;
	char tmp[64], *e;
	size_t n;

	ws(f);
	s = f->p;
	if (f->p < f->end && *f->p == '-')
		f->p++;
	if (f->p < f->end && *f->p == '0')
		f->p++;
	else if (!digits(f))
		return false;
	if (f->p < f->end && *f->p == '.') {
		f->p++;
		is_int = false;
		if (!digits(f))
			return false;
	}
	if (f->p < f->end && (*f->p == 'e' || *f->p == 'E')) {
		f->p++;
		is_int = false;
		if (f->p < f->end && (*f->p == '+' || *f->p == '-'))
			f->p++;
		if (!digits(f))
			return false;
	}
	n = (size_t)(f->p - s);
	*ret_is_int = is_int;
	if (is_int) {
		int64_t v = 0;
		size_t i = s[0] == '-';

		if (n - i > 18)
			return false;
		for (; i < n; i++)
			v = v * 10 + (s[i] - '0');
		*ret_int = s[0] == '-' ? -v : v;
		return true;
	}
	if (n >= sizeof(tmp) || localeconv()->decimal_point[0] != '.' ||
	    localeconv()->decimal_point[1] != '\0')
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	errno = 0;
	*ret_real = strtod(tmp, &e);
	return e == tmp + n && errno == 0 && isfinite(*ret_real);
}

static bool literal(struct fast *f, const char *word)
{
	size_t n = strlen(word);

	ws(f);
	if ((size_t)(f->end - f->p) < n || memcmp(f->p, word, n) != 0)
		return false;
	f->p += n;
	return true;
}

/* The value of an unknown field: checked, not kept. */
static bool skip(struct fast *f, int depth)
{
	struct span s;
	bool is_int;
	int64_t i;
	double d;

	ws(f);
	if (f->p >= f->end)
		return false;
	switch (*f->p) {
	case '"':
		return string(f, true, &s);
	case 't':
		return literal(f, "true");
	case 'f':
		return literal(f, "false");
	case 'n':
		return literal(f, "null");
	case '[':
		if (depth >= MAX_DEPTH)
			return false;
		f->p++;
		if (take(f, ']'))
			return true;
		do {
			if (!skip(f, depth + 1))
				return false;
		} while (take(f, ','));
		return take(f, ']');
	default:
		return number(f, &is_int, &i, &d);
	}
}

static bool str_value(struct fast *f, struct span *ret)
{
	return peek(f, 'n') ? literal(f, "null")
			    : string(f, false, ret) && ret->n >= 1 &&
				      ret->n <= AF_POLICY_NAME_MAX;
}

static bool int_value(struct fast *f, int64_t max, int64_t *ret)
{
	bool is_int;
	double d;

	if (peek(f, 'n'))
		return literal(f, "null");
	return number(f, &is_int, ret, &d) && is_int && *ret >= 0 &&
	       *ret <= max;
}

static bool cost_value(struct fast *f)
{
	bool is_int;
	int64_t i;
	double d;

	if (peek(f, 'n'))
		return literal(f, "null");
	if (!number(f, &is_int, &i, &d))
		return false;
	if (is_int)
		d = (double)i;
	if (!(d >= 0) || d > (double)MAX_COST_MICRO / 1e6)
		return false;
	f->cost = d;
	return true;
}

static bool needs_value(struct fast *f)
{
	if (peek(f, 'n'))
		return literal(f, "null");
	if (!take(f, '['))
		return false;
	if (take(f, ']'))
		return true;
	do {
		if (f->nneeds == AF_REQ_MAX_NEEDS ||
		    !string(f, false, &f->needs[f->nneeds]) ||
		    f->needs[f->nneeds].n < 1 ||
		    f->needs[f->nneeds].n > AF_POLICY_NAME_MAX)
			return false;
		f->nneeds++;
	} while (take(f, ','));
	return take(f, ']');
}

static bool span_in(const struct span *s, size_t n, struct span k)
{
	for (size_t i = 0; i < n; i++)
		if (s[i].n == k.n && memcmp(s[i].p, k.p, k.n) == 0)
			return true;
	return false;
}

static bool labels_value(struct fast *f)
{
	struct span k;

	if (peek(f, 'n'))
		return literal(f, "null");
	if (!take(f, '{'))
		return false;
	if (take(f, '}'))
		return true;
	do {
		if (f->nlabels < AF_REQ_MAX_LABELS)
			f->lval[f->nlabels].p = NULL;
		if (f->nlabels == AF_REQ_MAX_LABELS || !string(f, false, &k) ||
		    k.n < 1 || k.n > AF_POLICY_LABEL_KEY_MAX ||
		    span_in(f->lkey, f->nlabels, k) || !take(f, ':') ||
		    !str_value(f, &f->lval[f->nlabels]) ||
		    f->lval[f->nlabels].p == NULL)
			return false;
		f->lkey[f->nlabels++] = k;
	} while (take(f, ','));
	return take(f, '}');
}

#define NAME(id, s) [id] = {s, sizeof(s) - 1}

static enum field lookup(struct span k)
{
	static const struct {
		const char *s;
		size_t n;
	} names[] = {
		NAME(F_WORKFLOW, "workflow_id"),
		NAME(F_TENANT, "tenant"),
		NAME(F_CLASS, "class"),
		NAME(F_SENSITIVITY, "sensitivity"),
		NAME(F_ROLE, "agent_role"),
		NAME(F_REGION, "region"),
		NAME(F_SLO, "latency_slo_ms"),
		NAME(F_INPUT, "input_tokens"),
		NAME(F_OUTPUT, "output_tokens"),
		NAME(F_FANOUT, "fanout"),
		NAME(F_TOOLS, "tool_calls"),
		NAME(F_ATTEMPT, "attempt"),
		NAME(F_CACHED, "cached_input_tokens"),
		NAME(F_COST, "max_cost_usd"),
		NAME(F_NEEDS, "needs"),
		NAME(F_LABELS, "labels"),
	};

	for (size_t i = 0; i < F_UNKNOWN; i++)
		if (names[i].n == k.n && memcmp(names[i].s, k.p, k.n) == 0)
			return (enum field)i;
	return F_UNKNOWN;
}

static bool member(struct fast *f)
{
	static const int64_t max[NINT] = {MAX_COUNT, MAX_TOKENS, MAX_TOKENS,
					  MAX_COUNT, MAX_COUNT,	 MAX_COUNT,
					  MAX_TOKENS};
	struct span k;
	enum field id;

	if (!string(f, false, &k) || !take(f, ':'))
		return false;
	id = lookup(k);
	if (id == F_UNKNOWN) {
		if (f->nunknown == MAX_UNKNOWN ||
		    span_in(f->unknown, f->nunknown, k))
			return false;
		f->unknown[f->nunknown++] = k;
		return skip(f, 0);
	}
	if (f->seen & (1u << id))
		return false; /* duplicate */
	f->seen |= 1u << id;
	if (id <= F_REGION)
		return str_value(f, &f->str[id]);
	if (id <= F_CACHED)
		return int_value(f, max[id - F_SLO], &f->num[id - F_SLO]);
	if (id == F_COST)
		return cost_value(f);
	if (id == F_NEEDS)
		return needs_value(f);
	return labels_value(f);
}

static void put_str(char *out, struct span s)
{
	if (s.p != NULL)
		memcpy(out, s.p, s.n);
	out[s.p != NULL ? s.n : 0] = '\0';
}

/* Writes the fields of a body the fast parser accepted: nothing else of
 * *r (needs and labels past their counts keep what they held). */
static void fast_store(const struct fast *f, struct af_request *r)
{
	char *str[NSTR] = {r->workflow_id, r->tenant,	  r->class_name,
			   r->sensitivity, r->agent_role, r->region};
	int64_t *num[NINT] = {&r->latency_slo_ms,     &r->input_tokens,
			      &r->output_tokens,      &r->fanout,
			      &r->tool_calls,	      &r->attempt,
			      &r->cached_input_tokens};

	for (size_t i = 0; i < NSTR; i++)
		put_str(str[i], f->str[i]);
	for (size_t i = 0; i < NINT; i++)
		*num[i] = f->num[i];
	r->max_cost_micro_usd =
		f->cost >= 0 ? (int64_t)(f->cost * 1e6 + 0.5) : AF_REQ_ABSENT;
	r->nneeds = f->nneeds;
	for (size_t i = 0; i < f->nneeds; i++)
		put_str(r->needs[i], f->needs[i]);
	r->nlabels = f->nlabels;
	for (size_t i = 0; i < f->nlabels; i++) {
		put_str(r->labels[i].key, f->lkey[i]);
		put_str(r->labels[i].value, f->lval[i]);
	}
}

/* True when the body is one the reference parser accepts with these
 * values; *f then holds them. */
static bool fast_parse(const char *buf, size_t len, struct fast *f)
{
	f->p = buf;
	f->end = buf + len;
	f->seen = 0;
	f->nneeds = f->nlabels = f->nunknown = 0;
	f->cost = -1;
	for (size_t i = 0; i < NSTR; i++)
		f->str[i].p = NULL;
	for (size_t i = 0; i < NINT; i++)
		f->num[i] = AF_REQ_ABSENT;
	if (!take(f, '{'))
		return false;
	if (!peek(f, '}')) {
		do {
			if (!member(f))
				return false;
		} while (take(f, ','));
	}
	if (!take(f, '}'))
		return false;
	ws(f);
	/* cached over input: the reference parser says why */
	if (f->num[F_CACHED - F_SLO] > 0 &&
	    f->num[F_CACHED - F_SLO] >
		    (f->num[F_INPUT - F_SLO] > 0 ? f->num[F_INPUT - F_SLO] : 0))
		return false;
	return f->p == f->end && f->str[F_WORKFLOW].p != NULL &&
	       f->str[F_TENANT].p != NULL && f->str[F_CLASS].p != NULL;
}

int af_request_parse_json(const char *buf, size_t len, struct af_request *ret,
			  struct af_request_error *rerr)
{
	struct fast f;

	if (len <= AF_REQ_MAX_BODY && fast_parse(buf, len, &f)) {
		fast_store(&f, ret);
		return 0;
	}
	return af_request_parse_json_ref(buf, len, ret, rerr);
}
