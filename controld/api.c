/* API transport: an NNG rep socket served by worker threads, each with its
 * own context; requests are handed to the loop thread (see node.h). */
#include "common/alloc.h"
#include "proto/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "controld/api_int.h"

#include <nng/protocol/reqrep0/rep.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *controld_api_url(const struct controld_node *n, uint64_t id)
{
	const struct af_node_cfg *nd = af_cluster_node(n->cfg, id);

	return nd ? nd->api : "";
}

static enum controld_result result_of(Af__Code code)
{
	switch (code) {
	case AF__CODE__OK:
	case AF__CODE__UNCHANGED:
		return RES_OK;
	case AF__CODE__NOT_LEADER:
		return RES_NOT_LEADER;
	case AF__CODE__INTERNAL:
	case AF__CODE__UNAVAILABLE:
		return RES_ERROR;
	default:
		return RES_REFUSED;
	}
}

static void pack_response(struct controld_job *j, Af__Response *resp)
{
	size_t len = af__response__get_packed_size(resp);

	j->out = af_malloc(len);
	if (j->out != NULL) {
		af__response__pack(resp, j->out);
		j->outlen = len;
	}
}

void controld_job_finish(struct controld_job *j, Af__Response *resp)
{
	struct controld_node *n = j->node;
	Af__Code code = resp->status ? resp->status->code : AF__CODE__OK;

	resp->node_id = n->self->id;
	if (n->cons_started)
		resp->applied_index = af_consensus_applied_index(&n->cons);
	pack_response(j, resp);
	atomic_fetch_add(&n->stats.api[j->verb][result_of(code)], 1);
	pthread_mutex_lock(&j->lock);
	j->done = true;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

void controld_job_again(struct controld_job *j)
{
	pthread_mutex_lock(&j->lock);
	j->again = true;
	j->done = true;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

void controld_job_fail(struct controld_job *j, Af__Code code, const char *fmt,
		       ...)
{
	struct controld_node *n = j->node;
	Af__Response resp = AF__RESPONSE__INIT;
	Af__Status st = AF__STATUS__INIT;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	st.code = code;
	st.message = msg;
	if (code == AF__CODE__NOT_LEADER && n->cons_started) {
		st.leader_id = af_consensus_leader(&n->cons);
		st.leader_api = (char *)controld_api_url(n, st.leader_id);
	}
	resp.status = &st;
	controld_job_finish(j, &resp);
}

void controld_api_drain(struct controld_node *n)
{
	for (;;) {
		struct controld_job *j;

		pthread_mutex_lock(&n->qlock);
		j = n->qhead;
		if (j != NULL) {
			n->qhead = j->next;
			if (n->qhead == NULL)
				n->qtail = NULL;
		}
		pthread_mutex_unlock(&n->qlock);
		if (j == NULL)
			return;
		if (n->stopping)
			controld_job_fail(j, AF__CODE__UNAVAILABLE,
					  "node is shutting down");
		else
			controld_handle(j);
	}
}

/* Worker side: queue the job and wait for the loop thread to finish it. */
static void run_job(struct controld_node *n, struct controld_job *j)
{
	bool refuse;

	pthread_mutex_lock(&n->qlock);
	refuse = n->stopping;
	if (!refuse) {
		j->next = NULL; /* a job sent back to its worker is queued again
				 */
		if (n->qtail)
			n->qtail->next = j;
		else
			n->qhead = j;
		n->qtail = j;
	}
	pthread_mutex_unlock(&n->qlock);
	if (refuse) {
		Af__Response resp = AF__RESPONSE__INIT;
		Af__Status st = AF__STATUS__INIT;

		st.code = AF__CODE__UNAVAILABLE;
		st.message = (char *)"node is shutting down";
		resp.status = &st;
		pack_response(j, &resp);
		return;
	}
	uv_async_send(&n->wakeup);
	pthread_mutex_lock(&j->lock);
	while (!j->done)
		pthread_cond_wait(&j->cond, &j->lock);
	pthread_mutex_unlock(&j->lock);
}

static void reply(nng_ctx ctx, nng_aio *aio, const uint8_t *buf, size_t len)
{
	nng_msg *msg;

	if (nng_msg_alloc(&msg, len) != 0)
		return;
	if (len)
		memcpy(nng_msg_body(msg), buf, len);
	nng_aio_set_msg(aio, msg);
	nng_ctx_send(ctx, aio);
	nng_aio_wait(aio);
	if (nng_aio_result(aio) != 0)
		nng_msg_free(msg);
}

static void serve_one(struct controld_node *n, nng_ctx ctx, nng_aio *aio,
		      nng_msg *msg)
{
	struct controld_job j;

	memset(&j, 0, sizeof(j));
	j.node = n;
	j.start_ns = af_mono_ns();
	j.req = af__request__unpack(&af_pb_allocator, nng_msg_len(msg),
				    nng_msg_body(msg));
	nng_msg_free(msg);
	pthread_mutex_init(&j.lock, NULL);
	pthread_cond_init(&j.cond, NULL);
	if (j.req == NULL) {
		Af__Response resp = AF__RESPONSE__INIT;
		Af__Status st = AF__STATUS__INIT;

		st.code = AF__CODE__INVALID;
		st.message = (char *)"request does not decode";
		resp.status = &st;
		pack_response(&j, &resp);
	} else {
		controld_prepare(&j, false);
		run_job(n, &j);
		if (j.again && !j.prepared && j.out == NULL) {
			j.again = j.done = false;
			controld_prepare(&j, true);
			run_job(n, &j);
		}
	}
	if (j.out != NULL)
		reply(ctx, aio, j.out, j.outlen);
	af_free(j.out);
	controld_job_release(&j);
	if (j.req)
		af__request__free_unpacked(j.req, NULL);
	pthread_cond_destroy(&j.cond);
	pthread_mutex_destroy(&j.lock);
}

static void *worker(void *arg)
{
	struct controld_node *n = arg;
	nng_ctx ctx;
	nng_aio *aio;

	if (nng_ctx_open(&ctx, n->rep) != 0)
		return NULL;
	if (nng_aio_alloc(&aio, NULL, NULL) != 0) {
		nng_ctx_close(ctx);
		return NULL;
	}
	for (;;) {
		int rv;

		nng_ctx_recv(ctx, aio);
		nng_aio_wait(aio);
		rv = nng_aio_result(aio);
		if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
			break;
		if (rv != 0)
			continue;
		serve_one(n, ctx, aio, nng_aio_get_msg(aio));
	}
	nng_aio_free(aio);
	nng_ctx_close(ctx);
	return NULL;
}

#define LAG_PERIOD_MS 50

/* Loop thread: how much later than due this timer fired is the time the
 * loop spent on something else (a long apply, a slow handler). */
static void lag_cb(uv_timer_t *t)
{
	struct controld_node *n = t->data;
	uint64_t now = af_mono_ns();

	af_histogram_observe_ns(&n->stats.loop_lag,
				now > n->lag_due_ns ? now - n->lag_due_ns : 0);
	n->lag_due_ns = now + LAG_PERIOD_MS * 1000000ull;
}

static void lag_start(struct controld_node *n)
{
	uv_timer_init(&n->loop, &n->lag_timer);
	n->lag_timer.data = n;
	n->lag_due_ns = af_mono_ns() + LAG_PERIOD_MS * 1000000ull;
	uv_timer_start(&n->lag_timer, lag_cb, LAG_PERIOD_MS, LAG_PERIOD_MS);
}

int controld_api_start(struct controld_node *n, struct af_err *err)
{
	char url[AF_ADDR_MAX + 16];
	int rv;

	pthread_mutex_init(&n->qlock, NULL);
	if (af_cluster_url(n->cfg, n->self->api, url, sizeof(url)) != 0)
		return af_errf(err, AF_ECONFIG, "api: URL too long");
	if ((rv = nng_rep0_open(&n->rep)) != 0)
		return af_errf(err, AF_EIO, "api: %s", nng_strerror(rv));
	nng_socket_set_size(n->rep, NNG_OPT_RECVMAXSZ, CONTROLD_MAX_REQUEST);
	if ((rv = af_tls_listen(n->tls, n->rep, url, err)) != 0) {
		nng_close(n->rep);
		return af_err_wrap(err, rv, "api");
	}
	for (unsigned i = 0; i < CONTROLD_API_WORKERS; i++) {
		if (pthread_create(&n->workers[i], NULL, worker, n) != 0)
			break;
		n->n_workers++;
	}
	if (n->n_workers == 0) {
		nng_close(n->rep);
		return af_errf(err, AF_ENOMEM, "api: no worker threads");
	}
	lag_start(n);
	return 0;
}

void controld_api_stop(struct controld_node *n)
{
	pthread_mutex_lock(&n->qlock);
	n->stopping = true;
	pthread_mutex_unlock(&n->qlock);
	controld_api_drain(n);
	if (n->n_workers == 0)
		return;
	uv_timer_stop(&n->lag_timer);
	nng_close(n->rep);
	for (unsigned i = 0; i < n->n_workers; i++)
		pthread_join(n->workers[i], NULL);
	n->n_workers = 0;
}
