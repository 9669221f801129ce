/* Snapshots (compacted LMDB copy + trailer), restore by file swap. */
#include "store/store_int.h"

#include "common/alloc.h"
#include "common/file.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Trailer after the LMDB copy: magic, copy length (BE), SHA-256 of copy.
 * Version 2 (a view, af_store_view_begin) puts the length of the hashed
 * prefix (the meta pages) in front: the magic stays TRAILER_LEN bytes from
 * the end in both versions. */
#define TRAILER_MAGIC "afsnap01"
#define TRAILER_LEN STORE_TRAILER_LEN
#define TRAILER2_MAGIC "afsnap02"
#define TRAILER2_LEN (8 + TRAILER_LEN)
#define NUM_METAS 2		       /* LMDB's meta pages */
#define MAX_META_LEN ((size_t)2 << 16) /* two pages of at most 64 KiB */
#define CHUNK ((size_t)1 << 16)

static void trailer_at(const char *magic, const uint8_t digest[32], size_t len,
		       uint8_t out[TRAILER_LEN])
{
	memcpy(out, magic, 8);
	af_store_key_u64(len, out + 8);
	memcpy(out + 16, digest, 32);
}

static void make_trailer(const uint8_t digest[32], size_t len,
			 uint8_t out[TRAILER_LEN])
{
	trailer_at(TRAILER_MAGIC, digest, len, out);
}

int store_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all_at(int fd, void *buf, size_t len, off_t off)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Compacted copy of the env into an anonymous memory file. The applied
 * index is read in a read transaction held across the copy; all writes
 * happen on this thread, so the copy's own transaction sees the same
 * state. */
static int copy_to_memfd(struct af_store *s, int *ret_fd, size_t *ret_len,
			 uint64_t *ret_applied, struct af_err *err)
{
	struct af_txn *t = NULL;
	struct stat st;
	uint64_t applied;
	int fd, rc;

	rc = store_usable(s, err);
	if (rc != 0)
		return rc;
	fd = memfd_create("af-store-snapshot", MFD_CLOEXEC);
	if (fd < 0)
		return af_errf(err, errno == ENOMEM ? AF_ENOMEM : AF_EIO,
			       "store: snapshot: memfd: %s", strerror(errno));
	rc = af_store_read_begin(s, &t, err);
	if (rc != 0)
		goto out_close;
	applied = af_txn_applied(t);
	rc = mdb_env_copyfd2(s->env, fd, MDB_CP_COMPACT);
	af_store_read_end(t);
	if (rc != 0) {
		rc = store_mdb_err(err, rc, "snapshot: copy");
		goto out_close;
	}
	if (fstat(fd, &st) != 0 || st.st_size <= 0) {
		rc = af_errf(err, AF_EIO, "store: snapshot: empty copy");
		goto out_close;
	}
	*ret_fd = fd;
	*ret_len = (size_t)st.st_size;
	*ret_applied = applied;
	return 0;
out_close:
	close(fd);
	return rc;
}

int af_store_snapshot(struct af_store *s, void **ret_buf, size_t *ret_len,
		      uint64_t *ret_applied, struct af_err *err)
{
	uint8_t digest[32];
	uint64_t applied;
	size_t len;
	uint8_t *buf;
	int fd, rc;

	rc = copy_to_memfd(s, &fd, &len, &applied, err);
	if (rc != 0)
		return rc;
	buf = af_malloc(len + TRAILER_LEN);
	if (buf == NULL) {
		rc = af_errf(err, AF_ENOMEM, "store: snapshot: %zu bytes",
			     len + TRAILER_LEN);
		goto out_close;
	}
	if (read_all_at(fd, buf, len, 0) != 0) {
		rc = af_errf(err, AF_EIO, "store: snapshot: read copy: %s",
			     strerror(errno));
		af_free(buf);
		goto out_close;
	}
	crypto_hash_sha256(digest, buf, len);
	make_trailer(digest, len, buf + len);
	*ret_buf = buf;
	*ret_len = len + TRAILER_LEN;
	*ret_applied = applied;
out_close:
	close(fd);
	return rc;
}

/* Streams the memfd copy to fd, hashing it, then the trailer. */
static int stream_copy(int src, size_t len, int fd, struct af_err *err)
{
	crypto_hash_sha256_state h;
	uint8_t digest[32], trailer[TRAILER_LEN];
	uint8_t *chunk;
	size_t off = 0;
	int rc = 0;

	chunk = af_malloc(CHUNK);
	if (chunk == NULL)
		return af_errf(err, AF_ENOMEM, "store: snapshot: no memory");
	crypto_hash_sha256_init(&h);
	while (off < len) {
		size_t n = len - off < CHUNK ? len - off : CHUNK;
		if (read_all_at(src, chunk, n, (off_t)off) != 0) {
			rc = af_errf(err, AF_EIO, "store: snapshot: read: %s",
				     strerror(errno));
			goto out_free;
		}
		crypto_hash_sha256_update(&h, chunk, n);
		if (store_write_all(fd, chunk, n) != 0) {
			rc = af_errf(err, AF_EIO, "store: snapshot: write: %s",
				     strerror(errno));
			goto out_free;
		}
		off += n;
	}
	crypto_hash_sha256_final(&h, digest);
	make_trailer(digest, len, trailer);
	if (store_write_all(fd, trailer, sizeof(trailer)) != 0)
		rc = af_errf(err, AF_EIO, "store: snapshot: write: %s",
			     strerror(errno));
out_free:
	af_free(chunk);
	return rc;
}

int af_store_snapshot_fd(struct af_store *s, int fd, struct af_err *err)
{
	uint64_t applied;
	size_t len;
	int src, rc;

	rc = copy_to_memfd(s, &src, &len, &applied, err);
	if (rc != 0)
		return rc;
	rc = stream_copy(src, len, fd, err);
	close(src);
	return rc;
}

/* ---- views ------------------------------------------------------------ */

struct af_store_view {
	struct af_store *s; /* NULL once the store is closed */
	size_t len;	    /* of the data file's used extent */
	uint8_t *meta;	    /* the meta pages, copied as of the view */
	size_t meta_len;
	uint8_t *data; /* the pages after them, copied as of the view */
	uint8_t trailer[TRAILER2_LEN];
};

/* Maps the first len bytes of the env's data file. */
static int map_data(struct af_store *s, size_t len, void **ret_map,
		    struct af_err *err)
{
	struct stat st;
	mdb_filehandle_t fd;
	void *map;
	int rc;

	rc = mdb_env_get_fd(s->env, &fd);
	if (rc != 0)
		return store_mdb_err(err, rc, "view: data file");
	if (fstat(fd, &st) != 0)
		return af_errf(err, AF_EIO, "store: view: stat: %s",
			       strerror(errno));
	if ((size_t)st.st_size < len)
		return af_errf(err, AF_EIO,
			       "store: view: data file of %lld bytes, its last "
			       "page ends at %zu",
			       (long long)st.st_size, len);
	map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return af_errf(err, errno == ENOMEM ? AF_ENOMEM : AF_EIO,
			       "store: view: mmap: %s", strerror(errno));
	*ret_map = map;
	return 0;
}

/* The length of the used part of the data file and of its meta pages, as
 * of txn (which must be the last committed transaction). */
static int view_extent(struct af_store *s, MDB_txn *txn, size_t *ret_len,
		       size_t *ret_meta_len, struct af_err *err)
{
	MDB_envinfo info;
	MDB_stat st;
	size_t meta_len;
	int rc;

	rc = mdb_env_info(s->env, &info);
	if (rc == 0)
		rc = mdb_env_stat(s->env, &st);
	if (rc != 0)
		return store_mdb_err(err, rc, "view: env info");
	if (info.me_last_txnid != mdb_txn_id(txn))
		return af_errf(err, AF_EUNAVAIL,
			       "store: view: a write is in progress; retry");
	meta_len = (size_t)st.ms_psize * NUM_METAS;
	if (meta_len > MAX_META_LEN || info.me_last_pgno < NUM_METAS)
		return af_errf(err, AF_EIO,
			       "store: view: unexpected layout (page size %u, "
			       "last page %zu)",
			       st.ms_psize, (size_t)info.me_last_pgno);
	*ret_len = ((size_t)info.me_last_pgno + 1) * st.ms_psize;
	*ret_meta_len = meta_len;
	return 0;
}

static void view_free(struct af_store_view *v)
{
	af_free(v->meta);
	af_free(v->data);
	af_free(v);
}

/* Copies into v what a read transaction reaches, through a mapping of the
 * data file, then releases both: the copies are all the view needs, and a
 * transaction held while libraft writes the pieces out would keep LMDB
 * from reusing any page freed meanwhile. */
static int view_copy(const void *map, size_t len, size_t meta_len,
		     struct af_store_view *v, struct af_err *err)
{
	uint8_t digest[32];

	v->meta = af_malloc(meta_len);
	v->data = af_malloc(len - meta_len);
	if (v->meta == NULL || v->data == NULL)
		return af_errf(err, AF_ENOMEM, "store: view: no memory");
	/* The meta pages (the next commit rewrites one of them) and the
	 * others: the transaction keeps every page it reaches intact, but
	 * not the free pages between them, which later commits reuse. A copy
	 * is a memcpy of the used extent (a few ms for tens of MB), not a
	 * compaction. */
	memcpy(v->meta, map, meta_len);
	memcpy(v->data, (const uint8_t *)map + meta_len, len - meta_len);
	v->len = len;
	v->meta_len = meta_len;
	crypto_hash_sha256(digest, v->meta, meta_len);
	af_store_key_u64(meta_len, v->trailer);
	trailer_at(TRAILER2_MAGIC, digest, len, v->trailer + 8);
	return 0;
}

static int view_open(struct af_store *s, struct af_store_view *v,
		     uint64_t *ret_applied, struct af_err *err)
{
	struct af_txn t = {.s = s};
	size_t len = 0, meta_len = 0;
	void *map = NULL;
	MDB_txn *txn;
	int rc;

	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0)
		return store_mdb_err(err, rc, "view: begin read");
	rc = view_extent(s, txn, &len, &meta_len, err);
	if (rc == 0)
		rc = map_data(s, len, &map, err);
	if (rc == 0)
		rc = view_copy(map, len, meta_len, v, err);
	if (rc == 0) {
		t.txn = txn;
		*ret_applied = af_txn_applied(&t);
	}
	if (map != NULL)
		munmap(map, len);
	mdb_txn_abort(txn);
	return rc;
}

int af_store_view_begin(struct af_store *s, struct af_store_view **ret_view,
			struct af_store_part parts[AF_STORE_VIEW_PARTS],
			uint64_t *ret_applied, struct af_err *err)
{
	struct af_store_view *v;
	uint64_t applied = 0;
	int rc;

	rc = store_usable(s, err);
	if (rc != 0)
		return rc;
	if (s->in_update)
		return af_errf(err, AF_EINVAL, "store: view inside an update");
	if (s->view != NULL)
		return af_errf(err, AF_EUNAVAIL,
			       "store: a snapshot view is already open");
	v = af_calloc(1, sizeof(*v));
	if (v == NULL)
		return af_errf(err, AF_ENOMEM, "store: view: no memory");
	rc = view_open(s, v, &applied, err);
	if (rc != 0) {
		view_free(v);
		return rc;
	}
	v->s = s;
	s->view = v;
	parts[0].base = v->meta;
	parts[0].len = v->meta_len;
	parts[1].base = v->data;
	parts[1].len = v->len - v->meta_len;
	parts[2].base = v->trailer;
	parts[2].len = sizeof(v->trailer);
	*ret_view = v;
	*ret_applied = applied;
	return 0;
}

void af_store_view_end(struct af_store_view *v)
{
	if (v == NULL)
		return;
	if (v->s != NULL)
		v->s->view = NULL;
	view_free(v);
}

void af_store_view_take(struct af_store_view *v, uint8_t **ret_meta,
			uint8_t **ret_data)
{
	*ret_meta = v->meta;
	*ret_data = v->data;
	v->meta = NULL;
	v->data = NULL;
	af_store_view_end(v);
}

void store_views_close(struct af_store *s)
{
	if (s->view == NULL)
		return;
	s->view->s = NULL;
	s->view = NULL;
}

/* ---- restore ----------------------------------------------------------- */

/* Version 2: the digest covers the meta pages, whose length comes first. */
static int check_trailer2(const uint8_t *p, size_t len, size_t *ret_len,
			  struct af_err *err)
{
	uint8_t digest[32];
	size_t dlen, meta_len;

	if (len <= TRAILER2_LEN)
		return af_errf(err, AF_ECORRUPT,
			       "store: snapshot: %zu bytes is too short "
			       "(truncated?)",
			       len);
	dlen = len - TRAILER2_LEN;
	meta_len = (size_t)af_store_u64_of_key(p + dlen);
	if (af_store_u64_of_key(p + dlen + 16) != dlen)
		return af_errf(err, AF_ECORRUPT,
			       "store: snapshot: length mismatch (truncated "
			       "or extended?)");
	if (meta_len == 0 || meta_len > MAX_META_LEN || meta_len >= dlen)
		return af_errf(err, AF_ECORRUPT,
			       "store: snapshot: bad meta length %zu",
			       meta_len);
	crypto_hash_sha256(digest, p, meta_len);
	if (sodium_memcmp(digest, p + dlen + 24, 32) != 0)
		return af_errf(err, AF_ECORRUPT,
			       "store: snapshot: checksum mismatch (the file "
			       "is damaged)");
	*ret_len = dlen;
	return 0;
}

/* Checks the trailer (either version); *ret_len is the length of the LMDB
 * copy. */
static int check_trailer(const void *buf, size_t len, size_t *ret_len,
			 struct af_err *err)
{
	const uint8_t *p = buf;
	uint8_t digest[32];
	size_t dlen = 0;

	if (buf == NULL || len <= TRAILER_LEN)
		return af_errf(err, AF_ECORRUPT,
			       "store: snapshot: %zu bytes is too short "
			       "(truncated?)",
			       len);
	dlen = len - TRAILER_LEN;
	if (memcmp(p + dlen, TRAILER2_MAGIC, 8) == 0)
		return check_trailer2(p, len, ret_len, err);
	if (memcmp(p + dlen, TRAILER_MAGIC, 8) != 0)
		return af_errf(err, AF_ECORRUPT,
			       "store: snapshot: not a snapshot (no trailer; "
			       "truncated?)");
	if (af_store_u64_of_key(p + dlen + 8) != dlen)
		return af_errf(err, AF_ECORRUPT,
			       "store: snapshot: length mismatch (truncated "
			       "or extended?)");
	crypto_hash_sha256(digest, p, dlen);
	if (sodium_memcmp(digest, p + dlen + 16, 32) != 0)
		return af_errf(err, AF_ECORRUPT,
			       "store: snapshot: checksum mismatch (the file "
			       "is damaged)");
	*ret_len = dlen;
	return 0;
}

static void restore_path(const struct af_store *s, const char *file, char *out,
			 size_t outlen)
{
	if (file == NULL)
		snprintf(out, outlen, "%s/%s", s->dir, STORE_RESTORE_DIR);
	else
		snprintf(out, outlen, "%s/%s/%s", s->dir, STORE_RESTORE_DIR,
			 file);
}

static void remove_temp(const struct af_store *s)
{
	char path[4096];

	restore_path(s, STORE_DATA_FILE, path, sizeof(path));
	unlink(path);
	restore_path(s, STORE_LOCK_FILE, path, sizeof(path));
	unlink(path);
	restore_path(s, NULL, path, sizeof(path));
	rmdir(path);
}

/* Writes the copy into <dir>/restore.tmp/data.mdb and syncs it. */
static int write_temp(const struct af_store *s, const void *buf, size_t len,
		      struct af_err *err)
{
	char path[4096];
	int fd;

	restore_path(s, NULL, path, sizeof(path));
	if (mkdir(path, 0700) != 0)
		return af_errf(err, AF_EIO, "store: restore: mkdir %s: %s",
			       path, strerror(errno));
	restore_path(s, STORE_DATA_FILE, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return af_errf(err, AF_EIO, "store: restore: create %s: %s",
			       path, strerror(errno));
	if (store_write_all(fd, buf, len) != 0 || fsync(fd) != 0) {
		int e = errno;
		close(fd);
		return af_errf(err, AF_EIO, "store: restore: write %s: %s",
			       path, strerror(e));
	}
	if (close(fd) != 0)
		return af_errf(err, AF_EIO, "store: restore: close %s: %s",
			       path, strerror(errno));
	restore_path(s, NULL, path, sizeof(path));
	if (af_fsync_dir(path) != 0)
		return af_errf(err, AF_EIO, "store: restore: fsync %s", path);
	return 0;
}

/* Walks every entry of every table (touches every page). */
static int walk_tables(MDB_txn *txn, const MDB_dbi dbi[AF_TABLE_COUNT],
		       struct af_err *err)
{
	for (int i = 0; i < AF_TABLE_COUNT; i++) {
		MDB_cursor *c;
		MDB_val k, v;
		int rc = mdb_cursor_open(txn, dbi[i], &c);
		if (rc != 0)
			return store_mdb_err(err, rc, "restore: open cursor");
		rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
		while (rc == 0)
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
		mdb_cursor_close(c);
		if (rc != MDB_NOTFOUND)
			return store_mdb_err(err, rc, "restore: read table");
	}
	return 0;
}

/* Opens the temp copy read-only and checks it is a store of our cluster
 * whose meta and tables read back. */
static int validate_temp(const struct af_store *s, size_t len,
			 struct af_err *err)
{
	MDB_dbi dbi[AF_TABLE_COUNT];
	char path[4096];
	MDB_env *env;
	MDB_txn *txn;
	MDB_envinfo info;
	MDB_stat st;
	int rc;

	restore_path(s, NULL, path, sizeof(path));
	rc = store_env_open(path, len, MDB_RDONLY, &env, err);
	if (rc != 0)
		return rc;
	rc = mdb_env_info(env, &info);
	if (rc == 0)
		rc = mdb_env_stat(env, &st);
	if (rc != 0) {
		rc = store_mdb_err(err, rc, "restore: env info");
		goto out_close_env;
	}
	if ((info.me_last_pgno + 1) > len / st.ms_psize) {
		rc = af_errf(err, AF_ECORRUPT,
			     "store: restore: snapshot truncated");
		goto out_close_env;
	}
	rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
	if (rc != 0) {
		rc = store_mdb_err(err, rc, "restore: begin read");
		goto out_close_env;
	}
	rc = store_open_tables(txn, false, dbi, err);
	if (rc == 0)
		rc = store_check_meta(txn, dbi[AF_TABLE_META], s->cluster, err);
	if (rc == 0)
		rc = walk_tables(txn, dbi, err);
	mdb_txn_abort(txn);
out_close_env:
	mdb_env_close(env);
	return rc;
}

static int run_hook(struct af_store *s, const char *stage, struct af_err *err)
{
	int rc;

	if (s->restore_hook == NULL)
		return 0;
	rc = s->restore_hook(stage, s->restore_hook_arg);
	if (rc != 0)
		return af_errf(err, rc, "store: restore: failed at stage %s",
			       stage);
	return 0;
}

/* Everything up to (excluding) the rename; the live env is untouched. */
static int prepare_restore(struct af_store *s, const void *buf, size_t len,
			   struct af_err *err)
{
	size_t dlen = 0;
	int rc;

	rc = check_trailer(buf, len, &dlen, err);
	if (rc != 0)
		return rc;
	remove_temp(s);
	rc = write_temp(s, buf, dlen, err);
	if (rc == 0)
		rc = run_hook(s, "written", err);
	if (rc == 0)
		rc = validate_temp(s, dlen, err);
	if (rc == 0)
		rc = run_hook(s, "validated", err);
	return rc;
}

/* Swaps the live env for the file now in place; rc: the error so far. */
static int reopen(struct af_store *s, int rc, struct af_err *err)
{
	int rc2;

	mdb_env_close(s->env);
	s->env = NULL;
	rc2 = store_env_attach(s, err);
	return rc != 0 ? rc : rc2;
}

int af_store_restore(struct af_store *s, const void *buf, size_t len,
		     struct af_err *err)
{
	char from[4096], to[4096];
	int rc;

	rc = store_usable(s, err);
	if (rc != 0)
		return rc;
	if (s->readers > 0 || s->in_update || s->view != NULL)
		return af_errf(err, AF_EINVAL,
			       "store: restore with a transaction open");
	rc = prepare_restore(s, buf, len, err);
	if (rc != 0)
		goto out_remove_temp;
	restore_path(s, STORE_DATA_FILE, from, sizeof(from));
	snprintf(to, sizeof(to), "%s/%s", s->dir, STORE_DATA_FILE);
	/* The live env keeps the old file mapped until it closes below. */
	if (rename(from, to) != 0) {
		rc = af_errf(err, AF_EIO, "store: restore: rename: %s",
			     strerror(errno));
		goto out_remove_temp;
	}
	if (af_fsync_dir(s->dir) != 0)
		rc = af_errf(err, AF_EIO, "store: restore: fsync %s", s->dir);
	remove_temp(s);
	return reopen(s, rc, err);
out_remove_temp:
	remove_temp(s);
	return rc;
}

int af_store_restore_file(struct af_store *s, const char *path,
			  struct af_err *err)
{
	struct stat st;
	void *map;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return af_errf(err, AF_EIO, "store: restore: open %s: %s", path,
			       strerror(errno));
	if (fstat(fd, &st) != 0) {
		rc = af_errf(err, AF_EIO, "store: restore: stat %s: %s", path,
			     strerror(errno));
		goto out_close;
	}
	if (st.st_size <= TRAILER_LEN) {
		rc = af_errf(err, AF_ECORRUPT,
			     "store: restore: %s is too short", path);
		goto out_close;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		rc = af_errf(err, AF_EIO, "store: restore: mmap %s: %s", path,
			     strerror(errno));
		goto out_close;
	}
	rc = af_store_restore(s, map, (size_t)st.st_size, err);
	munmap(map, (size_t)st.st_size);
out_close:
	close(fd);
	return rc;
}

/* ---- for verify.c ---------------------------------------------------- */

int store_snapshot_check(const void *buf, size_t len, size_t *ret_len,
			 struct af_err *err)
{
	return check_trailer(buf, len, ret_len, err);
}

void store_snapshot_trailer(const uint8_t digest[32], size_t len,
			    uint8_t out[STORE_TRAILER_LEN])
{
	make_trailer(digest, len, out);
}
