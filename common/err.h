/*
 * af error model: one table of AF_E* codes (negative ints), their names and
 * messages, and a small fixed-size message buffer for context.
 *
 * Functions return 0 or a negative AF_E* code. Library code of other projects
 * (RAFT_*, MDB_*, NNG_*, UV_*) is translated at the call site.
 */
#ifndef AF_COMMON_ERR_H
#define AF_COMMON_ERR_H

#include <stddef.h>

/* X(name, value, message) */
#define AF_ERRORS(X)                                                           \
	X(AF_OK, 0, "success")                                                 \
	X(AF_ENOMEM, -1, "out of memory")                                      \
	X(AF_EINVAL, -2, "invalid argument")                                   \
	X(AF_EIO, -3, "input/output error")                                    \
	X(AF_ENOTFOUND, -4, "not found")                                       \
	X(AF_EEXIST, -5, "already exists")                                     \
	X(AF_ETOOBIG, -6, "too large")                                         \
	X(AF_EPARSE, -7, "parse error")                                        \
	X(AF_ECONFIG, -8, "invalid configuration")                             \
	X(AF_ENOTLEADER, -9, "not the leader")                                 \
	X(AF_EUNAVAIL, -10, "unavailable")                                     \
	X(AF_ETIMEDOUT, -11, "timed out")                                      \
	X(AF_ECONFLICT, -12, "conflict")                                       \
	X(AF_EPERM, -13, "permission denied")                                  \
	X(AF_EBUDGET, -14, "budget exceeded")                                  \
	X(AF_EROLLOUT, -15, "rollout state does not allow this")               \
	X(AF_ECORRUPT, -16, "data corrupt")                                    \
	X(AF_EMAPFULL, -17, "storage map full")                                \
	X(AF_ESHUTDOWN, -18, "shutting down")                                  \
	X(AF_ECLUSTER, -19, "wrong cluster")                                   \
	X(AF_EPROTO, -20, "protocol error")                                    \
	X(AF_EVALIDATE, -21, "validation failed")

enum af_errcode {
#define AF_ERR_ENUM(name, value, msg) name = value,
	AF_ERRORS(AF_ERR_ENUM)
#undef AF_ERR_ENUM
};

/* Human message for an AF_E* code; never NULL; static storage. */
const char *af_strerror(int code);
/* Symbolic name ("AF_ENOMEM") for an AF_E* code; never NULL; static. */
const char *af_err_name(int code);
/* Short upper-case name without prefix ("ENOMEM") for CLI output. */
const char *af_err_short(int code);

#define AF_ERRMSG_SIZE 512

/* Context for an error: "store: put bundle: map full". Caller-owned. */
struct af_err {
	char msg[AF_ERRMSG_SIZE];
};

/* Formats into err->msg (err may be NULL: then nothing happens). Returns
 * code, so callers can `return af_errf(err, AF_EINVAL, "...")`. */
int af_errf(struct af_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes err->msg with "prefix: " (for adding context on the way up). */
int af_err_wrap(struct af_err *err, int code, const char *prefix);

#endif
