/* af member list and af cluster status: members come from the Raft
 * configuration (as the leader knows it), each member's own view from its
 * API endpoint. */
#include "cli/client.h"
#include "cli/output.h"
#include "cli/watch.h"
#include "render/render.h"

#include <stdio.h>
#include <string.h>

int af_cli_member_list(struct af_cli *cli, int argc, char **argv)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__MemberListReq mr = AF__MEMBER_LIST_REQ__INIT;
	Af__Response *resp;
	Af__MemberListResp *ml;
	json_t *doc;
	int rc;

	if (argc > 1)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "member list: unexpected \"%s\"", argv[1]);
	req.body_case = AF__REQUEST__BODY_MEMBER_LIST;
	req.member_list = &mr;
	if ((rc = af_cli_request(cli, &req, &resp)) != 0)
		return rc;
	ml = resp->member_list;
	if (ml == NULL) {
		af__response__free_unpacked(resp, NULL);
		return af_cli_fail(AF_EXIT_REFUSED, "PROTOCOL",
				   "this controld does not list members "
				   "(upgrade it)");
	}
	doc = af_render_members(ml);
	if (cli->output != AF_OUT_TABLE) {
		af__response__free_unpacked(resp, NULL);
		return af_out_json(doc);
	}
	printf("%-4s %-24s %-8s %s\n", "ID", "RAFT", "ROLE", "LEADER");
	for (size_t i = 0; i < ml->n_members; i++) {
		const Af__Member *m = ml->members[i];

		printf("%-4llu %-24s %-8s %s\n", (unsigned long long)m->id,
		       m->raft, m->role, m->id == ml->leader_id ? "*" : "");
	}
	af__response__free_unpacked(resp, NULL);
	json_decref(doc);
	return 0;
}

/* ------------------------------------------------------ cluster status */

struct probe {
	Af__Response *resp; /* owned; NULL when the node did not answer */
	bool denied;
};

static const Af__NodeStatus *probe_node(const struct probe *p)
{
	if (p->resp == NULL || p->resp->cluster_status == NULL ||
	    af_client_exit_code(p->resp->status) != 0)
		return NULL;
	return p->resp->cluster_status->node;
}

/* The configuration from `node` (its own view: no leader needed), or NULL
 * (owned response in *ret_resp otherwise). */
static Af__MemberListResp *fetch_members(struct af_client *c, int node,
					 Af__Response **ret_resp)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__MemberListReq mr = AF__MEMBER_LIST_REQ__INIT;
	Af__Response *resp = NULL;

	*ret_resp = NULL;
	req.body_case = AF__REQUEST__BODY_MEMBER_LIST;
	req.member_list = &mr;
	req.read_mode = AF__READ_MODE__STALE;
	if (af_client_call(c, &req, node, &resp) != 0)
		return NULL;
	if (af_client_exit_code(resp->status) != 0 ||
	    resp->member_list == NULL) {
		af__response__free_unpacked(resp, NULL);
		return NULL;
	}
	*ret_resp = resp;
	return resp->member_list;
}

static void print_status(json_t *doc, bool no_leader, const char *auth)
{
	json_t *nodes = json_object_get(doc, "nodes");
	json_t *outside = json_object_get(doc, "not_members");

	printf("%-4s %-12s %-6s %-8s %-8s %s\n", "ID", "ROLE", "TERM",
	       "APPLIED", "COMMIT", "ENDPOINT");
	for (size_t i = 0; i < json_array_size(nodes); i++) {
		json_t *o = json_array_get(nodes, i);
		char t[24] = "-", a[24] = "-", m[24] = "-";
		json_t *ep = json_object_get(o, "endpoint");

		if (json_is_integer(json_object_get(o, "term"))) {
			snprintf(t, sizeof(t), "%lld",
				 (long long)json_integer_value(
					 json_object_get(o, "term")));
			snprintf(a, sizeof(a), "%lld",
				 (long long)json_integer_value(
					 json_object_get(o, "applied_index")));
			snprintf(m, sizeof(m), "%lld",
				 (long long)json_integer_value(
					 json_object_get(o, "commit_index")));
		}
		printf("%-4lld %-12s %-6s %-8s %-8s %s\n",
		       (long long)json_integer_value(json_object_get(o, "id")),
		       json_string_value(json_object_get(o, "role")), t, a, m,
		       json_is_string(ep) ? json_string_value(ep)
					  : "(not in the cluster file)");
	}
	for (size_t i = 0; i < json_array_size(outside); i++)
		printf("node %lld is in the cluster file but not a member of "
		       "the Raft configuration\n",
		       (long long)json_integer_value(
			       json_array_get(outside, i)));
	if (no_leader)
		printf("no leader\n");
	if (auth != NULL)
		printf("auth: %s\n", auth);
}

/* What each endpoint answered, for the document. */
static void probes_of(const struct af_client *c, const struct probe *p,
		      struct af_render_probe *rp)
{
	for (unsigned i = 0; i < c->n_endpoints; i++) {
		rp[i].endpoint = c->endpoints[i];
		rp[i].cfg_id = i < c->cfg.n_nodes ? c->cfg.nodes[i].id : 0;
		rp[i].ns = probe_node(&p[i]);
	}
}

static int cluster_status_once(struct af_cli *cli, void *arg)
{
	struct af_client c;
	struct probe p[AF_MAX_NODES] = {{0}};
	struct af_render_probe rp[AF_MAX_NODES];
	Af__Response *mresp = NULL;
	Af__MemberListResp *ml = NULL;
	const char *denied = NULL, *auth;
	uint64_t leader = 0;
	int leader_at, rc;
	json_t *doc;

	(void)arg;
	if ((rc = af_client_open(&c, cli)) != 0)
		return rc;
	if (cli->timeout_ms > 2000)
		cli->timeout_ms = 2000; /* per node: one slow node must not
					   hold the whole report */
	c.quiet = true;
	for (unsigned i = 0; i < c.n_endpoints && i < AF_MAX_NODES; i++) {
		Af__Request req = AF__REQUEST__INIT;
		Af__ClusterStatusReq cs = AF__CLUSTER_STATUS_REQ__INIT;

		req.body_case = AF__REQUEST__BODY_CLUSTER_STATUS;
		req.cluster_status = &cs;
		if (af_client_call(&c, &req, (int)i, &p[i].resp) != 0)
			p[i].resp = NULL;
		if (p[i].resp && p[i].resp->status &&
		    p[i].resp->status->code == AF__CODE__PERMISSION_DENIED &&
		    denied == NULL)
			denied = p[i].resp->status->message;
	}
	if (denied != NULL) {
		rc = af_cli_fail(AF_EXIT_REFUSED, "PERMISSION_DENIED", "%s",
				 denied);
		goto out;
	}
	probes_of(&c, p, rp);
	leader_at = af_render_leader_of(rp, c.n_endpoints);
	if (leader_at >= 0)
		leader = rp[leader_at].ns->id;
	for (unsigned i = 0; ml == NULL && i < c.n_endpoints; i++) {
		int at = leader_at >= 0 && i == 0 ? leader_at : (int)i;

		if (probe_node(&p[at]) != NULL)
			ml = fetch_members(&c, at, &mresp);
	}
	auth = c.cfg.auth	? "tokens"
	       : cli->endpoints ? "unknown (no cluster file)"
				: "disabled: every caller is admin";
	doc = af_render_cluster(rp, c.n_endpoints, ml, leader, auth);
	rc = leader ? AF_EXIT_OK : AF_EXIT_UNAVAILABLE;
	if (cli->output != AF_OUT_TABLE) {
		if (af_out_json(doc) != 0)
			rc = AF_EXIT_REFUSED;
	} else {
		print_status(doc, leader == 0, c.cfg.auth ? NULL : auth);
		json_decref(doc);
	}
out:
	if (mresp)
		af__response__free_unpacked(mresp, NULL);
	for (unsigned i = 0; i < AF_MAX_NODES; i++)
		if (p[i].resp)
			af__response__free_unpacked(p[i].resp, NULL);
	af_client_close(&c);
	return rc;
}

int af_cli_cluster_status(struct af_cli *cli, int argc, char **argv)
{
	return af_watch_verb(cli, argc, argv, "cluster status",
			     cluster_status_once);
}
