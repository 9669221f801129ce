/* af cluster status | transfer-leader | add | remove, af snapshot save,
 * af audit. */
#include "cli/client.h"
#include "cli/output.h"
#include "common/file.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses "--flag VALUE" pairs of a verb; unknown flags are usage errors.
 * Returns 0 or an exit code (printed). */
int af_cli_flags(int argc, char **argv, const char *const names[],
		 const char *values[], int *ret_pos, char **pos, int max_pos)
{
	int npos = 0;

	for (int i = 1; i < argc; i++) {
		int k = -1;

		for (int j = 0; names[j] != NULL; j++)
			if (strcmp(argv[i], names[j]) == 0)
				k = j;
		if (k < 0 && argv[i][0] == '-' && argv[i][1] != '\0')
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "%s: unknown flag %s", argv[0],
					   argv[i]);
		if (k < 0) {
			if (npos >= max_pos)
				return af_cli_fail(AF_EXIT_USAGE, "USAGE",
						   "%s: unexpected argument "
						   "\"%s\"",
						   argv[0], argv[i]);
			pos[npos++] = argv[i];
			continue;
		}
		if (names[k][strlen(names[k]) - 1] == '!') {
			values[k] = "true";
			continue;
		}
		if (i + 1 >= argc)
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "%s needs a value", argv[i]);
		values[k] = argv[++i];
	}
	*ret_pos = npos;
	return 0;
}

static int parse_id(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v == 0 || v > 65535)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "node id must be 1..65535, got \"%s\"", s);
	*ret = v;
	return 0;
}

int af_cli_cluster_status(struct af_cli *cli, int argc, char **argv)
{
	struct af_client c;
	json_t *doc, *nodes;
	uint64_t leader = 0, leader_term = 0;
	int rc;

	if (argc > 1)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "cluster status: unexpected \"%s\"",
				   argv[1]);
	if ((rc = af_client_open(&c, cli)) != 0)
		return rc;
	if (cli->timeout_ms > 2000)
		cli->timeout_ms = 2000; /* per node: one slow node must not
					   hold the whole report */
	nodes = json_array();
	for (unsigned i = 0; i < c.n_endpoints; i++) {
		Af__Request req = AF__REQUEST__INIT;
		Af__ClusterStatusReq cs = AF__CLUSTER_STATUS_REQ__INIT;
		Af__Response *resp = NULL;
		json_t *o = json_object();
		uint64_t id = i < c.cfg.n_nodes ? c.cfg.nodes[i].id : i + 1;

		req.body_case = AF__REQUEST__BODY_CLUSTER_STATUS;
		req.cluster_status = &cs;
		c.quiet = true;
		rc = af_client_call(&c, &req, (int)i, &resp);
		if (rc == 0 && resp->cluster_status &&
		    resp->cluster_status->node) {
			Af__NodeStatus *ns = resp->cluster_status->node;

			json_object_set_new(o, "id",
					    json_integer((json_int_t)ns->id));
			json_object_set_new(o, "role", json_string(ns->role));
			json_object_set_new(o, "term",
					    json_integer((json_int_t)ns->term));
			json_object_set_new(
				o, "applied_index",
				json_integer((json_int_t)ns->applied_index));
			json_object_set_new(
				o, "commit_index",
				json_integer((json_int_t)ns->commit_index));
			json_object_set_new(o, "endpoint",
					    json_string(c.endpoints[i]));
			if (strcmp(ns->role, "leader") == 0 &&
			    ns->term >= leader_term) {
				leader = ns->id;
				leader_term = ns->term;
			}
		} else {
			json_object_set_new(o, "id",
					    json_integer((json_int_t)id));
			json_object_set_new(o, "role",
					    json_string("unreachable"));
			json_object_set_new(o, "term", json_null());
			json_object_set_new(o, "applied_index", json_null());
			json_object_set_new(o, "commit_index", json_null());
			json_object_set_new(o, "endpoint",
					    json_string(c.endpoints[i]));
		}
		if (resp)
			af__response__free_unpacked(resp, NULL);
		json_array_append_new(nodes, o);
	}
	doc = json_object();
	json_object_set_new(doc, "leader",
			    leader ? json_integer((json_int_t)leader)
				   : json_null());
	json_object_set_new(
		doc, "auth",
		json_string(c.cfg.auth ? "tokens"
				       : "disabled: every caller is admin"));
	json_object_set_new(doc, "nodes", nodes);
	if (cli->output != AF_OUT_TABLE) {
		af_client_close(&c);
		return af_out_json(doc);
	}
	printf("%-4s %-12s %-6s %-8s %-8s %s\n", "ID", "ROLE", "TERM",
	       "APPLIED", "COMMIT", "ENDPOINT");
	for (size_t i = 0; i < json_array_size(nodes); i++) {
		json_t *o = json_array_get(nodes, i);
		char term[24] = "-", applied[24] = "-", commit[24] = "-";

		if (json_is_integer(json_object_get(o, "term"))) {
			snprintf(term, sizeof(term), "%lld",
				 (long long)json_integer_value(
					 json_object_get(o, "term")));
			snprintf(applied, sizeof(applied), "%lld",
				 (long long)json_integer_value(
					 json_object_get(o, "applied_index")));
			snprintf(commit, sizeof(commit), "%lld",
				 (long long)json_integer_value(
					 json_object_get(o, "commit_index")));
		}
		printf("%-4lld %-12s %-6s %-8s %-8s %s\n",
		       (long long)json_integer_value(json_object_get(o, "id")),
		       json_string_value(json_object_get(o, "role")), term,
		       applied, commit,
		       json_string_value(json_object_get(o, "endpoint")));
	}
	if (leader == 0)
		printf("no leader\n");
	if (!c.cfg.auth && cli->endpoints == NULL)
		printf("auth: disabled (every caller is admin)\n");
	json_decref(doc);
	af_client_close(&c);
	return leader ? AF_EXIT_OK : AF_EXIT_UNAVAILABLE;
}

/* Sends a request and reports a refused status. Returns an exit code;
 * on 0, *ret is the owned response. */
int af_cli_request(struct af_cli *cli, Af__Request *req, Af__Response **ret)
{
	struct af_client c;
	Af__Response *resp;
	int rc;

	if ((rc = af_client_open(&c, cli)) != 0)
		return rc;
	/* --stale: this node's own view (any role), like a follower read. */
	if (cli->stale && req->body_case != AF__REQUEST__BODY_PROPOSE)
		req->read_mode = AF__READ_MODE__STALE;
	rc = af_client_call(
		&c, req,
		cli->stale && req->body_case != AF__REQUEST__BODY_PROPOSE ? 0
									  : -1,
		&resp);
	af_client_close(&c);
	if (rc != 0)
		return rc;
	if (af_client_exit_code(resp->status) != 0) {
		rc = af_client_fail(resp);
		af__response__free_unpacked(resp, NULL);
		return rc;
	}
	*ret = resp;
	return 0;
}

int af_cli_propose(struct af_cli *cli, Af__Command *cmd, Af__Response **ret)
{
	Af__Request req = AF__REQUEST__INIT;

	req.body_case = AF__REQUEST__BODY_PROPOSE;
	req.propose = cmd;
	return af_cli_request(cli, &req, ret);
}

int af_cli_cluster_transfer(struct af_cli *cli, int argc, char **argv)
{
	static const char *const names[] = {"--to", NULL};
	const char *vals[1] = {NULL};
	Af__Request req = AF__REQUEST__INIT;
	Af__TransferLeaderReq tr = AF__TRANSFER_LEADER_REQ__INIT;
	Af__Response *resp;
	int npos, rc;

	if ((rc = af_cli_flags(argc, argv, names, vals, &npos, NULL, 0)) != 0)
		return rc;
	if (vals[0] && (rc = parse_id(vals[0], &tr.to)) != 0)
		return rc;
	req.body_case = AF__REQUEST__BODY_TRANSFER_LEADER;
	req.transfer_leader = &tr;
	if ((rc = af_cli_request(cli, &req, &resp)) != 0)
		return rc;
	printf("leadership transferred%s%s\n", vals[0] ? " to node " : "",
	       vals[0] ? vals[0] : "");
	af__response__free_unpacked(resp, NULL);
	return 0;
}

int af_cli_cluster_add(struct af_cli *cli, int argc, char **argv)
{
	static const char *const names[] = {"--raft", "--api", "--pub", NULL};
	const char *vals[3] = {NULL};
	char *pos[1];
	Af__Request req = AF__REQUEST__INIT;
	Af__MembershipReq m = AF__MEMBERSHIP_REQ__INIT;
	Af__Response *resp;
	int npos, rc;

	if ((rc = af_cli_flags(argc, argv, names, vals, &npos, pos, 1)) != 0)
		return rc;
	if (npos != 1 || vals[0] == NULL)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "usage: af cluster add ID --raft ADDR "
				   "--api URL --pub URL");
	if ((rc = parse_id(pos[0], &m.id)) != 0)
		return rc;
	m.raft = (char *)vals[0];
	m.api = (char *)(vals[1] ? vals[1] : "");
	m.pub = (char *)(vals[2] ? vals[2] : "");
	req.body_case = AF__REQUEST__BODY_MEMBERSHIP;
	req.membership = &m;
	if ((rc = af_cli_request(cli, &req, &resp)) != 0)
		return rc;
	printf("node %s added as a voter\n", pos[0]);
	af__response__free_unpacked(resp, NULL);
	return 0;
}

int af_cli_cluster_remove(struct af_cli *cli, int argc, char **argv)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__MembershipReq m = AF__MEMBERSHIP_REQ__INIT;
	Af__Response *resp;
	int rc;

	if (argc != 2)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "usage: af cluster remove ID");
	if ((rc = parse_id(argv[1], &m.id)) != 0)
		return rc;
	m.remove = 1;
	req.body_case = AF__REQUEST__BODY_MEMBERSHIP;
	req.membership = &m;
	if ((rc = af_cli_request(cli, &req, &resp)) != 0)
		return rc;
	printf("node %s removed\n", argv[1]);
	af__response__free_unpacked(resp, NULL);
	return 0;
}

int af_cli_snapshot_save(struct af_cli *cli, int argc, char **argv)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__SnapshotReq sr = AF__SNAPSHOT_REQ__INIT;
	Af__Response *resp;
	struct af_err err = {{0}};
	int rc;

	if (argc != 2)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "usage: af snapshot save FILE");
	req.body_case = AF__REQUEST__BODY_SNAPSHOT;
	req.snapshot = &sr;
	if ((rc = af_cli_request(cli, &req, &resp)) != 0)
		return rc;
	if (resp->snapshot == NULL ||
	    af_write_file_atomic(argv[1], resp->snapshot->data.data,
				 resp->snapshot->data.len, &err) != 0) {
		af__response__free_unpacked(resp, NULL);
		return af_cli_fail(AF_EXIT_REFUSED, "IO", "%s",
				   err.msg[0] ? err.msg : "empty snapshot");
	}
	if (cli->output == AF_OUT_JSON) {
		json_t *o = json_object();
		json_object_set_new(o, "file", json_string(argv[1]));
		json_object_set_new(
			o, "index",
			json_integer((json_int_t)resp->snapshot->index));
		json_object_set_new(
			o, "bytes",
			json_integer((json_int_t)resp->snapshot->data.len));
		af__response__free_unpacked(resp, NULL);
		return af_out_json(o);
	}
	printf("saved %s: %zu bytes at index %llu\n", argv[1],
	       resp->snapshot->data.len,
	       (unsigned long long)resp->snapshot->index);
	af__response__free_unpacked(resp, NULL);
	return 0;
}

int af_cli_audit(struct af_cli *cli, int argc, char **argv)
{
	static const char *const names[] = {"--limit", NULL};
	const char *vals[1] = {NULL};
	Af__Request req = AF__REQUEST__INIT;
	Af__AuditReq ar = AF__AUDIT_REQ__INIT;
	Af__Response *resp;
	json_t *arr;
	int npos, rc;

	if ((rc = af_cli_flags(argc, argv, names, vals, &npos, NULL, 0)) != 0)
		return rc;
	ar.limit = vals[0] ? (uint32_t)strtoul(vals[0], NULL, 10) : 100;
	req.body_case = AF__REQUEST__BODY_AUDIT;
	req.audit = &ar;
	if ((rc = af_cli_request(cli, &req, &resp)) != 0)
		return rc;
	arr = json_array();
	if (cli->output == AF_OUT_TABLE)
		printf("%-6s %-20s %-18s %-20s %-14s %s\n", "INDEX", "TIME",
		       "PRINCIPAL", "VERB", "OUTCOME", "TARGET");
	for (size_t i = 0; resp->audit && i < resp->audit->n_records; i++) {
		Af__AuditRecord *a = resp->audit->records[i];
		char t[32];
		json_t *o = json_object();

		json_object_set_new(o, "index",
				    json_integer((json_int_t)a->index));
		json_object_set_new(o, "time",
				    json_string(af_fmt_ms(a->time_ms, t)));
		json_object_set_new(o, "principal", json_string(a->principal));
		json_object_set_new(o, "verb", json_string(a->verb));
		json_object_set_new(o, "target", json_string(a->target));
		json_object_set_new(o, "outcome", json_string(a->outcome));
		json_object_set_new(o, "detail", json_string(a->detail));
		json_array_append_new(arr, o);
		if (cli->output == AF_OUT_TABLE)
			printf("%-6llu %-20s %-18s %-20s %-14s %s\n",
			       (unsigned long long)a->index, t, a->principal,
			       a->verb, a->outcome, a->target);
	}
	af__response__free_unpacked(resp, NULL);
	if (cli->output != AF_OUT_TABLE)
		return af_out_json(arr);
	json_decref(arr);
	return 0;
}
