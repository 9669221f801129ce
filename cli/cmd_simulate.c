/*
 * af policy simulate: replays decision logs through the pure evaluator
 * under a baseline (by default each record's own revision, fetched from
 * the cluster) and a candidate bundle, both with the record's live inputs,
 * and reports what the candidate would have changed (sim_report.c).
 */
#include "cli/replay.h"
#include "cli/sim.h"
#include "common/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SIM_LINE_MAX (1u << 20)
#define SIM_WARN_MAX 5
#define SIM_LOGS_MAX 10000 /* files, after expanding directories */

/* ---------------------------------------------------------------- time */

/* Days since the epoch of a civil date (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int digits(const char *s, int n, int64_t *ret)
{
	int64_t v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return 0;
}

/* "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SS[.mmm]Z" -> epoch ms. */
int sim_parse_time(const char *s, int64_t *ret)
{
	int64_t y, mo, d, h = 0, mi = 0, sec = 0, ms = 0;
	size_t n = strlen(s);

	if (n < 10 || digits(s, 4, &y) || s[4] != '-' ||
	    digits(s + 5, 2, &mo) || s[7] != '-' || digits(s + 8, 2, &d) ||
	    mo < 1 || mo > 12 || d < 1 || d > 31)
		return -1;
	if (n > 10) {
		if (n < 20 || s[10] != 'T' || digits(s + 11, 2, &h) ||
		    s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
		    digits(s + 17, 2, &sec) || h > 23 || mi > 59 || sec > 60)
			return -1;
		if (s[19] == '.' && n == 24 && digits(s + 20, 3, &ms) == 0 &&
		    s[23] == 'Z')
			;
		else if (!(s[19] == 'Z' && n == 20))
			return -1;
	}
	*ret = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) *
		1000) +
	       ms;
	return 0;
}

/* --------------------------------------------------------------- args */

static int usage(void)
{
	return af_cli_fail(AF_EXIT_USAGE, "USAGE",
			   "usage: af policy simulate -f CANDIDATE --log "
			   "PATH... [--baseline REV | --baseline-file FILE] "
			   "[--models FILE] [--since T] [--until T] "
			   "[--down REGION|MODEL@REGION,...] [--fail-if EXPR] "
			   "(-f may be left out with --down)");
}

static int parse_value(struct sim_args *a, const char *f, const char *v)
{
	char *end;

	if (strcmp(f, "-f") == 0 || strcmp(f, "--file") == 0)
		a->file = v;
	else if (strcmp(f, "--baseline-file") == 0)
		a->baseline_file = v;
	else if (strcmp(f, "--models") == 0)
		a->models = v;
	else if (strcmp(f, "--fail-if") == 0)
		return sim_parse_fail_if(v, a);
	else if (strcmp(f, "--down") == 0)
		return sim_parse_down(v, a);
	else if (strcmp(f, "--baseline") == 0) {
		a->baseline_rev = strtoull(v, &end, 10);
		if (*end != '\0' || a->baseline_rev == 0 || v[0] == '-')
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "--baseline takes a revision "
					   "number, got \"%s\"",
					   v);
	} else if (strcmp(f, "--since") == 0 || strcmp(f, "--until") == 0) {
		int64_t *dst = f[2] == 's' ? &a->since_ms : &a->until_ms;

		if (sim_parse_time(v, dst) != 0)
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "%s takes YYYY-MM-DD or "
					   "YYYY-MM-DDTHH:MM:SS[.mmm]Z, got "
					   "\"%s\"",
					   f, v);
	} else
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "policy simulate: unknown flag \"%s\"", f);
	return 0;
}

static int parse_args(int argc, char **argv, struct sim_args *a)
{
	bool in_logs = false;
	int rc;

	a->since_ms = INT64_MIN;
	a->until_ms = INT64_MAX;
	a->fail_changed_pct = a->fail_cost_pct = -1;
	a->fail_new_denials = -1;
	for (int i = 1; i < argc; i++) {
		const char *f = argv[i];

		if (strcmp(f, "--log") == 0) {
			in_logs = true;
			continue;
		}
		if (f[0] != '-' && in_logs) {
			if (a->nlogs == SIM_LOGS_MAX)
				return af_cli_fail(AF_EXIT_USAGE, "USAGE",
						   "more than %d --log paths",
						   SIM_LOGS_MAX);
			a->logs[a->nlogs++] = f;
			continue;
		}
		in_logs = false;
		if (f[0] != '-' || i + 1 >= argc)
			return f[0] != '-' ? af_cli_fail(AF_EXIT_USAGE, "USAGE",
							 "unexpected argument "
							 "\"%s\"",
							 f)
					   : af_cli_fail(AF_EXIT_USAGE, "USAGE",
							 "%s needs a value", f);
		if ((rc = parse_value(a, f, argv[++i])) != 0)
			return rc;
	}
	if ((a->file == NULL && a->ndown == 0) || a->nlogs == 0)
		return usage();
	if (a->baseline_file != NULL && a->baseline_rev != 0)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "give --baseline REV or --baseline-file "
				   "FILE, not both");
	if (a->baseline_file != NULL && a->models == NULL)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "--baseline-file needs --models FILE (the "
				   "offline form uses no cluster)");
	return 0;
}

/* ------------------------------------------------------------- records */

static void warn(struct sim *s, const char *path, uint64_t line,
		 const char *why)
{
	s->st.skipped++;
	if (s->nwarn++ < SIM_WARN_MAX)
		fprintf(stderr, "af: warning: %s:%" PRIu64 ": skipped: %s\n",
			path, line, why);
}

/* Decides req under the record's live inputs (and, when down, the
 * --down pairs cooling) with view v; unknown class: *ret_rc AF_ENOTFOUND.
 * Returns 0 or an exit code (printed). */
static int replay_one(struct sim *s, const struct af_policy_view *v, bool down,
		      const char *id, struct af_decision *d, int *ret_rc)
{
	struct af_live live;
	int rc;

	af_replay_live_bind(s->live, v, &live);
	if (down && (rc = sim_down_live(s, v, &live)) != 0)
		return rc;
	*ret_rc = af_decide(v, s->req, &live, id, d, NULL);
	if (*ret_rc == 0)
		af_replay_lease(s->live, d);
	return 0;
}

static int baseline_view(struct sim *s, uint64_t rev, bool canary,
			 const struct af_policy_view **ret)
{
	struct rp_bundle *rb;
	int rc;

	if (s->args->baseline_file != NULL)
		return rp_view(&s->env, &s->env.base[0], canary, ret);
	rc = rp_baseline(&s->env,
			 s->args->baseline_rev ? s->args->baseline_rev : rev,
			 &rb);
	return rc != 0 ? rc : rp_view(&s->env, rb, canary, ret);
}

static const char *rec_read(struct sim *s, json_t *root, struct sim_rec *r)
{
	struct af_request_error rerr;
	struct af_err err = {{0}};
	json_t *d = json_object_get(root, "decision"), *v;
	const char *ts, *cohort;
	int64_t ms;

	if (!json_is_object(root) || !json_is_object(d))
		return "not a decision record (no \"decision\" object)";
	r->id = json_string_value(json_object_get(root, "decision_id"));
	v = json_object_get(root, "revision");
	if (r->id == NULL || !json_is_integer(v) || json_integer_value(v) < 1)
		return "no decision_id or revision";
	r->revision = (uint64_t)json_integer_value(v);
	v = json_object_get(root, "registry_revision");
	r->registry_revision =
		json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
	cohort = json_string_value(
		json_object_get(json_object_get(d, "policy"), "cohort"));
	r->canary = cohort != NULL && strcmp(cohort, "canary") == 0;
	ts = json_string_value(json_object_get(root, "ts"));
	if (s->args->since_ms != INT64_MIN || s->args->until_ms != INT64_MAX) {
		if (ts == NULL || sim_parse_time(ts, &ms) != 0)
			return "no valid ts for --since/--until";
		if (ms < s->args->since_ms || ms >= s->args->until_ms)
			return ""; /* outside the window: not counted */
	}
	if (af_request_from_json(json_object_get(root, "request"), s->req,
				 &rerr) != 0) {
		snprintf(s->why, sizeof(s->why), "request: %s", rerr.message);
		return s->why;
	}
	if (af_replay_live_parse(json_object_get(root, "live"), s->live,
				 &err) != 0) {
		snprintf(s->why, sizeof(s->why), "%s", err.msg);
		return s->why;
	}
	return NULL;
}

/* One log line. Returns 0 or an exit code (printed). */
static int sim_line(struct sim *s, const char *path, uint64_t lineno,
		    const char *line, size_t len)
{
	const struct af_policy_view *bv, *cv;
	struct af_decision bd, cd;
	json_error_t jerr;
	const char *why;
	struct sim_rec r = {.line = line, .len = len};
	int rc, brc, crc;
	json_t *root = json_loadb(line, len, 0, &jerr);

	if (root == NULL) {
		warn(s, path, lineno, "not JSON");
		return 0;
	}
	why = rec_read(s, root, &r);
	if (why != NULL) {
		if (why[0] != '\0')
			warn(s, path, lineno, why);
		json_decref(root);
		return 0;
	}
	rc = baseline_view(s, r.revision, r.canary, &bv);
	cv = bv; /* without -f: the baseline under the outage */
	if (rc == 0 && s->args->file != NULL)
		rc = rp_view(&s->env, &s->env.cand, r.canary, &cv);
	if (rc == 0)
		rc = replay_one(s, bv, false, r.id, &bd, &brc);
	if (rc == 0)
		rc = replay_one(s, cv, s->args->ndown > 0, r.id, &cd, &crc);
	if (rc == 0) {
		sim_count(s, &r, &bd, brc, &cd, crc);
		if (s->args->ndown > 0)
			sim_down_count(s, &r, cv, &bd, brc, &cd, crc);
	}
	json_decref(root);
	return rc;
}

/* Reads one line of at most SIM_LINE_MAX bytes into buf (its newline
 * dropped); a longer one is read to its end and dropped (*ret_long).
 * Returns false at the end of the file. */
static bool read_line(FILE *f, char *buf, size_t *ret_len, bool *ret_long)
{
	size_t n = 0;
	int ch;

	*ret_long = false;
	while ((ch = getc_unlocked(f)) != EOF && ch != '\n') {
		if (n < SIM_LINE_MAX)
			buf[n++] = (char)ch;
		else
			*ret_long = true;
	}
	if (ch == EOF && n == 0 && !*ret_long)
		return false;
	while (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*ret_len = n;
	return true;
}

static int sim_file(struct sim *s, const char *path)
{
	FILE *f = fopen(path, "r");
	char *line;
	size_t n;
	bool too_long;
	uint64_t lineno = 0;
	int rc = 0;

	if (f == NULL)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE", "--log %s: %s", path,
				   strerror(errno));
	if ((line = malloc(SIM_LINE_MAX + 1)) == NULL) {
		fclose(f);
		return af_cli_fail(AF_EXIT_UNAVAILABLE, "NOMEM",
				   "--log %s: out of memory", path);
	}
	while (rc == 0 && read_line(f, line, &n, &too_long)) {
		lineno++;
		if (too_long)
			warn(s, path, lineno, "line over 1 MiB");
		else if (n > 0)
			rc = sim_line(s, path, lineno, line, n);
	}
	free(line);
	fclose(f);
	return rc;
}

static int cmp_name(const void *a, const void *b)
{
	return strverscmp(*(char *const *)a, *(char *const *)b);
}

/* A directory: its decisions-*.jsonl files, oldest first. */
static int sim_dir(struct sim *s, const char *dir, DIR *d)
{
	char **names = af_calloc(SIM_LOGS_MAX, sizeof(char *));
	char path[4400];
	struct dirent *e;
	size_t n = 0;
	int rc = 0;

	if (names == NULL) {
		closedir(d);
		return af_cli_fail(AF_EXIT_REFUSED, "ENOMEM", "out of memory");
	}
	while ((e = readdir(d)) != NULL && n < SIM_LOGS_MAX) {
		size_t len = strlen(e->d_name);

		if (strncmp(e->d_name, "decisions-", 10) == 0 && len > 16 &&
		    strcmp(e->d_name + len - 6, ".jsonl") == 0 &&
		    (names[n] = af_strdup(e->d_name)) != NULL)
			n++;
	}
	closedir(d);
	qsort(names, n, sizeof(char *), cmp_name);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (rc == 0)
			rc = sim_file(s, path);
		af_free(names[i]);
	}
	af_free(names);
	return rc;
}

static int sim_path(struct sim *s, const char *path)
{
	DIR *d = opendir(path);

	if (d != NULL)
		return sim_dir(s, path, d);
	return sim_file(s, path);
}

/* ---------------------------------------------------------------- verb */

static int sim_setup(struct af_cli *cli, struct sim *s)
{
	const struct sim_args *a = s->args;
	int rc;

	s->env.cli = cli;
	s->req = af_malloc(sizeof(*s->req));
	s->live = af_malloc(sizeof(*s->live));
	if (s->req == NULL || s->live == NULL || sim_stats_init(&s->st) != 0)
		return af_cli_fail(AF_EXIT_REFUSED, "ENOMEM", "out of memory");
	if (a->file != NULL &&
	    (rc = rp_bundle_file(a->file, &s->env.cand.b)) != 0)
		return rc;
	if (a->baseline_file != NULL) {
		rc = rp_bundle_file(a->baseline_file, &s->env.base[0].b);
		if (rc != 0)
			return rc;
		s->env.nbase = 1;
	}
	return rp_registry(&s->env, a->models);
}

int af_cli_policy_simulate(struct af_cli *cli, int argc, char **argv)
{
	static const char *logs[SIM_LOGS_MAX];
	static struct sim_args a;
	static struct sim s;
	int rc;

	memset(&a, 0, sizeof(a));
	memset(&s, 0, sizeof(s));
	a.logs = logs;
	s.args = &a;
	if ((rc = parse_args(argc, argv, &a)) != 0)
		return rc;
	rc = sim_setup(cli, &s);
	for (int i = 0; rc == 0 && i < a.nlogs; i++)
		rc = sim_path(&s, a.logs[i]);
	if (rc == 0)
		rc = sim_report(cli, &s);
	sim_stats_free(&s.st);
	sim_down_free(&s);
	rp_env_free(&s.env);
	af_free(s.req);
	af_free(s.live);
	return rc;
}
