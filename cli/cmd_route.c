/* af policy lint, af route (offline form): the policy engine from the
 * command line, no cluster needed. */
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/output.h"
#include "common/alloc.h"
#include "common/file.h"
#include "policy/policy.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct route_args {
	const char *file, *policy, *models, *revision;
	bool explain;
};

/* Flags of lint and route. Returns 0 or a usage exit code (printed). */
static int parse_args(int argc, char **argv, bool route, struct route_args *a)
{
	for (int i = 1; i < argc; i++) {
		const char *f = argv[i];
		const char **dst = NULL;

		if (strcmp(f, "-f") == 0 || strcmp(f, "--file") == 0)
			dst = &a->file;
		else if (route && strcmp(f, "--policy") == 0)
			dst = &a->policy;
		else if (route && strcmp(f, "--models") == 0)
			dst = &a->models;
		else if (route && strcmp(f, "--revision") == 0)
			dst = &a->revision;
		else if (route && strcmp(f, "--explain") == 0) {
			a->explain = true;
			continue;
		} else
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "%s: unknown flag or argument "
					   "\"%s\"",
					   argv[0], f);
		if (i + 1 >= argc)
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "%s needs a value", f);
		*dst = argv[++i];
	}
	if (a->file == NULL)
		return af_cli_fail(
			AF_EXIT_USAGE, "USAGE",
			route ? "usage: af route -f REQUEST.json [--revision "
				"REV] "
				"[--explain] [--policy FILE --models FILE]"
			      : "policy lint -f FILE");
	return 0;
}

static int read_input(const char *path, size_t max, char **ret_buf,
		      size_t *ret_len)
{
	struct af_err err = {{0}};

	if (af_read_file(path, max, ret_buf, ret_len, &err) != 0)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE", "%s", err.msg);
	return 0;
}

static void lint_report(const struct af_cli *cli, const struct af_bundle *b)
{
	size_t nw = af_bundle_nwarnings(b);
	json_t *o, *w;

	for (size_t i = 0; i < nw; i++)
		fprintf(stderr, "%s\n", af_bundle_warning(b, i));
	if (cli->output == AF_OUT_TABLE) {
		printf("valid: policy %s, %zu rules, %zu warnings, %s\n",
		       af_bundle_name(b), af_bundle_nrules(b), nw,
		       af_bundle_hash(b));
		return;
	}
	o = json_object();
	w = json_array();
	json_object_set_new(o, "valid", json_true());
	json_object_set_new(o, "name", json_string(af_bundle_name(b)));
	json_object_set_new(o, "hash", json_string(af_bundle_hash(b)));
	json_object_set_new(o, "rules",
			    json_integer((json_int_t)af_bundle_nrules(b)));
	for (size_t i = 0; i < nw; i++)
		json_array_append_new(w, json_string(af_bundle_warning(b, i)));
	json_object_set_new(o, "warnings", w);
	af_out_json(o);
}

int af_cli_policy_lint(struct af_cli *cli, int argc, char **argv)
{
	struct route_args a = {0};
	struct af_err err = {{0}};
	struct af_bundle *b = NULL;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	rc = parse_args(argc, argv, false, &a);
	if (rc == 0)
		rc = read_input(a.file, AF_POLICY_MAX_BYTES, &buf, &len);
	if (rc != 0)
		return rc;
	rc = af_bundle_compile(a.file, buf, len, &b, &err);
	af_free(buf);
	if (rc != 0)
		return af_cli_fail(AF_EXIT_REFUSED, "INVALID", "%s", err.msg);
	lint_report(cli, b);
	af_bundle_free(b);
	return AF_EXIT_OK;
}

/* ------------------------------------------------------------- route */

struct offline {
	struct af_bundle *bundle;
	struct af_registry *registry;
	struct af_policy_view *view;
};

static void offline_free(struct offline *o)
{
	af_policy_view_free(o->view);
	af_registry_free(o->registry);
	af_bundle_free(o->bundle);
}

static int offline_load(const struct route_args *a, struct offline *o)
{
	struct af_policy_view_config cfg = {0};
	struct af_err err = {{0}};
	char *buf = NULL;
	size_t len = 0;
	int rc;

	rc = read_input(a->policy, AF_POLICY_MAX_BYTES, &buf, &len);
	if (rc != 0)
		return rc;
	rc = af_bundle_compile(a->policy, buf, len, &o->bundle, &err);
	af_free(buf);
	if (rc != 0)
		return af_cli_fail(AF_EXIT_REFUSED, "INVALID", "%s", err.msg);
	rc = read_input(a->models, AF_POLICY_MAX_BYTES, &buf, &len);
	if (rc != 0)
		return rc;
	rc = af_registry_compile(a->models, buf, len, &o->registry, &err);
	af_free(buf);
	if (rc != 0)
		return af_cli_fail(AF_EXIT_REFUSED, "INVALID", "%s", err.msg);
	cfg.stable = o->bundle;
	cfg.registry = o->registry;
	rc = af_policy_view_new(&cfg, &o->view, &err);
	if (rc != 0)
		return af_cli_fail(AF_EXIT_REFUSED, "INVALID", "%s", err.msg);
	return 0;
}

/* The cluster form: the stable revision (or --revision REV) and the
 * registry as the cluster holds them (linearizable reads), evaluated here
 * by the same engine routerd runs. Both are validated again on load. */
static int cluster_load(struct af_cli *cli, const struct route_args *a,
			struct offline *o)
{
	struct af_policy_view_config cfg = {0};
	struct af_err err = {{0}};
	Af__Request req = AF__REQUEST__INIT;
	Af__PolicyGetReq pg = AF__POLICY_GET_REQ__INIT;
	Af__ModelListReq ml = AF__MODEL_LIST_REQ__INIT;
	Af__Response *resp;
	int rc;

	if (a->revision != NULL) {
		char *end;

		pg.revision = strtoull(a->revision, &end, 10);
		if (*end != '\0' || pg.revision == 0)
			return af_cli_fail(
				AF_EXIT_USAGE, "USAGE",
				"--revision takes a revision number");
	}
	req.body_case = AF__REQUEST__BODY_POLICY_GET;
	req.policy_get = &pg;
	if ((rc = af_cli_request(cli, &req, &resp)) != 0)
		return rc;
	cfg.stable_revision = resp->policy_get->revision->revision;
	rc = af_bundle_load(resp->policy_get->compiled.data,
			    resp->policy_get->compiled.len, &o->bundle, &err);
	af__response__free_unpacked(resp, NULL);
	if (rc != 0)
		return af_cli_fail(AF_EXIT_UNAVAILABLE, "PROTOCOL", "%s",
				   err.msg);
	req.body_case = AF__REQUEST__BODY_MODEL_LIST;
	req.model_list = &ml;
	if ((rc = af_cli_request(cli, &req, &resp)) != 0)
		return rc;
	cfg.registry_revision = resp->model_list->registry_revision;
	rc = af_registry_load(resp->model_list->compiled.data,
			      resp->model_list->compiled.len, &o->registry,
			      &err);
	af__response__free_unpacked(resp, NULL);
	if (rc != 0)
		return af_cli_fail(AF_EXIT_UNAVAILABLE, "PROTOCOL", "%s",
				   err.msg);
	cfg.stable = o->bundle;
	cfg.registry = o->registry;
	rc = af_policy_view_new(&cfg, &o->view, &err);
	if (rc != 0)
		return af_cli_fail(AF_EXIT_REFUSED, "INVALID", "%s", err.msg);
	return 0;
}

/* A request the router would refuse: the error body on stdout with
 * -o json, one line on stderr, exit 1. */
static int refuse(const struct af_cli *cli, const char *file, int status,
		  const char *code, const char *field, const char *msg)
{
	char body[1024];
	size_t n;

	if (cli->output != AF_OUT_TABLE &&
	    af_error_json(code, msg, field, body, sizeof(body), &n) == 0)
		af_out_body(body);
	return af_cli_fail(AF_EXIT_REFUSED, "INVALID", "%s: %d %s: %s%s%s",
			   file, status, code, msg,
			   field && field[0] ? " (field " : "",
			   field && field[0] ? field : "");
}

static void print_table(const struct af_decision *d)
{
	char usd[32];

	if (d->kind == AF_DECISION_DENY) {
		printf("decision  deny\ncode      %s\nmessage   %s\n", d->code,
		       d->message);
		printf("rule      %s\n", d->rule ? d->rule : "-");
		if (d->retry_after_ms >= 0)
			printf("retry     %" PRId64 " ms\n", d->retry_after_ms);
	} else {
		af_policy_fmt_usd(d->est_cost_nano_usd, usd);
		printf("decision  route\nmodel     %s (%s)\ntier      %s\n"
		       "region    %s\nlane      %s\n",
		       d->primary.model, d->primary.provider, d->primary.tier,
		       d->primary.region, d->lane);
		for (size_t i = 0; i < d->nfallback; i++)
			printf("%s%s/%s (%s)\n",
			       i ? "          " : "fallback  ",
			       d->fallback[i].model, d->fallback[i].region,
			       d->fallback[i].tier);
		printf("retries   %" PRId64 "\nest cost  %s USD\nrule      %s\n"
		       "degraded  %s\n",
		       d->max_retries, usd, d->rule,
		       d->degraded ? "true" : "false");
	}
	printf("policy    revision %" PRIu64 " %s (%s)\n", d->revision, d->hash,
	       d->canary ? "canary" : "stable");
}

static int explain_alloc(const struct af_policy_view *v, struct af_explain *x)
{
	x->rules_cap = af_policy_view_nrules_max(v);
	x->cands_cap = af_policy_view_npairs(v);
	x->rules = af_calloc(x->rules_cap + 1, sizeof(*x->rules));
	x->cands = af_calloc(x->cands_cap + 1, sizeof(*x->cands));
	if (x->rules == NULL || x->cands == NULL)
		return af_cli_fail(AF_EXIT_REFUSED, "ENOMEM", "out of memory");
	return 0;
}

static void print_explain(const struct af_cli *cli, const struct af_explain *x)
{
	size_t len = 4096 + (x->nrules + x->ncands) * 400;
	char *buf = af_malloc(len);

	if (buf == NULL)
		return;
	af_explain_text(x, buf, len);
	fprintf(cli->output == AF_OUT_TABLE ? stdout : stderr, "\nexplain:\n%s",
		buf);
	af_free(buf);
}

static int decide_and_print(const struct af_cli *cli,
			    const struct route_args *a, struct offline *o,
			    const struct af_request *req)
{
	struct af_explain x = {0};
	struct af_decision d;
	char body[4096];
	size_t n;
	int rc = 0;

	if (a->explain && (rc = explain_alloc(o->view, &x)) != 0)
		goto out;
	if (af_decide(o->view, req, NULL, "offline", &d,
		      a->explain ? &x : NULL) != 0) {
		char msg[400];

		snprintf(msg, sizeof(msg), "unknown class \"%s\"",
			 req->class_name);
		rc = refuse(cli, a->file, 422, "UNKNOWN_CLASS", "class", msg);
		goto out;
	}
	if (cli->output == AF_OUT_TABLE)
		print_table(&d);
	else if (af_decision_json(&d, body, sizeof(body), &n) == 0)
		rc = af_out_body(body);
	if (a->explain)
		print_explain(cli, &x);
out:
	af_free(x.rules);
	af_free(x.cands);
	return rc;
}

int af_cli_route(struct af_cli *cli, int argc, char **argv)
{
	struct route_args a = {0};
	struct af_request_error rerr = {0};
	struct offline o = {0};
	struct af_request *req = NULL;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	rc = parse_args(argc, argv, true, &a);
	if (rc != 0)
		return rc;
	if ((a.policy == NULL) != (a.models == NULL))
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "give both --policy FILE and --models FILE "
				   "(offline), or neither (the cluster's)");
	if (a.policy != NULL && a.revision != NULL)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "--revision needs the cluster form (no "
				   "--policy/--models)");
	rc = read_input(a.file, AF_REQ_MAX_BODY + 1, &buf, &len);
	if (rc != 0)
		return rc;
	rc = a.policy ? offline_load(&a, &o) : cluster_load(cli, &a, &o);
	if (rc != 0)
		goto out;
	req = af_malloc(sizeof(*req));
	if (req == NULL) {
		rc = af_cli_fail(AF_EXIT_REFUSED, "ENOMEM", "out of memory");
		goto out;
	}
	if (af_request_parse_json(buf, len, req, &rerr) != 0)
		rc = refuse(cli, a.file, rerr.http_status, rerr.code,
			    rerr.field, rerr.message);
	else
		rc = decide_and_print(cli, &a, &o, req);
out:
	af_free(req);
	af_free(buf);
	offline_free(&o);
	return rc;
}
