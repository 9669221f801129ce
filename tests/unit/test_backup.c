/* Backups: snapshot verification and the state hash (equal for equal
 * states whatever wrote them, different otherwise, damaged files refused
 * with their cause), backup file names. The cluster file's backup section:
 * test_cluster_file.c. */
#include "tests/lib/alloc_check.h"
#include "tests/lib/tmpdir.h"
#include "common/alloc.h"
#include "controld/backup.h"
#include "store/store.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- snapshots and the state hash -------------------------------------- */

static char tmpdir[256];

static void setup(void)
{
	af_test_alloc_begin();
	strcpy(tmpdir, "/tmp/af-test-backup-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void)
{
	af_test_rmtree(tmpdir);
	af_test_alloc_end();
}

TestSuite(snapshot_verify, .init = setup, .fini = teardown);

static struct af_store *open_store(const char *sub)
{
	struct af_store_opts o = {.cluster = "test", .nosync = true};
	struct af_store *s = NULL;
	struct af_err err = {{0}};
	char dir[512];
	int rc;

	snprintf(dir, sizeof(dir), "%s/%s", tmpdir, sub);
	rc = af_store_open(dir, &o, &s, &err);
	cr_assert_eq(rc, 0, "open %s: %s", dir, err.msg);
	return s;
}

struct put {
	const char *key, *val;
	enum af_table tbl;
	uint64_t index;
};

static int put_fn(struct af_txn *t, void *arg)
{
	const struct put *p = arg;
	int rc = af_txn_put(t, p->tbl, p->key, strlen(p->key), p->val,
			    strlen(p->val));

	return rc != 0 ? rc : af_txn_set_applied(t, p->index, 0);
}

static void put(struct af_store *s, enum af_table tbl, const char *k,
		const char *v, uint64_t index)
{
	struct put p = {k, v, tbl, index};
	struct af_err err = {{0}};

	cr_assert_eq(af_store_update(s, put_fn, &p, &err), 0, "%s", err.msg);
}

static void path_in(const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", tmpdir, name);
}

/* The file af snapshot save writes (compacted copy, checksum of all). */
static void save_compacted(struct af_store *s, const char *name)
{
	struct af_err err = {{0}};
	char path[512];
	int fd;

	path_in(name, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(af_store_snapshot_fd(s, fd, &err), 0, "%s", err.msg);
	close(fd);
}

/* The file a scheduled backup writes (a view's pages, checksum of all). */
static void save_view(struct af_store *s, const char *name)
{
	struct af_store_part parts[AF_STORE_VIEW_PARTS];
	struct af_store_view *v;
	struct af_err err = {{0}};
	uint64_t applied;
	char path[512];
	int fd;

	cr_assert_eq(af_store_view_begin(s, &v, parts, &applied, &err), 0, "%s",
		     err.msg);
	path_in(name, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(af_store_write_copy(parts, 2, fd, &err), 0, "%s", err.msg);
	close(fd);
	af_store_view_end(v);
}

static int verify(const char *name, struct af_snapshot_info *info,
		  struct af_err *err)
{
	char path[512];

	path_in(name, path, sizeof(path));
	memset(err, 0, sizeof(*err));
	return af_store_verify_file(path, info, err);
}

static void fill(struct af_store *s, bool reverse)
{
	static const char *const k[] = {"a", "b", "c", "d"};

	for (int i = 0; i < 4; i++) {
		int j = reverse ? 3 - i : i;
		put(s, AF_TABLE_MODELS, k[j], "model", (uint64_t)i + 1);
	}
	put(s, AF_TABLE_BUDGETS, "tenant", "100", 5);
}

Test(snapshot_verify, same_state_same_hash_whatever_wrote_it)
{
	struct af_store *a = open_store("a"), *b = open_store("b");
	struct af_snapshot_info ia, ib, iv;
	struct af_err err;
	uint8_t live[32];

	/* Two members reach the same state by different write orders. */
	fill(a, false);
	fill(b, true);
	save_compacted(a, "a.db");
	save_view(b, "b.db");
	save_view(a, "av.db");
	cr_assert_eq(verify("a.db", &ia, &err), 0, "%s", err.msg);
	cr_assert_eq(verify("b.db", &ib, &err), 0, "%s", err.msg);
	cr_assert_eq(verify("av.db", &iv, &err), 0, "%s", err.msg);
	cr_assert_eq(ia.index, 5);
	cr_assert_eq(ib.index, 5);
	cr_assert_str_eq(ia.cluster, "test");
	cr_assert_eq(ia.version, 1);
	cr_assert_eq(ib.version, 1);
	cr_assert_eq(memcmp(ia.state_hash, ib.state_hash, 32), 0);
	cr_assert_eq(memcmp(ia.state_hash, iv.state_hash, 32), 0);
	cr_assert_eq(af_store_state_hash(a, live, &err), 0, "%s", err.msg);
	cr_assert_eq(memcmp(ia.state_hash, live, 32), 0);
	/* One more value: another hash. */
	put(b, AF_TABLE_MODELS, "e", "model", 6);
	save_view(b, "b2.db");
	cr_assert_eq(verify("b2.db", &ib, &err), 0, "%s", err.msg);
	cr_assert_eq(ib.index, 6);
	cr_assert_neq(memcmp(ia.state_hash, ib.state_hash, 32), 0);
	af_store_close(a);
	af_store_close(b);
}

Test(snapshot_verify, a_taken_view_outlives_the_view_and_later_writes)
{
	struct af_store *a = open_store("a");
	struct af_store_part parts[AF_STORE_VIEW_PARTS];
	struct af_store_part parts2[AF_STORE_VIEW_PARTS];
	struct af_store_view *v, *v2;
	struct af_snapshot_info info;
	struct af_err err = {{0}};
	uint64_t applied = 0;
	uint8_t *meta = NULL, *data = NULL;
	char path[512];
	int fd;

	fill(a, false);
	cr_assert_eq(af_store_view_begin(a, &v, parts, &applied, &err), 0, "%s",
		     err.msg);
	af_store_view_take(v, &meta, &data);
	cr_assert(meta == parts[0].base && data == parts[1].base);
	/* The view is over (another can open) and writes go on; the copy
	 * taken still holds the state as of index 5. */
	cr_assert_eq(af_store_view_begin(a, &v2, parts2, &applied, &err), 0,
		     "%s", err.msg);
	af_store_view_end(v2);
	put(a, AF_TABLE_MODELS, "e", "model", 6);
	path_in("taken.db", path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(af_store_write_copy(parts, 2, fd, &err), 0, "%s", err.msg);
	close(fd);
	af_free(meta);
	af_free(data);
	cr_assert_eq(verify("taken.db", &info, &err), 0, "%s", err.msg);
	cr_assert_eq(info.index, 5);
	af_store_close(a);
}

/* Copies name to out, keeping len bytes (or all) and flipping byte at
 * flip (or none). */
static void damage(const char *name, const char *out, long len, long flip)
{
	char src[512], dst[512];
	FILE *f, *g;
	int ch;
	long i = 0;

	path_in(name, src, sizeof(src));
	path_in(out, dst, sizeof(dst));
	f = fopen(src, "rb");
	g = fopen(dst, "wb");
	cr_assert(f && g);
	while ((len < 0 || i < len) && (ch = fgetc(f)) != EOF) {
		fputc(i == flip ? ch ^ 0x5a : ch, g);
		i++;
	}
	fclose(f);
	fclose(g);
}

Test(snapshot_verify, damaged_files_are_refused_with_their_cause)
{
	struct af_store *s = open_store("s");
	struct af_snapshot_info info;
	struct af_err err;
	uint64_t bytes = 0;
	char path[512];

	fill(s, false);
	save_view(s, "ok.db");
	af_store_close(s);
	damage("ok.db", "short.db", 5000, -1);
	cr_assert_eq(verify("short.db", &info, &err), AF_ECORRUPT);
	cr_assert(strstr(err.msg, "short.db: store: snapshot: not a "
				  "snapshot (no trailer; truncated?)"),
		  "%s", err.msg);
	damage("ok.db", "flip.db", -1, 9000);
	cr_assert_eq(verify("flip.db", &info, &err), AF_ECORRUPT);
	cr_assert(strstr(err.msg, "flip.db: store: snapshot: checksum "
				  "mismatch (the file is damaged)"),
		  "%s", err.msg);
	damage("ok.db", "tiny.db", 10, -1);
	cr_assert_eq(verify("tiny.db", &info, &err), AF_ECORRUPT);
	cr_assert(strstr(err.msg, "is not a snapshot size"), "%s", err.msg);
	cr_assert_eq(verify("absent.db", &info, &err), AF_ENOTFOUND);
	cr_assert(strstr(err.msg, "No such file"), "%s", err.msg);
	/* The cheap check of af backup list sees a cut, not a flip. */
	path_in("ok.db", path, sizeof(path));
	cr_assert_eq(af_store_snapshot_peek(path, &bytes, NULL), 0);
	cr_assert_gt(bytes, 0);
	path_in("short.db", path, sizeof(path));
	cr_assert_eq(af_store_snapshot_peek(path, &bytes, NULL), AF_ECORRUPT);
}

/* ---- names --------------------------------------------------------------- */

TestSuite(backup_names, .init = af_test_alloc_begin, .fini = af_test_alloc_end);

Test(backup_names, parse)
{
	int64_t t = 0;
	uint64_t i = 0;

	cr_assert_eq(controld_backup_parse_name(
			     "backup-20261202T041525.213Z-4711.db", &t, &i),
		     0);
	cr_assert_eq(i, 4711);
	cr_assert_eq(t, 1796184925213LL);
	cr_assert_neq(
		controld_backup_parse_name(
			"backup-20261202T041525.213Z-4711.db.tmp", &t, &i),
		0);
	cr_assert_neq(controld_backup_parse_name(
			      ".tmp-backup-20261202T041525.213Z-1.db", &t, &i),
		      0);
	cr_assert_neq(controld_backup_parse_name("backup-20261202T041525Z-1.db",
						 &t, &i),
		      0);
	cr_assert_neq(controld_backup_parse_name(
			      "backup-20261202T041525.213Z-.db", &t, &i),
		      0);
}

/* ---- pruning a dir shared by leaders whose clocks disagree --------------- */

static void touch_file(const char *dir, const char *name)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(fd, 0, "%s", path);
	close(fd);
}

static bool exists(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

TestSuite(backup_prune, .init = setup, .fini = teardown);

Test(backup_prune, by_index_across_leaders_never_the_new_file)
{
	char names[3][CONTROLD_BACKUP_NAME_MAX];
	size_t n = 0;

	/* The old leader's clock ran an hour ahead; the new leader's first
	 * backup (index 30) has the earliest time of all. */
	touch_file(tmpdir, "backup-20261202T051000.000Z-10.db");
	touch_file(tmpdir, "backup-20261202T052000.000Z-20.db");
	touch_file(tmpdir, "backup-20261202T041000.000Z-30.db");
	touch_file(tmpdir, "notes.txt");
	cr_assert_eq(controld_backup_scan(tmpdir, names, 3, &n, NULL), 0);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(names[0], "backup-20261202T051000.000Z-10.db");
	cr_assert_str_eq(names[2], "backup-20261202T041000.000Z-30.db");
	/* The newest max by index, not by name. */
	cr_assert_eq(controld_backup_scan(tmpdir, names, 1, &n, NULL), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(names[0], "backup-20261202T041000.000Z-30.db");

	cr_assert_eq(controld_backup_prune(tmpdir, 2,
					   "backup-20261202T041000.000Z-30.db"),
		     1);
	cr_assert(!exists(tmpdir, "backup-20261202T051000.000Z-10.db"));
	cr_assert(exists(tmpdir, "backup-20261202T052000.000Z-20.db"));
	cr_assert(exists(tmpdir, "backup-20261202T041000.000Z-30.db"));
	cr_assert(exists(tmpdir, "notes.txt"));

	/* A file named as newer than the one just written (an index from
	 * another cluster's leader, say) never gets it pruned. */
	touch_file(tmpdir, "backup-20261202T060000.000Z-99.db");
	cr_assert_eq(controld_backup_prune(tmpdir, 1,
					   "backup-20261202T041000.000Z-30.db"),
		     1);
	cr_assert(!exists(tmpdir, "backup-20261202T052000.000Z-20.db"));
	cr_assert(exists(tmpdir, "backup-20261202T041000.000Z-30.db"));
	cr_assert(exists(tmpdir, "backup-20261202T060000.000Z-99.db"));
}
