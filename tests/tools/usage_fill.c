/* Builds a controld state holding many usage (showback) rows and writes it
 * as a backup file for `controld --restore`, so a real controld serves
 * `af report` over it. Rows go in through the apply code of the usage
 * entries (af_showback_apply), one (day, tenant, class, model, revision)
 * key each; with --csv every row is also written as
 * "day_ms,tenant,class,model,revision,count,ok,cost,failed_cost" so a test
 * can sum them independently.
 *
 * usage: usage_fill DIR CLUSTER OUT DAYS TENANTS CLASSES MODELS REVS
 *                   FIRST_DAY(YYYY-MM-DD) [CSV]
 * Rows: DAYS * TENANTS * CLASSES * MODELS * REVS (at most 10,000,000).
 *
 * usage_fill --workflows DIR CLUSTER OUT DAYS TENANTS CLASSES LABELS
 *                   FIRST_DAY HOPS: workflow rows instead (af report
 *                   --unit workflow), one per (day, tenant, class,
 *                   labels.cost_center value), through their apply code,
 *                   holding HOPS hops in all (10 per workflow).
 *
 * usage_fill --scan DIR CLUSTER: walks every usage row of the store in DIR
 * once, unpacking each showback and workflow value and nothing else, and
 * prints the rows and the milliseconds taken: the floor a report's full
 * scan cannot beat. */
#include "common/err.h"
#include "controld/fsm_int.h"
#include "store/store.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DAY_MS 86400000ll
#define MAX_ROWS 10000000ull
#define BATCH 50000ull

struct fill {
	uint64_t dim[5]; /* days, tenants, classes, models, revs */
	uint64_t total, next;
	int64_t first_ms;
	FILE *csv;
	uint64_t hops; /* --workflows: hops in all */
};

/* Workflow row i: 10 hops a workflow, 80% succeed, 15% fail. */
static void wrow_of(const struct fill *f, uint64_t i, int64_t *day,
		    Af__WorkflowRow *r, char names[3][24], char **lab,
		    uint64_t *hist)
{
	uint64_t c[4], x = i, wfs = f->hops / 10;
	uint64_t n = wfs / f->total + (i < wfs % f->total);

	for (int d = 3; d >= 0; d--) {
		c[d] = x % f->dim[d];
		x /= f->dim[d];
	}
	*day = f->first_ms + (int64_t)c[0] * DAY_MS;
	snprintf(names[0], 24, "t%06llu", (unsigned long long)c[1]);
	snprintf(names[1], 24, "c%03llu", (unsigned long long)c[2]);
	snprintf(names[2], 24, "cost_center=cc%04llu",
		 (unsigned long long)c[3]);
	r->tenant = names[0];
	r->class_name = names[1];
	*lab = names[2];
	r->labels = lab;
	r->n_labels = 1;
	r->workflows = n;
	r->succeeded = n - n / 5;
	r->failed = n * 15 / 100;
	r->abandoned = n - r->succeeded - r->failed;
	r->hops = n * 10;
	r->inference_micro = (int64_t)(n * (20000 + i % 5000));
	r->tool_micro = (int64_t)n * 1000;
	r->human_micro = (int64_t)(i % 7) * 50000;
	r->waste_micro = (int64_t)(r->failed + r->abandoned) * 21000;
	r->success_min_micro = 20000;
	r->success_max_micro = 80000;
	hist[0] = 140 + i % 20;
	hist[1] = r->succeeded;
	r->success_hist = hist;
	r->n_success_hist = r->succeeded ? 2 : 0;
}

/* Row i's coordinates and values: deterministic, varied per row. */
static void row_of(const struct fill *f, uint64_t i, int64_t *day,
		   Af__UsageRow *r, char names[3][16])
{
	uint64_t c[5], x = i;

	for (int d = 4; d >= 0; d--) {
		c[d] = x % f->dim[d];
		x /= f->dim[d];
	}
	*day = f->first_ms + (int64_t)c[0] * DAY_MS;
	snprintf(names[0], 16, "t%06llu", (unsigned long long)c[1]);
	snprintf(names[1], 16, "c%03llu", (unsigned long long)c[2]);
	snprintf(names[2], 16, "m%04llu", (unsigned long long)c[3]);
	r->tenant = names[0];
	r->class_name = names[1];
	r->model = names[2];
	r->revision = c[4] + 1;
	r->count = 1 + (i * 7) % 13;
	r->ok = r->count - (i % 3 == 0);
	r->cost_nano_usd = (int64_t)((i % 997) + 1) * 1000;
	r->failed_cost_nano_usd = (int64_t)(i % 5) * 100;
}

static int fill_batch(struct af_txn *t, void *arg)
{
	struct fill *f = arg;
	uint64_t end = f->next + BATCH < f->total ? f->next + BATCH : f->total;

	for (uint64_t i = f->next; f->hops > 0 && i < end; i++) {
		Af__WorkflowRow r = AF__WORKFLOW_ROW__INIT;
		char names[3][24], *lab;
		uint64_t hist[2];
		int64_t day;
		int rc;

		wrow_of(f, i, &day, &r, names, &lab, hist);
		if ((rc = af_workflow_apply_row(t, day, &r)) != 0)
			return rc;
	}
	for (uint64_t i = f->next; f->hops == 0 && i < end; i++) {
		Af__UsageRow r = AF__USAGE_ROW__INIT;
		char names[3][16];
		int64_t day;
		int rc;

		row_of(f, i, &day, &r, names);
		if ((rc = af_showback_apply(t, day + 3600000, &r)) != 0)
			return rc;
	}
	return 0;
}

static int scan_row(const void *key, size_t klen, const void *val, size_t vlen,
		    void *arg)
{
	uint64_t *n = arg;

	if (klen > 3 && memcmp(key, "wf/", 3) == 0) {
		Af__WorkflowRow *w = af__workflow_row__unpack(NULL, vlen, val);

		if (w == NULL)
			return AF_ECORRUPT;
		n[0]++;
		n[1] += w->hops;
		af__workflow_row__free_unpacked(w, NULL);
		return 0;
	}
	if (klen > 3 && memcmp(key, "sb/", 3) == 0) {
		Af__Showback *sb = af__showback__unpack(NULL, vlen, val);

		if (sb == NULL)
			return AF_ECORRUPT;
		n[0]++;
		n[1] += sb->count;
		af__showback__free_unpacked(sb, NULL);
	}
	return 0; /* the label value counters ("wv/", "wn/") */
}

static int scan(const char *dir, const char *cluster)
{
	struct af_store_opts o = {.cluster = cluster};
	struct af_store *s = NULL;
	struct af_err err = {{0}};
	struct af_txn *t;
	struct timespec a, b;
	uint64_t n[2] = {0, 0};
	int rc;

	if (af_store_open(dir, &o, &s, &err) != 0 ||
	    af_store_read_begin(s, &t, &err) != 0) {
		fprintf(stderr, "usage_fill: %s\n", err.msg);
		af_store_close(s);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	rc = af_txn_iter(t, AF_TABLE_USAGE, false, scan_row, n);
	clock_gettime(CLOCK_MONOTONIC, &b);
	af_store_read_end(t);
	af_store_close(s);
	if (rc != 0) {
		fprintf(stderr, "usage_fill: scan: %s\n", af_strerror(rc));
		return 1;
	}
	printf("%llu rows %.1f ms\n", (unsigned long long)n[0],
	       (double)(b.tv_sec - a.tv_sec) * 1e3 +
		       (double)(b.tv_nsec - a.tv_nsec) / 1e6);
	return 0;
}

int main(int argc, char **argv)
{
	struct af_store_opts o = {0};
	struct af_store *s = NULL;
	struct af_err err = {{0}};
	struct fill f = {0};
	struct tm tm = {0};
	int fd, rc;

	if (argc == 4 && strcmp(argv[1], "--scan") == 0)
		return scan(argv[2], argv[3]);
	if (argc == 11 && strcmp(argv[1], "--workflows") == 0) {
		/* DAYS TENANTS CLASSES LABELS in the first four dimensions */
		f.hops = strtoull(argv[10], NULL, 10);
		argv[10] = argv[9];
		argv[9] = (char *)"1";
		argv++;
		argc = 10;
		if (f.hops == 0) {
			fprintf(stderr, "usage_fill: bad HOPS\n");
			return 2;
		}
	}
	if (argc != 10 && argc != 11) {
		fprintf(stderr,
			"usage: usage_fill DIR CLUSTER OUT DAYS TENANTS "
			"CLASSES MODELS REVS FIRST_DAY [CSV]\n");
		return 2;
	}
	f.total = 1;
	for (int d = 0; d < 5; d++) {
		f.dim[d] = strtoull(argv[4 + d], NULL, 10);
		if (f.dim[d] == 0 || f.dim[d] > MAX_ROWS) {
			fprintf(stderr, "usage_fill: bad count %s\n",
				argv[4 + d]);
			return 2;
		}
		f.total *= f.dim[d];
		if (f.total > MAX_ROWS) {
			fprintf(stderr, "usage_fill: over %llu rows\n",
				MAX_ROWS);
			return 2;
		}
	}
	if (strptime(argv[9], "%Y-%m-%d", &tm) == NULL) {
		fprintf(stderr, "usage_fill: FIRST_DAY is YYYY-MM-DD\n");
		return 2;
	}
	f.first_ms = (int64_t)timegm(&tm) * 1000;
	o.cluster = argv[2];
	o.nosync = true;
	o.initial_map_size = 64u << 20;
	if (af_store_open(argv[1], &o, &s, &err) != 0) {
		fprintf(stderr, "usage_fill: %s\n", err.msg);
		return 1;
	}
	for (f.next = 0; f.next < f.total; f.next += BATCH)
		if ((rc = af_store_update(s, fill_batch, &f, &err)) != 0) {
			fprintf(stderr, "usage_fill: %s: %s\n", af_strerror(rc),
				err.msg);
			af_store_close(s);
			return 1;
		}
	if (argc == 11) {
		f.csv = fopen(argv[10], "w");
		for (uint64_t i = 0; f.csv && i < f.total; i++) {
			Af__UsageRow r = AF__USAGE_ROW__INIT;
			char names[3][16];
			int64_t day;

			row_of(&f, i, &day, &r, names);
			fprintf(f.csv,
				"%lld,%s,%s,%s,%llu,%llu,%llu,%lld,%lld\n",
				(long long)day, r.tenant, r.class_name, r.model,
				(unsigned long long)r.revision,
				(unsigned long long)r.count,
				(unsigned long long)r.ok,
				(long long)r.cost_nano_usd,
				(long long)r.failed_cost_nano_usd);
		}
		if (f.csv == NULL || fclose(f.csv) != 0) {
			fprintf(stderr, "usage_fill: cannot write %s\n",
				argv[10]);
			af_store_close(s);
			return 1;
		}
	}
	fd = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	rc = fd < 0 ? -1 : af_store_snapshot_fd(s, fd, &err);
	if (fd >= 0)
		close(fd);
	af_store_close(s);
	if (rc != 0) {
		fprintf(stderr, "usage_fill: snapshot %s: %s\n", argv[3],
			fd < 0 ? "cannot open" : err.msg);
		return 1;
	}
	printf("%llu rows\n", (unsigned long long)f.total);
	return 0;
}
