/*
 * Views: built from verified canonical bytes, published by swapping one
 * atomic pointer, read lock-free through hazard-pointer slots.
 *
 * Readers: acquire claims a free slot (one CAS, starting at a per-thread
 * hint so a thread keeps finding its own slot), stores the current view in
 * it and re-reads the current pointer until both agree; release clears a
 * slot holding that view. The publisher swaps the pointer and puts the old
 * view on a retired list; each publish frees every retired view no slot
 * holds any more. So the publisher never waits for readers (it may itself
 * hold an acquired view while it publishes), unless RETIRED_MAX views are
 * still held: then it waits (spin, then short sleeps) for the oldest.
 * Readers and the publisher share no lock; a reader never waits.
 */
#include "common/alloc.h"
#include "common/hash.h"
#include "common/timeutil.h"
#include "proto/policy.pb-c.h"
#include "routerd/quota.h"
#include "routerd/routerd_int.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define VIEW_SLOTS 128
#define RETIRED_MAX 64

struct hazard {
	_Alignas(64) _Atomic(struct routerd_view *) hp;
};

/* One per routerd (r->slots): the reader slots, and the publisher's
 * retired views. */
struct routerd_viewslot {
	struct hazard h[VIEW_SLOTS];
	struct routerd_view *retired[RETIRED_MAX]; /* publisher only */
	size_t nretired;
};

/* Marks a slot claimed by a reader that has not stored its view yet. */
static struct routerd_view busy_view;
#define BUSY (&busy_view)

static _Atomic unsigned next_hint;
static _Atomic uint64_t next_gen;
static _Thread_local unsigned thread_hint;
static _Thread_local int thread_hint_set;

static unsigned hint(void)
{
	if (!thread_hint_set) {
		thread_hint = atomic_fetch_add(&next_hint, 1) % VIEW_SLOTS;
		thread_hint_set = 1;
	}
	return thread_hint;
}

static int check_hash(const char *what, const char *want, const void *buf,
		      size_t len, struct af_err *err)
{
	char got[AF_HASH_STR_LEN];

	af_sha256_str(buf, len, got);
	if (want == NULL || strcmp(got, want) != 0)
		return af_errf(err, AF_ECORRUPT,
			       "view: %s: hash mismatch: expected %s, bytes "
			       "hash to %s",
			       what, want != NULL ? want : "(none)", got);
	return 0;
}

static int copy_bytes(const void *src, size_t len, uint8_t **ret)
{
	*ret = af_malloc(len > 0 ? len : 1);
	if (*ret == NULL)
		return AF_ENOMEM;
	if (len > 0)
		memcpy(*ret, src, len);
	return 0;
}

struct loaded {
	struct af_bundle *stable, *canary;
	struct af_registry *reg;
};

static int load_all(const void *stable, size_t stable_len, const void *canary,
		    size_t canary_len, const void *registry,
		    size_t registry_len, struct loaded *l, struct af_err *err)
{
	int rc;

	rc = af_bundle_load(stable, stable_len, &l->stable, err);
	if (rc != 0)
		return af_err_wrap(err, rc, "view: stable bundle");
	if (canary != NULL) {
		rc = af_bundle_load(canary, canary_len, &l->canary, err);
		if (rc != 0)
			return af_err_wrap(err, rc, "view: canary bundle");
	}
	rc = af_registry_load(registry, registry_len, &l->reg, err);
	if (rc != 0)
		return af_err_wrap(err, rc, "view: registry");
	return 0;
}

/* x->lane_max from the bundles' lanes (stable first). Out of memory
 * leaves it NULL: the limits are for /metrics only. */
static void lane_limits(struct view_ext *x, const struct af_bundle *b)
{
	size_t len;
	const uint8_t *bytes = af_bundle_bytes(b, &len);
	Af__Policy__Bundle *pb = af__policy__bundle__unpack(NULL, len, bytes);

	if (pb == NULL)
		return;
	for (size_t i = 0; i < pb->n_lanes; i++) {
		int32_t id =
			af_policy_view_lane_id(x->v.pv, pb->lanes[i]->name);

		if (id >= 0 && (uint32_t)id < x->nlanes && x->lane_max[id] == 0)
			x->lane_max[id] = pb->lanes[i]->max_inflight;
	}
	protobuf_c_message_free_unpacked(&pb->base, NULL);
}

static int compile_view(struct view_ext *x, const struct loaded *l,
			struct af_err *err)
{
	struct af_policy_view_config cfg = {
		.stable = l->stable,
		.stable_revision = x->v.stable_revision,
		.canary = l->canary,
		.canary_revision = x->v.canary_revision,
		.canary_weight_bp =
			l->canary != NULL ? x->v.canary_weight * 100 : 0,
		.registry = l->reg,
		.registry_revision = x->v.registry_revision,
	};
	int rc;

	rc = af_policy_view_new(&cfg, &x->v.pv, err);
	if (rc != 0)
		return af_err_wrap(err, rc, "view");
	af_bundle_health(l->stable, &x->health);
	x->nlanes = af_policy_view_nlanes(x->v.pv);
	x->npairs = af_policy_view_npairs(x->v.pv);
	x->lane_max = af_calloc(x->nlanes ? x->nlanes : 1, sizeof(int64_t));
	if (x->lane_max != NULL) {
		lane_limits(x, l->stable);
		if (l->canary != NULL)
			lane_limits(x, l->canary);
	}
	return 0;
}

int routerd_view_build(uint64_t state_index, uint64_t stable_revision,
		       const char *stable_hash, const void *stable,
		       size_t stable_len, uint64_t canary_revision,
		       const char *canary_hash, const void *canary,
		       size_t canary_len, uint32_t canary_weight,
		       uint64_t registry_revision, const void *registry,
		       size_t registry_len, struct routerd_view **ret,
		       struct af_err *err)
{
	struct loaded l = {0};
	struct view_ext *x = NULL;
	int rc;

	if (stable == NULL || registry == NULL || canary_weight > 100)
		return af_errf(err, AF_EINVAL, "view: bad arguments");
	if (canary_len == 0)
		canary = NULL;
	rc = check_hash("stable bundle", stable_hash, stable, stable_len, err);
	if (rc == 0 && canary != NULL)
		rc = check_hash("canary bundle", canary_hash, canary,
				canary_len, err);
	if (rc == 0)
		rc = load_all(stable, stable_len, canary, canary_len, registry,
			      registry_len, &l, err);
	if (rc != 0)
		goto out;
	x = af_calloc(1, sizeof(*x));
	if (x == NULL) {
		rc = af_errf(err, AF_ENOMEM, "view: out of memory");
		goto out;
	}
	x->v.state_index = state_index;
	x->v.stable_revision = stable_revision;
	x->v.canary_revision = canary != NULL ? canary_revision : 0;
	x->v.canary_weight = canary != NULL ? canary_weight : 0;
	x->v.registry_revision = registry_revision;
	snprintf(x->v.stable_hash, sizeof(x->v.stable_hash), "%s", stable_hash);
	if (canary != NULL)
		snprintf(x->v.canary_hash, sizeof(x->v.canary_hash), "%s",
			 canary_hash);
	x->v.activated_ms = af_wall_ms();
	x->gen = atomic_fetch_add(&next_gen, 1) + 1;
	rc = compile_view(x, &l, err);
	if (rc != 0)
		goto out_free;
	x->v.stable_len = stable_len;
	x->v.canary_len = canary != NULL ? canary_len : 0;
	x->v.registry_len = registry_len;
	if (copy_bytes(stable, stable_len, &x->v.stable_bytes) != 0 ||
	    (canary != NULL &&
	     copy_bytes(canary, canary_len, &x->v.canary_bytes) != 0) ||
	    copy_bytes(registry, registry_len, &x->v.registry_bytes) != 0) {
		rc = af_errf(err, AF_ENOMEM, "view: out of memory");
		goto out_free;
	}
	*ret = &x->v;
	x = NULL;
out_free:
	routerd_view_free(x != NULL ? &x->v : NULL);
out:
	af_bundle_free(l.stable);
	af_bundle_free(l.canary);
	af_registry_free(l.reg);
	return rc;
}

void routerd_view_free(struct routerd_view *v)
{
	struct view_ext *x = (struct view_ext *)(void *)v;

	if (v == NULL)
		return;
	routerd_live_unbind(x);
	af_free(x->lane_max);
	af_policy_view_free(v->pv);
	af_policy_view_free(x->shadow_pv);
	af_free(v->shadow_bytes);
	af_free(v->stable_bytes);
	af_free(v->canary_bytes);
	af_free(v->registry_bytes);
	af_free(x);
}

int routerd_view_set_shadow(struct routerd_view *v, uint64_t revision,
			    const char *hash, const void *bytes, size_t len,
			    uint32_t sample_pct, int64_t expires_ms,
			    struct af_err *err)
{
	struct view_ext *x = (struct view_ext *)(void *)v;
	struct af_bundle *b = NULL;
	struct af_registry *reg = NULL;
	struct af_policy_view_config cfg = {.stable_revision = revision,
					    .registry_revision =
						    v->registry_revision};
	int rc;

	if ((rc = check_hash("shadow bundle", hash, bytes, len, err)) != 0)
		return rc;
	if ((rc = af_bundle_load(bytes, len, &b, err)) != 0 ||
	    (rc = af_registry_load(v->registry_bytes, v->registry_len, &reg,
				   err)) != 0) {
		rc = af_err_wrap(err, rc, "view: shadow bundle");
		goto out;
	}
	cfg.stable = b;
	cfg.registry = reg;
	if ((rc = af_policy_view_new(&cfg, &x->shadow_pv, err)) != 0) {
		rc = af_err_wrap(err, rc, "view: shadow");
		goto out;
	}
	if ((rc = copy_bytes(bytes, len, &v->shadow_bytes)) != 0) {
		af_policy_view_free(x->shadow_pv);
		x->shadow_pv = NULL;
		rc = af_errf(err, AF_ENOMEM, "view: out of memory");
		goto out;
	}
	v->shadow_len = len;
	v->shadow_revision = revision;
	snprintf(v->shadow_hash, sizeof(v->shadow_hash), "%s", hash);
	v->shadow_sample_pct =
		sample_pct >= 1 && sample_pct <= 100 ? sample_pct : 100;
	v->shadow_expires_ms = expires_ms;
out:
	af_bundle_free(b);
	af_registry_free(reg);
	return rc;
}

int routerd_views_init(struct routerd *r, struct af_err *err)
{
	atomic_init(&r->current, NULL);
	r->slots = af_calloc(1, sizeof(*r->slots));
	if (r->slots == NULL)
		return af_errf(err, AF_ENOMEM, "view: out of memory");
	for (size_t i = 0; i < VIEW_SLOTS; i++)
		atomic_init(&r->slots->h[i].hp, NULL);
	return 0;
}

static bool held(const struct routerd *r, const struct routerd_view *v)
{
	for (size_t i = 0; i < VIEW_SLOTS; i++)
		if (atomic_load(&r->slots->h[i].hp) == v)
			return true;
	return false;
}

/* Waits until no reader holds v, then frees it. */
static void wait_free(struct routerd *r, struct routerd_view *v)
{
	struct timespec ts = {0, 50 * 1000};
	unsigned spins = 0;

	while (held(r, v)) {
		if (++spins < 64)
			sched_yield();
		else
			nanosleep(&ts, NULL);
	}
	routerd_view_free(v);
}

/* Frees the retired views no reader holds; keeps the others. */
static void reclaim(struct routerd *r)
{
	struct routerd_viewslot *s = r->slots;
	size_t n = 0;

	for (size_t i = 0; i < s->nretired; i++) {
		if (held(r, s->retired[i]))
			s->retired[n++] = s->retired[i];
		else
			routerd_view_free(s->retired[i]);
	}
	s->nretired = n;
}

static void retire(struct routerd *r, struct routerd_view *v)
{
	struct routerd_viewslot *s = r->slots;

	reclaim(r);
	if (v == NULL)
		return;
	if (s->nretired == RETIRED_MAX) {
		/* Readers hold many old views: wait for the oldest. */
		wait_free(r, s->retired[0]);
		memmove(s->retired, s->retired + 1,
			(RETIRED_MAX - 1) * sizeof(s->retired[0]));
		s->nretired--;
	}
	s->retired[s->nretired++] = v;
}

void routerd_views_fini(struct routerd *r)
{
	struct routerd_viewslot *s = r->slots;

	if (s == NULL)
		return;
	retire(r, atomic_exchange(&r->current, NULL));
	for (size_t i = 0; i < s->nretired; i++)
		wait_free(r, s->retired[i]);
	af_free(s);
	r->slots = NULL;
}

int routerd_view_publish(struct routerd *r, struct routerd_view *v)
{
	const struct routerd_view *cur = atomic_load(&r->current);
	int rc;

	if (v == NULL)
		return AF_EINVAL;
	/* By state index only: a rollback lowers the stable revision. */
	if (cur != NULL && v->state_index < cur->state_index) {
		routerd_view_free(v);
		return AF_ECONFLICT;
	}
	if (r->live != NULL) {
		rc = routerd_live_bind(r->live, (struct view_ext *)(void *)v);
		if (rc != 0) {
			routerd_view_free(v);
			return rc;
		}
	}
	/* Named tenants' leases are asked for before their first hop. */
	routerd_quotas_prefetch(r->quotas, v->pv);
	retire(r, atomic_exchange(&r->current, v));
	return 0;
}

const struct routerd_view *routerd_view_acquire(struct routerd *r)
{
	struct routerd_view *v, *cur, *expected;
	unsigned start = hint(), i = start, n = 0;

	for (;;) {
		expected = NULL;
		if (atomic_compare_exchange_strong(&r->slots->h[i].hp,
						   &expected, BUSY))
			break;
		i = (i + 1) % VIEW_SLOTS;
		if (++n % VIEW_SLOTS == 0)
			sched_yield(); /* more readers than slots */
	}
	if (i != start)
		thread_hint = i;
	v = atomic_load(&r->current);
	for (;;) {
		atomic_store(&r->slots->h[i].hp, v != NULL ? v : BUSY);
		cur = atomic_load(&r->current);
		if (cur == v)
			break;
		v = cur;
	}
	if (v == NULL)
		atomic_store(&r->slots->h[i].hp, NULL);
	return v;
}

void routerd_view_release(struct routerd *r, const struct routerd_view *v)
{
	unsigned i = hint();
	struct routerd_view *expected;

	if (v == NULL)
		return;
	/* Any slot holding v will do: slots only count readers per view. */
	for (unsigned n = 0; n < VIEW_SLOTS; n++, i = (i + 1) % VIEW_SLOTS) {
		expected = (struct routerd_view *)(uintptr_t)v;
		if (atomic_compare_exchange_strong(&r->slots->h[i].hp,
						   &expected, NULL))
			return;
	}
}
