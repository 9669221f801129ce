/* af's verb table (verbs.c): one row per verb, with its synopsis,
 * summary and help; main.c dispatches, completes and prints help from it. */
#ifndef AF_CLI_VERBS_H
#define AF_CLI_VERBS_H

#include "cli/cli.h"

#include <stddef.h>

struct af_cli_verb {
	const char *group; /* NULL for single-word verbs */
	const char *name;
	int (*fn)(struct af_cli *cli, int argc, char **argv);
	const char *usage;   /* synopsis after "af " */
	const char *summary; /* one line */
	const char *help;    /* flags and an example */
};

struct af_cli_group {
	const char *name;
	const char *summary;
	const char *example;
};

extern const struct af_cli_group af_cli_groups[];
extern const size_t af_cli_ngroups;
extern const struct af_cli_verb af_cli_verbs[];
extern const size_t af_cli_nverbs;

/* af completion bash|zsh (main.c). */
int af_cli_completion(struct af_cli *cli, int argc, char **argv);

#endif
