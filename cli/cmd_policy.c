/* af policy apply | get | history | rollback, and af model verbs. */
#include "cli/client.h"
#include "cli/output.h"
#include "common/alloc.h"
#include "common/file.h"
#include "policy/policy.h"
#include "proto/policy.pb-c.h"
#include "proto/alloc.h"
#include "render/render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SOURCE (16u * 1024 * 1024)

static int parse_u64(const char *s, uint64_t *ret)
{
	char *end;

	*ret = strtoull(s, &end, 10);
	if (*s == '\0' || *end != '\0' || *ret == 0)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "expected a revision number, got \"%s\"", s);
	return 0;
}

static int print_apply(struct af_cli *cli, Af__Response *resp)
{
	const Af__ApplyResult *ar = resp->apply;
	int rc = 0;

	if (ar == NULL)
		rc = af_cli_fail(AF_EXIT_REFUSED, "INTERNAL", "no result");
	else if (cli->output != AF_OUT_TABLE)
		rc = af_out_json(af_render_apply(ar));
	else if (ar->unchanged)
		printf("revision %llu %s %s (unchanged)\n",
		       (unsigned long long)ar->revision, ar->hash, ar->state);
	else
		printf("revision %llu %s %s\n",
		       (unsigned long long)ar->revision, ar->hash, ar->state);
	af__response__free_unpacked(resp, NULL);
	return rc;
}

/* The leader's answer to apply --dry-run: what would happen. A leader
 * that does not know the flag stored the revision: said loudly, exit 1. */
static int print_dry_run(struct af_cli *cli, Af__Response *resp)
{
	const Af__ApplyResult *ar = resp->apply;
	int rc = 0;

	if (ar == NULL) {
		rc = af_cli_fail(AF_EXIT_REFUSED, "INTERNAL", "no result");
	} else if (!ar->dry_run && ar->unchanged) {
		rc = af_cli_fail(AF_EXIT_REFUSED, "DRY_RUN_UNSUPPORTED",
				 "the leader does not support --dry-run; this "
				 "is the stable content (revision %llu), "
				 "nothing changed",
				 (unsigned long long)ar->revision);
	} else if (!ar->dry_run) {
		rc = af_cli_fail(AF_EXIT_REFUSED, "DRY_RUN_UNSUPPORTED",
				 "the leader does not support --dry-run and "
				 "stored revision %llu (%s); undo it with af "
				 "policy rollback, and upgrade controld",
				 (unsigned long long)ar->revision, ar->state);
	} else if (cli->output != AF_OUT_TABLE) {
		json_t *o = json_object(), *r = af_render_apply(ar);

		json_object_set_new(o, "dry_run", json_true());
		json_object_update(o, r);
		json_decref(r);
		json_object_del(o, "index");
		rc = af_out_json(o);
	} else if (ar->unchanged) {
		printf("dry run: unchanged (revision %llu %s %s); nothing "
		       "stored\n",
		       (unsigned long long)ar->revision, ar->hash, ar->state);
	} else {
		printf("dry run: would store revision %llu %s as %s; nothing "
		       "stored\n",
		       (unsigned long long)ar->revision, ar->hash, ar->state);
	}
	af__response__free_unpacked(resp, NULL);
	return rc;
}

int af_cli_read_bundle(const char *file, char **ret_src, size_t *ret_len,
		       struct af_bundle **ret_bundle)
{
	struct af_err err = {{0}};
	struct af_bundle *b;
	char *src;
	size_t len;

	if (af_read_file(file, MAX_SOURCE, &src, &len, &err) != 0)
		return af_cli_fail(AF_EXIT_USAGE, "IO", "%s", err.msg);
	/* Local validation first: errors name the real file and position.
	 * The cluster compiles again and trusts nothing we send. */
	if (af_bundle_compile(file, src, len, &b, &err) != 0) {
		af_free(src);
		return af_cli_fail(AF_EXIT_REFUSED, "INVALID", "%s", err.msg);
	}
	if (ret_bundle)
		*ret_bundle = b;
	else
		af_bundle_free(b);
	*ret_src = src;
	*ret_len = len;
	return 0;
}

/* --wait [--fleet PCT]: the apply's line, then the fleet's answer. */
static int apply_and_wait(struct af_cli *cli, Af__Response *resp,
			  const char *fleet)
{
	unsigned long pct = 100;
	json_t *doc = NULL;
	int rc;

	if (fleet != NULL) {
		char *end;

		pct = strtoul(fleet, &end, 10);
		if (*fleet == '\0' || *end != '\0' || pct < 1 || pct > 100) {
			af__response__free_unpacked(resp, NULL);
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "--fleet takes a percentage 1-100");
		}
	}
	if (resp->apply == NULL) {
		af__response__free_unpacked(resp, NULL);
		return af_cli_fail(AF_EXIT_REFUSED, "INTERNAL", "no result");
	}
	if (cli->output != AF_OUT_TABLE)
		doc = af_render_apply(resp->apply);
	else
		printf("revision %llu %s %s%s\n",
		       (unsigned long long)resp->apply->revision,
		       resp->apply->hash, resp->apply->state,
		       resp->apply->unchanged ? " (unchanged)" : "");
	fflush(stdout);
	rc = af_cli_apply_wait(cli, resp->apply, doc, (uint32_t)pct,
			       cli->timeout_ms);
	af__response__free_unpacked(resp, NULL);
	return rc;
}

int af_cli_propose_bundle(struct af_cli *cli, const char *file,
			  const char *sigpath, Af__PolicyApply *pa,
			  Af__Response **ret)
{
	Af__Command cmd = AF__COMMAND__INIT;
	uint8_t sig[64];
	char sig_id[17];
	char *src;
	size_t len;
	int rc;

	if ((rc = af_cli_read_bundle(file, &src, &len, NULL)) != 0)
		return rc;
	if ((rc = af_cli_attach_signature(file, sigpath, pa, sig, sig_id)) !=
	    0) {
		af_free(src);
		return rc;
	}
	pa->source.data = (uint8_t *)src;
	pa->source.len = len;
	cmd.op_case = AF__COMMAND__OP_POLICY_APPLY;
	cmd.policy_apply = pa;
	rc = af_cli_propose(cli, &cmd, ret);
	af_free(src);
	pa->source.data = NULL;
	pa->source.len = 0;
	return rc;
}

int af_cli_policy_apply(struct af_cli *cli, int argc, char **argv)
{
	static const char *const names[] = {
		"-f",	       "-m",	  "--canary", "--dry-run!",
		"--signature", "--wait!", "--fleet",  NULL};
	const char *vals[7] = {NULL};
	uint8_t sig[64];
	char sig_id[17];
	Af__Request req = AF__REQUEST__INIT;
	Af__Command cmd = AF__COMMAND__INIT;
	Af__PolicyApply pa = AF__POLICY_APPLY__INIT;
	struct af_bundle *b = NULL;
	Af__Response *resp;
	char *src;
	size_t len;
	int npos, rc;

	if ((rc = af_cli_flags(argc, argv, names, vals, &npos, NULL, 0)) != 0)
		return rc;
	if (vals[0] == NULL)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "usage: af policy apply -f FILE [-m MSG] "
				   "[--canary PCT] [--dry-run] [--wait "
				   "[--fleet PCT]]");
	if (vals[6] && !vals[5])
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "--fleet goes with --wait");
	if (vals[5] && vals[3])
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "--wait and --dry-run exclude each other");
	if (vals[2]) {
		char *end;
		unsigned long w = strtoul(vals[2], &end, 10);

		if (*end != '\0' || w < 1 || w > 100)
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "--canary takes 1-100");
		pa.canary_weight = (uint32_t)w;
	}
	if ((rc = af_cli_read_bundle(vals[0], &src, &len, &b)) != 0)
		return rc;
	af_bundle_free(b);
	if ((rc = af_cli_attach_signature(vals[0], vals[4], &pa, sig,
					  sig_id)) != 0) {
		af_free(src);
		return rc;
	}
	pa.source.data = (uint8_t *)src;
	pa.source.len = len;
	pa.message = (char *)(vals[1] ? vals[1] : "");
	cmd.op_case = AF__COMMAND__OP_POLICY_APPLY;
	cmd.policy_apply = &pa;
	req.body_case = AF__REQUEST__BODY_PROPOSE;
	req.propose = &cmd;
	req.dry_run = vals[3] != NULL;
	rc = af_cli_request(cli, &req, &resp);
	af_free(src);
	if (rc != 0)
		return rc;
	if (req.dry_run)
		return print_dry_run(cli, resp);
	return vals[5] ? apply_and_wait(cli, resp, vals[6])
		       : print_apply(cli, resp);
}

int af_cli_policy_rollback(struct af_cli *cli, int argc, char **argv)
{
	static const char *const names[] = {"--to", NULL};
	const char *vals[1] = {NULL};
	Af__Command cmd = AF__COMMAND__INIT;
	Af__PolicyRollback pr = AF__POLICY_ROLLBACK__INIT;
	Af__Response *resp;
	int npos, rc;

	if ((rc = af_cli_flags(argc, argv, names, vals, &npos, NULL, 0)) != 0)
		return rc;
	if (vals[0] && (rc = parse_u64(vals[0], &pr.to_revision)) != 0)
		return rc;
	cmd.op_case = AF__COMMAND__OP_POLICY_ROLLBACK;
	cmd.policy_rollback = &pr;
	if ((rc = af_cli_propose(cli, &cmd, &resp)) != 0)
		return rc;
	return print_apply(cli, resp);
}

int af_cli_policy_get(struct af_cli *cli, int argc, char **argv)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__PolicyGetReq pg = AF__POLICY_GET_REQ__INIT;
	Af__Response *resp;
	int rc;

	if (argc > 2)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "usage: af policy get [REV]");
	if (argc == 2 && (rc = parse_u64(argv[1], &pg.revision)) != 0)
		return rc;
	req.body_case = AF__REQUEST__BODY_POLICY_GET;
	req.policy_get = &pg;
	if ((rc = af_cli_request(cli, &req, &resp)) != 0)
		return rc;
	if (cli->output != AF_OUT_TABLE) {
		json_t *o = af_render_policy_get(resp->policy_get);

		af__response__free_unpacked(resp, NULL);
		return af_out_json(o);
	}
	fwrite(resp->policy_get->source.data, 1, resp->policy_get->source.len,
	       stdout);
	af__response__free_unpacked(resp, NULL);
	return 0;
}

int af_cli_policy_history(struct af_cli *cli, int argc, char **argv)
{
	static const char *const names[] = {"--limit", "--after", NULL};
	const char *vals[2] = {NULL};
	Af__Request req = AF__REQUEST__INIT;
	Af__PolicyHistoryReq ph = AF__POLICY_HISTORY_REQ__INIT;
	Af__Response *resp;
	uint64_t next;
	json_t *doc;
	int npos, rc;

	if ((rc = af_cli_flags(argc, argv, names, vals, &npos, NULL, 0)) != 0 ||
	    (rc = af_cli_page_flags(vals[0], vals[1], &ph.limit, &ph.after)) !=
		    0)
		return rc;
	req.body_case = AF__REQUEST__BODY_POLICY_HISTORY;
	req.policy_history = &ph;
	if ((rc = af_cli_request(cli, &req, &resp)) != 0)
		return rc;
	doc = af_render_history(resp->policy_history);
	if (cli->output == AF_OUT_TABLE)
		printf("%-4s %-20s %-11s %-12s %-20s %s\n", "REV", "HASH",
		       "STATE", "AUTHOR", "TIME", "MESSAGE");
	for (size_t i = 0; cli->output == AF_OUT_TABLE &&
			   i < resp->policy_history->n_revisions;
	     i++) {
		Af__Revision *r = resp->policy_history->revisions[i];
		char t[32];

		printf("%-4llu %-20.20s %-11s %-12s %-20s %s%s\n",
		       (unsigned long long)r->revision, r->hash, r->state,
		       r->author, af_fmt_ms(r->time_ms, t),
		       r->pruned ? "(bundle pruned) " : "", r->message);
	}
	next = resp->policy_history->next_after;
	af__response__free_unpacked(resp, NULL);
	return af_cli_page_print(cli, "policy history", doc, ph.limit, next);
}

/* ------------------------------------------------------------- models */

int af_cli_model_apply(struct af_cli *cli, int argc, char **argv)
{
	static const char *const names[] = {"-f", NULL};
	const char *vals[1] = {NULL};
	Af__Command cmd = AF__COMMAND__INIT;
	Af__ModelApply ma = AF__MODEL_APPLY__INIT;
	struct af_registry *r = NULL;
	struct af_err err = {{0}};
	Af__Response *resp;
	char *src;
	size_t len, n;
	int npos, rc;

	if ((rc = af_cli_flags(argc, argv, names, vals, &npos, NULL, 0)) != 0)
		return rc;
	if (vals[0] == NULL)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "usage: af model apply -f FILE");
	if (af_read_file(vals[0], MAX_SOURCE, &src, &len, &err) != 0)
		return af_cli_fail(AF_EXIT_USAGE, "IO", "%s", err.msg);
	if (af_registry_compile(vals[0], src, len, &r, &err) != 0) {
		af_free(src);
		return af_cli_fail(AF_EXIT_REFUSED, "INVALID", "%s", err.msg);
	}
	n = af_registry_nmodels(r);
	af_registry_free(r);
	ma.source.data = (uint8_t *)src;
	ma.source.len = len;
	cmd.op_case = AF__COMMAND__OP_MODEL_APPLY;
	cmd.model_apply = &ma;
	rc = af_cli_propose(cli, &cmd, &resp);
	af_free(src);
	if (rc != 0)
		return rc;
	if (cli->output != AF_OUT_TABLE) {
		json_t *o = json_object();
		json_object_set_new(
			o, "registry_revision",
			json_integer(
				(json_int_t)resp->apply->registry_revision));
		json_object_set_new(o, "models", json_integer((json_int_t)n));
		json_object_set_new(o, "unchanged",
				    json_boolean(resp->apply->unchanged));
		af__response__free_unpacked(resp, NULL);
		return af_out_json(o);
	}
	printf("registry revision %llu: %zu models %s\n",
	       (unsigned long long)resp->apply->registry_revision, n,
	       resp->apply->unchanged ? "unchanged" : "applied");
	af__response__free_unpacked(resp, NULL);
	return 0;
}

int af_cli_registry(struct af_cli *cli, Af__Policy__Registry **ret)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__ModelListReq ml = AF__MODEL_LIST_REQ__INIT;
	Af__Response *resp;
	int rc;

	req.body_case = AF__REQUEST__BODY_MODEL_LIST;
	req.model_list = &ml;
	if ((rc = af_cli_request(cli, &req, &resp)) != 0)
		return rc;
	*ret = af__policy__registry__unpack(&af_pb_allocator,
					    resp->model_list->compiled.len,
					    resp->model_list->compiled.data);
	af__response__free_unpacked(resp, NULL);
	if (*ret == NULL)
		return af_cli_fail(AF_EXIT_UNAVAILABLE, "PROTOCOL",
				   "registry does not decode");
	return 0;
}

static int model_list_or_get(struct af_cli *cli, const char *id)
{
	Af__Policy__Registry *reg;
	json_t *arr;
	int rc, found = 0;

	if ((rc = af_cli_registry(cli, &reg)) != 0)
		return rc;
	arr = json_array();
	for (size_t i = 0; i < reg->n_models; i++) {
		if (id && strcmp(reg->models[i]->id, id) != 0)
			continue;
		json_array_append_new(arr, af_render_model(reg->models[i]));
		found++;
	}
	if (id && !found) {
		af__policy__registry__free_unpacked(reg, NULL);
		json_decref(arr);
		return af_cli_fail(AF_EXIT_REFUSED, "NOT_FOUND",
				   "no model \"%s\"", id);
	}
	if (cli->output != AF_OUT_TABLE) {
		af__policy__registry__free_unpacked(reg, NULL);
		if (id) {
			json_t *one = json_incref(json_array_get(arr, 0));
			json_decref(arr);
			return af_out_json(one);
		}
		return af_out_json(arr);
	}
	printf("%-20s %-12s %-9s %-11s %-9s %-9s %s\n", "ID", "PROVIDER",
	       "TIER", "STATUS", "IN/1K", "OUT/1K", "REGIONS");
	for (size_t i = 0; i < reg->n_models; i++) {
		const Af__Policy__Model *m = reg->models[i];
		char a[32], b[32], regions[256] = "";

		if (id && strcmp(m->id, id) != 0)
			continue;
		for (size_t k = 0; k < m->n_regions; k++)
			snprintf(regions + strlen(regions),
				 sizeof(regions) - strlen(regions), "%s%s",
				 k ? "," : "", m->regions[k]);
		printf("%-20s %-12s %-9s %-11s %-9s %-9s %s\n", m->id,
		       m->provider, m->tier, af_render_model_status(m->status),
		       af_fmt_micro(m->micro_usd_per_1k_input, a),
		       af_fmt_micro(m->micro_usd_per_1k_output, b), regions);
	}
	af__policy__registry__free_unpacked(reg, NULL);
	json_decref(arr);
	return 0;
}

int af_cli_model_list(struct af_cli *cli, int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "usage: af model list");
	return model_list_or_get(cli, NULL);
}

int af_cli_model_get(struct af_cli *cli, int argc, char **argv)
{
	if (argc != 2)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "usage: af model get ID");
	return model_list_or_get(cli, argv[1]);
}

/* disable | enable | deprecate | delete ID */
int af_cli_model_status(struct af_cli *cli, int argc, char **argv)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__ModelSetStatus ms = AF__MODEL_SET_STATUS__INIT;
	Af__ModelDelete md = AF__MODEL_DELETE__INIT;
	Af__Response *resp;
	const char *verb = argv[0];
	int rc;

	if (argc != 2)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "usage: af model %s ID", verb);
	if (strcmp(verb, "delete") == 0) {
		md.id = argv[1];
		cmd.op_case = AF__COMMAND__OP_MODEL_DELETE;
		cmd.model_delete = &md;
	} else {
		ms.id = argv[1];
		ms.status =
			(char *)(strcmp(verb, "enable") == 0	? "active"
				 : strcmp(verb, "disable") == 0 ? "disabled"
								: "deprecated");
		cmd.op_case = AF__COMMAND__OP_MODEL_SET_STATUS;
		cmd.model_set_status = &ms;
	}
	if ((rc = af_cli_propose(cli, &cmd, &resp)) != 0)
		return rc;
	if (cli->output != AF_OUT_TABLE) {
		json_t *o = af_out_ok();

		json_object_set_new(o, "id", json_string(argv[1]));
		if (cmd.op_case == AF__COMMAND__OP_MODEL_DELETE)
			json_object_set_new(o, "deleted", json_true());
		else
			json_object_set_new(o, "status",
					    json_string(ms.status));
		json_object_set_new(
			o, "registry_revision",
			json_integer(
				(json_int_t)resp->apply->registry_revision));
		json_object_set_new(
			o, "message",
			json_string(resp->status ? resp->status->message : ""));
		af__response__free_unpacked(resp, NULL);
		return af_out_json(o);
	}
	printf("model %s: %s (registry revision %llu)\n", argv[1],
	       resp->status ? resp->status->message : "ok",
	       (unsigned long long)resp->apply->registry_revision);
	af__response__free_unpacked(resp, NULL);
	return 0;
}
