/* routerd's decision log (see decision_log.h). */
#include "common/alloc.h"
#include "common/file.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "routerd/decision_log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DLOG_WAIT_MS 20
#define DLOG_HDR 12	      /* u32 length, u64 seq */
#define DLOG_PRUNE_MAX 100000 /* files of the directory looked at */
#define DLOG_WBUF (1u << 20)  /* bytes the writer gathers per write(2) */
#define DLOG_RETIRE 4	      /* closed files waiting for the retirer */

struct recent {
	uint64_t seq; /* 0: empty */
	char *buf;
	size_t len, cap;
};

/* One producer's queue: its thread moves head, the writer moves tail
 * (byte positions, head - tail <= DLOG_QUEUE). The last of them is
 * shared, under shared_mu, by every thread past the first
 * DLOG_PRODUCERS - 1. */
struct pring {
	_Atomic uint64_t head, tail;
	uint8_t *buf;
};

struct routerd_dlog {
	uint64_t uid; /* unique in the process: the threads' queue claims */
	char *dir;
	char id_json[ROUTERD_DLOG_ID_JSON];
	size_t id_json_len;
	uint64_t max_bytes;
	unsigned keep;
	/* queues: one per producing thread, lock-free */
	struct pring rings[DLOG_PRODUCERS];
	_Atomic unsigned nrings; /* claimed so far (may pass DLOG_PRODUCERS) */
	pthread_mutex_t shared_mu;
	/* the writer's sleep: mu guards stop and the condition */
	pthread_mutex_t mu;
	pthread_cond_t cond;
	_Atomic bool waiting;
	bool stop, started;
	/* closed files: the retirer waits for their writeback, drops their
	 * pages from the page cache and closes them (under mu) */
	pthread_t retirer;
	pthread_cond_t retire_cond;
	int retire_fd[DLOG_RETIRE];
	unsigned retire_n;
	bool retire_started, retire_stop;
	pthread_t thread;
	/* writer thread only */
	int fd;	    /* -1: no file open */
	char *wbuf; /* DLOG_WBUF bytes not yet written to fd */
	size_t wlen;
	char cur[64]; /* the open file's name (never pruned) */
	uint64_t file_bytes;

	unsigned file_n;
	bool failing;
	/* records buffered in wbuf since its last successful flush: counted
	 * as written only once flushed */
	uint64_t pend_n, pend_bytes;
	bool reopen;   /* a write failed: the file may end in a cut line */
	char *scratch; /* a record that wraps around the ring */
	/* GET /v1/decisions/ID */
	pthread_mutex_t recent_mu;
	struct recent *recent;
	size_t recent_next;
	/* counters */
	_Atomic uint64_t written, dropped, too_large, bytes, write_errors;
	_Atomic uint64_t rotations, queued_bytes;
};

/* ------------------------------------------------------------ files */

static int open_next(struct routerd_dlog *l, struct af_err *err)
{
	char path[4200], stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	int fd = -1;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	for (int tries = 0; tries < 1000 && fd < 0; tries++) {
		snprintf(path, sizeof(path), "%s/decisions-%s-%u.jsonl", l->dir,
			 stamp, ++l->file_n);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0)
		return af_errf(err, AF_EIO,
			       "decision log: cannot create %s: %s", path,
			       strerror(errno));
	l->fd = fd;
	l->wlen = 0;
	snprintf(l->cur, sizeof(l->cur), "%s", strrchr(path, '/') + 1);
	l->file_bytes = 0;
	atomic_fetch_add(&l->rotations, 1);
	return 0;
}

struct logfile {
	char stamp[16];
	unsigned long n;
	char name[64];
};

static int cmp_logfile(const void *a, const void *b)
{
	const struct logfile *x = a, *y = b;
	int c = strcmp(x->stamp, y->stamp);

	if (c != 0)
		return c;
	return x->n < y->n ? -1 : x->n > y->n;
}

/* "decisions-<15 chars>-<n>.jsonl" */
static bool logfile_name(const char *s, struct logfile *ret)
{
	size_t len = strlen(s);
	char *end;

	if (len >= sizeof(ret->name) || len < 10 + 15 + 1 + 1 + 6 ||
	    strncmp(s, "decisions-", 10) != 0 || s[25] != '-' ||
	    strcmp(s + len - 6, ".jsonl") != 0)
		return false;
	memcpy(ret->stamp, s + 10, 15);
	ret->stamp[15] = '\0';
	ret->n = strtoul(s + 26, &end, 10);
	if (end != s + len - 6)
		return false;
	memcpy(ret->name, s, len + 1);
	return true;
}

/* Deletes all but the newest `keep` log files of the directory. */
static void prune(struct routerd_dlog *l)
{
	struct logfile *v = NULL, *nv;
	size_t n = 0, cap = 0;
	char path[4200];
	struct dirent *e;
	DIR *d = opendir(l->dir);

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL && n < DLOG_PRUNE_MAX) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			nv = af_realloc(v, cap * sizeof(*v));
			if (nv == NULL)
				break;
			v = nv;
		}
		if (logfile_name(e->d_name, &v[n]))
			n++;
	}
	closedir(d);
	if (n > l->keep) {
		qsort(v, n, sizeof(*v), cmp_logfile);
		for (size_t i = 0; i < n - l->keep; i++) {
			/* A clock stepped back makes the open file sort
			 * oldest: it is never the one deleted. */
			if (strcmp(v[i].name, l->cur) == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", l->dir,
				 v[i].name);
			if (unlink(path) != 0)
				log_warn("event=decision_log_prune_failed "
					 "file=%s error=\"%s\"",
					 path, strerror(errno));
		}
	}
	af_free(v);
}

static void forget(struct routerd_dlog *l, uint64_t n);

/* The records buffered since the last flush reached the file (ok) or were
 * lost with it: counted either way, and lost ones are no longer served by
 * GET /v1/decisions/ID. */
static void settle(struct routerd_dlog *l, bool ok)
{
	if (ok) {
		atomic_fetch_add(&l->written, l->pend_n);
		atomic_fetch_add(&l->bytes, l->pend_bytes);
		if (l->failing && l->pend_n > 0)
			log_info("event=decision_log_recovered dir=%s", l->dir);
		if (l->pend_n > 0)
			l->failing = false;
	} else {
		atomic_fetch_add(&l->write_errors, l->pend_n);
		forget(l, l->pend_n);
		if (!l->failing)
			log_error("event=decision_log_write_failed dir=%s "
				  "error=\"%s\"",
				  l->dir, strerror(errno));
		l->failing = true;
		l->reopen = true;
	}
	l->pend_n = l->pend_bytes = 0;
}

/* Writes what wbuf holds to the open file. Returns 0, or -1 with errno
 * set (the buffered bytes are lost either way: wbuf is empty after). */
static int wflush(struct routerd_dlog *l)
{
	size_t off = 0;
	ssize_t n;

	while (off < l->wlen) {
		n = write(l->fd, l->wbuf + off, l->wlen - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			l->wlen = 0;
			return -1;
		}
		off += (size_t)n;
	}
	l->wlen = 0;
	return 0;
}

/* A log written for days would otherwise fill the page cache with its
 * old files and evict what the host needs; waiting for the writeback is
 * the retirer's, so the writer never blocks on the disk. */
static void *retirer_main(void *arg)
{
	struct routerd_dlog *l = arg;
	bool stop;
	int fd;

	pthread_mutex_lock(&l->mu);
	for (;;) {
		while (l->retire_n == 0 && !l->retire_stop)
			pthread_cond_wait(&l->retire_cond, &l->mu);
		if (l->retire_n == 0)
			break;
		fd = l->retire_fd[--l->retire_n];
		stop = l->retire_stop;
		pthread_mutex_unlock(&l->mu);
		if (!stop) { /* shutting down: no wait for the disk */
			(void)sync_file_range(
				fd, 0, 0,
				SYNC_FILE_RANGE_WAIT_BEFORE |
					SYNC_FILE_RANGE_WRITE |
					SYNC_FILE_RANGE_WAIT_AFTER);
			(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		}
		close(fd);
		pthread_mutex_lock(&l->mu);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

static void close_file(struct routerd_dlog *l)
{
	bool queued = false;

	if (l->fd < 0)
		return;
	settle(l, wflush(l) == 0);
	pthread_mutex_lock(&l->mu);
	if (l->retire_started && !l->retire_stop && l->retire_n < DLOG_RETIRE) {
		l->retire_fd[l->retire_n++] = l->fd;
		pthread_cond_signal(&l->retire_cond);
		queued = true;
	}
	pthread_mutex_unlock(&l->mu);
	if (!queued) /* too many behind: its pages stay cached */
		close(l->fd);
	l->fd = -1;
}

static void rotate(struct routerd_dlog *l)
{
	struct af_err err = {{0}};

	close_file(l);
	l->reopen = false;
	if (open_next(l, &err) != 0) {
		if (!l->failing)
			log_error("event=decision_log_failed error=\"%s\"",
				  err.msg);
		l->failing = true;
		return;
	}
	prune(l);
}

/* ------------------------------------------------------------ writer */

/* The records GET /v1/decisions/ID serves: recent_mu is held by the
 * caller (the writer holds it for a whole drain, not per record). */
static void remember(struct routerd_dlog *l, uint64_t seq, const char *line,
		     size_t len)
{
	struct recent *r;
	char *p;

	r = &l->recent[l->recent_next];
	if (r->cap < len) {
		p = af_realloc(r->buf, len);
		if (p == NULL) {
			r->seq = 0;
			return;
		}
		r->buf = p;
		r->cap = len;
	}
	memcpy(r->buf, line, len);
	r->len = len;
	r->seq = seq;
	l->recent_next = (l->recent_next + 1) % DLOG_RECENT;
}

/* Walks back over the last n records remembered. */
static void forget(struct routerd_dlog *l, uint64_t n)
{
	size_t i = l->recent_next;

	for (uint64_t k = 0; k < n && k < DLOG_RECENT; k++) {
		i = (i + DLOG_RECENT - 1) % DLOG_RECENT;
		l->recent[i].seq = 0;
	}
}

static void write_line(struct routerd_dlog *l, uint64_t seq, const char *line,
		       size_t len)
{
	if (l->fd < 0 || l->reopen ||
	    (l->file_bytes > 0 && l->file_bytes + len + 1 > l->max_bytes))
		rotate(l);
	if (l->fd < 0) {
		/* No file (rotate logged why): the record is lost. */
		atomic_fetch_add(&l->write_errors, 1);
		return;
	}
	if (l->wlen + len + 1 > DLOG_WBUF && wflush(l) != 0) {
		/* This record and whatever the buffer held are lost. */
		atomic_fetch_add(&l->write_errors, 1);
		settle(l, false);
		return;
	}
	memcpy(l->wbuf + l->wlen, line, len);
	l->wbuf[l->wlen + len] = '\n';
	l->wlen += len + 1;
	l->file_bytes += len + 1;
	l->pend_n++;
	l->pend_bytes += len + 1;
	remember(l, seq, line, len);
}

static void ring_read(const struct pring *q, uint64_t pos, void *dst, size_t n)
{
	size_t off = (size_t)(pos % DLOG_QUEUE), first = DLOG_QUEUE - off;

	if (first >= n) {
		memcpy(dst, q->buf + off, n);
	} else {
		memcpy(dst, q->buf + off, first);
		memcpy((uint8_t *)dst + first, q->buf, n - first);
	}
}

/* Writes the records in [from, to) of queue q (not touched by its
 * producer meanwhile: it writes beyond head only). */
static void drain(struct routerd_dlog *l, const struct pring *q, uint64_t from,
		  uint64_t to)
{
	uint8_t hdr[DLOG_HDR];

	while (from < to) {
		uint32_t len;
		uint64_t seq;
		size_t off;

		ring_read(q, from, hdr, DLOG_HDR);
		memcpy(&len, hdr, 4);
		memcpy(&seq, hdr + 4, 8);
		from += DLOG_HDR;
		off = (size_t)(from % DLOG_QUEUE);
		if (off + len <= DLOG_QUEUE) {
			write_line(l, seq, (const char *)q->buf + off, len);
		} else {
			ring_read(q, from, l->scratch, len);
			write_line(l, seq, l->scratch, len);
		}
		from += len;
	}
}

/* Bytes the queues hold now. */
static uint64_t queued(struct routerd_dlog *l)
{
	unsigned n = atomic_load(&l->nrings);
	uint64_t sum = 0;

	for (unsigned i = 0; i < n && i < DLOG_PRODUCERS; i++)
		sum += atomic_load(&l->rings[i].head) -
		       atomic_load(&l->rings[i].tail);
	return sum;
}

void routerd_dlog_flush(struct routerd_dlog *l)
{
	unsigned n = atomic_load(&l->nrings);

	pthread_mutex_lock(&l->recent_mu);
	for (unsigned i = 0; i < n && i < DLOG_PRODUCERS; i++) {
		struct pring *q = &l->rings[i];
		uint64_t from =
			atomic_load_explicit(&q->tail, memory_order_relaxed);
		uint64_t to =
			atomic_load_explicit(&q->head, memory_order_acquire);

		if (from == to)
			continue;
		drain(l, q, from, to);
		atomic_store_explicit(&q->tail, to, memory_order_release);
	}
	if (l->fd >= 0 && l->pend_n > 0)
		settle(l, wflush(l) == 0);
	pthread_mutex_unlock(&l->recent_mu);
	atomic_store(&l->queued_bytes, queued(l));
}

static void *writer_main(void *arg)
{
	struct routerd_dlog *l = arg;
	struct timespec ts;
	bool stop;

	for (;;) {
		pthread_mutex_lock(&l->mu);
		if (queued(l) < DLOG_QUEUE / 8 && !l->stop) {
			af_deadline_after(CLOCK_REALTIME, DLOG_WAIT_MS, &ts);
			atomic_store(&l->waiting, true);
			pthread_cond_timedwait(&l->cond, &l->mu, &ts);
			atomic_store(&l->waiting, false);
		}
		stop = l->stop;
		pthread_mutex_unlock(&l->mu);
		/* Only this thread moves tail: the writer and flush never
		 * run at once except in tests that stop it first. */
		routerd_dlog_flush(l);
		if (stop)
			return NULL;
	}
}

/* ---------------------------------------------------------- producers */

/* The queue a thread produces into: the first time a thread logs to l,
 * it claims the next one; past DLOG_PRODUCERS - 1 threads, the rest share
 * the last. */
static _Atomic uint64_t dlog_uids;
static _Thread_local uint64_t tl_log; /* the uid of the log claimed */
static _Thread_local unsigned tl_ring;

static void enqueue(struct routerd_dlog *l, uint64_t seq, const char *line,
		    size_t len)
{
	uint8_t hdr[DLOG_HDR];
	uint32_t n = (uint32_t)len;
	struct pring *q;
	uint64_t head, tail;
	bool shared;

	if (tl_log != l->uid) {
		unsigned i = atomic_fetch_add(&l->nrings, 1);

		tl_ring = i < DLOG_PRODUCERS - 1 ? i : DLOG_PRODUCERS - 1;
		tl_log = l->uid;
	}
	q = &l->rings[tl_ring];
	shared = tl_ring == DLOG_PRODUCERS - 1;
	if (shared)
		pthread_mutex_lock(&l->shared_mu);
	head = atomic_load_explicit(&q->head, memory_order_relaxed);
	tail = atomic_load_explicit(&q->tail, memory_order_acquire);
	if (head - tail + DLOG_HDR + len > DLOG_QUEUE) {
		if (shared)
			pthread_mutex_unlock(&l->shared_mu);
		atomic_fetch_add_explicit(&l->dropped, 1, memory_order_relaxed);
		return;
	}
	memcpy(hdr, &n, 4);
	memcpy(hdr + 4, &seq, 8);
	for (int part = 0; part < 2; part++) {
		const uint8_t *src = part == 0 ? hdr : (const uint8_t *)line;
		size_t m = part == 0 ? DLOG_HDR : len;
		size_t off = (size_t)(head % DLOG_QUEUE),
		       first = DLOG_QUEUE - off;

		if (first >= m) {
			memcpy(q->buf + off, src, m);
		} else {
			memcpy(q->buf + off, src, first);
			memcpy(q->buf, src + first, m - first);
		}
		head += m;
	}
	atomic_store_explicit(&q->head, head, memory_order_release);
	if (shared)
		pthread_mutex_unlock(&l->shared_mu);
	/* The writer wakes every DLOG_WAIT_MS anyway; sooner when a queue
	 * fills past an eighth. */
	if (head - tail >= DLOG_QUEUE / 8 &&
	    atomic_load_explicit(&l->waiting, memory_order_relaxed)) {
		pthread_mutex_lock(&l->mu);
		pthread_cond_signal(&l->cond);
		pthread_mutex_unlock(&l->mu);
	}
}

/* The record's line, rendered on the deciding thread. */
static _Thread_local char tl_line[DLOG_LINE_MAX];

void routerd_dlog_put(struct routerd_dlog *l, const struct routerd_dlog_rec *r)
{
	size_t n = routerd_dlog_render(l->id_json, l->id_json_len, r, tl_line,
				       sizeof(tl_line));

	if (n == 0) {
		atomic_fetch_add_explicit(&l->too_large, 1,
					  memory_order_relaxed);
		atomic_fetch_add_explicit(&l->dropped, 1, memory_order_relaxed);
		return;
	}
	enqueue(l, r->seq, tl_line, n);
}

/* ------------------------------------------------------------ readers */

int routerd_dlog_get(struct routerd_dlog *l, uint64_t seq, char **ret,
		     size_t *ret_len)
{
	int rc = AF_ENOTFOUND;

	if (seq == 0)
		return rc;
	pthread_mutex_lock(&l->recent_mu);
	for (size_t i = 0; i < DLOG_RECENT; i++) {
		const struct recent *r = &l->recent[i];

		if (r->seq != seq)
			continue;
		*ret = af_malloc(r->len + 1);
		rc = *ret != NULL ? 0 : AF_ENOMEM;
		if (rc == 0) {
			memcpy(*ret, r->buf, r->len);
			(*ret)[r->len] = '\0';
			*ret_len = r->len;
		}
		break;
	}
	pthread_mutex_unlock(&l->recent_mu);
	return rc;
}

void routerd_dlog_metrics(struct routerd_dlog *l, struct af_textbuf *b)
{
	af_metric_u64(b, "af_routerd_decision_log_records_total",
		      "Decision records written to the decision log.",
		      "counter", atomic_load(&l->written));
	af_metric_u64(
		b, "af_routerd_decision_log_dropped_total",
		"Decision records dropped: the writer's queue was full, or "
		"the record was over its size bound.",
		"counter", atomic_load(&l->dropped));
	af_metric_u64(
		b, "af_routerd_decision_log_too_large_total",
		"Decision records dropped for their size (also counted in "
		"dropped).",
		"counter", atomic_load(&l->too_large));
	af_metric_u64(b, "af_routerd_decision_log_bytes_total",
		      "Bytes written to the decision log.", "counter",
		      atomic_load(&l->bytes));
	af_metric_u64(b, "af_routerd_decision_log_write_errors_total",
		      "Failed writes to the decision log.", "counter",
		      atomic_load(&l->write_errors));
	af_metric_u64(b, "af_routerd_decision_log_rotations_total",
		      "Decision log files started (the first one included).",
		      "counter", atomic_load(&l->rotations));
	af_metric_u64(b, "af_routerd_decision_log_queued_bytes",
		      "Bytes queued for the decision log writer.", "gauge",
		      atomic_load(&l->queued_bytes));
}

/* ------------------------------------------------------------ set-up */

void routerd_dlog_free(struct routerd_dlog *l)
{
	if (l == NULL)
		return;
	if (l->started) {
		pthread_mutex_lock(&l->mu);
		l->stop = true;
		pthread_cond_signal(&l->cond);
		pthread_mutex_unlock(&l->mu);
		pthread_join(l->thread, NULL);
	} else if (l->scratch != NULL && l->wbuf != NULL) {
		routerd_dlog_flush(l);
	}
	pthread_mutex_lock(&l->recent_mu);
	close_file(l);
	pthread_mutex_unlock(&l->recent_mu);
	if (l->retire_started) {
		pthread_mutex_lock(&l->mu);
		l->retire_stop = true;
		pthread_cond_signal(&l->retire_cond);
		pthread_mutex_unlock(&l->mu);
		pthread_join(l->retirer, NULL);
	}
	for (size_t i = 0; l->recent != NULL && i < DLOG_RECENT; i++)
		af_free(l->recent[i].buf);
	af_free(l->recent);
	for (unsigned i = 0; i < DLOG_PRODUCERS; i++)
		af_free(l->rings[i].buf);
	af_free(l->scratch);
	af_free(l->wbuf);
	af_free(l->dir);
	pthread_mutex_destroy(&l->recent_mu);
	pthread_cond_destroy(&l->cond);
	pthread_cond_destroy(&l->retire_cond);
	pthread_mutex_destroy(&l->mu);
	pthread_mutex_destroy(&l->shared_mu);
	af_free(l);
}

static int id_json(struct routerd_dlog *l, const char *id, struct af_err *err)
{
	json_t *s = json_string(id != NULL ? id : "");
	size_t n = s != NULL ? json_dumpb(s, l->id_json, sizeof(l->id_json),
					  JSON_ENCODE_ANY)
			     : 0;

	json_decref(s);
	if (n == 0 || n >= sizeof(l->id_json))
		return af_errf(err, AF_EINVAL,
			       "decision log: routerd id is not valid UTF-8 "
			       "or too long");
	l->id_json_len = n;
	return 0;
}

int routerd_dlog_new(const struct routerd_dlog_config *cfg,
		     struct routerd_dlog **ret, struct af_err *err)
{
	struct routerd_dlog *l = af_calloc(1, sizeof(*l));
	bool ring_fail = false;
	int rc;

	if (l == NULL)
		return af_errf(err, AF_ENOMEM, "decision log: out of memory");
	l->fd = -1;
	l->uid = atomic_fetch_add(&dlog_uids, 1) + 1;
	pthread_mutex_init(&l->mu, NULL);
	pthread_mutex_init(&l->shared_mu, NULL);
	pthread_mutex_init(&l->recent_mu, NULL);
	pthread_cond_init(&l->cond, NULL);
	pthread_cond_init(&l->retire_cond, NULL);
	l->max_bytes = cfg->max_bytes;
	l->keep = cfg->keep > 0 ? cfg->keep : 1;
	l->dir = af_strdup(cfg->dir);
	for (unsigned i = 0; i < DLOG_PRODUCERS; i++)
		if ((l->rings[i].buf = af_malloc(DLOG_QUEUE)) == NULL)
			ring_fail = true;
	l->scratch = af_malloc(DLOG_LINE_MAX);
	l->wbuf = af_malloc(DLOG_WBUF);
	l->recent = af_calloc(DLOG_RECENT, sizeof(*l->recent));
	if (l->dir == NULL || ring_fail || l->scratch == NULL ||
	    l->wbuf == NULL || l->recent == NULL) {
		rc = af_errf(err, AF_ENOMEM, "decision log: out of memory");
		goto fail;
	}
	if ((rc = id_json(l, cfg->routerd, err)) != 0)
		goto fail;
	if ((rc = af_mkdir_p(cfg->dir, err)) != 0) {
		char why[AF_ERRMSG_SIZE];

		snprintf(why, sizeof(why), "%s", err->msg);
		rc = af_errf(err, AF_EIO, "decision log: %s (directory %s)",
			     why, cfg->dir);
		goto fail;
	}
	if ((rc = open_next(l, err)) != 0)
		goto fail;
	prune(l);
	if (!cfg->no_writer) {
		/* The retirer first: the writer reads retire_started. */
		if (pthread_create(&l->retirer, NULL, retirer_main, l) == 0)
			l->retire_started = true; /* else: files close as is */
		if (pthread_create(&l->thread, NULL, writer_main, l) != 0) {
			rc = af_errf(err, AF_EIO,
				     "decision log: cannot start its thread");
			goto fail;
		}
		l->started = true;
	}
	*ret = l;
	return 0;
fail:
	routerd_dlog_free(l);
	return rc;
}
