#include "common/metrics.h"
#include "common/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const uint64_t bounds_ns[AF_HIST_BUCKETS] = {
	10000,	   25000,     50000,	  100000,	  250000,
	500000,	   1000000,   2500000,	  5000000,	  10000000,
	100000000, 500000000, 1000000000, 10000000000ull,
};

void af_histogram_observe_ns(struct af_histogram *h, uint64_t ns)
{
	size_t i = 0;

	while (i < AF_HIST_BUCKETS && ns > bounds_ns[i])
		i++;
	atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

void af_textbuf_printf(struct af_textbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	for (;;) {
		size_t avail = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->buf ? b->buf + b->len : NULL, avail, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = 1;
			return;
		}
		if ((size_t)n < avail) {
			b->len += (size_t)n;
			return;
		}
		size_t ncap = b->cap ? b->cap * 2 : 4096;
		while (ncap - b->len <= (size_t)n)
			ncap *= 2;
		char *nb = af_realloc(b->buf, ncap);
		if (nb == NULL) {
			b->failed = 1;
			return;
		}
		b->buf = nb;
		b->cap = ncap;
	}
}

void af_histogram_format(struct af_textbuf *b, const char *name,
			 const char *help, const char *labels,
			 const struct af_histogram *h)
{
	const char *sep = labels[0] ? "," : "";
	uint64_t cum = 0;

	af_textbuf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help,
			  name);
	for (size_t i = 0; i <= AF_HIST_BUCKETS; i++) {
		cum += atomic_load_explicit(&h->counts[i],
					    memory_order_relaxed);
		if (i < AF_HIST_BUCKETS)
			af_textbuf_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n",
					  name, labels, sep,
					  (double)bounds_ns[i] / 1e9,
					  (unsigned long long)cum);
		else
			af_textbuf_printf(
				b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name,
				labels, sep, (unsigned long long)cum);
	}
	af_textbuf_printf(b, "%s_sum{%s} %.9f\n%s_count{%s} %llu\n", name,
			  labels, (double)atomic_load(&h->sum_ns) / 1e9, name,
			  labels, (unsigned long long)atomic_load(&h->count));
}

void af_textbuf_free(struct af_textbuf *b)
{
	af_free(b->buf);
	memset(b, 0, sizeof(*b));
}

const uint64_t af_usage_bucket_ms[AF_USAGE_BUCKETS - 1] = {
	10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000,
};
