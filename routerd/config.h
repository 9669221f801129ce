/*
 * routerd's options: one table (name, type, bounds, default, environment
 * variable, help) from which the flags are parsed, the environment is read,
 * --help is printed and --check reports. A flag wins over its environment
 * variable, which wins over the default. Bad values are refused with the
 * option, the value and what is expected.
 */
#ifndef AF_ROUTERD_CONFIG_H
#define AF_ROUTERD_CONFIG_H

#include "common/err.h"
#include "common/log.h"

#include <stdbool.h>
#include <stdio.h>

struct routerd_config {
	const char *config;	   /* cluster file (required) */
	const char *listen;	   /* HOST:PORT (required) */
	const char *id;		   /* NULL: hostname:port */
	const char *cache;	   /* NULL: no persisted view */
	const char *override_file; /* NULL: none (routerd/override.c) */
	enum af_log_level log_level;
	unsigned http_threads;
	const char *decision_log; /* NULL: no decision log */
	unsigned decision_log_max_mb;
	unsigned decision_log_keep;
	unsigned max_workflows;	     /* workflow table size */
	unsigned quota_lease_ttl_ms; /* quota leases (quota.h) */
	const char *otlp_endpoint;   /* NULL: no span export */
	bool check;		     /* validate and exit */
	bool help;		     /* print usage and exit */
	bool version;		     /* print the version and exit */
	/* Where each value came from, by table row: "flag", "env", "default".
	 */
	const char *source[16];
};

/* Parses argv and the environment into c (strings borrowed from argv and
 * environ). Returns 0, or AF_EINVAL with err naming the option. */
int routerd_config_parse(int argc, char **argv, struct routerd_config *c,
			 struct af_err *err);

/* The usage text, generated from the table. */
void routerd_config_usage(FILE *f);

/* One line per option: name=value (source), for --check. */
void routerd_config_print(const struct routerd_config *c, FILE *f);

#endif
