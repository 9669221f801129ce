/* One req socket per controld endpoint, dialed once and kept: a Sync,
 * lease or report costs one round trip on an open (TLS) connection, not a
 * new connection and a thread. NNG redials in the background; pipe events
 * tell whether an endpoint is connected, so a call to an endpoint that is
 * down fails at once and the caller moves on to the next. */
#include "routerd/conn.h"
#include "common/alloc.h"
#include "common/cluster.h"
#include "common/timeutil.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Without a connection for longer than this, a call fails at once; a
 * (re)connection in progress gets this long to complete. */
#define CONNECT_GRACE_MS 300
#define RECONNECT_MIN_MS 100
#define RECONNECT_MAX_MS 1000

struct conn {
	nng_socket sock;
	bool open;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned pipes;		/* connected pipes (0 or 1) */
	uint64_t down_since_ms; /* no pipe since (mono) */
	char url[AF_ADDR_MAX + 16];
	_Atomic uint64_t *dials;
};

struct routerd_conns {
	unsigned n;
	struct conn c[AF_MAX_NODES];
};

static _Thread_local const char *last_err = "";
static _Thread_local char last_buf[AF_ADDR_MAX + 64];

const char *routerd_conns_errstr(void)
{
	return last_err;
}

static int fail(int rc, const char *why)
{
	last_err = why;
	return rc;
}

static int from_nng(int rv)
{
	last_err = nng_strerror(rv);
	switch (rv) {
	case NNG_ETIMEDOUT:
		return AF_ETIMEDOUT;
	case NNG_ENOMEM:
		return AF_ENOMEM;
	case NNG_EMSGSIZE:
		return AF_ETOOBIG;
	case NNG_ECONNREFUSED:
	case NNG_ECONNRESET:
	case NNG_ECONNSHUT:
	case NNG_ECLOSED:
		return AF_EUNAVAIL;
	default:
		return AF_EIO;
	}
}

static void pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct conn *k = arg;

	(void)p;
	pthread_mutex_lock(&k->mu);
	if (ev == NNG_PIPE_EV_ADD_POST) {
		k->pipes++;
		atomic_fetch_add(k->dials, 1);
		pthread_cond_broadcast(&k->cv);
	} else if (ev == NNG_PIPE_EV_REM_POST && k->pipes > 0) {
		if (--k->pipes == 0)
			k->down_since_ms = af_mono_ms();
	}
	pthread_mutex_unlock(&k->mu);
}

static int conn_open(struct conn *k, const char *url, const struct af_tls *tls,
		     size_t max_reply, struct af_err *err)
{
	pthread_condattr_t ca;
	int rv;

	snprintf(k->url, sizeof(k->url), "%s", url);
	pthread_mutex_init(&k->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&k->cv, &ca);
	pthread_condattr_destroy(&ca);
	k->down_since_ms = af_mono_ms();
	if ((rv = nng_req0_open(&k->sock)) != 0)
		return af_errf(err, AF_EIO, "req %s: %s", url,
			       nng_strerror(rv));
	k->open = true;
	/* No resend: a request whose connection dies fails, and the caller
	 * retries (writes keep their request id) elsewhere. */
	nng_socket_set_ms(k->sock, NNG_OPT_REQ_RESENDTIME,
			  NNG_DURATION_INFINITE);
	nng_socket_set_size(k->sock, NNG_OPT_RECVMAXSZ, max_reply);
	nng_socket_set_ms(k->sock, NNG_OPT_RECONNMINT, RECONNECT_MIN_MS);
	nng_socket_set_ms(k->sock, NNG_OPT_RECONNMAXT, RECONNECT_MAX_MS);
	nng_pipe_notify(k->sock, NNG_PIPE_EV_ADD_POST, pipe_cb, k);
	nng_pipe_notify(k->sock, NNG_PIPE_EV_REM_POST, pipe_cb, k);
	/* In the background: an endpoint that is down is dialed again. */
	return af_tls_dial(tls, k->sock, url, NNG_FLAG_NONBLOCK, err);
}

int routerd_conns_open(const char *const *urls, unsigned n,
		       const struct af_tls *tls, size_t max_reply,
		       _Atomic uint64_t *connects, struct routerd_conns **ret,
		       struct af_err *err)
{
	struct routerd_conns *c;
	int rc;

	if (n > AF_MAX_NODES)
		return af_errf(err, AF_EINVAL, "more than %d endpoints",
			       AF_MAX_NODES);
	if ((c = af_calloc(1, sizeof(*c))) == NULL)
		return af_errf(err, AF_ENOMEM, "conns: out of memory");
	for (unsigned i = 0; i < n; i++, c->n++) {
		c->c[i].dials = connects;
		if ((rc = conn_open(&c->c[i], urls[i], tls, max_reply, err)) !=
		    0) {
			c->n++;
			routerd_conns_close(c);
			return rc;
		}
	}
	*ret = c;
	return 0;
}

void routerd_conns_close(struct routerd_conns *c)
{
	if (c == NULL)
		return;
	for (unsigned i = 0; i < c->n; i++) {
		if (c->c[i].open)
			nng_close(c->c[i].sock);
		pthread_cond_destroy(&c->c[i].cv);
		pthread_mutex_destroy(&c->c[i].mu);
	}
	af_free(c);
}

int routerd_conns_find(const struct routerd_conns *c, const char *url)
{
	for (unsigned i = 0; i < c->n; i++)
		if (strcmp(c->c[i].url, url) == 0)
			return (int)i;
	return -1;
}

/* Waits (bounded by deadline) for a connection in progress; false: the
 * endpoint is down. */
static bool connected(struct conn *k, uint64_t deadline)
{
	uint64_t now = af_mono_ms(), until;
	struct timespec ts;
	bool up;

	pthread_mutex_lock(&k->mu);
	until = k->down_since_ms + CONNECT_GRACE_MS;
	if (until > deadline)
		until = deadline;
	if (k->pipes == 0 && until > now) {
		af_deadline_after(CLOCK_MONOTONIC, until - now, &ts);
		while (k->pipes == 0 &&
		       pthread_cond_timedwait(&k->cv, &k->mu, &ts) == 0)
			;
	}
	up = k->pipes > 0;
	pthread_mutex_unlock(&k->mu);
	return up;
}

/* The aio's timeout bounds the operation started next (at least 1 ms:
 * an operation once started is always waited for). */
static void set_deadline(nng_aio *aio, uint64_t deadline)
{
	uint64_t now = af_mono_ms();

	nng_aio_set_timeout(aio, now < deadline ? (nng_duration)(deadline - now)
						: 1);
}

int routerd_conns_call(struct routerd_conns *c, unsigned i, const void *buf,
		       size_t len, uint64_t timeout_ms, void **ret_buf,
		       size_t *ret_len)
{
	struct conn *k = &c->c[i % c->n];
	uint64_t deadline = af_mono_ms() + timeout_ms;
	nng_aio *aio = NULL;
	nng_msg *m = NULL;
	nng_ctx ctx;
	void *out;
	int rv;

	if (!connected(k, deadline)) {
		snprintf(last_buf, sizeof(last_buf), "not connected to %s",
			 k->url);
		return fail(AF_EUNAVAIL, last_buf);
	}
	if ((rv = nng_aio_alloc(&aio, NULL, NULL)) != 0)
		return from_nng(rv);
	if ((rv = nng_ctx_open(&ctx, k->sock)) != 0) {
		nng_aio_free(aio);
		return from_nng(rv);
	}
	if ((rv = nng_msg_alloc(&m, 0)) != 0 ||
	    (rv = nng_msg_append(m, buf, len)) != 0)
		goto out;
	nng_aio_set_msg(aio, m);
	set_deadline(aio, deadline);
	nng_ctx_send(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0)
		goto out; /* the message is still ours */
	m = NULL;
	set_deadline(aio, deadline);
	nng_ctx_recv(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0)
		goto out;
	m = nng_aio_get_msg(aio);
out:
	nng_ctx_close(ctx);
	nng_aio_free(aio);
	if (rv != 0) {
		if (m)
			nng_msg_free(m);
		return from_nng(rv);
	}
	len = nng_msg_len(m);
	if ((out = af_malloc(len ? len : 1)) == NULL) {
		nng_msg_free(m);
		return fail(AF_ENOMEM, "out of memory");
	}
	memcpy(out, nng_msg_body(m), len);
	nng_msg_free(m);
	*ret_buf = out;
	*ret_len = len;
	return 0;
}
