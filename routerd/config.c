/* routerd's option table and its parser (see config.h). */
#include "routerd/config.h"
#include "routerd/decision_log.h"
#include "routerd/otlp.h"
#include "routerd/routerd.h"
#include "routerd/workflow.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

enum opt_type { T_STR, T_UINT, T_LEVEL, T_BOOL };

enum opt_row {
	O_CONFIG,
	O_LISTEN,
	O_ID,
	O_CACHE,
	O_LOG,
	O_THREADS,
	O_DLOG,
	O_DLOG_MB,
	O_DLOG_KEEP,
	O_OTLP,
	O_CHECK,
	O_MAX_WF,
	O_OVERRIDE_FILE,
	O_QUOTA_TTL,
};

struct opt {
	const char *name;
	enum opt_type type;
	long min, max; /* T_UINT: value; T_STR: length */
	const char *def;
	const char *env;
	const char *arg;
	const char *help;
};

/* The one table. A row's position is its enum opt_row and its getopt key
 * (offset by OPT_KEY). */
static const struct opt opts[] = {
	[O_CONFIG] = {"config", T_STR, 1, 4095, NULL, NULL, "FILE",
		      "cluster file (required)"},
	[O_LISTEN] = {"listen", T_STR, 3, 300, NULL, NULL, "HOST:PORT",
		      "HTTP API address, bound exactly (required)"},
	[O_ID] = {"id", T_STR, 1, ROUTERD_ID_MAX - 25, NULL, NULL, "NAME",
		  "routerd id (default: hostname:port)"},
	[O_CACHE] = {"cache", T_STR, 1, 4000, NULL, NULL, "DIR",
		     "persist the last good view; serve it at start"},
	[O_LOG] = {"log-level", T_LEVEL, 0, 0, "info", NULL, "LEVEL",
		   "debug, info, warn or error"},
	[O_THREADS] = {"http-threads", T_UINT, 1, 16, "2",
		       "AF_ROUTERD_HTTP_THREADS", "N", "HTTP polling threads"},
	[O_DLOG] = {"decision-log", T_STR, 1, 4000, NULL,
		    "AF_ROUTERD_DECISION_LOG", "DIR",
		    "write one JSON line per decision into DIR"},
	[O_DLOG_MB] = {"decision-log-max-mb", T_UINT, 1, DLOG_MAX_MB_LIMIT,
		       "64", NULL, "MB",
		       "start a new decision log file at this size"},
	[O_DLOG_KEEP] = {"decision-log-keep", T_UINT, 1, DLOG_KEEP_LIMIT, "16",
			 NULL, "N",
			 "decision log files kept (the oldest are deleted)"},
	[O_OTLP] = {"otlp-endpoint", T_STR, 1, ROUTERD_OTLP_URL_MAX, NULL,
		    "AF_ROUTERD_OTLP_ENDPOINT", "URL",
		    "export one OTLP/HTTP JSON span per decision to URL"},
	[O_CHECK] = {"check", T_BOOL, 0, 0, NULL, NULL, NULL,
		     "validate the options and the cluster file, then exit"},
	[O_MAX_WF] = {"max-workflows", T_UINT, 1, ROUTERD_WORKFLOWS_MAX,
		      "100000", "AF_ROUTERD_MAX_WORKFLOWS", "N",
		      "workflows tracked at once (the least recently used "
		      "make room)"},
	[O_OVERRIDE_FILE] = {"override-file", T_STR, 1, 4095, NULL, NULL,
			     "FILE",
			     "emergency overrides to enforce with no "
			     "controld (re-read on change and SIGHUP)"},
	[O_QUOTA_TTL] = {"quota-lease-ttl-ms", T_UINT, 1000, 60000, "15000",
			 "AF_ROUTERD_QUOTA_LEASE_TTL_MS", "MS",
			 "quota leases last this long unrenewed (what a "
			 "dead routerd's share is lost for)"},
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))
#define OPT_KEY 256
#define KEY_HELP 'h'
#define KEY_VERSION (OPT_KEY + 100)

_Static_assert(N_OPTS <= sizeof(((struct routerd_config *)0)->source) /
				 sizeof(const char *),
	       "routerd_config.source has a slot per option");

static int set_uint(const struct opt *o, const char *what, const char *v,
		    unsigned *ret, struct af_err *err)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < o->min || n > o->max)
		return af_errf(err, AF_EINVAL,
			       "%s: \"%s\" is not a number from %ld to %ld",
			       what, v, o->min, o->max);
	*ret = (unsigned)n;
	return 0;
}

/* Stores value v of row r; from: "flag", "env" or "default". */
static int set(struct routerd_config *c, enum opt_row r, const char *v,
	       const char *from, struct af_err *err)
{
	const struct opt *o = &opts[r];
	size_t len = v != NULL ? strlen(v) : 0;
	char what[64];

	if (strcmp(from, "env") == 0)
		snprintf(what, sizeof(what), "%s", o->env);
	else
		snprintf(what, sizeof(what), "--%s", o->name);
	c->source[r] = from;
	switch (o->type) {
	case T_BOOL:
		c->check = true;
		return 0;
	case T_LEVEL:
		if (af_log_parse_level(v, &c->log_level) != 0)
			return af_errf(err, AF_EINVAL,
				       "%s: \"%s\": expected debug, info, "
				       "warn or error",
				       what, v);
		return 0;
	case T_UINT:
		return set_uint(o, what, v,
				r == O_THREADS	   ? &c->http_threads
				: r == O_DLOG_MB   ? &c->decision_log_max_mb
				: r == O_MAX_WF	   ? &c->max_workflows
				: r == O_QUOTA_TTL ? &c->quota_lease_ttl_ms
						   : &c->decision_log_keep,
				err);
	case T_STR:
		break;
	}
	if ((long)len < o->min || (long)len > o->max)
		return af_errf(err, AF_EINVAL, "%s: %ld to %ld characters",
			       what, o->min, o->max);
	if (r == O_CONFIG)
		c->config = v;
	else if (r == O_LISTEN)
		c->listen = v;
	else if (r == O_ID)
		c->id = v;
	else if (r == O_DLOG)
		c->decision_log = v;
	else if (r == O_OTLP)
		return (c->otlp_endpoint = v,
			routerd_otlp_url(v, NULL, 0, err));
	else if (r == O_OVERRIDE_FILE)
		c->override_file = v;
	else
		c->cache = v;
	return 0;
}

/* Defaults, then environment variables. */
static int set_defaults(struct routerd_config *c, struct af_err *err)
{
	for (unsigned i = 0; i < N_OPTS; i++) {
		const char *e = opts[i].env ? getenv(opts[i].env) : NULL;
		int rc = 0;

		if (e != NULL)
			rc = set(c, (enum opt_row)i, e, "env", err);
		else if (opts[i].def != NULL)
			rc = set(c, (enum opt_row)i, opts[i].def, "default",
				 err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static void long_options(struct option *lo)
{
	unsigned i;

	for (i = 0; i < N_OPTS; i++)
		lo[i] = (struct option){opts[i].name,
					opts[i].type == T_BOOL
						? no_argument
						: required_argument,
					NULL, OPT_KEY + (int)i};
	lo[i++] = (struct option){"help", no_argument, NULL, KEY_HELP};
	lo[i++] = (struct option){"version", no_argument, NULL, KEY_VERSION};
	lo[i] = (struct option){NULL, 0, NULL, 0};
}

static int parse_argv(int argc, char **argv, struct routerd_config *c,
		      struct af_err *err)
{
	struct option lo[N_OPTS + 3];
	int k, rc;

	long_options(lo);
	opterr = 0;
	optind = 0; /* glibc: start over (tests parse more than once) */
	while ((k = getopt_long(argc, argv, ":c:h", lo, NULL)) != -1) {
		if (k == 'c')
			k = OPT_KEY + O_CONFIG;
		if (k == KEY_HELP) {
			c->help = true;
		} else if (k == KEY_VERSION) {
			c->version = true;
		} else if (k >= OPT_KEY && k < OPT_KEY + (int)N_OPTS) {
			rc = set(c, (enum opt_row)(k - OPT_KEY), optarg, "flag",
				 err);
			if (rc != 0)
				return rc;
		} else if (k == ':') {
			return af_errf(err, AF_EINVAL,
				       "option \"%s\" needs a value",
				       argv[optind - 1]);
		} else {
			return af_errf(err, AF_EINVAL,
				       "bad option \"%s\" (see --help)",
				       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return af_errf(err, AF_EINVAL, "unexpected argument \"%s\"",
			       argv[optind]);
	return 0;
}

int routerd_config_parse(int argc, char **argv, struct routerd_config *c,
			 struct af_err *err)
{
	int rc;

	memset(c, 0, sizeof(*c));
	if ((rc = set_defaults(c, err)) != 0 ||
	    (rc = parse_argv(argc, argv, c, err)) != 0)
		return rc;
	if (c->help || c->version)
		return 0;
	if (c->config == NULL || c->listen == NULL)
		return af_errf(err, AF_EINVAL,
			       "-c FILE and --listen HOST:PORT are required");
	return 0;
}

void routerd_config_usage(FILE *f)
{
	char left[64];

	fprintf(f, "usage: routerd -c FILE --listen HOST:PORT [options]\n");
	for (unsigned i = 0; i < N_OPTS; i++) {
		const struct opt *o = &opts[i];

		snprintf(left, sizeof(left), "%s--%s%s%s",
			 i == O_CONFIG ? "-c, " : "", o->name,
			 o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(f, "  %-24s %s", left, o->help);
		if (o->type == T_UINT)
			fprintf(f, " (%ld..%ld)", o->min, o->max);
		if (o->def != NULL)
			fprintf(f, " [default %s]", o->def);
		if (o->env != NULL)
			fprintf(f, " [env %s]", o->env);
		fputc('\n', f);
	}
}

void routerd_config_print(const struct routerd_config *c, FILE *f)
{
	static const char *const levels[] = {"debug", "info", "warn", "error"};
	const char *lv =
		(unsigned)c->log_level < 4 ? levels[c->log_level] : "?";

	fprintf(f, "config=%s (flag)\nlisten=%s (flag)\n", c->config,
		c->listen);
	fprintf(f, "id=%s (%s)\n", c->id ? c->id : "hostname:port",
		c->id ? "flag" : "default");
	fprintf(f, "cache=%s (%s)\n", c->cache ? c->cache : "-",
		c->cache ? "flag" : "default");
	fprintf(f, "override-file=%s (%s)\n",
		c->override_file ? c->override_file : "-",
		c->override_file ? "flag" : "default");
	fprintf(f, "log-level=%s (%s)\n", lv, c->source[O_LOG]);
	fprintf(f, "http-threads=%u (%s)\n", c->http_threads,
		c->source[O_THREADS]);
	fprintf(f, "decision-log=%s (%s)\n",
		c->decision_log ? c->decision_log : "-",
		c->decision_log ? c->source[O_DLOG] : "default");
	fprintf(f, "decision-log-max-mb=%u (%s)\n", c->decision_log_max_mb,
		c->source[O_DLOG_MB]);
	fprintf(f, "decision-log-keep=%u (%s)\n", c->decision_log_keep,
		c->source[O_DLOG_KEEP]);
	fprintf(f, "max-workflows=%u (%s)\n", c->max_workflows,
		c->source[O_MAX_WF]);
	fprintf(f, "quota-lease-ttl-ms=%u (%s)\n", c->quota_lease_ttl_ms,
		c->source[O_QUOTA_TTL]);
	fprintf(f, "otlp-endpoint=%s (%s)\n",
		c->otlp_endpoint ? c->otlp_endpoint : "-",
		c->otlp_endpoint ? c->source[O_OTLP] : "default");
}
