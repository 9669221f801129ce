/*
 * Live signals behind struct af_live: lane in-flight counts, observed
 * latency and cooldowns of (model, region) pairs.
 *
 * State is keyed by name (lane name; model + region) so it survives view
 * swaps. Slots are never freed or moved while the live state exists; a
 * view maps its dense lane and pair ids to slot pointers when it is
 * published (routerd_live_bind), so the decision path does no string
 * work. Every table is bounded:
 * - lanes: LIVE_MAX_LANES slots; pairs: LIVE_MAX_PAIRS slots (chunks
 *   allocated on demand). Names over the bound get no live state.
 * - cooldowns are kept per (cohort, model, region): each pair has one
 *   health window for the stable cohort and one for the canary, so the
 *   failures of canary traffic never cool a model down for stable.
 * - decisions in flight: a ring of LIVE_RING entries indexed by the
 *   decision's sequence number; an entry remembers its decision's cohort
 *   until it is reused, so a report finds the cohort of its decision. A
 * decision releases its lane slot when its report comes, when it expires (2x
 * its latency SLO, at least 1 s, 60 s without SLO, at most 1 h), or when a
 * decision LIVE_RING later reuses its entry (counted as evicted).
 */
#include "common/alloc.h"
#include "common/timeutil.h"
#include "routerd/budget.h"
#include "routerd/routerd_int.h"
#include "routerd/report.h"
#include "routerd/usage.h"
#include "routerd/workflow.h"

#include <pthread.h>
#include <string.h>
#include <xxhash.h>

#define LIVE_MAX_LANES 1024
#define LIVE_CHUNK 1024
#define LIVE_MAX_CHUNKS 64 /* 65536 pairs */
#define LIVE_MAX_PAIRS (LIVE_CHUNK * LIVE_MAX_CHUNKS)
#define LIVE_PAIR_HASH (2 * LIVE_MAX_PAIRS) /* power of two */
#define LIVE_RING (1u << 17)
#define LIVE_TTL_DEFAULT_MS 60000u
#define LIVE_TTL_MIN_MS 1000u
#define LIVE_TTL_MAX_MS 3600000u
#define EWMA_DIV 8
#define LIVE_COOLING_MODEL                                                     \
	"(cooling down)" /* usage row of such denials */ /* weight of a new    \
							    latency sample:    \
							    1/8 */

struct live_lane {
	_Atomic uint32_t inflight;
	_Atomic int64_t limit; /* max_inflight of the last view naming it */
	char *name;
};

/* One cohort's health window of a pair. */
struct cohort_health {
	_Atomic uint64_t cool_until_ms; /* monotonic */
	_Atomic int lock;		/* guards the counters below */
	uint32_t samples, errors, consecutive;
};

struct live_pair {
	_Atomic uint32_t ewma_ms;
	_Atomic uint64_t reports_ok, reports_failed; /* for /metrics */
	struct cohort_health h[2]; /* [0] stable, [1] canary */
	char *model, *region;
};

struct ring_ent {
	_Atomic int lock;
	_Atomic uint64_t seq; /* 0: free; written under lock */
	struct live_lane *lane;
	uint64_t expiry_ms;
	uint64_t last_seq; /* the decision it held last (under lock) */
	bool canary;	   /* that decision's cohort */
};

struct routerd_live {
	struct live_stats stats;
	/* Publisher side (routerd_live_bind): one publisher at a time. */
	pthread_mutex_t bind_mu;
	struct live_lane lanes[LIVE_MAX_LANES];
	_Atomic uint32_t nlanes;
	struct live_pair *chunks[LIVE_MAX_CHUNKS];
	uint32_t npairs;
	uint32_t *pair_hash; /* pair index + 1; 0 free */
	uint64_t canary_rev; /* whose canary health windows the pairs hold */
	struct ring_ent *ring;
	_Atomic uint64_t occupied; /* ring entries held: the sweep skips at 0 */
	/* expiry thread */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stop, started;
};

static void spin_lock(_Atomic int *l)
{
	while (atomic_exchange_explicit(l, 1, memory_order_acquire) != 0)
		while (atomic_load_explicit(l, memory_order_relaxed) != 0)
			;
}

static void spin_unlock(_Atomic int *l)
{
	atomic_store_explicit(l, 0, memory_order_release);
}

static void *expiry_main(void *arg)
{
	struct routerd_live *l = arg;
	struct timespec ts;

	pthread_mutex_lock(&l->mu);
	while (!l->stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&l->cond, &l->mu, &ts);
		if (l->stop)
			break;
		pthread_mutex_unlock(&l->mu);
		routerd_live_expire(l, af_mono_ms());
		pthread_mutex_lock(&l->mu);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

int routerd_live_new(struct routerd_live **ret, struct af_err *err)
{
	struct routerd_live *l = af_calloc(1, sizeof(*l));

	if (l == NULL)
		return af_errf(err, AF_ENOMEM, "live: out of memory");
	pthread_mutex_init(&l->bind_mu, NULL);
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cond, NULL);
	l->pair_hash = af_calloc(LIVE_PAIR_HASH, sizeof(*l->pair_hash));
	l->ring = af_calloc(LIVE_RING, sizeof(*l->ring));
	if (l->pair_hash == NULL || l->ring == NULL) {
		routerd_live_free(l);
		return af_errf(err, AF_ENOMEM, "live: out of memory");
	}
	if (pthread_create(&l->thread, NULL, expiry_main, l) != 0) {
		routerd_live_free(l);
		return af_errf(err, AF_EIO, "live: cannot start thread");
	}
	l->started = true;
	*ret = l;
	return 0;
}

void routerd_live_free(struct routerd_live *l)
{
	if (l == NULL)
		return;
	if (l->started) {
		pthread_mutex_lock(&l->mu);
		l->stop = true;
		pthread_cond_signal(&l->cond);
		pthread_mutex_unlock(&l->mu);
		pthread_join(l->thread, NULL);
	}
	for (uint32_t i = 0; i < atomic_load(&l->nlanes); i++)
		af_free(l->lanes[i].name);
	for (uint32_t i = 0; i < l->npairs; i++) {
		struct live_pair *p =
			&l->chunks[i / LIVE_CHUNK][i % LIVE_CHUNK];

		af_free(p->model);
		af_free(p->region);
	}
	for (size_t i = 0; i < LIVE_MAX_CHUNKS; i++)
		af_free(l->chunks[i]);
	af_free(l->pair_hash);
	af_free(l->ring);
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->mu);
	pthread_mutex_destroy(&l->bind_mu);
	af_free(l);
}

const struct live_stats *routerd_live_stats(const struct routerd_live *l)
{
	return &l->stats;
}

/* ------------------------------------------------------------ binding */

/* The lane slot named `name`, created when missing; NULL when full. */
static struct live_lane *lane_slot(struct routerd_live *l, const char *name,
				   int *rc)
{
	uint32_t n = atomic_load(&l->nlanes);

	for (uint32_t i = 0; i < n; i++)
		if (strcmp(l->lanes[i].name, name) == 0)
			return &l->lanes[i];
	if (n == LIVE_MAX_LANES)
		return NULL;
	l->lanes[n].name = af_strdup(name);
	if (l->lanes[n].name == NULL) {
		*rc = AF_ENOMEM;
		return NULL;
	}
	atomic_store(&l->nlanes, n + 1); /* name visible before the count */
	return &l->lanes[n];
}

static struct live_pair *pair_at(const struct routerd_live *l, uint32_t i)
{
	return &l->chunks[i / LIVE_CHUNK][i % LIVE_CHUNK];
}

static struct live_pair *pair_new(struct routerd_live *l, const char *model,
				  const char *region, int *rc)
{
	uint32_t i = l->npairs;
	struct live_pair *p;

	if (i == LIVE_MAX_PAIRS)
		return NULL;
	if (l->chunks[i / LIVE_CHUNK] == NULL) {
		l->chunks[i / LIVE_CHUNK] =
			af_calloc(LIVE_CHUNK, sizeof(struct live_pair));
		if (l->chunks[i / LIVE_CHUNK] == NULL)
			goto nomem;
	}
	p = pair_at(l, i);
	p->model = af_strdup(model);
	p->region = af_strdup(region);
	if (p->model == NULL || p->region == NULL) {
		af_free(p->model);
		af_free(p->region);
		p->model = p->region = NULL;
		goto nomem;
	}
	l->npairs++;
	return p;
nomem:
	*rc = AF_ENOMEM;
	return NULL;
}

/* The pair slot of (model, region), created when missing; NULL when full
 * or on allocation failure (*rc). */
static struct live_pair *pair_slot(struct routerd_live *l, const char *model,
				   const char *region, int *rc)
{
	uint64_t h = XXH3_64bits(model, strlen(model)) ^
		     (XXH3_64bits(region, strlen(region)) * 0x9E3779B97F4A7C15);
	uint32_t mask = LIVE_PAIR_HASH - 1, s = (uint32_t)h & mask;
	struct live_pair *p;

	for (;; s = (s + 1) & mask) {
		if (l->pair_hash[s] == 0)
			break;
		p = pair_at(l, l->pair_hash[s] - 1);
		if (strcmp(p->model, model) == 0 &&
		    strcmp(p->region, region) == 0)
			return p;
	}
	p = pair_new(l, model, region, rc);
	if (p != NULL)
		l->pair_hash[s] = l->npairs; /* index + 1 */
	return p;
}

static void health_reset(struct cohort_health *ch)
{
	spin_lock(&ch->lock);
	atomic_store(&ch->cool_until_ms, 0);
	ch->samples = ch->errors = ch->consecutive = 0;
	spin_unlock(&ch->lock);
}

int routerd_live_bind(struct routerd_live *l, struct view_ext *x)
{
	const char *model, *region;
	int rc = 0;

	x->lanes = af_calloc(x->nlanes > 0 ? x->nlanes : 1, sizeof(*x->lanes));
	x->pairs = af_calloc(x->npairs > 0 ? x->npairs : 1, sizeof(*x->pairs));
	if (x->lanes == NULL || x->pairs == NULL) {
		routerd_live_unbind(x);
		return AF_ENOMEM;
	}
	pthread_mutex_lock(&l->bind_mu);
	if (x->v.canary_revision != l->canary_rev) {
		/* A new canary (or none) starts with clean health: an aborted
		 * canary's cooldowns are not the next one's. */
		for (uint32_t i = 0; i < l->npairs; i++)
			health_reset(&pair_at(l, i)->h[1]);
		l->canary_rev = x->v.canary_revision;
	}
	for (uint32_t i = 0; i < x->nlanes && rc == 0; i++) {
		x->lanes[i] =
			lane_slot(l, af_policy_view_lane_name(x->v.pv, i), &rc);
		if (x->lanes[i] == NULL && rc == 0)
			atomic_fetch_add(&l->stats.bind_full, 1);
		else if (x->lanes[i] != NULL && x->lane_max != NULL)
			atomic_store(&x->lanes[i]->limit, x->lane_max[i]);
	}
	for (uint32_t i = 0; i < x->npairs && rc == 0; i++) {
		af_policy_view_pair(x->v.pv, i, &model, &region);
		x->pairs[i] = pair_slot(l, model, region, &rc);
		if (x->pairs[i] == NULL && rc == 0)
			atomic_fetch_add(&l->stats.bind_full, 1);
	}
	pthread_mutex_unlock(&l->bind_mu);
	if (rc != 0)
		routerd_live_unbind(x);
	return rc;
}

void routerd_live_unbind(struct view_ext *x)
{
	af_free(x->lanes);
	af_free(x->pairs);
	x->lanes = NULL;
	x->pairs = NULL;
}

/* ------------------------------------------------------ decision path */

static uint32_t cb_inflight(void *ctx, uint32_t lane_id)
{
	const struct live_ctx *c = ctx;
	const struct live_lane *lane;

	if (c->x->lanes == NULL || lane_id >= c->x->nlanes)
		return 0;
	lane = c->x->lanes[lane_id];
	return lane != NULL ? atomic_load_explicit(&lane->inflight,
						   memory_order_relaxed)
			    : 0;
}

static const struct live_pair *pair_of(const struct live_ctx *c,
				       uint32_t pair_id)
{
	if (c->x->pairs == NULL || pair_id >= c->x->npairs)
		return NULL;
	return c->x->pairs[pair_id];
}

static uint64_t cb_cooldown_ms(void *ctx, uint32_t pair_id, bool canary)
{
	const struct live_ctx *c = ctx;
	const struct live_pair *p = pair_of(c, pair_id);
	uint64_t until;

	if (p == NULL)
		return 0;
	until = atomic_load_explicit(&p->h[canary ? 1 : 0].cool_until_ms,
				     memory_order_relaxed);
	return until > c->now_ms ? until - c->now_ms : 0;
}

/* The stable cohort's view, for callers that know no cohort. */
static bool cb_cooling(void *ctx, uint32_t pair_id)
{
	return cb_cooldown_ms(ctx, pair_id, false) > 0;
}

static uint32_t cb_latency(void *ctx, uint32_t pair_id)
{
	const struct live_pair *p = pair_of(ctx, pair_id);

	return p != NULL
		       ? atomic_load_explicit(&p->ewma_ms, memory_order_relaxed)
		       : 0;
}

enum af_budget_state routerd_budget_state(void *ctx, const char *tenant,
					  uint64_t *ret_retry_after_ms)
{
	const struct live_ctx *c = ctx;

	*ret_retry_after_ms = 0;
	if (c->budgets == NULL)
		return AF_BUDGET_OK;
	return routerd_budgets_state(c->budgets, tenant, c->wall_ms,
				     ret_retry_after_ms);
}

void routerd_live_prepare(struct live_ctx *c, const struct routerd_view *v,
			  uint64_t now_ms, struct af_live *ret)
{
	c->x = view_ext(v);
	c->now_ms = now_ms;
	c->budgets = NULL;
	c->wall_ms = 0;
	c->workflows = NULL;
	ret->ctx = c;
	ret->lane_inflight = cb_inflight;
	ret->cooling = cb_cooling;
	ret->cooldown_ms = cb_cooldown_ms;
	ret->latency_ms = cb_latency;
	ret->budget = routerd_budget_state;
	ret->workflow = NULL;
}

/* ---------------------------------------------------------- workflows */

static void cb_workflow(void *ctx, const char *id,
			struct af_workflow_state *ret)
{
	const struct live_ctx *c = ctx;

	routerd_workflows_state(c->workflows, id, c->now_ms, ret);
}

void routerd_live_workflows(struct live_ctx *c, struct routerd_workflows *t,
			    struct af_live *live)
{
	if (t == NULL)
		return;
	c->workflows = t;
	live->workflow = cb_workflow;
}

static int64_t tokens_of(int64_t in, int64_t out)
{
	return (in > 0 ? in : 0) + (out > 0 ? out : 0);
}

size_t routerd_live_labels(const struct routerd_view *v,
			   const struct af_request *req, char *out, size_t cap)
{
	const char *kv[AF_REQ_MAX_LABELS][2];
	const char *const *dims;
	size_t ndims = 0;

	dims = af_policy_view_showback_dims(v->pv, &ndims);
	if (ndims == 0 || req->nlabels == 0)
		return 0;
	for (size_t i = 0; i < req->nlabels; i++) {
		kv[i][0] = req->labels[i].key;
		kv[i][1] = req->labels[i].value;
	}
	return routerd_workflow_labels(dims, ndims, &kv[0][0], req->nlabels,
				       out, cap);
}

void routerd_live_workflow_routed(struct routerd_workflows *t,
				  const struct routerd_view *v,
				  const struct af_request *req,
				  const struct af_decision *d, uint64_t seq,
				  uint64_t now_ms)
{
	char labels[ROUTERD_WORKFLOW_LABELS];
	struct routerd_workflow_who who = {req->tenant, req->class_name, labels,
					   0};

	if (t == NULL || d->kind != AF_DECISION_ROUTE)
		return;
	who.labels_len = routerd_live_labels(v, req, labels, sizeof(labels));
	routerd_workflows_routed(
		t, req->workflow_id, &who, seq, d,
		tokens_of(req->input_tokens, req->output_tokens),
		routerd_live_ttl_ms(d->latency_slo_ms), now_ms);
}

void routerd_live_workflow_reported(struct routerd_workflows *t,
				    const struct routerd_report *rep,
				    uint64_t wf_hash, uint64_t seq,
				    int64_t cost_nano_usd, uint64_t now_ms)
{
	bool tok = rep->input_tokens >= 0 || rep->output_tokens >= 0;
	int64_t tokens =
		tok ? tokens_of(rep->input_tokens, rep->output_tokens) : -1;

	if (t == NULL)
		return;
	if (rep->workflow_id != NULL)
		routerd_workflows_reported(t, rep->workflow_id, seq,
					   cost_nano_usd, tokens, now_ms);
	else
		routerd_workflows_reported_hash(t, wf_hash, seq, cost_nano_usd,
						tokens, now_ms);
}

uint64_t routerd_live_ttl_ms(int64_t latency_slo_ms)
{
	uint64_t ttl;

	if (latency_slo_ms <= 0)
		return LIVE_TTL_DEFAULT_MS;
	if (latency_slo_ms > LIVE_TTL_MAX_MS / 2)
		return LIVE_TTL_MAX_MS;
	ttl = 2 * (uint64_t)latency_slo_ms;
	return ttl < LIVE_TTL_MIN_MS ? LIVE_TTL_MIN_MS : ttl;
}

/* Releases e's lane slot; e is locked. */
static void ring_release(struct ring_ent *e)
{
	atomic_fetch_sub_explicit(&e->lane->inflight, 1, memory_order_relaxed);
	e->seq = 0;
	e->lane = NULL;
}

void routerd_live_routed(struct routerd_live *l, const struct view_ext *x,
			 const struct af_decision *d, uint64_t seq,
			 uint64_t now_ms)
{
	struct live_lane *lane;
	struct ring_ent *e;

	if (d->kind != AF_DECISION_ROUTE || x->lanes == NULL ||
	    d->lane_id >= x->nlanes || x->lanes[d->lane_id] == NULL || seq == 0)
		return;
	lane = x->lanes[d->lane_id];
	atomic_fetch_add_explicit(&lane->inflight, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&l->stats.routed, 1, memory_order_relaxed);
	e = &l->ring[seq & (LIVE_RING - 1)];
	spin_lock(&e->lock);
	if (e->seq != 0) {
		ring_release(e);
		atomic_fetch_add_explicit(&l->stats.evicted, 1,
					  memory_order_relaxed);
	} else {
		atomic_fetch_add_explicit(&l->occupied, 1,
					  memory_order_relaxed);
	}
	e->seq = seq;
	e->last_seq = seq;
	e->canary = d->canary;
	e->lane = lane;
	e->expiry_ms = now_ms + routerd_live_ttl_ms(d->latency_slo_ms);
	spin_unlock(&e->lock);
}

void routerd_live_denied(struct routerd *r, const struct routerd_view *v,
			 const struct af_request *req,
			 const struct af_decision *d)
{
	if (r->usage == NULL || v->canary_revision == 0 ||
	    d->kind != AF_DECISION_DENY || d->code == NULL ||
	    strcmp(d->code, AF_DENY_MODELS_COOLING_DOWN) != 0)
		return;
	routerd_usage_record(r->usage, d->revision, req->tenant,
			     req->class_name, LIVE_COOLING_MODEL, NULL, 0,
			     false, 0, 0, -1);
	if (r->live != NULL)
		atomic_fetch_add_explicit(&r->live->stats.cooling_denials, 1,
					  memory_order_relaxed);
}

/* ----------------------------------------------------- reports, expiry */

/* Releases decision seq's lane slot (when still held) and returns its
 * cohort while the ring remembers it, else LIVE_COHORT_UNKNOWN. */
static int release_seq(struct routerd_live *l, uint64_t seq)
{
	struct ring_ent *e = &l->ring[seq & (LIVE_RING - 1)];
	int cohort = LIVE_COHORT_UNKNOWN;
	bool done = false;

	spin_lock(&e->lock);
	if (e->seq == seq) {
		ring_release(e);
		done = true;
	}
	if (e->last_seq == seq)
		cohort = e->canary ? LIVE_COHORT_CANARY : LIVE_COHORT_STABLE;
	spin_unlock(&e->lock);
	if (done) {
		atomic_fetch_sub(&l->occupied, 1);
		atomic_fetch_add(&l->stats.released, 1);
	}
	return cohort;
}

/* Counts one report of the cohort into p; returns true when p starts
 * cooling down for that cohort. */
static bool health_update(struct live_pair *p, bool canary,
			  const struct af_health *h, bool ok,
			  int64_t latency_ms, uint64_t now_ms)
{
	struct cohort_health *ch = &p->h[canary ? 1 : 0];
	uint32_t old, lat;
	bool cool = false;

	spin_lock(&ch->lock);
	if (latency_ms >= 0) {
		lat = latency_ms > UINT32_MAX / 2 ? UINT32_MAX / 2
						  : (uint32_t)latency_ms;
		old = atomic_load(&p->ewma_ms);
		if (old != 0)
			lat = (uint32_t)((int64_t)old +
					 (((int64_t)lat - old) / EWMA_DIV));
		atomic_store(&p->ewma_ms, lat > 0 ? lat : 1);
	}
	ch->samples++;
	ch->consecutive = ok ? 0 : ch->consecutive + 1;
	if (!ok)
		ch->errors++;
	if (ch->consecutive >= h->consecutive_failures ||
	    (ch->samples >= h->min_samples &&
	     (uint64_t)ch->errors * 1000000u >=
		     (uint64_t)h->error_rate_ppm * ch->samples)) {
		atomic_store(&ch->cool_until_ms,
			     now_ms + (uint64_t)h->cooldown_s * 1000u);
		ch->samples = ch->errors = ch->consecutive = 0;
		cool = true;
	} else if (ch->samples >= 2 * h->min_samples) {
		/* Recent reports: halve the window once it reaches twice
		 * the minimum, so old outcomes fade out. */
		ch->samples /= 2;
		ch->errors /= 2;
	}
	spin_unlock(&ch->lock);
	return cool;
}

void routerd_live_report(struct routerd_live *l, const struct view_ext *x,
			 const struct live_report *rep, uint64_t now_ms)
{
	struct live_pair *p = NULL;
	int cohort = rep->cohort, known = LIVE_COHORT_UNKNOWN;
	int32_t id;

	atomic_fetch_add(&l->stats.reports, 1);
	if (!rep->ok)
		atomic_fetch_add(&l->stats.report_errors, 1);
	if (rep->seq != 0)
		known = release_seq(l, rep->seq);
	if (cohort == LIVE_COHORT_UNKNOWN)
		cohort = known;
	if (x == NULL || rep->model == NULL || rep->region == NULL)
		return;
	if (cohort == LIVE_COHORT_UNKNOWN) {
		/* Without a canary every decision is stable's; with one, a
		 * report of unknown cohort cools nothing down rather than
		 * risk a canary's failure cooling stable. */
		if (x->v.canary_revision != 0) {
			atomic_fetch_add(&l->stats.unknown_cohort, 1);
			return;
		}
		cohort = LIVE_COHORT_STABLE;
	}
	id = af_policy_view_pair_id(x->v.pv, rep->model, rep->region);
	if (id >= 0 && x->pairs != NULL)
		p = x->pairs[id];
	if (p == NULL) {
		atomic_fetch_add(&l->stats.unknown_pairs, 1);
		return;
	}
	atomic_fetch_add_explicit(rep->ok ? &p->reports_ok : &p->reports_failed,
				  1, memory_order_relaxed);
	if (health_update(p, cohort == LIVE_COHORT_CANARY, &x->health, rep->ok,
			  rep->latency_ms, now_ms))
		atomic_fetch_add(&l->stats.cooldowns, 1);
}

void routerd_live_expire(struct routerd_live *l, uint64_t now_ms)
{
	/* Nothing held (an idle routerd): no pass over the 128k entries. */
	if (atomic_load(&l->occupied) == 0)
		return;
	for (uint32_t i = 0; i < LIVE_RING; i++) {
		struct ring_ent *e = &l->ring[i];
		bool done = false;

		if (atomic_load_explicit(&e->seq, memory_order_relaxed) == 0)
			continue;
		spin_lock(&e->lock);
		if (e->seq != 0 && e->expiry_ms <= now_ms) {
			ring_release(e);
			done = true;
		}
		spin_unlock(&e->lock);
		if (done) {
			atomic_fetch_sub(&l->occupied, 1);
			atomic_fetch_add(&l->stats.expired, 1);
		}
	}
}

void routerd_live_lanes(const struct routerd_live *l,
			void (*fn)(void *arg, const char *lane,
				   uint32_t inflight, int64_t limit),
			void *arg)
{
	uint32_t n = atomic_load(&l->nlanes);

	for (uint32_t i = 0; i < n; i++)
		fn(arg, l->lanes[i].name, atomic_load(&l->lanes[i].inflight),
		   atomic_load(&l->lanes[i].limit));
}

void routerd_live_pairs(struct routerd_live *l, uint64_t now_ms,
			void (*fn)(void *arg, const struct live_pair_row *row),
			void *arg)
{
	uint32_t n;

	pthread_mutex_lock(&l->bind_mu);
	n = l->npairs < LIVE_METRIC_PAIRS ? l->npairs : LIVE_METRIC_PAIRS;
	for (uint32_t i = 0; i < n; i++) {
		struct live_pair *p = pair_at(l, i);
		struct live_pair_row row = {
			.model = p->model,
			.region = p->region,
			.ewma_ms = atomic_load(&p->ewma_ms),
			.ok = atomic_load(&p->reports_ok),
			.failed = atomic_load(&p->reports_failed),
		};

		for (int c = 0; c < 2; c++) {
			uint64_t until = atomic_load(&p->h[c].cool_until_ms);

			row.cooling_ms[c] = until > now_ms ? until - now_ms : 0;
		}
		fn(arg, &row);
	}
	pthread_mutex_unlock(&l->bind_mu);
}
