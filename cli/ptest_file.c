/* PolicyTest files: apiVersion af/v1, kind PolicyTest, cases of a request,
 * optional live inputs and the expected decision fields. */
#include "cli/ptest.h"
#include "common/alloc.h"
#include "common/file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The decision fields a case may expect (the route and deny bodies). */
static const char *const expect_keys[] = {
	"decision",
	"model",
	"provider",
	"tier",
	"region",
	"lane",
	"fallback",
	"max_retries",
	"est_cost_usd",
	"rule",
	"degraded",
	"policy",
	"registry_revision",
	"code",
	"message",
	"retryable",
	"retry_after_ms",
	NULL,
};

static json_t *scalar(const yaml_node_t *n)
{
	const char *s = (const char *)n->data.scalar.value;
	size_t len = n->data.scalar.length;
	char *end;

	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_stringn(s, len);
	if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)
		return json_boolean(s[0] == 't');
	if (strcmp(s, "null") == 0 || strcmp(s, "~") == 0)
		return json_null();
	if (len > 0 && strspn(s, "-0123456789") == len) {
		long long v;

		errno = 0;
		v = strtoll(s, &end, 10);
		if (errno == 0 && *end == '\0')
			return json_integer(v);
	}
	if (len > 0 && strspn(s, "-+.0123456789eE") == len) {
		double d = strtod(s, &end);

		if (*end == '\0')
			return json_real(d);
	}
	return json_stringn(s, len);
}

/* The YAML node as JSON (plain scalars typed as YAML 1.2 core does). */
static json_t *to_json(struct af_yaml *y, yaml_node_t *n)
{
	json_t *out;

	if (n->type == YAML_SCALAR_NODE)
		return scalar(n);
	out = n->type == YAML_SEQUENCE_NODE ? json_array() : json_object();
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < af_yaml_len(n); i++) {
		json_t *v;
		int rc;

		if (n->type == YAML_SEQUENCE_NODE) {
			v = to_json(y, af_yaml_item(y, n, i));
			rc = json_array_append_new(out, v);
		} else {
			yaml_node_t *k = af_yaml_key(y, n, i);

			v = to_json(y, af_yaml_value(y, n, i));
			rc = k->type == YAML_SCALAR_NODE
				     ? json_object_set_new(
					       out,
					       (const char *)
						       k->data.scalar.value,
					       v)
				     : (json_decref(v), -1);
		}
		if (v == NULL || rc != 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

static int check_expect(struct af_yaml *y, yaml_node_t *n, struct af_err *err)
{
	int rc = af_yaml_expect_map(y, n, "expect", err);

	if (rc == 0)
		rc = af_yaml_check_keys(y, n, expect_keys, err);
	if (rc == 0 && af_yaml_len(n) == 0)
		rc = af_yaml_errf(y, n, err,
				  "expect: name at least one decision field "
				  "(decision, tier, model, code, ...)");
	return rc;
}

static int load_case(struct pt_file *f, yaml_node_t *n, struct pt_case *c,
		     struct af_err *err)
{
	static const char *const keys[] = {"name", "request", "live", "expect",
					   NULL};
	struct af_yaml *y = f->y;
	yaml_node_t *v;
	int rc;

	rc = af_yaml_expect_map(y, n, "case", err);
	if (rc == 0)
		rc = af_yaml_check_keys(y, n, keys, err);
	if (rc != 0)
		return rc;
	c->node = n;
	c->line = n->start_mark.line + 1;
	if ((v = af_yaml_get(y, n, "name")) == NULL)
		return af_yaml_errf(y, n, err, "case: name is required");
	if ((rc = af_yaml_str(y, v, "name", 256, &c->name, err)) != 0)
		return rc;
	if ((c->request_node = af_yaml_get(y, n, "request")) == NULL)
		return af_yaml_errf(y, n, err,
				    "case \"%s\": request is "
				    "required",
				    c->name);
	if ((rc = af_yaml_expect_map(y, c->request_node, "request", err)) != 0)
		return rc;
	if ((c->expect_node = af_yaml_get(y, n, "expect")) == NULL)
		return af_yaml_errf(y, n, err,
				    "case \"%s\": expect is required", c->name);
	if ((rc = check_expect(y, c->expect_node, err)) != 0)
		return rc;
	c->live_node = af_yaml_get(y, n, "live");
	if (c->live_node != NULL &&
	    (rc = af_yaml_expect_map(y, c->live_node, "live", err)) != 0)
		return rc;
	c->request = to_json(y, c->request_node);
	c->expect = to_json(y, c->expect_node);
	c->live = c->live_node ? to_json(y, c->live_node) : NULL;
	if (c->request == NULL || c->expect == NULL ||
	    (c->live_node != NULL && c->live == NULL))
		return af_errf(err, AF_ENOMEM, "%s: out of memory", f->path);
	return 0;
}

static int load_cases(struct pt_file *f, struct af_err *err)
{
	static const char *const keys[] = {"apiVersion", "kind", "name",
					   "cases", NULL};
	struct af_yaml *y = f->y;
	yaml_node_t *root = af_yaml_root(y), *v;
	const char *s;
	int rc;

	rc = af_yaml_expect_map(y, root, "PolicyTest", err);
	if (rc == 0)
		rc = af_yaml_check_keys(y, root, keys, err);
	if (rc != 0)
		return rc;
	v = af_yaml_get(y, root, "apiVersion");
	if (v == NULL || af_yaml_str(y, v, "apiVersion", 32, &s, err) != 0 ||
	    strcmp(s, "af/v1") != 0)
		return af_yaml_errf(y, v ? v : root, err,
				    "apiVersion: expected af/v1");
	v = af_yaml_get(y, root, "kind");
	if (v == NULL || af_yaml_str(y, v, "kind", 32, &s, err) != 0 ||
	    strcmp(s, "PolicyTest") != 0)
		return af_yaml_errf(y, v ? v : root, err,
				    "kind: expected PolicyTest");
	if ((v = af_yaml_get(y, root, "cases")) == NULL)
		return af_yaml_errf(y, root, err, "cases: required");
	if ((rc = af_yaml_expect_seq(y, v, "cases", PT_CASES_MAX, err)) != 0)
		return rc;
	f->cases = af_calloc(af_yaml_len(v) + 1, sizeof(*f->cases));
	if (f->cases == NULL)
		return af_errf(err, AF_ENOMEM, "%s: out of memory", f->path);
	for (size_t i = 0; i < af_yaml_len(v); i++) {
		rc = load_case(f, af_yaml_item(y, v, i), &f->cases[i], err);
		f->ncases = i + 1;
		if (rc != 0)
			return rc;
	}
	if (f->ncases == 0)
		return af_yaml_errf(y, v, err, "cases: the list is empty");
	return 0;
}

int pt_file_load(const char *path, struct pt_file *f, struct af_err *err)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	memset(f, 0, sizeof(*f));
	f->path = path;
	rc = af_read_file(path, PT_FILE_MAX, &buf, &len, err);
	if (rc == 0)
		rc = af_yaml_check_depth(path, buf, len, err);
	if (rc == 0)
		rc = af_yaml_load(path, buf, len, PT_NODES_MAX, &f->y, err);
	af_free(buf);
	if (rc == 0)
		rc = load_cases(f, err);
	if (rc != 0)
		pt_file_free(f);
	return rc;
}

void pt_file_free(struct pt_file *f)
{
	for (size_t i = 0; i < f->ncases; i++) {
		json_decref(f->cases[i].request);
		json_decref(f->cases[i].live);
		json_decref(f->cases[i].expect);
	}
	af_free(f->cases);
	af_yaml_free(f->y);
	memset(f, 0, sizeof(*f));
}
