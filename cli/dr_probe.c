/* af dr drill: routerd probes (decisions, errors, residency of every
 * returned region, judged by the cluster's policy view as af_decide
 * judges it). */
#include "cli/client.h"
#include "cli/dr.h"
#include "cli/replay.h"
#include "common/alloc.h"
#include "common/file.h"
#include "common/yamldoc.h"

#include <jansson.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define PROBE_PAUSE_MS 5 /* between rounds: a steady trickle, not a load */
#define PROBE_TIMEOUT_MS 2000

int dr_probe_add(struct dr_probe *p, const char *urls)
{
	const char *s = urls;

	while (*s != '\0') {
		size_t n = strcspn(s, ",");
		const char *path = "/v1/route";

		if (n <= 7 || n + strlen(path) >= DR_URL_MAX ||
		    strncmp(s, "http://", 7) != 0)
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "--routerd: expected "
					   "http://HOST:PORT, got \"%.*s\"",
					   (int)n, s);
		if (p->n_urls == DR_MAX_ROUTERD)
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "--routerd: at most %d routerds",
					   DR_MAX_ROUTERD);
		while (n > 0 && s[n - 1] == '/')
			n--;
		snprintf(p->urls[p->n_urls++], DR_URL_MAX, "%.*s%s", (int)n, s,
			 path);
		s += strcspn(s, ",");
		if (*s == ',')
			s++;
	}
	return 0;
}

/* ---- the view decisions are judged by -------------------------------- */

/* The stable policy: its compiled bundle into p->stable, its source
 * parsed into *ret_y (for a default request). */
static int load_stable(struct dr_probe *p, struct af_cli *cli,
		       uint64_t *ret_rev, struct af_yaml **ret_y)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__PolicyGetReq pg = AF__POLICY_GET_REQ__INIT;
	struct af_err err = {{0}};
	Af__Response *resp;
	const Af__PolicyGetResp *g;
	int rc;

	req.body_case = AF__REQUEST__BODY_POLICY_GET;
	req.policy_get = &pg;
	if ((rc = af_cli_request(cli, &req, &resp)) != 0)
		return rc;
	g = resp->policy_get;
	if (g == NULL || g->compiled.len == 0) {
		af__response__free_unpacked(resp, NULL);
		return af_cli_fail(AF_EXIT_REFUSED, "NOT_FOUND",
				   "dr drill: the cluster has no stable "
				   "policy to judge routerd decisions by: "
				   "apply one (af policy apply)");
	}
	*ret_rev = g->revision ? g->revision->revision : 0;
	rc = af_bundle_load(g->compiled.data, g->compiled.len, &p->stable,
			    &err);
	if (rc == 0)
		rc = af_yaml_load("stable policy", (const char *)g->source.data,
				  g->source.len, AF_POLICY_MAX_BYTES, ret_y,
				  &err);
	af__response__free_unpacked(resp, NULL);
	if (rc != 0)
		return af_cli_fail(AF_EXIT_UNAVAILABLE, "PROTOCOL",
				   "dr drill: stable policy: %s", err.msg);
	return 0;
}

/* The canary the cluster runs, if any, into cfg. */
static int load_canary(struct dr_probe *p, struct af_cli *cli,
		       struct af_policy_view_config *cfg)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__CanaryStatusReq cr = AF__CANARY_STATUS_REQ__INIT;
	Af__Response *resp;
	uint64_t rev = 0, got = 0;
	uint32_t weight = 0;
	int rc;

	req.body_case = AF__REQUEST__BODY_CANARY_STATUS;
	req.canary_status = &cr;
	if ((rc = af_cli_request(cli, &req, &resp)) != 0)
		return rc;
	if (resp->canary_status && resp->canary_status->rollout) {
		rev = resp->canary_status->rollout->canary_revision;
		weight = resp->canary_status->rollout->weight;
	}
	af__response__free_unpacked(resp, NULL);
	if (rev == 0 || weight == 0 || weight > 100)
		return 0;
	if ((rc = rp_fetch_revision(cli, rev, &p->canary, &got)) != 0)
		return rc;
	cfg->canary = p->canary;
	cfg->canary_revision = got;
	cfg->canary_weight_bp = weight * 100;
	return 0;
}

/* The view: stable, canary and registry, as routerds get them. */
static int load_view(struct dr_probe *p, struct af_cli *cli,
		     struct af_yaml **ret_y)
{
	struct af_policy_view_config cfg = {0};
	struct rp_env e = {.cli = cli};
	struct af_err err = {{0}};
	int rc;

	if ((rc = load_stable(p, cli, &cfg.stable_revision, ret_y)) != 0 ||
	    (rc = load_canary(p, cli, &cfg)) != 0)
		return rc;
	rc = rp_registry(&e, NULL);
	p->registry = e.registry;
	cfg.registry_revision = e.registry_revision;
	e.registry = NULL;
	rp_env_free(&e);
	if (rc != 0)
		return rc;
	cfg.stable = p->stable;
	cfg.registry = p->registry;
	if (af_policy_view_new(&cfg, &p->view, &err) != 0)
		return af_cli_fail(AF_EXIT_UNAVAILABLE, "INVALID",
				   "dr drill: the cluster's policy: %s",
				   err.msg);
	return 0;
}

/* A request for the policy's first class. */
static int default_body(struct dr_probe *p, struct af_yaml *y)
{
	yaml_node_t *cl = af_yaml_get(y, af_yaml_root(y), "classes");
	const char *cls = NULL;
	json_t *o;

	if (cl == NULL || af_yaml_len(cl) == 0 ||
	    af_yaml_str(y, af_yaml_key(y, cl, 0), "class", 64, &cls, NULL) != 0)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "dr drill: the stable policy has no class "
				   "to probe with: give --request FILE");
	o = json_pack("{s:s, s:s, s:s, s:i, s:i}", "workflow_id", "af-dr-drill",
		      "tenant", "af-dr-drill-probe", "class", cls,
		      "input_tokens", 1000, "output_tokens", 100);
	p->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (p->body == NULL)
		return af_cli_fail(AF_EXIT_UNAVAILABLE, "NOMEM",
				   "dr drill: out of memory");
	p->body_len = strlen(p->body);
	return 0;
}

static int read_body(struct dr_probe *p, const char *file)
{
	struct af_err err = {{0}};
	char *buf;
	size_t len;

	if (af_read_file(file, DR_MAX_BODY, &buf, &len, &err) != 0)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE", "--request: %s",
				   err.msg);
	p->body = strndup(buf, len);
	af_free(buf);
	if (p->body == NULL)
		return af_cli_fail(AF_EXIT_UNAVAILABLE, "NOMEM",
				   "dr drill: out of memory");
	p->body_len = len;
	return 0;
}

int dr_probe_prepare(struct dr_probe *p, struct af_cli *cli,
		     const char *request_file)
{
	struct af_request_error rerr;
	struct af_yaml *y = NULL;
	bool ok = false;
	int rc;

	if (p->n_urls == 0)
		return 0;
	rc = load_view(p, cli, &y);
	if (rc == 0)
		rc = request_file ? read_body(p, request_file)
				  : default_body(p, y);
	af_yaml_free(y);
	if (rc != 0)
		return rc;
	memset(&rerr, 0, sizeof(rerr));
	if (af_request_parse_json(p->body, p->body_len, &p->req, &rerr) != 0)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "--request %s: not a request routerd "
				   "accepts: %s",
				   request_file ? request_file : "",
				   rerr.message);
	if (af_policy_view_region_allowed(p->view, &p->req, false, "", &ok) !=
	    0)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "--request %s: class \"%s\" is not in the "
				   "stable policy",
				   request_file ? request_file : "",
				   p->req.class_name);
	return 0;
}

/* ---- the thread ------------------------------------------------------- */

/* Whether a returned region is one the request may use under the
 * decision's cohort (no region: nothing to judge). */
static bool region_ok(const struct dr_probe *p, bool canary, json_t *region)
{
	bool ok = false;

	if (region == NULL)
		return true;
	return json_is_string(region) &&
	       af_policy_view_region_allowed(p->view, &p->req, canary,
					     json_string_value(region),
					     &ok) == 0 &&
	       ok;
}

/* Counts one answer: a decision, and each region outside the allowed. */
static void judge(struct dr_probe *p, const void *data, size_t len)
{
	json_t *d = json_loadb(data, len, 0, NULL), *fb, *hop;
	const char *cohort;
	bool canary;
	size_t i;

	if (!json_is_object(d) ||
	    !json_is_string(json_object_get(d, "decision"))) {
		atomic_fetch_add(&p->errors, 1);
		snprintf(p->last_error, sizeof(p->last_error),
			 "an answer without a decision");
		json_decref(d);
		return;
	}
	atomic_fetch_add(&p->decisions, 1);
	cohort = json_string_value(
		json_object_get(json_object_get(d, "policy"), "cohort"));
	canary = cohort != NULL && strcmp(cohort, "canary") == 0;
	if (!region_ok(p, canary, json_object_get(d, "region")))
		atomic_fetch_add(&p->violations, 1);
	fb = json_object_get(d, "fallback");
	json_array_foreach(
		fb, i,
		hop) if (!region_ok(p, canary, json_object_get(hop, "region")))
		atomic_fetch_add(&p->violations, 1);
	json_decref(d);
}

static int probe_once(struct dr_probe *p, const char *url, nng_aio *aio)
{
	nng_url *u = NULL;
	nng_http_client *cl = NULL;
	nng_http_req *req = NULL;
	nng_http_res *res = NULL;
	void *data;
	size_t len;
	int rv;

	if ((rv = nng_url_parse(&u, url)) != 0 ||
	    (rv = nng_http_client_alloc(&cl, u)) != 0 ||
	    (rv = nng_http_req_alloc(&req, u)) != 0 ||
	    (rv = nng_http_res_alloc(&res)) != 0 ||
	    (rv = nng_http_req_set_method(req, "POST")) != 0 ||
	    (rv = nng_http_req_set_header(req, "Content-Type",
					  "application/json")) != 0 ||
	    (rv = nng_http_req_copy_data(req, p->body, p->body_len)) != 0)
		goto out;
	nng_http_client_transact(cl, req, res, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0)
		goto out;
	nng_http_res_get_data(res, &data, &len);
	if (nng_http_res_get_status(res) != 200) {
		atomic_fetch_add(&p->errors, 1);
		snprintf(p->last_error, sizeof(p->last_error), "%s answered %u",
			 url, (unsigned)nng_http_res_get_status(res));
	} else
		judge(p, data, len);
out:
	if (rv != 0) {
		atomic_fetch_add(&p->errors, 1);
		snprintf(p->last_error, sizeof(p->last_error), "%s: %s", url,
			 nng_strerror(rv));
	}
	nng_http_res_free(res);
	nng_http_req_free(req);
	nng_http_client_free(cl);
	nng_url_free(u);
	return rv;
}

static void *probe_main(void *arg)
{
	struct dr_probe *p = arg;
	const struct timespec pause = {0, PROBE_PAUSE_MS * 1000000L};
	nng_aio *aio;

	if (nng_aio_alloc(&aio, NULL, NULL) != 0) {
		atomic_fetch_add(&p->errors, 1);
		snprintf(p->last_error, sizeof(p->last_error), "no memory");
		return NULL;
	}
	nng_aio_set_timeout(aio, PROBE_TIMEOUT_MS);
	while (!atomic_load(&p->stop)) {
		for (size_t i = 0; i < p->n_urls; i++)
			probe_once(p, p->urls[i], aio);
		nanosleep(&pause, NULL);
	}
	nng_aio_free(aio);
	return NULL;
}

int dr_probe_start(struct dr_probe *p)
{
	if (p->n_urls == 0)
		return 0;
	if (pthread_create(&p->thread, NULL, probe_main, p) != 0)
		return af_cli_fail(AF_EXIT_UNAVAILABLE, "INTERNAL",
				   "dr drill: cannot start the routerd probe");
	p->started = true;
	return 0;
}

void dr_probe_stop(struct dr_probe *p)
{
	if (!p->started)
		return;
	atomic_store(&p->stop, true);
	pthread_join(p->thread, NULL);
	p->started = false;
}

void dr_probe_free(struct dr_probe *p)
{
	dr_probe_stop(p);
	free(p->body);
	af_policy_view_free(p->view);
	af_bundle_free(p->stable);
	af_bundle_free(p->canary);
	af_registry_free(p->registry);
}
