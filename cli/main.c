/* af: the command-line client. Global flags, then a verb table; every verb
 * and every group answers --help with its flags and an example. */
#include "cli/cli.h"
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

static const char globals_help[] =
	"global flags (anywhere on the line):\n"
	"  -c, --cluster FILE   cluster file (env AF_CLUSTER)\n"
	"  --endpoints URL,...  API URLs instead of a cluster file (env\n"
	"                       AF_ENDPOINTS, used when no -c is given)\n"
	"  --token-file FILE    read the API token from FILE (env\n"
	"                       AF_TOKEN_FILE); keeps it out of ps\n"
	"  --token T            API token (env AF_TOKEN)\n"
	"  --context NAME       a context of the client config (env\n"
	"                       AF_CONTEXT; af config get-contexts)\n"
	"  -o, --output FMT     table (default), json, yaml or csv (tables)\n"
	"  --timeout DUR        give up after DUR (default 10s)\n"
	"  --stale              read from the first endpoint, no leader\n"
	"exit codes: 0 ok, 1 refused by the cluster, 2 usage error,\n"
	"            3 cluster unavailable (no leader, time out)\n";

/* ------------------------------------------------------ completion */

/* Global flags that take a value, and those that do not. */
static const char globals_valued[] =
	"-c --cluster --endpoints --token --token-file --context -o --output "
	"--timeout";
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
static void verb_flags(const struct af_cli_verb *v, FILE *f)
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
		"yaml csv\" -- \"$cur\")); return ;;\n"
		"\tesac\n\tcase \" %s \" in\n"
		"\t*\" $prev \"*) COMPREPLY=($(compgen -f -- \"$cur\")); "
		"return ;;\n\tesac\n"
		"\tlocal words=\"%s %s\"\n\tcase $first in\n"
		"\t'') [[ $cur == -* ]] || words=\"",
		globals_valued, globals_valued, globals_valued, globals_plain);
	for (size_t i = 0; i < af_cli_ngroups; i++)
		fprintf(f, "%s%s", i ? " " : "", af_cli_groups[i].name);
	for (size_t i = 0; i < af_cli_nverbs; i++)
		if (af_cli_verbs[i].group == NULL)
			fprintf(f, " %s", af_cli_verbs[i].name);
	fprintf(f, " help\" ;;\n");
	for (size_t g = 0; g < af_cli_ngroups; g++) {
		fprintf(f,
			"\t%s)\n\t\tcase $second in\n\t\t'') "
			"[[ $cur == -* ]] || words=\"",
			af_cli_groups[g].name);
		for (size_t i = 0, k = 0; i < af_cli_nverbs; i++)
			if (af_cli_verbs[i].group &&
			    strcmp(af_cli_verbs[i].group,
				   af_cli_groups[g].name) == 0)
				fprintf(f, "%s%s", k++ ? " " : "",
					af_cli_verbs[i].name);
		fprintf(f, "\" ;;\n");
		for (size_t i = 0; i < af_cli_nverbs; i++)
			if (af_cli_verbs[i].group &&
			    strcmp(af_cli_verbs[i].group,
				   af_cli_groups[g].name) == 0) {
				fprintf(f, "\t\t%s) words=\"$words",
					af_cli_verbs[i].name);
				verb_flags(&af_cli_verbs[i], f);
				fprintf(f, "\" ;;\n");
			}
		fprintf(f, "\t\tesac ;;\n");
	}
	for (size_t i = 0; i < af_cli_nverbs; i++)
		if (af_cli_verbs[i].group == NULL) {
			fprintf(f, "\t%s) ", af_cli_verbs[i].name);
			if (af_cli_verbs[i].fn == af_cli_completion)
				fprintf(f, "words=\"bash zsh\" ;;\n");
			else {
				fprintf(f, "words=\"$words");
				verb_flags(&af_cli_verbs[i], f);
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
int af_cli_completion(struct af_cli *cli, int argc, char **argv)
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
	for (size_t i = 0; i < af_cli_nverbs; i++) {
		char name[64];

		snprintf(name, sizeof(name), "%s%s%s",
			 af_cli_verbs[i].group ? af_cli_verbs[i].group : "",
			 af_cli_verbs[i].group ? " " : "",
			 af_cli_verbs[i].name);
		fprintf(f, "  af %-24s %s\n", name, af_cli_verbs[i].summary);
	}
	fprintf(f,
		"\n%s\nAny verb or group takes --help (af policy --help, "
		"af policy apply --help).\n",
		globals_help);
}

static void group_help(FILE *f, const struct af_cli_group *g)
{
	fprintf(f, "af %s: %s\n\nverbs:\n", g->name, g->summary);
	for (size_t i = 0; i < af_cli_nverbs; i++)
		if (af_cli_verbs[i].group &&
		    strcmp(af_cli_verbs[i].group, g->name) == 0)
			fprintf(f, "  af %s\n      %s\n", af_cli_verbs[i].usage,
				af_cli_verbs[i].summary);
	fprintf(f, "\nexample:\n  %s\n\nSee af %s VERB --help.\n", g->example,
		g->name);
}

static void verb_help(const struct af_cli_verb *v)
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
	else if (strcmp(s, "csv") == 0)
		*ret = AF_OUT_CSV;
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
		    strcmp(a, "--context") == 0 ||
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
			else if (strcmp(a, "--context") == 0)
				cli->context = v;
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
static int run(const struct af_cli_verb *v, struct af_cli *cli, int argc,
	       char **argv)
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
	for (size_t i = 0; i < af_cli_nverbs; i++) {
		const struct af_cli_verb *v = &af_cli_verbs[i];

		if (v->group == NULL && strcmp(argv[0], v->name) == 0)
			return run(v, cli, n, argv);
		if (v->group != NULL && n >= 2 &&
		    strcmp(argv[0], v->group) == 0 &&
		    strcmp(argv[1], v->name) == 0)
			return run(v, cli, n - 1, argv + 1);
	}
	for (size_t i = 0; i < af_cli_ngroups; i++) {
		if (strcmp(argv[0], af_cli_groups[i].name) != 0)
			continue;
		if (n >= 2 && is_help(argv[1])) {
			group_help(stdout, &af_cli_groups[i]);
			return AF_EXIT_OK;
		}
		if (n >= 2)
			af_cli_fail(AF_EXIT_USAGE, "USAGE",
				    "unknown verb \"%s %s\"", argv[0], argv[1]);
		group_help(stderr, &af_cli_groups[i]);
		return AF_EXIT_USAGE;
	}
	return af_cli_fail(AF_EXIT_USAGE, "USAGE",
			   "unknown verb \"%s\" (see af --help)", argv[0]);
}

/* Where the client goes and who it is, flags over the environment over
 * the context (cli/config.h): --endpoints, then -c, then AF_ENDPOINTS,
 * then AF_CLUSTER; --token or --token-file (the last given), then
 * AF_TOKEN_FILE, then AF_TOKEN. af config verbs use no context. */
static int take_env(struct af_cli *cli, bool cluster_flag, bool config_verb)
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
	if (config_verb)
		return 0; /* a token file is only recorded */
	if (af_config_apply(cli,
			    cli->endpoints == NULL && cli->cluster_file == NULL,
			    cli->token == NULL && cli->token_file == NULL) != 0)
		return -1;
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
	if (n < 0)
		return AF_EXIT_USAGE;
	cli.given.cluster = cli.cluster_file;
	cli.given.endpoints = cli.endpoints;
	cli.given.token_file = cli.token_file;
	cli.given.token = cli.token;
	if (take_env(&cli, cli.cluster_file != NULL,
		     n > 0 && strcmp(argv[1], "config") == 0) != 0)
		return AF_EXIT_USAGE;
	af_out_set_format(cli.output == AF_OUT_TABLE ? AF_OUT_JSON
						     : cli.output);
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
