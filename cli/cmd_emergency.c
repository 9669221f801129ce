/* af emergency set | list | clear | sign: the big red switch
 * (docs/incidents.md). */
#include "cli/client.h"
#include "cli/output.h"
#include "common/alloc.h"
#include "common/file.h"
#include "common/hash.h"
#include "common/sign.h"
#include "common/timeutil.h"
#include "policy/override.h"
#include "render/render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage_fail(const char *msg)
{
	return af_cli_fail(AF_EXIT_USAGE, "USAGE", "%s", msg);
}

static int count_flag(const char *flag, const char *v, int64_t *ret)
{
	char *end;
	long long n;

	if (v == NULL)
		return 0;
	n = strtoll(v, &end, 10);
	if (end == v || *end != '\0' || n < 0 || n > AF_OVERRIDE_COUNT_MAX)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "%s takes a whole number from 0 to %d, not "
				   "\"%s\"",
				   flag, AF_OVERRIDE_COUNT_MAX, v);
	*ret = n;
	return 0;
}

enum {
	F_TENANT,
	F_CLASS,
	F_FANOUT,
	F_TOOLS,
	F_COST,
	F_TIER,
	F_LANE,
	F_FREEZE,
	F_TTL,
	F_MSG,
	F_N
};

/* Fills o from the flags; 0 or an exit code (printed). */
static int override_of(const char *const *v, struct af_override *o)
{
	struct af_err err = {{0}};
	int rc;

	memset(o, 0, sizeof(*o));
	if ((v[F_TENANT] && strlen(v[F_TENANT]) > AF_OVERRIDE_NAME_MAX) ||
	    (v[F_CLASS] && strlen(v[F_CLASS]) > AF_OVERRIDE_NAME_MAX) ||
	    (v[F_TIER] && strlen(v[F_TIER]) > AF_OVERRIDE_NAME_MAX) ||
	    (v[F_LANE] && strlen(v[F_LANE]) > AF_OVERRIDE_NAME_MAX))
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "names in an override are at most %d bytes",
				   AF_OVERRIDE_NAME_MAX);
	snprintf(o->tenant, sizeof(o->tenant), "%s",
		 v[F_TENANT] ? v[F_TENANT] : "");
	snprintf(o->cls, sizeof(o->cls), "%s", v[F_CLASS] ? v[F_CLASS] : "");
	if ((rc = count_flag("--max-fanout", v[F_FANOUT], &o->max_fanout)) !=
		    0 ||
	    (rc = count_flag("--max-tool-calls", v[F_TOOLS],
			     &o->max_tool_calls)) != 0 ||
	    (v[F_COST] && (rc = af_cli_parse_usd("--max-cost-usd", v[F_COST],
						 &o->max_cost_micro)) != 0))
		return rc;
	o->effects = (v[F_FANOUT] ? AF_OV_MAX_FANOUT : 0) |
		     (v[F_TOOLS] ? AF_OV_MAX_TOOL_CALLS : 0) |
		     (v[F_COST] ? AF_OV_MAX_COST : 0) |
		     (v[F_TIER] ? AF_OV_DENY_TIER : 0) |
		     (v[F_LANE] ? AF_OV_DRAIN_LANE : 0) |
		     (v[F_FREEZE] ? AF_OV_FREEZE_TENANT : 0);
	snprintf(o->deny_tier, sizeof(o->deny_tier), "%s",
		 v[F_TIER] ? v[F_TIER] : "");
	snprintf(o->drain_lane, sizeof(o->drain_lane), "%s",
		 v[F_LANE] ? v[F_LANE] : "");
	if (af_override_check(o, &err) != 0)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE", "%s", err.msg);
	return 0;
}

int af_cli_emergency_set(struct af_cli *cli, int argc, char **argv)
{
	static const char *const names[] = {"--tenant",
					    "--class",
					    "--max-fanout",
					    "--max-tool-calls",
					    "--max-cost-usd",
					    "--deny-tier",
					    "--drain-lane",
					    "--freeze-tenant!",
					    "--ttl",
					    "-m",
					    NULL};
	const char *v[F_N] = {NULL};
	Af__Command cmd = AF__COMMAND__INIT;
	Af__EmergencySet es = AF__EMERGENCY_SET__INIT;
	Af__Override m;
	Af__Response *resp;
	struct af_override o;
	uint64_t ttl;
	char id[40], t[32];
	int npos, rc;

	if ((rc = af_cli_flags(argc, argv, names, v, &npos, NULL, 0)) != 0)
		return rc;
	if (v[F_TTL] == NULL || v[F_MSG] == NULL)
		return usage_fail("emergency set needs --ttl D (e.g. 30m) and "
				  "-m REASON: every override expires and says "
				  "why");
	if (af_parse_duration_ms(v[F_TTL], &ttl) != 0 || ttl < 1000 ||
	    ttl > (uint64_t)AF_OVERRIDE_TTL_MAX_MS)
		return usage_fail("--ttl takes a duration from 1s to 7d, such "
				  "as 90s, 30m or 2h");
	if (v[F_MSG][0] == '\0' || strlen(v[F_MSG]) > AF_OVERRIDE_REASON_MAX)
		return usage_fail("-m REASON: 1 to 200 bytes");
	if ((rc = override_of(v, &o)) != 0)
		return rc;
	af_override_to_pb(&o, &m);
	m.reason = (char *)v[F_MSG];
	es.override = &m;
	es.ttl_ms = (int64_t)ttl;
	cmd.op_case = AF__COMMAND__OP_EMERGENCY_SET;
	cmd.emergency_set = &es;
	if ((rc = af_cli_propose(cli, &cmd, &resp)) != 0)
		return rc;
	snprintf(id, sizeof(id), "ov-%llu",
		 (unsigned long long)resp->apply->index);
	if (cli->output != AF_OUT_TABLE) {
		json_t *j = af_out_ok();

		json_object_set_new(j, "id", json_string(id));
		json_object_set_new(j, "message",
				    json_string(resp->status->message));
		af__response__free_unpacked(resp, NULL);
		return af_out_json(j);
	}
	printf("%s\n", id);
	(void)t;
	af__response__free_unpacked(resp, NULL);
	return 0;
}

/* The effect as one short line: "max_fanout=2 deny_tier=frontier". */
static void effect_text(const json_t *effect, char *out, size_t len)
{
	const char *k;
	json_t *v;
	size_t n = 0;

	out[0] = '\0';
	json_object_foreach((json_t *)effect, k, v)
	{
		char *s = json_dumps(v, JSON_ENCODE_ANY);

		if (s != NULL && n < len)
			n += (size_t)snprintf(out + n, len - n, "%s%s=%s",
					      n ? " " : "", k, s);
		free(s);
	}
}

int af_cli_emergency_list(struct af_cli *cli, int argc, char **argv)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__EmergencyListReq el = AF__EMERGENCY_LIST_REQ__INIT;
	Af__Response *resp;
	json_t *arr;
	int rc;

	if (argc != 1)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "emergency list: unexpected \"%s\"",
				   argv[1]);
	req.body_case = AF__REQUEST__BODY_EMERGENCY_LIST;
	req.emergency_list = &el;
	if ((rc = af_cli_request(cli, &req, &resp)) != 0)
		return rc;
	arr = af_render_emergency(resp->emergency_list);
	af__response__free_unpacked(resp, NULL);
	if (cli->output != AF_OUT_TABLE)
		return af_out_json(arr);
	if (json_array_size(arr) == 0)
		printf("no emergency overrides in force\n");
	else
		printf("%-10s %-24s %-36s %-20s %s\n", "ID", "SCOPE", "EFFECT",
		       "EXPIRES", "REASON");
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *o = json_array_get(arr, i);
		json_t *sc = json_object_get(o, "scope");
		const char *tn =
			json_string_value(json_object_get(sc, "tenant"));
		const char *cl =
			json_string_value(json_object_get(sc, "class"));
		char scope[160], eff[256];

		snprintf(scope, sizeof(scope), "tenant=%s class=%s",
			 tn && tn[0] ? tn : "*", cl && cl[0] ? cl : "*");
		effect_text(json_object_get(o, "effect"), eff, sizeof(eff));
		printf("%-10s %-24s %-36s %-20s %s (%s)\n",
		       json_string_value(json_object_get(o, "id")), scope, eff,
		       json_string_value(json_object_get(o, "expires")),
		       json_string_value(json_object_get(o, "reason")),
		       json_string_value(json_object_get(o, "principal")));
	}
	json_decref(arr);
	return 0;
}

int af_cli_emergency_clear(struct af_cli *cli, int argc, char **argv)
{
	static const char *const names[] = {"--all!", NULL};
	const char *v[1] = {NULL};
	Af__Command cmd = AF__COMMAND__INIT;
	Af__EmergencyClear ec = AF__EMERGENCY_CLEAR__INIT;
	Af__Response *resp;
	char *pos[1];
	int npos, rc;

	if ((rc = af_cli_flags(argc, argv, names, v, &npos, pos, 1)) != 0)
		return rc;
	if ((npos == 1) == (v[0] != NULL))
		return usage_fail("usage: af emergency clear ID | --all");
	ec.all = v[0] != NULL;
	ec.id = npos == 1 ? pos[0] : (char *)"";
	cmd.op_case = AF__COMMAND__OP_EMERGENCY_CLEAR;
	cmd.emergency_clear = &ec;
	if ((rc = af_cli_propose(cli, &cmd, &resp)) != 0)
		return rc;
	if (cli->output != AF_OUT_TABLE) {
		json_t *j = af_out_ok();

		json_object_set_new(j, "message",
				    json_string(resp->status->message));
		af__response__free_unpacked(resp, NULL);
		return af_out_json(j);
	}
	printf("%s\n", resp->status->message);
	af__response__free_unpacked(resp, NULL);
	return 0;
}

/* Writes FILE.sig for routerd --override-file when signing is on. */
int af_cli_emergency_sign(struct af_cli *cli, int argc, char **argv)
{
	static const char *const names[] = {"-f", "--key", NULL};
	const char *v[2] = {NULL};
	struct af_override_set set;
	struct af_err err = {{0}};
	char hash[AF_HASH_STR_LEN], line[256], path[4200], *buf;
	size_t len;
	int npos, rc;

	if ((rc = af_cli_flags(argc, argv, names, v, &npos, NULL, 0)) != 0)
		return rc;
	if (v[0] == NULL || v[1] == NULL)
		return usage_fail("usage: af emergency sign -f FILE --key KEY");
	if (af_read_file(v[0], 64 * 1024, &buf, &len, &err) != 0)
		return af_cli_fail(AF_EXIT_USAGE, "IO", "%s", err.msg);
	rc = af_override_parse_json(v[0], buf, len, &set, &err);
	af_sha256_str(buf, len, hash);
	af_free(buf);
	if (rc != 0)
		return af_cli_fail(AF_EXIT_USAGE, "INVALID", "%s", err.msg);
	if (af_sign_bundle(v[1], "af-emergency-override", hash,
			   (uint64_t)af_wall_ms(), line, sizeof(line),
			   &err) != 0)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE", "%s", err.msg);
	snprintf(path, sizeof(path), "%s.sig", v[0]);
	if (af_write_file_atomic(path, line, strlen(line), &err) != 0)
		return af_cli_fail(AF_EXIT_USAGE, "IO", "%s", err.msg);
	if (cli->output != AF_OUT_TABLE) {
		json_t *j = af_out_ok();

		json_object_set_new(j, "file", json_string(v[0]));
		json_object_set_new(j, "hash", json_string(hash));
		json_object_set_new(j, "signature", json_string(path));
		return af_out_json(j);
	}
	printf("signed %s %s: %s\n", v[0], hash, path);
	return 0;
}
