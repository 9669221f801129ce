#include "routerd/budget.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/timeutil.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#define RING 65536	   /* outstanding reservations remembered */
#define REFRESH_MS 5000	   /* renew well within the lease TTL */
#define SETTLE_MS 1000	   /* settle consumption at least this often */
#define RETRY_SOON_MS 50   /* lease short, refill under way */
#define RETRY_NONE_MS 1000 /* nothing granted: asked again each second */
#define RATE_WINDOW_MS 20  /* demand rate sampled at least this apart */
#define RATE_AHEAD_MS 250  /* refill when the lease lasts less than this */
#define RATE_WANT_MS 1000  /* a refill covers this much demand */
#define IDLE_MS 30000	   /* a lease unused this long goes back */
#define PREFETCH_MS 2000   /* a lease asked before any hop, kept this long */
#define BUSY_MS 1000	   /* used this recently: a renewal does not shrink */
#define NANO_PER_MICRO 1000

struct tenant {
	char name[65];
	_Atomic int used; /* slot holds a tenant (set once, sync thread) */
	_Atomic int defined;
	_Atomic int64_t hard_micro;
	_Atomic int64_t lease_nano;    /* left to reserve from */
	_Atomic int64_t consumed_nano; /* reserved or settled, unsent */
	_Atomic int over_soft, over_hard;
	_Atomic int64_t period_end_ms;
	_Atomic uint64_t last_use_ms; /* last reservation attempt (mono) */
	_Atomic int64_t demand_nano;  /* every reservation attempt, summed */
	_Atomic int held;	      /* the last answer granted something */
	_Atomic int short_grant;      /* ...less than asked */
	_Atomic int last_lease;	      /* ...and all the period has left */
	uint64_t last_ms;	      /* last lease answer (sync thread) */
	bool have_lease;	      /* sync thread */
	bool asked; /* a lease was asked for since it went idle */
	/* Demand rate (sync thread): nano-USD per second, sampled. */
	int64_t rate, rate_demand, granted_nano, asked_micro;
	uint64_t rate_ms;
	uint64_t prefetch_ms; /* asked before any hop (sync thread) */
};

struct resv {
	_Atomic uint64_t seq;
	uint32_t slot;
	int64_t est_nano;
};

struct routerd_budgets {
	struct tenant t[ROUTERD_MAX_BUDGETS];
	/* The slots claimed, in claim order (sync thread appends, then
	 * publishes the count): passes over the tenants visit these only. */
	uint16_t used[ROUTERD_MAX_BUDGETS];
	_Atomic size_t nused;
	struct resv ring[RING];
	_Atomic int ndefined;
};

int routerd_budgets_new(struct routerd_budgets **ret)
{
	struct routerd_budgets *b = af_calloc(1, sizeof(*b));

	if (b == NULL)
		return AF_ENOMEM;
	*ret = b;
	return 0;
}

void routerd_budgets_free(struct routerd_budgets *b)
{
	af_free(b);
}

/* Open addressing by name; slots are claimed by the sync thread only and
 * never released, so readers need no lock. */
static struct tenant *find(struct routerd_budgets *b, const char *name,
			   bool create)
{
	size_t n = strnlen(name, 65);
	uint64_t h = XXH3_64bits(name, n);

	if (n == 0 || n > 64)
		return NULL;
	for (size_t i = 0; i < ROUTERD_MAX_BUDGETS; i++) {
		struct tenant *t = &b->t[(h + i) % ROUTERD_MAX_BUDGETS];

		if (!atomic_load(&t->used)) {
			size_t k;

			if (!create)
				return NULL;
			k = atomic_load(&b->nused);
			memcpy(t->name, name, n + 1);
			atomic_store(&t->used, 1);
			b->used[k] = (uint16_t)(t - b->t);
			atomic_store(&b->nused, k + 1);
			return t;
		}
		if (strcmp(t->name, name) == 0)
			return t;
	}
	return NULL;
}

void routerd_budgets_define(struct routerd_budgets *b, Af__Budget *const *list,
			    size_t n)
{
	size_t nused = atomic_load(&b->nused);

	for (size_t i = 0; i < nused; i++)
		atomic_store(&b->t[b->used[i]].defined, 2); /* to confirm */
	for (size_t i = 0; i < n; i++) {
		struct tenant *t = find(b, list[i]->tenant, true);

		if (t == NULL)
			continue;
		atomic_store(&t->hard_micro, list[i]->hard_micro);
		if (atomic_exchange(&t->defined, 1) == 0 && !t->have_lease) {
			/* Newly budgeted: ask for a lease now, before the
			 * first hop needs it (given back when unused for
			 * IDLE_MS). */
			t->prefetch_ms = af_mono_ms();
			t->asked = false;
		}
	}
	nused = atomic_load(&b->nused);
	for (size_t i = 0; i < nused; i++) {
		struct tenant *t = &b->t[b->used[i]];
		int expected = 2;

		if (atomic_compare_exchange_strong(&t->defined, &expected, 0)) {
			/* No longer budgeted: unlimited from now on. */
			atomic_store(&t->over_soft, 0);
			atomic_store(&t->over_hard, 0);
		}
	}
}

static uint64_t until(int64_t end_ms, int64_t now_ms)
{
	return end_ms > now_ms ? (uint64_t)(end_ms - now_ms) : 0;
}

enum af_budget_state routerd_budgets_state(struct routerd_budgets *b,
					   const char *tenant,
					   int64_t now_wall_ms,
					   uint64_t *ret_retry_after_ms)
{
	struct tenant *t = find(b, tenant, false);

	if (t == NULL || atomic_load(&t->defined) != 1)
		return AF_BUDGET_OK;
	if (atomic_load(&t->over_hard)) {
		*ret_retry_after_ms =
			until(atomic_load(&t->period_end_ms), now_wall_ms);
		return AF_BUDGET_OVER_HARD;
	}
	return atomic_load(&t->over_soft) ? AF_BUDGET_OVER_SOFT : AF_BUDGET_OK;
}

/* Why a lease holding `have` cannot cover est_nano: fills *d's deny. */
static void refuse(const struct tenant *t, int64_t have, int64_t est_nano,
		   int64_t now_wall_ms, struct af_decision *d)
{
	char left[32], need[32];

	d->kind = AF_DECISION_DENY;
	d->nfallback = 0;
	af_policy_fmt_usd(have > 0 ? have : 0, left);
	af_policy_fmt_usd(est_nano, need);
	if (atomic_load(&t->over_hard) || atomic_load(&t->last_lease)) {
		/* Spent, or all that is left is in this lease: nothing more
		 * this period. */
		d->code = AF_DENY_BUDGET_EXCEEDED;
		d->retryable = false;
		d->retry_after_ms = (int64_t)until(
			atomic_load(&t->period_end_ms), now_wall_ms);
		snprintf(d->message, sizeof(d->message),
			 "tenant %.64s: the budget left this period (%s USD) "
			 "cannot cover this hop's estimated %s USD",
			 t->name, left, need);
		return;
	}
	d->code = AF_DENY_BUDGET_LEASE_PENDING;
	d->retryable = true;
	d->retry_after_ms =
		!atomic_load(&t->short_grant) ? RETRY_SOON_MS : RETRY_NONE_MS;
	snprintf(d->message, sizeof(d->message),
		 "tenant %.64s has budget left; this routerd's lease (%s USD) "
		 "is being refilled to cover this hop's %s USD: retry",
		 t->name, left, need);
}

void routerd_budgets_reserve_hop(struct routerd_budgets *b, const char *tenant,
				 uint64_t seq, int64_t now_wall_ms,
				 struct af_decision *d)
{
	struct tenant *t = find(b, tenant, false);
	int64_t have, est_nano = d->est_cost_nano_usd;
	struct resv *r;

	if (d->kind != AF_DECISION_ROUTE || t == NULL ||
	    atomic_load(&t->defined) != 1)
		return;
	/* Leases are asked for only for tenants this routerd serves. */
	atomic_store_explicit(&t->last_use_ms, af_mono_ms(),
			      memory_order_relaxed);
	atomic_fetch_add_explicit(&t->demand_nano, est_nano,
				  memory_order_relaxed);
	have = atomic_load(&t->lease_nano);
	do {
		if (have < est_nano) {
			refuse(t, have, est_nano, now_wall_ms, d);
			return;
		}
	} while (!atomic_compare_exchange_weak(&t->lease_nano, &have,
					       have - est_nano));
	atomic_fetch_add(&t->consumed_nano, est_nano);
	if (seq != 0) {
		r = &b->ring[seq % RING];
		r->slot = (uint32_t)(t - b->t);
		r->est_nano = est_nano;
		atomic_store(&r->seq, seq);
	}
}

void routerd_budgets_settle(struct routerd_budgets *b, uint64_t seq,
			    int64_t actual_nano)
{
	struct resv *r = &b->ring[seq % RING];
	uint64_t want = seq;
	struct tenant *t;

	if (seq == 0 || actual_nano < 0 ||
	    !atomic_compare_exchange_strong(&r->seq, &want, 0))
		return;
	t = &b->t[r->slot];
	/* The estimate was consumed at decision time; what the call really
	 * cost replaces it (more or less). */
	atomic_fetch_add(&t->consumed_nano, actual_nano - r->est_nano);
	if (actual_nano < r->est_nano)
		atomic_fetch_add(&t->lease_nano, r->est_nano - actual_nano);
}

/* Samples the tenant's demand (sync thread): a peak that decays by a
 * quarter per window, so a burst is seen at once and fades within ~1 s. */
static void rate_sample(struct tenant *t, uint64_t now)
{
	int64_t d = atomic_load(&t->demand_nano), inst;
	uint64_t dt = now - t->rate_ms;

	if (t->rate_ms == 0) {
		t->rate_ms = now;
		t->rate_demand = d;
		return;
	}
	if (dt < RATE_WINDOW_MS)
		return;
	inst = (d - t->rate_demand) / (int64_t)dt * 1000;
	t->rate -= t->rate / 4;
	if (inst > t->rate)
		t->rate = inst;
	t->rate_ms = now;
	t->rate_demand = d;
}

/* How much to ask for. The first lease: the whole hard limit (controld
 * grants at most what is left), so a burst right after a budget appears
 * is served; the renewal REFRESH_MS later shrinks it to the demand. Later: the
 * demand of RATE_WANT_MS, at least an eighth of the hard limit, at most all of
 * it; at least a cent. */
static int64_t want_micro(const struct tenant *t, uint64_t now)
{
	uint64_t used = atomic_load(&t->last_use_ms);
	int64_t hard = atomic_load(&t->hard_micro);
	int64_t w = hard / 8;
	int64_t demand = t->rate / 1000 * RATE_WANT_MS / NANO_PER_MICRO;

	if (!t->have_lease && t->granted_nano == 0)
		w = hard;
	if (demand > w)
		w = demand;
	if (used != 0 && now - used < BUSY_MS &&
	    t->granted_nano / NANO_PER_MICRO > w)
		w = t->granted_nano / NANO_PER_MICRO;
	if (w > hard)
		w = hard;
	return w < 10000 ? 10000 : w;
}

/* The low-water mark: refill when half the last grant is used, or when
 * the lease lasts less than RATE_AHEAD_MS at the current demand. A lease
 * that was all there is gets topped up at most once per SETTLE_MS. */
static bool low(const struct tenant *t, int64_t lease, uint64_t since)
{
	int64_t ahead = t->rate / 1000 * RATE_AHEAD_MS;

	if (lease >= t->granted_nano / 2 && lease >= ahead)
		return false;
	return !atomic_load(&t->short_grant) || since >= SETTLE_MS;
}

int routerd_budgets_next(struct routerd_budgets *b, uint64_t now, bool release,
			 Af__LeaseRequest *req, char *tenant_buf,
			 size_t tenant_len)
{
	size_t nused = atomic_load(&b->nused);

	for (size_t k = 0; k < nused; k++) {
		size_t i = b->used[k];
		struct tenant *t = &b->t[i];
		int64_t consumed, lease;
		uint64_t since = now - t->last_ms;
		bool due;

		if (!atomic_load(&t->used) ||
		    (atomic_load(&t->defined) != 1 && !t->have_lease))
			continue;
		rate_sample(t, now);
		consumed = atomic_load(&t->consumed_nano);
		lease = atomic_load(&t->lease_nano);
		uint64_t used = atomic_load(&t->last_use_ms);
		/* Asked for before any hop: kept PREFETCH_MS, then given
		 * back unless a hop used it. */
		bool pre = used == 0 && t->prefetch_ms != 0 &&
			   now - t->prefetch_ms < PREFETCH_MS;
		bool idle = !pre && (used == 0 || now - used >= IDLE_MS);

		if (release || (idle && t->have_lease))
			due = t->have_lease || consumed > 0;
		else if (idle)
			due = consumed > 0; /* settle, ask for nothing */
		else if (!t->have_lease)
			/* none yet (ask at once), or nothing was left to grant
			 * (ask again each second) */
			due = since >= 1000 || !t->asked;
		else
			due = since >= REFRESH_MS ||
			      (consumed > 0 && since >= SETTLE_MS) ||
			      low(t, lease, since);
		if (!due)
			continue;
		/* Consumption is settled in whole micro-USD, rounded up. */
		int64_t micro =
			(consumed + NANO_PER_MICRO - 1) / NANO_PER_MICRO;
		if (micro < 0)
			micro = 0;
		atomic_fetch_sub(&t->consumed_nano, micro * NANO_PER_MICRO);
		snprintf(tenant_buf, tenant_len, "%s", t->name);
		req->tenant = tenant_buf;
		req->consumed_micro = micro;
		req->release = release || idle || atomic_load(&t->defined) != 1;
		req->want_micro = req->release ? 0 : want_micro(t, now);
		t->asked_micro = req->want_micro;
		return (int)i;
	}
	return -1;
}

void routerd_budgets_granted(struct routerd_budgets *b, int slot, bool ok,
			     int64_t consumed_micro_sent,
			     const Af__ApplyResult *res, uint64_t now)
{
	struct tenant *t = &b->t[slot];

	t->last_ms = now;
	t->asked = !res || !res->unlimited;
	if (!ok || res == NULL) {
		atomic_fetch_add(&t->consumed_nano,
				 consumed_micro_sent * NANO_PER_MICRO);
		return;
	}
	if (res->unlimited) {
		atomic_store(&t->defined, 0);
		atomic_store(&t->lease_nano, 0);
		t->have_lease = false;
		return;
	}
	/* The lease now held, less what was reserved since the request. */
	atomic_store(&t->lease_nano, res->lease_micro * NANO_PER_MICRO -
					     atomic_load(&t->consumed_nano));
	t->have_lease = res->lease_micro > 0;
	t->granted_nano = res->lease_micro * NANO_PER_MICRO;
	atomic_store(&t->held, t->have_lease);
	atomic_store(&t->short_grant, res->lease_micro < t->asked_micro);
	atomic_store(&t->last_lease,
		     res->state != NULL && strcmp(res->state, "last") == 0);
	if (!t->have_lease &&
	    (uint64_t)atomic_load(&t->last_use_ms) + IDLE_MS <= now)
		t->asked = false; /* released: ask again on next use */
	atomic_store(&t->over_soft, res->over_soft);
	atomic_store(&t->over_hard, res->over_hard);
	atomic_store(&t->period_end_ms, res->period_end_ms);
}
