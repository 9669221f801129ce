/* Store figures: commit throughput (nosync on and off), snapshot, restore and
 * state hash of a ~10k-record store. Prints figures; asserts nothing. */
#include "bench/lib/util.h"
#include "tests/lib/tmpdir.h"
#include "store/store.h"

#include "common/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct one {
	uint64_t seq;
	size_t vlen;
};

/* One small record plus the applied index, as the FSM does per entry. */
static int put_one(struct af_txn *t, void *arg)
{
	struct one *o = arg;
	uint8_t key[8], val[256];
	int rc;

	memset(val, (int)(o->seq & 0xff), sizeof(val));
	af_store_key_u64(o->seq, key);
	rc = af_txn_put(t, AF_TABLE_AUDIT, key, sizeof(key), val, o->vlen);
	if (rc == 0)
		rc = af_txn_set_applied(t, o->seq, 1);
	return rc;
}

static struct af_store *open_at(const char *base, const char *sub, bool nosync)
{
	struct af_store_opts o = {.cluster = "bench", .nosync = nosync};
	struct af_store *s = NULL;
	struct af_err err = {{0}};
	char dir[512];

	snprintf(dir, sizeof(dir), "%s/%s", base, sub);
	if (af_store_open(dir, &o, &s, &err) != 0) {
		fprintf(stderr, "open %s: %s\n", dir, err.msg);
		exit(1);
	}
	return s;
}

static void commits(const char *base, bool nosync, int n)
{
	struct af_store *s = open_at(base, nosync ? "nosync" : "sync", nosync);
	struct af_err err = {{0}};
	double t0 = bench_now_s(), dt;

	for (int i = 1; i <= n; i++) {
		struct one o = {(uint64_t)i, 64};
		if (af_store_update(s, put_one, &o, &err) != 0) {
			fprintf(stderr, "update: %s\n", err.msg);
			exit(1);
		}
	}
	dt = bench_now_s() - t0;
	printf("commit 64 B + applied, nosync=%s: %d commits in %.3f s: "
	       "%.0f commits/s, %.1f us/commit\n",
	       nosync ? "on " : "off", n, dt, (double)n / dt,
	       dt * 1e6 / (double)n);
	af_store_close(s);
}

struct fill {
	int n;
};

static int put_many(struct af_txn *t, void *arg)
{
	struct fill *f = arg;
	int rc = 0;

	for (int i = 1; i <= f->n && rc == 0; i++) {
		struct one o = {(uint64_t)i, 200};
		rc = put_one(t, &o);
	}
	return rc;
}

static void snapshot_figures(const char *base, int n)
{
	struct af_store *s = open_at(base, "snap-src", true);
	struct af_store *d = open_at(base, "snap-dst", true);
	struct af_err err = {{0}};
	struct fill f = {n};
	uint8_t h[32];
	uint64_t applied;
	size_t len;
	void *buf;
	double t0;

	if (af_store_update(s, put_many, &f, &err) != 0) {
		fprintf(stderr, "fill: %s\n", err.msg);
		exit(1);
	}
	t0 = bench_now_s();
	if (af_store_snapshot(s, &buf, &len, &applied, &err) != 0) {
		fprintf(stderr, "snapshot: %s\n", err.msg);
		exit(1);
	}
	printf("snapshot of %d records of 200 B: %zu bytes (%.2f MiB) in "
	       "%.2f ms\n",
	       n, len, (double)len / 1048576.0, (bench_now_s() - t0) * 1e3);
	t0 = bench_now_s();
	if (af_store_restore(d, buf, len, &err) != 0) {
		fprintf(stderr, "restore: %s\n", err.msg);
		exit(1);
	}
	printf("restore of that snapshot (fsync included): %.2f ms\n",
	       (bench_now_s() - t0) * 1e3);
	t0 = bench_now_s();
	if (af_store_state_hash(d, h, &err) != 0) {
		fprintf(stderr, "hash: %s\n", err.msg);
		exit(1);
	}
	printf("state hash of %d records: %.2f ms\n", n,
	       (bench_now_s() - t0) * 1e3);
	af_free(buf);
	af_store_close(s);
	af_store_close(d);
}

int main(void)
{
	char base[] = "/tmp/af-bench-store-XXXXXX";

	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	commits(base, true, 20000);
	commits(base, false, 500);
	snapshot_figures(base, 10000);
	af_test_rmtree(base);
	return 0;
}
