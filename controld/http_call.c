/* How an /api/v1 read reaches the cluster. The HTTP thread packs the
 * request, unpacks an owned copy into a job and submits it to the loop
 * thread (controld_api_submit), which authorizes and answers it through
 * the verb table exactly as it answers af over NNG; the answer comes back
 * packed, under a lock, and the HTTP thread waits for it on a condition
 * variable with a deadline. A call that times out leaves: whichever side
 * lets go of the job last frees it, so the loop never waits for HTTP and
 * HTTP never waits longer than its timeout. */
#include "common/alloc.h"
#include "common/timeutil.h"
#include "controld/api_int.h"
#include "controld/http_int.h"
#include "net/rpc.h"
#include "proto/alloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#define MAX_ANSWER (64u * 1024 * 1024)
/* How often a waiting call looks whether the node began to stop: the stop
 * runs on the loop thread and waits for the HTTP threads, so a call must
 * not wait for an answer the loop will no longer give. */
#define STOP_POLL_MS 50u

struct http_call {
	struct controld_job job; /* first: a job is its call */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs; /* the HTTP thread and the loop thread */
	bool done;
	uint8_t *answer; /* packed Response (owned), NULL: no memory */
	size_t len;
};

static void call_unref(struct http_call *c)
{
	int left;

	pthread_mutex_lock(&c->mu);
	left = --c->refs;
	pthread_mutex_unlock(&c->mu);
	if (left > 0)
		return;
	controld_job_release(&c->job);
	if (c->job.req)
		af__request__free_unpacked(c->job.req, NULL);
	af_free(c->answer);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	af_free(c);
}

/* Loop thread (or the submitting thread when the node is stopping). */
static void call_reply(struct controld_job *j, Af__Response *resp)
{
	struct http_call *c = (struct http_call *)(void *)j;
	size_t len = af__response__get_packed_size(resp);
	uint8_t *buf = af_malloc(len ? len : 1);

	if (buf != NULL)
		af__response__pack(resp, buf);
	pthread_mutex_lock(&c->mu);
	c->answer = buf;
	c->len = len;
	c->done = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	call_unref(c);
}

static struct http_call *call_new(struct controld_node *n,
				  const Af__Request *req)
{
	struct http_call *c = af_calloc(1, sizeof(*c));
	size_t len = af__request__get_packed_size(req);
	uint8_t *buf = af_malloc(len ? len : 1);
	pthread_condattr_t ca;

	if (c == NULL || buf == NULL) {
		af_free(c);
		af_free(buf);
		return NULL;
	}
	af__request__pack(req, buf);
	c->job.req = af__request__unpack(&af_pb_allocator, len, buf);
	af_free(buf);
	if (c->job.req == NULL) {
		af_free(c);
		return NULL;
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cv, &ca);
	pthread_condattr_destroy(&ca);
	c->refs = 2;
	c->job.node = n;
	c->job.reply = call_reply;
	c->job.start_ns = af_mono_ns();
	return c;
}

static bool node_stopping(struct controld_node *n)
{
	bool stopping;

	pthread_mutex_lock(&n->qlock);
	stopping = n->stopping;
	pthread_mutex_unlock(&n->qlock);
	return stopping;
}

int controld_http_local(struct controld_node *n, const Af__Request *req,
			uint64_t timeout_ms, Af__Response **ret)
{
	struct http_call *c = call_new(n, req);
	uint64_t end = af_mono_ms() + timeout_ms, now;
	struct timespec slice;
	int rc = 0;

	*ret = NULL;
	if (c == NULL)
		return AF_ENOMEM;
	controld_api_submit(n, &c->job);
	pthread_mutex_lock(&c->mu);
	while (!c->done && rc == 0) {
		if ((now = af_mono_ms()) >= end) {
			rc = AF_ETIMEDOUT;
			break;
		}
		af_deadline_after(CLOCK_MONOTONIC,
				  end - now < STOP_POLL_MS ? end - now
							   : STOP_POLL_MS,
				  &slice);
		if (pthread_cond_timedwait(&c->cv, &c->mu, &slice) ==
			    ETIMEDOUT &&
		    !c->done) {
			pthread_mutex_unlock(&c->mu);
			if (node_stopping(n))
				rc = AF_EUNAVAIL;
			pthread_mutex_lock(&c->mu);
		}
	}
	if (c->done) {
		rc = 0;
		if (c->answer == NULL)
			rc = AF_ENOMEM;
		else if ((*ret = af__response__unpack(&af_pb_allocator, c->len,
						      c->answer)) == NULL)
			rc = AF_EIO;
	}
	pthread_mutex_unlock(&c->mu);
	call_unref(c);
	return rc;
}

/* One exchange with another node's API. */
static int call_remote(struct controld_node *n, const char *api,
		       const Af__Request *req, uint64_t timeout_ms,
		       Af__Response **ret)
{
	char url[AF_ADDR_MAX + 16];
	size_t len = af__request__get_packed_size(req), outlen;
	uint8_t *buf;
	void *out;
	int rc;

	*ret = NULL;
	if (node_stopping(n))
		return AF_EUNAVAIL;
	if (af_cluster_url(n->cfg, api, url, sizeof(url)) != 0)
		return AF_EINVAL;
	if ((buf = af_malloc(len ? len : 1)) == NULL)
		return AF_ENOMEM;
	af__request__pack(req, buf);
	rc = af_rpc_call(url, n->tls, buf, len, timeout_ms, MAX_ANSWER, &out,
			 &outlen);
	af_free(buf);
	if (rc != 0)
		return rc;
	*ret = af__response__unpack(&af_pb_allocator, outlen, out);
	af_free(out);
	return *ret ? 0 : AF_EIO;
}

int controld_http_node(struct controld_node *n, uint64_t id,
		       const Af__Request *req, uint64_t timeout_ms,
		       Af__Response **ret)
{
	const struct af_node_cfg *nd = af_cluster_node(n->cfg, id);

	if (id == n->self->id)
		return controld_http_local(n, req, timeout_ms, ret);
	if (nd == NULL) {
		*ret = NULL;
		return AF_EUNAVAIL;
	}
	return call_remote(n, nd->api, req, timeout_ms, ret);
}

int controld_http_read(struct controld_node *n, const Af__Request *req,
		       uint64_t timeout_ms, Af__Response **ret)
{
	uint64_t start = af_mono_ms(), spent;
	const Af__Status *st;
	char api[AF_ADDR_MAX + 16];
	int rc = controld_http_local(n, req, timeout_ms, ret);

	if (rc != 0)
		return rc;
	st = (*ret)->status;
	if (st == NULL || st->code != AF__CODE__NOT_LEADER ||
	    st->leader_api == NULL || st->leader_api[0] == '\0')
		return 0;
	/* A follower: the leader answers, as af would have asked it. */
	snprintf(api, sizeof(api), "%s", st->leader_api);
	af__response__free_unpacked(*ret, NULL);
	*ret = NULL;
	spent = af_mono_ms() - start;
	if (spent >= timeout_ms)
		return AF_ETIMEDOUT;
	return call_remote(n, api, req, timeout_ms - spent, ret);
}
