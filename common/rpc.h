/*
 * One request/reply exchange with a controld API endpoint over NNG req/rep.
 * Bytes in, bytes out: callers pack and unpack protobuf envelopes. Opens a
 * socket per call (controld answers in microseconds; callers are CLIs and
 * background sync loops). Thread-safe.
 */
#ifndef AF_COMMON_RPC_H
#define AF_COMMON_RPC_H

#include "common/tls.h"

#include <stddef.h>
#include <stdint.h>

/* Sends buf to url (over mutual TLS when tls is not NULL) and waits up to
 * timeout_ms for the reply (at most max_reply bytes). On success *ret_buf is
 * owned (af_free). Returns 0 or a negative NNG-independent code: AF_EUNAVAIL
 * (cannot connect), AF_ETIMEDOUT, AF_ETOOBIG, AF_ENOMEM, AF_EIO. */
int af_rpc_call(const char *url, const struct af_tls *tls, const void *buf,
		size_t len, uint64_t timeout_ms, size_t max_reply,
		void **ret_buf, size_t *ret_len);

/* Last NNG error text of this thread's most recent failed call. */
const char *af_rpc_errstr(void);

#endif
