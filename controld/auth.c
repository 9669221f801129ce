#include "controld/auth.h"
#include "controld/verbs.h"
#include "common/alloc.h"
#include "common/file.h"
#include "common/hash.h"

#include "common/log.h"
#include "common/timeutil.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define TOKENS_FILE_MAX (4u * 1024 * 1024)
#define PRINCIPAL_MAX 64

struct entry {
	uint8_t digest[AF_SHA256_LEN];
	enum af_role role;
	char principal[PRINCIPAL_MAX + 1];
};

struct af_auth {
	struct entry *e;
	size_t n;
};

static const char *role_names[AF_ROLE_COUNT] = {"viewer", "author", "promoter",
						"admin", "routerd"};

const char *af_role_name(enum af_role r)
{
	return r < AF_ROLE_COUNT ? role_names[r] : "none";
}

/* Which roles hold which permission. */
static bool allowed(enum af_role r, const char *need)
{
	if (r == AF_ROLE_ADMIN)
		return true;
	if (strcmp(need, "read") == 0)
		return r != AF_ROLE_ROUTERD;
	if (strcmp(need, "author") == 0)
		return r == AF_ROLE_AUTHOR;
	if (strcmp(need, "promote") == 0)
		return r == AF_ROLE_PROMOTER;
	if (strcmp(need, "routerd") == 0)
		return r == AF_ROLE_ROUTERD;
	return false; /* "admin" */
}

/* What each Command op needs (the verb table says "per command" for
 * PROPOSE); an op not listed needs admin. */
static const struct {
	Af__Command__OpCase op;
	const char *need;
} command_needs[] = {
	{AF__COMMAND__OP_POLICY_APPLY, "author"},
	{AF__COMMAND__OP_MODEL_APPLY, "author"},
	{AF__COMMAND__OP_MODEL_SET_STATUS, "author"},
	{AF__COMMAND__OP_MODEL_DELETE, "author"},
	{AF__COMMAND__OP_BUDGET_SET, "author"},
	{AF__COMMAND__OP_POLICY_ROLLBACK, "promote"},
	{AF__COMMAND__OP_ROLLOUT, "promote"},
	{AF__COMMAND__OP_EMERGENCY_SET, "promote"},
	{AF__COMMAND__OP_EMERGENCY_CLEAR, "promote"},
	{AF__COMMAND__OP_SHADOW_STOP, "promote"},
	{AF__COMMAND__OP_FLEET_REPORT, "routerd"},
	{AF__COMMAND__OP_FLEET_DEREGISTER, "routerd"},
	{AF__COMMAND__OP_USAGE_REPORT, "routerd"},
	{AF__COMMAND__OP_LEASE, "routerd"},
	{AF__COMMAND__OP_QUOTA_LEASE, "routerd"},
};

const char *af_auth_needs(const Af__Request *req)
{
	const char *need = controld_verb_of(req->body_case)->need;

	if (need != NULL)
		return need;
	for (size_t i = 0; i < sizeof(command_needs) / sizeof(command_needs[0]);
	     i++)
		if (command_needs[i].op == req->propose->op_case)
			return command_needs[i].need;
	return "admin";
}

/* The entry of token, or NULL. */
static const struct entry *find(const struct af_auth *a, const char *token)
{
	uint8_t d[AF_SHA256_LEN];

	af_sha256(token, strlen(token), d);
	for (size_t i = 0; i < a->n; i++)
		if (sodium_memcmp(a->e[i].digest, d, sizeof(d)) == 0)
			return &a->e[i];
	return NULL;
}

int af_auth_check(const struct af_auth *a, const Af__Request *req,
		  const char *need, const char **ret_principal, char *why,
		  size_t whylen)
{
	const struct entry *e;

	if (a == NULL) {
		*ret_principal = "admin";
		return 0;
	}
	if (need == NULL)
		need = af_auth_needs(req);
	if (req->token == NULL || req->token[0] == '\0') {
		snprintf(why, whylen,
			 "a token is required (--token-file, "
			 "AF_TOKEN_FILE, --token or AF_TOKEN)");
		return AF_EPERM;
	}
	if ((e = find(a, req->token)) == NULL) {
		snprintf(why, whylen, "unknown token");
		return AF_EPERM;
	}
	if (!allowed(e->role, need)) {
		snprintf(why, whylen,
			 "principal %s (role %s) may not do this (needs %s)",
			 e->principal, role_names[e->role], need);
		return AF_EPERM;
	}
	*ret_principal = e->principal;
	return 0;
}

bool af_auth_known(const struct af_auth *a, const char *token)
{
	if (a == NULL)
		return true;
	return token != NULL && token[0] != '\0' && find(a, token) != NULL;
}

/* ------------------------------------------------------ denial logging */

#define DENY_LOG_SLOTS 64
#define DENY_LOG_EVERY_MS 10000

/* One line per (permission, cause) per DENY_LOG_EVERY_MS; the cause names
 * the principal when the token is known. */
static struct {
	uint8_t key[AF_SHA256_LEN];
	uint64_t logged_ms;
	unsigned long suppressed;
} deny_log[DENY_LOG_SLOTS];
static pthread_mutex_t deny_mu = PTHREAD_MUTEX_INITIALIZER;

void af_auth_log_denied(const char *need, const char *why)
{
	uint8_t key[AF_SHA256_LEN];
	char buf[320];
	uint64_t now = af_mono_ms();
	unsigned long suppressed;
	size_t slot, oldest = 0;
	int n = snprintf(buf, sizeof(buf), "%s\n%s", need, why);

	af_sha256(buf, n > 0 ? (size_t)n : 0, key);
	pthread_mutex_lock(&deny_mu);
	for (slot = 0; slot < DENY_LOG_SLOTS; slot++) {
		if (memcmp(deny_log[slot].key, key, sizeof(key)) == 0)
			break;
		if (deny_log[slot].logged_ms < deny_log[oldest].logged_ms)
			oldest = slot;
	}
	if (slot == DENY_LOG_SLOTS) { /* new cause: take the stalest slot */
		slot = oldest;
		memcpy(deny_log[slot].key, key, sizeof(key));
		deny_log[slot].logged_ms = 0;
		deny_log[slot].suppressed = 0;
	}
	if (deny_log[slot].logged_ms != 0 &&
	    now - deny_log[slot].logged_ms < DENY_LOG_EVERY_MS) {
		deny_log[slot].suppressed++;
		pthread_mutex_unlock(&deny_mu);
		return;
	}
	suppressed = deny_log[slot].suppressed;
	deny_log[slot].logged_ms = now;
	deny_log[slot].suppressed = 0;
	pthread_mutex_unlock(&deny_mu);
	log_warn("event=auth_denied needs=%s reason=\"%s\" suppressed=%lu",
		 need, why, suppressed);
}

/* ----------------------------------------------------------- the file */

static int parse_line(const char *path, unsigned lineno, char *line,
		      struct entry *e, struct af_err *err)
{
	char *save = NULL, *hex, *role, *who, *extra;
	size_t bin_len;

	hex = strtok_r(line, " \t", &save);
	role = strtok_r(NULL, " \t", &save);
	who = strtok_r(NULL, " \t", &save);
	extra = strtok_r(NULL, " \t", &save);
	if (role == NULL || who == NULL || extra != NULL)
		return af_errf(err, AF_EPARSE,
			       "%s:%u:1: expected <sha256-hex> <role> "
			       "<principal>",
			       path, lineno);
	if (strlen(hex) != 64 ||
	    sodium_hex2bin(e->digest, sizeof(e->digest), hex, 64, NULL,
			   &bin_len, NULL) != 0 ||
	    bin_len != AF_SHA256_LEN)
		return af_errf(err, AF_EPARSE,
			       "%s:%u:1: not a SHA-256 hex digest (64 hex "
			       "digits)",
			       path, lineno);
	e->role = AF_ROLE_COUNT;
	for (int r = 0; r < AF_ROLE_COUNT; r++)
		if (strcmp(role, role_names[r]) == 0)
			e->role = (enum af_role)r;
	if (e->role == AF_ROLE_COUNT)
		return af_errf(err, AF_EPARSE,
			       "%s:%u:%d: unknown role \"%.32s\" (viewer, "
			       "author, promoter, admin, routerd)",
			       path, lineno, (int)(role - line) + 1, role);
	if (strlen(who) > PRINCIPAL_MAX)
		return af_errf(err, AF_EPARSE,
			       "%s:%u:%d: principal longer than %d bytes", path,
			       lineno, (int)(who - line) + 1, PRINCIPAL_MAX);
	memcpy(e->principal, who, strlen(who) + 1);
	return 0;
}

int af_auth_load(const char *path, struct af_auth **ret, struct af_err *err)
{
	struct af_auth *a;
	char *buf, *line, *save = NULL;
	size_t len;
	unsigned lineno = 0;
	int rc;

	if ((rc = af_read_file(path, TOKENS_FILE_MAX, &buf, &len, err)) != 0)
		return rc;
	a = af_calloc(1, sizeof(*a));
	if (a == NULL ||
	    (a->e = af_calloc(AF_AUTH_MAX_TOKENS, sizeof(*a->e))) == NULL) {
		rc = af_errf(err, AF_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	/* Lines one by one; strtok_r would skip empty lines and lose the
	 * line numbers, so split by hand. */
	for (line = buf; line != NULL; line = save) {
		char *nl = strchr(line, '\n'), *p;

		save = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		lineno++;
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (*p == '\0' || *p == '#')
			continue;
		if (a->n >= AF_AUTH_MAX_TOKENS) {
			rc = af_errf(err, AF_ETOOBIG,
				     "%s:%u:1: more than %d "
				     "tokens",
				     path, lineno, AF_AUTH_MAX_TOKENS);
			goto out;
		}
		if ((rc = parse_line(path, lineno, line, &a->e[a->n], err)) !=
		    0)
			goto out;
		a->n++;
	}
	*ret = a;
	a = NULL;
out:
	af_auth_free(a);
	af_free(buf);
	return rc;
}

void af_auth_free(struct af_auth *a)
{
	if (a == NULL)
		return;
	af_free(a->e);
	af_free(a);
}
