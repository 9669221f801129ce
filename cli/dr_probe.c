/* af dr drill: routerd probes (decisions, errors, residency of every
 * returned region). */
#include "cli/cli.h"
#include "cli/dr.h"
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

/* ---- the allowed regions --------------------------------------------- */

/* Items of a YAML list of strings into set (n: their number). */
static void list_strings(struct af_yaml *y, yaml_node_t *seq,
			 char set[][DR_REGION_MAX], size_t *ret_n)
{
	size_t n = 0;

	for (size_t i = 0; i < af_yaml_len(seq) && n < DR_MAX_REGIONS; i++) {
		const char *s;

		if (af_yaml_str(y, af_yaml_item(y, seq, i), "region",
				DR_REGION_MAX - 1, &s, NULL) == 0)
			snprintf(set[n++], DR_REGION_MAX, "%s", s);
	}
	*ret_n = n;
}

static bool in_set(char set[][DR_REGION_MAX], size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(set[i], s) == 0)
			return true;
	return false;
}

/* Allowed = the class's regions intersected with the residency list of
 * the request's sensitivity (default: the policy's); absent lists mean
 * any region. */
static void allowed_regions(struct dr_probe *p, struct af_yaml *y,
			    const char *cls, const char *sens)
{
	yaml_node_t *root = af_yaml_root(y), *v, *c;
	char res[DR_MAX_REGIONS][DR_REGION_MAX];
	size_t n_res = 0;
	bool res_any = true;

	v = af_yaml_get(y, root, "defaults");
	if (sens == NULL && v != NULL &&
	    (c = af_yaml_get(y, v, "sensitivity")) != NULL)
		af_yaml_str(y, c, "sensitivity", 64, &sens, NULL);
	v = af_yaml_get(y, root, "residency");
	if (sens != NULL && v != NULL && (v = af_yaml_get(y, v, sens))) {
		list_strings(y, v, res, &n_res);
		res_any = false;
	}
	v = af_yaml_get(y, root, "classes");
	c = v ? af_yaml_get(y, v, cls) : NULL;
	v = c ? af_yaml_get(y, c, "regions") : NULL;
	p->any_region = res_any && v == NULL;
	p->n_allowed = 0;
	if (v == NULL) {
		memcpy(p->allowed, res, sizeof(res));
		p->n_allowed = n_res;
		return;
	}
	list_strings(y, v, p->allowed, &p->n_allowed);
	for (size_t i = 0; !res_any && i < p->n_allowed;)
		if (!in_set(res, n_res, p->allowed[i]))
			memmove(p->allowed[i], p->allowed[--p->n_allowed],
				DR_REGION_MAX);
		else
			i++;
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

int dr_probe_prepare(struct dr_probe *p, const char *request_file,
		     const char *policy, size_t len)
{
	struct af_err err = {{0}};
	struct af_yaml *y = NULL;
	json_error_t je;
	json_t *req;
	int rc;

	if (p->n_urls == 0)
		return 0;
	if (af_yaml_load("stable policy", policy, len, 1u << 20, &y, &err) != 0)
		return af_cli_fail(AF_EXIT_REFUSED, "INVALID", "dr drill: %s",
				   err.msg);
	rc = request_file ? read_body(p, request_file) : default_body(p, y);
	req = rc == 0 ? json_loadb(p->body, p->body_len, 0, &je) : NULL;
	if (rc == 0 &&
	    (req == NULL || !json_is_string(json_object_get(req, "class")))) {
		rc = af_cli_fail(AF_EXIT_USAGE, "USAGE",
				 "--request %s: not a JSON request with a "
				 "\"class\"",
				 request_file ? request_file : "");
	}
	if (rc == 0)
		allowed_regions(
			p, y, json_string_value(json_object_get(req, "class")),
			json_string_value(json_object_get(req, "sensitivity")));
	json_decref(req);
	af_yaml_free(y);
	return rc;
}

/* ---- the thread ------------------------------------------------------- */

static bool region_ok(const struct dr_probe *p, json_t *region)
{
	if (p->any_region || region == NULL)
		return true;
	for (size_t i = 0; i < p->n_allowed; i++)
		if (json_is_string(region) &&
		    strcmp(json_string_value(region), p->allowed[i]) == 0)
			return true;
	return false;
}

/* Counts one answer: a decision, and each region outside the allowed. */
static void judge(struct dr_probe *p, const void *data, size_t len)
{
	json_t *d = json_loadb(data, len, 0, NULL), *fb, *hop;
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
	if (!region_ok(p, json_object_get(d, "region")))
		atomic_fetch_add(&p->violations, 1);
	fb = json_object_get(d, "fallback");
	json_array_foreach(
		fb, i, hop) if (!region_ok(p, json_object_get(hop, "region")))
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
}
