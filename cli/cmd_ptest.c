/*
 * af policy test: PolicyTest files of fixture requests (and optional live
 * inputs) with the decision fields they expect, decided by a local policy
 * and registry (--policy, --models) or by the cluster's stable revision and
 * registry. Exit 0 when every case passes, 1 when any fails.
 */
#include "cli/output.h"
#include "cli/ptest.h"
#include "common/alloc.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define PT_PATHS_MAX 1000

struct pt_args {
	const char *policy, *models;
	bool junit;
	const char *paths[PT_PATHS_MAX];
	int npaths;
};

struct pt_run {
	struct rp_env env;
	struct af_request *req;
	struct af_replay_live *live;
	json_t *results; /* [{"file","line","name","ok","failures"}] */
	size_t passed, failed;
};

static int parse_args(int argc, char **argv, struct pt_args *a)
{
	for (int i = 1; i < argc; i++) {
		const char *f = argv[i];

		if ((strcmp(f, "--policy") == 0 || strcmp(f, "--models") == 0 ||
		     strcmp(f, "-o") == 0 || strcmp(f, "--output") == 0) &&
		    i + 1 >= argc)
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "%s needs a value", f);
		if (strcmp(f, "--policy") == 0)
			a->policy = argv[++i];
		else if (strcmp(f, "--models") == 0)
			a->models = argv[++i];
		else if (strcmp(f, "-o") == 0 || strcmp(f, "--output") == 0)
			a->junit = strcmp(argv[++i], "junit") == 0;
		else if (f[0] == '-')
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "policy test: unknown flag \"%s\"",
					   f);
		else if (a->npaths == PT_PATHS_MAX)
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "more than %d files", PT_PATHS_MAX);
		else
			a->paths[a->npaths++] = f;
	}
	if (a->npaths == 0)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "usage: af policy test PATH... [--policy "
				   "FILE --models FILE] [-o json|junit]");
	if ((a->policy == NULL) != (a->models == NULL))
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "give both --policy FILE and --models FILE "
				   "(offline), or neither (the cluster's)");
	return 0;
}

/* ----------------------------------------------------------- matching */

static bool match(const json_t *want, const json_t *got);

static bool match_object(const json_t *want, const json_t *got)
{
	const char *k;
	json_t *v;

	if (!json_is_object(got))
		return false;
	json_object_foreach((json_t *)want, k, v)
	{
		if (!match(v, json_object_get(got, k)))
			return false;
	}
	return true;
}

/* Whether got has want's value: numbers by value, objects by the keys
 * want names, lists item by item. */
static bool match(const json_t *want, const json_t *got)
{
	size_t i;
	json_t *v;

	if (got == NULL)
		return json_is_null(want);
	if (json_is_number(want) && json_is_number(got))
		return fabs(json_number_value(want) - json_number_value(got)) <
		       1e-12;
	if (json_is_object(want))
		return match_object(want, got);
	if (json_is_array(want)) {
		if (!json_is_array(got) ||
		    json_array_size(want) != json_array_size(got))
			return false;
		json_array_foreach((json_t *)want, i, v)
		{
			if (!match(v, json_array_get(got, i)))
				return false;
		}
		return true;
	}
	return json_equal((json_t *)want, (json_t *)got);
}

/* --------------------------------------------------------------- cases */

static json_t *decide(struct pt_run *r, const struct af_policy_view *v,
		      const struct pt_case *c)
{
	struct af_decision d;
	struct af_live live;
	char body[4096];
	size_t n;

	af_replay_live_bind(r->live, v, &live);
	if (af_decide(v, r->req, &live, "test", &d, NULL) != 0)
		return json_pack("{s:s,s:s,s:s}", "decision", "deny", "code",
				 "UNKNOWN_CLASS", "message", "unknown class");
	af_replay_lease(r->live, &d);
	(void)c;
	if (af_decision_json(&d, body, sizeof(body), &n) != 0)
		return NULL;
	return json_loadb(body, n, 0, NULL);
}

/* The case's request and live inputs, checked as routerd would. Returns 0
 * or an exit code (printed with file:line:col). */
static int case_inputs(struct pt_run *r, const struct pt_file *f,
		       const struct pt_case *c)
{
	struct af_request_error rerr;
	struct af_err err = {{0}};

	if (af_request_from_json(c->request, r->req, &rerr) != 0) {
		af_yaml_errf(f->y, c->request_node, &err, "request: %s%s%s",
			     rerr.message, rerr.field[0] ? " (field " : "",
			     rerr.field[0] ? rerr.field : "");
		return af_cli_fail(AF_EXIT_REFUSED, "INVALID", "%s%s", err.msg,
				   rerr.field[0] ? ")" : "");
	}
	if (af_replay_live_parse(c->live, r->live, &err) != 0) {
		char why[AF_ERRMSG_SIZE];

		snprintf(why, sizeof(why), "%s", err.msg);
		af_yaml_errf(f->y, c->live_node, &err, "%s", why);
		return af_cli_fail(AF_EXIT_REFUSED, "INVALID", "%s", err.msg);
	}
	return 0;
}

static json_t *failures(const json_t *expect, const json_t *got)
{
	json_t *out = json_array(), *v;
	const char *k;

	json_object_foreach((json_t *)expect, k, v)
	{
		json_t *g = json_object_get(got, k);

		if (!match(v, g))
			json_array_append_new(
				out, json_pack("{s:s,s:O,s:O}", "field", k,
					       "expected", v, "actual",
					       g ? g : json_null()));
	}
	return out;
}

static int run_case(struct pt_run *r, const struct pt_file *f,
		    const struct pt_case *c, const struct af_policy_view *v)
{
	json_t *got, *fail;
	int rc = case_inputs(r, f, c);

	if (rc != 0)
		return rc;
	got = decide(r, v, c);
	if (got == NULL)
		return af_cli_fail(AF_EXIT_REFUSED, "ENOMEM", "out of memory");
	fail = failures(c->expect, got);
	if (json_array_size(fail) == 0)
		r->passed++;
	else
		r->failed++;
	json_array_append_new(r->results,
			      json_pack("{s:s,s:I,s:s,s:b,s:o,s:o}", "file",
					f->path, "line", (json_int_t)c->line,
					"name", c->name, "ok",
					json_array_size(fail) == 0, "failures",
					fail, "decision", got));
	return 0;
}

static int run_file(struct pt_run *r, const char *path,
		    const struct af_policy_view *v)
{
	struct af_err err = {{0}};
	struct pt_file f;
	int rc = 0;

	if (pt_file_load(path, &f, &err) != 0)
		return af_cli_fail(AF_EXIT_REFUSED, "INVALID", "%s", err.msg);
	for (size_t i = 0; i < f.ncases && rc == 0; i++)
		rc = run_case(r, &f, &f.cases[i], v);
	pt_file_free(&f);
	return rc;
}

/* -------------------------------------------------------------- output */

static void xml(FILE *o, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", o);
			break;
		case '>':
			fputs("&gt;", o);
			break;
		case '&':
			fputs("&amp;", o);
			break;
		case '"':
			fputs("&quot;", o);
			break;
		default:
			if ((unsigned char)*s < 0x20 && *s != '\n')
				fprintf(o, "&#%d;", *s);
			else
				fputc(*s, o);
		}
	}
}

/* "tier: expected \"mid\", got \"frontier\"; ..." */
static void failure_text(const json_t *fails, char *buf, size_t len)
{
	size_t i, off = 0;
	json_t *f;

	buf[0] = '\0';
	json_array_foreach((json_t *)fails, i, f)
	{
		char *e = json_dumps(json_object_get(f, "expected"),
				     JSON_ENCODE_ANY | JSON_COMPACT);
		char *a = json_dumps(json_object_get(f, "actual"),
				     JSON_ENCODE_ANY | JSON_COMPACT);
		int n = snprintf(buf + off, len - off,
				 "%s%s: expected %s, got %s", i ? "; " : "",
				 json_string_value(json_object_get(f, "field")),
				 e ? e : "?", a ? a : "?");

		free(e);
		free(a);
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
}

static void print_junit(const struct pt_run *r)
{
	char text[2048];
	size_t i;
	json_t *c;

	printf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	       "<testsuites tests=\"%zu\" failures=\"%zu\">\n"
	       "  <testsuite name=\"af policy test\" tests=\"%zu\" "
	       "failures=\"%zu\">\n",
	       r->passed + r->failed, r->failed, r->passed + r->failed,
	       r->failed);
	json_array_foreach(r->results, i, c)
	{
		const char *file =
			json_string_value(json_object_get(c, "file"));
		json_int_t line =
			json_integer_value(json_object_get(c, "line"));

		printf("    <testcase classname=\"");
		xml(stdout, file);
		printf("\" name=\"");
		xml(stdout, json_string_value(json_object_get(c, "name")));
		printf("\" file=\"");
		xml(stdout, file);
		printf("\" line=\"%" JSON_INTEGER_FORMAT "\"", line);
		if (json_is_true(json_object_get(c, "ok"))) {
			printf("/>\n");
			continue;
		}
		failure_text(json_object_get(c, "failures"), text,
			     sizeof(text));
		printf(">\n      <failure message=\"");
		xml(stdout, text);
		printf("\">");
		xml(stdout, file);
		printf(":%" JSON_INTEGER_FORMAT ": ", line);
		xml(stdout, text);
		printf("</failure>\n    </testcase>\n");
	}
	printf("  </testsuite>\n</testsuites>\n");
}

static void print_table(const struct pt_run *r)
{
	char text[2048];
	size_t i;
	json_t *c;

	json_array_foreach(r->results, i, c)
	{
		bool ok = json_is_true(json_object_get(c, "ok"));

		failure_text(json_object_get(c, "failures"), text,
			     sizeof(text));
		printf("%s  %s:%" JSON_INTEGER_FORMAT "  %s%s%s\n",
		       ok ? "PASS" : "FAIL",
		       json_string_value(json_object_get(c, "file")),
		       json_integer_value(json_object_get(c, "line")),
		       json_string_value(json_object_get(c, "name")),
		       ok ? "" : ": ", text);
	}
	printf("%zu passed, %zu failed\n", r->passed, r->failed);
}

static int report(struct af_cli *cli, const struct pt_args *a, struct pt_run *r)
{
	int rc = 0;

	if (a->junit)
		print_junit(r);
	else if (cli->output == AF_OUT_TABLE)
		print_table(r);
	else
		rc = af_out_json(json_pack(
			"{s:I,s:I,s:O}", "passed", (json_int_t)r->passed,
			"failed", (json_int_t)r->failed, "cases", r->results));
	if (rc != 0)
		return rc;
	fflush(stdout);
	if (r->failed > 0)
		return af_cli_fail(AF_EXIT_REFUSED, "TEST_FAILED",
				   "%zu of %zu cases failed", r->failed,
				   r->passed + r->failed);
	return 0;
}

/* ---------------------------------------------------------------- verb */

static int setup(struct af_cli *cli, const struct pt_args *a, struct pt_run *r,
		 const struct af_policy_view **ret_view)
{
	int rc;

	r->env.cli = cli;
	r->req = af_malloc(sizeof(*r->req));
	r->live = af_malloc(sizeof(*r->live));
	r->results = json_array();
	if (r->req == NULL || r->live == NULL || r->results == NULL)
		return af_cli_fail(AF_EXIT_REFUSED, "ENOMEM", "out of memory");
	if (a->policy != NULL)
		rc = rp_bundle_file(a->policy, &r->env.cand.b);
	else
		rc = rp_fetch_revision(cli, 0, &r->env.cand.b,
				       &r->env.cand.revision);
	if (rc == 0)
		rc = rp_registry(&r->env, a->models);
	if (rc == 0)
		rc = rp_view(&r->env, &r->env.cand, false, ret_view);
	return rc;
}

int af_cli_policy_test(struct af_cli *cli, int argc, char **argv)
{
	static struct pt_args a;
	const struct af_policy_view *v = NULL;
	struct pt_run r = {0};
	int rc;

	memset(&a, 0, sizeof(a));
	if ((rc = parse_args(argc, argv, &a)) != 0)
		return rc;
	rc = setup(cli, &a, &r, &v);
	for (int i = 0; rc == 0 && i < a.npaths; i++)
		rc = run_file(&r, a.paths[i], v);
	if (rc == 0)
		rc = report(cli, &a, &r);
	json_decref(r.results);
	rp_env_free(&r.env);
	af_free(r.req);
	af_free(r.live);
	return rc;
}
