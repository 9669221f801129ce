/* Table access inside a transaction: get, put, delete, iterate, meta. */
#include "store/store_int.h"

#include "common/alloc.h"
#include "proto/alloc.h"

#include <stdio.h>
#include <string.h>

#define MAX_COUNTER_NAME 200

/* Records "store: <verb> <table>: <mdb message>" in the store. */
static int txn_fail(struct af_txn *t, int rc, const char *verb,
		    enum af_table tbl)
{
	if (rc == MDB_MAP_FULL)
		t->map_full = true;
	return af_errf(&t->s->err, store_mdb_code(rc), "store: %s %s: %s", verb,
		       af_table_name(tbl), mdb_strerror(rc));
}

static int check_args(struct af_txn *t, enum af_table tbl, size_t klen,
		      const char *verb, bool write)
{
	if ((unsigned)tbl >= AF_TABLE_COUNT)
		return af_errf(&t->s->err, AF_EINVAL, "store: %s: bad table %d",
			       verb, (int)tbl);
	if (klen == 0 || klen > AF_STORE_MAX_KEY)
		return af_errf(&t->s->err, AF_EINVAL,
			       "store: %s %s: key of %zu bytes (1..%d)", verb,
			       af_table_name(tbl), klen, AF_STORE_MAX_KEY);
	if (write && !t->write)
		return af_errf(&t->s->err, AF_EINVAL,
			       "store: %s %s: read-only transaction", verb,
			       af_table_name(tbl));
	return 0;
}

int af_txn_get(struct af_txn *t, enum af_table tbl, const void *key,
	       size_t klen, const void **ret_val, size_t *ret_len)
{
	MDB_val k = {klen, (void *)(uintptr_t)key}, v;
	int rc;

	rc = check_args(t, tbl, klen, "get", false);
	if (rc != 0)
		return rc;
	rc = mdb_get(t->txn, t->s->dbi[tbl], &k, &v);
	if (rc == MDB_NOTFOUND)
		return AF_ENOTFOUND;
	if (rc != 0)
		return txn_fail(t, rc, "get", tbl);
	*ret_val = v.mv_data;
	*ret_len = v.mv_size;
	return 0;
}

int af_txn_put(struct af_txn *t, enum af_table tbl, const void *key,
	       size_t klen, const void *val, size_t vlen)
{
	MDB_val k = {klen, (void *)(uintptr_t)key};
	MDB_val v = {vlen, (void *)(uintptr_t)val};
	int rc;

	rc = check_args(t, tbl, klen, "put", true);
	if (rc != 0)
		return rc;
	rc = mdb_put(t->txn, t->s->dbi[tbl], &k, &v, 0);
	if (rc != 0)
		return txn_fail(t, rc, "put", tbl);
	return 0;
}

int af_txn_del(struct af_txn *t, enum af_table tbl, const void *key,
	       size_t klen)
{
	MDB_val k = {klen, (void *)(uintptr_t)key};
	int rc;

	rc = check_args(t, tbl, klen, "del", true);
	if (rc != 0)
		return rc;
	rc = mdb_del(t->txn, t->s->dbi[tbl], &k, NULL);
	if (rc == MDB_NOTFOUND)
		return AF_ENOTFOUND;
	if (rc != 0)
		return txn_fail(t, rc, "del", tbl);
	return 0;
}

int af_txn_put_msg(struct af_txn *t, enum af_table tbl, const void *key,
		   size_t klen, const ProtobufCMessage *msg)
{
	MDB_val k = {klen, (void *)(uintptr_t)key}, v;
	size_t packed;
	int rc;

	rc = check_args(t, tbl, klen, "put", true);
	if (rc != 0)
		return rc;
	v.mv_size = protobuf_c_message_get_packed_size(msg);
	v.mv_data = NULL;
	/* MDB_RESERVE: LMDB hands out the space, the message packs in place */
	rc = mdb_put(t->txn, t->s->dbi[tbl], &k, &v, MDB_RESERVE);
	if (rc != 0)
		return txn_fail(t, rc, "put", tbl);
	packed = protobuf_c_message_pack(msg, v.mv_data);
	if (packed != v.mv_size)
		return af_errf(&t->s->err, AF_EINVAL,
			       "store: put %s: packed %zu bytes, expected %zu",
			       af_table_name(tbl), packed, v.mv_size);
	return 0;
}

int af_txn_get_msg(struct af_txn *t, enum af_table tbl, const void *key,
		   size_t klen, const ProtobufCMessageDescriptor *desc,
		   ProtobufCMessage **ret)
{
	const void *val;
	size_t len;
	int rc;

	rc = af_txn_get(t, tbl, key, klen, &val, &len);
	if (rc != 0)
		return rc;
	rc = af_pb_unpack(desc, len, val, ret);
	if (rc == AF_ENOMEM)
		return af_errf(&t->s->err, AF_ENOMEM,
			       "store: get %s: out of memory",
			       af_table_name(tbl));
	if (rc != 0)
		return af_errf(&t->s->err, AF_ECORRUPT,
			       "store: get %s: not a valid %s message",
			       af_table_name(tbl), desc->name);
	return 0;
}

/* -1, 0, 1 as LMDB's default key order (memcmp, then the shorter first). */
static int key_cmp(const MDB_val *k, const void *b, size_t blen)
{
	size_t n = k->mv_size < blen ? k->mv_size : blen;
	int c = n ? memcmp(k->mv_data, b, n) : 0;

	if (c != 0)
		return c;
	return k->mv_size < blen ? -1 : k->mv_size > blen;
}

/* Positions the cursor on the first entry of a range walk. */
static int range_first(MDB_cursor *c, MDB_val *k, MDB_val *v, const void *lo,
		       size_t lolen, const void *hi, size_t hilen, bool reverse)
{
	const void *at = reverse ? hi : lo;
	size_t alen = reverse ? hilen : lolen;
	int rc;

	if (alen == 0)
		return mdb_cursor_get(c, k, v, reverse ? MDB_LAST : MDB_FIRST);
	k->mv_size = alen;
	k->mv_data = (void *)(uintptr_t)at;
	rc = mdb_cursor_get(c, k, v, MDB_SET_RANGE);
	if (!reverse)
		return rc;
	/* reverse: the entry just below hi */
	if (rc == MDB_NOTFOUND)
		return mdb_cursor_get(c, k, v, MDB_LAST);
	if (rc != 0)
		return rc;
	return mdb_cursor_get(c, k, v, MDB_PREV);
}

int af_txn_iter_range(struct af_txn *t, enum af_table tbl, const void *lo,
		      size_t lolen, const void *hi, size_t hilen, bool reverse,
		      af_store_iter_fn fn, void *arg)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	if (lo == NULL)
		lolen = 0;
	if (hi == NULL)
		hilen = 0;
	if ((unsigned)tbl >= AF_TABLE_COUNT || lolen > AF_STORE_MAX_KEY ||
	    hilen > AF_STORE_MAX_KEY)
		return af_errf(&t->s->err, AF_EINVAL,
			       "store: iter: bad table or bound");
	rc = mdb_cursor_open(t->txn, t->s->dbi[tbl], &c);
	if (rc != 0)
		return txn_fail(t, rc, "iter", tbl);
	rc = range_first(c, &k, &v, lo, lolen, hi, hilen, reverse);
	while (rc == 0) {
		if ((hilen && key_cmp(&k, hi, hilen) >= 0) ||
		    (lolen && key_cmp(&k, lo, lolen) < 0))
			break;
		rc = fn(k.mv_data, k.mv_size, v.mv_data, v.mv_size, arg);
		if (rc != 0)
			goto out_close;
		rc = mdb_cursor_get(c, &k, &v, reverse ? MDB_PREV : MDB_NEXT);
	}
	if (rc == MDB_NOTFOUND || rc == 0)
		rc = 0;
	else
		rc = txn_fail(t, rc, "iter", tbl);
out_close:
	mdb_cursor_close(c);
	return rc;
}

/* A prefix walk is a range walk: the keys with the prefix are exactly
 * [prefix, upper), upper being the prefix with its trailing 0xff bytes
 * dropped and the last byte left raised by one (no upper bound when every
 * byte is 0xff). */
int af_txn_iter_prefix(struct af_txn *t, enum af_table tbl, const void *prefix,
		       size_t plen, bool reverse, af_store_iter_fn fn,
		       void *arg)
{
	uint8_t upper[AF_STORE_MAX_KEY];
	size_t ulen = plen;

	if (plen > AF_STORE_MAX_KEY)
		return af_errf(&t->s->err, AF_EINVAL,
			       "store: iter: bad table or prefix");
	if (plen > 0)
		memcpy(upper, prefix, plen);
	while (ulen > 0 && upper[ulen - 1] == 0xff)
		ulen--;
	if (ulen > 0)
		upper[ulen - 1]++;
	return af_txn_iter_range(t, tbl, plen ? prefix : NULL, plen,
				 ulen ? upper : NULL, ulen, reverse, fn, arg);
}

int af_txn_iter(struct af_txn *t, enum af_table tbl, bool reverse,
		af_store_iter_fn fn, void *arg)
{
	return af_txn_iter_range(t, tbl, NULL, 0, NULL, 0, reverse, fn, arg);
}

size_t af_txn_count(struct af_txn *t, enum af_table tbl)
{
	MDB_stat st;

	if ((unsigned)tbl >= AF_TABLE_COUNT)
		return 0;
	if (mdb_stat(t->txn, t->s->dbi[tbl], &st) != 0)
		return 0;
	return st.ms_entries;
}

void af_store_key_u64(uint64_t v, uint8_t out[8])
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

uint64_t af_store_u64_of_key(const void *key)
{
	const uint8_t *p = key;
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

int af_txn_set_applied(struct af_txn *t, uint64_t index, uint64_t term)
{
	uint8_t val[16];

	af_store_key_u64(index, val);
	af_store_key_u64(term, val + 8);
	return af_txn_put(t, AF_TABLE_META, META_APPLIED, strlen(META_APPLIED),
			  val, sizeof(val));
}

static uint64_t applied_field(struct af_txn *t, size_t off)
{
	const void *val;
	size_t len;

	if (af_txn_get(t, AF_TABLE_META, META_APPLIED, strlen(META_APPLIED),
		       &val, &len) != 0 ||
	    len != 16)
		return 0;
	return af_store_u64_of_key((const uint8_t *)val + off);
}

uint64_t af_txn_applied(struct af_txn *t)
{
	return applied_field(t, 0);
}

uint64_t af_txn_applied_term(struct af_txn *t)
{
	return applied_field(t, 8);
}

static int counter_key(const char *name, char out[AF_STORE_MAX_KEY],
		       size_t *ret_len)
{
	size_t nlen;

	if (name == NULL)
		return AF_EINVAL;
	nlen = strnlen(name, MAX_COUNTER_NAME + 1);
	if (nlen == 0 || nlen > MAX_COUNTER_NAME)
		return AF_EINVAL;
	memcpy(out, META_COUNTER_PREFIX, strlen(META_COUNTER_PREFIX));
	memcpy(out + strlen(META_COUNTER_PREFIX), name, nlen);
	*ret_len = strlen(META_COUNTER_PREFIX) + nlen;
	return 0;
}

int af_txn_set_meta_u64(struct af_txn *t, const char *name, uint64_t v)
{
	char key[AF_STORE_MAX_KEY];
	uint8_t val[8];
	size_t klen;

	if (counter_key(name, key, &klen) != 0)
		return af_errf(&t->s->err, AF_EINVAL,
			       "store: meta counter: bad name");
	af_store_key_u64(v, val);
	return af_txn_put(t, AF_TABLE_META, key, klen, val, sizeof(val));
}

uint64_t af_txn_meta_u64(struct af_txn *t, const char *name)
{
	char key[AF_STORE_MAX_KEY];
	const void *val;
	size_t klen, len;

	if (counter_key(name, key, &klen) != 0)
		return 0;
	if (af_txn_get(t, AF_TABLE_META, key, klen, &val, &len) != 0 ||
	    len != 8)
		return 0;
	return af_store_u64_of_key(val);
}
