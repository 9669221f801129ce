/* Policy history retention: bundles are stored once per content hash, and
 * the bodies no revision in the retention window references are pruned in
 * apply, identically on every node.
 *
 * Bookkeeping in the meta table, per stored bundle:
 *   REF_PREFIX hash                    -> last revision (8), its time (8)
 *   IDX_PREFIX last revision (8) hash  -> its time (8)
 * "last revision" is the newest revision of that hash. The index is walked
 * oldest first: a body whose newest revision is out of the window is
 * deleted unless the stable, canary or running shadow revision has that
 * hash. Stores written before this bookkeeping existed get it built from
 * their revisions by the first entry that asks for retention. */
#include "common/alloc.h"
#include "common/hash.h"
#include "controld/fsm_int.h"
#include "controld/rollout.h"
#include "controld/state.h"

#include <stdio.h>
#include <string.h>

#define REF_PREFIX "bundle.ref/"
#define IDX_PREFIX "bundle.idx/"
#define REF_LEN (sizeof(REF_PREFIX) - 1)
#define IDX_LEN (sizeof(IDX_PREFIX) - 1)
#define INDEXED "bundle_index" /* meta counter: 1 once the index exists */
#define KEY_MAX (IDX_LEN + 8 + AF_HASH_STR_LEN)

static size_t ref_key(const char *hash, uint8_t out[KEY_MAX])
{
	size_t h = strnlen(hash, AF_HASH_STR_LEN - 1);

	memcpy(out, REF_PREFIX, REF_LEN);
	memcpy(out + REF_LEN, hash, h);
	return REF_LEN + h;
}

static size_t idx_key(uint64_t rev, const char *hash, size_t hlen,
		      uint8_t out[KEY_MAX])
{
	if (hlen > AF_HASH_STR_LEN - 1)
		hlen = AF_HASH_STR_LEN - 1;
	memcpy(out, IDX_PREFIX, IDX_LEN);
	af_store_key_u64(rev, out + IDX_LEN);
	memcpy(out + IDX_LEN + 8, hash, hlen);
	return IDX_LEN + 8 + hlen;
}

/* Hash's newest revision is now rev (made at time_ms): its ref and index
 * entry move there. */
static int ref_set(struct af_txn *t, const char *hash, uint64_t rev,
		   int64_t time_ms)
{
	uint8_t rk[KEY_MAX], ik[KEY_MAX], val[16];
	size_t rlen = ref_key(hash, rk), ilen;
	const void *v;
	size_t vlen;
	int rc;

	rc = af_txn_get(t, AF_TABLE_META, rk, rlen, &v, &vlen);
	if (rc == 0 && vlen == sizeof(val)) {
		ilen = idx_key(af_store_u64_of_key(v), hash, strlen(hash), ik);
		rc = af_txn_del(t, AF_TABLE_META, ik, ilen);
	}
	if (rc != 0 && rc != AF_ENOTFOUND)
		return rc;
	af_store_key_u64(rev, val);
	af_store_key_u64((uint64_t)time_ms, val + 8);
	ilen = idx_key(rev, hash, strlen(hash), ik);
	if ((rc = af_txn_put(t, AF_TABLE_META, rk, rlen, val, sizeof(val))) !=
	    0)
		return rc;
	return af_txn_put(t, AF_TABLE_META, ik, ilen, val + 8, 8);
}

/* ------------------------------------------ the index of an old store */

struct rev_item {
	uint64_t rev;
	int64_t time_ms;
	char hash[AF_HASH_STR_LEN];
};

struct rev_list {
	struct rev_item *v;
	size_t n, cap;
};

static int collect_rev(const void *key, size_t klen, const void *val,
		       size_t vlen, void *arg)
{
	struct rev_list *l = arg;
	Af__Revision *r;
	struct rev_item *it;

	if (klen != 8)
		return AF_ECORRUPT;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct rev_item *nv = af_realloc(l->v, cap * sizeof(*nv));

		if (nv == NULL)
			return AF_ENOMEM;
		l->v = nv;
		l->cap = cap;
	}
	r = af_fsm_unpack(&af__revision__descriptor, vlen, val);
	if (r == NULL)
		return AF_ECORRUPT;
	it = &l->v[l->n++];
	it->rev = af_store_u64_of_key(key);
	it->time_ms = r->time_ms;
	snprintf(it->hash, sizeof(it->hash), "%s", r->hash);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return 0;
}

/* Builds the refs and the index from every revision whose bundle is
 * stored, oldest first (so each hash ends at its newest revision). */
static int build_index(struct af_txn *t)
{
	struct rev_list l = {0};
	const void *v;
	size_t vlen;
	int rc;

	rc = af_txn_iter(t, AF_TABLE_REVISIONS, false, collect_rev, &l);
	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		const char *h = l.v[i].hash;

		rc = af_txn_get(t, AF_TABLE_BUNDLES, h, strlen(h), &v, &vlen);
		if (rc == AF_ENOTFOUND) {
			rc = 0;
			continue;
		}
		if (rc == 0)
			rc = ref_set(t, h, l.v[i].rev, l.v[i].time_ms);
	}
	af_free(l.v);
	if (rc == 0)
		rc = af_txn_set_meta_u64(t, INDEXED, 1);
	return rc;
}

/* ------------------------------------------------------------ pruning */

struct prune_walk {
	uint64_t cutoff;   /* newest revision out of the window (0: none) */
	int64_t before_ms; /* bodies last used before this go (0: none) */
	const char *keep[3];
	size_t n;
	char hash[AF_HISTORY_PRUNE_MAX][AF_HASH_STR_LEN];
	uint64_t rev[AF_HISTORY_PRUNE_MAX];
};

static bool kept(const struct prune_walk *w, const char *h, size_t hlen)
{
	for (size_t i = 0; i < 3; i++)
		if (w->keep[i][0] != '\0' && strlen(w->keep[i]) == hlen &&
		    memcmp(w->keep[i], h, hlen) == 0)
			return true;
	return false;
}

static int prune_cb(const void *key, size_t klen, const void *val, size_t vlen,
		    void *arg)
{
	struct prune_walk *w = arg;
	const char *h = (const char *)key + IDX_LEN + 8;
	size_t hlen = klen - IDX_LEN - 8;
	uint64_t rev;
	int64_t time_ms;

	if (klen <= IDX_LEN + 8 || hlen >= AF_HASH_STR_LEN || vlen != 8)
		return AF_ECORRUPT;
	rev = af_store_u64_of_key((const uint8_t *)key + IDX_LEN);
	time_ms = (int64_t)af_store_u64_of_key(val);
	if (!(rev <= w->cutoff ||
	      (w->before_ms != 0 && time_ms < w->before_ms)))
		return 1; /* the oldest body still in the window: done */
	if (kept(w, h, hlen))
		return 0;
	memcpy(w->hash[w->n], h, hlen);
	w->hash[w->n][hlen] = '\0';
	w->rev[w->n] = rev;
	return ++w->n == AF_HISTORY_PRUNE_MAX ? 1 : 0;
}

/* The hashes never pruned: those of the stable, canary and running
 * shadow revisions. */
static int protected_hashes(struct af_txn *t, char out[3][AF_HASH_STR_LEN])
{
	struct af_rollout ro;
	Af__Shadow *sh;
	int rc;

	out[2][0] = '\0';
	if ((rc = af_rollout_get(t, &ro)) != 0 ||
	    (rc = af_state_revision_hash(t, ro.stable, out[0],
					 AF_HASH_STR_LEN)) != 0 ||
	    (rc = af_state_revision_hash(t, ro.canary, out[1],
					 AF_HASH_STR_LEN)) != 0 ||
	    (rc = af_state_shadow_get(t, &sh)) != 0)
		return rc;
	if (sh != NULL && strcmp(sh->state, "running") == 0)
		snprintf(out[2], AF_HASH_STR_LEN, "%s", sh->hash);
	if (sh != NULL)
		protobuf_c_message_free_unpacked(&sh->base, NULL);
	return 0;
}

int af_fsm_history_prune(struct af_txn *t, uint64_t newest, uint32_t keep,
			 int64_t before_ms, size_t *ret_pruned)
{
	char prot[3][AF_HASH_STR_LEN];
	struct prune_walk *w;
	uint8_t k[KEY_MAX];
	int rc;

	if (ret_pruned)
		*ret_pruned = 0;
	if ((keep == 0 || newest <= keep) && before_ms <= 0)
		return 0;
	if ((rc = protected_hashes(t, prot)) != 0)
		return rc;
	w = af_calloc(1, sizeof(*w));
	if (w == NULL)
		return AF_ENOMEM;
	w->cutoff = keep != 0 && newest > keep ? newest - keep : 0;
	w->before_ms = before_ms > 0 ? before_ms : 0;
	for (size_t i = 0; i < 3; i++)
		w->keep[i] = prot[i];
	rc = af_txn_iter_prefix(t, AF_TABLE_META, IDX_PREFIX, IDX_LEN, false,
				prune_cb, w);
	if (rc > 0)
		rc = 0;
	for (size_t i = 0; rc == 0 && i < w->n; i++) {
		const char *h = w->hash[i];

		rc = af_txn_del(t, AF_TABLE_BUNDLES, h, strlen(h));
		if (rc == 0 || rc == AF_ENOTFOUND)
			rc = af_txn_del(t, AF_TABLE_META, k, ref_key(h, k));
		if (rc == 0 || rc == AF_ENOTFOUND)
			rc = af_txn_del(t, AF_TABLE_META, k,
					idx_key(w->rev[i], h, strlen(h), k));
		if (rc == AF_ENOTFOUND)
			rc = 0;
	}
	if (rc == 0 && ret_pruned)
		*ret_pruned = w->n;
	af_free(w);
	return rc;
}

int af_fsm_store_bundle(struct af_txn *t, const struct apply_ctx *c,
			uint64_t rev)
{
	const Af__PolicyApply *pa = c->cmd->policy_apply;
	Af__StoredBundle sb = AF__STORED_BUNDLE__INIT;
	bool retain = pa->history_revisions != 0 || pa->history_before_ms > 0;
	const void *v;
	size_t vlen;
	int rc;

	rc = af_txn_get(t, AF_TABLE_BUNDLES, pa->hash, strlen(pa->hash), &v,
			&vlen);
	if (rc == AF_ENOTFOUND) {
		sb.hash = pa->hash;
		sb.source = pa->source;
		sb.compiled = pa->compiled;
		rc = af_txn_put_msg(t, AF_TABLE_BUNDLES, pa->hash,
				    strlen(pa->hash), &sb.base);
	} /* else content-addressed: already there, the revision refers */
	if (rc != 0)
		return rc;
	/* Entries that do not ask for retention keep the store as it was,
	 * but once the index exists every revision keeps it current. */
	if (af_txn_meta_u64(t, INDEXED) == 0) {
		if (!retain)
			return 0;
		if ((rc = build_index(t)) != 0)
			return rc;
	}
	if ((rc = ref_set(t, pa->hash, rev, c->cmd->time_ms)) != 0)
		return rc;
	return af_fsm_history_prune(t, rev, pa->history_revisions,
				    pa->history_before_ms, NULL);
}
