/*
 * af CLI: shared state of one invocation and the verb entry points.
 * Each verb group lives in its own cli/cmd_*.c file.
 *
 * Exit codes: 0 success; 1 the cluster refused
 * (validation, conflict, permission, budget, rollout state); 2 usage error;
 * 3 cluster unavailable. Errors print one line "af: CODE: message".
 */
#ifndef AF_CLI_CLI_H
#define AF_CLI_CLI_H

#include <stdbool.h>
#include <stdint.h>

enum {
	AF_EXIT_OK = 0,
	AF_EXIT_REFUSED = 1,
	AF_EXIT_USAGE = 2,
	AF_EXIT_UNAVAILABLE = 3,
};

enum af_cli_output {
	AF_OUT_TABLE = 0,
	AF_OUT_JSON,
	AF_OUT_YAML,
	AF_OUT_CSV, /* tables only: af_out_json refuses other documents */
};

struct af_cli {
	const char *cluster_file; /* -c or AF_CLUSTER; may be NULL */
	const char *endpoints;	  /* --endpoints; may be NULL */
	const char *token;	  /* --token, a token file's, AF_TOKEN; NULL */
	const char *token_file;	  /* --token-file or AF_TOKEN_FILE; NULL */
	const char *context;	  /* --context; NULL */
	/* What the flags alone gave (af config set-context records them). */
	struct {
		const char *cluster, *endpoints, *token_file, *token;
	} given;
	enum af_cli_output output;
	uint64_t timeout_ms;
	bool stale; /* --stale: read from the first endpoint, no leader */
	bool junit; /* -o junit seen (left in argv for af policy test) */
};

/* Prints "af: CODE: message" on stderr and returns exit_code. */
int af_cli_fail(int exit_code, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Verb handlers: argv[0] is the verb's last word ("lint", "route"), the
 * global flags are already removed. Each returns an exit code. */
int af_cli_policy_lint(struct af_cli *cli, int argc, char **argv);
int af_cli_route(struct af_cli *cli, int argc, char **argv);
int af_cli_cluster_status(struct af_cli *cli, int argc, char **argv);
int af_cli_cluster_transfer(struct af_cli *cli, int argc, char **argv);
int af_cli_cluster_add(struct af_cli *cli, int argc, char **argv);
int af_cli_cluster_remove(struct af_cli *cli, int argc, char **argv);
int af_cli_member_list(struct af_cli *cli, int argc, char **argv);
int af_cli_snapshot_save(struct af_cli *cli, int argc, char **argv);
int af_cli_audit(struct af_cli *cli, int argc, char **argv);
int af_cli_canary_start(struct af_cli *cli, int argc, char **argv);
int af_cli_canary_status(struct af_cli *cli, int argc, char **argv);
int af_cli_canary_control(struct af_cli *cli, int argc, char **argv);
int af_cli_budget_set(struct af_cli *cli, int argc, char **argv);
int af_cli_budget_delete(struct af_cli *cli, int argc, char **argv);
int af_cli_budget_list(struct af_cli *cli, int argc, char **argv);
int af_cli_budget_get(struct af_cli *cli, int argc, char **argv);
int af_cli_quota_status(struct af_cli *cli, int argc, char **argv);
int af_cli_emergency_set(struct af_cli *cli, int argc, char **argv);
int af_cli_emergency_list(struct af_cli *cli, int argc, char **argv);
int af_cli_emergency_clear(struct af_cli *cli, int argc, char **argv);
int af_cli_emergency_sign(struct af_cli *cli, int argc, char **argv);
int af_cli_report(struct af_cli *cli, int argc, char **argv);
int af_cli_version(struct af_cli *cli, int argc, char **argv);
int af_cli_fleet_status(struct af_cli *cli, int argc, char **argv);
int af_cli_shadow_start(struct af_cli *cli, int argc, char **argv);
int af_cli_shadow_status(struct af_cli *cli, int argc, char **argv);
int af_cli_shadow_stop(struct af_cli *cli, int argc, char **argv);
int af_cli_keygen(struct af_cli *cli, int argc, char **argv);
int af_cli_policy_sign(struct af_cli *cli, int argc, char **argv);
int af_cli_policy_apply(struct af_cli *cli, int argc, char **argv);
int af_cli_policy_get(struct af_cli *cli, int argc, char **argv);
int af_cli_policy_history(struct af_cli *cli, int argc, char **argv);
int af_cli_policy_diff(struct af_cli *cli, int argc, char **argv);
int af_cli_policy_rollback(struct af_cli *cli, int argc, char **argv);
int af_cli_model_apply(struct af_cli *cli, int argc, char **argv);
int af_cli_model_history(struct af_cli *cli, int argc, char **argv);
int af_cli_model_list(struct af_cli *cli, int argc, char **argv);
int af_cli_model_get(struct af_cli *cli, int argc, char **argv);
int af_cli_model_status(struct af_cli *cli, int argc, char **argv);
int af_cli_backup_list(struct af_cli *cli, int argc, char **argv);
int af_cli_dr_drill(struct af_cli *cli, int argc, char **argv);

#endif
