/* Each call runs its exchange on a short-lived worker thread and waits
 * for it no longer than its timeout. NNG 1.5 has no bound on a
 * synchronous dial (a peer that accepts TCP but never negotiates, or a
 * SYN that is never answered) nor on nng_close (which waits for every
 * pipe and dialer of the socket to be reaped); whatever the socket does,
 * the caller is back in time and a late worker cleans up alone. */
#include "net/rpc.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/timeutil.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Workers still running (a caller that gave up, or a close that takes
 * its time): past this many, new calls are refused at once instead of
 * piling up threads. */
#define MAX_RUNNING 32
#define WORKER_STACK (256u * 1024)

static _Thread_local const char *last_err = "";
static _Thread_local char last_buf[96];
static _Atomic unsigned running;

const char *af_rpc_errstr(void)
{
	return last_err;
}

static int translate(int rv)
{
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

void af_rpc_request_id(char out[AF_RPC_ID_LEN + 1])
{
	uint8_t raw[AF_RPC_ID_LEN / 2];

	/* Idempotent and thread-safe; randombytes works even when it
	 * reports a failure (it then falls back to the system source). */
	if (sodium_init() < 0)
		last_err = "libsodium did not initialize";
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(out, AF_RPC_ID_LEN + 1, raw, sizeof(raw));
}

/* One exchange, shared by the caller and its worker; the last of the two
 * to leave frees it. */
struct call {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;
	bool done;
	/* in */
	char *url;
	nng_tls_config *tls; /* held */
	void *req;
	size_t len, max_reply;
	nng_duration timeout;
	/* out */
	int rv; /* NNG code */
	nng_msg *reply;
};

static void call_rele(struct call *c)
{
	bool last;

	pthread_mutex_lock(&c->mu);
	last = --c->refs == 0;
	pthread_mutex_unlock(&c->mu);
	if (!last)
		return;
	if (c->reply)
		nng_msg_free(c->reply);
	if (c->tls)
		nng_tls_config_free(c->tls);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	af_free(c->url);
	af_free(c->req);
	af_free(c);
}

static int dial(nng_socket s, const struct call *c)
{
	nng_dialer d;
	int rv;

	if (c->tls == NULL)
		return nng_dial(s, c->url, NULL, 0);
	if ((rv = nng_dialer_create(&d, s, c->url)) != 0)
		return rv;
	if ((rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, c->tls)) != 0 ||
	    (rv = nng_dialer_start(d, 0)) != 0)
		nng_dialer_close(d);
	return rv;
}

static void *worker(void *arg)
{
	struct call *c = arg;
	nng_msg *msg = NULL;
	nng_socket s;
	int rv;

	if ((rv = nng_req0_open(&s)) == 0) {
		/* The socket's own timeouts end a late worker eventually. */
		nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, c->timeout);
		nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, c->timeout);
		nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME,
				  NNG_DURATION_INFINITE);
		nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, c->max_reply);
		if ((rv = dial(s, c)) == 0 &&
		    (rv = nng_send(s, c->req, c->len, 0)) == 0)
			rv = nng_recvmsg(s, &msg, 0);
		/* The reply is published before the close, which may take
		 * its time. */
		pthread_mutex_lock(&c->mu);
		c->rv = rv;
		c->reply = msg;
		c->done = true;
		pthread_cond_signal(&c->cv);
		pthread_mutex_unlock(&c->mu);
		nng_close(s);
	} else {
		pthread_mutex_lock(&c->mu);
		c->rv = rv;
		c->done = true;
		pthread_cond_signal(&c->cv);
		pthread_mutex_unlock(&c->mu);
	}
	call_rele(c);
	running--;
	return NULL;
}

static int call_new(const char *url, const struct af_tls *tls, const void *buf,
		    size_t len, uint64_t timeout_ms, size_t max_reply,
		    struct call **ret)
{
	struct call *c = af_calloc(1, sizeof(*c));
	pthread_condattr_t ca;

	if (c == NULL)
		return AF_ENOMEM;
	c->url = af_strdup(url);
	c->req = af_malloc(len ? len : 1);
	if (c->url == NULL || c->req == NULL) {
		af_free(c->url);
		af_free(c->req);
		af_free(c);
		return AF_ENOMEM;
	}
	memcpy(c->req, buf, len);
	c->len = len;
	c->max_reply = max_reply;
	c->timeout =
		timeout_ms > INT32_MAX ? INT32_MAX : (nng_duration)timeout_ms;
	c->tls = af_tls_client_config(tls);
	if (c->tls)
		nng_tls_config_hold(c->tls);
	pthread_mutex_init(&c->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cv, &ca);
	pthread_condattr_destroy(&ca);
	c->refs = 2; /* caller and worker */
	*ret = c;
	return 0;
}

static int start(struct call *c)
{
	pthread_attr_t a;
	pthread_t t;
	int rv;

	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, WORKER_STACK);
	rv = pthread_create(&t, &a, worker, c);
	pthread_attr_destroy(&a);
	return rv;
}

/* Waits for the worker until timeout_ms from now; false: gave up. */
static bool wait_done(struct call *c, uint64_t timeout_ms)
{
	struct timespec ts;
	bool done;

	af_deadline_after(CLOCK_MONOTONIC, timeout_ms, &ts);
	pthread_mutex_lock(&c->mu);
	while (!c->done && pthread_cond_timedwait(&c->cv, &c->mu, &ts) == 0)
		;
	done = c->done;
	pthread_mutex_unlock(&c->mu);
	return done;
}

int af_rpc_call(const char *url, const struct af_tls *tls, const void *buf,
		size_t len, uint64_t timeout_ms, size_t max_reply,
		void **ret_buf, size_t *ret_len)
{
	struct call *c = NULL;
	void *out;
	int rc;

	if (running >= MAX_RUNNING) {
		last_err = "too many earlier calls still closing";
		return AF_EUNAVAIL;
	}
	if ((rc = call_new(url, tls, buf, len, timeout_ms, max_reply, &c)) !=
	    0) {
		last_err = "out of memory";
		return rc;
	}
	running++;
	if (start(c) != 0) {
		running--;
		c->refs = 1;
		call_rele(c);
		last_err = "cannot start a thread";
		return AF_ENOMEM;
	}
	if (!wait_done(c, timeout_ms)) {
		snprintf(last_buf, sizeof(last_buf), "no answer within %llu ms",
			 (unsigned long long)timeout_ms);
		last_err = last_buf;
		call_rele(c);
		return AF_ETIMEDOUT;
	}
	if (c->rv != 0) {
		last_err = nng_strerror(c->rv);
		rc = translate(c->rv);
		call_rele(c);
		return rc;
	}
	out = af_malloc(nng_msg_len(c->reply) ? nng_msg_len(c->reply) : 1);
	if (out == NULL) {
		last_err = "out of memory";
		call_rele(c);
		return AF_ENOMEM;
	}
	memcpy(out, nng_msg_body(c->reply), nng_msg_len(c->reply));
	*ret_len = nng_msg_len(c->reply);
	*ret_buf = out;
	call_rele(c);
	return 0;
}

unsigned af_rpc_running(void)
{
	return running;
}
