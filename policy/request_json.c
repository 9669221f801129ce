/* POST /v1/route bodies -> struct af_request, with the
 * HTTP status and field of every refusal. */
#include "policy/policy_int.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
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

int af_request_parse_json(const char *buf, size_t len, struct af_request *ret,
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
