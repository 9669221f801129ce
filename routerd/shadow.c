/* Shadow evaluation off the decision path (shadow.h). */
#include "routerd/shadow.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/satarith.h"
#include "common/timeutil.h"
#include "routerd/decision_log.h"
#include "routerd/override.h"
#include "routerd/routerd_int.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define CLASS_MAX 65 /* as usage rows: longer class names are cut */
#define SHADOW_NAP_MS 1
#define OTHER "(other)"

/* One shadowed decision in the queue: what the deciding thread saw, the
 * request and the live inputs packed behind it (their bytes in use
 * only). The decision's and the record's pointers point into view v,
 * which the worker uses only while it holds that same view again
 * (pointer and gen). */
struct job {
	uint32_t len; /* of the job, header included, a multiple of 8 */
	uint32_t req_len, rec_len;
	const struct routerd_view *v;
	uint64_t gen;
	int64_t wall_ms;
	/* what the live decision was, as af_decision_changes compares it */
	enum af_decision_kind kind;
	struct af_hop primary;
	const char *code;
	int64_t est_cost_nano_usd;
};

/* A job's len when the rest of the ring up to its end is unused. */
#define JOB_SKIP UINT32_MAX
#define JOB_MAX                                                                \
	(sizeof(struct job) + sizeof(struct af_request) +                      \
	 sizeof(struct af_live_rec) + 8)

struct row {
	char hash[AF_HASH_STR_LEN];
	char cls[CLASS_MAX];
	Af__ShadowCounts c;
};

struct routerd_shadow {
	struct routerd *r;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu; /* guards the queue and stop */
	pthread_cond_t cv;
	bool stop, waiting;
	uint64_t head, tail; /* byte positions of the jobs in the ring */
	size_t njobs;	     /* jobs in [head, tail) */
	uint8_t *ring;	     /* ROUTERD_SHADOW_RING bytes */
	/* the worker's: a job unpacked */
	struct af_request req;
	struct af_live_rec rec;
	pthread_mutex_t rmu; /* guards the rows */
	struct row rows[ROUTERD_SHADOW_ROWS + 1];
	size_t nrows;
	_Atomic uint64_t queued, dropped, evaluated, stale, changed;
};

/* A job being packed, on the deciding thread. */
static _Thread_local uint8_t tl_job[JOB_MAX] __attribute__((aligned(8)));

bool routerd_shadow_wants(const struct routerd *r, const struct routerd_view *v,
			  uint64_t seq, int64_t wall_ms)
{
	if (r->shadow == NULL || view_ext(v)->shadow_pv == NULL ||
	    (v->shadow_expires_ms != 0 && wall_ms >= v->shadow_expires_ms))
		return false;
	/* A hash unlike the decision log's, so the two samples are not the
	 * same requests. */
	return routerd_dlog_sampled(~seq, v->shadow_sample_pct * 10000u);
}

static void count_dropped(struct routerd_shadow *s, const char *hash,
			  const char *cls);

void routerd_shadow_put(struct routerd *r, const struct routerd_view *v,
			const struct af_request *req,
			const struct af_decision *d,
			const struct af_live_rec *rec, int64_t wall_ms)
{
	struct routerd_shadow *s = r->shadow;
	struct job *j = (struct job *)(void *)tl_job;
	size_t len, off, waste = 0;
	bool wake;

	if (s == NULL || d->canary)
		return;
	/* Packed here, copied into the ring under the lock. */
	*j = (struct job){.v = v,
			  .gen = view_ext(v)->gen,
			  .wall_ms = wall_ms,
			  .kind = d->kind,
			  .primary = d->primary,
			  .code = d->code,
			  .est_cost_nano_usd = d->est_cost_nano_usd};
	j->req_len = (uint32_t)af_request_pack(req, tl_job + sizeof(*j),
					       sizeof(struct af_request));
	j->rec_len = (uint32_t)af_live_rec_pack(
		rec, tl_job + sizeof(*j) + j->req_len,
		sizeof(struct af_live_rec));
	len = (sizeof(*j) + j->req_len + j->rec_len + 7) & ~(size_t)7;
	j->len = (uint32_t)len;
	pthread_mutex_lock(&s->mu);
	off = (size_t)(s->tail % ROUTERD_SHADOW_RING);
	if (off + len > ROUTERD_SHADOW_RING)
		waste = ROUTERD_SHADOW_RING -
			off; /* starts at the ring's start */
	if (s->tail + waste + len - s->head > ROUTERD_SHADOW_RING || s->stop) {
		bool full = !s->stop;

		pthread_mutex_unlock(&s->mu);
		atomic_fetch_add_explicit(&s->dropped, 1, memory_order_relaxed);
		if (full)
			count_dropped(s, v->shadow_hash, req->class_name);
		return;
	}
	if (waste > 0) {
		uint32_t skip = JOB_SKIP;

		memcpy(s->ring + off, &skip, sizeof(skip));
		s->tail += waste;
		off = 0;
	}
	memcpy(s->ring + off, tl_job, len);
	s->tail += len;
	s->njobs++;
	wake = s->waiting;
	pthread_mutex_unlock(&s->mu);
	atomic_fetch_add_explicit(&s->queued, 1, memory_order_relaxed);
	if (wake)
		pthread_cond_signal(&s->cv);
}

/* ------------------------------------------------------------ counters */

/* The row of (hash, class); past the bound, the hash's "(other)" row.
 * Caller holds rmu. */
static struct row *row_of(struct routerd_shadow *s, const char *hash,
			  const char *cls)
{
	struct row *w;

	for (size_t i = 0; i < s->nrows; i++) {
		w = &s->rows[i];
		if (strncmp(w->cls, cls, CLASS_MAX - 1) == 0 &&
		    strcmp(w->hash, hash) == 0)
			return w;
	}
	if (s->nrows >= ROUTERD_SHADOW_ROWS && strcmp(cls, OTHER) != 0)
		return row_of(s, hash, OTHER);
	if (s->nrows > ROUTERD_SHADOW_ROWS)
		return NULL;
	w = &s->rows[s->nrows++];
	snprintf(w->hash, sizeof(w->hash), "%s", hash);
	snprintf(w->cls, sizeof(w->cls), "%.64s", cls);
	af__shadow_counts__init(&w->c);
	return w;
}

static void count(struct routerd_shadow *s, const char *hash, const char *cls,
		  const struct af_decision *live, const struct af_decision *sd,
		  int src)
{
	unsigned ch = af_decision_changes(live, 0, sd, src);
	struct row *w;

	pthread_mutex_lock(&s->rmu);
	if ((w = row_of(s, hash, cls)) != NULL) {
		w->c.sampled++;
		w->c.same += ch == 0;
		w->c.model += (ch & AF_CHANGE_MODEL) != 0;
		w->c.tier += (ch & AF_CHANGE_TIER) != 0;
		w->c.region += (ch & AF_CHANGE_REGION) != 0;
		w->c.route_to_deny += (ch & AF_CHANGE_ROUTE_TO_DENY) != 0;
		w->c.deny_to_route += (ch & AF_CHANGE_DENY_TO_ROUTE) != 0;
		w->c.deny_code += (ch & AF_CHANGE_DENY_CODE) != 0;
		if (live->kind == AF_DECISION_ROUTE)
			w->c.cost_stable_nano_usd =
				af_sat_add_i64(w->c.cost_stable_nano_usd,
					       live->est_cost_nano_usd);
		if (src == 0 && sd->kind == AF_DECISION_ROUTE)
			w->c.cost_shadow_nano_usd =
				af_sat_add_i64(w->c.cost_shadow_nano_usd,
					       sd->est_cost_nano_usd);
	}
	pthread_mutex_unlock(&s->rmu);
	if (ch != 0)
		atomic_fetch_add_explicit(&s->changed, 1, memory_order_relaxed);
}

/* A decision the full queue turned away, in its class's row, so that
 * controld's status shows the drops next to the agreement. */
static void count_dropped(struct routerd_shadow *s, const char *hash,
			  const char *cls)
{
	struct row *w;

	pthread_mutex_lock(&s->rmu);
	if ((w = row_of(s, hash, cls)) != NULL)
		w->c.dropped++;
	pthread_mutex_unlock(&s->rmu);
}

int routerd_shadow_take(struct routerd_shadow *s, Af__ShadowCounts **ret,
			size_t *ret_n)
{
	Af__ShadowCounts *out;
	char *names;
	size_t n;

	*ret = NULL;
	*ret_n = 0;
	if (s == NULL)
		return 0;
	pthread_mutex_lock(&s->rmu);
	n = s->nrows;
	if (n == 0) {
		pthread_mutex_unlock(&s->rmu);
		return 0;
	}
	/* One block: the rows, then their strings. */
	out = af_malloc(n * (sizeof(*out) + AF_HASH_STR_LEN + CLASS_MAX));
	if (out == NULL) {
		pthread_mutex_unlock(&s->rmu);
		return AF_ENOMEM;
	}
	names = (char *)(out + n);
	for (size_t i = 0; i < n; i++) {
		char *h = names + i * (AF_HASH_STR_LEN + CLASS_MAX);

		out[i] = s->rows[i].c;
		memcpy(h, s->rows[i].hash, AF_HASH_STR_LEN);
		memcpy(h + AF_HASH_STR_LEN, s->rows[i].cls, CLASS_MAX);
		out[i].hash = h;
		out[i].class_name = h + AF_HASH_STR_LEN;
	}
	s->nrows = 0;
	pthread_mutex_unlock(&s->rmu);
	*ret = out;
	*ret_n = n;
	return 0;
}

/* -------------------------------------------------------------- worker */

/* Decides j again on the shadow of the view it was decided on. */
static void evaluate(struct routerd_shadow *s, const struct job *j)
{
	const struct routerd_view *v = routerd_view_acquire(s->r);
	const struct view_ext *x = v != NULL ? view_ext(v) : NULL;
	const uint8_t *p = (const uint8_t *)(j + 1);
	struct af_replay_live rl;
	struct af_live live;
	struct af_decision sd, d = {.kind = j->kind,
				    .primary = j->primary,
				    .code = j->code,
				    .est_cost_nano_usd = j->est_cost_nano_usd};
	int rc;

	if (v != j->v || x->gen != j->gen || x->shadow_pv == NULL ||
	    af_request_unpack(p, j->req_len, &s->req) == 0 ||
	    af_live_rec_unpack(p + j->req_len, j->rec_len, &s->rec) == 0) {
		/* A new view since: its names may be gone. */
		atomic_fetch_add_explicit(&s->stale, 1, memory_order_relaxed);
		routerd_view_release(s->r, v);
		return;
	}
	af_live_rec_replay(&s->rec, &rl);
	af_replay_live_bind(&rl, x->shadow_pv, &live);
	rc = routerd_override_decide_pv(s->r, x->shadow_pv, &s->req, &live,
					j->wall_ms, "shadow", NULL, &sd);
	if (rc == 0)
		af_replay_lease(&rl, &sd);
	if (rc == 0 || rc == AF_ENOTFOUND) {
		count(s, v->shadow_hash, s->req.class_name, &d, &sd, rc);
		atomic_fetch_add_explicit(&s->evaluated, 1,
					  memory_order_relaxed);
	}
	routerd_view_release(s->r, v);
}

static void *worker(void *arg)
{
	struct routerd_shadow *s = arg;

	struct timespec ts;
	bool napped = false;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		/* Out of work, the worker first naps SHADOW_NAP_MS without
		 * asking to be woken: under load, producers queue a batch
		 * meanwhile and signal nobody (a wake-up per request would
		 * cost more than the shadow decision). Still nothing: it
		 * sleeps until a producer wakes it. */
		if (s->head == s->tail && !s->stop && !napped) {
			af_deadline_after(CLOCK_REALTIME, SHADOW_NAP_MS, &ts);
			pthread_cond_timedwait(&s->cv, &s->mu, &ts);
			napped = true;
			continue;
		}
		while (s->head == s->tail && !s->stop) {
			s->waiting = true;
			pthread_cond_wait(&s->cv, &s->mu);
			s->waiting = false;
		}
		if (s->stop)
			break;
		napped = false;
		/* Producers write only past tail: the job at head is ours
		 * until head moves. */
		size_t off = (size_t)(s->head % ROUTERD_SHADOW_RING);
		const struct job *j =
			(const struct job *)(const void *)(s->ring + off);

		if (j->len == JOB_SKIP) {
			s->head += ROUTERD_SHADOW_RING - off;
			continue;
		}
		pthread_mutex_unlock(&s->mu);
		evaluate(s, j);
		pthread_mutex_lock(&s->mu);
		s->head += j->len;
		s->njobs--;
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int routerd_shadow_start(struct routerd *r, struct af_err *err)
{
	struct routerd_shadow *s = af_calloc(1, sizeof(*s));

	if (s == NULL || (s->ring = af_malloc(ROUTERD_SHADOW_RING)) == NULL) {
		af_free(s);
		return af_errf(err, AF_ENOMEM, "shadow: out of memory");
	}
	s->r = r;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->rmu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (pthread_create(&s->thread, NULL, worker, s) != 0) {
		af_free(s->ring);
		af_free(s);
		return af_errf(err, AF_EIO, "shadow: cannot start its thread");
	}
	s->started = true;
	r->shadow = s;
	return 0;
}

void routerd_shadow_stop(struct routerd *r)
{
	struct routerd_shadow *s = r->shadow;

	if (s == NULL || !s->started)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	s->started = false;
}

void routerd_shadow_free(struct routerd *r)
{
	struct routerd_shadow *s = r->shadow;

	if (s == NULL)
		return;
	routerd_shadow_stop(r);
	r->shadow = NULL;
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->rmu);
	pthread_cond_destroy(&s->cv);
	af_free(s->ring);
	af_free(s);
}

void routerd_shadow_metrics(struct routerd *r, struct af_textbuf *b)
{
	struct routerd_shadow *s = r->shadow;
	size_t depth;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	depth = s->njobs;
	pthread_mutex_unlock(&s->mu);
	af_metric_u64(b, "af_routerd_shadow_queued_total",
		      "Decisions queued for evaluation against the shadow "
		      "bundle.",
		      "counter", atomic_load(&s->queued));
	af_metric_u64(b, "af_routerd_shadow_dropped_total",
		      "Decisions not shadowed: the shadow queue was full.",
		      "counter", atomic_load(&s->dropped));
	af_metric_u64(b, "af_routerd_shadow_evaluated_total",
		      "Decisions evaluated against the shadow bundle.",
		      "counter", atomic_load(&s->evaluated));
	af_metric_u64(b, "af_routerd_shadow_changed_total",
		      "Shadow decisions that differed from the live one.",
		      "counter", atomic_load(&s->changed));
	af_metric_u64(b, "af_routerd_shadow_stale_total",
		      "Queued decisions skipped: a new view arrived before "
		      "their evaluation.",
		      "counter", atomic_load(&s->stale));
	af_metric_u64(b, "af_routerd_shadow_queue_depth",
		      "Decisions waiting in the shadow queue.", "gauge", depth);
}
