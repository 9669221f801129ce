/* Private declarations shared by the store's files. */
#ifndef AF_STORE_STORE_INT_H
#define AF_STORE_STORE_INT_H

#include "store/store.h"

#include <lmdb.h>
#include <sys/types.h>

/* meta keys of the store itself; counters live under META_COUNTER_PREFIX */
#define META_SCHEMA "af.schema"
#define META_CLUSTER "af.cluster"
#define META_APPLIED "af.applied" /* index (8 bytes BE) + term (8 bytes BE) */
#define META_COUNTER_PREFIX "counter/"

#define STORE_DEFAULT_INITIAL_MAP ((size_t)1 << 20)
#define STORE_DEFAULT_MAX_MAP ((size_t)64 << 30)
#define STORE_MAX_CLUSTER 255
#define STORE_RESTORE_DIR "restore.tmp"
#define STORE_DATA_FILE "data.mdb"
#define STORE_LOCK_FILE "lock.mdb"

struct af_store {
	MDB_env *env; /* NULL when unusable after a failed restore */
	MDB_dbi dbi[AF_TABLE_COUNT];
	char *dir;
	char *cluster;
	size_t map_size;
	size_t max_map_size;
	bool nosync;
	dev_t dev; /* identity of dir in the open-store registry */
	ino_t ino;
	int readers;		    /* open read transactions */
	bool in_update;		    /* inside af_store_update */
	struct af_store_view *view; /* the open view, if any */
	af_store_restore_hook restore_hook;
	void *restore_hook_arg;
	struct af_err err; /* context of the last failed af_txn_* call */
};

struct af_txn {
	struct af_store *s;
	MDB_txn *txn;
	bool write;
	bool map_full; /* a put hit MDB_MAP_FULL: the txn must be retried */
};

/* MDB_* (or errno) code to AF_E*. */
int store_mdb_code(int rc);
/* Formats "store: <what>: <mdb message>" into err; returns the AF_E* code. */
int store_mdb_err(struct af_err *err, int rc, const char *what);

/* Creates and opens an LMDB env on dir (flags added to MDB_NOTLS). On
 * success *ret_env is owned (mdb_env_close). */
int store_env_open(const char *dir, size_t map_size, unsigned int flags,
		   MDB_env **ret_env, struct af_err *err);
/* Opens every table's dbi in txn (create: MDB_CREATE). */
int store_open_tables(MDB_txn *txn, bool create, MDB_dbi dbi[AF_TABLE_COUNT],
		      struct af_err *err);
/* Checks the schema version and cluster name in meta of an opened env. */
int store_check_meta(MDB_txn *txn, MDB_dbi meta, const char *cluster,
		     struct af_err *err);
/* Opens s->env on s->dir and initializes/validates meta. */
int store_env_attach(struct af_store *s, struct af_err *err);
/* Refuses calls on a store left unusable by a failed restore. */
int store_usable(struct af_store *s, struct af_err *err);
/* Ends the open view's transaction before the env closes; the view's
 * pieces stay readable until af_store_view_end. */
void store_views_close(struct af_store *s);

/* write(2) of all len bytes, retrying on EINTR; 0 or -1 (errno). */
int store_write_all(int fd, const void *buf, size_t len);
/* Version-1 snapshot trailer: magic, copy length (BE), SHA-256 of copy. */
#define STORE_TRAILER_LEN (8 + 8 + 32)
/* Checks a snapshot's trailer (either version); *ret_len is the length of
 * the LMDB copy in front of it. Errors: AF_ECORRUPT. */
int store_snapshot_check(const void *buf, size_t len, size_t *ret_len,
			 struct af_err *err);
/* Writes the version-1 trailer of a copy of len bytes hashing to digest. */
void store_snapshot_trailer(const uint8_t digest[32], size_t len,
			    uint8_t out[STORE_TRAILER_LEN]);

#endif
