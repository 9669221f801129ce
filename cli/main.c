/* af: the command-line client. Global flags, then a verb table. */
#include "cli/cli.h"
#include "common/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct verb {
	const char *group; /* NULL for single-word verbs */
	const char *name;
	int (*fn)(struct af_cli *cli, int argc, char **argv);
	const char *help;
};

static const struct verb verbs[] = {
	{"policy", "lint", af_cli_policy_lint,
	 "policy lint -f FILE            validate a bundle locally"},
	{NULL, "route", af_cli_route,
	 "route -f REQ.json --policy FILE --models FILE [--explain]"},
	{"cluster", "status", af_cli_cluster_status,
	 "cluster status                 every node's role, term, indexes"},
	{"cluster", "transfer-leader", af_cli_cluster_transfer,
	 "cluster transfer-leader [--to ID]"},
	{"cluster", "add", af_cli_cluster_add,
	 "cluster add ID --raft ADDR --api URL --pub URL"},
	{"cluster", "remove", af_cli_cluster_remove, "cluster remove ID"},
	{"snapshot", "save", af_cli_snapshot_save,
	 "snapshot save FILE             consistent backup"},
	{NULL, "audit", af_cli_audit, "audit [--limit N]"},
	{"fleet", "status", af_cli_fleet_status,
	 "fleet status                   every routerd: "
	 "SYNCED/STALE/NACKED/LOST"},
	{"policy", "apply", af_cli_policy_apply,
	 "policy apply -f FILE [-m MSG] [--canary PCT] [--dry-run] "
	 "[--signature F]"},
	{"policy", "sign", af_cli_policy_sign,
	 "policy sign -f FILE --key KEY [--serial N]   writes FILE.sig"},
	{NULL, "keygen", af_cli_keygen,
	 "keygen --out PREFIX             ed25519 "
	 "signing key"},
	{"policy", "get", af_cli_policy_get, "policy get [REV]"},
	{"policy", "history", af_cli_policy_history, "policy history"},
	{"policy", "diff", af_cli_policy_diff,
	 "policy diff REV [REV | -f FILE] canonical difference"},
	{"policy", "rollback", af_cli_policy_rollback,
	 "policy rollback [--to REV]"},
	{"canary", "start", af_cli_canary_start,
	 "canary start -f FILE [--weight PCT] [--steps 5,25,50] "
	 "[--interval 60s]\n"
	 "                [--max-error-delta D] [--max-latency-ratio R] "
	 "[--max-cost-ratio R] [--min-samples N]"},
	{"canary", "status", af_cli_canary_status, "canary status [--watch]"},
	{"canary", "set-weight", af_cli_canary_control,
	 "canary set-weight PCT"},
	{"canary", "promote", af_cli_canary_control, "canary promote [--full]"},
	{"canary", "abort", af_cli_canary_control, "canary abort"},
	{"canary", "pause", af_cli_canary_control, "canary pause"},
	{"canary", "resume", af_cli_canary_control, "canary resume"},
	{"budget", "set", af_cli_budget_set,
	 "budget set TENANT --hard USD [--soft USD] [--period day|month]"},
	{"budget", "list", af_cli_budget_list, "budget list"},
	{"budget", "get", af_cli_budget_get, "budget get TENANT"},
	{"budget", "delete", af_cli_budget_delete, "budget delete TENANT"},
	{NULL, "report", af_cli_report,
	 "report [--by tenant|class|model|revision] [--since DATE]"},
	{"model", "apply", af_cli_model_apply, "model apply -f FILE"},
	{"model", "list", af_cli_model_list, "model list"},
	{"model", "get", af_cli_model_get, "model get ID"},
	{"model", "disable", af_cli_model_status, "model disable ID"},
	{"model", "enable", af_cli_model_status, "model enable ID"},
	{"model", "deprecate", af_cli_model_status, "model deprecate ID"},
	{"model", "delete", af_cli_model_status, "model delete ID"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: af [-c FILE] [--endpoints URL,...] [--token T] "
		   "[-o table|json|yaml] [--timeout DUR] [--stale] VERB ...\n\n"
		   "verbs:\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(f, "  af %s\n", verbs[i].help);
}

static int parse_output(const char *s, enum af_cli_output *ret)
{
	if (strcmp(s, "table") == 0)
		*ret = AF_OUT_TABLE;
	else if (strcmp(s, "json") == 0)
		*ret = AF_OUT_JSON;
	else if (strcmp(s, "yaml") == 0)
		*ret = AF_OUT_YAML;
	else
		return -1;
	return 0;
}

/* Global flags may appear anywhere; they are removed from argv in place.
 * Returns the new argc or -1 on a usage error (already printed). */
static int take_globals(struct af_cli *cli, int argc, char **argv)
{
	int out = 0;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--stale") == 0) {
			cli->stale = true;
			continue;
		}
		if (strcmp(a, "-c") == 0 || strcmp(a, "--cluster") == 0 ||
		    strcmp(a, "--endpoints") == 0 ||
		    strcmp(a, "--token") == 0 || strcmp(a, "--timeout") == 0 ||
		    (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0)) {
			if (v == NULL) {
				af_cli_fail(AF_EXIT_USAGE, "USAGE",
					    "%s needs a value", a);
				return -1;
			}
			i++;
			if (a[1] == 'c' || strcmp(a, "--cluster") == 0)
				cli->cluster_file = v;
			else if (strcmp(a, "--endpoints") == 0)
				cli->endpoints = v;
			else if (strcmp(a, "--token") == 0)
				cli->token = v;
			else if (strcmp(a, "--timeout") == 0) {
				if (af_parse_duration_ms(v, &cli->timeout_ms) !=
					    0 ||
				    cli->timeout_ms == 0) {
					af_cli_fail(AF_EXIT_USAGE, "USAGE",
						    "bad --timeout \"%s\"", v);
					return -1;
				}
			} else if (parse_output(v, &cli->output) != 0) {
				af_cli_fail(AF_EXIT_USAGE, "USAGE",
					    "-o takes table, json or yaml");
				return -1;
			}
			continue;
		}
		argv[out++] = argv[i];
	}
	return out;
}

int main(int argc, char **argv)
{
	struct af_cli cli = {
		.cluster_file = getenv("AF_CLUSTER"),
		.token = getenv("AF_TOKEN"),
		.output = AF_OUT_TABLE,
		.timeout_ms = 10000,
	};
	int n;

	n = take_globals(&cli, argc - 1, argv + 1);
	if (n < 0)
		return AF_EXIT_USAGE;
	argv++;
	if (n == 0) {
		usage(stderr);
		return AF_EXIT_USAGE;
	}
	if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0 ||
	    strcmp(argv[0], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[0], "--version") == 0 ||
	    strcmp(argv[0], "version") == 0) {
		printf("af %s\n", AF_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		const struct verb *v = &verbs[i];

		if (v->group == NULL && strcmp(argv[0], v->name) == 0)
			return v->fn(&cli, n, argv);
		if (v->group != NULL && n >= 2 &&
		    strcmp(argv[0], v->group) == 0 &&
		    strcmp(argv[1], v->name) == 0)
			return v->fn(&cli, n - 1, argv + 1);
	}
	return af_cli_fail(AF_EXIT_USAGE, "USAGE",
			   "unknown verb \"%s\" (see af --help)", argv[0]);
}
