/* af: the command-line client. Global flags, then a verb table; every verb
 * and every group answers --help with its flags and an example. */
#include "cli/cli.h"
#include "cli/output.h"
#include "cli/replay.h"
#include "cli/watch.h"
#include "common/timeutil.h"
#include "common/token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct verb {
	const char *group; /* NULL for single-word verbs */
	const char *name;
	int (*fn)(struct af_cli *cli, int argc, char **argv);
	const char *usage;   /* synopsis after "af " */
	const char *summary; /* one line */
	const char *help;    /* flags and an example */
};

struct group {
	const char *name;
	const char *summary;
	const char *example;
};

static const struct group groups[] = {
	{"cluster", "the controld cluster: status, leadership, membership",
	 "af -c cluster.yaml cluster status"},
	{"member", "the members of the Raft configuration",
	 "af -c cluster.yaml member list -o json"},
	{"snapshot", "consistent backups of the replicated state",
	 "af -c cluster.yaml snapshot save backup.db"},
	{"policy",
	 "policy bundles: lint, apply, history, diff, rollback, sign, "
	 "simulate, test",
	 "af -c cluster.yaml policy apply -f policy.yaml -m \"first\""},
	{"canary", "canary rollouts of a policy revision",
	 "af -c cluster.yaml canary start -f policy.yaml --steps 5,25,50"},
	{"model", "the model registry",
	 "af -c cluster.yaml model apply -f models.yaml"},
	{"budget", "per-tenant spend budgets",
	 "af -c cluster.yaml budget set claims-team --hard 100"},
	{"quota", "fleet-wide quotas: the capacity leases routerds hold",
	 "af -c cluster.yaml quota status"},
	{"fleet", "the routerd sidecars the cluster has seen",
	 "af -c cluster.yaml fleet status"},
	{"backup", "scheduled backups (backup: in the cluster file)",
	 "af -c cluster.yaml backup list"},
	{"dr", "disaster-recovery drills against a live cluster",
	 "af -c cluster.yaml dr drill --routerd http://127.0.0.1:8080"},
	{"emergency", "the big red switch: overrides faster than a bundle",
	 "af -c cluster.yaml emergency set --max-fanout 2 --ttl 30m -m storm"},
};

static int completion(struct af_cli *cli, int argc, char **argv);

static const struct verb verbs[] = {
	{"cluster", "status", af_cli_cluster_status,
	 "cluster status [--watch [--watch-interval DUR] [--watch-count N]]",
	 "every member's role, term and indexes; the leader",
	 "Asks every member of the Raft configuration for its own view.\n"
	 "Exit 0 with a leader, 3 without one, 1 when a node refuses the\n"
	 "token (PERMISSION_DENIED). The exit code is the same for every -o.\n"
	 "With --watch: a terminal redraws, anything else gets each refresh\n"
	 "appended; Ctrl-C exits 0.\n" AF_WATCH_HELP
	 "example:\n  af -c cluster.yaml cluster status -o json\n"},
	{"cluster", "transfer-leader", af_cli_cluster_transfer,
	 "cluster transfer-leader [--to ID]", "move the leadership",
	 "  --to ID   the node to lead (default: any other voter)\n"
	 "example:\n  af -c cluster.yaml cluster transfer-leader --to 2\n"},
	{"cluster", "add", af_cli_cluster_add,
	 "cluster add ID --raft ADDR --api URL --pub URL",
	 "add a voter (start it with controld --join first)",
	 "  --raft ADDR  the new node's raft address (numeric host:port)\n"
	 "  --api URL    its API URL    --pub URL   its pub URL\n"
	 "example:\n  af -c cluster.yaml cluster add 4 --raft 127.0.0.1:7401 "
	 "--api tcp://127.0.0.1:7402 --pub tcp://127.0.0.1:7403\n"},
	{"cluster", "remove", af_cli_cluster_remove, "cluster remove ID",
	 "remove a member from the Raft configuration",
	 "example:\n  af -c cluster.yaml cluster remove 1\n"},
	{"member", "list", af_cli_member_list, "member list",
	 "the Raft configuration: id, raft address, role; the leader",
	 "Read from the leader (any node with --stale).\n"
	 "example:\n  af -c cluster.yaml member list -o json\n"},
	{"snapshot", "save", af_cli_snapshot_save, "snapshot save FILE",
	 "write a consistent backup to FILE",
	 "Restore it with: controld -c FILE --id N --restore FILE\n"
	 "example:\n  af -c cluster.yaml snapshot save backup.db\n"},
	{"backup", "list", af_cli_backup_list, "backup list",
	 "the scheduled backups in the leader's backup dir",
	 "Files oldest first: index, bytes, time, and whether the file\n"
	 "passed verification when it was written and still has its size.\n"
	 "Check every byte of one with: controld --verify-snapshot FILE\n"
	 "example:\n  af -c cluster.yaml backup list -o json\n"},
	{"dr", "drill", af_cli_dr_drill,
	 "dr drill [--routerd URL]... [--writes N] [--fail-if KEY>N] "
	 "[--request F] [--snapshot F] [--controld PATH]",
	 "rehearse a failover: RTO, RPO, routerd decisions, a verified "
	 "snapshot",
	 "Writes (a budget for the tenant af-dr-drill, removed at the end)\n"
	 "while leadership moves away from the leader; RTO is the time from\n"
	 "the last write the old leader acknowledged to the first the new\n"
	 "one did; every acknowledged write is then looked up in each\n"
	 "member's audit (RPO: writes missing, must be 0). Listed routerds\n"
	 "are asked for decisions throughout and every returned region is\n"
	 "checked against the residency of the request. Last, a snapshot\n"
	 "is taken and checked with controld --verify-snapshot.\n"
	 "Exit 1 when a check fails or a --fail-if holds.\n"
	 "  --routerd URL     a routerd to probe (repeat, or URL,URL)\n"
	 "  --writes N        writes, 2-10000 (default 200)\n"
	 "  --fail-if KEY>N   exit 1 when KEY exceeds N; KEY: rto_ms,\n"
	 "                    rpo_entries, routerd_errors, "
	 "residency_violations\n"
	 "  --request F       the body POSTed to /v1/route (default: one\n"
	 "                    for the stable policy's first class)\n"
	 "  --snapshot F      keep the drill's snapshot in F\n"
	 "  --controld PATH   the controld binary that verifies it\n"
	 "                    (default: next to af, else on PATH)\n"
	 "Needs the admin role (leader transfer, snapshot).\n"
	 "example:\n  af -c cluster.yaml dr drill --routerd "
	 "http://127.0.0.1:8080 --fail-if 'rto_ms>2000'\n"},
	{"policy", "lint", af_cli_policy_lint, "policy lint -f FILE",
	 "validate a bundle locally (no cluster)",
	 "  -f FILE   the bundle; errors say file:line:col, exit 1\n"
	 "example:\n  af policy lint -f policy.yaml\n"},
	{"policy", "apply", af_cli_policy_apply,
	 "policy apply -f FILE [-m MSG] [--canary PCT] [--dry-run] "
	 "[--signature F]",
	 "store a revision (stable, or a canary)",
	 "  -f FILE          the bundle\n"
	 "  -m MSG           the revision's message\n"
	 "  --canary PCT     start it as a canary at PCT percent (1-100)\n"
	 "  --dry-run        ask the leader what would happen; change "
	 "nothing\n"
	 "  --signature F    detached signature (default: FILE.sig if "
	 "present)\n"
	 "Re-applying the stable content is a no-op that says unchanged.\n"
	 "example:\n  af -c cluster.yaml policy apply -f policy.yaml "
	 "--dry-run\n"
	 "  af -c cluster.yaml policy apply -f policy.yaml -m \"cheaper\"\n"},
	{"policy", "get", af_cli_policy_get, "policy get [REV]",
	 "the source of a revision (default: stable)",
	 "example:\n  af -c cluster.yaml policy get 3 > policy-r3.yaml\n"},
	{"policy", "history", af_cli_policy_history,
	 "policy history [--limit N] [--after REV]",
	 "revisions, newest first, a page at a time",
	 "  --limit N     revisions per page, 1-1000 (default 100)\n"
	 "  --after REV   the page below REV (next_after of the last page)\n"
	 "example:\n  af -c cluster.yaml policy history --limit 20 -o json\n"},
	{"policy", "diff", af_cli_policy_diff,
	 "policy diff REV [REV | -f FILE]",
	 "difference of canonical forms (exit 1 when they differ)",
	 "  -f FILE   compare REV with a local bundle\n"
	 "example:\n  af -c cluster.yaml policy diff 2 -f policy.yaml\n"},
	{"policy", "rollback", af_cli_policy_rollback,
	 "policy rollback [--to REV]",
	 "make REV (default: the previous stable) stable again",
	 "  --to REV  the revision to restore; aborts a running canary\n"
	 "example:\n  af -c cluster.yaml policy rollback --to 1\n"},
	{"policy", "simulate", af_cli_policy_simulate,
	 "policy simulate -f CANDIDATE --log PATH... [--baseline REV | "
	 "--baseline-file FILE] [--models FILE] [--since T] [--until T] "
	 "[--down REGION|MODEL@REGION,...] [--fail-if EXPR]",
	 "replay decision logs: what would the candidate have changed",
	 "  -f FILE              the candidate bundle\n"
	 "  --log PATH...        decision log files or directories\n"
	 "  --baseline REV       compare with this revision (default: each\n"
	 "                       record's own, fetched from the cluster)\n"
	 "  --baseline-file F    the baseline bundle, offline (needs "
	 "--models)\n"
	 "  --models FILE        the registry (default: the cluster's)\n"
	 "  --since T --until T  records in [T, T): YYYY-MM-DD or\n"
	 "                       YYYY-MM-DDTHH:MM:SSZ\n"
	 "  --down WHERE,...     what-if: the candidate (or, without -f,\n"
	 "                       the baseline) replays with these regions or\n"
	 "                       MODEL@REGION pairs down\n"
	 "  --fail-if EXPR       exit 1 when any holds: changed_pct>X,\n"
	 "                       cost_delta_pct>X, new_denials>N\n"
	 "example:\n  af -c cluster.yaml policy simulate -f policy.yaml --log "
	 "/var/log/af --fail-if 'changed_pct>5,new_denials>0'\n"},
	{"policy", "test", af_cli_policy_test,
	 "policy test PATH... [--policy FILE --models FILE] [-o json|junit]",
	 "run PolicyTest files: expected decisions for fixture requests",
	 "  PATH...                       PolicyTest files (kind: PolicyTest)\n"
	 "  --policy FILE --models FILE   offline (default: the cluster's\n"
	 "                                stable revision and registry)\n"
	 "  -o junit                      JUnit XML for CI systems\n"
	 "Exit 0 when every case passes, 1 when any fails.\n"
	 "example:\n  af policy test tests/policy.test.yaml --policy "
	 "policy.yaml --models models.yaml\n"},
	{"policy", "sign", af_cli_policy_sign,
	 "policy sign -f FILE --key KEY [--serial N] [--out F]",
	 "sign a bundle (writes FILE.sig)",
	 "  --key KEY    the secret key from af keygen\n"
	 "  --serial N   increasing serial (default: the time)\n"
	 "  --out F      where to write the signature (default: FILE.sig)\n"
	 "example:\n  af policy sign -f policy.yaml --key release.key\n"},
	{NULL, "keygen", af_cli_keygen, "keygen --out PREFIX",
	 "make an ed25519 signing key (PREFIX.key, PREFIX.pub)",
	 "example:\n  af keygen --out release\n"},
	{"canary", "start", af_cli_canary_start,
	 "canary start -f FILE [--weight PCT] [--steps 5,25,50] "
	 "[--interval 60s] [gates]",
	 "start a canary rollout with steps and gates",
	 "  -f FILE                 the bundle     -m MSG   its message\n"
	 "  --weight PCT            fixed weight (no steps)\n"
	 "  --steps LIST            weights to step through\n"
	 "  --interval DUR          time per step\n"
	 "  --max-error-delta D     canary error rate - stable's (0.02)\n"
	 "  --max-latency-ratio R   canary p99 / stable p99 (1.10)\n"
	 "  --max-cost-ratio R      USD per successful outcome ratio\n"
	 "  --min-samples N         per cohort before any verdict\n"
	 "  --signature F           detached signature\n"
	 "example:\n  af -c cluster.yaml canary start -f policy.yaml --steps "
	 "5,25,50 --interval 60s --max-error-delta 0.02\n"},
	{"canary", "status", af_cli_canary_status, "canary status [--watch]",
	 "weights, cohort metrics, gate verdicts",
	 "  --watch   refresh every 2 s until the rollout ends\n"
	 "example:\n  af -c cluster.yaml canary status\n"},
	{"canary", "set-weight", af_cli_canary_control, "canary set-weight PCT",
	 "set the canary's weight (0-100)",
	 "example:\n  af -c cluster.yaml canary set-weight 25\n"},
	{"canary", "promote", af_cli_canary_control, "canary promote [--full]",
	 "next step, or --full: make the canary stable",
	 "example:\n  af -c cluster.yaml canary promote --full\n"},
	{"canary", "abort", af_cli_canary_control, "canary abort",
	 "stop the canary; stable takes all traffic",
	 "example:\n  af -c cluster.yaml canary abort\n"},
	{"canary", "pause", af_cli_canary_control, "canary pause",
	 "hold the current step",
	 "example:\n  af -c cluster.yaml canary pause\n"},
	{"canary", "resume", af_cli_canary_control, "canary resume",
	 "continue stepping", "example:\n  af -c cluster.yaml canary resume\n"},
	{"model", "apply", af_cli_model_apply, "model apply -f FILE",
	 "upsert the listed models in one registry revision",
	 "example:\n  af -c cluster.yaml model apply -f models.yaml\n"},
	{"model", "list", af_cli_model_list, "model list", "every model",
	 "example:\n  af -c cluster.yaml model list -o json\n"},
	{"model", "get", af_cli_model_get, "model get ID", "one model",
	 "example:\n  af -c cluster.yaml model get open-mid\n"},
	{"model", "disable", af_cli_model_status, "model disable ID",
	 "stop routing to a model",
	 "example:\n  af -c cluster.yaml model disable open-mid\n"},
	{"model", "enable", af_cli_model_status, "model enable ID",
	 "route to a model again",
	 "example:\n  af -c cluster.yaml model enable open-mid\n"},
	{"model", "deprecate", af_cli_model_status, "model deprecate ID",
	 "mark a model deprecated (still routed, warned)",
	 "example:\n  af -c cluster.yaml model deprecate open-mid\n"},
	{"model", "delete", af_cli_model_status, "model delete ID",
	 "remove a model from the registry",
	 "example:\n  af -c cluster.yaml model delete open-mid\n"},
	{"budget", "set", af_cli_budget_set,
	 "budget set TENANT --hard USD [--soft USD] [--period day|month]",
	 "set a tenant's budget",
	 "  --hard USD       the limit (denied beyond it)\n"
	 "  --soft USD       warn beyond it\n"
	 "  --period P       day or month (default: month)\n"
	 "example:\n  af -c cluster.yaml budget set claims-team --hard 100 "
	 "--soft 80\n"},
	{"budget", "list", af_cli_budget_list, "budget list",
	 "spent, leased, soft, hard, remaining per tenant",
	 "example:\n  af -c cluster.yaml budget list -o json\n"},
	{"budget", "get", af_cli_budget_get, "budget get TENANT",
	 "one tenant's budget",
	 "example:\n  af -c cluster.yaml budget get claims-team\n"},
	{"budget", "delete", af_cli_budget_delete, "budget delete TENANT",
	 "remove a tenant's budget (it is no longer limited)",
	 "example:\n  af -c cluster.yaml budget delete claims-team\n"},
	{"quota", "status", af_cli_quota_status, "quota status",
	 "per quota: the limit, the leased sum and each routerd's lease "
	 "(amount, expiry)",
	 "example:\n  af -c cluster.yaml quota status -o json\n"},
	{"emergency", "set", af_cli_emergency_set,
	 "emergency set [--tenant T] [--class C] [--max-fanout N] "
	 "[--max-tool-calls N] [--max-cost-usd X] [--deny-tier TIER] "
	 "[--drain-lane L] [--freeze-tenant] --ttl D -m REASON",
	 "narrow routing at once, fleet-wide, until the TTL (prints the id)",
	 "  --tenant T, --class C   the scope (default: every tenant, class)\n"
	 "  --max-fanout N          deny fanout above N (FANOUT_CAP)\n"
	 "  --max-tool-calls N      deny tool_calls above N (TOOL_CALL_CAP)\n"
	 "  --max-cost-usd X        route only hops costing at most X USD\n"
	 "  --deny-tier TIER        never route to TIER (TIER_DENIED)\n"
	 "  --drain-lane L          deny the lane's classes (LANE_DRAINED)\n"
	 "  --freeze-tenant         deny the tenant (TENANT_FROZEN; clearing\n"
	 "                          it needs role admin)\n"
	 "  --ttl D                 1s..7d, e.g. 30m (required)\n"
	 "  -m REASON               why (required; audited)\n"
	 "Needs role promoter. routerds enforce it from the next hint or\n"
	 "heartbeat, whether or not their Sync succeeds.\n"
	 "example:\n  af -c cluster.yaml emergency set --max-fanout 2 "
	 "--ttl 30m -m \"fan-out storm\"\n"},
	{"emergency", "list", af_cli_emergency_list, "emergency list",
	 "the overrides in force",
	 "JSON: [{\"id\", \"scope\", \"effect\", \"reason\", "
	 "\"principal\", \"expires\"}]\n"
	 "example:\n  af -c cluster.yaml emergency list -o json\n"},
	{"emergency", "clear", af_cli_emergency_clear,
	 "emergency clear ID | --all", "end overrides before their TTL",
	 "Needs role promoter; clearing a tenant freeze needs role admin.\n"
	 "example:\n  af -c cluster.yaml emergency clear ov-42\n"},
	{"emergency", "sign", af_cli_emergency_sign,
	 "emergency sign -f FILE --key KEY",
	 "sign a routerd --override-file (writes FILE.sig)",
	 "Needed when the cluster file lists signing.trusted_keys.\n"
	 "example:\n  af emergency sign -f break-glass.json --key ops.key\n"},
	{NULL, "route", af_cli_route,
	 "route -f REQ.json [--revision REV] [--explain] "
	 "[--policy FILE --models FILE]",
	 "evaluate a request as routerd would, locally",
	 "  -f REQ.json       the request body\n"
	 "  --revision REV    decide with this revision (default: stable)\n"
	 "  --explain         the rule trace and why each candidate was "
	 "dropped\n"
	 "  --policy FILE --models FILE   fully offline, no cluster\n"
	 "-o json prints exactly the body routerd would answer.\n"
	 "example:\n  af -c cluster.yaml route -f request.json --revision 2 "
	 "--explain\n"
	 "  af route -f request.json --policy policy.yaml --models "
	 "models.yaml\n"},
	{"fleet", "status", af_cli_fleet_status,
	 "fleet status [--watch [--watch-interval DUR] [--watch-count N]]",
	 "every routerd seen: SYNCED/STALE/NACKED/LOST",
	 "With --watch: a terminal redraws, anything else gets each refresh\n"
	 "appended; Ctrl-C exits 0.\n" AF_WATCH_HELP
	 "example:\n  af -c cluster.yaml fleet status --watch "
	 "--watch-interval 5s\n"},
	{NULL, "report", af_cli_report,
	 "report [--by tenant|class|model|revision] [--since DATE] "
	 "[--until DATE]",
	 "showback: outcomes, failures, spend",
	 "  --by KEY       group rows by tenant, class, model or revision\n"
	 "  --since DATE   days from DATE on: YYYY-MM-DD or "
	 "YYYY-MM-DDTHH:MM:SSZ\n"
	 "  --until DATE   days before DATE (same formats)\n"
	 "example:\n  af -c cluster.yaml report --by model --since "
	 "2026-11-01\n"},
	{NULL, "version", af_cli_version, "version",
	 "af's version and each controld node's",
	 "Without a cluster (no -c, --endpoints, AF_CLUSTER or AF_ENDPOINTS)\n"
	 "only af's own. Exit 1 when every node refuses (a token that may\n"
	 "not read), 3 when none answers.\n"
	 "example:\n  af -c cluster.yaml version -o json\n"},
	{NULL, "completion", completion, "completion bash|zsh",
	 "print a shell completion script for af",
	 "The script is made from af's own verb table, so it completes\n"
	 "exactly the verbs and flags of this af. Load it in the shell's\n"
	 "start-up file.\n"
	 "example:\n  echo 'source <(af completion bash)' >> ~/.bashrc\n"},
	{NULL, "audit", af_cli_audit, "audit [--limit N] [--after INDEX]",
	 "the audit trail, newest first, a page at a time",
	 "  --limit N       records per page, 1-1000 (default 100)\n"
	 "  --after INDEX   the page below INDEX (next_after of the last "
	 "page)\n"
	 "example:\n  af -c cluster.yaml audit --limit 20\n"},
};

#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))
#define N_GROUPS (sizeof(groups) / sizeof(groups[0]))

static const char globals_help[] =
	"global flags (anywhere on the line):\n"
	"  -c, --cluster FILE   cluster file (env AF_CLUSTER)\n"
	"  --endpoints URL,...  API URLs instead of a cluster file (env\n"
	"                       AF_ENDPOINTS, used when no -c is given)\n"
	"  --token-file FILE    read the API token from FILE (env\n"
	"                       AF_TOKEN_FILE); keeps it out of ps\n"
	"  --token T            API token (env AF_TOKEN)\n"
	"  -o, --output FMT     table (default), json or yaml\n"
	"  --timeout DUR        give up after DUR (default 10s)\n"
	"  --stale              read from the first endpoint, no leader\n"
	"exit codes: 0 ok, 1 refused by the cluster, 2 usage error,\n"
	"            3 cluster unavailable (no leader, time out)\n";

/* ------------------------------------------------------ completion */

/* Global flags that take a value, and those that do not. */
static const char globals_valued[] =
	"-c --cluster --endpoints --token --token-file -o --output --timeout";
static const char globals_plain[] = "--stale --help";

/* Prints " --flag" for each flag in text not yet in seen. */
static void flags_in(const char *text, const char *end, char *seen,
		     size_t seen_len, FILE *f)
{
	for (const char *p = text; (p = strstr(p, "--")) != NULL && p < end;) {
		size_t n = 2;
		char flag[64];

		while (p[n] == '-' || (p[n] >= 'a' && p[n] <= 'z'))
			n++;
		if (n > 2 && n < sizeof(flag) - 2 &&
		    (p == text || p[-1] == ' ' || p[-1] == '[' ||
		     p[-1] == '|')) {
			snprintf(flag, sizeof(flag), " %.*s ", (int)n, p);
			if (strstr(seen, flag) == NULL &&
			    strlen(seen) + n + 2 < seen_len) {
				strcat(seen, flag + 1);
				fprintf(f, " %.*s", (int)n, p);
			}
		}
		p += n;
	}
}

/* The --flags of a verb: in its usage line, and on the lines of its help
 * that describe a flag (those starting with "  -"). */
static void verb_flags(const struct verb *v, FILE *f)
{
	char seen[2048] = " ";
	const char *line = v->help;

	flags_in(v->usage, v->usage + strlen(v->usage), seen, sizeof(seen), f);
	for (; *line != '\0'; line++) {
		const char *eol = strchr(line, '\n');

		if (eol == NULL)
			eol = line + strlen(line);
		if (strncmp(line, "  -", 3) == 0)
			flags_in(line, eol, seen, sizeof(seen), f);
		line = eol;
		if (*line == '\0')
			break;
	}
}

/* bash: _af completes the first word (verbs, groups), a group's verb,
 * then the flags of the verb (and the global flags). Flag values: output
 * formats for -o, file names elsewhere. */
static void completion_bash(FILE *f)
{
	fprintf(f,
		"# af completion for bash: source <(af completion bash)\n"
		"_af() {\n"
		"\tlocal cur=${COMP_WORDS[COMP_CWORD]} "
		"prev=${COMP_WORDS[COMP_CWORD-1]} w i first= second=\n"
		"\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
		"\t\tw=${COMP_WORDS[i]}\n\t\tcase \" %s \" in\n"
		"\t\t*\" $w \"*) ((i++)); continue ;;\n\t\tesac\n"
		"\t\tcase $w in -*) continue ;; esac\n"
		"\t\tif [ -z \"$first\" ]; then first=$w\n"
		"\t\telif [ -z \"$second\" ]; then second=$w; fi\n"
		"\tdone\n\tcase $prev in\n"
		"\t-o | --output) COMPREPLY=($(compgen -W \"table json "
		"yaml\" -- \"$cur\")); return ;;\n"
		"\tesac\n\tcase \" %s \" in\n"
		"\t*\" $prev \"*) COMPREPLY=($(compgen -f -- \"$cur\")); "
		"return ;;\n\tesac\n"
		"\tlocal words=\"%s %s\"\n\tcase $first in\n"
		"\t'') [[ $cur == -* ]] || words=\"",
		globals_valued, globals_valued, globals_valued, globals_plain);
	for (size_t i = 0; i < N_GROUPS; i++)
		fprintf(f, "%s%s", i ? " " : "", groups[i].name);
	for (size_t i = 0; i < N_VERBS; i++)
		if (verbs[i].group == NULL)
			fprintf(f, " %s", verbs[i].name);
	fprintf(f, " help\" ;;\n");
	for (size_t g = 0; g < N_GROUPS; g++) {
		fprintf(f,
			"\t%s)\n\t\tcase $second in\n\t\t'') "
			"[[ $cur == -* ]] || words=\"",
			groups[g].name);
		for (size_t i = 0, k = 0; i < N_VERBS; i++)
			if (verbs[i].group &&
			    strcmp(verbs[i].group, groups[g].name) == 0)
				fprintf(f, "%s%s", k++ ? " " : "",
					verbs[i].name);
		fprintf(f, "\" ;;\n");
		for (size_t i = 0; i < N_VERBS; i++)
			if (verbs[i].group &&
			    strcmp(verbs[i].group, groups[g].name) == 0) {
				fprintf(f, "\t\t%s) words=\"$words",
					verbs[i].name);
				verb_flags(&verbs[i], f);
				fprintf(f, "\" ;;\n");
			}
		fprintf(f, "\t\tesac ;;\n");
	}
	for (size_t i = 0; i < N_VERBS; i++)
		if (verbs[i].group == NULL) {
			fprintf(f, "\t%s) ", verbs[i].name);
			if (verbs[i].fn == completion)
				fprintf(f, "words=\"bash zsh\" ;;\n");
			else {
				fprintf(f, "words=\"$words");
				verb_flags(&verbs[i], f);
				fprintf(f, "\" ;;\n");
			}
		}
	fprintf(f, "\tesac\n"
		   "\tCOMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
		   "\t[ ${#COMPREPLY[@]} -gt 0 ] || [[ $cur == -* ]] ||\n"
		   "\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n"
		   "}\ncomplete -F _af af\n");
}

/* -o json and -o yaml: {"shell": ..., "script": ...}. */
static int completion(struct af_cli *cli, int argc, char **argv)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	json_t *o;

	if (argc != 2 ||
	    (strcmp(argv[1], "bash") != 0 && strcmp(argv[1], "zsh") != 0))
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "usage: af completion bash|zsh");
	f = cli->output == AF_OUT_TABLE ? stdout : open_memstream(&text, &len);
	if (f == NULL)
		return af_cli_fail(AF_EXIT_REFUSED, "INTERNAL",
				   "out of memory");
	if (strcmp(argv[1], "zsh") == 0)
		fprintf(f, "# af completion for zsh: source <(af completion "
			   "zsh)\nautoload -U +X compinit && compinit\n"
			   "autoload -U +X bashcompinit && bashcompinit\n");
	completion_bash(f);
	if (f == stdout)
		return AF_EXIT_OK;
	fclose(f);
	o = json_pack("{s:s, s:s}", "shell", argv[1], "script", text);
	free(text);
	return af_out_json(o) == 0 ? AF_EXIT_OK : AF_EXIT_REFUSED;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: af [global flags] VERB ...\n\nverbs:\n");
	for (size_t i = 0; i < N_VERBS; i++) {
		char name[64];

		snprintf(name, sizeof(name), "%s%s%s",
			 verbs[i].group ? verbs[i].group : "",
			 verbs[i].group ? " " : "", verbs[i].name);
		fprintf(f, "  af %-24s %s\n", name, verbs[i].summary);
	}
	fprintf(f,
		"\n%s\nAny verb or group takes --help (af policy --help, "
		"af policy apply --help).\n",
		globals_help);
}

static void group_help(FILE *f, const struct group *g)
{
	fprintf(f, "af %s: %s\n\nverbs:\n", g->name, g->summary);
	for (size_t i = 0; i < N_VERBS; i++)
		if (verbs[i].group && strcmp(verbs[i].group, g->name) == 0)
			fprintf(f, "  af %s\n      %s\n", verbs[i].usage,
				verbs[i].summary);
	fprintf(f, "\nexample:\n  %s\n\nSee af %s VERB --help.\n", g->example,
		g->name);
}

static void verb_help(const struct verb *v)
{
	printf("usage: af %s\n\n%s.\n\n%s\n%s", v->usage, v->summary, v->help,
	       globals_help);
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
		    strcmp(a, "--token") == 0 ||
		    strcmp(a, "--token-file") == 0 ||
		    strcmp(a, "--timeout") == 0 ||
		    (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0)) {
			if (v == NULL) {
				af_cli_fail(AF_EXIT_USAGE, "USAGE",
					    "%s needs a value", a);
				return -1;
			}
			if ((strcmp(a, "-o") == 0 ||
			     strcmp(a, "--output") == 0) &&
			    strcmp(v, "junit") == 0) {
				/* af policy test's own format: its flag. */
				cli->junit = true;
				argv[out++] = argv[i];
				continue;
			}
			i++;
			if (a[1] == 'c' || strcmp(a, "--cluster") == 0)
				cli->cluster_file = v;
			else if (strcmp(a, "--endpoints") == 0)
				cli->endpoints = v;
			else if (strcmp(a, "--token") == 0)
				cli->token = v, cli->token_file = NULL;
			else if (strcmp(a, "--token-file") == 0)
				cli->token_file = v, cli->token = NULL;
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
					    "-o takes table, json or yaml (and "
					    "junit "
					    "for policy test)");
				return -1;
			}
			continue;
		}
		argv[out++] = argv[i];
	}
	return out;
}

static bool is_help(const char *a)
{
	return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (is_help(argv[i]))
			return true;
	return false;
}

/* A verb of the table: --help anywhere after it prints its help. */
static int run(const struct verb *v, struct af_cli *cli, int argc, char **argv)
{
	if (wants_help(argc, argv)) {
		verb_help(v);
		return AF_EXIT_OK;
	}
	if (cli->junit && v->fn != af_cli_policy_test)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "-o junit is for af policy test only; "
				   "use -o table, json or yaml");
	return v->fn(cli, argc, argv);
}

static int dispatch(struct af_cli *cli, int n, char **argv)
{
	for (size_t i = 0; i < N_VERBS; i++) {
		const struct verb *v = &verbs[i];

		if (v->group == NULL && strcmp(argv[0], v->name) == 0)
			return run(v, cli, n, argv);
		if (v->group != NULL && n >= 2 &&
		    strcmp(argv[0], v->group) == 0 &&
		    strcmp(argv[1], v->name) == 0)
			return run(v, cli, n - 1, argv + 1);
	}
	for (size_t i = 0; i < N_GROUPS; i++) {
		if (strcmp(argv[0], groups[i].name) != 0)
			continue;
		if (n >= 2 && is_help(argv[1])) {
			group_help(stdout, &groups[i]);
			return AF_EXIT_OK;
		}
		if (n >= 2)
			af_cli_fail(AF_EXIT_USAGE, "USAGE",
				    "unknown verb \"%s %s\"", argv[0], argv[1]);
		group_help(stderr, &groups[i]);
		return AF_EXIT_USAGE;
	}
	return af_cli_fail(AF_EXIT_USAGE, "USAGE",
			   "unknown verb \"%s\" (see af --help)", argv[0]);
}

/* Where the client goes and who it is, flags over the environment:
 * --endpoints, then -c, then AF_ENDPOINTS, then AF_CLUSTER; --token or
 * --token-file (the last given), then AF_TOKEN_FILE, then AF_TOKEN. */
static int take_env(struct af_cli *cli, bool cluster_flag)
{
	static char token[AF_TOKEN_MAX + 1];
	const char *env_file = getenv("AF_TOKEN_FILE");
	struct af_err err = {{0}};

	if (cli->endpoints == NULL && !cluster_flag &&
	    getenv("AF_ENDPOINTS") != NULL && getenv("AF_ENDPOINTS")[0])
		cli->endpoints = getenv("AF_ENDPOINTS");
	if (cli->endpoints == NULL && cli->cluster_file == NULL)
		cli->cluster_file = getenv("AF_CLUSTER");
	if (cli->token == NULL && cli->token_file == NULL) {
		if (env_file != NULL && env_file[0] != '\0')
			cli->token_file = env_file;
		else
			cli->token = getenv("AF_TOKEN");
	}
	if (cli->token_file == NULL)
		return 0;
	if (af_token_read(cli->token_file, token, sizeof(token), &err) != 0)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE", "%s", err.msg);
	cli->token = token;
	return 0;
}

int main(int argc, char **argv)
{
	struct af_cli cli = {
		.output = AF_OUT_TABLE,
		.timeout_ms = 10000,
	};
	int n;

	n = take_globals(&cli, argc - 1, argv + 1);
	if (n < 0 || take_env(&cli, cli.cluster_file != NULL) != 0)
		return AF_EXIT_USAGE;
	af_out_set_format(cli.output == AF_OUT_YAML ? AF_OUT_YAML
						    : AF_OUT_JSON);
	argv++;
	if (n == 0) {
		usage(stderr);
		return AF_EXIT_USAGE;
	}
	if (is_help(argv[0]) || strcmp(argv[0], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[0], "--version") == 0) { /* af's own, one line */
		if (cli.output == AF_OUT_TABLE) {
			printf("af %s\n", AF_VERSION);
			return 0;
		}
		return af_out_json(json_pack("{s:s}", "version", AF_VERSION));
	}
	return dispatch(&cli, n, argv);
}
