/* af shadow start | status [--watch] | stop: a candidate bundle evaluated
 * on live traffic by every routerd, never served. */
#include "cli/client.h"
#include "cli/output.h"
#include "cli/watch.h"
#include "common/alloc.h"
#include "common/timeutil.h"
#include "render/render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { F_FILE, F_SAMPLE, F_DURATION, F_MSG, F_SIG, F_N };

static int start_args(Af__PolicyApply *pa, const char *vals[])
{
	uint64_t ms;

	if (vals[F_SAMPLE]) {
		char *end;
		unsigned long p = strtoul(vals[F_SAMPLE], &end, 10);

		if (*vals[F_SAMPLE] == '\0' || *end != '\0' || p < 1 || p > 100)
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "--sample takes a percentage "
					   "1-100, got \"%s\"",
					   vals[F_SAMPLE]);
		pa->shadow_sample_pct = (uint32_t)p;
	}
	if (vals[F_DURATION]) {
		if (af_parse_duration_ms(vals[F_DURATION], &ms) != 0 || ms == 0)
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "--duration takes a duration like "
					   "30m or 2h, got \"%s\"",
					   vals[F_DURATION]);
		pa->shadow_duration_ms = ms;
	}
	pa->shadow = true;
	pa->message = (char *)(vals[F_MSG] ? vals[F_MSG] : "");
	return 0;
}

int af_cli_shadow_start(struct af_cli *cli, int argc, char **argv)
{
	static const char *const names[] = {"-f", "--sample",	 "--duration",
					    "-m", "--signature", NULL};
	const char *vals[F_N] = {NULL};
	Af__PolicyApply pa = AF__POLICY_APPLY__INIT;
	Af__Response *resp;
	int npos, rc;

	if ((rc = af_cli_flags(argc, argv, names, vals, &npos, NULL, 0)) != 0)
		return rc;
	if (vals[F_FILE] == NULL)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "usage: af shadow start -f FILE [--sample "
				   "PCT] [--duration D] [-m MSG]");
	if ((rc = start_args(&pa, vals)) != 0 ||
	    (rc = af_cli_propose_bundle(cli, vals[F_FILE], vals[F_SIG], &pa,
					&resp)) != 0)
		return rc;
	if (cli->output != AF_OUT_TABLE) {
		json_t *o = af_render_apply(resp->apply);

		af__response__free_unpacked(resp, NULL);
		return af_out_json(o);
	}
	printf("revision %llu %s %s\n",
	       (unsigned long long)resp->apply->revision, resp->apply->hash,
	       resp->status->message);
	af__response__free_unpacked(resp, NULL);
	return 0;
}

int af_cli_shadow_stop(struct af_cli *cli, int argc, char **argv)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__ShadowStop ss = AF__SHADOW_STOP__INIT;
	Af__Response *resp;
	int rc;

	(void)argv;
	if (argc != 1)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "usage: af shadow stop");
	cmd.op_case = AF__COMMAND__OP_SHADOW_STOP;
	cmd.shadow_stop = &ss;
	if ((rc = af_cli_propose(cli, &cmd, &resp)) != 0)
		return rc;
	if (cli->output != AF_OUT_TABLE) {
		json_t *o = af_render_apply(resp->apply);

		af__response__free_unpacked(resp, NULL);
		return af_out_json(o);
	}
	printf("revision %llu: %s\n", (unsigned long long)resp->apply->revision,
	       resp->status->message);
	af__response__free_unpacked(resp, NULL);
	return 0;
}

/* ------------------------------------------------------------- status */

static long long num(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static void print_row(const char *cls, json_t *c)
{
	json_t *ch = json_object_get(c, "changed");
	json_t *usd = json_object_get(c, "cost_usd");
	json_t *agree = json_object_get(c, "agreement_pct");
	char pct[16] = "-";

	if (json_is_real(agree))
		snprintf(pct, sizeof(pct), "%.2f%%", json_real_value(agree));
	printf("%-24.24s %8lld %8lld %8s %6lld %6lld %6lld %6lld %6lld %6lld "
	       "%12.6f %12.6f\n",
	       cls, num(c, "sampled"), num(c, "same"), pct, num(ch, "model"),
	       num(ch, "tier"), num(ch, "region"), num(ch, "route_to_deny"),
	       num(ch, "deny_to_route"), num(ch, "deny_code"),
	       json_real_value(json_object_get(usd, "stable")),
	       json_real_value(json_object_get(usd, "shadow")));
}

static void print_status(json_t *o)
{
	const char *state = json_string_value(json_object_get(o, "state"));
	json_t *exp = json_object_get(o, "expires");
	json_t *cls = json_object_get(o, "classes");
	size_t i;
	json_t *c;

	if (strcmp(state, "none") == 0) {
		printf("no shadow has been started (af shadow start -f "
		       "FILE)\n");
		return;
	}
	printf("shadow     revision %lld %.24s (%s)\n", num(o, "revision"),
	       json_string_value(json_object_get(o, "hash")), state);
	printf("sample     %lld%% of requests\nstarted    %s\n",
	       num(o, "sample_pct"),
	       json_string_value(json_object_get(o, "started")));
	if (json_is_string(exp))
		printf("expires    %s\n", json_string_value(exp));
	if (num(json_object_get(o, "total"), "dropped") > 0)
		printf("dropped    %lld decisions not shadowed (a routerd's "
		       "shadow queue was full)\n",
		       num(json_object_get(o, "total"), "dropped"));
	printf("\n%-24s %8s %8s %8s %6s %6s %6s %6s %6s %6s %12s %12s\n",
	       "CLASS", "SAMPLED", "SAME", "AGREE", "MODEL", "TIER", "REGION",
	       "R>DENY", "DENY>R", "CODE", "USD_STABLE", "USD_SHADOW");
	json_array_foreach(cls, i, c)
	{
		print_row(json_string_value(json_object_get(c, "class")), c);
	}
	print_row("(total)", json_object_get(o, "total"));
}

static int status_once(struct af_cli *cli, void *arg)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__ShadowStatusReq sr = AF__SHADOW_STATUS_REQ__INIT;
	Af__Response *resp;
	json_t *o;
	int rc;

	(void)arg;
	req.body_case = AF__REQUEST__BODY_SHADOW_STATUS;
	req.shadow_status = &sr;
	if ((rc = af_cli_request(cli, &req, &resp)) != 0)
		return rc;
	o = af_render_shadow(resp->shadow_status);
	af__response__free_unpacked(resp, NULL);
	if (o == NULL)
		return af_cli_fail(AF_EXIT_UNAVAILABLE, "INTERNAL",
				   "out of memory");
	if (cli->output != AF_OUT_TABLE)
		return af_out_json(o);
	print_status(o);
	json_decref(o);
	return 0;
}

int af_cli_shadow_status(struct af_cli *cli, int argc, char **argv)
{
	return af_watch_verb(cli, argc, argv, "shadow status", status_once);
}
