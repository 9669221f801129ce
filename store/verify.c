/* Snapshot files checked without a node (integrity, index, state hash),
 * the state hash itself, and writing a snapshot view out with a checksum
 * of every byte. */
#include "store/store_int.h"

#include "common/file.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- state hash -------------------------------------------------------- */

static void hash_field(crypto_hash_sha256_state *h, const void *p, size_t len)
{
	uint8_t n[8];

	af_store_key_u64(len, n);
	crypto_hash_sha256_update(h, n, sizeof(n));
	crypto_hash_sha256_update(h, p, len);
}

/* Every (table, key, value) in table then key order; touches every page. */
static int hash_tables(MDB_txn *txn, const MDB_dbi dbi[AF_TABLE_COUNT],
		       uint8_t out[32], uint64_t *ret_entries,
		       struct af_err *err)
{
	crypto_hash_sha256_state h;
	uint64_t entries = 0;

	crypto_hash_sha256_init(&h);
	for (int i = 0; i < AF_TABLE_COUNT; i++) {
		const char *name = af_table_name((enum af_table)i);
		MDB_cursor *c;
		MDB_val k, v;
		int rc = mdb_cursor_open(txn, dbi[i], &c);

		if (rc != 0)
			return store_mdb_err(err, rc, "state hash: cursor");
		for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
		     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT), entries++) {
			hash_field(&h, name, strlen(name));
			hash_field(&h, k.mv_data, k.mv_size);
			hash_field(&h, v.mv_data, v.mv_size);
		}
		mdb_cursor_close(c);
		if (rc != MDB_NOTFOUND)
			return store_mdb_err(err, rc, "state hash: read table");
	}
	crypto_hash_sha256_final(&h, out);
	if (ret_entries != NULL)
		*ret_entries = entries;
	return 0;
}

int af_store_state_hash(struct af_store *s, uint8_t out[32], struct af_err *err)
{
	struct af_txn *t;
	int rc;

	rc = af_store_read_begin(s, &t, err);
	if (rc != 0)
		return rc;
	rc = hash_tables(t->txn, s->dbi, out, NULL, err);
	af_store_read_end(t);
	return rc;
}

/* ---- verify ------------------------------------------------------------ */

static int meta_str(MDB_txn *txn, MDB_dbi meta, const char *key, MDB_val *ret,
		    struct af_err *err)
{
	MDB_val k = {strlen(key), (void *)(uintptr_t)key};
	int rc = mdb_get(txn, meta, &k, ret);

	if (rc != 0)
		return store_mdb_err(err, rc == MDB_NOTFOUND ? MDB_INVALID : rc,
				     key);
	return 0;
}

/* Reads meta and hashes every table of the opened copy. */
static int verify_tables(MDB_txn *txn, struct af_snapshot_info *info,
			 struct af_err *err)
{
	MDB_dbi dbi[AF_TABLE_COUNT];
	MDB_val v;
	int rc;

	rc = store_open_tables(txn, false, dbi, err);
	if (rc != 0)
		return rc;
	rc = meta_str(txn, dbi[AF_TABLE_META], META_CLUSTER, &v, err);
	if (rc != 0)
		return rc;
	if (v.mv_size == 0 || v.mv_size >= sizeof(info->cluster))
		return af_errf(err, AF_ECORRUPT,
			       "store: verify: cluster name of %zu bytes",
			       v.mv_size);
	memcpy(info->cluster, v.mv_data, v.mv_size);
	info->cluster[v.mv_size] = '\0';
	rc = store_check_meta(txn, dbi[AF_TABLE_META], info->cluster, err);
	if (rc != 0)
		return rc;
	if (meta_str(txn, dbi[AF_TABLE_META], META_APPLIED, &v, NULL) == 0) {
		info->index = af_store_u64_of_key(v.mv_data);
		info->term =
			af_store_u64_of_key((const uint8_t *)v.mv_data + 8);
	}
	return hash_tables(txn, dbi, info->state_hash, &info->entries, err);
}

/* Opens the LMDB copy at the front of path read-only, in place. */
static int verify_copy(const char *path, size_t dlen,
		       struct af_snapshot_info *info, struct af_err *err)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_envinfo ei;
	MDB_stat st;
	int rc;

	rc = mdb_env_create(&env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(env, AF_TABLE_COUNT);
	if (rc == 0)
		rc = mdb_env_open(env, path,
				  MDB_NOTLS | MDB_RDONLY | MDB_NOLOCK |
					  MDB_NOSUBDIR,
				  0400);
	if (rc == 0)
		rc = mdb_env_info(env, &ei);
	if (rc == 0)
		rc = mdb_env_stat(env, &st);
	if (rc != 0) {
		rc = store_mdb_err(err, rc, "verify: open the copy");
		goto out;
	}
	if ((ei.me_last_pgno + 1) > dlen / st.ms_psize) {
		rc = af_errf(err, AF_ECORRUPT,
			     "store: verify: truncated: its last page ends "
			     "past the copy");
		goto out;
	}
	rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
	if (rc != 0) {
		rc = store_mdb_err(err, rc, "verify: begin read");
		goto out;
	}
	rc = verify_tables(txn, info, err);
	mdb_txn_abort(txn);
out:
	mdb_env_close(env);
	return rc;
}

int af_store_verify_file(const char *path, struct af_snapshot_info *ret,
			 struct af_err *err)
{
	struct af_snapshot_info info;
	struct stat st;
	size_t dlen = 0;
	void *map;
	int fd, rc;

	memset(&info, 0, sizeof(info));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return af_errf(err, errno == ENOENT ? AF_ENOTFOUND : AF_EIO,
			       "open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = af_errf(err, AF_EINVAL, "%s: not a regular file", path);
		goto out_close;
	}
	if (st.st_size <= STORE_TRAILER_LEN ||
	    (uint64_t)st.st_size > AF_STORE_MAX_SNAPSHOT) {
		rc = af_errf(err, AF_ECORRUPT,
			     "%s: %lld bytes is not a snapshot size "
			     "(truncated?)",
			     path, (long long)st.st_size);
		goto out_close;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		rc = af_errf(err, AF_EIO, "mmap %s: %s", path, strerror(errno));
		goto out_close;
	}
	rc = store_snapshot_check(map, (size_t)st.st_size, &dlen, err);
	if (rc == 0)
		info.version =
			memcmp((const uint8_t *)map + dlen, "afsnap01", 8) == 0
				? 1
				: 2;
	munmap(map, (size_t)st.st_size);
	if (rc == 0)
		rc = verify_copy(path, dlen, &info, err);
	if (rc != 0) {
		af_err_wrap(err, rc, path);
		goto out_close;
	}
	info.bytes = (uint64_t)st.st_size;
	*ret = info;
out_close:
	close(fd);
	return rc;
}

void af_store_hash_hex(const uint8_t hash[32], char out[72])
{
	memcpy(out, "sha256:", 7);
	sodium_bin2hex(out + 7, 65, hash, 32);
}

/* ---- write a view out -------------------------------------------------- */

int af_store_write_copy(const struct af_store_part *parts, size_t n, int fd,
			struct af_err *err)
{
	crypto_hash_sha256_state h;
	uint8_t digest[32], trailer[STORE_TRAILER_LEN];
	size_t len = 0;

	crypto_hash_sha256_init(&h);
	for (size_t i = 0; i < n; i++) {
		crypto_hash_sha256_update(&h, parts[i].base, parts[i].len);
		if (store_write_all(fd, parts[i].base, parts[i].len) != 0)
			return af_errf(err, AF_EIO, "store: write copy: %s",
				       strerror(errno));
		len += parts[i].len;
	}
	crypto_hash_sha256_final(&h, digest);
	store_snapshot_trailer(digest, len, trailer);
	if (store_write_all(fd, trailer, sizeof(trailer)) != 0)
		return af_errf(err, AF_EIO, "store: write copy: %s",
			       strerror(errno));
	return 0;
}

int af_store_snapshot_peek(const char *path, uint64_t *ret_bytes,
			   struct af_err *err)
{
	uint8_t t[STORE_TRAILER_LEN];
	struct stat st;
	uint64_t dlen;
	ssize_t n;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return af_errf(err, AF_EIO, "open %s: %s", path,
			       strerror(errno));
	if (fstat(fd, &st) != 0 || st.st_size <= STORE_TRAILER_LEN) {
		rc = af_errf(err, AF_ECORRUPT, "%s: too short", path);
		goto out_close;
	}
	n = pread(fd, t, sizeof(t), st.st_size - STORE_TRAILER_LEN);
	if (n != (ssize_t)sizeof(t)) {
		rc = af_errf(err, AF_EIO, "read %s", path);
		goto out_close;
	}
	dlen = (uint64_t)st.st_size - STORE_TRAILER_LEN;
	/* Version 1 holds the copy's length after the magic; version 2 the
	 * length of copy and meta-length field. */
	if (!((memcmp(t, "afsnap01", 8) == 0 &&
	       af_store_u64_of_key(t + 8) == dlen) ||
	      (memcmp(t, "afsnap02", 8) == 0 &&
	       af_store_u64_of_key(t + 8) + 8 == dlen)))
		rc = af_errf(err, AF_ECORRUPT,
			     "%s: trailer does not match its size", path);
	else
		*ret_bytes = (uint64_t)st.st_size;
out_close:
	close(fd);
	return rc;
}
