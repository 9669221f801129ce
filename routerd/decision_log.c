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
#include <xxhash.h>

#define DLOG_WAIT_MS 20
#define DLOG_HDR 12	      /* u32 length, u64 seq */
#define DLOG_PRUNE_MAX 100000 /* files of the directory looked at */

struct recent {
	uint64_t seq; /* 0: empty */
	char *buf;
	size_t len, cap;
};

struct routerd_dlog {
	char *dir;
	char id_json[ROUTERD_DLOG_ID_JSON];
	size_t id_json_len;
	uint64_t max_bytes;
	unsigned keep;
	/* queue: producers and the writer, under mu */
	pthread_mutex_t mu;
	pthread_cond_t cond;
	uint8_t *ring;
	uint64_t head, tail; /* byte positions, head - tail <= DLOG_RING */
	bool waiting, stop, started;
	pthread_t thread;
	/* writer thread only */
	FILE *f;
	char cur[64]; /* the open file's name (never pruned) */
	uint64_t file_bytes;
	unsigned file_n;
	bool failing;
	/* records buffered in f since its last successful flush: counted
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
	l->f = fdopen(fd, "w");
	if (l->f == NULL) {
		close(fd);
		return af_errf(err, AF_ENOMEM, "decision log: out of memory");
	}
	setvbuf(l->f, NULL, _IOFBF, 1u << 16);
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

static void rotate(struct routerd_dlog *l)
{
	struct af_err err = {{0}};

	if (l->f != NULL) {
		settle(l, fflush(l->f) == 0);
		fclose(l->f);
	}
	l->reopen = false;
	l->f = NULL;
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

static void remember(struct routerd_dlog *l, uint64_t seq, const char *line,
		     size_t len)
{
	struct recent *r;
	char *p;

	pthread_mutex_lock(&l->recent_mu);
	r = &l->recent[l->recent_next];
	if (r->cap < len) {
		p = af_realloc(r->buf, len);
		if (p == NULL) {
			r->seq = 0;
			pthread_mutex_unlock(&l->recent_mu);
			return;
		}
		r->buf = p;
		r->cap = len;
	}
	memcpy(r->buf, line, len);
	r->len = len;
	r->seq = seq;
	l->recent_next = (l->recent_next + 1) % DLOG_RECENT;
	pthread_mutex_unlock(&l->recent_mu);
}

/* Walks back over the last n records remembered. */
static void forget(struct routerd_dlog *l, uint64_t n)
{
	size_t i = l->recent_next;

	pthread_mutex_lock(&l->recent_mu);
	for (uint64_t k = 0; k < n && k < DLOG_RECENT; k++) {
		i = (i + DLOG_RECENT - 1) % DLOG_RECENT;
		l->recent[i].seq = 0;
	}
	pthread_mutex_unlock(&l->recent_mu);
}

static void write_line(struct routerd_dlog *l, uint64_t seq, const char *line,
		       size_t len)
{
	if (l->f == NULL || l->reopen ||
	    (l->file_bytes > 0 && l->file_bytes + len + 1 > l->max_bytes))
		rotate(l);
	if (l->f == NULL) {
		/* No file (rotate logged why): the record is lost. */
		atomic_fetch_add(&l->write_errors, 1);
		return;
	}
	if (fwrite(line, 1, len, l->f) != len || fputc('\n', l->f) == EOF) {
		/* This record and whatever the buffer held are lost. */
		atomic_fetch_add(&l->write_errors, 1);
		settle(l, false);
		return;
	}
	l->file_bytes += len + 1;
	l->pend_n++;
	l->pend_bytes += len + 1;
	remember(l, seq, line, len);
}

static void ring_read(const struct routerd_dlog *l, uint64_t pos, void *dst,
		      size_t n)
{
	size_t off = (size_t)(pos % DLOG_RING), first = DLOG_RING - off;

	if (first >= n) {
		memcpy(dst, l->ring + off, n);
	} else {
		memcpy(dst, l->ring + off, first);
		memcpy((uint8_t *)dst + first, l->ring, n - first);
	}
}

/* Writes the records in [from, to) of the ring (not touched by producers
 * meanwhile: they write beyond head only). */
static void drain(struct routerd_dlog *l, uint64_t from, uint64_t to)
{
	uint8_t hdr[DLOG_HDR];

	while (from < to) {
		uint32_t len;
		uint64_t seq;
		size_t off;

		ring_read(l, from, hdr, DLOG_HDR);
		memcpy(&len, hdr, 4);
		memcpy(&seq, hdr + 4, 8);
		from += DLOG_HDR;
		off = (size_t)(from % DLOG_RING);
		if (off + len <= DLOG_RING) {
			write_line(l, seq, (const char *)l->ring + off, len);
		} else {
			ring_read(l, from, l->scratch, len);
			write_line(l, seq, l->scratch, len);
		}
		from += len;
	}
	if (l->f != NULL && l->pend_n > 0)
		settle(l, fflush(l->f) == 0);
}

void routerd_dlog_flush(struct routerd_dlog *l)
{
	uint64_t from, to;

	pthread_mutex_lock(&l->mu);
	from = l->tail;
	to = l->head;
	pthread_mutex_unlock(&l->mu);
	drain(l, from, to);
	pthread_mutex_lock(&l->mu);
	l->tail = to;
	atomic_store(&l->queued_bytes, l->head - l->tail);
	pthread_mutex_unlock(&l->mu);
}

static void *writer_main(void *arg)
{
	struct routerd_dlog *l = arg;
	struct timespec ts;
	bool stop;

	for (;;) {
		pthread_mutex_lock(&l->mu);
		if (l->head == l->tail && !l->stop) {
			af_deadline_after(CLOCK_REALTIME, DLOG_WAIT_MS, &ts);
			l->waiting = true;
			pthread_cond_timedwait(&l->cond, &l->mu, &ts);
			l->waiting = false;
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

bool routerd_dlog_sampled(uint64_t seq, uint32_t ppm)
{
	if (ppm >= 1000000)
		return true;
	return XXH3_64bits(&seq, sizeof(seq)) % 1000000u < ppm;
}

static void enqueue(struct routerd_dlog *l, uint64_t seq, const char *line,
		    size_t len)
{
	uint8_t hdr[DLOG_HDR];
	uint32_t n = (uint32_t)len;
	bool wake;

	memcpy(hdr, &n, 4);
	memcpy(hdr + 4, &seq, 8);
	pthread_mutex_lock(&l->mu);
	if (l->head - l->tail + DLOG_HDR + len > DLOG_RING) {
		pthread_mutex_unlock(&l->mu);
		atomic_fetch_add_explicit(&l->dropped, 1, memory_order_relaxed);
		return;
	}
	for (int part = 0; part < 2; part++) {
		const uint8_t *src = part == 0 ? hdr : (const uint8_t *)line;
		size_t m = part == 0 ? DLOG_HDR : len;
		size_t off = (size_t)(l->head % DLOG_RING),
		       first = DLOG_RING - off;

		if (first >= m) {
			memcpy(l->ring + off, src, m);
		} else {
			memcpy(l->ring + off, src, first);
			memcpy(l->ring, src + first, m - first);
		}
		l->head += m;
	}
	wake = l->waiting && l->head - l->tail >= DLOG_RING / 8;
	if (wake)
		pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->mu);
}

/* The record's line, rendered on the deciding thread. */
static _Thread_local char tl_line[DLOG_LINE_MAX];

struct lw {
	char *p;
	size_t left;
	bool full;
};

static void put(struct lw *w, const char *s, size_t n)
{
	if (w->full || n >= w->left) {
		w->full = true;
		return;
	}
	memcpy(w->p, s, n);
	w->p += n;
	w->left -= n;
}

static void put_u64(struct lw *w, uint64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v);

	put(w, tmp, (size_t)n);
}

/* "2026-12-02T04:20:00.123Z" */
static void put_ts(struct lw *w, int64_t wall_ms)
{
	time_t s = (time_t)(wall_ms / 1000);
	struct tm tm;
	char tmp[40];
	size_t n;

	gmtime_r(&s, &tm);
	n = strftime(tmp, sizeof(tmp), "\"%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, ".%03dZ\"",
			      (int)(wall_ms % 1000));
	put(w, tmp, n);
}

static void put_part(struct lw *w, const char *key,
		     int (*fn)(const void *, char *, size_t, size_t *),
		     const void *arg)
{
	size_t n = 0;

	put(w, key, strlen(key));
	if (w->full || fn(arg, w->p, w->left, &n) != 0) {
		w->full = true;
		return;
	}
	w->p += n;
	w->left -= n;
}

struct req_arg {
	const struct routerd_dlog_rec *r;
};

static int req_part(const void *arg, char *buf, size_t len, size_t *ret)
{
	const struct routerd_dlog_rec *r = ((const struct req_arg *)arg)->r;

	return af_request_json(r->req, r->mask, r->nmask, buf, len, ret);
}

static int live_part(const void *arg, char *buf, size_t len, size_t *ret)
{
	return af_live_rec_json(arg, buf, len, ret);
}

void routerd_dlog_put(struct routerd_dlog *l, const struct routerd_dlog_rec *r)
{
	static const char hex[] = "0123456789abcdef";
	struct lw w = {.p = tl_line, .left = sizeof(tl_line)};
	struct req_arg ra = {r};
	char id[20];

	put(&w, "{\"ts\":", 6);
	put_ts(&w, r->wall_ms);
	put(&w, ",\"routerd\":", 11);
	put(&w, l->id_json, l->id_json_len);
	/* decision_id: "<routerd id>-<16 hex digits of seq>" */
	put(&w, ",\"decision_id\":", 15);
	put(&w, l->id_json, l->id_json_len - 1);
	id[0] = '-';
	for (int i = 16; i >= 1; i--)
		id[i] = hex[(r->seq >> (4 * (16 - i))) & 15];
	id[17] = '"';
	put(&w, id, 18);
	put(&w, ",\"decision\":", 12);
	put(&w, r->body, r->body_len);
	put_part(&w, ",\"request\":", req_part, &ra);
	put(&w, ",\"revision\":", 12);
	put_u64(&w, r->d->revision);
	put(&w, ",\"registry_revision\":", 21);
	put_u64(&w, r->d->registry_revision);
	put_part(&w, ",\"live\":", live_part, r->live);
	if (r->trace_id != NULL) {
		put(&w, ",\"trace_id\":\"", 13);
		put(&w, r->trace_id, strlen(r->trace_id));
		put(&w, "\"", 1);
	}
	put(&w, "}", 1);
	if (w.full) {
		atomic_fetch_add_explicit(&l->too_large, 1,
					  memory_order_relaxed);
		atomic_fetch_add_explicit(&l->dropped, 1, memory_order_relaxed);
		return;
	}
	enqueue(l, r->seq, tl_line, sizeof(tl_line) - w.left);
}

const char *routerd_dlog_trace_id(const char *traceparent, const char *xtrace,
				  char out[ROUTERD_TRACE_MAX + 1])
{
	const char *s = xtrace;
	size_t n = s != NULL ? strlen(s) : 0;

	if (traceparent != NULL && strlen(traceparent) >= 55 &&
	    traceparent[2] == '-' && traceparent[35] == '-') {
		s = traceparent + 3;
		n = 32;
	}
	if (s == NULL || n == 0 || n > ROUTERD_TRACE_MAX)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\0' ||
		    strchr("0123456789abcdefghijklmnopqrstuvwxyz"
			   "ABCDEFGHIJKLMNOPQRSTUVWXYZ._:-",
			   s[i]) == NULL)
			return NULL;
	memcpy(out, s, n);
	out[n] = '\0';
	return out;
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
	} else if (l->ring != NULL && l->scratch != NULL) {
		routerd_dlog_flush(l);
	}
	if (l->f != NULL)
		fclose(l->f);
	for (size_t i = 0; l->recent != NULL && i < DLOG_RECENT; i++)
		af_free(l->recent[i].buf);
	af_free(l->recent);
	af_free(l->ring);
	af_free(l->scratch);
	af_free(l->dir);
	pthread_mutex_destroy(&l->recent_mu);
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->mu);
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
	int rc;

	if (l == NULL)
		return af_errf(err, AF_ENOMEM, "decision log: out of memory");
	pthread_mutex_init(&l->mu, NULL);
	pthread_mutex_init(&l->recent_mu, NULL);
	pthread_cond_init(&l->cond, NULL);
	l->max_bytes = cfg->max_bytes;
	l->keep = cfg->keep > 0 ? cfg->keep : 1;
	l->dir = af_strdup(cfg->dir);
	l->ring = af_malloc(DLOG_RING);
	l->scratch = af_malloc(DLOG_LINE_MAX);
	l->recent = af_calloc(DLOG_RECENT, sizeof(*l->recent));
	if (l->dir == NULL || l->ring == NULL || l->scratch == NULL ||
	    l->recent == NULL) {
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
