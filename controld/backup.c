/* Scheduled backups by the leader and `controld --verify-snapshot`
 * (backup.h). */
#include "controld/backup.h"

#include "common/alloc.h"
#include "common/file.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "controld/node.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NAME_PREFIX "backup-"
#define NAME_SUFFIX ".db"
#define TMP_PREFIX ".tmp-"
#define STALE_TMP_S 600

/* What identifies one state of the dir: any file added, removed or
 * renamed in it since moves its mtime and ctime. */
struct dir_key {
	dev_t dev;
	ino_t ino;
	struct timespec mtim, ctim;
};

/* The backup files as of one scan, oldest first. */
struct listing {
	struct controld_backup_file *files; /* AF_BACKUP_MAX_KEEP */
	size_t n;
	bool have_key; /* false: the dir could not be stat'ed */
	struct dir_key key;
	char error[AF_ERRMSG_SIZE];
};

struct controld_backup {
	const struct af_cluster_cfg *cfg;
	/* af backup list answers from cur (loop thread); the work scans
	 * into next after each backup, swapped in after it */
	struct listing lists[2];
	struct listing *cur, *next;
	uv_work_t work;
	bool busy;	      /* a backup is in flight (loop thread) */
	uint64_t next_due_ms; /* monotonic */
	/* the backup in flight: set on the loop thread before the work
	 * starts, read and written by the work, read after it */
	uint8_t *meta; /* the meta pages */
	size_t meta_len;
	uint8_t *buf; /* the pages after them */
	size_t len;
	uint64_t index;
	int64_t time_ms;
	uint64_t started_ns;
	int rc;
	char name[CONTROLD_BACKUP_NAME_MAX];
	struct af_err err;
	struct af_snapshot_info info;
	unsigned pruned;
	/* for /metrics (any thread) and the list verb (loop thread) */
	_Atomic int64_t last_success_ms;
	_Atomic uint64_t successes, failures, last_index, last_bytes;
	struct af_histogram duration;
	char last_error[AF_ERRMSG_SIZE];
};

/* ---- verify ----------------------------------------------------------- */

int controld_verify_snapshot_main(const char *path, FILE *out, FILE *errf)
{
	struct af_snapshot_info info;
	struct af_err err = {{0}};
	char hex[72];

	if (af_store_verify_file(path, &info, &err) != 0) {
		fprintf(errf,
			"controld: verify-snapshot: %s; the file cannot be "
			"restored: use another backup\n",
			err.msg);
		return 1;
	}
	af_store_hash_hex(info.state_hash, hex);
	fprintf(out,
		"file=%s verified=true cluster=%s index=%llu "
		"bytes=%llu entries=%llu checksum=%s state_hash=%s\n",
		path, info.cluster, (unsigned long long)info.index,
		(unsigned long long)info.bytes,
		(unsigned long long)info.entries,
		info.version == 1 ? "full" : "meta", hex);
	return 0;
}

/* ---- names ------------------------------------------------------------ */

/* backup-20261202T041500.123Z-42.db (cmp_name orders them). */
static void format_name(int64_t time_ms, uint64_t index, char *out,
			size_t outlen)
{
	time_t secs = (time_t)(time_ms / 1000);
	struct tm tm;
	char ts[32];

	gmtime_r(&secs, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%S", &tm);
	snprintf(out, outlen, NAME_PREFIX "%s.%03dZ-%llu" NAME_SUFFIX, ts,
		 (int)(time_ms % 1000), (unsigned long long)index);
}

int controld_backup_parse_name(const char *name, int64_t *ret_time_ms,
			       uint64_t *ret_index)
{
	struct tm tm;
	const char *p;
	char *end;
	unsigned long ms;
	unsigned long long index;

	if (strncmp(name, NAME_PREFIX, strlen(NAME_PREFIX)) != 0)
		return AF_EINVAL;
	memset(&tm, 0, sizeof(tm));
	p = strptime(name + strlen(NAME_PREFIX), "%Y%m%dT%H%M%S", &tm);
	if (p == NULL || *p != '.')
		return AF_EINVAL;
	ms = strtoul(p + 1, &end, 10);
	if (end != p + 4 || ms > 999 || strncmp(end, "Z-", 2) != 0)
		return AF_EINVAL;
	p = end + 2;
	if (*p < '0' || *p > '9')
		return AF_EINVAL;
	index = strtoull(p, &end, 10);
	if (strcmp(end, NAME_SUFFIX) != 0)
		return AF_EINVAL;
	*ret_time_ms = (int64_t)timegm(&tm) * 1000 + (int64_t)ms;
	*ret_index = index;
	return 0;
}

/* Oldest first by Raft index, which only grows across leaders (their wall
 * clocks may disagree), then by time, then by name. */
static int cmp_name(const void *a, const void *b)
{
	int64_t ta = 0, tb = 0;
	uint64_t ia = 0, ib = 0;

	controld_backup_parse_name(a, &ta, &ia);
	controld_backup_parse_name(b, &tb, &ib);
	if (ia != ib)
		return ia < ib ? -1 : 1;
	if (ta != tb)
		return ta < tb ? -1 : 1;
	return strcmp(a, b);
}

int controld_backup_scan(const char *dir,
			 char (*names)[CONTROLD_BACKUP_NAME_MAX], size_t max,
			 size_t *ret_n, struct af_err *err)
{
	struct dirent *e;
	size_t n = 0;
	DIR *d;

	d = opendir(dir);
	if (d == NULL)
		return af_errf(err, AF_EIO, "backup: open %s: %s", dir,
			       strerror(errno));
	while ((e = readdir(d)) != NULL) {
		int64_t t;
		uint64_t i;

		if (strlen(e->d_name) >= CONTROLD_BACKUP_NAME_MAX ||
		    controld_backup_parse_name(e->d_name, &t, &i) != 0)
			continue;
		if (n == max) /* keep the newest max */
			qsort(names, n, sizeof(names[0]), cmp_name);
		if (n == max && cmp_name(e->d_name, names[0]) < 0)
			continue;
		if (n == max)
			memmove(names, names + 1, (n - 1) * sizeof(names[0]));
		strcpy(names[n == max ? n - 1 : n++], e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_name);
	*ret_n = n;
	return 0;
}

unsigned controld_backup_prune(const char *dir, unsigned keep,
			       const char *written)
{
	char(*names)[CONTROLD_BACKUP_NAME_MAX];
	char path[PATH_MAX + CONTROLD_BACKUP_NAME_MAX];
	unsigned pruned = 0;
	size_t n = 0;

	names = af_malloc((AF_BACKUP_MAX_KEEP + 1) * sizeof(*names));
	if (names == NULL)
		return 0;
	if (controld_backup_scan(dir, names, AF_BACKUP_MAX_KEEP + 1, &n,
				 NULL) != 0)
		n = 0;
	for (size_t i = 0; i + keep < n; i++) {
		if (strcmp(names[i], written) == 0)
			continue; /* never the file just written */
		if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]) <
			    (int)sizeof(path) &&
		    unlink(path) == 0)
			pruned++;
	}
	af_free(names);
	if (pruned > 0)
		af_fsync_dir(dir);
	return pruned;
}

/* ---- the listing ------------------------------------------------------- */

static bool dir_key_of(const char *dir, struct dir_key *k)
{
	struct stat st;

	if (stat(dir, &st) != 0)
		return false;
	memset(k, 0, sizeof(*k));
	k->dev = st.st_dev;
	k->ino = st.st_ino;
	k->mtim = st.st_mtim;
	k->ctim = st.st_ctim;
	return true;
}

static bool dir_key_eq(const struct dir_key *a, const struct dir_key *b)
{
	return a->dev == b->dev && a->ino == b->ino &&
	       a->mtim.tv_sec == b->mtim.tv_sec &&
	       a->mtim.tv_nsec == b->mtim.tv_nsec &&
	       a->ctim.tv_sec == b->ctim.tv_sec &&
	       a->ctim.tv_nsec == b->ctim.tv_nsec;
}

/* One row: index and time from the name, bytes and verified from the
 * file. Only files that passed verification get this name; a file whose
 * size no longer matches its trailer has been damaged since. */
static void describe(const char *dir, const char *name,
		     struct controld_backup_file *f)
{
	char path[PATH_MAX + CONTROLD_BACKUP_NAME_MAX];

	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	controld_backup_parse_name(name, &f->time_ms, &f->index);
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) <
	    (int)sizeof(path))
		f->verified =
			af_store_snapshot_peek(path, &f->bytes, NULL) == 0;
}

/* Scans dir into l (any thread). The key is taken first: a change during
 * the scan makes the next look rescan. */
static void listing_build(const char *dir, struct listing *l)
{
	char(*names)[CONTROLD_BACKUP_NAME_MAX];
	struct af_err err = {{0}};
	size_t n = 0;

	l->have_key = dir_key_of(dir, &l->key);
	l->n = 0;
	l->error[0] = '\0';
	names = af_malloc(AF_BACKUP_MAX_KEEP * sizeof(*names));
	if (names == NULL) {
		l->have_key = false;
		snprintf(l->error, sizeof(l->error), "backup list: no memory");
		return;
	}
	if (controld_backup_scan(dir, names, AF_BACKUP_MAX_KEEP, &n, &err) != 0)
		snprintf(l->error, sizeof(l->error), "%s", err.msg);
	for (size_t i = 0; i < n; i++)
		describe(dir, names[i], &l->files[i]);
	l->n = n;
	af_free(names);
}

const struct controld_backup_file *
controld_backup_files(struct controld_node *n, size_t *ret_n,
		      const char **ret_error)
{
	struct controld_backup *b = n->backup;
	struct dir_key k;

	*ret_n = 0;
	*ret_error = "";
	if (b == NULL)
		return NULL;
	/* Changed since the last scan (files removed or added by hand, or
	 * by another node's backups): scan again. */
	if (!b->cur->have_key || !dir_key_of(b->cfg->backup_dir, &k) ||
	    !dir_key_eq(&k, &b->cur->key))
		listing_build(b->cfg->backup_dir, b->cur);
	*ret_n = b->cur->n;
	*ret_error = b->cur->error;
	return b->cur->files;
}

/* ---- the work (a libuv worker thread) ---------------------------------- */

/* Temporary files a crash left behind (older than STALE_TMP_S: never one
 * a node is still writing). */
static void remove_stale(const char *dir)
{
	char path[PATH_MAX + CONTROLD_BACKUP_NAME_MAX + 8];
	time_t now = time(NULL);
	struct dirent *e;
	struct stat st;
	DIR *d = opendir(dir);

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, TMP_PREFIX NAME_PREFIX,
			    strlen(TMP_PREFIX NAME_PREFIX)) != 0 ||
		    strlen(e->d_name) >= CONTROLD_BACKUP_NAME_MAX + 8)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) <
			    (int)sizeof(path) &&
		    stat(path, &st) == 0 && now - st.st_mtime > STALE_TMP_S)
			unlink(path);
	}
	closedir(d);
}

static int write_tmp(struct controld_backup *b, const char *tmp)
{
	struct af_store_part parts[2] = {{.base = b->meta, .len = b->meta_len},
					 {.base = b->buf, .len = b->len}};
	int fd, rc;

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return af_errf(&b->err, AF_EIO, "backup: create %s: %s", tmp,
			       strerror(errno));
	rc = af_store_write_copy(parts, 2, fd, &b->err);
	if (rc == 0 && fsync(fd) != 0)
		rc = af_errf(&b->err, AF_EIO, "backup: fsync %s: %s", tmp,
			     strerror(errno));
	if (close(fd) != 0 && rc == 0)
		rc = af_errf(&b->err, AF_EIO, "backup: close %s: %s", tmp,
			     strerror(errno));
	return rc;
}

static int run_backup(struct controld_backup *b)
{
	const char *dir = b->cfg->backup_dir;
	char tmp[PATH_MAX + CONTROLD_BACKUP_NAME_MAX + 8];
	char path[PATH_MAX + CONTROLD_BACKUP_NAME_MAX];
	int rc;

	format_name(b->time_ms, b->index, b->name, sizeof(b->name));
	if (snprintf(tmp, sizeof(tmp), "%s/" TMP_PREFIX "%s", dir, b->name) >=
		    (int)sizeof(tmp) ||
	    snprintf(path, sizeof(path), "%s/%s", dir, b->name) >=
		    (int)sizeof(path))
		return af_errf(&b->err, AF_ETOOBIG,
			       "backup: dir %s: path too "
			       "long",
			       dir);
	rc = write_tmp(b, tmp);
	if (rc == 0 &&
	    (rc = af_store_verify_file(tmp, &b->info, &b->err)) == 0 &&
	    b->info.index != b->index)
		rc = af_errf(&b->err, AF_ECORRUPT,
			     "backup: %s holds index %llu, expected %llu", tmp,
			     (unsigned long long)b->info.index,
			     (unsigned long long)b->index);
	if (rc == 0 && rename(tmp, path) != 0)
		rc = af_errf(&b->err, AF_EIO, "backup: rename %s: %s", tmp,
			     strerror(errno));
	if (rc != 0) {
		unlink(tmp);
		return rc;
	}
	if (af_fsync_dir(dir) != 0)
		return af_errf(&b->err, AF_EIO, "backup: fsync %s", dir);
	b->pruned = controld_backup_prune(dir, b->cfg->backup_keep, b->name);
	remove_stale(dir);
	return 0;
}

static void release_copy(struct controld_backup *b)
{
	af_free(b->meta);
	af_free(b->buf);
	b->meta = NULL;
	b->buf = NULL;
}

static void work_cb(uv_work_t *w)
{
	struct controld_backup *b = w->data;

	b->rc = run_backup(b);
	listing_build(b->cfg->backup_dir, b->next);
}

static void after_work_cb(uv_work_t *w, int status)
{
	struct controld_backup *b = w->data;
	uint64_t ns = af_mono_ns() - b->started_ns;

	struct listing *l = b->cur;

	release_copy(b);
	if (status == 0) { /* the work scanned the dir into next */
		b->cur = b->next;
		b->next = l;
	}
	b->busy = false;
	if (status != 0 && b->rc == 0)
		b->rc = af_errf(&b->err, AF_EIO, "backup: cancelled");
	af_histogram_observe_ns(&b->duration, ns);
	if (b->rc != 0) {
		atomic_fetch_add(&b->failures, 1);
		snprintf(b->last_error, sizeof(b->last_error), "%s",
			 b->err.msg);
		log_error("event=backup_failed error=\"%s\"", b->err.msg);
		return;
	}
	atomic_store(&b->last_success_ms, b->time_ms);
	atomic_store(&b->last_index, b->index);
	atomic_store(&b->last_bytes, b->info.bytes);
	atomic_fetch_add(&b->successes, 1);
	b->last_error[0] = '\0';
	log_info("event=backup file=%s/%s index=%llu bytes=%llu ms=%llu "
		 "pruned=%u",
		 b->cfg->backup_dir, b->name, (unsigned long long)b->index,
		 (unsigned long long)b->info.bytes,
		 (unsigned long long)(ns / 1000000), b->pruned);
}

/* ---- the schedule (loop thread) --------------------------------------- */

/* The state as of now: the view's copy, kept past the view (no second
 * copy on the loop thread). */
static int take_copy(struct controld_node *n, struct controld_backup *b)
{
	struct af_store_part parts[AF_STORE_VIEW_PARTS];
	struct af_store_view *v;
	uint64_t applied = 0;
	int rc;

	rc = af_store_view_begin(n->store, &v, parts, &applied, &b->err);
	if (rc != 0)
		return rc;
	b->meta_len = parts[0].len;
	b->len = parts[1].len;
	af_store_view_take(v, &b->meta, &b->buf);
	b->index = applied;
	return 0;
}

/* A new cluster's store holds only meta: nothing to back up yet. (A
 * restored one starts at index 0 with all of its state.) */
static bool store_empty(struct controld_node *n)
{
	struct af_txn *t;
	size_t entries = 0;

	if (af_store_read_begin(n->store, &t, NULL) != 0)
		return true;
	for (int i = 0; i < AF_TABLE_COUNT; i++)
		if (i != AF_TABLE_META)
			entries += af_txn_count(t, (enum af_table)i);
	af_store_read_end(t);
	return entries == 0;
}

void controld_backup_tick(struct controld_node *n, uint64_t now_ms)
{
	struct controld_backup *b = n->backup;
	int rc;

	if (b == NULL || b->busy || n->stopping || now_ms < b->next_due_ms ||
	    !atomic_load(&n->stats.is_leader) ||
	    !atomic_load(&n->stats.ready) || store_empty(n))
		return;
	b->started_ns = af_mono_ns();
	b->time_ms = af_wall_ms();
	b->rc = 0;
	b->pruned = 0;
	b->err.msg[0] = '\0';
	rc = take_copy(n, b);
	if (rc == AF_EUNAVAIL)
		return; /* a Raft snapshot holds the view: next tick */
	b->next_due_ms = now_ms + b->cfg->backup_every_ms;
	if (rc == 0)
		rc = uv_queue_work(&n->loop, &b->work, work_cb, after_work_cb);
	if (rc != 0) {
		if (b->err.msg[0] == '\0')
			af_errf(&b->err, AF_EIO, "backup: queue: %s",
				uv_strerror(rc));
		release_copy(b);
		atomic_fetch_add(&b->failures, 1);
		snprintf(b->last_error, sizeof(b->last_error), "%s",
			 b->err.msg);
		log_error("event=backup_failed error=\"%s\"", b->err.msg);
		return;
	}
	b->busy = true;
}

int controld_backup_start(struct controld_node *n, struct af_err *err)
{
	struct controld_backup *b;
	int rc;

	if (!n->cfg->backup)
		return 0;
	rc = af_mkdir_p(n->cfg->backup_dir, err);
	if (rc != 0)
		return af_err_wrap(err, rc, "backup: dir");
	b = af_calloc(1, sizeof(*b));
	if (b == NULL)
		return af_errf(err, AF_ENOMEM, "backup: no memory");
	b->cfg = n->cfg;
	b->work.data = b;
	for (int i = 0; i < 2; i++) {
		b->lists[i].files = af_calloc(AF_BACKUP_MAX_KEEP,
					      sizeof(*b->lists[i].files));
		if (b->lists[i].files == NULL) {
			af_free(b->lists[0].files);
			af_free(b);
			return af_errf(err, AF_ENOMEM, "backup: no memory");
		}
	}
	b->cur = &b->lists[0];
	b->next = &b->lists[1];
	/* The listing as of start; after that, after each backup. */
	listing_build(b->cfg->backup_dir, b->cur);
	n->backup = b;
	return 0;
}

void controld_backup_free(struct controld_node *n)
{
	if (n->backup == NULL)
		return;
	release_copy(n->backup);
	af_free(n->backup->lists[0].files);
	af_free(n->backup->lists[1].files);
	af_free(n->backup);
	n->backup = NULL;
}

void controld_backup_status(const struct controld_node *n, int64_t *ret_last_ms,
			    const char **ret_error)
{
	*ret_last_ms = n->backup ? atomic_load(&n->backup->last_success_ms) : 0;
	*ret_error = n->backup ? n->backup->last_error : "";
}

void controld_backup_metrics(struct controld_node *n, struct af_textbuf *t)
{
	struct controld_backup *b = n->backup;

	if (b == NULL)
		return;
	af_textbuf_printf(
		t,
		"# HELP af_backup_last_success_timestamp_seconds When this "
		"node last wrote a verified scheduled backup (0: never).\n"
		"# TYPE af_backup_last_success_timestamp_seconds gauge\n"
		"af_backup_last_success_timestamp_seconds %.3f\n"
		"# HELP af_backup_success_total Scheduled backups written and "
		"verified.\n# TYPE af_backup_success_total counter\n"
		"af_backup_success_total %llu\n"
		"# HELP af_backup_failures_total Scheduled backups that "
		"failed (write, verify, rename).\n"
		"# TYPE af_backup_failures_total counter\n"
		"af_backup_failures_total %llu\n"
		"# HELP af_backup_last_index Raft index of the last "
		"backup.\n# TYPE af_backup_last_index gauge\n"
		"af_backup_last_index %llu\n"
		"# HELP af_backup_last_bytes Size of the last backup.\n"
		"# TYPE af_backup_last_bytes gauge\naf_backup_last_bytes "
		"%llu\n",
		(double)atomic_load(&b->last_success_ms) / 1000.0,
		(unsigned long long)atomic_load(&b->successes),
		(unsigned long long)atomic_load(&b->failures),
		(unsigned long long)atomic_load(&b->last_index),
		(unsigned long long)atomic_load(&b->last_bytes));
	af_histogram_format(t, "af_backup_duration_seconds",
			    "Time to copy, write, verify and prune one "
			    "scheduled backup.",
			    "", &b->duration);
}
