#include "cli/watch.h"
#include "cli/output.h"
#include "common/timeutil.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

int af_watch_args(struct af_watch *w, int argc, char **argv)
{
	int out = 0;

	*w = (struct af_watch){.interval_ms = AF_WATCH_DEFAULT_MS};
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;

		if (strcmp(a, "--watch") == 0) {
			w->on = true;
			continue;
		}
		if (strcmp(a, "--watch-interval") != 0 &&
		    strcmp(a, "--watch-count") != 0) {
			argv[out++] = argv[i];
			continue;
		}
		if (v == NULL) {
			af_cli_fail(AF_EXIT_USAGE, "USAGE", "%s needs a value",
				    a);
			return -1;
		}
		i++;
		w->on = true;
		if (a[8] == 'i' &&
		    (af_parse_duration_ms(v, &w->interval_ms) != 0 ||
		     w->interval_ms < AF_WATCH_MIN_MS ||
		     w->interval_ms > AF_WATCH_MAX_MS)) {
			af_cli_fail(AF_EXIT_USAGE, "USAGE",
				    "--watch-interval \"%s\": give a duration "
				    "from 200ms to 1h",
				    v);
			return -1;
		}
		if (a[8] == 'c') {
			errno = 0;
			w->count = strtoull(v, &end, 10);
			if (errno || *end || v[0] == '-' || w->count < 1 ||
			    w->count > 1000000) {
				af_cli_fail(AF_EXIT_USAGE, "USAGE",
					    "--watch-count \"%s\": give a "
					    "number from 1 to 1000000",
					    v);
				return -1;
			}
		}
	}
	return out;
}

/* Sleeps ms, or less when Ctrl-C comes. */
static void pause_ms(uint64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
			      .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (!interrupted && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int af_watch_run(struct af_cli *cli, const struct af_watch *w,
		 int (*once)(struct af_cli *cli, void *arg), void *arg)
{
	bool redraw = cli->output == AF_OUT_TABLE && isatty(STDOUT_FILENO);
	struct sigaction sa = {.sa_handler = on_sigint};
	int rc = 0;

	if (!w->on)
		return once(cli, arg);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL); /* no SA_RESTART: wake the sleep */
	for (uint64_t n = 0; !interrupted && (w->count == 0 || n < w->count);
	     n++) {
		char t[32];

		if (redraw) {
			printf("\033[H\033[2J");
		} else if (cli->output == AF_OUT_TABLE) {
			printf("%s--- %s\n", n ? "\n" : "",
			       af_fmt_ms(af_wall_ms(), t));
		} /* YAML documents after the first start with "---" */
		fflush(stdout);
		rc = once(cli, arg);
		fflush(stdout);
		if (rc == AF_EXIT_USAGE)
			return rc;
		if (w->count == 0 || n + 1 < w->count)
			pause_ms(w->interval_ms);
	}
	return interrupted ? AF_EXIT_OK : rc;
}

int af_watch_verb(struct af_cli *cli, int argc, char **argv, const char *verb,
		  int (*once)(struct af_cli *cli, void *arg))
{
	struct af_watch w;

	if ((argc = af_watch_args(&w, argc, argv)) < 0)
		return AF_EXIT_USAGE;
	if (argc > 1)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "%s: unexpected \"%s\"", verb, argv[1]);
	return af_watch_run(cli, &w, once, NULL);
}
