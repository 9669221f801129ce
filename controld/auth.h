/*
 * Authentication and authorization for the controld API.
 *
 * The tokens file (cluster file `auth.tokens`) has one line per token:
 *   <sha256-hex-of-token> <role> <principal-name>
 * with blank lines and # comments allowed. Roles: viewer (reads), author
 * (policy apply, canary start, models, budgets), promoter (promote, abort,
 * pause, resume, set-weight, rollback), admin (everything: also membership,
 * leader transfer, snapshots) and routerd (what a routerd sidecar does:
 * Sync, fleet and usage reports, budget leases). Every role but routerd
 * may read.
 *
 * Without an auth section every caller is admin. Loaded once at start;
 * read-only afterwards, so any thread may call af_auth_check.
 */
#ifndef AF_CONTROLD_AUTH_H
#define AF_CONTROLD_AUTH_H

#include "common/err.h"
#include "proto/af.pb-c.h"

#include <stdbool.h>

#define AF_AUTH_MAX_TOKENS 10000

enum af_role {
	AF_ROLE_VIEWER,
	AF_ROLE_AUTHOR,
	AF_ROLE_PROMOTER,
	AF_ROLE_ADMIN,
	AF_ROLE_ROUTERD,
	AF_ROLE_COUNT
};

struct af_auth;

/* Loads the tokens file. Errors (AF_EIO, AF_EPARSE with file:line:col,
 * AF_ETOOBIG) in err. On success *ret is owned (af_auth_free). */
int af_auth_load(const char *path, struct af_auth **ret, struct af_err *err);
void af_auth_free(struct af_auth *a);

const char *af_role_name(enum af_role r);

/* The permission a request needs: "read", "author", "promote", "admin" or
 * "routerd". */
const char *af_auth_needs(const Af__Request *req);

/* Checks req's token against need (NULL: af_auth_needs(req)). a == NULL:
 * auth is off, every caller is "admin". On success *ret_principal is the
 * token's principal (borrowed, lives as long as a). Errors: AF_EPERM (message
 * says why, never the token). */
int af_auth_check(const struct af_auth *a, const Af__Request *req,
		  const char *need, const char **ret_principal, char *why,
		  size_t whylen);

/* Whether token is one of the file's (a == NULL: auth is off, every caller
 * is known); any thread. Tells a caller without a valid token (HTTP 401)
 * from one whose role is too low (403). */
bool af_auth_known(const struct af_auth *a, const char *token);

/* Logs a refused request (needs, reason) at most once per 10 s for each
 * permission and cause, with the number of such lines left out since;
 * any thread. */
void af_auth_log_denied(const char *need, const char *why);

#endif
