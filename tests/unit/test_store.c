/* Store: tables, iteration, applied index, map growth, snapshot and restore,
 * snapshot views, cluster check, allocation failures. */
#include "tests/lib/alloc_check.h"
#include "tests/lib/tmpdir.h"
#include "store/store.h"

#include "common/alloc.h"
#include "common/hash.h"
#include "proto/af.pb-c.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

static void setup(void)
{
	af_test_alloc_begin();
	strcpy(tmpdir, "/tmp/af-test-store-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void)
{
	af_alloc_fail_after(-1, 0);
	af_test_rmtree(tmpdir);
	af_test_alloc_end();
}

TestSuite(store, .init = setup, .fini = teardown);

static void path_in(const char *sub, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s", tmpdir, sub);
}

static struct af_store *open_store(const char *sub, const char *cluster,
				   size_t initial, size_t max)
{
	struct af_store_opts o = {.cluster = cluster,
				  .initial_map_size = initial,
				  .max_map_size = max,
				  .nosync = true};
	struct af_store *s = NULL;
	struct af_err err = {{0}};
	char dir[512];
	int rc;

	path_in(sub, dir, sizeof(dir));
	rc = af_store_open(dir, &o, &s, &err);
	cr_assert_eq(rc, 0, "open %s: %s (%s)", dir, af_err_name(rc), err.msg);
	return s;
}

static void hash_of(struct af_store *s, uint8_t out[32])
{
	struct af_err err = {{0}};
	int rc = af_store_state_hash(s, out, &err);

	cr_assert_eq(rc, 0, "state hash: %s", err.msg);
}

/* ---- small write helpers ------------------------------------------------ */

struct kv {
	enum af_table tbl;
	const char *key;
	const char *val;
	uint64_t applied;
};

static int put_kv(struct af_txn *t, void *arg)
{
	const struct kv *kv = arg;
	int rc = af_txn_put(t, kv->tbl, kv->key, strlen(kv->key), kv->val,
			    strlen(kv->val));

	if (rc == 0 && kv->applied != 0)
		rc = af_txn_set_applied(t, kv->applied, 7);
	return rc;
}

static void put_str(struct af_store *s, enum af_table tbl, const char *key,
		    const char *val, uint64_t applied)
{
	struct kv kv = {tbl, key, val, applied};
	struct af_err err = {{0}};
	int rc = af_store_update(s, put_kv, &kv, &err);

	cr_assert_eq(rc, 0, "put: %s", err.msg);
}

/* Writes `n` values of `size` bytes with u64 keys from `first`. */
struct bulk {
	uint64_t first;
	int n;
	size_t size;
};

static int put_bulk(struct af_txn *t, void *arg)
{
	const struct bulk *b = arg;
	uint8_t key[8];
	uint8_t *val = calloc(1, b->size);
	int rc = 0;

	cr_assert_not_null(val);
	for (int i = 0; i < b->n && rc == 0; i++) {
		af_store_key_u64(b->first + (uint64_t)i, key);
		memset(val, i & 0xff, b->size);
		rc = af_txn_put(t, AF_TABLE_USAGE, key, 8, val, b->size);
	}
	if (rc == 0)
		rc = af_txn_set_applied(t, b->first + (uint64_t)b->n, 1);
	free(val);
	return rc;
}

static size_t count_of(struct af_store *s, enum af_table tbl)
{
	struct af_txn *t;
	struct af_err err;
	size_t n;

	cr_assert_eq(af_store_read_begin(s, &t, &err), 0, "%s", err.msg);
	n = af_txn_count(t, tbl);
	af_store_read_end(t);
	return n;
}

static uint64_t applied_of(struct af_store *s)
{
	struct af_txn *t;
	struct af_err err;
	uint64_t v;

	cr_assert_eq(af_store_read_begin(s, &t, &err), 0, "%s", err.msg);
	v = af_txn_applied(t);
	af_store_read_end(t);
	return v;
}

/* ---- tables ------------------------------------------------------------- */

static int del_key(struct af_txn *t, void *arg)
{
	return af_txn_del(t, *(enum af_table *)arg, "k1", 2);
}

Test(store, raw_round_trip_every_table)
{
	struct af_store *s = open_store("db", "c1", 0, 0);
	struct af_err err;

	for (int i = 0; i < AF_TABLE_COUNT; i++) {
		enum af_table tbl = (enum af_table)i;
		char val[64];
		snprintf(val, sizeof(val), "value of %s", af_table_name(tbl));
		put_str(s, tbl, "k1", val, 0);
	}
	cr_assert_str_eq(af_table_name(AF_TABLE_BUNDLES), "bundles");
	cr_assert_str_eq(af_table_name(AF_TABLE_FLEET), "fleet");
	for (int i = 0; i < AF_TABLE_COUNT; i++) {
		enum af_table tbl = (enum af_table)i;
		struct af_txn *t;
		const void *v;
		size_t len;
		char want[64];

		snprintf(want, sizeof(want), "value of %s", af_table_name(tbl));
		cr_assert_eq(af_store_read_begin(s, &t, &err), 0);
		cr_assert_eq(af_txn_get(t, tbl, "k1", 2, &v, &len), 0);
		cr_assert_eq(len, strlen(want));
		cr_assert_eq(memcmp(v, want, len), 0, "table %d", i);
		cr_assert_eq(af_txn_get(t, tbl, "k2", 2, &v, &len),
			     AF_ENOTFOUND);
		af_store_read_end(t);

		cr_assert_eq(af_store_update(s, del_key, &tbl, &err), 0);
		cr_assert_eq(af_store_update(s, del_key, &tbl, &err),
			     AF_ENOTFOUND);
		cr_assert_eq(af_store_read_begin(s, &t, &err), 0);
		cr_assert_eq(af_txn_get(t, tbl, "k1", 2, &v, &len),
			     AF_ENOTFOUND);
		af_store_read_end(t);
	}
	af_store_close(s);
}

struct msg_arg {
	enum af_table tbl;
	const ProtobufCMessage *msg;
};

static int put_msg(struct af_txn *t, void *arg)
{
	struct msg_arg *m = arg;

	return af_txn_put_msg(t, m->tbl, "rev", 3, m->msg);
}

Test(store, protobuf_round_trip_every_table)
{
	struct af_store *s = open_store("db", "c1", 0, 0);
	struct af_err err;

	for (int i = 0; i < AF_TABLE_COUNT; i++) {
		Af__Revision r = AF__REVISION__INIT;
		struct msg_arg m = {(enum af_table)i, &r.base};
		ProtobufCMessage *out = NULL;
		struct af_txn *t;

		r.revision = 40 + (uint64_t)i;
		r.hash = (char *)"sha256:abc";
		r.author = (char *)"alice";
		r.time_ms = 1700000000000;
		r.message = (char *)af_table_name(m.tbl);
		cr_assert_eq(af_store_update(s, put_msg, &m, &err), 0, "%s",
			     err.msg);
		cr_assert_eq(af_store_read_begin(s, &t, &err), 0);
		cr_assert_eq(af_txn_get_msg(t, m.tbl, "rev", 3,
					    &af__revision__descriptor, &out),
			     0);
		Af__Revision *got = (Af__Revision *)out;
		cr_assert_eq(got->revision, 40 + (uint64_t)i);
		cr_assert_str_eq(got->hash, "sha256:abc");
		cr_assert_str_eq(got->author, "alice");
		cr_assert_eq(got->time_ms, 1700000000000);
		cr_assert_str_eq(got->message, af_table_name(m.tbl));
		protobuf_c_message_free_unpacked(out, NULL);
		cr_assert_eq(af_txn_get_msg(t, m.tbl, "nope", 4,
					    &af__revision__descriptor, &out),
			     AF_ENOTFOUND);
		af_store_read_end(t);
	}
	af_store_close(s);
}

Test(store, garbage_is_not_a_message)
{
	struct af_store *s = open_store("db", "c1", 0, 0);
	ProtobufCMessage *out = NULL;
	struct af_txn *t;
	struct af_err err;

	put_str(s, AF_TABLE_BUNDLES, "rev", "\xff\xff\xff\xff", 0);
	cr_assert_eq(af_store_read_begin(s, &t, &err), 0);
	cr_assert_eq(af_txn_get_msg(t, AF_TABLE_BUNDLES, "rev", 3,
				    &af__revision__descriptor, &out),
		     AF_ECORRUPT);
	cr_assert_null(out);
	cr_assert(strstr(af_store_errmsg(s), "bundles") != NULL, "%s",
		  af_store_errmsg(s));
	af_store_read_end(t);
	af_store_close(s);
}

static int put_key_of_len(struct af_txn *t, void *arg)
{
	static uint8_t key[600];
	size_t len = *(size_t *)arg;

	memset(key, 'k', sizeof(key));
	return af_txn_put(t, AF_TABLE_MODELS, key, len, "v", 1);
}

Test(store, key_size_limits)
{
	struct af_store *s = open_store("db", "c1", 0, 0);
	struct af_err err = {{0}};
	size_t len;
	struct af_txn *t;

	len = AF_STORE_MAX_KEY;
	cr_assert_eq(af_store_update(s, put_key_of_len, &len, &err), 0);
	len = AF_STORE_MAX_KEY + 1;
	cr_assert_eq(af_store_update(s, put_key_of_len, &len, &err), AF_EINVAL);
	cr_assert(strstr(err.msg, "put models") != NULL, "%s", err.msg);
	len = 0;
	cr_assert_eq(af_store_update(s, put_key_of_len, &len, &err), AF_EINVAL);
	cr_assert_eq(count_of(s, AF_TABLE_MODELS), 1);

	cr_assert_eq(af_store_read_begin(s, &t, &err), 0);
	cr_assert_eq(af_txn_put(t, AF_TABLE_MODELS, "a", 1, "b", 1), AF_EINVAL,
		     "write on a read transaction");
	af_store_read_end(t);
	af_store_close(s);
}

/* ---- iteration ---------------------------------------------------------- */

struct collect {
	uint64_t keys[64];
	int n;
	int stop_at;
};

static int collect_key(const void *key, size_t klen, const void *val,
		       size_t vlen, void *arg)
{
	struct collect *c = arg;

	(void)val;
	(void)vlen;
	cr_assert_eq(klen, 8);
	c->keys[c->n++] = af_store_u64_of_key(key);
	if (c->stop_at != 0 && c->n == c->stop_at)
		return 42;
	return 0;
}

static int put_shuffled(struct af_txn *t, void *arg)
{
	/* 1, 256, 65536... make byte order and numeric order disagree in
	 * little-endian: big-endian keys must still sort numerically */
	static const uint64_t keys[] = {300, 1,	  65536,      2,
					256, 255, 1ull << 40, 0};
	uint8_t k[8];

	(void)arg;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		af_store_key_u64(keys[i], k);
		int rc = af_txn_put(t, AF_TABLE_AUDIT, k, 8, "x", 1);
		if (rc != 0)
			return rc;
	}
	return 0;
}

Test(store, iteration_order_both_ways)
{
	static const uint64_t want[] = {0,   1,	  2,	 255,
					256, 300, 65536, 1ull << 40};
	struct af_store *s = open_store("db", "c1", 0, 0);
	struct collect c = {.n = 0};
	struct af_txn *t;
	struct af_err err;

	cr_assert_eq(af_store_update(s, put_shuffled, NULL, &err), 0);
	cr_assert_eq(af_store_read_begin(s, &t, &err), 0);
	cr_assert_eq(af_txn_count(t, AF_TABLE_AUDIT), 8);
	cr_assert_eq(af_txn_iter(t, AF_TABLE_AUDIT, false, collect_key, &c), 0);
	cr_assert_eq(c.n, 8);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(c.keys[i], want[i], "forward %d", i);

	memset(&c, 0, sizeof(c));
	cr_assert_eq(af_txn_iter(t, AF_TABLE_AUDIT, true, collect_key, &c), 0);
	cr_assert_eq(c.n, 8);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(c.keys[i], want[7 - i], "reverse %d", i);

	memset(&c, 0, sizeof(c));
	c.stop_at = 3;
	cr_assert_eq(af_txn_iter(t, AF_TABLE_AUDIT, true, collect_key, &c), 42);
	cr_assert_eq(c.n, 3);
	cr_assert_eq(c.keys[2], 300);

	memset(&c, 0, sizeof(c));
	cr_assert_eq(af_txn_iter(t, AF_TABLE_FLEET, false, collect_key, &c), 0);
	cr_assert_eq(c.n, 0);
	af_store_read_end(t);
	af_store_close(s);
}

/* walks [lo, hi) of the shuffled keys; 0 for an open bound */
static int iter_range(struct af_txn *t, uint64_t lo, uint64_t hi, bool reverse,
		      struct collect *c)
{
	uint8_t l[8], h[8];

	memset(c, 0, sizeof(*c));
	af_store_key_u64(lo, l);
	af_store_key_u64(hi, h);
	return af_txn_iter_range(t, AF_TABLE_AUDIT, lo ? l : NULL, 8,
				 hi ? h : NULL, 8, reverse, collect_key, c);
}

Test(store, range_iteration)
{
	struct af_store *s = open_store("db", "c1", 0, 0);
	struct collect c;
	struct af_txn *t;
	struct af_err err;

	cr_assert_eq(af_store_update(s, put_shuffled, NULL, &err), 0);
	cr_assert_eq(af_store_read_begin(s, &t, &err), 0);
	cr_assert_eq(iter_range(t, 2, 300, false, &c), 0); /* 2 255 256 */
	cr_assert_eq(c.n, 3);
	cr_assert_eq(c.keys[0], 2);
	cr_assert_eq(c.keys[2], 256);
	cr_assert_eq(iter_range(t, 2, 300, true, &c), 0); /* 256 255 2 */
	cr_assert_eq(c.n, 3);
	cr_assert_eq(c.keys[0], 256);
	cr_assert_eq(c.keys[2], 2);
	cr_assert_eq(iter_range(t, 0, 256, true, &c),
		     0);      /* below a present key */
	cr_assert_eq(c.n, 4); /* 255 2 1 0 */
	cr_assert_eq(c.keys[0], 255);
	cr_assert_eq(iter_range(t, 0, 257, true, &c),
		     0); /* below an absent key */
	cr_assert_eq(c.keys[0], 256);
	cr_assert_eq(iter_range(t, 0, 1ull << 50, true, &c), 0); /* above all */
	cr_assert_eq(c.n, 8);
	cr_assert_eq(c.keys[0], 1ull << 40);
	cr_assert_eq(iter_range(t, 1000, 0, false, &c), 0); /* open above */
	cr_assert_eq(c.n, 2);
	cr_assert_eq(c.keys[0], 65536);
	cr_assert_eq(iter_range(t, 1, 0, true, &c), 0); /* reverse down to lo */
	cr_assert_eq(c.n, 7);
	cr_assert_eq(c.keys[6], 1);
	cr_assert_eq(iter_range(t, 256, 256, false, &c), 0); /* empty */
	cr_assert_eq(c.n, 0);
	cr_assert_eq(iter_range(t, 0, 0, false, &c), 0);
	cr_assert_eq(c.n, 8);
	memset(&c, 0, sizeof(c));
	c.stop_at = 2;
	cr_assert_eq(af_txn_iter_range(t, AF_TABLE_AUDIT, NULL, 0, NULL, 0,
				       true, collect_key, &c),
		     42);
	cr_assert_eq(c.n, 2);
	af_store_read_end(t);
	af_store_close(s);
}

struct strs {
	char got[16][32];
	int n;
};

static int collect_str(const void *key, size_t klen, const void *val,
		       size_t vlen, void *arg)
{
	struct strs *c = arg;

	(void)val;
	(void)vlen;
	cr_assert_lt(c->n, 16);
	snprintf(c->got[c->n++], 32, "%.*s", (int)klen, (const char *)key);
	return 0;
}

Test(store, prefix_iteration)
{
	static const char *const keys[] = {"a",	 "b/1",		"b/2", "b/3",
					   "b0", "b\xff\xff/x", "c"};
	struct af_store *s = open_store("db", "c1", 0, 0);
	struct strs c = {.n = 0};
	struct af_txn *t;
	struct af_err err;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		put_str(s, AF_TABLE_LEASES, keys[i], "v", 0);
	cr_assert_eq(af_store_read_begin(s, &t, &err), 0);
	cr_assert_eq(af_txn_iter_prefix(t, AF_TABLE_LEASES, "b/", 2, false,
					collect_str, &c),
		     0);
	cr_assert_eq(c.n, 3);
	cr_assert_str_eq(c.got[0], "b/1");
	cr_assert_str_eq(c.got[2], "b/3");

	memset(&c, 0, sizeof(c));
	cr_assert_eq(af_txn_iter_prefix(t, AF_TABLE_LEASES, "b/", 2, true,
					collect_str, &c),
		     0);
	cr_assert_eq(c.n, 3);
	cr_assert_str_eq(c.got[0], "b/3");
	cr_assert_str_eq(c.got[2], "b/1");

	memset(&c, 0, sizeof(c));
	cr_assert_eq(af_txn_iter_prefix(t, AF_TABLE_LEASES, "b\xff\xff", 3,
					true, collect_str, &c),
		     0);
	cr_assert_eq(c.n, 1);
	cr_assert_str_eq(c.got[0], "b\xff\xff/x");

	memset(&c, 0, sizeof(c));
	cr_assert_eq(af_txn_iter_prefix(t, AF_TABLE_LEASES, "zz", 2, true,
					collect_str, &c),
		     0);
	cr_assert_eq(c.n, 0);
	af_store_read_end(t);
	af_store_close(s);
}

/* ---- applied index and meta -------------------------------------------- */

static int change_then_fail(struct af_txn *t, void *arg)
{
	(void)arg;
	cr_assert_eq(af_txn_put(t, AF_TABLE_SPEND, "t1", 2, "100", 3), 0);
	cr_assert_eq(af_txn_set_applied(t, 99, 3), 0);
	cr_assert_eq(af_txn_set_meta_u64(t, "registry_revision", 9), 0);
	return AF_EBUDGET;
}

static int bump_counter(struct af_txn *t, void *arg)
{
	(void)arg;
	cr_assert_eq(af_txn_meta_u64(t, "registry_revision"), 0);
	cr_assert_eq(af_txn_set_meta_u64(t, "registry_revision", 5), 0);
	cr_assert_eq(af_txn_meta_u64(t, "registry_revision"), 5);
	cr_assert_eq(af_txn_set_meta_u64(t, "", 5), AF_EINVAL);
	return af_txn_set_applied(t, 12, 4);
}

Test(store, applied_index_written_with_the_change)
{
	struct af_store *s = open_store("db", "c1", 0, 0);
	struct af_txn *t;
	struct af_err err = {{0}};

	cr_assert_eq(applied_of(s), 0);
	put_str(s, AF_TABLE_SPEND, "t0", "5", 10);
	cr_assert_eq(applied_of(s), 10);

	/* fn failing: neither the change nor the index is visible */
	cr_assert_eq(af_store_update(s, change_then_fail, NULL, &err),
		     AF_EBUDGET);
	cr_assert_eq(applied_of(s), 10);
	cr_assert_eq(count_of(s, AF_TABLE_SPEND), 1);

	cr_assert_eq(af_store_update(s, bump_counter, NULL, &err), 0);
	af_store_close(s);

	/* durable across reopen, together */
	s = open_store("db", "c1", 0, 0);
	cr_assert_eq(af_store_read_begin(s, &t, &err), 0);
	cr_assert_eq(af_txn_applied(t), 12);
	cr_assert_eq(af_txn_applied_term(t), 4);
	cr_assert_eq(af_txn_meta_u64(t, "registry_revision"), 5);
	cr_assert_eq(af_txn_meta_u64(t, "absent"), 0);
	cr_assert_eq(af_txn_count(t, AF_TABLE_SPEND), 1);
	af_store_read_end(t);
	af_store_close(s);
}

Test(store, u64_keys_round_trip)
{
	uint8_t k[8];

	af_store_key_u64(0x0102030405060708ull, k);
	cr_assert_eq(k[0], 1);
	cr_assert_eq(k[7], 8);
	cr_assert_eq(af_store_u64_of_key(k), 0x0102030405060708ull);
}

/* ---- cluster and open ---------------------------------------------------- */

Test(store, other_cluster_refused)
{
	struct af_store_opts o = {.cluster = "beta"};
	struct af_store *s = open_store("db", "alpha", 0, 0), *s2 = NULL;
	struct af_err err = {{0}};
	char dir[512];

	put_str(s, AF_TABLE_MODELS, "m", "1", 1);
	af_store_close(s);
	path_in("db", dir, sizeof(dir));
	cr_assert_eq(af_store_open(dir, &o, &s2, &err), AF_ECLUSTER);
	cr_assert_null(s2);
	cr_assert(strstr(err.msg, "alpha") != NULL, "%s", err.msg);
	s = open_store("db", "alpha", 0, 0);
	cr_assert_eq(count_of(s, AF_TABLE_MODELS), 1);
	af_store_close(s);
}

Test(store, same_dir_twice_refused)
{
	struct af_store_opts o = {.cluster = "c1"};
	struct af_store *s = open_store("db", "c1", 0, 0), *s2 = NULL;
	struct af_err err = {{0}};
	char dir[512];

	path_in("db/.", dir, sizeof(dir));
	cr_assert_eq(af_store_open(dir, &o, &s2, &err), AF_EEXIST);
	cr_assert_null(s2);
	af_store_close(s);
	cr_assert_eq(af_store_open(dir, &o, &s2, &err), 0, "%s", err.msg);
	af_store_close(s2);
	af_store_close(NULL);
}

Test(store, bad_options)
{
	struct af_store_opts o = {.cluster = NULL};
	struct af_store *s = NULL;
	struct af_err err = {{0}};

	cr_assert_eq(af_store_open(tmpdir, &o, &s, &err), AF_EINVAL);
	o.cluster = "";
	cr_assert_eq(af_store_open(tmpdir, &o, &s, &err), AF_EINVAL);
	cr_assert_eq(af_store_open(tmpdir, NULL, &s, &err), AF_EINVAL);
	cr_assert_null(s);
}

/* ---- map growth -----------------------------------------------------------
 */

Test(store, tiny_map_grows)
{
	struct af_store *s = open_store("db", "c1", 64 << 10, 0);
	struct af_err err = {{0}};
	size_t first = af_store_map_size(s);

	cr_assert_leq(first, 64 << 10);
	/* many small transactions: 2 MiB */
	for (int i = 0; i < 64; i++) {
		struct bulk b = {(uint64_t)i * 32, 32, 1024};
		cr_assert_eq(af_store_update(s, put_bulk, &b, &err), 0, "%s",
			     err.msg);
	}
	/* one transaction far larger than the map: 3 MiB */
	struct bulk big = {100000, 768, 4096};
	cr_assert_eq(af_store_update(s, put_bulk, &big, &err), 0, "%s",
		     err.msg);
	cr_assert_gt(af_store_map_size(s), (size_t)4 << 20);
	cr_assert_eq(count_of(s, AF_TABLE_USAGE), 64 * 32 + 768);
	cr_assert_eq(applied_of(s), 100000 + 768);
	af_store_close(s);

	/* reopening with a small initial size keeps the grown file */
	s = open_store("db", "c1", 64 << 10, 0);
	cr_assert_eq(count_of(s, AF_TABLE_USAGE), 64 * 32 + 768);
	cr_assert_gt(af_store_map_size(s), (size_t)4 << 20);
	af_store_close(s);
}

/* fn hiding the map-full code behind its own must still get a retry */
static int put_bulk_own_code(struct af_txn *t, void *arg)
{
	return put_bulk(t, arg) != 0 ? AF_EROLLOUT : 0;
}

Test(store, grows_even_if_fn_rewrites_the_error)
{
	struct af_store *s = open_store("db", "c1", 64 << 10, 0);
	struct af_err err = {{0}};
	struct bulk big = {1, 256, 4096};

	cr_assert_eq(af_store_update(s, put_bulk_own_code, &big, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(count_of(s, AF_TABLE_USAGE), 256);
	af_store_close(s);
}

Test(store, growth_past_max_fails_cleanly)
{
	struct af_store *s = open_store("db", "c1", 64 << 10, 1 << 20);
	struct af_err err = {{0}};
	uint8_t before[32], after[32];
	struct bulk small = {1, 10, 100};
	struct bulk big = {1000, 1024, 4096}; /* 4 MiB */

	cr_assert_eq(af_store_update(s, put_bulk, &small, &err), 0);
	hash_of(s, before);
	cr_assert_eq(af_store_update(s, put_bulk, &big, &err), AF_EMAPFULL);
	cr_assert(strstr(err.msg, "maximum") != NULL, "%s", err.msg);
	cr_assert_leq(af_store_map_size(s), 1 << 20);
	hash_of(s, after);
	cr_assert_eq(memcmp(before, after, 32), 0, "partial commit");
	cr_assert_eq(count_of(s, AF_TABLE_USAGE), 10);
	cr_assert_eq(applied_of(s), 11);

	/* still writable */
	small.first = 50;
	cr_assert_eq(af_store_update(s, put_bulk, &small, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(count_of(s, AF_TABLE_USAGE), 20);
	af_store_close(s);
}

Test(store, no_growth_while_reading)
{
	struct af_store *s = open_store("db", "c1", 64 << 10, 0);
	struct af_err err = {{0}};
	struct bulk big = {1, 512, 4096};
	struct af_txn *t;
	const void *v;
	size_t len;

	put_str(s, AF_TABLE_FLEET, "r1", "up", 0);
	cr_assert_eq(af_store_read_begin(s, &t, &err), 0);
	cr_assert_eq(af_txn_get(t, AF_TABLE_FLEET, "r1", 2, &v, &len), 0);
	cr_assert_eq(af_store_update(s, put_bulk, &big, &err), AF_EMAPFULL);
	cr_assert(strstr(err.msg, "read transaction") != NULL, "%s", err.msg);
	/* the reader's view is untouched */
	cr_assert_eq(len, 2);
	cr_assert_eq(memcmp(v, "up", 2), 0);
	cr_assert_eq(af_txn_count(t, AF_TABLE_USAGE), 0);
	af_store_read_end(t);

	cr_assert_eq(af_store_update(s, put_bulk, &big, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(count_of(s, AF_TABLE_USAGE), 512);
	af_store_close(s);
}

/* ---- snapshot and restore -------------------------------------------------
 */

static void populate(struct af_store *s, int n)
{
	struct af_err err = {{0}};
	struct bulk b = {1, n, 200};

	put_str(s, AF_TABLE_BUNDLES, "sha256:aa", "bundle a", 0);
	put_str(s, AF_TABLE_MODELS, "gpt", "model", 0);
	put_str(s, AF_TABLE_ROLLOUT, "current", "stable=1", 0);
	cr_assert_eq(af_store_update(s, put_bulk, &b, &err), 0, "%s", err.msg);
}

Test(store, snapshot_restore_into_fresh_store)
{
	struct af_store *a = open_store("a", "c1", 0, 0);
	struct af_store *b = open_store("b", "c1", 64 << 10, 0);
	uint8_t ha[32], hb[32], hb0[32];
	struct af_err err = {{0}};
	uint64_t applied = 0;
	size_t len = 0;
	void *buf = NULL;

	populate(a, 2000);
	hash_of(a, ha);
	hash_of(b, hb0);
	cr_assert_neq(memcmp(ha, hb0, 32), 0);
	cr_assert_eq(af_store_snapshot(a, &buf, &len, &applied, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(applied, 2001);
	cr_assert_gt(len, 2000 * 200);

	cr_assert_eq(af_store_restore(b, buf, len, &err), 0, "%s", err.msg);
	hash_of(b, hb);
	cr_assert_eq(memcmp(ha, hb, 32), 0, "restored state differs");
	cr_assert_eq(applied_of(b), 2001);

	/* the restored store is writable and diverges as expected */
	put_str(b, AF_TABLE_AUDIT, "x", "y", 2002);
	put_str(a, AF_TABLE_AUDIT, "x", "y", 2002);
	hash_of(a, ha);
	hash_of(b, hb);
	cr_assert_eq(memcmp(ha, hb, 32), 0);
	af_free(buf);
	af_store_close(a);
	af_store_close(b);

	/* and survives a reopen */
	b = open_store("b", "c1", 0, 0);
	hash_of(b, hb0);
	cr_assert_eq(memcmp(hb0, hb, 32), 0);
	af_store_close(b);
}

Test(store, snapshot_fd_restore_file)
{
	struct af_store *a = open_store("a", "c1", 0, 0);
	struct af_store *b = open_store("b", "c1", 0, 0);
	uint8_t ha[32], hb[32];
	struct af_err err = {{0}};
	char path[512];
	int fd;

	populate(a, 300);
	hash_of(a, ha);
	path_in("snap", path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(af_store_snapshot_fd(a, fd, &err), 0, "%s", err.msg);
	close(fd);
	cr_assert_eq(af_store_restore_file(b, path, &err), 0, "%s", err.msg);
	hash_of(b, hb);
	cr_assert_eq(memcmp(ha, hb, 32), 0);
	cr_assert_eq(af_store_restore_file(b, "/nonexistent/snap", &err),
		     AF_EIO);
	af_store_close(a);
	af_store_close(b);
}

/* Restores that must fail and leave `s` exactly as it was. */
static void assert_intact(struct af_store *s, const uint8_t want[32],
			  const char *what)
{
	uint8_t got[32];
	char dir[512];
	struct stat st;

	hash_of(s, got);
	cr_assert_eq(memcmp(got, want, 32), 0, "%s: state changed", what);
	cr_assert_eq(applied_of(s), 51, "%s", what);
	path_in("live/restore.tmp", dir, sizeof(dir));
	cr_assert_neq(stat(dir, &st), 0, "%s: temp dir left behind", what);
}

static int fail_at_stage(const char *stage, void *arg)
{
	return strcmp(stage, (const char *)arg) == 0 ? AF_EIO : 0;
}

Test(store, failed_restore_leaves_old_state)
{
	struct af_store *live = open_store("live", "c1", 0, 0);
	struct af_store *other = open_store("other", "c2", 0, 0);
	struct af_store *peer = open_store("peer", "c1", 0, 0);
	struct af_err err = {{0}};
	uint8_t want[32];
	uint8_t *good = NULL, *bad = NULL, *foreign = NULL;
	size_t glen, flen;
	uint64_t applied;

	populate(live, 50);
	populate(other, 10);
	populate(peer, 100);
	hash_of(live, want);
	cr_assert_eq(
		af_store_snapshot(peer, (void **)&good, &glen, &applied, &err),
		0);
	cr_assert_eq(af_store_snapshot(other, (void **)&foreign, &flen,
				       &applied, &err),
		     0);

	/* truncated */
	cr_assert_eq(af_store_restore(live, good, glen / 2, &err), AF_ECORRUPT);
	assert_intact(live, want, "truncated");
	cr_assert_eq(af_store_restore(live, good, 10, &err), AF_ECORRUPT);
	assert_intact(live, want, "tiny");
	cr_assert_eq(af_store_restore(live, NULL, 0, &err), AF_ECORRUPT);

	/* a flipped byte in the middle of the copy */
	bad = malloc(glen);
	cr_assert_not_null(bad);
	memcpy(bad, good, glen);
	bad[glen / 3] ^= 0x40;
	cr_assert_eq(af_store_restore(live, bad, glen, &err), AF_ECORRUPT);
	cr_assert(strstr(err.msg, "checksum") != NULL, "%s", err.msg);
	assert_intact(live, want, "corrupt");

	/* another cluster's snapshot */
	cr_assert_eq(af_store_restore(live, foreign, flen, &err), AF_ECLUSTER,
		     "%s", err.msg);
	assert_intact(live, want, "other cluster");

	/* failures injected after the temp copy is written and validated */
	af_store_set_restore_hook(live, fail_at_stage, (void *)"written");
	cr_assert_eq(af_store_restore(live, good, glen, &err), AF_EIO);
	assert_intact(live, want, "after write");
	af_store_set_restore_hook(live, fail_at_stage, (void *)"validated");
	cr_assert_eq(af_store_restore(live, good, glen, &err), AF_EIO);
	assert_intact(live, want, "after validation");
	af_store_set_restore_hook(live, NULL, NULL);

	/* still writable after all that, and a good restore still works */
	put_str(live, AF_TABLE_AUDIT, "a", "b", 52);
	cr_assert_eq(applied_of(live), 52);
	cr_assert_eq(af_store_restore(live, good, glen, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(applied_of(live), 101);

	free(bad);
	af_free(good);
	af_free(foreign);
	af_store_close(live);
	af_store_close(other);
	af_store_close(peer);
}

Test(store, restore_refused_with_reader_open)
{
	struct af_store *s = open_store("db", "c1", 0, 0);
	struct af_err err = {{0}};
	struct af_txn *t;
	uint64_t applied;
	size_t len;
	void *buf;

	populate(s, 5);
	cr_assert_eq(af_store_snapshot(s, &buf, &len, &applied, &err), 0);
	cr_assert_eq(af_store_read_begin(s, &t, &err), 0);
	cr_assert_eq(af_store_restore(s, buf, len, &err), AF_EINVAL);
	af_store_read_end(t);
	cr_assert_eq(af_store_restore(s, buf, len, &err), 0, "%s", err.msg);
	af_free(buf);
	af_store_close(s);
}

Test(store, leftovers_of_interrupted_restore_removed)
{
	struct af_store *s = open_store("db", "c1", 0, 0);
	char path[512];
	struct stat st;
	FILE *f;

	populate(s, 5);
	af_store_close(s);
	/* as if the process died after writing the temp copy */
	path_in("db/restore.tmp", path, sizeof(path));
	cr_assert_eq(mkdir(path, 0700), 0);
	path_in("db/restore.tmp/data.mdb", path, sizeof(path));
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("partial", f);
	fclose(f);

	s = open_store("db", "c1", 0, 0);
	path_in("db/restore.tmp", path, sizeof(path));
	cr_assert_neq(stat(path, &st), 0);
	cr_assert_eq(applied_of(s), 6);
	af_store_close(s);
}

/* ---- allocation failures --------------------------------------------------
 */

/* Runs every allocating store call with the n-th allocation failing. */
static int alloc_round(long n)
{
	struct af_store_opts o = {.cluster = "c1", .nosync = true};
	struct af_store *s = NULL;
	struct af_err err = {{0}};
	ProtobufCMessage *msg = NULL;
	struct af_txn *t = NULL;
	uint8_t h[32];
	uint64_t applied;
	size_t len;
	void *buf = NULL;
	char dir[512];
	int rc;

	path_in("db", dir, sizeof(dir));
	af_alloc_fail_after(n, 0);
	rc = af_store_open(dir, &o, &s, &err);
	if (rc != 0)
		goto out;
	rc = af_store_read_begin(s, &t, &err);
	if (rc != 0)
		goto out;
	rc = af_txn_get_msg(t, AF_TABLE_REVISIONS, "rev", 3,
			    &af__revision__descriptor, &msg);
	if (rc == 0)
		protobuf_c_message_free_unpacked(msg, NULL);
	af_store_read_end(t);
	if (rc != 0)
		goto out;
	rc = af_store_state_hash(s, h, &err);
	if (rc != 0)
		goto out;
	rc = af_store_snapshot(s, &buf, &len, &applied, &err);
	if (rc != 0)
		goto out;
	rc = af_store_restore(s, buf, len, &err);
	af_free(buf);
	if (rc != 0)
		goto out;
	rc = af_store_state_hash(s, h, &err);
out:
	af_alloc_fail_after(-1, 0);
	af_store_close(s);
	cr_assert(rc == 0 || rc == AF_ENOMEM, "round %ld: %s (%s)", n,
		  af_err_name(rc), err.msg);
	return rc;
}

Test(store, allocation_failures)
{
	struct af_store *s = open_store("db", "c1", 0, 0);
	Af__Revision r = AF__REVISION__INIT;
	struct msg_arg m = {AF_TABLE_REVISIONS, &r.base};
	struct af_err err = {{0}};
	uint8_t want[32], got[32];
	long n;

	r.revision = 3;
	r.hash = (char *)"sha256:00";
	r.author = (char *)"bob";
	r.message = (char *)"a message long enough to need its own allocation";
	cr_assert_eq(af_store_update(s, put_msg, &m, &err), 0);
	populate(s, 20);
	hash_of(s, want);
	af_store_close(s);

	for (n = 0; n < 200; n++)
		if (alloc_round(n) == 0)
			break;
	cr_assert_lt(n, 200, "never succeeded");
	cr_assert_gt(n, 3, "too few allocation points were exercised");

	s = open_store("db", "c1", 0, 0);
	hash_of(s, got);
	cr_assert_eq(memcmp(want, got, 32), 0);
	af_store_close(s);
}

/* ---- views: snapshots sharing pages with the live env --------------------
 * The pieces hold the state as of af_store_view_begin while writes,
 * deletes, page reuse and map growth go on, written out by another thread;
 * they restore to the same state hash; damage is refused; one at a time. */

/* Puts (or, with del, deletes) keys first..first+n-1 of `size` bytes,
 * filled with `fill`, and sets the applied index to `applied`. */
struct range {
	uint64_t first;
	int n;
	size_t size;
	int fill;
	bool del;
	uint64_t applied;
};

static int put_range(struct af_txn *t, void *arg)
{
	const struct range *b = arg;
	uint8_t key[8], *val = malloc(b->size);
	int rc = 0;

	cr_assert_not_null(val);
	memset(val, b->fill, b->size);
	for (int i = 0; i < b->n && rc == 0; i++) {
		af_store_key_u64(b->first + (uint64_t)i, key);
		if (b->del)
			rc = af_txn_del(t, AF_TABLE_USAGE, key, 8);
		else
			rc = af_txn_put(t, AF_TABLE_USAGE, key, 8, val,
					b->size);
	}
	if (rc == 0)
		rc = af_txn_set_applied(t, b->applied, 1);
	free(val);
	return rc;
}

static void range(struct af_store *s, struct range b)
{
	struct af_err err = {{0}};

	cr_assert_eq(af_store_update(s, put_range, &b, &err), 0, "%s", err.msg);
}

/* Writes the pieces to a file, as libraft's thread pool does. */
struct writer {
	const char *path;
	const struct af_store_part *parts;
	int rc;
};

static void *write_parts(void *arg)
{
	struct writer *w = arg;
	int fd = open(w->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	w->rc = fd < 0 ? -1 : 0;
	for (int i = 0; i < AF_STORE_VIEW_PARTS && w->rc == 0; i++) {
		const uint8_t *p = w->parts[i].base;
		size_t left = w->parts[i].len;
		/* small writes, so the main thread's writes interleave */
		while (left > 0 && w->rc == 0) {
			size_t n = left < 4096 ? left : 4096;
			if (write(fd, p, n) != (ssize_t)n)
				w->rc = -1;
			p += n;
			left -= n;
			usleep(5);
		}
	}
	if (fd >= 0 && close(fd) != 0)
		w->rc = -1;
	return NULL;
}

static uint8_t *concat(const struct af_store_part *parts, size_t *ret_len)
{
	size_t len = 0, off = 0;
	uint8_t *buf;

	for (int i = 0; i < AF_STORE_VIEW_PARTS; i++)
		len += parts[i].len;
	buf = malloc(len);
	cr_assert_not_null(buf);
	for (int i = 0; i < AF_STORE_VIEW_PARTS; i++) {
		memcpy(buf + off, parts[i].base, parts[i].len);
		off += parts[i].len;
	}
	*ret_len = len;
	return buf;
}

Test(store, view_holds_state_at_begin_while_writes_go_on)
{
	/* a small map, so the writes during the view must grow it */
	struct af_store *a = open_store("a", "c1", 256 << 10, 0);
	struct af_store *b = open_store("b", "c1", 0, 0);
	struct af_store_part parts[AF_STORE_VIEW_PARTS];
	struct af_store_view *v = NULL;
	uint8_t at_begin[32], now[32], restored[32], bytes0[32], bytes1[32];
	struct af_err err = {{0}};
	size_t map0, len;
	uint64_t applied = 0;
	struct writer w;
	pthread_t th;
	char path[512];
	uint8_t *buf;

	range(a, (struct range){1, 600, 300, 1, false, 10});
	/* free pages for the writes below to reuse inside the view's range */
	range(a, (struct range){1, 300, 0, 0, true, 11});
	hash_of(a, at_begin);
	map0 = af_store_map_size(a);

	cr_assert_eq(af_store_view_begin(a, &v, parts, &applied, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(applied, 11);
	buf = concat(parts, &len);
	af_sha256(buf, len, bytes0);
	free(buf);
	path_in("snap", path, sizeof(path));
	w = (struct writer){path, parts, 0};
	cr_assert_eq(pthread_create(&th, NULL, write_parts, &w), 0);
	/* overwrite, delete and add while the pieces are being written */
	for (int i = 0; i < 40; i++) {
		range(a, (struct range){301, 300, 300, 2 + i, false,
					12 + (uint64_t)i});
		range(a, (struct range){1000 + (uint64_t)i * 100, 100, 700, 9,
					false, 100 + (uint64_t)i});
	}
	range(a, (struct range){301, 150, 0, 0, true, 200});
	cr_assert_eq(pthread_join(th, NULL), 0);
	cr_assert_eq(w.rc, 0, "writer failed");
	cr_assert_gt(af_store_map_size(a), map0, "the map did not grow");
	hash_of(a, now);
	cr_assert_neq(memcmp(now, at_begin, 32), 0);

	/* the pieces, read after all those writes, are still the old state,
	 * byte for byte (libraft checksums what it compresses: a reused free
	 * page between reachable ones would fail that checksum at load) */
	buf = concat(parts, &len);
	af_sha256(buf, len, bytes1);
	cr_assert_eq(memcmp(bytes0, bytes1, 32), 0,
		     "the pieces changed while they were being written");
	cr_assert_eq(af_store_restore(b, buf, len, &err), 0, "%s", err.msg);
	hash_of(b, restored);
	cr_assert_eq(memcmp(restored, at_begin, 32), 0,
		     "view differs from the state at its start");
	free(buf);

	/* the file written concurrently restores to the same state */
	af_store_close(b);
	b = open_store("b2", "c1", 0, 0);
	cr_assert_eq(af_store_restore_file(b, path, &err), 0, "%s", err.msg);
	hash_of(b, restored);
	cr_assert_eq(memcmp(restored, at_begin, 32), 0);

	af_store_view_end(v);
	/* and a store restored from a view is writable and reopens */
	range(b, (struct range){5000, 200, 300, 4, false, 300});
	hash_of(b, now);
	af_store_close(b);
	b = open_store("b2", "c1", 0, 0);
	hash_of(b, restored);
	cr_assert_eq(memcmp(restored, now, 32), 0);
	af_store_close(a);
	af_store_close(b);
}

Test(store, view_one_at_a_time_and_no_restore_meanwhile)
{
	struct af_store *a = open_store("a", "c1", 0, 0);
	struct af_store_part parts[AF_STORE_VIEW_PARTS], p2[3];
	struct af_store_view *v = NULL, *v2 = NULL;
	struct af_err err = {{0}};
	uint64_t applied;
	size_t len;
	uint8_t *buf;

	range(a, (struct range){1, 50, 100, 1, false, 5});
	cr_assert_eq(af_store_view_begin(a, &v, parts, &applied, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(af_store_view_begin(a, &v2, p2, &applied, &err),
		     AF_EUNAVAIL);
	cr_assert_null(v2);
	buf = concat(parts, &len);
	cr_assert_eq(af_store_restore(a, buf, len, &err), AF_EINVAL);
	af_store_view_end(v);
	cr_assert_eq(af_store_restore(a, buf, len, &err), 0, "%s", err.msg);
	/* a view may outlive its store: its pieces stay readable */
	cr_assert_eq(af_store_view_begin(a, &v, parts, &applied, &err), 0, "%s",
		     err.msg);
	af_store_close(a);
	free(buf);
	buf = concat(parts, &len);
	af_store_view_end(v);
	a = open_store("c", "c1", 0, 0);
	cr_assert_eq(af_store_restore(a, buf, len, &err), 0, "%s", err.msg);
	free(buf);
	af_store_close(a);
}

/* The view holds no transaction once it has begun: writes while it is open
 * reuse the pages they free, so a map that fits the data twice never has to
 * grow (a view pinning its transaction would keep every page freed since
 * and need ~20 MB here). */
Test(store, view_pins_no_pages)
{
	struct af_store *a = open_store("a", "c1", (size_t)1 << 20, 0);
	struct af_store_part parts[AF_STORE_VIEW_PARTS];
	struct af_store_view *v = NULL;
	struct af_err err = {{0}};
	uint64_t applied;
	size_t before;

	range(a, (struct range){1, 50, 4000, 1, false, 1});
	before = af_store_map_size(a);
	cr_assert_eq(af_store_view_begin(a, &v, parts, &applied, &err), 0, "%s",
		     err.msg);
	for (int i = 0; i < 100; i++)
		range(a, (struct range){1, 50, 4000, 2 + i % 7, false,
					2 + (uint64_t)i});
	cr_assert_eq(af_store_map_size(a), before,
		     "the map grew from %zu to %zu bytes while the view was "
		     "open",
		     before, af_store_map_size(a));
	af_store_view_end(v);
	af_store_close(a);
}

Test(store, view_damaged_pieces_are_refused)
{
	struct af_store *a = open_store("a", "c1", 0, 0);
	struct af_store *b = open_store("b", "c1", 0, 0);
	struct af_store_part parts[AF_STORE_VIEW_PARTS];
	struct af_store_view *v = NULL;
	uint8_t before[32], after[32];
	struct af_err err = {{0}};
	uint64_t applied;
	size_t len;
	uint8_t *buf;

	range(a, (struct range){1, 50, 100, 1, false, 5});
	hash_of(b, before);
	cr_assert_eq(af_store_view_begin(a, &v, parts, &applied, &err), 0, "%s",
		     err.msg);
	buf = concat(parts, &len);
	af_store_view_end(v);

	buf[100] ^= 1; /* in a meta page */
	cr_assert_eq(af_store_restore(b, buf, len, &err), AF_ECORRUPT);
	cr_assert(strstr(err.msg, "checksum") != NULL, "%s", err.msg);
	buf[100] ^= 1;
	/* truncated: the trailer is gone */
	cr_assert_eq(af_store_restore(b, buf, len - 60, &err), AF_ECORRUPT);
	/* a cut in the pages: the length in the trailer no longer fits */
	memmove(buf + parts[0].len, buf + parts[0].len + 4096,
		len - parts[0].len - 4096);
	cr_assert_eq(af_store_restore(b, buf, len - 4096, &err), AF_ECORRUPT);
	hash_of(b, after);
	cr_assert_eq(memcmp(before, after, 32), 0);
	free(buf);
	af_store_close(a);
	af_store_close(b);
}
