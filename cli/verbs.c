/* The verb table of af (verbs.h). */
#include "cli/verbs.h"
#include "cli/config.h"
#include "cli/output.h"
#include "cli/replay.h"
#include "cli/watch.h"
#include "common/timeutil.h"
#include "common/token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct af_cli_group af_cli_groups[] = {
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
	{"shadow", "a candidate bundle evaluated on live traffic, never served",
	 "af -c cluster.yaml shadow start -f candidate.yaml --duration 1h"},
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
	{"config", "client contexts: which cluster and token af uses",
	 "af config use-context prod"},
};

const struct af_cli_verb af_cli_verbs[] = {
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
	 "[--signature F] [--wait [--fleet PCT]]",
	 "store a revision (stable, or a canary)",
	 "  -f FILE          the bundle\n"
	 "  -m MSG           the revision's message\n"
	 "  --canary PCT     start it as a canary at PCT percent (1-100)\n"
	 "  --dry-run        ask the leader what would happen; change "
	 "nothing\n"
	 "  --signature F    detached signature (default: FILE.sig if "
	 "present)\n"
	 "  --wait           return once the live routerds serve the new "
	 "hash;\n"
	 "                   exit 3 naming the laggards after --timeout\n"
	 "  --fleet PCT      with --wait: the share of live routerds "
	 "(default 100)\n"
	 "Re-applying the stable content is a no-op that says unchanged.\n"
	 "example:\n  af -c cluster.yaml policy apply -f policy.yaml "
	 "--dry-run\n"
	 "  af -c cluster.yaml policy apply -f policy.yaml -m \"cheaper\"\n"
	 "  af -c cluster.yaml policy apply -f policy.yaml --wait --timeout "
	 "30s\n"},
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
	 "  --max-quality-drop X    stable's mean quality - canary's (0.05)\n"
	 "  --require-fleet PCT     a step's interval starts once PCT of "
	 "live\n"
	 "                          routerds serve it\n"
	 "  --max-nack PCT          abort once PCT of live routerds NACK the "
	 "canary\n"
	 "  --require-shadow PCT    refuse unless a shadow of this bundle\n"
	 "                          agreed with live decisions on PCT%\n"
	 "  --min-shadow-samples N  ... over at least N sampled requests\n"
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
	{"shadow", "start", af_cli_shadow_start,
	 "shadow start -f FILE [--sample PCT] [--duration D] [-m MSG]",
	 "evaluate a bundle on live requests beside the stable one",
	 "  -f FILE          the candidate bundle   -m MSG   its message\n"
	 "  --sample PCT     share of requests evaluated (1-100, default 100)\n"
	 "  --duration D     stop by itself after D (default: until stopped)\n"
	 "  --signature F    detached signature\n"
	 "example:\n  af -c cluster.yaml shadow start -f candidate.yaml "
	 "--sample 50 --duration 1h -m \"try tier-2\"\n"},
	{"shadow", "status", af_cli_shadow_status,
	 "shadow status [--watch [--watch-interval DUR] [--watch-count N]]",
	 "agreement of the shadow with live decisions, per class",
	 "With --watch: a terminal redraws, anything else gets each refresh\n"
	 "appended; Ctrl-C exits 0.\n" AF_WATCH_HELP
	 "example:\n  af -c cluster.yaml shadow status -o json\n"},
	{"shadow", "stop", af_cli_shadow_stop, "shadow stop",
	 "stop evaluating the shadow (its figures are kept)",
	 "example:\n  af -c cluster.yaml shadow stop\n"},
	{"model", "apply", af_cli_model_apply, "model apply -f FILE",
	 "upsert the listed models in one registry revision",
	 "example:\n  af -c cluster.yaml model apply -f models.yaml\n"},
	{"model", "list", af_cli_model_list, "model list", "every model",
	 "example:\n  af -c cluster.yaml model list -o json\n"},
	{"model", "history", af_cli_model_history, "model history ID",
	 "a model's price versions and the one in force",
	 "Versions come from the model's prices: list (a model with flat\n"
	 "usd_per_1k_* keys has one, in force since ever).\n"
	 "example:\n  af -c cluster.yaml model history swift-mid -o json\n"},
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
	{"quota", "status", af_cli_quota_status, "quota status",
	 "per quota: the limit, the leased sum and each routerd's lease "
	 "(amount, expiry)",
	 "example:\n  af -c cluster.yaml quota status -o json\n"},
	{"fleet", "status", af_cli_fleet_status,
	 "fleet status [--watch [--watch-interval DUR] [--watch-count N]]",
	 "every routerd seen: SYNCED/STALE/NACKED/LOST",
	 "With --watch: a terminal redraws, anything else gets each refresh\n"
	 "appended; Ctrl-C exits 0.\n" AF_WATCH_HELP
	 "example:\n  af -c cluster.yaml fleet status --watch "
	 "--watch-interval 5s\n"},
	{NULL, "report", af_cli_report,
	 "report [--unit hop|workflow] [--by KEY[,KEY...]] [--since DATE] "
	 "[--until DATE] | report --anomalies [--z 3] [--window 28]",
	 "showback: outcomes, failures, spend per hop or per workflow",
	 "  --unit hop       (default) per hop: --by up to 3 of tenant, "
	 "class,\n"
	 "                   model, revision, day, labels.KEY\n"
	 "  --unit workflow  per workflow: workflows, succeeded, failed,\n"
	 "                   abandoned, success_rate, cost_usd,\n"
	 "                   usd_per_success, p50/p95_success_usd, waste_usd;\n"
	 "                   --by up to 3 of tenant, class, day, labels.KEY\n"
	 "  --by KEY[,KEY]   group rows (default: tenant)\n"
	 "  --since DATE     days from DATE on: YYYY-MM-DD or "
	 "YYYY-MM-DDTHH:MM:SSZ\n"
	 "  --until DATE     days before DATE (same formats)\n"
	 "  --anomalies      tenants whose spend on the last complete UTC day\n"
	 "                   is over --z (default 3) standard deviations "
	 "above\n"
	 "                   the mean of the --window (default 28) days "
	 "before\n"
	 "With -o csv: one header row, one row per group (RFC 4180).\n"
	 "example:\n  af -c cluster.yaml report --unit workflow --by "
	 "tenant,day --since 2026-11-01 -o csv\n"},
	{"config", "get-contexts", af_cli_config_get_contexts,
	 "config "
	 "get-contexts",
	 "the contexts of the client config (* = current)",
	 "The file is $AF_CONFIG, else $XDG_CONFIG_HOME/af/config, else\n"
	 "~/.config/af/config. Flags and the environment win over it.\n"
	 "example:\n  af config get-contexts -o json\n"},
	{"config", "current-context", af_cli_config_current,
	 "config current-context", "the context af uses by default",
	 "example:\n  af config current-context\n"},
	{"config", "use-context", af_cli_config_use, "config use-context NAME",
	 "make NAME the default context",
	 "example:\n  af config use-context staging\n"},
	{"config", "set-context", af_cli_config_set,
	 "config set-context NAME [-c FILE | --endpoints URL,...] "
	 "[--token-file FILE]",
	 "create or update a context (the first one becomes current)",
	 "Paths are stored absolute; a context keeps a token file, never a\n"
	 "token.\n"
	 "example:\n  af config set-context prod -c /etc/af/cluster.yaml "
	 "--token-file ~/.af-token\n"},
	{"config", "delete-context", af_cli_config_delete,
	 "config delete-context NAME", "remove a context",
	 "example:\n  af config delete-context staging\n"},
	{NULL, "version", af_cli_version, "version",
	 "af's version and each controld node's",
	 "Without a cluster (no -c, --endpoints, AF_CLUSTER or AF_ENDPOINTS)\n"
	 "only af's own. Exit 1 when every node refuses (a token that may\n"
	 "not read), 3 when none answers.\n"
	 "example:\n  af -c cluster.yaml version -o json\n"},
	{NULL, "completion", af_cli_completion, "completion bash|zsh",
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

const size_t af_cli_nverbs = sizeof(af_cli_verbs) / sizeof(af_cli_verbs[0]);
const size_t af_cli_ngroups = sizeof(af_cli_groups) / sizeof(af_cli_groups[0]);
