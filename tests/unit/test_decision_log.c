/* routerd's decision log (routerd/decision_log.c) without a cluster:
 * records as written, sampling, rotation by size and retention by count
 * (older files of the directory included), two threads logging through
 * the writer thread (every record once; closed files leave the page
 * cache), queue overflow and oversize
 * records counted as dropped, GET lookups of recent records, trace ids. */
#include "common/alloc.h"
#include "common/metrics.h"
#include "routerd/decision_log.h"
#include "tests/lib/alloc_check.h"
#include "tests/lib/policy_fixture.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

static struct af_policy_view *view;
static char dir[64];

static void setup(void)
{
	struct af_err err = {{0}};

	af_test_alloc_begin();
	cr_assert_eq(pf_view(pf_example_policy, pf_example_models, &view, &err),
		     0, "%s", err.msg);
	snprintf(dir, sizeof(dir), "/tmp/af-dlog-test.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	af_policy_view_free(view);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
	af_test_alloc_end();
}

TestSuite(dlog, .init = setup, .fini = teardown);

static struct routerd_dlog *open_log(uint64_t max_bytes, unsigned keep)
{
	struct routerd_dlog_config c = {.dir = dir,
					.routerd = "r\"1",
					.max_bytes = max_bytes,
					.keep = keep,
					.no_writer = true};
	struct routerd_dlog *l = NULL;
	struct af_err err = {{0}};

	cr_assert_eq(routerd_dlog_new(&c, &l, &err), 0, "%s", err.msg);
	return l;
}

/* Decides the example request as workflow `seq` and queues its record. */
static void put(struct routerd_dlog *l, uint64_t seq, const char *extra)
{
	static _Thread_local struct af_live_rec rec;
	struct af_request req;
	struct af_request_error re;
	struct af_decision d;
	struct af_live live;
	char body[4096], id[64], json[65536];
	size_t n;

	snprintf(json, sizeof(json),
		 "{\"workflow_id\":\"wf-%llu\",\"tenant\":\"t\",\"class\":"
		 "\"research-agent\"%s}",
		 (unsigned long long)seq, extra);
	cr_assert_eq(pf_request(json, &req, &re), 0, "%s", re.message);
	snprintf(id, sizeof(id), "r\"1-%016llx", (unsigned long long)seq);
	af_live_rec_wrap(&rec, NULL, view, &live);
	cr_assert_eq(af_decide(view, &req, &live, id, &d, NULL), 0);
	af_live_rec_finish(&rec, &d);
	cr_assert_eq(af_decision_json(&d, body, sizeof(body), &n), 0);
	struct routerd_dlog_rec r = {.seq = seq,
				     .wall_ms = 1764633600123,
				     .req = &req,
				     .d = &d,
				     .body = body,
				     .body_len = n,
				     .live = &rec,
				     .trace_id = "abc"};
	routerd_dlog_put(l, &r);
}

/* Log files in dir, and their lines in total. */
static int files(size_t *ret_lines)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	char path[512], line[65536];
	int n = 0;

	*ret_lines = 0;
	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL) {
		FILE *f;

		if (strncmp(e->d_name, "decisions-", 10) != 0)
			continue;
		n++;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		f = fopen(path, "r");
		cr_assert_not_null(f);
		while (fgets(line, sizeof(line), f) != NULL)
			(*ret_lines)++;
		fclose(f);
	}
	closedir(d);
	return n;
}

static uint64_t metric(struct routerd_dlog *l, const char *name)
{
	struct af_textbuf b = {0};
	char key[128];
	const char *p;
	uint64_t v = UINT64_MAX;

	routerd_dlog_metrics(l, &b);
	snprintf(key, sizeof(key), "\n%s ", name);
	p = b.buf != NULL ? strstr(b.buf, key) : NULL;
	if (p != NULL)
		v = strtoull(p + strlen(key), NULL, 10);
	af_textbuf_free(&b);
	return v;
}

Test(dlog, record_fields_and_lookup)
{
	struct routerd_dlog *l = open_log(1u << 20, 4);
	char *line = NULL;
	size_t len = 0;
	json_t *j;

	put(l, 7, "");
	routerd_dlog_flush(l);
	cr_assert_eq(routerd_dlog_get(l, 7, &line, &len), 0);
	j = json_loadb(line, len, 0, NULL);
	cr_assert_not_null(j, "%s", line);
	cr_expect_str_eq(json_string_value(json_object_get(j, "ts")),
			 "2025-12-02T00:00:00.123Z");
	cr_expect_str_eq(json_string_value(json_object_get(j, "routerd")),
			 "r\"1");
	cr_expect_str_eq(json_string_value(json_object_get(j, "decision_id")),
			 "r\"1-0000000000000007");
	cr_expect_str_eq(
		json_string_value(json_object_get(
			json_object_get(j, "decision"), "decision_id")),
		"r\"1-0000000000000007");
	cr_expect_str_eq(json_string_value(json_object_get(
				 json_object_get(j, "request"), "workflow_id")),
			 "wf-7");
	cr_expect_str_eq(json_string_value(json_object_get(j, "trace_id")),
			 "abc");
	cr_expect(json_is_object(
		json_object_get(json_object_get(j, "live"), "lanes")));
	json_decref(j);
	af_free(line);
	cr_expect_eq(routerd_dlog_get(l, 8, &line, &len), AF_ENOTFOUND);
	cr_expect_eq(metric(l, "af_routerd_decision_log_records_total"), 1);
	routerd_dlog_free(l);
}

Test(dlog, rotation_and_retention)
{
	struct routerd_dlog *l;
	char old[512];
	size_t lines;
	int fd;

	/* Files of an earlier run: the oldest go first. */
	for (int i = 1; i <= 3; i++) {
		snprintf(old, sizeof(old),
			 "%s/decisions-20200101T000000-%d.jsonl", dir, i);
		fd = open(old, O_CREAT | O_WRONLY, 0600);
		cr_assert_geq(fd, 0);
		close(fd);
	}
	snprintf(old, sizeof(old), "%s/unrelated.txt", dir);
	close(open(old, O_CREAT | O_WRONLY, 0600));
	l = open_log(4096, 3);
	for (uint64_t i = 1; i <= 40; i++) {
		put(l, i, "");
		routerd_dlog_flush(l);
	}
	cr_expect_eq(files(&lines), 3);
	cr_expect_lt(lines, 40);
	cr_expect_gt(lines, 3);
	cr_expect_eq(access(old, F_OK), 0, "a file not of the log deleted");
	snprintf(old, sizeof(old), "%s/decisions-20200101T000000-3.jsonl", dir);
	cr_expect_neq(access(old, F_OK), 0, "an old file kept");
	cr_expect_gt(metric(l, "af_routerd_decision_log_rotations_total"), 3);
	/* Every record still answers GET while it is among the recent. */
	char *line = NULL;
	size_t len;
	cr_expect_eq(routerd_dlog_get(l, 1, &line, &len), 0);
	af_free(line);
	routerd_dlog_free(l);
}

Test(dlog, overflow_and_oversize_are_counted)
{
	struct routerd_dlog *l = open_log(64u << 20, 2);
	static char big[16 * 1600];
	char *p = big;
	size_t lines;
	uint64_t n = 0, written, dropped;

	/* No writer runs: the queue fills, then drops. */
	while (metric(l, "af_routerd_decision_log_dropped_total") < 100) {
		put(l, ++n, "");
		cr_assert_lt(n, 100000);
	}
	routerd_dlog_flush(l);
	written = metric(l, "af_routerd_decision_log_records_total");
	dropped = metric(l, "af_routerd_decision_log_dropped_total");
	cr_expect_eq(written + dropped, n);
	/* one thread: its own queue, filled */
	cr_expect_gt(written, DLOG_QUEUE / 2048);
	files(&lines);
	cr_expect_eq(lines, written);
	/* Drained, it takes records again. */
	put(l, ++n, "");
	routerd_dlog_flush(l);
	cr_expect_eq(metric(l, "af_routerd_decision_log_records_total"),
		     written + 1);
	/* A record over the bound: dropped and counted as too large. */
	p += sprintf(p, ",\"labels\":{");
	/* 16 labels of 255 control characters, each written back as the
	 * six bytes \u0001: over DLOG_LINE_MAX. */
	for (int i = 0; i < 16; i++) {
		p += sprintf(p, "%s\"k%d\":\"", i ? "," : "", i);
		for (int j = 0; j < 255; j++)
			p += sprintf(p, "\\u0001");
		p += sprintf(p, "\"");
	}
	sprintf(p, "}");
	put(l, ++n, big);
	cr_expect_eq(metric(l, "af_routerd_decision_log_too_large_total"), 1);
	cr_expect_eq(metric(l, "af_routerd_decision_log_dropped_total"),
		     dropped + 1);
	routerd_dlog_free(l);
}

/* Whole lines (ending in a newline) in the log files. */
static size_t whole_lines(void)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	char path[512];
	size_t n = 0;
	int ch;

	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL) {
		FILE *f;

		if (strncmp(e->d_name, "decisions-", 10) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		f = fopen(path, "r");
		cr_assert_not_null(f);
		while ((ch = fgetc(f)) != EOF)
			n += ch == '\n';
		fclose(f);
	}
	closedir(d);
	return n;
}

/* Writes that fail (a file size limit here, as a full disk would): the
 * records that did not reach a file are counted as write errors and are
 * not served by GET; the log goes on in a new file (the failed one may end
 * in a cut line), so every record counted as written is a whole line. */
Test(dlog, failed_writes_are_counted_and_not_served)
{
	struct rlimit lim, small;
	struct routerd_dlog *l = open_log(64u << 20, 100);
	uint64_t written, errors, served = 0;
	char *line;
	size_t len;

	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &lim), 0);
	small = lim;
	small.rlim_cur = 8192;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
	for (uint64_t i = 1; i <= 40; i++) {
		put(l, i, "");
		routerd_dlog_flush(l);
	}
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	written = metric(l, "af_routerd_decision_log_records_total");
	errors = metric(l, "af_routerd_decision_log_write_errors_total");
	for (uint64_t i = 1; i <= 40; i++) {
		line = NULL;
		if (routerd_dlog_get(l, i, &line, &len) == 0)
			served++;
		af_free(line);
	}
	routerd_dlog_free(l);
	cr_expect_eq(written + errors, 40, "%llu + %llu",
		     (unsigned long long)written, (unsigned long long)errors);
	cr_expect_gt(written, 0);
	cr_expect_gt(errors, 0);
	cr_expect_eq(served, written, "GET serves %llu records, %llu written",
		     (unsigned long long)served, (unsigned long long)written);
	cr_expect_eq(whole_lines(), written);
}

Test(dlog, sampling)
{
	unsigned hit = 0;

	for (uint64_t s = 1; s <= 100000; s++) {
		cr_assert(routerd_dlog_sampled(s, 1000000));
		cr_assert_not(routerd_dlog_sampled(s, 0));
		hit += routerd_dlog_sampled(s, 250000);
		cr_assert_eq(routerd_dlog_sampled(s, 250000),
			     routerd_dlog_sampled(s, 250000));
	}
	cr_expect(hit > 24000 && hit < 26000, "%u of 100000 at 0.25", hit);
}

Test(dlog, trace_ids)
{
	char out[ROUTERD_TRACE_MAX + 1];

	cr_expect_str_eq(
		routerd_dlog_trace_id("00-4bf92f3577b34da6a3ce929d0e0e4736-"
				      "00f067aa0ba902b7-01",
				      "x", out),
		"4bf92f3577b34da6a3ce929d0e0e4736");
	cr_expect_str_eq(routerd_dlog_trace_id(NULL, "req-42", out), "req-42");
	cr_expect_null(routerd_dlog_trace_id(NULL, "a\"b", out));
	cr_expect_null(routerd_dlog_trace_id("garbage", NULL, out));
	cr_expect_null(routerd_dlog_trace_id(NULL, NULL, out));
}

Test(dlog, unusable_dir_is_refused)
{
	struct routerd_dlog_config c = {.dir = "/proc/none/x",
					.routerd = "r",
					.max_bytes = 1 << 20,
					.keep = 1,
					.no_writer = true};
	struct routerd_dlog *l = NULL;
	struct af_err err = {{0}};

	cr_expect_neq(routerd_dlog_new(&c, &l, &err), 0);
	cr_expect(strstr(err.msg, "/proc/none/x") != NULL, "%s", err.msg);
	cr_expect_null(l);
}

Test(dlog, queueing_allocates_nothing)
{
	struct routerd_dlog *l = open_log(64u << 20, 2);
	static struct af_live_rec rec;
	struct af_request req;
	struct af_request_error re;
	struct af_decision d;
	struct af_live live;
	char body[4096];
	size_t n;
	unsigned long before;

	cr_assert_eq(pf_request("{\"workflow_id\":\"w\",\"tenant\":\"t\","
				"\"class\":\"research-agent\"}",
				&req, &re),
		     0);
	before = af_alloc_count();
	for (uint64_t i = 1; i <= 1000; i++) {
		af_live_rec_wrap(&rec, NULL, view, &live);
		cr_assert_eq(af_decide(view, &req, &live, "x", &d, NULL), 0);
		af_live_rec_finish(&rec, &d);
		cr_assert_eq(af_decision_json(&d, body, sizeof(body), &n), 0);
		struct routerd_dlog_rec r = {.seq = i,
					     .wall_ms = 1,
					     .req = &req,
					     .d = &d,
					     .body = body,
					     .body_len = n,
					     .live = &rec};
		if (routerd_dlog_sampled(i, 500000))
			routerd_dlog_put(l, &r);
	}
	cr_expect_eq(af_alloc_count(), before);
	routerd_dlog_flush(l);
	cr_expect_gt(metric(l, "af_routerd_decision_log_records_total"), 400);
	routerd_dlog_free(l);
}

struct producer {
	struct routerd_dlog *l;
	uint64_t from, n;
};

static void *produce(void *arg)
{
	const struct producer *p = arg;

	for (uint64_t i = 0; i < p->n; i++) {
		put(p->l, p->from + i, "");
		if (i % 256 == 255)
			usleep(1000); /* the writer keeps up: nothing dropped */
	}
	return NULL;
}

/* Pages of the file at path that are in the page cache. */
static size_t resident(const char *path)
{
	struct stat st;
	unsigned char vec[4096];
	size_t pages, n = 0;
	int fd = open(path, O_RDONLY);
	void *m;

	cr_assert_geq(fd, 0);
	cr_assert_eq(fstat(fd, &st), 0);
	pages = ((size_t)st.st_size + 4095) / 4096;
	cr_assert_leq(pages, sizeof(vec));
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq(m, MAP_FAILED);
	cr_assert_eq(mincore(m, (size_t)st.st_size, vec), 0);
	for (size_t i = 0; i < pages; i++)
		n += vec[i] & 1;
	munmap(m, (size_t)st.st_size);
	close(fd);
	return n;
}

Test(dlog, two_threads_through_the_writer)
{
	struct routerd_dlog_config c = {
		.dir = dir, .routerd = "r", .max_bytes = 1u << 20, .keep = 100};
	struct routerd_dlog *l = NULL;
	struct af_err err = {{0}};
	struct producer p[2];
	pthread_t t;
	size_t lines;
	char path[512], first[256] = "";
	struct dirent *e;
	struct statfs fs;
	DIR *d;

	cr_assert_eq(routerd_dlog_new(&c, &l, &err), 0, "%s", err.msg);
	p[0] = (struct producer){l, 1, 3000};
	p[1] = (struct producer){l, 100001, 3000};
	cr_assert_eq(pthread_create(&t, NULL, produce, &p[1]), 0);
	produce(&p[0]);
	pthread_join(t, NULL);
	/* The writer drains every DLOG_WAIT_MS: wait for the 6000. */
	for (int i = 0; i < 500 && metric(l, "af_routerd_decision_log_"
					     "records_total") < 6000;
	     i++)
		usleep(10000);
	cr_expect_eq(metric(l, "af_routerd_decision_log_dropped_total"), 0);
	cr_expect_eq(metric(l, "af_routerd_decision_log_records_total"), 6000);
	/* The first file, closed long ago, is retired: once its writeback
	 * is done, none of its pages stays cached (not on tmpfs, where the
	 * page cache is the file). */
	d = opendir(dir);
	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, "decisions-", 10) == 0 &&
		    (first[0] == '\0' || strcmp(e->d_name, first) < 0))
			snprintf(first, sizeof(first), "%s", e->d_name);
	closedir(d);
	snprintf(path, sizeof(path), "%s/%s", dir, first);
	cr_assert_eq(statfs(dir, &fs), 0);
	if (fs.f_type != TMPFS_MAGIC) {
		size_t n = resident(path);

		for (int i = 0; i < 500 && n > 0; i++) {
			usleep(10000);
			n = resident(path);
		}
		cr_expect_eq(n, 0, "%s: %zu pages still cached", path, n);
	}
	routerd_dlog_free(l);
	/* Every record of both threads, once. */
	cr_expect_gt(files(&lines), 3);
	cr_expect_eq(lines, 6000);
	char cmd[600];
	snprintf(cmd, sizeof(cmd),
		 "test $(cat %s/decisions-*.jsonl | grep -o '\"workflow_id\":"
		 "\"wf-[0-9]*\"' | sort -u | wc -l) = 6000",
		 dir);
	cr_expect_eq(system(cmd), 0, "a record missing or written twice");
}
