/* API transport: an NNG rep socket with CONTROLD_API_SLOTS contexts, each
 * driven by its aio callback; requests are handed to the loop thread,
 * which sends the replies (see node.h); policy and model applies go
 * through the compile thread first. */
#include "common/alloc.h"
#include "proto/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "controld/api_int.h"

#include <nng/protocol/reqrep0/rep.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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

/* One request context: an NNG rep context driven by its aio's callback.
 * recv (NNG thread: unpack, prepare, queue) -> the loop thread handles the
 * job, sends the reply itself and posts the next recv. No thread waits for
 * another: one wake-up of the loop per batch of requests, none back.
 *
 * The loop sends on `saio`, which has no callback: a reply that goes
 * straight to its connection completes inside nng_ctx_send, so no NNG
 * task thread is woken for it, and the loop releases the job and receives
 * again at once. A reply queued behind another on the same connection (a
 * client with several requests out, as routerd has) completes later on an
 * NNG thread; the loop keeps such slots on its `sending` list and recycles
 * them once done: at its next batch, and every SEND_POLL_MS while the list
 * is not empty (with every slot waiting there, no request could come in
 * to wake the loop). Replies sent off the loop (a request that does not
 * decode, a refusal while stopping) go on `aio`, whose callback recycles
 * the slot (SLOT_SEND). */
enum slot_state { SLOT_RECV, SLOT_AGAIN, SLOT_SEND };

struct controld_slot {
	struct controld_job job; /* first: a job is its slot */
	nng_ctx ctx;
	nng_aio *aio;  /* receives; its callback drives the slot */
	nng_aio *saio; /* the loop thread's replies: no callback */
	enum slot_state state;
	bool open;
	struct controld_slot *next_sending; /* on n->sending (loop thread) */
};

static struct controld_slot *slot_of(struct controld_job *j)
{
	return (struct controld_slot *)(void *)j;
}

static void slot_recv(struct controld_slot *s)
{
	s->state = SLOT_RECV;
	nng_ctx_recv(s->ctx, s->aio);
}

/* The request is done with: frees what it holds, keeps the node. */
static void job_reset(struct controld_job *j)
{
	struct controld_node *n = j->node;

	controld_job_release(j);
	if (j->req)
		af__request__free_unpacked(j->req, NULL);
	memset(j, 0, sizeof(*j));
	j->node = n;
}

/* Whether the loop's last send on s is over. Before it completes, NNG
 * holds its result and count at 0; a completed send has a result, or a
 * count that is the reply's length (never 0: every reply carries the
 * node's id). Read without NNG's lock while the send may be finishing on
 * an NNG thread: a stale 0 only defers the slot to the next check, and
 * nng_aio_wait then orders everything after the completion. */
static bool send_over(struct controld_slot *s)
{
	return nng_aio_result(s->saio) != 0 || nng_aio_count(s->saio) > 0;
}

/* Loop thread, the loop's send on s over: frees what a failed send left,
 * releases the job and receives the next request. */
static void send_recycle(struct controld_slot *s)
{
	nng_msg *m;
	int rv;

	nng_aio_wait(s->saio); /* at once: the send is over */
	rv = nng_aio_result(s->saio);
	if ((m = nng_aio_get_msg(s->saio)) != NULL) {
		nng_msg_free(m); /* not sent: still ours */
		nng_aio_set_msg(s->saio, NULL);
	}
	job_reset(&s->job);
	if (rv != NNG_ECLOSED && rv != NNG_ECANCELED)
		slot_recv(s);
}

#define SEND_POLL_MS 1

/* Loop thread: recycles the slots whose queued replies went out. */
static void sending_poll(struct controld_node *n)
{
	struct controld_slot **pp = &n->sending;

	while (*pp != NULL) {
		struct controld_slot *s = *pp;

		if (!send_over(s)) {
			pp = &s->next_sending;
			continue;
		}
		*pp = s->next_sending;
		s->next_sending = NULL;
		send_recycle(s);
	}
	if (n->sending == NULL)
		uv_timer_stop(&n->send_timer);
}

static void send_timer_cb(uv_timer_t *t)
{
	sending_poll(t->data);
}

/* Packs resp into a message and sends it on the job's context: from the
 * loop thread on saio, from any other on aio (completes in slot_cb). */
static void send_response(struct controld_job *j, Af__Response *resp)
{
	struct controld_slot *s = slot_of(j);
	struct controld_node *n = j->node;
	size_t len;
	nng_msg *msg;

	if (j->reply != NULL) {
		j->reply(j, resp);
		return;
	}
	len = af__response__get_packed_size(resp);
	if (nng_msg_alloc(&msg, len) != 0) {
		/* No memory for the reply: the client times out. */
		job_reset(j);
		slot_recv(s);
		return;
	}
	af__response__pack(resp, nng_msg_body(msg));
	if (!pthread_equal(pthread_self(), n->loop_tid)) {
		nng_aio_set_msg(s->aio, msg);
		s->state = SLOT_SEND;
		nng_ctx_send(s->ctx, s->aio);
		return;
	}
	nng_aio_set_msg(s->saio, msg);
	nng_ctx_send(s->ctx, s->saio);
	if (send_over(s)) {
		send_recycle(s);
		return;
	}
	/* Queued behind another reply on its connection. */
	atomic_fetch_add(&n->stats.replies_queued, 1);
	if (n->sending == NULL)
		uv_timer_start(&n->send_timer, send_timer_cb, SEND_POLL_MS,
			       SEND_POLL_MS);
	s->next_sending = n->sending;
	n->sending = s;
}

void controld_job_finish(struct controld_job *j, Af__Response *resp)
{
	struct controld_node *n = j->node;
	Af__Code code = resp->status ? resp->status->code : AF__CODE__OK;

	resp->node_id = n->self->id;
	if (n->cons_started)
		resp->applied_index = af_consensus_applied_index(&n->cons);
	atomic_fetch_add(&n->stats.api[j->verb][result_of(code)], 1);
	send_response(j, resp);
}

void controld_job_again(struct controld_job *j)
{
	struct controld_slot *s = slot_of(j);

	if (j->reply != NULL) {
		/* No NNG thread to hand it to: prepare here, once. */
		if (j->forced) {
			controld_job_fail(j, AF__CODE__UNAVAILABLE,
					  "leadership changed; try again");
			return;
		}
		controld_prepare(j, true);
		controld_handle(j);
		return;
	}
	/* Back to an NNG thread, which prepares (off the loop) and queues
	 * the job once more. */
	j->again = true;
	s->state = SLOT_AGAIN;
	nng_sleep_aio(0, s->aio);
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

/* Off the loop thread: a reply with a Status only. */
static void reply_status(struct controld_job *j, Af__Code code,
			 const char *message)
{
	Af__Response resp = AF__RESPONSE__INIT;
	Af__Status st = AF__STATUS__INIT;

	st.code = code;
	st.message = (char *)message;
	resp.status = &st;
	send_response(j, &resp);
}

void controld_api_drain(struct controld_node *n)
{
	struct controld_job *j, *next;

	/* The whole batch in one lock: every job queued since the wake. */
	sending_poll(n);
	pthread_mutex_lock(&n->qlock);
	j = n->qhead;
	n->qhead = n->qtail = NULL;
	pthread_mutex_unlock(&n->qlock);
	for (; j != NULL; j = next) {
		next = j->next;
		if (n->stopping)
			controld_job_fail(j, AF__CODE__UNAVAILABLE,
					  "node is shutting down");
		else
			controld_handle(j);
	}
}

/* Appends j to the list head..tail (under qlock). */
static void append(struct controld_job **head, struct controld_job **tail,
		   struct controld_job *j)
{
	j->next = NULL;
	if (*tail)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

/* NNG thread: hands the job to the loop thread. */
static void queue_job(struct controld_node *n, struct controld_job *j)
{
	bool refuse, wake;

	pthread_mutex_lock(&n->qlock);
	refuse = n->stopping;
	wake = n->qhead == NULL; /* else a wake-up is pending already */
	if (!refuse)
		append(&n->qhead, &n->qtail, j);
	pthread_mutex_unlock(&n->qlock);
	if (refuse)
		reply_status(j, AF__CODE__UNAVAILABLE, "node is shutting down");
	else if (wake)
		uv_async_send(&n->wakeup);
}

void controld_api_submit(struct controld_node *n, struct controld_job *j)
{
	queue_job(n, j);
}

/* ------------------------------------------------- the compile thread */

/* What controld_prepare compiles: policy and model applies. */
static bool compiles(const Af__Request *req)
{
	return req->body_case == AF__REQUEST__BODY_PROPOSE &&
	       (req->propose->op_case == AF__COMMAND__OP_POLICY_APPLY ||
		req->propose->op_case == AF__COMMAND__OP_MODEL_APPLY);
}

/* NNG thread: prepares and queues the job for the loop, a compile through
 * the compile thread (so this callback thread is free at once). */
static void prepare_and_queue(struct controld_node *n, struct controld_job *j,
			      bool force)
{
	bool stopped;

	if (!n->compiler_started || !compiles(j->req)) {
		controld_prepare(j, force);
		queue_job(n, j);
		return;
	}
	pthread_mutex_lock(&n->qlock);
	stopped = n->compiler_stop;
	if (!stopped) {
		j->compile_force = force;
		append(&n->chead, &n->ctail, j);
		pthread_cond_signal(&n->ccond);
	}
	pthread_mutex_unlock(&n->qlock);
	if (stopped)
		reply_status(j, AF__CODE__UNAVAILABLE, "node is shutting down");
}

static void *compile_main(void *arg)
{
	struct controld_node *n = arg;
	struct controld_job *j;
	bool stop;

	pthread_mutex_lock(&n->qlock);
	for (;;) {
		while (n->chead == NULL && !n->compiler_stop)
			pthread_cond_wait(&n->ccond, &n->qlock);
		if ((j = n->chead) == NULL)
			break; /* stopping, nothing left */
		n->chead = j->next;
		if (n->chead == NULL)
			n->ctail = NULL;
		stop = n->compiler_stop;
		pthread_mutex_unlock(&n->qlock);
		if (stop)
			reply_status(j, AF__CODE__UNAVAILABLE,
				     "node is shutting down");
		else {
			controld_prepare(j, j->compile_force);
			queue_job(n, j);
		}
		pthread_mutex_lock(&n->qlock);
	}
	pthread_mutex_unlock(&n->qlock);
	return NULL;
}

/* Stops the compile thread: what waits for it is answered UNAVAILABLE,
 * the compile running finishes first. */
static void compiler_stop(struct controld_node *n)
{
	if (!n->compiler_started || n->compiler_stop)
		return;
	pthread_mutex_lock(&n->qlock);
	n->compiler_stop = true;
	pthread_cond_signal(&n->ccond);
	pthread_mutex_unlock(&n->qlock);
	pthread_join(n->compiler, NULL);
}

static void slot_cb(void *arg)
{
	struct controld_slot *s = arg;
	struct controld_job *j = &s->job;
	struct controld_node *n = j->node;
	int rv = nng_aio_result(s->aio);
	nng_msg *msg;

	switch (s->state) {
	case SLOT_RECV:
		if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
			return;
		if (rv != 0) {
			slot_recv(s);
			return;
		}
		msg = nng_aio_get_msg(s->aio);
		nng_aio_set_msg(s->aio, NULL);
		j->start_ns = af_mono_ns();
		rv = af_pb_unpack(&af__request__descriptor, nng_msg_len(msg),
				  nng_msg_body(msg),
				  (ProtobufCMessage **)&j->req);
		nng_msg_free(msg);
		if (rv != 0) {
			j->req = NULL;
			if (rv == AF_ENOMEM)
				reply_status(j, AF__CODE__UNAVAILABLE,
					     "out of memory reading the "
					     "request; try again");
			else
				reply_status(j, AF__CODE__INVALID,
					     "request does not decode");
			return;
		}
		prepare_and_queue(n, j, false);
		return;
	case SLOT_AGAIN:
		if (rv != 0) {
			job_reset(j); /* stopped meanwhile */
			return;
		}
		if (j->forced) {
			/* Sent back twice: answer rather than loop. */
			reply_status(j, AF__CODE__UNAVAILABLE,
				     "leadership changed; try again");
			return;
		}
		prepare_and_queue(n, j, true);
		return;
	case SLOT_SEND:
		if (rv != 0)
			nng_msg_free(nng_aio_get_msg(s->aio));
		nng_aio_set_msg(s->aio, NULL);
		job_reset(j);
		if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
			return;
		slot_recv(s);
		return;
	}
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
	uv_timer_init(&n->loop, &n->send_timer);
	n->send_timer.data = n;
	n->lag_due_ns = af_mono_ns() + LAG_PERIOD_MS * 1000000ull;
	uv_timer_start(&n->lag_timer, lag_cb, LAG_PERIOD_MS, LAG_PERIOD_MS);
}

int controld_api_start(struct controld_node *n, struct af_err *err)
{
	char url[AF_ADDR_MAX + 16];
	int rv;

	pthread_mutex_init(&n->qlock, NULL);
	n->loop_tid = pthread_self(); /* started on the thread that runs it */
	if (af_cluster_url(n->cfg, n->self->api, url, sizeof(url)) != 0)
		return af_errf(err, AF_ECONFIG, "api: URL too long");
	if ((rv = nng_rep0_open(&n->rep)) != 0)
		return af_errf(err, AF_EIO, "api: %s", nng_strerror(rv));
	nng_socket_set_size(n->rep, NNG_OPT_RECVMAXSZ, CONTROLD_MAX_REQUEST);
	if ((rv = af_tls_listen(n->tls, n->rep, url, err)) != 0) {
		nng_close(n->rep);
		return af_err_wrap(err, rv, "api");
	}
	n->slots = af_calloc(CONTROLD_API_SLOTS, sizeof(struct controld_slot));
	if (n->slots == NULL) {
		nng_close(n->rep);
		return af_errf(err, AF_ENOMEM, "api: out of memory");
	}
	for (unsigned i = 0; i < CONTROLD_API_SLOTS; i++) {
		struct controld_slot *sl = &n->slots[i];

		sl->job.node = n;
		if (nng_aio_alloc(&sl->aio, slot_cb, sl) != 0)
			break;
		if (nng_aio_alloc(&sl->saio, NULL, NULL) != 0) {
			nng_aio_free(sl->aio);
			break;
		}
		if (nng_ctx_open(&sl->ctx, n->rep) != 0) {
			nng_aio_free(sl->saio);
			nng_aio_free(sl->aio);
			break;
		}
		sl->open = true;
		n->n_slots++;
	}
	if (n->n_slots == 0) {
		nng_close(n->rep);
		af_free(n->slots);
		n->slots = NULL;
		return af_errf(err, AF_ENOMEM, "api: no request contexts");
	}
	pthread_cond_init(&n->ccond, NULL);
	n->compiler_started =
		pthread_create(&n->compiler, NULL, compile_main, n) == 0;
	if (!n->compiler_started) /* compiles on the NNG threads, as before */
		pthread_cond_destroy(&n->ccond);
	for (unsigned i = 0; i < n->n_slots; i++)
		slot_recv(&n->slots[i]);
	lag_start(n);
	return 0;
}

/* nng_close on a thread of its own, waited for up to ms. NNG 1.5.2 can
 * hang in it for ever: a pipe closed while a request is half read (a
 * client with requests pipelined) re-arms its receive on a closed aio,
 * which never completes, and the close waits for it. Returns whether the
 * close finished; if not, its thread is left blocked, and the process,
 * which is exiting, ends it. */
struct closer {
	nng_socket s;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
};

static void *closer_main(void *arg)
{
	struct closer *c = arg;

	nng_close(c->s);
	pthread_mutex_lock(&c->mu);
	c->done = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

static bool close_bounded(nng_socket s, unsigned ms)
{
	struct closer *c = af_calloc(1, sizeof(*c));
	struct timespec until;
	pthread_t th;
	bool done;

	if (c == NULL) {
		nng_close(s);
		return true;
	}
	c->s = s;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	if (pthread_create(&th, NULL, closer_main, c) != 0) {
		closer_main(c);
		th = pthread_self();
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&c->mu);
	while (!c->done && pthread_cond_timedwait(&c->cv, &c->mu, &until) == 0)
		;
	done = c->done;
	pthread_mutex_unlock(&c->mu);
	if (!done) {
		pthread_detach(th); /* c stays: the thread still holds it */
		return false;
	}
	if (!pthread_equal(th, pthread_self()))
		pthread_join(th, NULL);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	af_free(c);
	return true;
}

#define API_CLOSE_MS 2000

void controld_api_stop(struct controld_node *n)
{
	pthread_mutex_lock(&n->qlock);
	n->stopping = true;
	pthread_mutex_unlock(&n->qlock);
	compiler_stop(n);
	controld_api_drain(n);
	if (n->n_slots == 0)
		return;
	uv_timer_stop(&n->lag_timer);
	uv_timer_stop(&n->send_timer);
	/* The slots first: once its aios are stopped, no callback runs and
	 * NNG holds none of a slot's operations (a queued reply is
	 * cancelled and left in saio), whatever the close does after. */
	for (unsigned i = 0; i < n->n_slots; i++) {
		nng_aio_stop(n->slots[i].aio);
		nng_aio_stop(n->slots[i].saio);
	}
	n->sending = NULL;
	for (unsigned i = 0; i < n->n_slots; i++) {
		struct controld_slot *sl = &n->slots[i];
		nng_msg *m = nng_aio_get_msg(sl->saio);

		if (m != NULL)
			nng_msg_free(m);
		/* A reply sent off the loop as the stop began: its send
		 * never started, and its callback never ran. */
		if (sl->state == SLOT_SEND &&
		    (m = nng_aio_get_msg(sl->aio)) != NULL)
			nng_msg_free(m);
		job_reset(&sl->job);
		nng_aio_free(n->slots[i].saio);
		nng_aio_free(n->slots[i].aio);
	}
	af_free(n->slots);
	n->slots = NULL;
	n->n_slots = 0;
	if (!close_bounded(n->rep, API_CLOSE_MS))
		log_warn("event=api_close_stuck msg=\"the API socket did not "
			 "close within %d ms (a request was half read when its "
			 "connection closed); exiting without it\"",
			 API_CLOSE_MS);
}
