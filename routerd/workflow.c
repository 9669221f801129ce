/* Workflow tracking (workflow.h): a fixed table split in shards, each with
 * its own mutex, hash chains and LRU list, all indices into one array
 * allocated at start. */
#include "routerd/workflow.h"

#include "common/alloc.h"
#include "common/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#define NSHARDS 64u
#define NIL UINT32_MAX

struct slot {
	uint64_t seq; /* 0: free */
	uint64_t expires_ms;
	int64_t est_nano;
	int64_t tokens;
};

struct entry {
	uint64_t hash;
	uint32_t chain, prev, next; /* hash chain; LRU list (prev: newer) */
	uint32_t idle_s;
	uint64_t last_ms;
	uint64_t hops, tokens;
	int64_t cost_nano;
	struct slot slots[ROUTERD_WORKFLOW_SLOTS];
	char id[AF_POLICY_NAME_MAX + 1];
	/* whose: tenant NUL class NUL, then the labels ("k=v" NUL ...) */
	char who[ROUTERD_WORKFLOW_WHO];
	uint16_t labels_off, labels_len;
};

struct shard {
	pthread_mutex_t mu;
	uint32_t base, cap, used; /* entries [base, base + cap) */
	uint32_t head, tail;	  /* most and least recently used */
	uint32_t free;		  /* removed entries, chained by `chain` */
	uint32_t nbuckets;	  /* a power of two */
	uint32_t *buckets;
};

struct routerd_workflows {
	struct routerd_workflows_stats stats;
	struct entry *e;
	uint32_t *buckets;
	uint32_t nshards; /* NSHARDS, fewer for a small table */
	uint32_t max;
	routerd_workflow_done_fn done;
	void *done_arg;
	struct shard shards[NSHARDS];
};

static void stat_add(_Atomic uint64_t *c, int64_t n)
{
	atomic_fetch_add_explicit(c, (uint64_t)n, memory_order_relaxed);
}

int routerd_workflows_new(uint32_t max, struct routerd_workflows **ret)
{
	struct routerd_workflows *t;
	uint32_t n = max < NSHARDS ? max : NSHARDS, nb = 1, base = 0;

	if (max == 0 || max > ROUTERD_WORKFLOWS_MAX)
		return AF_EINVAL;
	while (nb < max / n + 1)
		nb <<= 1;
	t = af_calloc(1, sizeof(*t));
	if (t == NULL)
		return AF_ENOMEM;
	t->nshards = n;
	t->max = max;
	t->e = af_calloc(max, sizeof(*t->e));
	t->buckets = af_calloc((size_t)nb * n, sizeof(*t->buckets));
	if (t->e == NULL || t->buckets == NULL) {
		routerd_workflows_free(t);
		return AF_ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct shard *s = &t->shards[i];

		pthread_mutex_init(&s->mu, NULL);
		/* max split evenly: the first max % n shards take one more */
		s->base = base;
		s->cap = max / n + (i < max % n ? 1 : 0);
		base += s->cap;
		s->head = s->tail = s->free = NIL;
		s->nbuckets = nb;
		s->buckets = t->buckets + (size_t)i * nb;
		memset(s->buckets, 0xff, (size_t)nb * sizeof(*s->buckets));
	}
	*ret = t;
	return 0;
}

void routerd_workflows_free(struct routerd_workflows *t)
{
	if (t == NULL)
		return;
	if (t->e != NULL && t->buckets != NULL)
		for (uint32_t i = 0; i < t->nshards; i++)
			pthread_mutex_destroy(&t->shards[i].mu);
	af_free(t->buckets);
	af_free(t->e);
	af_free(t);
}

const struct routerd_workflows_stats *
routerd_workflows_stats(const struct routerd_workflows *t)
{
	return &t->stats;
}

static void metric(struct af_textbuf *b, const char *name, const char *type,
		   const char *help, uint64_t v)
{
	af_textbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name,
			  help, name, type, name, (unsigned long long)v);
}

void routerd_workflows_metrics(const struct routerd_workflows *t,
			       struct af_textbuf *b)
{
	const struct routerd_workflows_stats *s = &t->stats;

	metric(b, "af_routerd_workflows", "gauge",
	       "Workflows in the workflow table.", atomic_load(&s->tracked));
	metric(b, "af_routerd_workflows_max", "gauge",
	       "Size of the workflow table (--max-workflows).", t->max);
	metric(b, "af_routerd_workflows_started_total", "counter",
	       "Workflows entered in the table.", atomic_load(&s->started));
	metric(b, "af_routerd_workflows_evicted_total", "counter",
	       "Workflows dropped to make room (least recently used).",
	       atomic_load(&s->evicted));
	metric(b, "af_routerd_workflows_idle_total", "counter",
	       "Workflows started again after their idle timeout.",
	       atomic_load(&s->idled));
	metric(b, "af_routerd_workflows_abandoned_total", "counter",
	       "Workflows that ended without an outcome (idle or dropped).",
	       atomic_load(&s->abandoned));
	metric(b, "af_routerd_workflow_inflight_expired_total", "counter",
	       "Workflow hops that stopped being in flight unreported.",
	       atomic_load(&s->expired));
	metric(b, "af_routerd_workflow_inflight_overflow_total", "counter",
	       "Workflow hops in flight over the 16 tracked per workflow.",
	       atomic_load(&s->overflowed));
}

/* ------------------------------------------------------------ lists */

static void lru_unlink(struct routerd_workflows *t, struct shard *s, uint32_t i)
{
	struct entry *e = &t->e[i];

	if (e->prev != NIL)
		t->e[e->prev].next = e->next;
	else
		s->head = e->next;
	if (e->next != NIL)
		t->e[e->next].prev = e->prev;
	else
		s->tail = e->prev;
}

static void lru_front(struct routerd_workflows *t, struct shard *s, uint32_t i)
{
	struct entry *e = &t->e[i];

	e->prev = NIL;
	e->next = s->head;
	if (s->head != NIL)
		t->e[s->head].prev = i;
	s->head = i;
	if (s->tail == NIL)
		s->tail = i;
}

/* The low bits of a hash chose the shard: chains use the high ones. */
static uint32_t bucket(const struct shard *s, uint64_t h)
{
	return (uint32_t)(h >> 32) & (s->nbuckets - 1);
}

static void chain_remove(struct routerd_workflows *t, struct shard *s,
			 uint32_t i)
{
	uint32_t *p = &s->buckets[bucket(s, t->e[i].hash)];

	while (*p != i)
		p = &t->e[*p].chain;
	*p = t->e[i].chain;
}

static uint32_t find(struct routerd_workflows *t, struct shard *s, uint64_t h,
		     const char *id)
{
	uint32_t i = s->buckets[bucket(s, h)];

	while (i != NIL && (t->e[i].hash != h || strcmp(t->e[i].id, id) != 0))
		i = t->e[i].chain;
	return i;
}

/* ------------------------------------------------------------ entries */

static void reset(struct entry *e)
{
	e->hops = e->tokens = 0;
	e->cost_nano = 0;
	memset(e->slots, 0, sizeof(e->slots));
}

/* Hands workflow e, ended with outcome o (its costs and labels; NULL:
 * abandoned), to the table's done callback. */
static void finish(struct routerd_workflows *t, const struct entry *e,
		   const struct routerd_workflow_done *o)
{
	struct routerd_workflow_done w = {
		.outcome = ROUTERD_WORKFLOW_ABANDONED,
		.id = e->id,
		.tenant = e->who,
		.class_name = e->who + strlen(e->who) + 1,
		.labels = e->who + e->labels_off,
		.labels_len = e->labels_len,
	};

	if (t->done == NULL || e->hops == 0)
		return;
	if (o != NULL) {
		w = *o;
		w.finished = true;
		w.id = e->id;
	}
	if (w.labels_len == 0) { /* the outcome's labels, else its hops' */
		w.labels = e->who + e->labels_off;
		w.labels_len = e->labels_len;
	}
	w.hops = e->hops;
	w.tokens = e->tokens;
	w.inference_nano = e->cost_nano;
	if (w.outcome == ROUTERD_WORKFLOW_ABANDONED)
		stat_add(&t->stats.abandoned, 1);
	t->done(t->done_arg, &w);
}

static bool idle(const struct entry *e, uint64_t now_ms)
{
	return now_ms > e->last_ms &&
	       now_ms - e->last_ms >= (uint64_t)e->idle_s * 1000u;
}

/* Releases the hops whose expiry passed; an idle workflow is abandoned
 * and starts again. */
static void age(struct routerd_workflows *t, struct entry *e, uint64_t now_ms)
{
	if (idle(e, now_ms)) {
		stat_add(&t->stats.idled, 1);
		finish(t, e, NULL);
		reset(e);
		return;
	}
	for (size_t i = 0; i < ROUTERD_WORKFLOW_SLOTS; i++)
		if (e->slots[i].seq != 0 && e->slots[i].expires_ms <= now_ms) {
			e->slots[i].seq = 0;
			stat_add(&t->stats.expired, 1);
		}
}

/* The entry of id, entered (taking the LRU one's place when full). */
static uint32_t enter(struct routerd_workflows *t, struct shard *s, uint64_t h,
		      const char *id)
{
	uint32_t i = find(t, s, h, id);
	struct entry *e;

	if (i != NIL) {
		lru_unlink(t, s, i);
		lru_front(t, s, i);
		return i;
	}
	if (s->free != NIL) {
		i = s->free;
		s->free = t->e[i].chain;
		stat_add(&t->stats.tracked, 1);
	} else if (s->used < s->cap) {
		i = s->base + s->used++;
		stat_add(&t->stats.tracked, 1);
	} else {
		i = s->tail;
		lru_unlink(t, s, i);
		chain_remove(t, s, i);
		stat_add(&t->stats.evicted, 1);
		finish(t, &t->e[i], NULL);
	}
	stat_add(&t->stats.started, 1);
	e = &t->e[i];
	reset(e);
	e->hash = h;
	snprintf(e->id, sizeof(e->id), "%s", id);
	memset(e->who, 0, 2);
	e->labels_off = 2;
	e->labels_len = 0;
	e->idle_s = AF_WORKFLOW_IDLE_DEFAULT_S;
	e->chain = s->buckets[bucket(s, h)];
	s->buckets[bucket(s, h)] = i;
	lru_front(t, s, i);
	return i;
}

static struct shard *shard_of(struct routerd_workflows *t, const char *id,
			      uint64_t *ret_hash)
{
	*ret_hash = routerd_workflow_hash(id);
	return &t->shards[*ret_hash % t->nshards];
}

void routerd_workflows_state(struct routerd_workflows *t, const char *id,
			     uint64_t now_ms, struct af_workflow_state *ret)
{
	uint64_t h;
	struct shard *s = shard_of(t, id, &h);
	uint32_t i;

	memset(ret, 0, sizeof(*ret));
	pthread_mutex_lock(&s->mu);
	i = find(t, s, h, id);
	if (i != NIL) {
		struct entry *e = &t->e[i];

		age(t, e, now_ms);
		ret->hops = e->hops;
		ret->tokens = e->tokens;
		ret->cost_nano_usd = e->cost_nano;
		for (size_t j = 0; j < ROUTERD_WORKFLOW_SLOTS; j++)
			ret->inflight += e->slots[j].seq != 0;
	}
	pthread_mutex_unlock(&s->mu);
}

/* A free slot, else the one expiring first (its hop stops counting). */
static struct slot *free_slot(struct routerd_workflows *t, struct entry *e)
{
	struct slot *best = &e->slots[0];

	for (size_t i = 0; i < ROUTERD_WORKFLOW_SLOTS; i++) {
		if (e->slots[i].seq == 0)
			return &e->slots[i];
		if (e->slots[i].expires_ms < best->expires_ms)
			best = &e->slots[i];
	}
	stat_add(&t->stats.overflowed, 1);
	return best;
}

static void set_who(struct entry *e, const struct routerd_workflow_who *w)
{
	/* names as the usage rows keep them: at most 64 bytes */
	int t = snprintf(e->who, 66, "%.64s", w->tenant);
	int c = snprintf(e->who + t + 1, 66, "%.64s", w->class_name);

	e->labels_off = (uint16_t)(t + c + 2);
	e->labels_len = 0;
	if (w->labels_len > 0 &&
	    w->labels_len <= sizeof(e->who) - e->labels_off) {
		memcpy(e->who + e->labels_off, w->labels, w->labels_len);
		e->labels_len = (uint16_t)w->labels_len;
	}
}

void routerd_workflows_routed(struct routerd_workflows *t, const char *id,
			      const struct routerd_workflow_who *who,
			      uint64_t seq, const struct af_decision *d,
			      int64_t tokens, uint64_t ttl_ms, uint64_t now_ms)
{
	uint64_t h;
	struct shard *s = shard_of(t, id, &h);
	struct entry *e;
	struct slot *sl;

	if (d->kind != AF_DECISION_ROUTE || seq == 0)
		return;
	if (tokens < 0)
		tokens = 0;
	pthread_mutex_lock(&s->mu);
	e = &t->e[enter(t, s, h, id)];
	age(t, e, now_ms);
	if (e->hops == 0)
		set_who(e, who);
	e->idle_s = d->workflow_idle_s > 0 ? d->workflow_idle_s
					   : AF_WORKFLOW_IDLE_DEFAULT_S;
	e->last_ms = now_ms;
	e->hops++;
	e->tokens += (uint64_t)tokens;
	e->cost_nano += d->est_cost_nano_usd;
	sl = free_slot(t, e);
	*sl = (struct slot){seq, now_ms + ttl_ms, d->est_cost_nano_usd, tokens};
	pthread_mutex_unlock(&s->mu);
}

uint64_t routerd_workflow_hash(const char *id)
{
	return XXH3_64bits(id, strlen(id));
}

/* Settles hop seq in entry i when it holds it; true if it did. */
static bool settle(struct entry *e, uint64_t seq, int64_t cost_nano_usd,
		   int64_t tokens, uint64_t now_ms)
{
	for (size_t j = 0; j < ROUTERD_WORKFLOW_SLOTS; j++) {
		struct slot *sl = &e->slots[j];

		if (sl->seq != seq)
			continue;
		e->cost_nano += cost_nano_usd - sl->est_nano;
		if (tokens >= 0)
			e->tokens = e->tokens - (uint64_t)sl->tokens +
				    (uint64_t)tokens;
		e->last_ms = now_ms > e->last_ms ? now_ms : e->last_ms;
		sl->seq = 0;
		return true;
	}
	return false;
}

void routerd_workflows_reported(struct routerd_workflows *t, const char *id,
				uint64_t seq, int64_t cost_nano_usd,
				int64_t tokens, uint64_t now_ms)
{
	uint64_t h;
	struct shard *s = shard_of(t, id, &h);
	uint32_t i;

	if (seq == 0)
		return;
	pthread_mutex_lock(&s->mu);
	i = find(t, s, h, id);
	if (i != NIL)
		settle(&t->e[i], seq, cost_nano_usd, tokens, now_ms);
	pthread_mutex_unlock(&s->mu);
}

void routerd_workflows_reported_hash(struct routerd_workflows *t, uint64_t hash,
				     uint64_t seq, int64_t cost_nano_usd,
				     int64_t tokens, uint64_t now_ms)
{
	struct shard *s = &t->shards[hash % t->nshards];
	uint32_t i;

	if (seq == 0 || hash == 0)
		return;
	pthread_mutex_lock(&s->mu);
	/* the workflows of that hash (one, but for a 64-bit collision): the
	 * one holding hop seq */
	for (i = s->buckets[bucket(s, hash)]; i != NIL; i = t->e[i].chain)
		if (t->e[i].hash == hash &&
		    settle(&t->e[i], seq, cost_nano_usd, tokens, now_ms))
			break;
	pthread_mutex_unlock(&s->mu);
}

/* Takes entry i out of its shard (onto the free list). */
static void drop(struct routerd_workflows *t, struct shard *s, uint32_t i)
{
	lru_unlink(t, s, i);
	chain_remove(t, s, i);
	t->e[i].chain = s->free;
	s->free = i;
	atomic_fetch_sub_explicit(&t->stats.tracked, 1, memory_order_relaxed);
}

void routerd_workflows_on_done(struct routerd_workflows *t,
			       routerd_workflow_done_fn fn, void *arg)
{
	t->done = fn;
	t->done_arg = arg;
}

bool routerd_workflows_outcome(struct routerd_workflows *t, const char *id,
			       const struct routerd_workflow_done *o,
			       uint64_t now_ms)
{
	uint64_t h;
	struct shard *s = shard_of(t, id, &h);
	uint32_t i;
	bool known = false;

	pthread_mutex_lock(&s->mu);
	i = find(t, s, h, id);
	if (i != NIL) {
		age(t, &t->e[i], now_ms);
		known = t->e[i].hops > 0;
		if (known)
			finish(t, &t->e[i], o);
		drop(t, s, i);
	}
	pthread_mutex_unlock(&s->mu);
	if (!known && t->done != NULL) {
		struct routerd_workflow_done w = *o;

		w.finished = true;
		w.id = id;
		t->done(t->done_arg, &w);
	}
	return known;
}

size_t routerd_workflows_sweep(struct routerd_workflows *t, uint64_t now_ms)
{
	size_t n = 0;

	for (uint32_t k = 0; k < t->nshards; k++) {
		struct shard *s = &t->shards[k];
		uint32_t i, prev;

		pthread_mutex_lock(&s->mu);
		for (i = s->tail; i != NIL; i = prev) {
			prev = t->e[i].prev;
			if (!idle(&t->e[i], now_ms))
				continue;
			stat_add(&t->stats.idled, 1);
			finish(t, &t->e[i], NULL);
			drop(t, s, i);
			n++;
		}
		pthread_mutex_unlock(&s->mu);
	}
	return n;
}

size_t routerd_workflow_labels(const char *const *dims, size_t ndims,
			       const char *const *kv, size_t n, char *out,
			       size_t cap)
{
	size_t len = 0, need;

	for (size_t d = 0; d < ndims; d++)
		for (size_t i = 0; i < n; i++) {
			if (strcmp(kv[2 * i], dims[d]) != 0)
				continue;
			need = strlen(kv[2 * i]) + strlen(kv[2 * i + 1]) + 2;
			if (len + need <= cap) {
				snprintf(out + len, cap - len, "%s=%s",
					 kv[2 * i], kv[2 * i + 1]);
				len += need;
			}
			break;
		}
	return len;
}
