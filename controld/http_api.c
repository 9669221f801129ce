/* GET /api/v1/...: the cluster's state as JSON, the same documents as
 * `af ... -o json` (render/). Every read is a Request answered by
 * controld_handle on the loop thread (http_call.c), so it is authorized by
 * the same tokens and roles and reads with the same read mode as af's; a
 * follower asks the leader. */
#include "common/alloc.h"
#include "controld/auth.h"
#include "controld/http_int.h"
#include "proto/alloc.h"
#include "render/render.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Longest query parameter value. */
#define PARAM_MAX 64u
#define MAX_PARAMS 8u

struct api_req {
	struct controld_node *n;
	struct MHD_Connection *c;
	const char *token; /* from Authorization: Bearer; "" without */
	const char *rest;  /* the path after the resource's prefix */
	unsigned status;   /* HTTP status of the error; 0: none */
	const char *code;
	const char *field; /* the parameter at fault, or NULL */
	char msg[640];
};

static json_t *fail(struct api_req *r, unsigned status, const char *code,
		    const char *field, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static json_t *fail(struct api_req *r, unsigned status, const char *code,
		    const char *field, const char *fmt, ...)
{
	va_list ap;

	r->status = status;
	r->code = code;
	r->field = field;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	return NULL;
}

/* No token, or one the tokens file does not hold. */
static void unauthenticated(struct api_req *r)
{
	fail(r, 401, "UNAUTHENTICATED", NULL,
	     "%s: send the header \"Authorization: Bearer TOKEN\" with a "
	     "token of the cluster's tokens file",
	     r->token[0] ? "unknown token" : "a token is required");
}

/* The parameter a cluster refusal names by its af flag ("--until must
 * come after --since" is about until), without the dashes. */
static void name_field(struct api_req *r)
{
	static const char *const flags[] = {"by", "since", "until", "limit",
					    "after"};
	size_t n;

	if (strncmp(r->msg, "--", 2) != 0)
		return;
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		n = strlen(flags[i]);
		if (strncmp(r->msg + 2, flags[i], n) == 0 &&
		    (r->msg[2 + n] == ' ' || r->msg[2 + n] == ':')) {
			r->field = flags[i];
			memmove(r->msg, r->msg + 2, strlen(r->msg) - 1);
			return;
		}
	}
}

/* A refusal from the cluster, as HTTP. */
static void fail_status(struct api_req *r, const Af__Status *st)
{
	const char *m = st->message ? st->message : "";

	switch (st->code) {
	case AF__CODE__PERMISSION_DENIED:
		if (!af_auth_known(r->n->auth, r->token))
			unauthenticated(r);
		else
			fail(r, 403, "PERMISSION_DENIED", NULL,
			     "%s; use a token whose role may read (viewer, "
			     "author, promoter or admin)",
			     m);
		return;
	case AF__CODE__INVALID:
		fail(r, 400, "INVALID", NULL, "%s", m);
		name_field(r);
		return;
	case AF__CODE__TOO_LARGE:
		fail(r, 400, "TOO_LARGE", NULL, "%s", m);
		return;
	case AF__CODE__NOT_FOUND:
		fail(r, 404, "NOT_FOUND", NULL, "%s", m);
		return;
	case AF__CODE__NOT_LEADER:
	case AF__CODE__UNAVAILABLE:
		fail(r, 503, "UNAVAILABLE", NULL,
		     "%s; try again when the cluster has a leader (GET "
		     "/readyz on any node)",
		     m[0] ? m : "no leader");
		return;
	default:
		fail(r, 500, "INTERNAL", NULL, "%s", m);
	}
}

/* Asks the cluster (the leader, through this node); 0 with an OK answer
 * in *ret (owned), else -1 with the error set. */
static int read_one(struct api_req *r, Af__Request *req, Af__Response **ret)
{
	int rc;

	req->token = (char *)r->token;
	rc = controld_http_read(r->n, req, CONTROLD_HTTP_TIMEOUT_MS, ret);
	if (rc == AF_ETIMEDOUT) {
		fail(r, 503, "UNAVAILABLE", NULL,
		     "no answer within %u ms; try again",
		     CONTROLD_HTTP_TIMEOUT_MS);
		return -1;
	}
	if (rc != 0) {
		fail(r, 503, "UNAVAILABLE", NULL,
		     "%s (this node is stopping, or the leader is out of "
		     "reach); try again, or ask another node",
		     af_strerror(rc));
		return -1;
	}
	if ((*ret)->status && (*ret)->status->code != AF__CODE__OK) {
		fail_status(r, (*ret)->status);
		af__response__free_unpacked(*ret, NULL);
		*ret = NULL;
		return -1;
	}
	return 0;
}

/* The document of an answer to a request of this body case. */
static json_t *render(const Af__Response *x, Af__Request__BodyCase body)
{
	switch (body) {
	case AF__REQUEST__BODY_POLICY_HISTORY:
		return af_render_history(x->policy_history);
	case AF__REQUEST__BODY_AUDIT:
		return af_render_audit(x->audit);
	case AF__REQUEST__BODY_POLICY_GET:
		return af_render_policy_get(x->policy_get);
	case AF__REQUEST__BODY_CANARY_STATUS:
		return af_render_canary(x->canary_status);
	case AF__REQUEST__BODY_FLEET_STATUS:
		return af_render_fleet(x->fleet_status);
	case AF__REQUEST__BODY_BUDGET_LIST:
		return af_render_budgets(x->budget_list);
	case AF__REQUEST__BODY_EMERGENCY_LIST:
		return af_render_emergency(x->emergency_list);
	case AF__REQUEST__BODY_SHADOW_STATUS:
		return af_render_shadow(x->shadow_status);
	case AF__REQUEST__BODY_QUOTA_STATUS:
		return af_render_quotas(x->quota_status);
	default:
		return NULL;
	}
}

/* Reads req and renders the answer. */
static json_t *answer(struct api_req *r, Af__Request *req)
{
	Af__Response *resp;
	json_t *doc;

	if (read_one(r, req, &resp) != 0)
		return NULL;
	doc = render(resp, req->body_case);
	af__response__free_unpacked(resp, NULL);
	if (doc == NULL)
		fail(r, 500, "INTERNAL", NULL, "out of memory");
	return doc;
}

/* ---------------------------------------------------------- parameters */

struct param_check {
	struct api_req *r;
	const char *const *allowed;
	const char *seen[MAX_PARAMS];
	unsigned n;
	bool bad;
};

static enum MHD_Result check_one(void *cls, enum MHD_ValueKind kind,
				 const char *key, const char *value)
{
	struct param_check *pc = cls;
	bool known = false;

	(void)kind;
	for (size_t i = 0; pc->allowed[i] != NULL; i++)
		known = known || strcmp(pc->allowed[i], key) == 0;
	for (unsigned i = 0; known && i < pc->n; i++)
		if (strcmp(pc->seen[i], key) == 0) {
			fail(pc->r, 400, "INVALID", pc->seen[i],
			     "parameter %.32s given twice; give it once", key);
			pc->bad = true;
			return MHD_NO;
		}
	if (!known) {
		fail(pc->r, 400, "INVALID", NULL,
		     "unknown parameter \"%.32s\" (see docs/api.md for what "
		     "each resource takes)",
		     key);
	} else if (value == NULL || value[0] == '\0' ||
		   strlen(value) > PARAM_MAX) {
		fail(pc->r, 400, "INVALID", key,
		     "parameter %s needs a value of 1 to %u bytes", key,
		     PARAM_MAX);
	} else if (pc->n >= MAX_PARAMS) {
		fail(pc->r, 400, "INVALID", NULL, "more than %u parameters",
		     MAX_PARAMS);
	} else {
		pc->seen[pc->n++] = key;
		return MHD_YES;
	}
	pc->bad = true;
	return MHD_NO;
}

/* Every query parameter is one of allowed (NULL-terminated), given once,
 * with a bounded value. */
static int check_params(struct api_req *r, const char *const *allowed)
{
	struct param_check pc = {.r = r, .allowed = allowed};

	MHD_get_connection_values(r->c, MHD_GET_ARGUMENT_KIND, check_one, &pc);
	return pc.bad ? -1 : 0;
}

static const char *param(struct api_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->c, MHD_GET_ARGUMENT_KIND, name);
}

/* The ?limit= and ?after= of a paged resource. */
static int page_params(struct api_req *r, uint32_t *limit, uint64_t *after)
{
	static const char *const names[] = {"limit", "after", NULL};
	const char *l = param(r, "limit"), *a = param(r, "after");
	uint32_t unused;

	if (check_params(r, names) != 0)
		return -1;
	r->field = "limit";
	if (af_render_parse_page("limit", l, "after", NULL, limit, after,
				 r->msg, sizeof(r->msg)) != 0)
		goto bad;
	r->field = "after";
	if (af_render_parse_page("limit", NULL, "after", a, &unused, after,
				 r->msg, sizeof(r->msg)) != 0)
		goto bad;
	r->field = NULL;
	return 0;
bad:
	r->status = 400;
	r->code = "INVALID";
	return -1;
}

static int no_params(struct api_req *r)
{
	static const char *const none[] = {NULL};

	return check_params(r, none);
}

/* ----------------------------------------------------------- resources */

/* policy/history and audit: pages. */
static json_t *get_page(struct api_req *r)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__PolicyHistoryReq ph = AF__POLICY_HISTORY_REQ__INIT;
	Af__AuditReq ar = AF__AUDIT_REQ__INIT;

	if (strcmp(r->rest, "audit") == 0) {
		req.body_case = AF__REQUEST__BODY_AUDIT;
		req.audit = &ar;
	} else {
		req.body_case = AF__REQUEST__BODY_POLICY_HISTORY;
		req.policy_history = &ph;
	}
	if (page_params(r, &ph.limit, &ph.after) != 0)
		return NULL;
	ar.limit = ph.limit;
	ar.after = ph.after;
	return answer(r, &req);
}

/* policy/revisions/REV: REV a revision number or "stable". */
static json_t *get_revision(struct api_req *r)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__PolicyGetReq pg = AF__POLICY_GET_REQ__INIT;
	uint32_t unused;
	char why[192];

	if (no_params(r) != 0)
		return NULL;
	if (strcmp(r->rest, "stable") != 0 &&
	    (strlen(r->rest) > 20 ||
	     af_render_parse_page("", NULL, "REV", r->rest, &unused,
				  &pg.revision, why, sizeof(why)) != 0))
		return fail(r, 400, "INVALID", NULL,
			    "policy/revisions/REV takes a revision number "
			    "(see policy/history) or \"stable\", got \"%.32s\"",
			    r->rest);
	req.body_case = AF__REQUEST__BODY_POLICY_GET;
	req.policy_get = &pg;
	return answer(r, &req);
}

/* rollout, fleet, budgets, emergency and shadow: no parameters, an empty
 * request. */
static json_t *get_state(struct api_req *r)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__CanaryStatusReq cr = AF__CANARY_STATUS_REQ__INIT;
	Af__FleetStatusReq fr = AF__FLEET_STATUS_REQ__INIT;
	Af__BudgetListReq bl = AF__BUDGET_LIST_REQ__INIT;
	Af__EmergencyListReq el = AF__EMERGENCY_LIST_REQ__INIT;
	Af__ShadowStatusReq sr = AF__SHADOW_STATUS_REQ__INIT;
	Af__QuotaStatusReq qr = AF__QUOTA_STATUS_REQ__INIT;

	if (no_params(r) != 0)
		return NULL;
	if (strcmp(r->rest, "shadow") == 0) {
		req.body_case = AF__REQUEST__BODY_SHADOW_STATUS;
		req.shadow_status = &sr;
	} else if (strcmp(r->rest, "quotas") == 0) {
		req.body_case = AF__REQUEST__BODY_QUOTA_STATUS;
		req.quota_status = &qr;
	} else if (strcmp(r->rest, "emergency") == 0) {
		req.body_case = AF__REQUEST__BODY_EMERGENCY_LIST;
		req.emergency_list = &el;
	} else if (strcmp(r->rest, "rollout") == 0) {
		req.body_case = AF__REQUEST__BODY_CANARY_STATUS;
		req.canary_status = &cr;
	} else if (strcmp(r->rest, "fleet") == 0) {
		req.body_case = AF__REQUEST__BODY_FLEET_STATUS;
		req.fleet_status = &fr;
	} else {
		bl.tenant = (char *)""; /* every tenant */
		req.body_case = AF__REQUEST__BODY_BUDGET_LIST;
		req.budget_list = &bl;
	}
	return answer(r, &req);
}

/* budgets/TENANT: one budget with its spend over the period. */
static json_t *get_budget(struct api_req *r)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__BudgetListReq bl = AF__BUDGET_LIST_REQ__INIT;
	json_t *arr, *one;

	if (no_params(r) != 0)
		return NULL;
	if (r->rest[0] == '\0' || strlen(r->rest) > 128)
		return fail(r, 400, "INVALID", NULL,
			    "budgets/TENANT takes a tenant name (see "
			    "/api/v1/budgets)");
	bl.tenant = (char *)r->rest;
	bl.history = 1;
	req.body_case = AF__REQUEST__BODY_BUDGET_LIST;
	req.budget_list = &bl;
	if ((arr = answer(r, &req)) == NULL)
		return NULL;
	one = json_incref(json_array_get(arr, 0));
	json_decref(arr);
	return one;
}

static json_t *get_models(struct api_req *r)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__ModelListReq mr = AF__MODEL_LIST_REQ__INIT;
	Af__Policy__Registry *reg;
	Af__Response *resp;
	json_t *arr;

	if (no_params(r) != 0)
		return NULL;
	req.body_case = AF__REQUEST__BODY_MODEL_LIST;
	req.model_list = &mr;
	if (read_one(r, &req, &resp) != 0)
		return NULL;
	reg = af__policy__registry__unpack(&af_pb_allocator,
					   resp->model_list->compiled.len,
					   resp->model_list->compiled.data);
	af__response__free_unpacked(resp, NULL);
	if (reg == NULL)
		return fail(r, 500, "INTERNAL", NULL,
			    "the registry does not decode");
	arr = json_array();
	for (size_t i = 0; i < reg->n_models; i++)
		json_array_append_new(arr, af_render_model(reg->models[i]));
	af__policy__registry__free_unpacked(reg, NULL);
	return arr;
}

static int date_param(struct api_req *r, const char *name, int64_t *ret)
{
	const char *v = param(r, name);

	if (v == NULL)
		return 0;
	if (af_render_parse_date(name, v, ret, r->msg, sizeof(r->msg)) == 0)
		return 0;
	r->status = 400;
	r->code = "INVALID";
	r->field = name;
	return -1;
}

/* ?unit=workflow: the rows of af report --unit workflow. */
static json_t *get_workflow_report(struct api_req *r, const char *by)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__WorkflowReportReq q = AF__WORKFLOW_REPORT_REQ__INIT;
	Af__Response *resp;
	char list[256], *keys[4];
	json_t *doc;

	snprintf(list, sizeof(list), "%s", by ? by : "tenant");
	if ((q.n_by = af_render_split_by(list, keys, 3)) > 3)
		return fail(r, 400, "INVALID", "by", "by: at most 3 keys");
	q.by = keys;
	if (date_param(r, "since", &q.since_ms) != 0 ||
	    date_param(r, "until", &q.until_ms) != 0)
		return NULL;
	req.body_case = AF__REQUEST__BODY_WORKFLOW_REPORT;
	req.workflow_report = &q;
	if (read_one(r, &req, &resp) != 0)
		return NULL;
	doc = af_render_workflow_report(resp->workflow_report, keys, q.n_by);
	af__response__free_unpacked(resp, NULL);
	return doc;
}

static json_t *get_report(struct api_req *r)
{
	static const char *const names[] = {"by", "since", "until", "unit",
					    NULL};
	Af__Request req = AF__REQUEST__INIT;
	Af__ShowbackReq q = AF__SHOWBACK_REQ__INIT;
	Af__Response *resp;
	const char *by = param(r, "by");
	json_t *doc;

	if (check_params(r, names) != 0)
		return NULL;
	const char *unit = param(r, "unit");

	if (unit != NULL && strcmp(unit, "workflow") == 0)
		return get_workflow_report(r, by);
	if (unit != NULL && strcmp(unit, "hop") != 0)
		return fail(r, 400, "INVALID", "unit",
			    "unit: hop (the default) or workflow");
	q.by = (char *)(by ? by : "tenant");
	if (date_param(r, "since", &q.since_ms) != 0 ||
	    date_param(r, "until", &q.until_ms) != 0)
		return NULL;
	req.body_case = AF__REQUEST__BODY_SHOWBACK;
	req.showback = &q;
	if (read_one(r, &req, &resp) != 0)
		return NULL;
	doc = af_render_showback(resp->showback, q.by);
	af__response__free_unpacked(resp, NULL);
	return doc;
}

/* ------------------------------------------------------------- cluster */

struct cluster_probe {
	Af__Response *resp[AF_MAX_NODES]; /* owned */
	char urls[AF_MAX_NODES][AF_ADDR_MAX + 16];
	struct af_render_probe rp[AF_MAX_NODES];
	Af__Response *members; /* owned */
	unsigned n;
};

/* Every node of the cluster file, for its own status, as af cluster
 * status asks them. -1 when a node refused the token. */
static int probe_nodes(struct api_req *r, struct cluster_probe *p)
{
	const struct af_cluster_cfg *cfg = r->n->cfg;
	int denied = -1;

	p->n = cfg->n_nodes;
	for (unsigned i = 0; i < p->n; i++) {
		Af__Request req = AF__REQUEST__INIT;
		Af__ClusterStatusReq cs = AF__CLUSTER_STATUS_REQ__INIT;
		Af__Response *resp = NULL;

		req.body_case = AF__REQUEST__BODY_CLUSTER_STATUS;
		req.cluster_status = &cs;
		req.token = (char *)r->token;
		af_cluster_url(cfg, cfg->nodes[i].api, p->urls[i],
			       sizeof(p->urls[i]));
		p->rp[i].endpoint = p->urls[i];
		p->rp[i].cfg_id = cfg->nodes[i].id;
		if (controld_http_node(r->n, cfg->nodes[i].id, &req,
				       CONTROLD_HTTP_PROBE_MS, &resp) != 0)
			continue;
		p->resp[i] = resp;
		if (resp->status && resp->status->code != AF__CODE__OK) {
			if (resp->status->code == AF__CODE__PERMISSION_DENIED &&
			    denied < 0)
				denied = (int)i;
			continue;
		}
		if (resp->cluster_status)
			p->rp[i].ns = resp->cluster_status->node;
	}
	if (denied >= 0) {
		fail_status(r, p->resp[denied]->status);
		return -1;
	}
	return 0;
}

/* The Raft configuration from the leader first, else any node that
 * answered (its own view: a stale read, as af does). */
static const Af__MemberListResp *members_of(struct api_req *r,
					    struct cluster_probe *p, int leader)
{
	for (int k = -1; k < (int)p->n; k++) {
		/* the leader first (k = -1), then every other node */
		int at = k < 0 ? leader : k;
		Af__Request req = AF__REQUEST__INIT;
		Af__MemberListReq mr = AF__MEMBER_LIST_REQ__INIT;
		Af__Response *resp = NULL;

		if (at < 0 || (k >= 0 && k == leader) || p->rp[at].ns == NULL)
			continue;
		req.body_case = AF__REQUEST__BODY_MEMBER_LIST;
		req.member_list = &mr;
		req.read_mode = AF__READ_MODE__STALE;
		req.token = (char *)r->token;
		if (controld_http_node(r->n, p->rp[at].cfg_id, &req,
				       CONTROLD_HTTP_PROBE_MS, &resp) != 0)
			continue;
		if ((resp->status == NULL ||
		     resp->status->code == AF__CODE__OK) &&
		    resp->member_list != NULL) {
			p->members = resp;
			return resp->member_list;
		}
		af__response__free_unpacked(resp, NULL);
	}
	return NULL;
}

static json_t *get_cluster(struct api_req *r)
{
	struct cluster_probe *p = af_calloc(1, sizeof(*p));
	const Af__MemberListResp *ml;
	json_t *doc = NULL;
	int leader;

	if (p == NULL)
		return fail(r, 500, "INTERNAL", NULL, "out of memory");
	if (no_params(r) == 0 && probe_nodes(r, p) == 0) {
		leader = af_render_leader_of(p->rp, p->n);
		ml = members_of(r, p, leader);
		doc = af_render_cluster(
			p->rp, p->n, ml, leader >= 0 ? p->rp[leader].ns->id : 0,
			r->n->cfg->auth ? "tokens"
					: "disabled: every caller is admin");
	}
	for (unsigned i = 0; i < p->n; i++)
		if (p->resp[i])
			af__response__free_unpacked(p->resp[i], NULL);
	if (p->members)
		af__response__free_unpacked(p->members, NULL);
	af_free(p);
	return doc;
}

/* ------------------------------------------------------------ dispatch */

struct resource {
	const char *path; /* exact, or a prefix when it ends in '/' */
	json_t *(*get)(struct api_req *r);
};

static const struct resource resources[] = {
	{"/cluster", get_cluster},
	{"/policy/history", get_page},
	{"/policy/revisions/", get_revision},
	{"/rollout", get_state},
	{"/fleet", get_state},
	{"/budgets", get_state},
	{"/budgets/", get_budget},
	{"/quotas", get_state},
	{"/models", get_models},
	{"/report", get_report},
	{"/audit", get_page},
	{"/shadow", get_state},
	{"/emergency", get_state},
};

#define N_RESOURCES (sizeof(resources) / sizeof(resources[0]))

static json_t *index_doc(void)
{
	json_t *o = json_object(), *a = json_array();

	for (size_t i = 0; i < N_RESOURCES; i++) {
		char p[64];

		snprintf(p, sizeof(p), "/api/v1%s%s", resources[i].path,
			 resources[i].get == get_revision ? "REV"
			 : resources[i].get == get_budget ? "TENANT"
							  : "");
		json_array_append_new(a, json_string(p));
	}
	json_object_set_new(o, "resources", a);
	return o;
}

static const struct resource *find_resource(const char *url, const char **rest)
{
	for (size_t i = 0; i < N_RESOURCES; i++) {
		const char *p = resources[i].path;
		size_t len = strlen(p);

		if (p[len - 1] == '/' ? strncmp(url, p, len) == 0
				      : strcmp(url, p) == 0) {
			*rest = p[len - 1] == '/' ? url + len : p + 1;
			return &resources[i];
		}
	}
	return NULL;
}

/* The bearer token: "" without the header, NULL when the header is not
 * "Bearer TOKEN" with a bounded token. */
static const char *bearer(struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(
		c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

	if (h == NULL)
		return "";
	if (strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	if (*h == '\0' || strlen(h) > CONTROLD_HTTP_TOKEN_MAX ||
	    strpbrk(h, " \t") != NULL)
		return NULL;
	return h;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned code,
				 json_t *doc)
{
	static const char oom[] = "{\"error\":{\"code\":\"INTERNAL\","
				  "\"message\":\"out of memory\"}}\n";
	char *s = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
						JSON_REAL_PRECISION(12))
		      : NULL;
	enum MHD_Result ret;
	char *body;
	size_t len;

	json_decref(doc);
	if (s == NULL)
		return controld_http_send(c, 500, "application/json", oom,
					  sizeof(oom) - 1);
	len = strlen(s);
	if ((body = realloc(s, len + 2)) == NULL) { /* jansson's malloc */
		free(s);
		return MHD_NO;
	}
	body[len] = '\n'; /* as af prints it */
	ret = controld_http_send(c, code, "application/json", body, len + 1);
	free(body);
	return ret;
}

static json_t *error_doc(const struct api_req *r)
{
	json_t *o = json_object(), *e = json_object();

	json_object_set_new(e, "code", json_string(r->code));
	json_object_set_new(e, "message", json_string(r->msg));
	if (r->field)
		json_object_set_new(e, "field", json_string(r->field));
	json_object_set_new(o, "error", e);
	return o;
}

enum MHD_Result controld_http_api(struct controld_node *n,
				  struct MHD_Connection *c, const char *url)
{
	struct api_req r = {.n = n, .c = c};
	const struct resource *res;
	json_t *doc;

	if (strcmp(url, "") == 0 || strcmp(url, "/") == 0)
		return send_json(c, 200, index_doc());
	if ((res = find_resource(url, &r.rest)) == NULL) {
		fail(&r, 404, "NOT_FOUND", NULL,
		     "no resource %.128s; GET /api/v1/ lists them", url);
		return send_json(c, r.status, error_doc(&r));
	}
	if ((r.token = bearer(c)) == NULL) {
		fail(&r, 401, "UNAUTHENTICATED", NULL,
		     "the Authorization header must be \"Bearer TOKEN\" "
		     "(one token of at most %u bytes)",
		     CONTROLD_HTTP_TOKEN_MAX);
		return send_json(c, r.status, error_doc(&r));
	}
	/* Mutual TLS guards the NNG API; over HTTPS no client certificate
	 * is asked for, so without tokens anyone who reaches the port would
	 * read as admin. */
	if (n->cfg->tls && !n->cfg->auth) {
		fail(&r, 403, "PERMISSION_DENIED", NULL,
		     "this cluster has tls: but no auth: section, and the "
		     "HTTP API asks for no client certificate: add an auth: "
		     "tokens file to the cluster file to use /api/v1");
		return send_json(c, r.status, error_doc(&r));
	}
	/* Refused here, before the loop or any other node spends time. */
	if (!af_auth_known(n->auth, r.token)) {
		unauthenticated(&r);
		return send_json(c, r.status, error_doc(&r));
	}
	doc = res->get(&r);
	if (doc == NULL && r.status == 0)
		fail(&r, 500, "INTERNAL", NULL, "out of memory");
	if (doc == NULL)
		return send_json(c, r.status, error_doc(&r));
	return send_json(c, 200, doc);
}
