/*
 * af's connection to controld: NNG req/rep with protobuf envelopes.
 * Writes and linearizable reads go to the leader: a NOT_LEADER answer is
 * followed to the leader's address, and leadership loss or an unreachable
 * node is retried on the next endpoint until the --timeout runs out.
 * Single-threaded.
 */
#ifndef AF_CLI_CLIENT_H
#define AF_CLI_CLIENT_H

#include "cli/cli.h"
#include "common/cluster.h"
#include "net/tls.h"

#include <stdbool.h>
#include "proto/af.pb-c.h"
#include "proto/policy.pb-c.h"

#include <jansson.h>

struct af_client {
	struct af_cli *cli;
	struct af_cluster_cfg cfg; /* from -c, or synthesized endpoints */
	char endpoints[AF_MAX_NODES][AF_ADDR_MAX + 16];
	unsigned n_endpoints;
	unsigned preferred; /* index of the last endpoint that answered */
	bool quiet;	    /* do not print "cluster unavailable" */
	struct af_tls *tls; /* mutual TLS from the cluster file, or NULL */
};

/* Loads the cluster file (-c / AF_CLUSTER) or --endpoints. Returns an exit
 * code (0 on success; the error is printed). */
int af_client_open(struct af_client *c, struct af_cli *cli);

/* Sends req to the cluster (leader-following unless `to_node` >= 0, which
 * asks exactly that endpoint once). On success *ret is an owned Response
 * (af__response__free_unpacked). Returns an exit code: 0, or 3 (no
 * answer in time; printed). Business errors are in (*ret)->status. */
int af_client_call(struct af_client *c, Af__Request *req, int to_node,
		   Af__Response **ret);

/* Releases what af_client_open allocated. */
void af_client_close(struct af_client *c);

/* Maps a refused Response status to "af: CODE: message" on stderr and the
 * exit code (1 refused, 3 unavailable). */
int af_client_fail(const Af__Response *resp);

/* Exit code of a response status: 0 OK, 1 refused, 3 unavailable. */
int af_client_exit_code(const Af__Status *st);

/* The cluster's model registry (free with
 * af__policy__registry__free_unpacked(*ret, NULL)). Returns an exit code
 * (printed). */
int af_cli_registry(struct af_cli *cli, Af__Policy__Registry **ret);

/* Parses a verb's flags: names ending in '!' take no value; other
 * arguments go to pos (at most max_pos). Returns 0 or an exit code
 * (printed). */
int af_cli_flags(int argc, char **argv, const char *const names[],
		 const char *values[], int *ret_pos, char **pos, int max_pos);
/* --limit N and --after CURSOR of a paged verb (values may be NULL):
 * limit 1..1000 (default 100), after a positive integer. Returns 0 or an
 * exit code (printed). */
int af_cli_page_flags(const char *limit, const char *after, uint32_t *ret_limit,
		      uint64_t *ret_after);
/* Prints one page: {"<field>": items, "next_after": N or null} with -o
 * json/yaml (steals items), else the hint line naming the next command
 * (verb, e.g. "policy history") after the table. Returns an exit code. */
int af_cli_page_out(struct af_cli *cli, const char *verb, const char *field,
		    json_t *items, uint32_t limit, uint64_t next_after);
/* The same with the page document built already ({"<field>": [...],
 * "next_after"}; steals doc). */
int af_cli_page_print(struct af_cli *cli, const char *verb, json_t *doc,
		      uint32_t limit, uint64_t next_after);
/* "12.5" USD -> 12500000 micro-USD, exactly (at most 6 decimals, at most
 * 1e9). Returns 0 or an exit code (printed, naming flag). */
int af_cli_parse_usd(const char *flag, const char *s, int64_t *ret);
/* Sends req; a refused answer is printed and its exit code returned. On
 * 0, *ret is the owned response. */
int af_cli_request(struct af_cli *cli, Af__Request *req, Af__Response **ret);

/* apply_wait.c: polls the fleet until pct percent of live routerds serve
 * ar's hash (as stable, or as the canary for a canary revision), or
 * timeout_ms passes (exit 3, the laggards named). doc: the apply's JSON
 * for -o json/yaml (stolen; the result goes under "wait"). Returns an
 * exit code. */
int af_cli_apply_wait(struct af_cli *cli, const Af__ApplyResult *ar,
		      json_t *doc, uint32_t pct, uint64_t timeout_ms);

/* af_cli_request with a Command to propose (a write on the leader). */
int af_cli_propose(struct af_cli *cli, Af__Command *cmd, Af__Response **ret);

struct af_bundle;
/* Attaches the signature in sigpath, or FILE.sig when it exists (nothing
 * otherwise), to pa; sig and id are the caller's storage. Returns an exit
 * code (printed). */
int af_cli_attach_signature(const char *file, const char *sigpath,
			    Af__PolicyApply *pa, uint8_t sig[64], char id[17]);
/* Reads a policy bundle file and validates it locally (errors say
 * file:line:col). On success *ret_src is owned (af_free) and, when
 * ret_bundle is not NULL, *ret_bundle too (af_bundle_free). Returns an
 * exit code (printed). */
int af_cli_read_bundle(const char *file, char **ret_src, size_t *ret_len,
		       struct af_bundle **ret_bundle);
/* Reads the bundle in file (validated locally), attaches its signature
 * (sigpath, or FILE.sig) to pa and proposes pa. Returns an exit code
 * (printed); on 0 *ret is the answer (free it). */
int af_cli_propose_bundle(struct af_cli *cli, const char *file,
			  const char *sigpath, Af__PolicyApply *pa,
			  Af__Response **ret);

#endif
