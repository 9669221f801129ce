/* --watch for status verbs: the verb's output again every interval until
 * Ctrl-C (exit 0) or --watch-count refreshes. On a terminal a table
 * redraws in place; otherwise (a pipe, a file, -o json or yaml) every
 * refresh is appended: tables under a "--- TIME" line, JSON documents one
 * after another, YAML documents separated by "---". */
#ifndef AF_CLI_WATCH_H
#define AF_CLI_WATCH_H

#include "cli/cli.h"

#include <stdbool.h>
#include <stdint.h>

#define AF_WATCH_MIN_MS 200u
#define AF_WATCH_MAX_MS 3600000u
#define AF_WATCH_DEFAULT_MS 2000u

struct af_watch {
	bool on;
	uint64_t interval_ms;
	uint64_t count; /* refreshes; 0: until Ctrl-C */
};

/* Help lines for the flags below. */
#define AF_WATCH_HELP                                                          \
	"  --watch              print again every interval until Ctrl-C\n"     \
	"  --watch-interval DUR time between refreshes (default 2s,\n"         \
	"                       200ms to 1h)\n"                                \
	"  --watch-count N      stop after N refreshes (1-1000000)\n"

/* Takes --watch, --watch-interval and --watch-count out of argv (in
 * place). Returns the new argc, or -1 after printing a usage error. */
int af_watch_args(struct af_watch *w, int argc, char **argv);

/* Runs once(cli, arg) once, or as --watch says. The exit code is the last
 * run's, 0 when Ctrl-C ends a watch. */
int af_watch_run(struct af_cli *cli, const struct af_watch *w,
		 int (*once)(struct af_cli *cli, void *arg), void *arg);

/* A status verb taking only the watch flags: parses them (anything else
 * is a usage error naming `verb`), then af_watch_run. */
int af_watch_verb(struct af_cli *cli, int argc, char **argv, const char *verb,
		  int (*once)(struct af_cli *cli, void *arg));

#endif
