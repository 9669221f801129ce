/* A decision log record rendered as its JSON line, sampling and trace
 * ids (decision_log.h). */
#include "policy/jsonw.h"
#include "routerd/decision_log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

bool routerd_dlog_sampled(uint64_t seq, uint32_t ppm)
{
	if (ppm >= 1000000)
		return true;
	return XXH3_64bits(&seq, sizeof(seq)) % 1000000u < ppm;
}

/* The second a thread last rendered, and its text: records come many to
 * the second, so the calendar is worked out once a second. */
static _Thread_local int64_t tl_ts_sec = -1;
static _Thread_local char tl_ts[24];
static _Thread_local size_t tl_ts_len;

/* "2026-12-02T04:20:00.123Z" */
static void put_ts(struct w *w, int64_t wall_ms)
{
	int64_t sec = wall_ms / 1000;
	int ms = (int)(wall_ms % 1000);
	char frac[6] = {'.', '0', '0', '0', 'Z', '"'};

	if (sec != tl_ts_sec) {
		time_t t = (time_t)sec;
		struct tm tm;

		gmtime_r(&t, &tm);
		tl_ts_len = strftime(tl_ts, sizeof(tl_ts),
				     "\"%Y-%m-%dT%H:%M:%S", &tm);
		tl_ts_sec = sec;
	}
	raw(w, tl_ts, tl_ts_len);
	if (ms < 0)
		ms = 0;
	frac[1] = (char)('0' + ms / 100);
	frac[2] = (char)('0' + ms / 10 % 10);
	frac[3] = (char)('0' + ms % 10);
	raw(w, frac, sizeof(frac));
}

static void put_part(struct w *w, const char *key,
		     int (*fn)(const void *, char *, size_t, size_t *),
		     const void *arg)
{
	size_t n = 0;

	raw(w, key, strlen(key));
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

size_t routerd_dlog_render(const char *id_json, size_t id_json_len,
			   const struct routerd_dlog_rec *r, char *buf,
			   size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	struct w w = {.p = buf, .left = cap};
	struct req_arg ra = {r};
	char id[20];

	raw(&w, "{\"ts\":", 6);
	put_ts(&w, r->wall_ms);
	raw(&w, ",\"routerd\":", 11);
	raw(&w, id_json, id_json_len);
	/* decision_id: "<routerd id>-<16 hex digits of seq>" */
	raw(&w, ",\"decision_id\":", 15);
	raw(&w, id_json, id_json_len - 1);
	id[0] = '-';
	for (int i = 16; i >= 1; i--)
		id[i] = hex[(r->seq >> (4 * (16 - i))) & 15];
	id[17] = '"';
	raw(&w, id, 18);
	raw(&w, ",\"decision\":", 12);
	raw(&w, r->body, r->body_len);
	put_part(&w, ",\"request\":", req_part, &ra);
	raw(&w, ",\"revision\":", 12);
	u64(&w, r->d->revision);
	raw(&w, ",\"registry_revision\":", 21);
	u64(&w, r->d->registry_revision);
	put_part(&w, ",\"live\":", live_part, r->live);
	if (r->trace_id != NULL) {
		raw(&w, ",\"trace_id\":\"", 13);
		raw(&w, r->trace_id, strlen(r->trace_id));
		raw(&w, "\"", 1);
	}
	raw(&w, "}", 1);
	return w.full ? 0 : cap - w.left;
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
