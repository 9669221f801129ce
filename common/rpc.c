#include "common/rpc.h"
#include "common/alloc.h"
#include "common/err.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <string.h>

static _Thread_local const char *last_err = "";

const char *af_rpc_errstr(void)
{
	return last_err;
}

static int translate(int rv)
{
	last_err = nng_strerror(rv);
	switch (rv) {
	case NNG_ETIMEDOUT:
		return AF_ETIMEDOUT;
	case NNG_ECONNREFUSED:
	case NNG_ECONNRESET:
	case NNG_ECONNSHUT:
	case NNG_EADDRINVAL:
	case NNG_EUNREACHABLE:
	case NNG_ECLOSED:
		return AF_EUNAVAIL;
	case NNG_ENOMEM:
		return AF_ENOMEM;
	case NNG_EMSGSIZE:
		return AF_ETOOBIG;
	default:
		return AF_EIO;
	}
}

int af_rpc_call(const char *url, const struct af_tls *tls, const void *buf,
		size_t len, uint64_t timeout_ms, size_t max_reply,
		void **ret_buf, size_t *ret_len)
{
	nng_socket s;
	nng_msg *msg = NULL;
	void *out;
	int rv;

	if ((rv = nng_req0_open(&s)) != 0)
		return translate(rv);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, (nng_duration)timeout_ms);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, (nng_duration)timeout_ms);
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, max_reply);
	if ((rv = af_tls_dial(tls, s, url, 0)) != 0 ||
	    (rv = nng_send(s, (void *)buf, len, 0)) != 0 ||
	    (rv = nng_recvmsg(s, &msg, 0)) != 0) {
		nng_close(s);
		return translate(rv);
	}
	out = af_malloc(nng_msg_len(msg));
	if (out == NULL) {
		nng_msg_free(msg);
		nng_close(s);
		return AF_ENOMEM;
	}
	memcpy(out, nng_msg_body(msg), nng_msg_len(msg));
	*ret_len = nng_msg_len(msg);
	*ret_buf = out;
	nng_msg_free(msg);
	nng_close(s);
	return 0;
}
