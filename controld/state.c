/* The replicated schema's keys and accessors: see state.h. */
#include "controld/state.h"
#include "common/hash.h"

#include <stdio.h>
#include <string.h>

#define ROLLOUT_KEY "rollout"
#define REGISTRY_REVISION "registry_revision"
#define POLICY_REVISION "policy_revision"
#define OVERRIDES_KEY "overrides"
/* In the rollout table: the shadow record, and per shadow hash its
 * agreement totals (SHADOW_TOTALS + hash). */
#define SHADOW_KEY "shadow"
#define ROLLOUT_HISTORY_KEY "rollout_history"
#define SHADOW_TOTALS "shadow_totals/"
#define SHADOW_TOTALS_MAX (sizeof(SHADOW_TOTALS) + AF_HASH_STR_LEN)
/* Showback rows in the usage table: SHOWBACK day(8, big-endian) tenant NUL
 * class NUL model NUL revision(8). */
#define SHOWBACK "sb/"
#define SHOWBACK_LEN 3
#define SHOWBACK_END "sb0" /* the first key after every showback key */

int af_state_revision_get(struct af_txn *t, uint64_t rev, Af__Revision **ret)
{
	uint8_t key[8];

	af_store_key_u64(rev, key);
	return af_txn_get_msg(t, AF_TABLE_REVISIONS, key, sizeof(key),
			      &af__revision__descriptor,
			      (ProtobufCMessage **)ret);
}

int af_state_revision_put(struct af_txn *t, const Af__Revision *r)
{
	uint8_t key[8];

	af_store_key_u64(r->revision, key);
	return af_txn_put_msg(t, AF_TABLE_REVISIONS, key, sizeof(key),
			      &r->base);
}

int af_state_revision_find(struct af_txn *t, uint64_t rev, Af__Revision **ret)
{
	int rc;

	*ret = NULL;
	if (rev == 0)
		return 0;
	rc = af_state_revision_get(t, rev, ret);
	if (rc == AF_ENOTFOUND) {
		*ret = NULL;
		return 0;
	}
	return rc;
}

int af_state_revision_hash(struct af_txn *t, uint64_t rev, char *out,
			   size_t outlen)
{
	Af__Revision *r;
	int rc;

	out[0] = '\0';
	if ((rc = af_state_revision_find(t, rev, &r)) != 0 || r == NULL)
		return rc;
	snprintf(out, outlen, "%s", r->hash);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return 0;
}

uint64_t af_state_policy_revision(struct af_txn *t)
{
	return af_txn_meta_u64(t, POLICY_REVISION);
}

int af_state_set_policy_revision(struct af_txn *t, uint64_t rev)
{
	return af_txn_set_meta_u64(t, POLICY_REVISION, rev);
}

/* A record that may be absent: *ret NULL, and 0, when it is. */
static int get_opt(struct af_txn *t, enum af_table table, const void *key,
		   size_t len, const ProtobufCMessageDescriptor *d, void **ret)
{
	int rc =
		af_txn_get_msg(t, table, key, len, d, (ProtobufCMessage **)ret);

	if (rc == AF_ENOTFOUND) {
		*ret = NULL;
		return 0;
	}
	return rc;
}

int af_state_rollout_get(struct af_txn *t, Af__Rollout **ret)
{
	return af_txn_get_msg(t, AF_TABLE_ROLLOUT, ROLLOUT_KEY,
			      sizeof(ROLLOUT_KEY) - 1, &af__rollout__descriptor,
			      (ProtobufCMessage **)ret);
}

int af_state_rollout_put(struct af_txn *t, const Af__Rollout *ro)
{
	return af_txn_put_msg(t, AF_TABLE_ROLLOUT, ROLLOUT_KEY,
			      sizeof(ROLLOUT_KEY) - 1, &ro->base);
}

int af_state_rollout_history_get(struct af_txn *t, Af__RolloutHistory **ret)
{
	return get_opt(t, AF_TABLE_ROLLOUT, ROLLOUT_HISTORY_KEY,
		       sizeof(ROLLOUT_HISTORY_KEY) - 1,
		       &af__rollout_history__descriptor, (void **)ret);
}

int af_state_rollout_history_put(struct af_txn *t, const Af__RolloutHistory *h)
{
	return af_txn_put_msg(t, AF_TABLE_ROLLOUT, ROLLOUT_HISTORY_KEY,
			      sizeof(ROLLOUT_HISTORY_KEY) - 1, &h->base);
}

int af_state_overrides_get(struct af_txn *t, Af__OverrideSet **ret)
{
	return get_opt(t, AF_TABLE_META, OVERRIDES_KEY,
		       sizeof(OVERRIDES_KEY) - 1, &af__override_set__descriptor,
		       (void **)ret);
}

int af_state_overrides_put(struct af_txn *t, const Af__OverrideSet *s)
{
	return af_txn_put_msg(t, AF_TABLE_META, OVERRIDES_KEY,
			      sizeof(OVERRIDES_KEY) - 1, &s->base);
}

int af_state_shadow_get(struct af_txn *t, Af__Shadow **ret)
{
	return get_opt(t, AF_TABLE_ROLLOUT, SHADOW_KEY, sizeof(SHADOW_KEY) - 1,
		       &af__shadow__descriptor, (void **)ret);
}

int af_state_shadow_put(struct af_txn *t, const Af__Shadow *s)
{
	return af_txn_put_msg(t, AF_TABLE_ROLLOUT, SHADOW_KEY,
			      sizeof(SHADOW_KEY) - 1, &s->base);
}

static size_t totals_key(const char *hash, char *out)
{
	return (size_t)snprintf(out, SHADOW_TOTALS_MAX, "%s%.*s", SHADOW_TOTALS,
				AF_HASH_STR_LEN - 1, hash);
}

int af_state_shadow_totals_get(struct af_txn *t, const char *hash,
			       Af__ShadowTotals **ret)
{
	char key[SHADOW_TOTALS_MAX];
	size_t len = totals_key(hash, key);

	return get_opt(t, AF_TABLE_ROLLOUT, key, len,
		       &af__shadow_totals__descriptor, (void **)ret);
}

int af_state_shadow_totals_put(struct af_txn *t, const char *hash,
			       const Af__ShadowTotals *st)
{
	char key[SHADOW_TOTALS_MAX];

	return af_txn_put_msg(t, AF_TABLE_ROLLOUT, key, totals_key(hash, key),
			      &st->base);
}

int af_state_shadow_totals_del(struct af_txn *t, const char *hash)
{
	char key[SHADOW_TOTALS_MAX];
	int rc = af_txn_del(t, AF_TABLE_ROLLOUT, key, totals_key(hash, key));

	return rc == AF_ENOTFOUND ? 0 : rc;
}

int af_state_heads_read(struct af_txn *t, struct af_state_heads *h)
{
	Af__Rollout *ro;
	int rc;

	memset(h, 0, sizeof(*h));
	rc = af_state_rollout_get(t, &ro);
	if (rc == AF_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	h->stable = ro->stable_revision;
	h->canary = ro->canary_revision;
	h->weight = ro->weight;
	protobuf_c_message_free_unpacked(&ro->base, NULL);
	if (h->stable &&
	    (rc = af_state_revision_get(t, h->stable, &h->stable_rev)) != 0)
		return rc;
	if (h->canary &&
	    (rc = af_state_revision_get(t, h->canary, &h->canary_rev)) != 0)
		return rc;
	return 0;
}

void af_state_heads_free(struct af_state_heads *h)
{
	if (h->stable_rev)
		protobuf_c_message_free_unpacked(&h->stable_rev->base, NULL);
	if (h->canary_rev)
		protobuf_c_message_free_unpacked(&h->canary_rev->base, NULL);
}

uint64_t af_state_registry_revision(struct af_txn *t)
{
	return af_txn_meta_u64(t, REGISTRY_REVISION);
}

int af_state_set_registry_revision(struct af_txn *t, uint64_t rev)
{
	return af_txn_set_meta_u64(t, REGISTRY_REVISION, rev);
}

/* ----------------------------------------------------------- showback */

size_t af_showback_key(int64_t day_ms, const char *tenant, const char *cls,
		       const char *model, uint64_t rev, uint8_t *out,
		       size_t len)
{
	size_t tl = strnlen(tenant, 64), cl = strnlen(cls, 64);
	size_t ml = strnlen(model, 64);
	size_t n = SHOWBACK_LEN + 8 + tl + cl + ml + 3 + 8;
	uint8_t *p = out;

	if (n > len)
		return 0;
	memcpy(p, SHOWBACK, SHOWBACK_LEN);
	af_store_key_u64((uint64_t)day_ms, p + SHOWBACK_LEN);
	p += SHOWBACK_LEN + 8;
	memcpy(p, tenant, tl);
	p[tl] = 0;
	p += tl + 1;
	memcpy(p, cls, cl);
	p[cl] = 0;
	p += cl + 1;
	memcpy(p, model, ml);
	p[ml] = 0;
	p += ml + 1;
	af_store_key_u64(rev, p);
	return n;
}

int af_showback_key_parse(const void *key, size_t klen,
			  struct af_showback_key *ret)
{
	const uint8_t *k = key;
	size_t off = SHOWBACK_LEN + 8;

	if (klen < SHOWBACK_LEN + 8 + 3 + 8 ||
	    memcmp(k, SHOWBACK, SHOWBACK_LEN) != 0)
		return AF_ECORRUPT;
	ret->day_ms = (int64_t)af_store_u64_of_key(k + SHOWBACK_LEN);
	for (int p = 0; p < 3; p++) {
		ret->part[p] = (const char *)k + off;
		ret->len[p] = strnlen(ret->part[p], klen - off);
		off += ret->len[p] + 1;
		if (off > klen - 8)
			return AF_ECORRUPT;
	}
	ret->revision = af_store_u64_of_key(k + off);
	ret->nlabels = 0;
	for (off += 8; off < klen;) {
		const char *kv[2];

		for (int i = 0; i < 2; i++) {
			size_t l = strnlen((const char *)k + off, klen - off);

			if (off + l >= klen)
				return AF_ECORRUPT; /* no NUL */
			kv[i] = (const char *)k + off;
			off += l + 1;
		}
		if (ret->nlabels == 4)
			return AF_ECORRUPT;
		ret->label[ret->nlabels][0] = kv[0];
		ret->label[ret->nlabels++][1] = kv[1];
	}
	return 0;
}

int af_usage_iter_days(struct af_txn *t, const char *prefix, const char *end,
		       int64_t since_ms, int64_t until_ms, af_store_iter_fn fn,
		       void *arg)
{
	uint8_t lo[SHOWBACK_LEN + 8], hi[SHOWBACK_LEN + 8];
	size_t hilen = SHOWBACK_LEN;

	memcpy(lo, prefix, SHOWBACK_LEN);
	af_store_key_u64((uint64_t)(since_ms > 0 ? since_ms : 0),
			 lo + SHOWBACK_LEN);
	memcpy(hi, end, SHOWBACK_LEN);
	if (until_ms > 0) {
		memcpy(hi, prefix, SHOWBACK_LEN);
		af_store_key_u64((uint64_t)until_ms, hi + SHOWBACK_LEN);
		hilen = sizeof(hi);
	}
	return af_txn_iter_range(t, AF_TABLE_USAGE, lo, sizeof(lo), hi, hilen,
				 false, fn, arg);
}

int af_showback_iter(struct af_txn *t, int64_t since_ms, int64_t until_ms,
		     af_store_iter_fn fn, void *arg)
{
	return af_usage_iter_days(t, SHOWBACK, SHOWBACK_END, since_ms, until_ms,
				  fn, arg);
}

bool af_state_bundle_stored(struct af_txn *t, const char *hash)
{
	const void *v;
	size_t vlen;

	return af_txn_get(t, AF_TABLE_BUNDLES, hash, strlen(hash), &v, &vlen) ==
	       0;
}
