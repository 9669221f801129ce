/* af's client config file and the af config verbs (see cli/config.h). */
#include "cli/config.h"
#include "cli/output.h"
#include "common/alloc.h"
#include "common/file.h"
#include "common/yamldoc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const top_keys[] = {"current-context", "contexts", NULL};
static const char *const ctx_keys[] = {"name", "cluster", "endpoints",
				       "token-file", NULL};

static int config_path(char *out, size_t len, struct af_err *err)
{
	const char *p = getenv("AF_CONFIG"), *x = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	int n;

	if (p != NULL && p[0] != '\0')
		n = snprintf(out, len, "%s", p);
	else if (x != NULL && x[0] == '/')
		n = snprintf(out, len, "%s/af/config", x);
	else if (home != NULL && home[0] != '\0')
		n = snprintf(out, len, "%s/.config/af/config", home);
	else
		return af_errf(err, AF_ECONFIG,
			       "no client config path: set AF_CONFIG, "
			       "XDG_CONFIG_HOME or HOME");
	if (n < 0 || (size_t)n >= len)
		return af_errf(err, AF_ETOOBIG, "client config path too long");
	return 0;
}

/* Context names: 1-63 of [A-Za-z0-9._-]. */
static bool good_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= AF_CTX_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		      s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

static int get_str(struct af_yaml *y, yaml_node_t *m, const char *key,
		   char *out, size_t len, struct af_err *err)
{
	yaml_node_t *v = af_yaml_get(y, m, key);
	const char *s;
	int rc;

	if (v == NULL)
		return 0;
	if ((rc = af_yaml_str(y, v, key, len - 1, &s, err)) != 0)
		return rc;
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

static int parse_ctx(struct af_yaml *y, yaml_node_t *m,
		     struct af_client_config *cfg, struct af_err *err)
{
	struct af_ctx *c = &cfg->ctx[cfg->n];
	int rc;

	if ((rc = af_yaml_expect_map(y, m, "contexts[]", err)) != 0 ||
	    (rc = af_yaml_check_keys(y, m, ctx_keys, err)) != 0)
		return rc;
	if (af_yaml_get(y, m, "name") == NULL)
		return af_yaml_errf(y, m, err, "context: missing \"name\"");
	if ((rc = get_str(y, m, "name", c->name, sizeof(c->name), err)) != 0 ||
	    (rc = get_str(y, m, "cluster", c->cluster, sizeof(c->cluster),
			  err)) != 0 ||
	    (rc = get_str(y, m, "endpoints", c->endpoints, sizeof(c->endpoints),
			  err)) != 0 ||
	    (rc = get_str(y, m, "token-file", c->token_file,
			  sizeof(c->token_file), err)) != 0)
		return rc;
	if (!good_name(c->name))
		return af_yaml_errf(y, af_yaml_get(y, m, "name"), err,
				    "context name \"%s\": use 1-63 letters, "
				    "digits, '.', '_' or '-'",
				    c->name);
	for (unsigned i = 0; i < cfg->n; i++)
		if (strcmp(cfg->ctx[i].name, c->name) == 0)
			return af_yaml_errf(y, af_yaml_get(y, m, "name"), err,
					    "context \"%s\" appears twice",
					    c->name);
	cfg->n++;
	return 0;
}

static int parse_config(struct af_yaml *y, struct af_client_config *cfg,
			struct af_err *err)
{
	yaml_node_t *root = af_yaml_root(y), *seq;
	int rc;

	if ((rc = af_yaml_expect_map(y, root, "client config", err)) != 0 ||
	    (rc = af_yaml_check_keys(y, root, top_keys, err)) != 0 ||
	    (rc = get_str(y, root, "current-context", cfg->current,
			  sizeof(cfg->current), err)) != 0)
		return rc;
	if ((seq = af_yaml_get(y, root, "contexts")) == NULL)
		return 0;
	if ((rc = af_yaml_expect_seq(y, seq, "contexts", AF_CTX_MAX, err)) != 0)
		return rc;
	for (size_t i = 0; i < af_yaml_len(seq); i++)
		if ((rc = parse_ctx(y, af_yaml_item(y, seq, i), cfg, err)) != 0)
			return rc;
	return 0;
}

int af_config_load(struct af_client_config *cfg, struct af_err *err)
{
	struct af_yaml *y = NULL;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	if ((rc = config_path(cfg->path, sizeof(cfg->path), err)) != 0)
		return rc;
	if (access(cfg->path, F_OK) != 0 && errno == ENOENT)
		return 0;
	if ((rc = af_read_file(cfg->path, AF_CONFIG_FILE_MAX, &buf, &len,
			       err)) != 0)
		return rc;
	cfg->exists = true;
	if (len == 0) {
		af_free(buf);
		return 0;
	}
	rc = af_yaml_check_depth(cfg->path, buf, len, err);
	if (rc == 0)
		rc = af_yaml_load(cfg->path, buf, len, 4096, &y, err);
	if (rc == 0)
		rc = parse_config(y, cfg, err);
	af_yaml_free(y);
	af_free(buf);
	return rc;
}

static struct af_ctx *find(struct af_client_config *cfg, const char *name)
{
	for (unsigned i = 0; i < cfg->n; i++)
		if (strcmp(cfg->ctx[i].name, name) == 0)
			return &cfg->ctx[i];
	return NULL;
}

/* A YAML double-quoted scalar (values never hold control characters:
 * set-context refuses them). */
static void put_quoted(FILE *f, const char *key, const char *s)
{
	fprintf(f, "    %s: \"", key);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputs("\"\n", f);
}

static int save(const struct af_client_config *cfg, struct af_err *err)
{
	char dir[PATH_MAX], *buf = NULL, *slash;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc;

	if (f == NULL)
		return af_errf(err, AF_ENOMEM, "out of memory");
	fprintf(f, "# af client config (af config set-context, "
		   "use-context)\n");
	if (cfg->current[0] != '\0')
		fprintf(f, "current-context: \"%s\"\n", cfg->current);
	fprintf(f, "contexts:%s\n", cfg->n == 0 ? " []" : "");
	for (unsigned i = 0; i < cfg->n; i++) {
		const struct af_ctx *c = &cfg->ctx[i];

		fprintf(f, "  - name: \"%s\"\n", c->name);
		if (c->cluster[0] != '\0')
			put_quoted(f, "cluster", c->cluster);
		if (c->endpoints[0] != '\0')
			put_quoted(f, "endpoints", c->endpoints);
		if (c->token_file[0] != '\0')
			put_quoted(f, "token-file", c->token_file);
	}
	fclose(f);
	snprintf(dir, sizeof(dir), "%s", cfg->path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if ((rc = af_mkdir_p(dir, err)) != 0) {
			free(buf);
			return rc;
		}
	}
	rc = af_write_file_atomic(cfg->path, buf, len, err);
	free(buf);
	return rc;
}

/* ------------------------------------------------- applying a context */

int af_config_apply(struct af_cli *cli, bool want_target, bool want_token)
{
	static struct af_client_config cfg;
	const char *name = cli->context, *env = getenv("AF_CONTEXT");
	struct af_err err = {{0}};
	const struct af_ctx *c;

	if (name == NULL && env != NULL && env[0] != '\0')
		name = env;
	if (name == NULL && !want_target && !want_token)
		return 0;
	if (af_config_load(&cfg, &err) != 0)
		return af_cli_fail(AF_EXIT_USAGE, "CONFIG", "%s", err.msg);
	if (name == NULL)
		name = cfg.current;
	if (name[0] == '\0')
		return 0; /* no context: af works without a cluster */
	if ((c = find(&cfg, name)) == NULL)
		return af_cli_fail(AF_EXIT_USAGE, "CONFIG",
				   "no context \"%s\" in %s (see af config "
				   "get-contexts)",
				   name, cfg.path);
	if (want_target && c->endpoints[0] != '\0')
		cli->endpoints = c->endpoints;
	else if (want_target && c->cluster[0] != '\0')
		cli->cluster_file = c->cluster;
	if (want_token && c->token_file[0] != '\0')
		cli->token_file = c->token_file;
	return 0;
}

/* -------------------------------------------------------------- verbs */

static int load_or_fail(struct af_client_config *cfg)
{
	struct af_err err = {{0}};

	if (af_config_load(cfg, &err) != 0)
		return af_cli_fail(AF_EXIT_USAGE, "CONFIG", "%s", err.msg);
	return 0;
}

static int no_args(int argc, char **argv, const char *usage)
{
	if (argc > 1)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "unexpected argument \"%s\" (usage: af %s)",
				   argv[1], usage);
	return 0;
}

int af_cli_config_get_contexts(struct af_cli *cli, int argc, char **argv)
{
	static struct af_client_config cfg;
	json_t *doc, *arr;
	int rc;

	if ((rc = no_args(argc, argv, "config get-contexts")) != 0 ||
	    (rc = load_or_fail(&cfg)) != 0)
		return rc;
	if (cli->output == AF_OUT_TABLE) {
		printf("%-8s %-16s %-40s %s\n", "CURRENT", "NAME", "TARGET",
		       "TOKEN-FILE");
		for (unsigned i = 0; i < cfg.n; i++) {
			const struct af_ctx *c = &cfg.ctx[i];

			printf("%-8s %-16s %-40s %s\n",
			       strcmp(c->name, cfg.current) == 0 ? "*" : "",
			       c->name,
			       c->endpoints[0] ? c->endpoints : c->cluster,
			       c->token_file[0] ? c->token_file : "-");
		}
		return AF_EXIT_OK;
	}
	arr = json_array();
	for (unsigned i = 0; i < cfg.n; i++) {
		const struct af_ctx *c = &cfg.ctx[i];

		json_t *o = json_pack("{s:s,s:b}", "name", c->name, "current",
				      strcmp(c->name, cfg.current) == 0);

		if (c->cluster[0] != '\0')
			json_object_set_new(o, "cluster",
					    json_string(c->cluster));
		if (c->endpoints[0] != '\0')
			json_object_set_new(o, "endpoints",
					    json_string(c->endpoints));
		if (c->token_file[0] != '\0')
			json_object_set_new(o, "token_file",
					    json_string(c->token_file));
		json_array_append_new(arr, o);
	}
	doc = json_pack("{s:s,s:s?,s:o}", "path", cfg.path, "current_context",
			cfg.current[0] ? cfg.current : NULL, "contexts", arr);
	return af_out_json(doc);
}

int af_cli_config_current(struct af_cli *cli, int argc, char **argv)
{
	static struct af_client_config cfg;
	int rc;

	if ((rc = no_args(argc, argv, "config current-context")) != 0 ||
	    (rc = load_or_fail(&cfg)) != 0)
		return rc;
	if (cfg.current[0] == '\0')
		return af_cli_fail(AF_EXIT_REFUSED, "NOT_FOUND",
				   "no current context in %s (af config "
				   "use-context NAME)",
				   cfg.path);
	if (cli->output == AF_OUT_TABLE) {
		printf("%s\n", cfg.current);
		return AF_EXIT_OK;
	}
	return af_out_json(json_pack("{s:s}", "current_context", cfg.current));
}

static int one_name(int argc, char **argv, const char *usage)
{
	if (argc != 2)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE", "usage: af %s",
				   usage);
	if (!good_name(argv[1]))
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "context name \"%s\": use 1-63 letters, "
				   "digits, '.', '_' or '-'",
				   argv[1]);
	return 0;
}

static int saved(const struct af_client_config *cfg, struct af_cli *cli,
		 const char *what, const char *name)
{
	struct af_err err = {{0}};

	if (save(cfg, &err) != 0)
		return af_cli_fail(AF_EXIT_REFUSED, "IO", "%s", err.msg);
	if (cli->output == AF_OUT_TABLE) {
		printf("%s context \"%s\" (%s)\n", what, name, cfg->path);
		return AF_EXIT_OK;
	}
	return af_out_json(json_pack("{s:b,s:s,s:s,s:s}", "ok", 1, "context",
				     name, "path", cfg->path, "did", what));
}

int af_cli_config_use(struct af_cli *cli, int argc, char **argv)
{
	static struct af_client_config cfg;
	int rc;

	if ((rc = one_name(argc, argv, "config use-context NAME")) != 0 ||
	    (rc = load_or_fail(&cfg)) != 0)
		return rc;
	if (find(&cfg, argv[1]) == NULL)
		return af_cli_fail(AF_EXIT_REFUSED, "NOT_FOUND",
				   "no context \"%s\" in %s (add it with af "
				   "config set-context %s -c FILE)",
				   argv[1], cfg.path, argv[1]);
	snprintf(cfg.current, sizeof(cfg.current), "%s", argv[1]);
	return saved(&cfg, cli, "switched to", argv[1]);
}

static bool has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* A path as given on the command line, made absolute (a context is used
 * from any directory). */
static int absolute(const char *in, char *out, size_t len)
{
	char cwd[PATH_MAX];
	int n;

	if (has_ctl(in) || in[0] == '\0')
		return -1;
	if (in[0] == '/')
		n = snprintf(out, len, "%s", in);
	else if (getcwd(cwd, sizeof(cwd)) == NULL)
		return -1;
	else
		n = snprintf(out, len, "%s/%s", cwd, in);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int fill_ctx(struct af_cli *cli, struct af_ctx *c)
{
	const char *e = cli->given.endpoints;

	if (cli->given.token != NULL)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "a context keeps a token file, not a "
				   "token: use --token-file FILE");
	if (cli->given.cluster != NULL) {
		if (absolute(cli->given.cluster, c->cluster,
			     sizeof(c->cluster)) != 0)
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "bad cluster file path");
		c->endpoints[0] = '\0';
	}
	if (e != NULL) {
		if (e[0] == '\0' || strlen(e) >= sizeof(c->endpoints) ||
		    has_ctl(e))
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "bad --endpoints");
		snprintf(c->endpoints, sizeof(c->endpoints), "%s", e);
		c->cluster[0] = '\0';
	}
	if (cli->given.token_file != NULL &&
	    absolute(cli->given.token_file, c->token_file,
		     sizeof(c->token_file)) != 0)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "bad token file path");
	return 0;
}

int af_cli_config_set(struct af_cli *cli, int argc, char **argv)
{
	static struct af_client_config cfg;
	struct af_ctx *c;
	bool created = false;
	int rc;

	if ((rc = one_name(argc, argv,
			   "config set-context NAME [-c FILE | --endpoints "
			   "URL,...] [--token-file FILE]")) != 0 ||
	    (rc = load_or_fail(&cfg)) != 0)
		return rc;
	if ((c = find(&cfg, argv[1])) == NULL) {
		if (cfg.n == AF_CTX_MAX)
			return af_cli_fail(AF_EXIT_REFUSED, "LIMIT",
					   "%s has %d contexts already: "
					   "delete one first",
					   cfg.path, AF_CTX_MAX);
		c = &cfg.ctx[cfg.n++];
		memset(c, 0, sizeof(*c));
		snprintf(c->name, sizeof(c->name), "%s", argv[1]);
		created = true;
	}
	if ((rc = fill_ctx(cli, c)) != 0)
		return rc;
	if (c->cluster[0] == '\0' && c->endpoints[0] == '\0')
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "context \"%s\" needs a target: -c FILE "
				   "or --endpoints URL,...",
				   argv[1]);
	if (cfg.current[0] == '\0')
		snprintf(cfg.current, sizeof(cfg.current), "%s", c->name);
	return saved(&cfg, cli, created ? "created" : "updated", argv[1]);
}

int af_cli_config_delete(struct af_cli *cli, int argc, char **argv)
{
	static struct af_client_config cfg;
	struct af_ctx *c;
	int rc;

	if ((rc = one_name(argc, argv, "config delete-context NAME")) != 0 ||
	    (rc = load_or_fail(&cfg)) != 0)
		return rc;
	if ((c = find(&cfg, argv[1])) == NULL)
		return af_cli_fail(AF_EXIT_REFUSED, "NOT_FOUND",
				   "no context \"%s\" in %s", argv[1],
				   cfg.path);
	memmove(c, c + 1, (size_t)(&cfg.ctx[cfg.n] - (c + 1)) * sizeof(*c));
	cfg.n--;
	if (strcmp(cfg.current, argv[1]) == 0)
		cfg.current[0] = '\0';
	return saved(&cfg, cli, "deleted", argv[1]);
}
