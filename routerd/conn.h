/* Long-lived connections from routerd to controld's API endpoints: one NNG
 * req socket with one background dialer per endpoint (mutual TLS when
 * configured), shared by routerd's threads. Each call runs on its own
 * context, so a slow lease never queues a Sync behind it. Thread-safe. */
#ifndef AF_ROUTERD_CONN_H
#define AF_ROUTERD_CONN_H

#include "common/err.h"
#include "net/tls.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct routerd_conns;

/* Opens one socket per url (n at most AF_MAX_NODES) and starts dialing in
 * the background. Replies over max_reply bytes are refused; each
 * connection established adds one to *connects. Errors: AF_EINVAL,
 * AF_ENOMEM, AF_EIO. */
int routerd_conns_open(const char *const *urls, unsigned n,
		       const struct af_tls *tls, size_t max_reply,
		       _Atomic uint64_t *connects, struct routerd_conns **ret,
		       struct af_err *err);

/* Closes every socket; no call may be running. NULL is a no-op. */
void routerd_conns_close(struct routerd_conns *c);

/* The endpoint whose url is `url`, or -1. */
int routerd_conns_find(const struct routerd_conns *c, const char *url);

/* One request/reply exchange with endpoint i, bounded by timeout_ms. An
 * endpoint without a connection for longer than a short grace fails at
 * once, like a refused dial. On success *ret_buf is owned (af_free).
 * Returns 0, AF_EUNAVAIL, AF_ETIMEDOUT, AF_ETOOBIG, AF_ENOMEM or AF_EIO;
 * routerd_conns_errstr() tells why. */
int routerd_conns_call(struct routerd_conns *c, unsigned i, const void *buf,
		       size_t len, uint64_t timeout_ms, void **ret_buf,
		       size_t *ret_len);

/* This thread's last failure, for the log. */
const char *routerd_conns_errstr(void);

#endif
