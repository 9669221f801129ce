/*
 * One request/reply exchange with a controld API endpoint over NNG req/rep.
 * Bytes in, bytes out: callers pack and unpack protobuf envelopes. Opens a
 * socket per call (controld answers in microseconds; callers are CLIs and
 * background sync loops). Thread-safe.
 *
 * A call never outlasts its timeout, whatever the peer or NNG does (a
 * peer that accepts TCP and never answers, a dial or a close that blocks):
 * the exchange runs on a worker thread that finishes on its own when the
 * caller has given up.
 */
#ifndef AF_NET_RPC_H
#define AF_NET_RPC_H

#include "net/tls.h"

#include <stddef.h>
#include <stdint.h>

/* Length of a request id in hex digits (128 random bits). */
#define AF_RPC_ID_LEN 32

/* Sends buf to url (over mutual TLS when tls is not NULL) and waits up to
 * timeout_ms for the reply (at most max_reply bytes). On success *ret_buf is
 * owned (af_free). Returns 0 or a negative NNG-independent code: AF_EUNAVAIL
 * (cannot connect), AF_ETIMEDOUT, AF_ETOOBIG, AF_ENOMEM, AF_EIO. */
int af_rpc_call(const char *url, const struct af_tls *tls, const void *buf,
		size_t len, uint64_t timeout_ms, size_t max_reply,
		void **ret_buf, size_t *ret_len);

/* Last error text of this thread's most recent failed call. */
const char *af_rpc_errstr(void);

/* A fresh request id for one logical write (Command.request_id): random
 * hex, NUL-terminated. Set it once and keep it across every retry and
 * redirect of that write, so that the cluster applies it at most once. */
void af_rpc_request_id(char out[AF_RPC_ID_LEN + 1]);

/* Worker threads of earlier calls still running (tests, diagnostics). */
unsigned af_rpc_running(void);

#endif
