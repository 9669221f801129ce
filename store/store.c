/* Store environment: open, close, write and read transactions, map growth. */
#include "store/store_int.h"

#include "common/alloc.h"
#include "common/file.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const table_names[AF_TABLE_COUNT] = {
	[AF_TABLE_META] = "meta",	    [AF_TABLE_BUNDLES] = "bundles",
	[AF_TABLE_REVISIONS] = "revisions", [AF_TABLE_ROLLOUT] = "rollout",
	[AF_TABLE_MODELS] = "models",	    [AF_TABLE_AUDIT] = "audit",
	[AF_TABLE_BUDGETS] = "budgets",	    [AF_TABLE_SPEND] = "spend",
	[AF_TABLE_LEASES] = "leases",	    [AF_TABLE_USAGE] = "usage",
	[AF_TABLE_FLEET] = "fleet",
};

const char *af_table_name(enum af_table t)
{
	if ((unsigned)t >= AF_TABLE_COUNT)
		return "?";
	return table_names[t];
}

int store_mdb_code(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return 0;
	case MDB_NOTFOUND:
		return AF_ENOTFOUND;
	case MDB_KEYEXIST:
		return AF_EEXIST;
	case MDB_MAP_FULL:
	case MDB_MAP_RESIZED:
		return AF_EMAPFULL;
	case MDB_TXN_FULL:
	case MDB_BAD_VALSIZE:
		return AF_ETOOBIG;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_INCOMPATIBLE:
		return AF_ECORRUPT;
	case MDB_READERS_FULL:
	case MDB_DBS_FULL:
	case MDB_CURSOR_FULL:
	case MDB_TLS_FULL:
		return AF_EUNAVAIL;
	case MDB_BAD_TXN:
	case MDB_BAD_RSLOT:
	case MDB_BAD_DBI:
	case EINVAL:
		return AF_EINVAL;
	case ENOMEM:
		return AF_ENOMEM;
	case EACCES:
	case EPERM:
		return AF_EPERM;
	default:
		return AF_EIO;
	}
}

int store_mdb_err(struct af_err *err, int rc, const char *what)
{
	return af_errf(err, store_mdb_code(rc), "store: %s: %s", what,
		       mdb_strerror(rc));
}

/* ---- process-wide registry: one open env per directory ---------------- */

struct open_entry {
	dev_t dev;
	ino_t ino;
	struct open_entry *next;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct open_entry *registry;

static int registry_add(struct af_store *s, struct af_err *err)
{
	struct open_entry *e;
	int rc = 0;

	pthread_mutex_lock(&registry_lock);
	for (e = registry; e != NULL; e = e->next) {
		if (e->dev == s->dev && e->ino == s->ino) {
			rc = af_errf(
				err, AF_EEXIST,
				"store: %s is already open in this process",
				s->dir);
			goto out_unlock;
		}
	}
	e = af_malloc(sizeof(*e));
	if (e == NULL) {
		rc = af_errf(err, AF_ENOMEM, "store: open: out of memory");
		goto out_unlock;
	}
	e->dev = s->dev;
	e->ino = s->ino;
	e->next = registry;
	registry = e;
out_unlock:
	pthread_mutex_unlock(&registry_lock);
	return rc;
}

static void registry_remove(const struct af_store *s)
{
	struct open_entry **pe;

	pthread_mutex_lock(&registry_lock);
	for (pe = &registry; *pe != NULL; pe = &(*pe)->next) {
		if ((*pe)->dev == s->dev && (*pe)->ino == s->ino) {
			struct open_entry *e = *pe;
			*pe = e->next;
			af_free(e);
			break;
		}
	}
	pthread_mutex_unlock(&registry_lock);
}

/* ---- environment ------------------------------------------------------- */

int store_env_open(const char *dir, size_t map_size, unsigned int flags,
		   MDB_env **ret_env, struct af_err *err)
{
	MDB_env *env = NULL;
	int rc;

	rc = mdb_env_create(&env);
	if (rc != 0)
		return store_mdb_err(err, rc, "create env");
	rc = mdb_env_set_maxdbs(env, AF_TABLE_COUNT);
	if (rc != 0) {
		rc = store_mdb_err(err, rc, "set maxdbs");
		goto out_close;
	}
	rc = mdb_env_set_mapsize(env, map_size);
	if (rc != 0) {
		rc = store_mdb_err(err, rc, "set map size");
		goto out_close;
	}
	rc = mdb_env_open(env, dir, MDB_NOTLS | flags, 0600);
	if (rc != 0) {
		char what[300];
		snprintf(what, sizeof(what), "open %s", dir);
		rc = store_mdb_err(err, rc, what);
		goto out_close;
	}
	*ret_env = env;
	return 0;
out_close:
	mdb_env_close(env);
	return rc;
}

int store_open_tables(MDB_txn *txn, bool create, MDB_dbi dbi[AF_TABLE_COUNT],
		      struct af_err *err)
{
	for (int i = 0; i < AF_TABLE_COUNT; i++) {
		int rc = mdb_dbi_open(txn, table_names[i],
				      create ? MDB_CREATE : 0, &dbi[i]);
		if (rc != 0) {
			char what[64];
			snprintf(what, sizeof(what), "open table %s",
				 table_names[i]);
			return store_mdb_err(err, rc, what);
		}
	}
	return 0;
}

static int meta_get(MDB_txn *txn, MDB_dbi meta, const char *key, MDB_val *val)
{
	MDB_val k = {strlen(key), (void *)(uintptr_t)key};

	return mdb_get(txn, meta, &k, val);
}

int store_check_meta(MDB_txn *txn, MDB_dbi meta, const char *cluster,
		     struct af_err *err)
{
	MDB_val v;
	uint64_t schema;
	int rc;

	rc = meta_get(txn, meta, META_SCHEMA, &v);
	if (rc != 0)
		return store_mdb_err(err, rc == MDB_NOTFOUND ? MDB_INVALID : rc,
				     "read schema version");
	if (v.mv_size != 8)
		return af_errf(err, AF_ECORRUPT,
			       "store: schema version: bad size %zu",
			       v.mv_size);
	schema = af_store_u64_of_key(v.mv_data);
	if (schema != AF_STORE_SCHEMA_VERSION)
		return af_errf(err, AF_ECORRUPT,
			       "store: schema version %llu, expected %d",
			       (unsigned long long)schema,
			       AF_STORE_SCHEMA_VERSION);
	rc = meta_get(txn, meta, META_CLUSTER, &v);
	if (rc != 0)
		return store_mdb_err(err, rc == MDB_NOTFOUND ? MDB_INVALID : rc,
				     "read cluster name");
	if (v.mv_size != strlen(cluster) ||
	    memcmp(v.mv_data, cluster, v.mv_size) != 0)
		return af_errf(err, AF_ECLUSTER,
			       "store: belongs to cluster \"%.*s\", not \"%s\"",
			       (int)(v.mv_size > STORE_MAX_CLUSTER
					     ? STORE_MAX_CLUSTER
					     : v.mv_size),
			       (const char *)v.mv_data, cluster);
	rc = meta_get(txn, meta, META_APPLIED, &v);
	if (rc == 0 && v.mv_size != 16)
		return af_errf(err, AF_ECORRUPT,
			       "store: applied index: bad size %zu", v.mv_size);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_mdb_err(err, rc, "read applied index");
	return 0;
}

/* First open: records schema and cluster. Later: checks them. */
static int init_meta(struct af_txn *t, void *arg)
{
	struct af_err *err = arg;
	MDB_val v;
	uint8_t schema[8];
	int rc;

	rc = store_open_tables(t->txn, true, t->s->dbi, err);
	if (rc != 0)
		return rc;
	rc = meta_get(t->txn, t->s->dbi[AF_TABLE_META], META_SCHEMA, &v);
	if (rc == MDB_NOTFOUND) {
		af_store_key_u64(AF_STORE_SCHEMA_VERSION, schema);
		rc = af_txn_put(t, AF_TABLE_META, META_SCHEMA,
				strlen(META_SCHEMA), schema, sizeof(schema));
		if (rc == 0)
			rc = af_txn_put(t, AF_TABLE_META, META_CLUSTER,
					strlen(META_CLUSTER), t->s->cluster,
					strlen(t->s->cluster));
		if (rc != 0)
			af_errf(err, rc, "%s", t->s->err.msg);
		return rc;
	}
	if (rc != 0)
		return store_mdb_err(err, rc, "read schema version");
	return store_check_meta(t->txn, t->s->dbi[AF_TABLE_META], t->s->cluster,
				err);
}

static int current_map_size(MDB_env *env, size_t *ret_size)
{
	MDB_envinfo info;
	int rc = mdb_env_info(env, &info);

	if (rc != 0)
		return rc;
	*ret_size = info.me_mapsize;
	return 0;
}

int store_env_attach(struct af_store *s, struct af_err *err)
{
	size_t size;
	int rc;

	rc = store_env_open(s->dir, s->map_size, s->nosync ? MDB_NOSYNC : 0,
			    &s->env, err);
	if (rc != 0)
		return rc;
	/* An existing file larger than the requested map keeps its size. */
	rc = current_map_size(s->env, &size);
	if (rc != 0) {
		rc = store_mdb_err(err, rc, "env info");
		goto out_close;
	}
	s->map_size = size;
	rc = af_store_update(s, init_meta, err, err);
	if (rc != 0)
		goto out_close;
	return 0;
out_close:
	mdb_env_close(s->env);
	s->env = NULL;
	return rc;
}

int store_usable(struct af_store *s, struct af_err *err)
{
	if (s->env == NULL)
		return af_errf(err, AF_EINVAL,
			       "store: unusable after a failed restore; "
			       "close and reopen it");
	return 0;
}

/* Removes what an interrupted restore may have left in the store dir. */
static int remove_restore_leftovers(const char *dir, struct af_err *err)
{
	static const char *const files[] = {STORE_DATA_FILE, STORE_LOCK_FILE};
	char path[4096];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s/%s", dir, STORE_RESTORE_DIR,
			 files[i]);
		if (unlink(path) != 0 && errno != ENOENT)
			return af_errf(err, AF_EIO, "store: remove %s: %s",
				       path, strerror(errno));
	}
	snprintf(path, sizeof(path), "%s/%s", dir, STORE_RESTORE_DIR);
	if (rmdir(path) != 0 && errno != ENOENT)
		return af_errf(err, AF_EIO, "store: remove %s: %s", path,
			       strerror(errno));
	return 0;
}

static int check_opts(const char *dir, const struct af_store_opts *opts,
		      struct af_err *err)
{
	size_t clen;

	if (dir == NULL || dir[0] == '\0' || strlen(dir) > 3000)
		return af_errf(err, AF_EINVAL, "store: bad directory");
	if (opts == NULL || opts->cluster == NULL)
		return af_errf(err, AF_EINVAL, "store: cluster name required");
	clen = strlen(opts->cluster);
	if (clen == 0 || clen > STORE_MAX_CLUSTER)
		return af_errf(err, AF_EINVAL,
			       "store: cluster name must be 1..%d bytes",
			       STORE_MAX_CLUSTER);
	return 0;
}

static int store_new(const char *dir, const struct af_store_opts *opts,
		     struct af_store **ret_store, struct af_err *err)
{
	struct af_store *s = af_calloc(1, sizeof(*s));

	if (s == NULL)
		goto out_nomem;
	s->dir = af_strdup(dir);
	s->cluster = af_strdup(opts->cluster);
	if (s->dir == NULL || s->cluster == NULL)
		goto out_nomem;
	s->map_size = opts->initial_map_size ? opts->initial_map_size
					     : STORE_DEFAULT_INITIAL_MAP;
	s->max_map_size =
		opts->max_map_size ? opts->max_map_size : STORE_DEFAULT_MAX_MAP;
	if (s->map_size > s->max_map_size)
		s->map_size = s->max_map_size;
	s->nosync = opts->nosync;
	*ret_store = s;
	return 0;
out_nomem:
	if (s != NULL) {
		af_free(s->dir);
		af_free(s->cluster);
	}
	af_free(s);
	return af_errf(err, AF_ENOMEM, "store: open: out of memory");
}

int af_store_open(const char *dir, const struct af_store_opts *opts,
		  struct af_store **ret_store, struct af_err *err)
{
	struct af_store *s = NULL;
	struct stat st;
	int rc;

	rc = check_opts(dir, opts, err);
	if (rc != 0)
		return rc;
	rc = af_mkdir_p(dir, err);
	if (rc != 0)
		return rc;
	if (stat(dir, &st) != 0)
		return af_errf(err, AF_EIO, "store: stat %s: %s", dir,
			       strerror(errno));
	rc = store_new(dir, opts, &s, err);
	if (rc != 0)
		return rc;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	rc = registry_add(s, err);
	if (rc != 0)
		goto out_free;
	rc = remove_restore_leftovers(dir, err);
	if (rc != 0)
		goto out_unregister;
	rc = store_env_attach(s, err);
	if (rc != 0)
		goto out_unregister;
	*ret_store = s;
	return 0;
out_unregister:
	registry_remove(s);
out_free:
	af_free(s->dir);
	af_free(s->cluster);
	af_free(s);
	return rc;
}

void af_store_close(struct af_store *s)
{
	if (s == NULL)
		return;
	store_views_close(s);
	if (s->env != NULL)
		mdb_env_close(s->env);
	registry_remove(s);
	af_free(s->dir);
	af_free(s->cluster);
	af_free(s);
}

const char *af_store_errmsg(const struct af_store *s)
{
	return s->err.msg;
}

size_t af_store_map_size(struct af_store *s)
{
	return s->map_size;
}

static size_t stat_pages(const MDB_stat *st)
{
	return st->ms_branch_pages + st->ms_leaf_pages + st->ms_overflow_pages;
}

int af_store_pages(struct af_store *s, size_t *ret_live, size_t *ret_extent,
		   struct af_err *err)
{
	MDB_envinfo info;
	MDB_stat st;
	MDB_txn *txn;
	size_t live;
	int rc;

	if (s->env == NULL)
		return af_errf(err, AF_EINVAL, "store: unusable");
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0)
		return store_mdb_err(err, rc, "pages: begin read");
	rc = mdb_env_info(s->env, &info);
	if (rc == 0)
		rc = mdb_env_stat(s->env, &st); /* the main table */
	live = 2 + stat_pages(&st);		/* and the two meta pages */
	for (int i = 0; rc == 0 && i < AF_TABLE_COUNT; i++)
		if ((rc = mdb_stat(txn, s->dbi[i], &st)) == 0)
			live += stat_pages(&st);
	if (rc == 0 && (rc = mdb_stat(txn, 0, &st)) == 0) /* the free list */
		live += stat_pages(&st);
	mdb_txn_abort(txn);
	if (rc != 0)
		return store_mdb_err(err, rc, "pages: stat");
	*ret_live = live;
	*ret_extent = (size_t)info.me_last_pgno + 1;
	return 0;
}

void af_store_set_restore_hook(struct af_store *s, af_store_restore_hook hook,
			       void *arg)
{
	s->restore_hook = hook;
	s->restore_hook_arg = arg;
}

/* ---- transactions ------------------------------------------------------ */

/* Doubles the map (bounded by max_map_size). Only with no txn open. */
static int grow_map(struct af_store *s, struct af_err *err)
{
	size_t next;
	int rc;

	if (s->map_size >= s->max_map_size)
		return af_errf(err, AF_EMAPFULL,
			       "store: map full at its maximum of %zu bytes",
			       s->max_map_size);
	if (s->readers > 0)
		return af_errf(err, AF_EMAPFULL,
			       "store: map full and cannot grow while %d read "
			       "transaction(s) are open",
			       s->readers);
	next = s->map_size > s->max_map_size / 2 ? s->max_map_size
						 : s->map_size * 2;
	rc = mdb_env_set_mapsize(s->env, next);
	if (rc != 0)
		return store_mdb_err(err, rc, "grow map");
	if (current_map_size(s->env, &s->map_size) != 0)
		s->map_size = next;
	return 0;
}

/* One attempt: begin, fn, commit. *ret_map_full when it must be retried. */
static int update_once(struct af_store *s, af_store_update_fn fn, void *arg,
		       bool *ret_map_full, struct af_err *err)
{
	struct af_txn t = {.s = s, .write = true};
	int rc;

	*ret_map_full = false;
	rc = mdb_txn_begin(s->env, NULL, 0, &t.txn);
	if (rc != 0)
		return store_mdb_err(err, rc, "begin write");
	s->err.msg[0] = '\0';
	rc = fn(&t, arg);
	if (t.map_full) {
		*ret_map_full = true;
		rc = AF_EMAPFULL;
		goto out_abort;
	}
	if (rc != 0) {
		if (s->err.msg[0] != '\0')
			af_errf(err, rc, "%s", s->err.msg);
		goto out_abort;
	}
	rc = mdb_txn_commit(t.txn); /* frees the txn, even on failure */
	if (rc == MDB_MAP_FULL) {
		*ret_map_full = true;
		return AF_EMAPFULL;
	}
	if (rc != 0)
		return store_mdb_err(err, rc, "commit");
	return 0;
out_abort:
	mdb_txn_abort(t.txn);
	return rc;
}

int af_store_update(struct af_store *s, af_store_update_fn fn, void *arg,
		    struct af_err *err)
{
	bool map_full;
	int rc;

	rc = store_usable(s, err);
	if (rc != 0)
		return rc;
	if (s->in_update)
		return af_errf(err, AF_EINVAL, "store: nested update");
	s->in_update = true;
	for (;;) {
		rc = update_once(s, fn, arg, &map_full, err);
		if (!map_full)
			break;
		rc = grow_map(s, err);
		if (rc != 0)
			break;
	}
	s->in_update = false;
	return rc;
}

int af_store_read_begin(struct af_store *s, struct af_txn **ret_txn,
			struct af_err *err)
{
	struct af_txn *t;
	int rc;

	rc = store_usable(s, err);
	if (rc != 0)
		return rc;
	t = af_calloc(1, sizeof(*t));
	if (t == NULL)
		return af_errf(err, AF_ENOMEM, "store: begin read: no memory");
	t->s = s;
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t->txn);
	if (rc != 0) {
		af_free(t);
		return store_mdb_err(err, rc, "begin read");
	}
	s->readers++;
	*ret_txn = t;
	return 0;
}

void af_store_read_end(struct af_txn *txn)
{
	if (txn == NULL)
		return;
	mdb_txn_abort(txn->txn);
	txn->s->readers--;
	af_free(txn);
}
