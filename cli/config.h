/*
 * af's client config: named contexts, each a way to reach one cluster (a
 * cluster file or endpoints) and a token file, and the current one. The
 * file is $AF_CONFIG, else $XDG_CONFIG_HOME/af/config, else
 * ~/.config/af/config (YAML, docs/cli.md). Flags win over the environment,
 * which wins over the context.
 */
#ifndef AF_CLI_CONFIG_H
#define AF_CLI_CONFIG_H

#include "cli/cli.h"
#include "common/err.h"

#include <limits.h>
#include <stdbool.h>

#define AF_CTX_MAX 64	   /* contexts in one file */
#define AF_CTX_NAME_MAX 64 /* name length + 1 */
#define AF_CTX_ENDPOINTS_MAX 1024
#define AF_CONFIG_FILE_MAX (64 * 1024)

struct af_ctx {
	char name[AF_CTX_NAME_MAX];
	char cluster[PATH_MAX];		      /* cluster file, absolute; "" */
	char endpoints[AF_CTX_ENDPOINTS_MAX]; /* URL,...; "" */
	char token_file[PATH_MAX];	      /* absolute; "" */
};

struct af_client_config {
	char path[PATH_MAX];
	bool exists; /* the file was there */
	char current[AF_CTX_NAME_MAX];
	struct af_ctx ctx[AF_CTX_MAX];
	unsigned n;
};

/* Loads the client config (a missing file is an empty config). Errors:
 * AF_EPARSE (file:line:col), AF_EIO, AF_ETOOBIG, AF_ECONFIG (no path). */
int af_config_load(struct af_client_config *cfg, struct af_err *err);

/* Fills what neither flags nor the environment gave (cluster file or
 * endpoints, token file) from the context: --context, else AF_CONTEXT,
 * else the current one. Loads nothing when nothing is missing and no
 * context was named. Returns 0 or an exit code (message printed). */
int af_config_apply(struct af_cli *cli, bool want_target, bool want_token);

/* af config VERB */
int af_cli_config_get_contexts(struct af_cli *cli, int argc, char **argv);
int af_cli_config_current(struct af_cli *cli, int argc, char **argv);
int af_cli_config_use(struct af_cli *cli, int argc, char **argv);
int af_cli_config_set(struct af_cli *cli, int argc, char **argv);
int af_cli_config_delete(struct af_cli *cli, int argc, char **argv);

#endif
