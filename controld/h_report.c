/* Showback reports: the per-day usage rows (state.h), grouped by up to
 * three dimensions (the group's name: their values joined by 0x1f), in
 * the order of the group names. */
#include "common/alloc.h"
#include "common/log.h"
#include "common/satarith.h"
#include "controld/handlers_int.h"
#include "controld/state.h"
#include "common/timeutil.h"
#include "render/render.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* Groups of one report: insertion order in rows/keys, found by an
 * open-addressing table of row index + 1 (XXH3 of the group name). */
#define MAX_REPORT_GROUPS 100000u
#define GROUP_LEN 200 /* up to 3 parts of 64 bytes, joined by 0x1f */
#define NONE "(none)"
#define MAX_BY 3

struct showback_scan {
	int by[MAX_BY]; /* 0 tenant, 1 class, 2 model, 3 revision, 4 day,
			 * 5 labels.KEY */
	const char *label[MAX_BY]; /* by 5: KEY */
	size_t nby;
	Af__ShowbackRow *rows;
	char (*keys)[GROUP_LEN];
	uint32_t *slots; /* row index + 1; 0 free */
	size_t n, cap;	 /* rows used, allocated */
	size_t nslots;	 /* a power of two, at least 2 * cap */
	bool too_many;
	bool oom; /* an unpack ran out of memory (not a corrupt value) */
	/* Values are unpacked into buf (a bump allocator reset each row, heap
	 * past it): no malloc per row. */
	ProtobufCAllocator alloc;
	size_t used;
	_Alignas(16) uint8_t buf[512];
};

static void *scan_alloc(void *arg, size_t size)
{
	struct showback_scan *s = arg;
	size_t need = (size + 15) & ~(size_t)15;
	void *p;

	if (need < size || need > sizeof(s->buf) - s->used) {
		if ((p = af_malloc(size)) == NULL)
			s->oom = true;
		return p;
	}
	s->used += need;
	return s->buf + s->used - need;
}

static void scan_free(void *arg, void *p)
{
	struct showback_scan *s = arg;

	if ((uint8_t *)p < s->buf || (uint8_t *)p >= s->buf + sizeof(s->buf))
		af_free(p);
}

static int scan_grow(struct showback_scan *s)
{
	size_t cap = s->cap ? s->cap * 2 : 256, nslots;
	Af__ShowbackRow *rows;
	char(*keys)[GROUP_LEN];
	uint32_t *slots;

	if (cap > MAX_REPORT_GROUPS)
		cap = MAX_REPORT_GROUPS;
	for (nslots = 512; nslots < 2 * cap; nslots *= 2)
		;
	slots = af_calloc(nslots, sizeof(*slots));
	if (slots == NULL)
		return AF_ENOMEM;
	rows = af_realloc(s->rows, cap * sizeof(*rows));
	if (rows != NULL)
		s->rows = rows;
	keys = rows ? af_realloc(s->keys, cap * sizeof(*keys)) : NULL;
	if (keys == NULL) {
		af_free(slots);
		return AF_ENOMEM;
	}
	s->keys = keys;
	for (size_t i = 0; i < s->n; i++) {
		size_t h = XXH3_64bits(keys[i], strlen(keys[i])) & (nslots - 1);

		while (slots[h])
			h = (h + 1) & (nslots - 1);
		slots[h] = (uint32_t)i + 1;
		rows[i].key = keys[i];
	}
	af_free(s->slots);
	s->slots = slots;
	s->nslots = nslots;
	s->cap = cap;
	return 0;
}

/* The row of group name[0..len), added when new; NULL with s->too_many set
 * past MAX_REPORT_GROUPS, or on allocation failure. */
static Af__ShowbackRow *scan_group(struct showback_scan *s, const char *name,
				   size_t len)
{
	size_t h;
	uint32_t i;

	if (s->n == s->cap &&
	    (s->n == MAX_REPORT_GROUPS || scan_grow(s) != 0)) {
		s->too_many = s->n == MAX_REPORT_GROUPS;
		/* an existing group may still match */
	}
	if (s->nslots == 0)
		return NULL;
	h = XXH3_64bits(name, len) & (s->nslots - 1);
	while ((i = s->slots[h]) != 0) {
		const char *k = s->keys[i - 1];

		if (strncmp(k, name, len) == 0 && k[len] == '\0') {
			s->too_many = false;
			return &s->rows[i - 1];
		}
		h = (h + 1) & (s->nslots - 1);
	}
	if (s->n == s->cap)
		return NULL;
	i = (uint32_t)s->n++;
	af__showback_row__init(&s->rows[i]);
	memcpy(s->keys[i], name, len);
	s->keys[i][len] = '\0';
	s->rows[i].key = s->keys[i];
	s->slots[h] = i + 1;
	return &s->rows[i];
}

static int showback_row(const void *key, size_t klen, const void *val,
			size_t vlen, void *arg)
{
	struct showback_scan *s = arg;
	struct af_showback_key sk;
	char name[GROUP_LEN], t[32];
	size_t len = 0;
	Af__Showback *sb;
	Af__ShowbackRow *r;

	if (af_showback_key_parse(key, klen, &sk) != 0)
		return 0;
	for (size_t i = 0; i < s->nby; i++) {
		int d = s->by[i];
		size_t n =
			sk.len[d < 3 ? d : 0] < 64 ? sk.len[d < 3 ? d : 0] : 64;

		if (i > 0)
			name[len++] = 0x1f;
		if (d == 5) {
			const char *v = NONE;

			for (size_t l = 0; l < sk.nlabels; l++)
				if (strcmp(sk.label[l][0], s->label[i]) == 0)
					v = sk.label[l][1];
			len += (size_t)snprintf(name + len, 65, "%.64s", v);
		} else if (d == 3)
			len += (size_t)snprintf(
				name + len, 24, "%llu",
				(unsigned long long)sk.revision);
		else if (d == 4) { /* YYYY-MM-DD */
			memcpy(name + len,
			       af_format_time(sk.day_ms, t, sizeof(t)), 10);
			len += 10;
		} else
			len += (size_t)snprintf(name + len, n + 1, "%.*s",
						(int)n, sk.part[d]);
	}
	r = scan_group(s, name, len);
	if (r == NULL)
		return s->too_many ? 1 : AF_ENOMEM;
	s->used = 0;
	sb = af__showback__unpack(&s->alloc, vlen, val);
	if (sb == NULL)
		return s->oom ? AF_ENOMEM : AF_ECORRUPT;
	r->count = af_sat_add_u64(r->count, sb->count);
	r->ok = af_sat_add_u64(r->ok, sb->ok);
	r->cost_nano_usd = af_sat_add_i64(r->cost_nano_usd, sb->cost_nano_usd);
	r->failed_cost_nano_usd = af_sat_add_i64(r->failed_cost_nano_usd,
						 sb->failed_cost_nano_usd);
	protobuf_c_message_free_unpacked(&sb->base, &s->alloc);
	return 0;
}

/* Rows in the order of their group name (the values joined by 0x1f sort
 * as the values, part by part). */
static int by_key(const void *a, const void *b)
{
	return strcmp((*(Af__ShowbackRow *const *)a)->key,
		      (*(Af__ShowbackRow *const *)b)->key);
}

void controld_read_showback(struct controld_job *j, struct af_txn *t)
{
	static const char *const dims[] = {"tenant", "class", "model",
					   "revision", "day"};
	char list[256], *keys[MAX_BY + 1];
	const Af__ShowbackReq *q = j->req->showback;
	Af__Response resp = AF__RESPONSE__INIT;
	Af__ShowbackResp sr = AF__SHOWBACK_RESP__INIT;
	struct showback_scan *s = af_calloc(1, sizeof(*s));
	Af__ShowbackRow **ptrs = NULL;
	int rc;

	if (s == NULL) {
		controld_job_fail(j, AF__CODE__INTERNAL, "showback: %s",
				  af_strerror(AF_ENOMEM));
		return;
	}
	snprintf(list, sizeof(list), "%s", q->by[0] ? q->by : "tenant");
	s->nby = af_render_split_by(list, keys, MAX_BY);
	for (size_t k = 0, n = s->nby; k < n && k < MAX_BY; k++) {
		s->by[k] = -1;
		for (int i = 0; i < 5; i++)
			if (strcmp(keys[k], dims[i]) == 0)
				s->by[k] = i;
		if (strncmp(keys[k], "labels.", 7) == 0 && keys[k][7] != '\0' &&
		    strlen(keys[k] + 7) <= 64) {
			s->by[k] = 5;
			s->label[k] = keys[k] + 7; /* in list */
		}
		if (s->by[k] < 0)
			s->nby = MAX_BY + 1; /* refused below */
	}
	s->alloc = (ProtobufCAllocator){scan_alloc, scan_free, s};
	if (s->nby == 0 || s->nby > MAX_BY) {
		controld_job_fail(j, AF__CODE__INVALID,
				  "--by takes up to 3 of tenant, class, "
				  "model, revision, day and labels.KEY");
		goto out;
	}
	if (q->until_ms > 0 && q->until_ms <= q->since_ms) {
		controld_job_fail(j, AF__CODE__INVALID,
				  "--until must come after --since");
		goto out;
	}
	rc = scan_grow(s);
	if (rc == 0)
		rc = af_showback_iter(t, q->since_ms, q->until_ms, showback_row,
				      s);
	if (rc == 1) {
		controld_job_fail(j, AF__CODE__TOO_LARGE,
				  "report: more than %u groups by %s: narrow "
				  "it with --since/--until or a coarser --by",
				  MAX_REPORT_GROUPS,
				  q->by[0] ? q->by : "tenant");
		goto out;
	}
	if (rc == 0 && (ptrs = af_calloc(s->n + 1, sizeof(*ptrs))) == NULL)
		rc = AF_ENOMEM;
	if (rc < 0) {
		controld_job_fail(j, AF__CODE__INTERNAL, "showback: %s",
				  af_strerror(rc));
		goto out;
	}
	for (size_t i = 0; i < s->n; i++)
		ptrs[i] = &s->rows[i];
	if (s->n > 1)
		qsort(ptrs, s->n, sizeof(*ptrs), by_key);
	sr.n_rows = s->n;
	sr.rows = ptrs;
	resp.body_case = AF__RESPONSE__BODY_SHOWBACK;
	resp.showback = &sr;
	controld_job_finish(j, &resp);
out:
	af_free(s->rows);
	af_free(s->keys);
	af_free(s->slots);
	af_free(s);
	af_free(ptrs);
}
