/* af cluster transfer-leader | add | remove, af snapshot save, af audit
 * (cluster status and member list: cli/members.c). */
#include "cli/client.h"
#include "cli/output.h"
#include "common/file.h"
#include "render/render.h"

#include <errno.h>
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

		for (int j = 0; names[j] != NULL; j++) {
			size_t n = strlen(names[j]);

			if (names[j][n - 1] == '!') /* a switch: no value */
				n--;
			if (strncmp(argv[i], names[j], n) == 0 &&
			    argv[i][n] == '\0')
				k = j;
		}
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
	if (cli->output != AF_OUT_TABLE) {
		json_t *o = af_out_ok();

		json_object_set_new(o, "transferred", json_true());
		json_object_set_new(o, "to",
				    tr.to ? json_integer((json_int_t)tr.to)
					  : json_null());
		af__response__free_unpacked(resp, NULL);
		return af_out_json(o);
	}
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
	if (cli->output != AF_OUT_TABLE) {
		json_t *o = af_out_ok();

		json_object_set_new(o, "id", json_integer((json_int_t)m.id));
		json_object_set_new(o, "added", json_true());
		json_object_set_new(o, "raft", json_string(m.raft));
		af__response__free_unpacked(resp, NULL);
		return af_out_json(o);
	}
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
	if (cli->output != AF_OUT_TABLE) {
		json_t *o = af_out_ok();

		json_object_set_new(o, "id", json_integer((json_int_t)m.id));
		json_object_set_new(o, "removed", json_true());
		af__response__free_unpacked(resp, NULL);
		return af_out_json(o);
	}
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
	if (cli->output != AF_OUT_TABLE) {
		json_t *o = af_out_ok();
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

int af_cli_page_flags(const char *limit, const char *after, uint32_t *ret_limit,
		      uint64_t *ret_after)
{
	char why[192];

	if (af_render_parse_page("--limit", limit, "--after", after, ret_limit,
				 ret_after, why, sizeof(why)) != 0)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE", "%s", why);
	return 0;
}

int af_cli_page_print(struct af_cli *cli, const char *verb, json_t *doc,
		      uint32_t limit, uint64_t next_after)
{
	if (cli->output != AF_OUT_TABLE)
		return af_out_json(doc);
	json_decref(doc);
	if (next_after)
		printf("(more: af %s --limit %u --after %llu)\n", verb, limit,
		       (unsigned long long)next_after);
	return 0;
}

int af_cli_page_out(struct af_cli *cli, const char *verb, const char *field,
		    json_t *items, uint32_t limit, uint64_t next_after)
{
	return af_cli_page_print(cli, verb,
				 af_render_page(field, items, next_after),
				 limit, next_after);
}

int af_cli_audit(struct af_cli *cli, int argc, char **argv)
{
	static const char *const names[] = {"--limit", "--after", NULL};
	const char *vals[2] = {NULL};
	Af__Request req = AF__REQUEST__INIT;
	Af__AuditReq ar = AF__AUDIT_REQ__INIT;
	Af__Response *resp;
	uint64_t next;
	json_t *doc;
	int npos, rc;

	if ((rc = af_cli_flags(argc, argv, names, vals, &npos, NULL, 0)) != 0 ||
	    (rc = af_cli_page_flags(vals[0], vals[1], &ar.limit, &ar.after)) !=
		    0)
		return rc;
	req.body_case = AF__REQUEST__BODY_AUDIT;
	req.audit = &ar;
	if ((rc = af_cli_request(cli, &req, &resp)) != 0)
		return rc;
	doc = af_render_audit(resp->audit);
	if (cli->output == AF_OUT_TABLE)
		printf("%-6s %-20s %-18s %-20s %-14s %s\n", "INDEX", "TIME",
		       "PRINCIPAL", "VERB", "OUTCOME", "TARGET");
	for (size_t i = 0; cli->output == AF_OUT_TABLE && resp->audit &&
			   i < resp->audit->n_records;
	     i++) {
		Af__AuditRecord *a = resp->audit->records[i];
		char t[32];

		printf("%-6llu %-20s %-18s %-20s %-14s %s\n",
		       (unsigned long long)a->index, af_fmt_ms(a->time_ms, t),
		       a->principal, a->verb, a->outcome, a->target);
	}
	next = resp->audit ? resp->audit->next_after : 0;
	af__response__free_unpacked(resp, NULL);
	return af_cli_page_print(cli, "audit", doc, ar.limit, next);
}
