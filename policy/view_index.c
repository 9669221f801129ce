/* The indexes of a view that keep af_decide() sublinear in the bundle: per
 * bundle the rules a request can match (by tenant and class), and per
 * routed tier the usable (model, region) pairs sorted by price. decide.c
 * reads them; the explain path does not need them. */
#include "policy/view_int.h"
#include "common/alloc.h"

#include <stdlib.h>
#include <string.h>

#define A(x) AF__POLICY__ATTR__ATTR_##x
#define O(x) AF__POLICY__OP__OP_##x

/* ------------------------------------------------------ rule index */

/* Whether no request can satisfy the rule (a capability no model has). */
static bool never_matches(const struct vrule *r)
{
	for (uint32_t j = 0; j < r->nconds; j++)
		if (r->conds[j].attr == A(NEEDS) && r->conds[j].unknown_cap)
			return true;
	return false;
}

static const struct vcond *positive(const struct vrule *r, uint8_t attr)
{
	for (uint32_t j = 0; j < r->nconds; j++)
		if (r->conds[j].attr == attr &&
		    (r->conds[j].op == O(EQ) || r->conds[j].op == O(IN)))
			return &r->conds[j];
	return NULL;
}

/* Counting (fill == NULL) or filling one CSR array of rule lists. Each
 * bucket gets rule i at most once (last[] remembers). */
static void put(uint32_t *count, uint32_t *fill, uint32_t *out, uint32_t *last,
		uint32_t bucket, uint32_t i)
{
	if (last[bucket] == i + 1)
		return;
	last[bucket] = i + 1;
	if (out == NULL)
		count[bucket + 1]++;
	else
		out[fill[bucket]++] = i;
}

static int csr_alloc(struct arena *a, uint32_t n, uint32_t *start,
		     uint32_t **ret)
{
	for (uint32_t b = 0; b < n; b++)
		start[b + 1] += start[b];
	*ret = arena_calloc(a, start[n] + 1, sizeof(uint32_t));
	return *ret == NULL ? AF_ENOMEM : 0;
}

/* One pass over the rules; out == NULL counts, else fills. */
static void place(struct vbundle *vb, uint32_t *cf, uint32_t *tf, uint32_t *lc,
		  uint32_t *lt, bool fill)
{
	struct vrindex *ix = &vb->ix;

	for (uint32_t i = 0; i < vb->nrules; i++) {
		const struct vrule *r = &vb->rules[i];
		const struct vcond *c;

		if (never_matches(r))
			continue;
		if ((c = positive(r, A(TENANT))) != NULL) {
			for (uint32_t k = 0; k < c->nvals; k++)
				put(ix->ten_start, tf,
				    fill ? ix->ten_rules : NULL, lt,
				    intern_find(&ix->tenants, c->svals[k]), i);
		} else if ((c = positive(r, A(CLASS))) != NULL) {
			for (uint32_t k = 0; k < c->nvals; k++)
				if (c->ids[k] != NONE)
					put(ix->cls_start, cf,
					    fill ? ix->cls_rules : NULL, lc,
					    c->ids[k], i);
		} else if (fill) {
			ix->always[ix->nalways++] = i;
		}
	}
}

static int rule_index(struct arena *a, struct vbundle *vb)
{
	struct vrindex *ix = &vb->ix;
	uint32_t nc = vb->classes.n, nt, *cf = NULL, *tf = NULL, *lc = NULL,
		 *lt = NULL;
	int rc = AF_ENOMEM;

	for (uint32_t i = 0; i < vb->nrules; i++) {
		const struct vcond *c = positive(&vb->rules[i], A(TENANT));

		for (uint32_t k = 0; c != NULL && k < c->nvals; k++)
			if (intern_add(a, &ix->tenants, c->svals[k]) == NONE)
				return AF_ENOMEM;
	}
	nt = ix->tenants.n;
	ix->always = arena_calloc(a, vb->nrules + 1, sizeof(uint32_t));
	ix->cls_start = arena_calloc(a, nc + 1, sizeof(uint32_t));
	ix->ten_start = arena_calloc(a, nt + 1, sizeof(uint32_t));
	cf = af_calloc(nc + 1, sizeof(uint32_t));
	tf = af_calloc(nt + 1, sizeof(uint32_t));
	lc = af_calloc(nc + 1, sizeof(uint32_t));
	lt = af_calloc(nt + 1, sizeof(uint32_t));
	if (!ix->always || !ix->cls_start || !ix->ten_start || !cf || !tf ||
	    !lc || !lt)
		goto out;
	place(vb, cf, tf, lc, lt, false);
	if (csr_alloc(a, nc, ix->cls_start, &ix->cls_rules) != 0 ||
	    csr_alloc(a, nt, ix->ten_start, &ix->ten_rules) != 0)
		goto out;
	memcpy(cf, ix->cls_start, nc * sizeof(uint32_t));
	memcpy(tf, ix->ten_start, nt * sizeof(uint32_t));
	memset(lc, 0, (nc + 1) * sizeof(uint32_t));
	memset(lt, 0, (nt + 1) * sizeof(uint32_t));
	place(vb, cf, tf, lc, lt, true);
	rc = 0;
out:
	af_free(cf);
	af_free(tf);
	af_free(lc);
	af_free(lt);
	return rc;
}

/* ----------------------------------------------------- price lists */

struct sortctx {
	const struct af_policy_view *v;
	int ord;
};

static int cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

static int cmp_pairs(const void *pa, const void *pb, void *arg)
{
	const struct sortctx *c = arg;
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	const struct vmodel *ma = &c->v->models[c->v->pairs[a].model];
	const struct vmodel *mb = &c->v->models[c->v->pairs[b].model];
	int d = 0;

	if (c->ord == ORD_IN) {
		d = cmp_i64(ma->pin, mb->pin);
		if (d == 0)
			d = cmp_i64(ma->pout, mb->pout);
	} else if (c->ord == ORD_OUT) {
		d = cmp_i64(ma->pout, mb->pout);
		if (d == 0)
			d = cmp_i64(ma->pin, mb->pin);
	}
	if (d == 0)
		d = cmp_i64(c->v->pairs[a].model, c->v->pairs[b].model);
	return d;
}

static void prices(const struct af_policy_view *v, uint32_t pair, int ord,
		   int64_t *p1, int64_t *p2)
{
	const struct vmodel *m = &v->models[v->pairs[pair].model];

	*p1 = ord == ORD_IN ? m->pin : ord == ORD_OUT ? m->pout : 0;
	*p2 = ord == ORD_IN ? m->pout : ord == ORD_OUT ? m->pin : 0;
}

/* Splits the sorted items [b0, e) into blocks from block index nb on;
 * returns the new block count. */
static uint32_t make_blocks(struct af_policy_view *v, uint32_t b0, uint32_t e,
			    int ord, uint32_t nb)
{
	uint32_t first = nb;
	int64_t least = -1, gp1 = -1, gp2 = -1;

	for (uint32_t i = b0; i < e; i++) {
		int64_t p1, p2;

		prices(v, v->items[i].pair, ord, &p1, &p2);
		if (nb == first || p1 != v->blocks[nb - 1].p1 ||
		    p2 != v->blocks[nb - 1].p2)
			v->blocks[nb++] = (struct vblock){.p1 = p1, .p2 = p2};
		v->items[i].blk = nb - 1;
		v->blocks[nb - 1].end = i + 1;
	}
	/* Backwards: the next block of equal p1, the next p1 and the least
	 * p2 from that group on. */
	for (uint32_t b = nb; b-- > first;) {
		struct vblock *k = &v->blocks[b];
		bool same = b + 1 < nb && v->blocks[b + 1].p1 == k->p1;

		k->nb_p2 = same ? v->blocks[b + 1].p2 : -1;
		if (b + 1 < nb && !same) {
			gp1 = v->blocks[b + 1].p1;
			gp2 = least;
		}
		k->ng_p1 = gp1;
		k->ng_p2 = gp2;
		if (least < 0 || k->p2 < least)
			least = k->p2;
	}
	return nb;
}

/* Numbers the tiers the bundles route to; slot_tier[slot] is the tier. */
static int slots(struct af_policy_view *v, uint32_t *slot_tier, uint32_t *ret_n)
{
	uint32_t n = 0;

	v->tier_slot = arena_calloc(&v->a, v->tiers.n + 1, sizeof(uint32_t));
	if (v->tier_slot == NULL)
		return AF_ENOMEM;
	for (uint32_t t = 0; t < v->tiers.n; t++)
		v->tier_slot[t] = NONE;
	for (int b = 0; b < (v->has_canary ? 2 : 1); b++)
		for (uint32_t i = 0; i < v->b[b].ntiers; i++)
			if (v->tier_slot[v->b[b].tiers[i]] == NONE) {
				slot_tier[n] = v->b[b].tiers[i];
				v->tier_slot[v->b[b].tiers[i]] = n++;
			}
	*ret_n = n;
	return 0;
}

/* Fills the lists of one tier slot: per region and status, each order. */
static void fill_slot(struct af_policy_view *v, uint32_t tier, uint32_t slot,
		      uint32_t *at, uint32_t *nb)
{
	for (uint32_t reg = 0; reg < v->regions.n; reg++)
		for (uint32_t st = 0; st < 2; st++)
			for (int ord = 0; ord < NORD; ord++) {
				uint32_t l = plist(v, slot, reg, st,
						   (uint32_t)ord),
					 b0 = *at;
				struct sortctx c = {v, ord};

				v->list_start[l] = b0;
				for (uint32_t i = v->tier_start[tier];
				     i < v->tier_start[tier + 1]; i++) {
					uint32_t p = v->tier_pairs[i];
					const struct vmodel *m =
						&v->models[v->pairs[p].model];

					if (v->pairs[p].region != reg ||
					    m->status ==
						    AF__POLICY__STATUS__STATUS_DISABLED ||
					    (m->status !=
					     AF__POLICY__STATUS__STATUS_ACTIVE) !=
						    st)
						continue;
					v->items[(*at)++].pair = p;
				}
				qsort_r(&v->items[b0], *at - b0,
					sizeof(*v->items), cmp_pairs, &c);
				*nb = make_blocks(v, b0, *at, ord, *nb);
				v->list_start[l + 1] = *at;
			}
}

static int price_lists(struct af_policy_view *v)
{
	uint32_t slot_tier[2 * AF_POLICY_MAX_TIERS];
	uint32_t n, nitems = 0, at = 0, nb = 0;
	struct vblock *tmp;
	int rc = slots(v, slot_tier, &n);

	if (rc != 0)
		return rc;
	rc = AF_ENOMEM;
	for (uint32_t s = 0; s < n; s++)
		nitems += NORD * (v->tier_start[slot_tier[s] + 1] -
				  v->tier_start[slot_tier[s]]);
	v->list_start = arena_calloc(&v->a, n * v->regions.n * 2 * NORD + 1,
				     sizeof(uint32_t));
	v->items = arena_calloc(&v->a, nitems + 1, sizeof(*v->items));
	/* At most one block per item; kept at the size they need. */
	tmp = af_calloc(nitems + 1, sizeof(*tmp));
	if (v->list_start == NULL || v->items == NULL || tmp == NULL)
		goto out;
	v->blocks = tmp;
	/* In slot order, so the lists lie one after the other. */
	for (uint32_t s = 0; s < n; s++)
		fill_slot(v, slot_tier[s], s, &at, &nb);
	v->blocks = arena_alloc(&v->a, (nb + 1) * sizeof(*v->blocks));
	if (v->blocks != NULL) {
		memcpy(v->blocks, tmp, nb * sizeof(*v->blocks));
		rc = 0;
	}
out:
	af_free(tmp);
	return rc;
}

int view_index(struct af_policy_view *v)
{
	int rc = rule_index(&v->a, &v->b[0]);

	if (rc == 0 && v->has_canary)
		rc = rule_index(&v->a, &v->b[1]);
	if (rc == 0)
		rc = price_lists(v);
	return rc;
}
