/* Snapshot figures at R policy revisions, applied through the state machine
 * to a real LMDB store: the copy snapshot (compacted copy + SHA-256, all on
 * the calling thread, what raft snapshots were) against the view snapshot
 * (af_store_view_begin on the calling thread, the pieces written out by
 * another thread, as libraft's thread pool does): time on the applying
 * thread, size, bytes per revision, and the per-entry apply time (p50, p99,
 * max) of a stream of entries with a snapshot every T entries, the figure a
 * commit sees. Optionally writes a backup of the state (-o) for
 * `controld --restore`. Prints figures; asserts nothing. */
#include "bench/lib/util.h"
#include "controld/fsm.h"
#include "policy/policy.h"
#include "proto/af.pb-c.h"
#include "store/store.h"
#include "tests/lib/policy_fixture.h"
#include "tests/lib/tmpdir.h"

#include "common/alloc.h"

#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <raft.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_REVISIONS 1000000
#define MAX_STREAM 100000

struct bench {
	unsigned keep; /* history.revisions stamped on each apply */
	struct af_store *store;
	struct af_fsm fsm;
	uint64_t idx;
	char dir[64];
};

static int apply(struct bench *b, Af__Command *cmd)
{
	void *buf;
	size_t len;
	int rc;

	cmd->principal = (char *)"bench";
	cmd->time_ms = 1795341600000LL + (int64_t)b->idx;
	if (af_fsm_encode_entry(cmd, &buf, &len) != 0)
		return -1;
	rc = af_fsm_apply_entry(&b->fsm, ++b->idx, buf, len);
	raft_free(buf);
	return rc;
}

/* Revision k: the example policy with one SLO changed, so every bundle is
 * distinct (as a policy history is), compiled as the leader would. */
static int apply_revision(struct bench *b, unsigned k)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__PolicyApply pa = AF__POLICY_APPLY__INIT;
	struct af_bundle *bundle = NULL;
	struct af_err err = {{0}};
	char to[64], *src;
	size_t len;
	int rc;

	snprintf(to, sizeof(to), "latency_slo_ms: %u", 1500 + k);
	src = pf_replace(pf_example_policy, "latency_slo_ms: 1500", to);
	if (src == NULL)
		return -1;
	rc = af_bundle_compile("policy.yaml", src, strlen(src), &bundle, &err);
	if (rc != 0) {
		fprintf(stderr, "snapshot: compile: %s\n", err.msg);
		af_free(src);
		return rc;
	}
	pa.hash = (char *)af_bundle_hash(bundle);
	pa.name = (char *)af_bundle_name(bundle);
	pa.source.data = (uint8_t *)src;
	pa.source.len = strlen(src);
	pa.compiled.data = (uint8_t *)af_bundle_bytes(bundle, &len);
	pa.compiled.len = len;
	pa.history_revisions = b->keep;
	cmd.op_case = AF__COMMAND__OP_POLICY_APPLY;
	cmd.policy_apply = &pa;
	rc = apply(b, &cmd);
	if (rc == 0 && b->fsm.result.code != 0) {
		fprintf(stderr, "snapshot: revision %u: %s\n", k,
			b->fsm.result.message);
		rc = -1;
	}
	af_bundle_free(bundle);
	af_free(src);
	return rc;
}

static int apply_noop(struct bench *b)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__Noop noop = AF__NOOP__INIT;

	cmd.op_case = AF__COMMAND__OP_NOOP;
	cmd.noop = &noop;
	return apply(b, &cmd);
}

/* Writes the pieces of a view to a file, as libraft's thread pool does. */
struct writer {
	const char *path;
	struct af_store_part parts[AF_STORE_VIEW_PARTS];
	double seconds;
	int rc;
	atomic_bool done;
};

static void *write_parts(void *arg)
{
	struct writer *w = arg;
	double t0 = bench_now_s();
	int fd = open(w->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	w->rc = fd < 0 ? -1 : 0;
	for (int i = 0; i < AF_STORE_VIEW_PARTS && w->rc == 0; i++) {
		const uint8_t *p = w->parts[i].base;
		size_t left = w->parts[i].len;
		while (left > 0 && w->rc == 0) {
			ssize_t n = write(fd, p, left);
			if (n <= 0)
				w->rc = -1;
			else {
				p += n;
				left -= (size_t)n;
			}
		}
	}
	if (fd >= 0 && (fsync(fd) != 0 || close(fd) != 0))
		w->rc = -1;
	w->seconds = bench_now_s() - t0;
	atomic_store(&w->done, true);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Takes a snapshot into w: a copy (one heap piece, *ret_buf) or a view. */
static int take(struct bench *b, bool view, struct writer *w,
		struct af_store_view **ret_view, void **ret_buf)
{
	uint64_t applied;
	int rc;

	if (view)
		return af_store_view_begin(b->store, ret_view, w->parts,
					   &applied, NULL);
	rc = af_store_snapshot(b->store, ret_buf, &w->parts[0].len, &applied,
			       NULL);
	if (rc == 0)
		w->parts[0].base = *ret_buf;
	return rc;
}

/* Per-entry apply times of `n` noops with a snapshot every `every`
 * entries, as the loop takes them: a copy (view: false) or a view (true)
 * made on this thread, then written out and synced by another thread, as
 * libraft's thread pool does; the next one starts once that is done. */
static int stream(struct bench *b, unsigned n, unsigned every, bool view,
		  const char *path, double *ret_p50, double *ret_p99,
		  double *ret_max, double *ret_write)
{
	double write_s = 0;
	unsigned writes = 0;
	double *lat = calloc(n, sizeof(double));
	struct af_store_view *v = NULL;
	void *buf = NULL;
	struct writer w;
	pthread_t th;
	bool writing = false;
	int rc = 0;

	if (lat == NULL)
		return -1;
	for (unsigned i = 0; i < n && rc == 0; i++) {
		double t0 = bench_now_s();
		rc = apply_noop(b);
		if (rc == 0 && (i + 1) % every == 0 && !writing) {
			memset(&w, 0, sizeof(w));
			w.path = path;
			atomic_init(&w.done, false);
			rc = take(b, view, &w, &v, &buf);
			if (rc == 0)
				rc = pthread_create(&th, NULL, write_parts, &w);
			writing = rc == 0;
		}
		lat[i] = bench_now_s() - t0;
		if (writing && (atomic_load(&w.done) || i + 1 == n)) {
			/* libraft's after-work callback: finalize */
			pthread_join(th, NULL);
			af_store_view_end(v);
			af_free(buf);
			v = NULL;
			buf = NULL;
			writing = false;
			rc = w.rc;
			write_s += w.seconds;
			writes++;
		}
	}
	qsort(lat, n, sizeof(double), cmp_double);
	*ret_p50 = lat[n / 2];
	*ret_p99 = lat[(size_t)((double)n * 0.99)];
	*ret_max = lat[n - 1];
	*ret_write = writes ? write_s / writes : 0;
	free(lat);
	return rc;
}

static long rss_kb(const char *field)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, strlen(field)) == 0)
			v = strtol(line + strlen(field) + 1, NULL, 10);
	fclose(f);
	return v;
}

static size_t bundles(struct bench *b)
{
	struct af_txn *t;
	size_t n;

	if (af_store_read_begin(b->store, &t, NULL) != 0)
		return 0;
	n = af_txn_count(t, AF_TABLE_BUNDLES);
	af_store_read_end(t);
	return n;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: snapshot [-r REVISIONS] [-n ENTRIES] [-t EVERY] "
		   "[-k KEEP] [-u N] [-c CLUSTER] [-o BACKUP]\n"
		   "  -r  policy revisions in the state (default 10000)\n"
		   "  -k  history.revisions: bundles of the newest KEEP "
		   "revisions kept\n"
		   "      (default 1000; 0: every bundle, as before "
		   "retention)\n"
		   "  -u  an upgraded store: the revisions without retention,"
		   " then N more\n"
		   "      with -k KEEP (default 0: retention from the start)\n"
		   "  -n  entries of the apply stream (default 4096)\n"
		   "  -t  a snapshot every EVERY entries of it (default 256)\n"
		   "  -c  cluster name of the store (default bench)\n"
		   "  -o  also write a backup of the state to BACKUP\n"
		   "The cluster figures: sh bench/snapshot.sh\n");
}

int main(int argc, char **argv)
{
	struct af_store_opts o = {.nosync = true};
	struct af_store_part parts[AF_STORE_VIEW_PARTS];
	struct af_store_view *v;
	struct bench b = {.keep = 1000};
	struct af_err err = {{0}};
	const char *backup = NULL, *cluster = "bench";
	unsigned long revs = 10000, n = 4096, every = 256, upgrade = 0;
	unsigned keep;
	double t0, copy_s, view_s, p50[2], p99[2], mx[2], wr[2];
	size_t copy_len, view_len = 0, live, extent;
	uint64_t applied;
	char path[128];
	void *buf;
	int ch, rc = 0;

	while ((ch = getopt(argc, argv, "r:n:t:k:u:c:o:h")) != -1) {
		switch (ch) {
		case 'r':
			revs = strtoul(optarg, NULL, 10);
			break;
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 't':
			every = strtoul(optarg, NULL, 10);
			break;
		case 'k':
			b.keep = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'u':
			upgrade = strtoul(optarg, NULL, 10);
			break;
		case 'c':
			cluster = optarg;
			break;
		case 'o':
			backup = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || revs == 0 || revs > MAX_REVISIONS ||
	    upgrade > MAX_REVISIONS || n < 2 || n > MAX_STREAM || every < 2 ||
	    every > n) {
		usage(stderr);
		return 2;
	}
	o.cluster = cluster;
	snprintf(b.dir, sizeof(b.dir), "/tmp/af-bench-snap.XXXXXX");
	if (mkdtemp(b.dir) == NULL) {
		perror("snapshot: mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s.pieces", b.dir);
	rc = af_store_open(b.dir, &o, &b.store, &err);
	if (rc != 0) {
		fprintf(stderr, "snapshot: %s\n", err.msg);
		goto out_rm;
	}
	af_fsm_init(&b.fsm, b.store);
	t0 = bench_now_s();
	keep = b.keep;
	if (upgrade > 0)
		b.keep = 0; /* written before retention existed */
	for (unsigned k = 1; k <= revs && rc == 0; k++)
		rc = apply_revision(&b, k);
	if (rc != 0)
		goto out_close;
	printf("state: %lu policy revisions applied in %.2f s, "
	       "history.revisions %u, %zu bundles stored\n",
	       revs, bench_now_s() - t0, b.keep, bundles(&b));
	if (upgrade > 0) {
		b.keep = keep;
		t0 = bench_now_s();
		for (unsigned k = 1; k <= upgrade && rc == 0; k++)
			rc = apply_revision(&b, (unsigned)revs + k);
		if (rc != 0)
			goto out_close;
		printf("upgrade: %lu more revisions with history.revisions %u "
		       "in %.2f s, %zu bundles stored\n",
		       upgrade, b.keep, bench_now_s() - t0, bundles(&b));
		revs += upgrade;
	}

	t0 = bench_now_s();
	rc = af_store_snapshot(b.store, &buf, &copy_len, &applied, &err);
	copy_s = bench_now_s() - t0;
	if (rc != 0)
		goto out_err;
	af_free(buf);
	t0 = bench_now_s();
	rc = af_store_view_begin(b.store, &v, parts, &applied, &err);
	view_s = bench_now_s() - t0;
	if (rc != 0)
		goto out_err;
	for (int i = 0; i < AF_STORE_VIEW_PARTS; i++)
		view_len += parts[i].len;
	af_store_view_end(v);
	printf("snapshot copy (compacted + SHA-256, on the applying thread): "
	       "%.2f MB, %.0f bytes/revision, %.1f ms on the thread\n",
	       (double)copy_len / 1e6, (double)copy_len / (double)revs,
	       copy_s * 1e3);
	printf("snapshot view (pages copied, written by another thread):    "
	       "%.2f MB, %.0f bytes/revision, %.3f ms on the thread\n",
	       (double)view_len / 1e6, (double)view_len / (double)revs,
	       view_s * 1e3);

	if (af_store_pages(b.store, &live, &extent, &err) != 0)
		goto out_err;
	printf("pages: %zu live of %zu in the file's extent: controld's raft "
	       "snapshot is the %s\n",
	       live, extent,
	       af_fsm_snapshot_compacts(b.store) ? "compacted copy" : "view");

	for (int m = 0; m < 2 && rc == 0; m++)
		rc = stream(&b, (unsigned)n, (unsigned)every, m == 1, path,
			    &p50[m], &p99[m], &mx[m], &wr[m]);
	if (rc != 0) {
		fprintf(stderr, "snapshot: apply stream failed\n");
		goto out_close;
	}
	printf("apply stream, %lu noops, a snapshot every %lu "
	       "(p50 / p99 / max ms per entry):\n",
	       n, every);
	printf("  copy snapshots: %.3f / %.3f / %.1f (written and synced in "
	       "%.1f ms each)\n",
	       p50[0] * 1e3, p99[0] * 1e3, mx[0] * 1e3, wr[0] * 1e3);
	printf("  view snapshots: %.3f / %.3f / %.1f (written and synced in "
	       "%.1f ms each)\n",
	       p50[1] * 1e3, p99[1] * 1e3, mx[1] * 1e3, wr[1] * 1e3);
	printf("  max ratio copy / view: %.1fx\n", mx[0] / mx[1]);
	printf("rss: %ld kB (high-water %ld kB)\n", rss_kb("VmRSS:"),
	       rss_kb("VmHWM:"));
	if (backup != NULL) {
		int fd = open(backup, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0) {
			perror("snapshot: backup");
			rc = 1;
			goto out_close;
		}
		rc = af_store_snapshot_fd(b.store, fd, &err);
		if (close(fd) != 0 && rc == 0)
			rc = 1;
		if (rc != 0)
			goto out_err;
		printf("backup: %s\n", backup);
	}
	goto out_close;
out_err:
	fprintf(stderr, "snapshot: %s\n", err.msg);
out_close:
	af_store_close(b.store);
out_rm:
	unlink(path);
	af_test_rmtree(b.dir);
	return rc == 0 ? 0 : 1;
}
