/*
 * af store: the replicated state of one controld node, kept in one LMDB
 * environment with one named table per concern. This module is the only code
 * that touches LMDB; MDB_* codes never leave it.
 *
 * Threading: a store and every transaction on it are used from one thread
 * (controld's loop thread). Nothing here takes a lock except the
 * process-wide registry that refuses opening the same directory twice.
 * Several stores (one per directory) may live in one process.
 *
 * Errors: functions return 0 or a negative AF_E* code. Functions taking a
 * `struct af_err *` write context there ("store: put bundles: ..."); the
 * af_txn_* functions, which take none, record their context in the store,
 * readable with af_store_errmsg().
 *
 * Durability: with `nosync` a crash may lose recent commits (never corrupt
 * the file); the Raft log plus snapshot rebuild them, so the store is a
 * rebuildable view of them.
 */
#ifndef AF_STORE_STORE_H
#define AF_STORE_STORE_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

enum af_table {
	AF_TABLE_META,
	AF_TABLE_BUNDLES,
	AF_TABLE_REVISIONS,
	AF_TABLE_ROLLOUT,
	AF_TABLE_MODELS,
	AF_TABLE_AUDIT,
	AF_TABLE_BUDGETS,
	AF_TABLE_SPEND,
	AF_TABLE_LEASES,
	AF_TABLE_USAGE,
	AF_TABLE_FLEET,
	AF_TABLE_COUNT
};

/* Room for a cluster name (1..255 bytes) and its NUL. */
#define AF_STORE_CLUSTER_BUF 256

/* Largest key any table accepts (LMDB's compiled-in limit). */
#define AF_STORE_MAX_KEY 511

/* Schema version recorded in meta; a store with another one is refused. */
#define AF_STORE_SCHEMA_VERSION 1

/* Name of a table ("bundles"); static storage; "?" for an invalid value. */
const char *af_table_name(enum af_table t);

struct af_store; /* one LMDB environment */
struct af_txn;	 /* a read or write transaction */

struct af_store_opts {
	/* Cluster name (required, 1..255 bytes). The first open records it;
	 * a store recorded for another cluster is refused with AF_ECLUSTER. */
	const char *cluster;
	/* Map size at open; 0: 1 MiB. An existing larger file keeps its
	 * size. */
	size_t initial_map_size;
	/* Upper bound for growth; 0: 64 GiB. Growing past it: AF_EMAPFULL. */
	size_t max_map_size;
	/* MDB_NOSYNC: commits are not fsync()ed (see Durability above). */
	bool nosync;
};

/*
 * Opens the environment in directory `dir`, creating the directory and the
 * store if missing. Checks the schema version and the cluster name in meta
 * (records them on first open) and removes leftovers of an interrupted
 * restore. `dir` and `opts` are borrowed (copied as needed).
 *
 * On success *ret_store is owned by the caller: af_store_close().
 * Errors: AF_EINVAL (bad options), AF_EEXIST (dir already open in this
 * process), AF_ECLUSTER (another cluster's store), AF_ECORRUPT (not a store,
 * or another schema version), AF_ENOMEM, AF_EIO, AF_EMAPFULL.
 * Thread: any, but never concurrently with a close of the same dir.
 */
int af_store_open(const char *dir, const struct af_store_opts *opts,
		  struct af_store **ret_store, struct af_err *err);

/* Closes the environment. Every transaction must have ended. Accepts NULL.
 * Thread: the store's thread. */
void af_store_close(struct af_store *s);

/* Context of the last failed af_txn_* call on this store (or ""); valid
 * until the next store call. Never NULL. */
const char *af_store_errmsg(const struct af_store *s);

/*
 * Runs fn inside one write transaction and commits it.
 *
 * If LMDB reports the map full (at a put inside fn, or at commit), the
 * transaction is aborted, the map size doubled (up to max_map_size) and fn
 * run again from scratch: fn must have no effects outside the transaction.
 * The map cannot grow while a read transaction of this store is open; then,
 * and when max_map_size is reached, the result is AF_EMAPFULL and nothing
 * was committed.
 *
 * fn returning non-zero aborts the transaction and that value is returned;
 * if it came from a store call inside fn, err gets that call's context,
 * otherwise err is left untouched (fn may fill it through arg).
 * Errors: fn's code, AF_EMAPFULL, AF_EIO, AF_ENOMEM, AF_EINVAL (nested
 * update, or the store unusable after a failed restore).
 * The txn passed to fn is borrowed and only valid during the call.
 * Thread: the store's thread.
 */
typedef int (*af_store_update_fn)(struct af_txn *txn, void *arg);
int af_store_update(struct af_store *s, af_store_update_fn fn, void *arg,
		    struct af_err *err);

/* Begins a read transaction: a consistent view until af_store_read_end().
 * Several may be open at once; keep them short (they block map growth and
 * restore). *ret_txn is owned: end it with af_store_read_end().
 * Errors: AF_ENOMEM, AF_EUNAVAIL (reader table full), AF_EIO, AF_EINVAL.
 * Thread: the store's thread. */
int af_store_read_begin(struct af_store *s, struct af_txn **ret_txn,
			struct af_err *err);
/* Ends a read transaction and frees it. Accepts NULL. */
void af_store_read_end(struct af_txn *txn);

/*
 * Table access. Keys are 1..AF_STORE_MAX_KEY bytes (else AF_EINVAL); key and
 * val are borrowed. Values returned are borrowed from the map: valid until
 * the transaction ends (or, in a write transaction, until the next write to
 * that table). Writes on a read transaction: AF_EINVAL.
 *
 * af_txn_get, af_txn_del: AF_ENOTFOUND when absent.
 * Other errors: AF_EMAPFULL (write transaction: fn should stop and return;
 * af_store_update then grows the map and runs fn again whatever fn
 * returned, since the transaction is unusable after it), AF_EIO,
 * AF_ECORRUPT.
 * Context of failures other than AF_ENOTFOUND: af_store_errmsg().
 * Thread: the store's thread.
 */
int af_txn_get(struct af_txn *t, enum af_table tbl, const void *key,
	       size_t klen, const void **ret_val, size_t *ret_len);
int af_txn_put(struct af_txn *t, enum af_table tbl, const void *key,
	       size_t klen, const void *val, size_t vlen);
int af_txn_del(struct af_txn *t, enum af_table tbl, const void *key,
	       size_t klen);

/* Packs msg (borrowed) into the table without an intermediate copy. */
int af_txn_put_msg(struct af_txn *t, enum af_table tbl, const void *key,
		   size_t klen, const ProtobufCMessage *msg);
/* Unpacks the value under key as a `desc` message. On success *ret is owned
 * by the caller: protobuf_c_message_free_unpacked(*ret, NULL).
 * Errors: AF_ENOTFOUND, AF_ECORRUPT (not a valid message), AF_ENOMEM. */
int af_txn_get_msg(struct af_txn *t, enum af_table tbl, const void *key,
		   size_t klen, const ProtobufCMessageDescriptor *desc,
		   ProtobufCMessage **ret);

/* Iterates a table in key order (reverse: descending), with borrowed key and
 * value valid during the call. fn must not write to the transaction. fn
 * returning non-zero stops the iteration and that value is returned.
 * Errors: fn's code, AF_EIO, AF_ECORRUPT. */
typedef int (*af_store_iter_fn)(const void *key, size_t klen, const void *val,
				size_t vlen, void *arg);
int af_txn_iter(struct af_txn *t, enum af_table tbl, bool reverse,
		af_store_iter_fn fn, void *arg);

/* Iterates the entries whose key starts with prefix (plen bytes, may be 0:
 * whole table), in key order or descending. Same contract as af_txn_iter. */
int af_txn_iter_prefix(struct af_txn *t, enum af_table tbl, const void *prefix,
		       size_t plen, bool reverse, af_store_iter_fn fn,
		       void *arg);

/* Iterates the entries with lo <= key < hi (lo NULL or lolen 0: from the
 * first entry; hi NULL or hilen 0: to the last), in key order or descending,
 * positioning the cursor by a seek (O(log n + entries walked)), never by
 * skipping. Same contract as af_txn_iter; AF_EINVAL for a bound over
 * AF_STORE_MAX_KEY bytes. */
int af_txn_iter_range(struct af_txn *t, enum af_table tbl, const void *lo,
		      size_t lolen, const void *hi, size_t hilen, bool reverse,
		      af_store_iter_fn fn, void *arg);

/* Number of entries in a table (0 on error). */
size_t af_txn_count(struct af_txn *t, enum af_table tbl);

/* Big-endian u64 keys, so numeric order == key order. */
void af_store_key_u64(uint64_t v, uint8_t out[8]);
/* Reads 8 bytes at key (borrowed, at least 8 bytes). */
uint64_t af_store_u64_of_key(const void *key);

/*
 * meta: the Raft index and term applied last. Write them in the same
 * transaction as each change, so the store never holds a change without its
 * index. Errors as af_txn_put.
 */
int af_txn_set_applied(struct af_txn *t, uint64_t index, uint64_t term);
/* Index applied last; 0 when never set (or unreadable). */
uint64_t af_txn_applied(struct af_txn *t);
/* Term of the entry applied last; 0 when never set. */
uint64_t af_txn_applied_term(struct af_txn *t);
/* Small named counters in meta (e.g. "registry_revision"); name is a
 * NUL-terminated string of 1..200 bytes, else AF_EINVAL. They live in their
 * own key space: they never collide with the store's own meta entries. */
int af_txn_set_meta_u64(struct af_txn *t, const char *name, uint64_t v);
/* 0 when absent. */
uint64_t af_txn_meta_u64(struct af_txn *t, const char *name);

/*
 * Snapshot: a consistent compacted copy of the whole environment
 * (mdb_env_copyfd2 with MDB_CP_COMPACT, one read transaction), followed by a
 * 48-byte trailer (magic, length, SHA-256 of the copy) so a restore detects
 * truncation and corruption before touching anything.
 *
 * af_store_snapshot: on success *ret_buf is owned by the caller (af_free),
 * *ret_len its size and *ret_applied the applied index stored in that copy.
 * af_store_snapshot_fd: writes the same bytes to fd (borrowed, left open, any
 * kind of file descriptor, written from its current position).
 * Errors: AF_ENOMEM, AF_EIO, AF_EINVAL (store unusable).
 * Thread: the store's thread; read transactions may be open.
 */
int af_store_snapshot(struct af_store *s, void **ret_buf, size_t *ret_len,
		      uint64_t *ret_applied, struct af_err *err);
/* Pages in use by the tables (with the meta pages and the free list's own)
 * and pages of the data file's used extent, which also holds the free
 * pages LMDB reuses: the extent never shrinks, so after many deletions a
 * compacted copy is much smaller than a view. Errors: AF_EIO, AF_EINVAL.
 * Thread: the store's thread. */
int af_store_pages(struct af_store *s, size_t *ret_live, size_t *ret_extent,
		   struct af_err *err);
int af_store_snapshot_fd(struct af_store *s, int fd, struct af_err *err);

/*
 * Snapshot view: the same state as af_store_snapshot, without compacting
 * it. It returns AF_STORE_VIEW_PARTS pieces whose concatenation is a
 * snapshot that af_store_restore accepts: a copy of LMDB's two meta pages,
 * a copy of the other pages of the data file up to the last page one read
 * transaction reaches (read through a mapping of our own) and a trailer.
 * The pieces are copies, so the transaction and the mapping are released
 * before af_store_view_begin returns: writes go on and LMDB reuses freed
 * pages while the pieces are written out, and a reader of the pieces
 * (libraft checksums what it compresses) sees the same bytes twice.
 *
 * The work on the calling thread is one memcpy of the used extent (about
 * 25 ms for 45 MB), no compaction and no hash; reading
 * the pieces (to write them out) may happen on any thread until
 * af_store_view_end. The trailer's SHA-256 covers the meta pages only (the
 * copy is not hashed on this thread); restore checks the meta pages and
 * walks every table. At most one view is open per store (else AF_EUNAVAIL).
 * Pieces, *ret_view and *ret_applied are set on success only; the view is
 * owned (af_store_view_end, which is a no-op on NULL and still safe after
 * af_store_close). No restore while a view is open (AF_EINVAL).
 * Errors: AF_EUNAVAIL, AF_ENOMEM, AF_EIO, AF_EINVAL.
 * Thread: the store's thread, outside af_store_update.
 */
#define AF_STORE_VIEW_PARTS 3
struct af_store_view;
struct af_store_part {
	const void *base;
	size_t len;
};
int af_store_view_begin(struct af_store *s, struct af_store_view **ret_view,
			struct af_store_part parts[AF_STORE_VIEW_PARTS],
			uint64_t *ret_applied, struct af_err *err);
void af_store_view_end(struct af_store_view *v);
/* Ends the view and hands its copies of parts[0] (the meta pages) and
 * parts[1] (the other pages) to the caller, owned (af_free each): a copy
 * the caller keeps past the view without copying it again. */
void af_store_view_take(struct af_store_view *v, uint8_t **ret_meta,
			uint8_t **ret_data);

/*
 * Replaces the whole state with a snapshot (buf borrowed), atomically: checks
 * the trailer, writes the copy into a temp dir inside the store dir, fsyncs,
 * opens and validates it (schema, cluster name, readable meta and tables),
 * renames it over the live data file, fsyncs the dir and reopens.
 *
 * Any failure before the rename leaves the old state intact and usable. A
 * failure to reopen after the rename (AF_EIO) leaves the store unusable
 * (every call then fails with AF_EINVAL); close it and open it again.
 * No transaction or view may be open (else AF_EINVAL).
 * Errors: AF_ECORRUPT (bad snapshot), AF_ECLUSTER (another cluster's),
 * AF_ENOMEM, AF_EIO, AF_EINVAL.
 * Thread: the store's thread.
 */
int af_store_restore(struct af_store *s, const void *buf, size_t len,
		     struct af_err *err);
/* Same from a file written by af_store_snapshot_fd or holding the pieces
 * of a view (path borrowed). */
int af_store_restore_file(struct af_store *s, const char *path,
			  struct af_err *err);

/* SHA-256 over every (table, key, value) in table then key order, each field
 * length-prefixed: equal states give equal hashes. Covers meta (applied
 * index, cluster, counters) too. Errors: AF_ENOMEM, AF_EIO, AF_EUNAVAIL. */
int af_store_state_hash(struct af_store *s, uint8_t out[32],
			struct af_err *err);

/*
 * Checks a snapshot file (af_store_snapshot_fd, af_snapshot save, a
 * scheduled backup, or a view's pieces) without a store: the trailer and
 * its SHA-256 (version 1: of every byte; version 2: of the meta pages),
 * that the LMDB copy is whole, holds our schema, and that every table
 * reads back; hashes the state as af_store_state_hash does. path is
 * borrowed; *ret is written on success only.
 * Errors: AF_ENOTFOUND (no such file), AF_ECORRUPT (truncated, checksum
 * mismatch, not a snapshot, bad meta), AF_EINVAL (not a regular file),
 * AF_EIO. err names the file and the cause. Thread: any.
 */
#define AF_STORE_MAX_SNAPSHOT ((uint64_t)64 << 30)
struct af_snapshot_info {
	uint64_t index; /* applied Raft index and term in the copy */
	uint64_t term;
	uint64_t bytes;	  /* size of the file */
	uint64_t entries; /* (table, key) pairs hashed */
	unsigned version; /* trailer version, 1 or 2 */
	char cluster[AF_STORE_CLUSTER_BUF];
	uint8_t state_hash[32];
};
int af_store_verify_file(const char *path, struct af_snapshot_info *ret,
			 struct af_err *err);
/* A cheap check of a snapshot file: its trailer's magic and length match
 * its size (no hashing). *ret_bytes: the file's size. Errors: AF_ECORRUPT,
 * AF_EIO. Thread: any. */
int af_store_snapshot_peek(const char *path, uint64_t *ret_bytes,
			   struct af_err *err);
/* "sha256:<64 hex>" of a state hash. */
void af_store_hash_hex(const uint8_t hash[32], char out[72]);

/*
 * Writes pieces (borrowed; e.g. a copy of a view's first two pieces) to fd
 * followed by a version-1 trailer: the SHA-256 of every byte, so a reader
 * of the file detects any change. fd is borrowed and written from its
 * position. Errors: AF_EIO. Thread: any.
 */
int af_store_write_copy(const struct af_store_part *parts, size_t n, int fd,
			struct af_err *err);

/* Current map size in bytes (for tests and metrics). */
size_t af_store_map_size(struct af_store *s);

/*
 * Testing: called by af_store_restore at each stage before the rename
 * ("written": temp copy on disk and synced; "validated": temp copy opened
 * and checked). A non-zero return makes the restore fail there with that
 * code. NULL removes the hook. Not for production use.
 */
typedef int (*af_store_restore_hook)(const char *stage, void *arg);
void af_store_set_restore_hook(struct af_store *s, af_store_restore_hook hook,
			       void *arg);

#endif
