/* Fleet-wide quotas on routerd (quota.h). Every (quota, tenant) has a slot
 * in a fixed open-addressed table, claimed once (by the first decision
 * that needs it) and never released, so readers need no lock. Each
 * dimension keeps `avail`, the leased capacity not reserved: the decision
 * path takes from it with a compare-and-swap, reports and expiry give
 * back, and the telemetry thread moves it by what controld grants. A
 * lease only shrinks after its capacity was taken out of `avail`, so the
 * routerd never holds reservations beyond what controld granted it. */
#include "routerd/quota.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#define HOP_RING 65536	      /* hops in flight remembered */
#define RETRY_SOON_MS 50      /* a top-up is under way */
#define RETRY_MAX_MS 60000    /* an ETA is at most this */
#define RETRY_DEFAULT_MS 1000 /* nothing released yet to judge by */
#define GROW_MS 20	      /* asks for more at most this often */
#define GROW_SHORT_MS 250     /* ...when controld had nothing more */
#define SHRINK_MS 200	      /* gives back idle capacity this promptly */
#define PEAK_MS 1000	      /* the lease keeps the demand peak this long */
#define EXPIRY_MARGIN_MS 100  /* stops using a lease before controld would */
#define FLOOR_SHARE 64	      /* a named tenant's standing lease: limit/64 */

struct qdim {
	_Atomic int64_t avail;	  /* leased, not reserved */
	_Atomic int64_t limit;	  /* the bundle's (0: none) */
	_Atomic int64_t held;	  /* the lease controld granted */
	_Atomic int64_t others;	  /* other routerds' leases, last answer */
	_Atomic int64_t demand;	  /* units asked for, summed */
	_Atomic int64_t released; /* units given back, summed */
	_Atomic uint64_t denied;
	_Atomic uint64_t deadline_ms; /* usable until (monotonic) */
	_Atomic uint64_t rate;	      /* units released per second */
	_Atomic int short_grant;      /* the last answer gave less */
	_Atomic int64_t bucket[64];   /* rate dims: admitted per second */
	_Atomic int64_t floor;	      /* held even when idle (prefetch) */
	/* telemetry thread only */
	int64_t asked, last_limit, seen_released, round_demand;
	int64_t peak_cur, peak_prev; /* peak of this and the last PEAK_MS */
	uint64_t last_ask_ms, rate_ms, aged_s, peak_ms;
	bool inflight_ask; /* part of the request being sent */
};

struct qentry {
	_Atomic int state; /* 0 free, 1 being claimed, 2 ready */
	char name[AF_POLICY_NAME_MAX + 8];
	char tenant[AF_QUOTA_TENANT_MAX + 1]; /* "": every tenant */
	struct qdim d[AF_QUOTA_NDIM];
	int64_t next_floor[AF_QUOTA_NDIM]; /* routerd_quotas_prefetch only */
	bool named;			   /* ditto */
};

struct hop {
	_Atomic uint64_t seq; /* 0: free or released */
	uint64_t expires_ms, admit_s;
	int64_t tokens; /* the request's estimate */
	uint8_t n;
	uint8_t mask[AF_QUOTA_PER_HOP + 1]; /* bit d: reserved on dim d */
	uint16_t entry[AF_QUOTA_PER_HOP + 1];
};

struct routerd_quotas {
	uint64_t ttl_ms;
	_Atomic uint64_t max_seq, last_use_ms;
	_Atomic bool configured; /* the bundle served has quotas */
	uint64_t sweep;		 /* telemetry thread: next hop seq to look at */
	struct qentry e[ROUTERD_MAX_QUOTAS];
	_Atomic uint16_t claimed[ROUTERD_MAX_QUOTAS]; /* slot+1 (0: unset) */
	_Atomic size_t nclaimed; /* claim order: what passes visit */
	struct hop ring[HOP_RING];
};

static bool rate_dim(int d)
{
	return d == AF_QUOTA_RPM || d == AF_QUOTA_TPM;
}

int routerd_quotas_new(uint64_t ttl_ms, struct routerd_quotas **ret)
{
	struct routerd_quotas *q;

	if (ttl_ms < 1000 || ttl_ms > 60000)
		return AF_EINVAL;
	if ((q = af_calloc(1, sizeof(*q))) == NULL)
		return AF_ENOMEM;
	q->ttl_ms = ttl_ms;
	*ret = q;
	return 0;
}

void routerd_quotas_free(struct routerd_quotas *q)
{
	af_free(q);
}

/* The slot of (name, tenant), claimed when new; NULL when the table is
 * full. A claim in progress elsewhere is waited for (a few stores). */
static struct qentry *find(struct routerd_quotas *q, const char *name,
			   const char *tenant)
{
	uint64_t h = XXH3_64bits_withSeed(name, strlen(name),
					  XXH3_64bits(tenant, strlen(tenant)));

	for (size_t i = 0; i < ROUTERD_MAX_QUOTAS; i++) {
		struct qentry *e = &q->e[(h + i) % ROUTERD_MAX_QUOTAS];
		int st = atomic_load(&e->state), zero = 0;

		if (st == 0 &&
		    atomic_compare_exchange_strong(&e->state, &zero, 1)) {
			snprintf(e->name, sizeof(e->name), "%s", name);
			snprintf(e->tenant, sizeof(e->tenant), "%s", tenant);
			atomic_store(&e->state, 2);
			atomic_store(
				&q->claimed[atomic_fetch_add(&q->nclaimed, 1)],
				(uint16_t)(e - q->e + 1));
			return e;
		}
		while ((st = atomic_load(&e->state)) == 1)
			;
		if (strcmp(e->name, name) == 0 &&
		    strcmp(e->tenant, tenant) == 0)
			return e;
	}
	return NULL;
}

/* The k-th claimed entry; NULL while being written (the next pass). */
static struct qentry *claimed_at(struct routerd_quotas *q, size_t k)
{
	uint16_t v = atomic_load(&q->claimed[k]);
	return v == 0 ? NULL : &q->e[v - 1];
}

static bool take(struct qdim *d, int64_t need, uint64_t now)
{
	int64_t have = atomic_load(&d->avail);

	if (now >= atomic_load(&d->deadline_ms))
		return false;
	do {
		if (have < need)
			return false;
	} while (!atomic_compare_exchange_weak(&d->avail, &have, have - need));
	return true;
}

static void give(struct qdim *d, int64_t n)
{
	atomic_fetch_add(&d->avail, n);
	atomic_fetch_add_explicit(&d->released, n, memory_order_relaxed);
}

static int64_t in_use(struct qdim *d)
{
	int64_t used = atomic_load(&d->held) - atomic_load(&d->avail);

	return atomic_load(&d->others) + (used > 0 ? used : 0);
}

/* How long until enough is free: the oldest second of a rate window to
 * age out, else the deficit at the observed release rate. */
static int64_t eta_ms(struct qdim *d, int dim, int64_t need, uint64_t now)
{
	int64_t deficit = need - atomic_load(&d->avail), eta;
	uint64_t rate = atomic_load(&d->rate), s = now / 1000;

	if (!atomic_load(&d->short_grant))
		return RETRY_SOON_MS;
	if (rate_dim(dim)) {
		for (uint64_t k = ROUTERD_QUOTA_WINDOW_S; k > 0; k--)
			if (s >= k && atomic_load(&d->bucket[(s - k) % 64]) > 0)
				return (int64_t)(ROUTERD_QUOTA_WINDOW_S + 1 -
						 k) *
					       1000 -
				       (int64_t)(now % 1000);
		return RETRY_DEFAULT_MS;
	}
	if (rate == 0)
		return RETRY_DEFAULT_MS;
	if (deficit < 1)
		deficit = 1;
	eta = deficit * 1000 / (int64_t)rate;
	return eta < RETRY_SOON_MS  ? RETRY_SOON_MS
	       : eta > RETRY_MAX_MS ? RETRY_MAX_MS
				    : eta;
}

static void quota_fields(struct af_decision *d, struct qentry *e, int dim)
{
	d->quota_name = e->name;
	d->quota_dim = af_quota_dim_name((enum af_quota_dim)dim);
	d->quota_limit = atomic_load(&e->d[dim].limit);
	d->quota_in_use = in_use(&e->d[dim]);
}

static void refuse(struct qentry *e, int dim, int64_t need, uint64_t now,
		   struct af_decision *d)
{
	d->kind = AF_DECISION_DENY;
	d->nfallback = 0;
	d->code = AF_DENY_QUOTA_EXCEEDED;
	d->retryable = true;
	d->retry_after_ms = eta_ms(&e->d[dim], dim, need, now);
	quota_fields(d, e, dim);
	atomic_fetch_add_explicit(&e->d[dim].denied, 1, memory_order_relaxed);
	snprintf(d->message, sizeof(d->message),
		 "quota %.72s%s%.64s: %s %lld of %lld in use across the fleet, "
		 "this hop needs %lld; retry in %lld ms",
		 e->name, e->tenant[0] ? " for tenant " : "", e->tenant,
		 d->quota_dim, (long long)d->quota_in_use,
		 (long long)d->quota_limit, (long long)need,
		 (long long)d->retry_after_ms);
}

struct pick {
	struct qentry *e[AF_QUOTA_PER_HOP + 1];
	uint8_t mask[AF_QUOTA_PER_HOP + 1];
	size_t n;
};

static void undo(struct pick *p, const int64_t *need, uint64_t now_s)
{
	for (size_t i = 0; i < p->n; i++)
		for (int k = 0; k < AF_QUOTA_NDIM; k++) {
			if (!(p->mask[i] & (1u << k)))
				continue;
			atomic_fetch_add(&p->e[i]->d[k].avail, need[k]);
			if (rate_dim(k))
				atomic_fetch_sub(
					&p->e[i]->d[k].bucket[now_s % 64],
					need[k]);
		}
}

/* Reserves def's dimensions on e; false (and *ret_dim) when one fails. */
static bool reserve(struct qentry *e, const struct af_quota_def *def,
		    const int64_t *need, uint64_t now, uint8_t *ret_mask,
		    int *ret_dim)
{
	for (int k = 0; k < AF_QUOTA_NDIM; k++) {
		struct qdim *d = &e->d[k];

		if (atomic_load_explicit(&d->limit, memory_order_relaxed) !=
		    def->limit[k])
			atomic_store(&d->limit, def->limit[k]);
		if (def->limit[k] == 0 || need[k] == 0)
			continue;
		atomic_fetch_add_explicit(&d->demand, need[k],
					  memory_order_relaxed);
		if (!take(d, need[k], now)) {
			*ret_dim = k;
			return false;
		}
		if (rate_dim(k))
			atomic_fetch_add(&d->bucket[(now / 1000) % 64],
					 need[k]);
		*ret_mask |= (uint8_t)(1u << k);
	}
	return true;
}

static void remember(struct routerd_quotas *q, const struct pick *p,
		     uint64_t seq, int64_t tokens, uint64_t now,
		     uint64_t expires);

void routerd_quotas_admit(struct routerd_quotas *q,
			  const struct af_policy_view *pv,
			  const struct af_request *req, uint64_t seq,
			  uint64_t ttl_ms, uint64_t now_ms,
			  struct af_decision *d)
{
	const struct af_quota_def *defs[AF_QUOTA_PER_HOP + 1];
	int64_t tokens = (req->input_tokens > 0 ? req->input_tokens : 0) +
			 (req->output_tokens > 0 ? req->output_tokens : 0);
	int64_t need[AF_QUOTA_NDIM] = {1, tokens, 1, tokens};
	struct pick p = {.n = 0};
	char tenant[AF_QUOTA_TENANT_MAX + 1];
	size_t n;
	int64_t best = INT64_MAX;

	if (q == NULL || d->kind != AF_DECISION_ROUTE)
		return;
	n = af_policy_view_quotas_for(pv, req->tenant, req->class_name,
				      d->lane_id, defs);
	if (n == 0)
		return;
	atomic_store_explicit(&q->last_use_ms, now_ms, memory_order_relaxed);
	/* Leases name tenants by their first AF_QUOTA_TENANT_MAX bytes. */
	{
		size_t tl = strnlen(req->tenant, AF_QUOTA_TENANT_MAX);

		memcpy(tenant, req->tenant, tl);
		tenant[tl] = '\0';
	}
	for (size_t i = 0; i < n; i++) {
		struct qentry *e =
			find(q, defs[i]->name, defs[i]->tenant ? tenant : "");
		int dim = AF_QUOTA_INFLIGHT;

		p.e[p.n] = e;
		p.mask[p.n] = 0;
		if (e == NULL ||
		    !reserve(e, defs[i], need, now_ms, &p.mask[p.n], &dim)) {
			p.n++;
			undo(&p, need, now_ms / 1000);
			if (e != NULL)
				refuse(e, dim, need[dim], now_ms, d);
			return;
		}
		for (int k = 0; k < AF_QUOTA_NDIM; k++) {
			int64_t lim = defs[i]->limit[k], room;

			if (lim == 0)
				continue;
			room = (lim - in_use(&e->d[k])) * 1000 / lim;
			if (room < best) {
				best = room;
				quota_fields(d, e, k);
			}
		}
		p.n++;
	}
	remember(q, &p, seq, tokens, now_ms, now_ms + ttl_ms);
}

/* Claims the entry of (def, tenant) and sets what its floor will be. */
static void name_entry(struct routerd_quotas *q, const struct af_quota_def *def,
		       const char *tenant)
{
	struct qentry *e = find(q, def->name, tenant);

	if (e == NULL)
		return;
	e->named = true;
	for (int k = 0; k < AF_QUOTA_NDIM; k++) {
		int64_t lim = def->limit[k], f = lim / FLOOR_SHARE;

		atomic_store(&e->d[k].limit, lim);
		e->next_floor[k] = lim == 0 ? 0 : f > 1 ? f : 1;
	}
}

/* Every tenant the bundle names (a quota's own tenant) is known before
 * its first hop: its entries, of its own quotas and of the "*" ones, and
 * a lane cap's are claimed now and hold a standing lease of a 64th of
 * each limit (at least 1) while the bundle names them, so its first hop
 * here finds capacity. Any other tenant of a "*" quota is known at its
 * first hop, which claims the entry; the lease is asked for within one
 * telemetry round. */
void routerd_quotas_prefetch(struct routerd_quotas *q,
			     const struct af_policy_view *pv)
{
	const struct af_quota_def *def;
	const char *named[AF_POLICY_MAX_QUOTAS];
	size_t nn = 0, i;

	if (q == NULL)
		return;
	for (i = 0;
	     pv != NULL && (def = af_policy_view_quota_at(pv, i)) != NULL;
	     i++) {
		size_t k = 0;

		if (def->tenant == NULL) {
			name_entry(q, def, ""); /* a lane cap */
			continue;
		}
		if (strcmp(def->tenant, "*") == 0)
			continue;
		name_entry(q, def, def->tenant);
		while (k < nn && strcmp(named[k], def->tenant) != 0)
			k++;
		if (k == nn && nn < AF_POLICY_MAX_QUOTAS)
			named[nn++] = def->tenant;
	}
	atomic_store(&q->configured, i > 0);
	for (i = 0;
	     pv != NULL && (def = af_policy_view_quota_at(pv, i)) != NULL; i++)
		for (size_t k = 0; def->tenant != NULL &&
				   strcmp(def->tenant, "*") == 0 && k < nn;
		     k++)
			name_entry(q, def, named[k]);
	for (i = 0; i < atomic_load(&q->nclaimed); i++) {
		struct qentry *e = claimed_at(q, i);

		if (e == NULL)
			continue;
		for (int k = 0; k < AF_QUOTA_NDIM; k++)
			atomic_store(&e->d[k].floor,
				     e->named ? e->next_floor[k] : 0);
		e->named = false;
	}
}

/* ------------------------------------------------------- hops in flight */

static void release_hop(struct routerd_quotas *q, struct hop *h)
{
	for (uint8_t i = 0; i < h->n; i++) {
		struct qentry *e = &q->e[h->entry[i]];

		if (h->mask[i] & (1u << AF_QUOTA_INFLIGHT))
			give(&e->d[AF_QUOTA_INFLIGHT], 1);
		if (h->mask[i] & (1u << AF_QUOTA_TOKENS))
			give(&e->d[AF_QUOTA_TOKENS], h->tokens);
	}
}

static void remember(struct routerd_quotas *q, const struct pick *p,
		     uint64_t seq, int64_t tokens, uint64_t now,
		     uint64_t expires)
{
	struct hop *h = &q->ring[seq % HOP_RING];
	uint64_t old = atomic_load(&h->seq), max;
	bool any = false;

	for (size_t i = 0; i < p->n; i++)
		any |= (p->mask[i] &
			((1u << AF_QUOTA_INFLIGHT) | (1u << AF_QUOTA_TOKENS) |
			 (1u << AF_QUOTA_TPM))) != 0;
	if (!any || seq == 0)
		return;
	/* A hop HOP_RING decisions old still in the slot: expired now. */
	if (old != 0 && atomic_compare_exchange_strong(&h->seq, &old, 0))
		release_hop(q, h);
	h->expires_ms = expires;
	h->admit_s = now / 1000;
	h->tokens = tokens;
	h->n = (uint8_t)p->n;
	for (size_t i = 0; i < p->n; i++) {
		h->entry[i] = (uint16_t)(p->e[i] - q->e);
		h->mask[i] = p->mask[i];
	}
	atomic_store(&h->seq, seq);
	max = atomic_load(&q->max_seq);
	while (seq > max &&
	       !atomic_compare_exchange_weak(&q->max_seq, &max, seq))
		;
}

/* A tpm reservation made on the estimate becomes the reported tokens:
 * the difference moves the admission second's count and the lease's
 * room. Not within two seconds of that second leaving the minute (its
 * count is about to be given back: the estimate stands). */
static void correct_tpm(struct routerd_quotas *q, const struct hop *h,
			int64_t actual, uint64_t now)
{
	int64_t delta = actual - h->tokens;

	if (delta == 0 || now / 1000 + 2 > h->admit_s + ROUTERD_QUOTA_WINDOW_S)
		return;
	for (uint8_t i = 0; i < h->n; i++) {
		struct qdim *d = &q->e[h->entry[i]].d[AF_QUOTA_TPM];

		if (!(h->mask[i] & (1u << AF_QUOTA_TPM)))
			continue;
		atomic_fetch_add(&d->bucket[h->admit_s % 64], delta);
		atomic_fetch_sub(&d->avail, delta);
	}
}

void routerd_quotas_reported(struct routerd_quotas *q, uint64_t seq,
			     int64_t tokens, uint64_t now_ms)
{
	struct hop *h;
	uint64_t want = seq;

	if (q == NULL || seq == 0)
		return;
	h = &q->ring[seq % HOP_RING];
	if (!atomic_compare_exchange_strong(&h->seq, &want, 0))
		return;
	if (tokens >= 0)
		correct_tpm(q, h, tokens, now_ms);
	release_hop(q, h);
}

/* Hops past their expiry stop being in flight (in seq order; one not yet
 * expired stops the sweep, so a later one may be held a little longer). */
static void sweep(struct routerd_quotas *q, uint64_t now)
{
	uint64_t max = atomic_load(&q->max_seq);

	if (max >= HOP_RING && q->sweep + HOP_RING <= max)
		q->sweep = max - HOP_RING + 1;
	for (; q->sweep <= max; q->sweep++) {
		struct hop *h = &q->ring[q->sweep % HOP_RING];
		uint64_t s = q->sweep;

		if (atomic_load(&h->seq) != s)
			continue;
		if (h->expires_ms > now)
			return;
		if (atomic_compare_exchange_strong(&h->seq, &s, 0))
			release_hop(q, h);
	}
}

/* Rate dims: what was admitted more than a window ago comes back. */
static void age(struct qdim *d, uint64_t now)
{
	uint64_t s = now / 1000;

	if (d->aged_s == 0)
		d->aged_s = s > ROUTERD_QUOTA_WINDOW_S + 1
				    ? s - ROUTERD_QUOTA_WINDOW_S - 1
				    : 0;
	while (d->aged_s + ROUTERD_QUOTA_WINDOW_S + 1 <= s) {
		int64_t x = atomic_exchange(&d->bucket[d->aged_s % 64], 0);

		if (x != 0)
			give(d, x);
		d->aged_s++;
	}
}

/* ------------------------------------------------------ lease requests */

bool routerd_quotas_active(struct routerd_quotas *q)
{
	return q != NULL && (atomic_load(&q->configured) ||
			     atomic_load(&q->last_use_ms) != 0);
}

/* Samples the release rate (units per second, a quarter of the newest
 * sample each time) at most every 100 ms. */
static void rate_sample(struct qdim *d, uint64_t now)
{
	int64_t rel = atomic_load(&d->released);
	uint64_t dt = now - d->rate_ms, r = atomic_load(&d->rate), inst;

	if (d->rate_ms == 0 || dt >= 5000) {
		d->rate_ms = now;
		d->seen_released = rel;
		return;
	}
	if (dt < 100)
		return;
	inst = (uint64_t)(rel - d->seen_released) * 1000 / dt;
	atomic_store(&d->rate, r - r / 4 + inst / 4);
	d->rate_ms = now;
	d->seen_released = rel;
}

static int64_t used_now(struct qdim *d)
{
	int64_t used = atomic_load(&d->held) - atomic_load(&d->avail);

	return used > 0 ? used : 0;
}

/* Once per telemetry round: what is reserved plus what hops asked for
 * since the last round, and its peak over the last one to two PEAK_MS
 * periods. The lease follows that peak: it keeps headroom for the demand
 * of the last second and gives back the rest, however busy, so capacity
 * a routerd no longer needs reaches the others. */
static void peak_sample(struct qdim *d, uint64_t now)
{
	int64_t dem = atomic_load(&d->demand);
	int64_t w = used_now(d) + (dem - d->round_demand);

	d->round_demand = dem;
	if (now - d->peak_ms >= PEAK_MS) {
		d->peak_prev = d->peak_cur;
		d->peak_cur = 0;
		d->peak_ms = now;
	}
	if (w > d->peak_cur)
		d->peak_cur = w;
}

/* What to hold: the demand peak (at least what is reserved), no less
 * than the floor (*by_floor: only the floor wants more than is held), at
 * most the limit. 0 on release for in-flight dims; a rate lease keeps
 * what it admitted. */
static int64_t target(struct qdim *d, int dim, bool release, bool *by_floor)
{
	int64_t held = atomic_load(&d->held), used = used_now(d), lim, w, fl;

	if (release)
		return rate_dim(dim) ? used : 0;
	lim = atomic_load(&d->limit);
	w = d->peak_cur > d->peak_prev ? d->peak_cur : d->peak_prev;
	if (w < used)
		w = used;
	fl = atomic_load(&d->floor);
	*by_floor = w <= held && fl > held;
	if (w < fl)
		w = fl;
	return w > lim ? (used > lim ? used : lim) : w;
}

/* Gives back (held - want) of what is not reserved before asking, so the
 * routerd never reserves beyond the smaller lease it asks for. */
static int64_t pre_shrink(struct qdim *d, int64_t want)
{
	int64_t held = atomic_load(&d->held), cut = held - want;
	int64_t have = atomic_load(&d->avail), x;

	if (cut <= 0)
		return want;
	do {
		x = have < cut ? have : cut;
		if (x <= 0)
			return held;
	} while (!atomic_compare_exchange_weak(&d->avail, &have, have - x));
	atomic_store(&d->held, held - x);
	return held - x;
}

static bool due(struct routerd_quotas *q, struct qdim *d, int64_t want,
		bool by_floor, uint64_t now)
{
	int64_t held = atomic_load(&d->held);
	uint64_t since = now - d->last_ask_ms;
	bool short_grant = atomic_load(&d->short_grant);

	/* A floor the fleet had no room for is asked again at the renewal
	 * pace: idle routerds do not poll a full quota. */
	if (want > held)
		return since >= (!short_grant ? GROW_MS
				 : by_floor   ? q->ttl_ms / 3
					      : GROW_SHORT_MS);
	if (want < held)
		return since >= SHRINK_MS;
	return held > 0 && since >= q->ttl_ms / 3;
}

size_t routerd_quotas_next(struct routerd_quotas *q, uint64_t now, bool release,
			   Af__QuotaLeaseRequest *req, Af__QuotaAsk *asks,
			   Af__QuotaAsk **ptrs)
{
	size_t n = 0;

	sweep(q, now);
	for (size_t i = 0; i < atomic_load(&q->nclaimed); i++) {
		struct qentry *e = claimed_at(q, i);

		if (e == NULL)
			continue;
		for (int k = 0; k < AF_QUOTA_NDIM; k++) {
			struct qdim *d = &e->d[k];
			int64_t lim = atomic_load(&d->limit), want;
			bool by_floor = false;

			d->inflight_ask = false;
			if (rate_dim(k))
				age(d, now);
			rate_sample(d, now);
			if (lim > 0)
				d->last_limit = lim;
			if (d->last_limit == 0 || n >= ROUTERD_QUOTA_ASKS_MAX)
				continue;
			peak_sample(d, now);
			want = lim > 0 ? target(d, k, release, &by_floor) : 0;
			if (!release && !due(q, d, want, by_floor, now))
				continue;
			if (release && atomic_load(&d->held) == 0 && want == 0)
				continue;
			want = pre_shrink(d, want);
			af__quota_ask__init(&asks[n]);
			asks[n].quota = e->name;
			asks[n].tenant = e->tenant;
			asks[n].dim = (uint32_t)k;
			asks[n].limit = d->last_limit;
			asks[n].want = want;
			d->asked = want;
			d->last_ask_ms = now;
			d->inflight_ask = true;
			ptrs[n] = &asks[n];
			n++;
		}
	}
	req->asks = ptrs;
	req->n_asks = n;
	req->ttl_ms = (int64_t)q->ttl_ms;
	return n;
}

void routerd_quotas_granted(struct routerd_quotas *q,
			    const Af__ApplyResult *res, uint64_t sent_ms)
{
	size_t n = 0;

	for (size_t i = 0; i < atomic_load(&q->nclaimed); i++) {
		struct qentry *e = claimed_at(q, i);

		if (e == NULL)
			continue;
		for (int k = 0; k < AF_QUOTA_NDIM; k++) {
			struct qdim *d = &e->d[k];
			int64_t g, held;

			if (!d->inflight_ask)
				continue;
			d->inflight_ask = false;
			if (res == NULL || n >= res->n_quota_granted) {
				n++;
				continue;
			}
			g = res->quota_granted[n];
			held = atomic_load(&d->held);
			atomic_store(&d->held, g);
			atomic_fetch_add(&d->avail, g - held);
			atomic_store(&d->others, n < res->n_quota_others
							 ? res->quota_others[n]
							 : 0);
			atomic_store(&d->short_grant, g < d->asked);
			atomic_store(&d->deadline_ms,
				     g > 0 ? sent_ms + q->ttl_ms -
						     EXPIRY_MARGIN_MS
					   : 0);
			n++;
		}
	}
}

/* -------------------------------------------------------------- metrics */

static void family(struct af_textbuf *b, const char *name, const char *type,
		   const char *help)
{
	af_textbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
			  type);
}

/* A label value: '\\', '"' and newlines escaped (tenants come from
 * requests). */
static void label(char *out, size_t len, const char *s)
{
	size_t o = 0;

	for (; *s && o + 3 < len; s++) {
		if (*s == '\\' || *s == '"' || *s == '\n')
			out[o++] = '\\';
		out[o++] = *s == '\n' ? 'n' : *s;
	}
	out[o] = '\0';
}

static void rows(struct routerd_quotas *q, struct af_textbuf *b,
		 const char *name, int what)
{
	for (size_t i = 0; i < atomic_load(&q->nclaimed); i++) {
		struct qentry *e = claimed_at(q, i);

		if (e == NULL)
			continue;
		for (int k = 0; k < AF_QUOTA_NDIM; k++) {
			struct qdim *d = &e->d[k];
			char tenant[2 * AF_QUOTA_TENANT_MAX + 2];
			int64_t v = what == 0	? atomic_load(&d->limit)
				    : what == 1 ? atomic_load(&d->held)
				    : what == 2
					    ? atomic_load(&d->held) -
						      atomic_load(&d->avail)
					    : (int64_t)atomic_load(&d->denied);

			if (d->last_limit == 0 && atomic_load(&d->limit) == 0)
				continue;
			label(tenant, sizeof(tenant), e->tenant);
			af_textbuf_printf(
				b,
				"%s{quota=\"%s\",tenant=\"%s\","
				"dimension=\"%s\"} %lld\n",
				name, e->name, tenant,
				af_quota_dim_name((enum af_quota_dim)k),
				(long long)v);
		}
	}
}

void routerd_quotas_metrics(struct routerd_quotas *q, struct af_textbuf *b)
{
	static const struct {
		const char *name, *type, *help;
	} f[] = {
		{"af_routerd_quota_limit", "gauge",
		 "The bundle's limit of the quota (fleet-wide)."},
		{"af_routerd_quota_leased", "gauge",
		 "Capacity this routerd holds on lease from controld."},
		{"af_routerd_quota_in_use", "gauge",
		 "Of the lease, reserved by hops in flight or this minute."},
		{"af_routerd_quota_denied_total", "counter",
		 "Hops denied QUOTA_EXCEEDED."},
	};

	if (q == NULL)
		return;
	for (int w = 0; w < 4; w++) {
		family(b, f[w].name, f[w].type, f[w].help);
		rows(q, b, f[w].name, w);
	}
}
