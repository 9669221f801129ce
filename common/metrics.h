/*
 * Prometheus text-format helpers: latency histograms with fixed buckets and
 * an output buffer. Observations are lock-free (atomics) and may come from
 * any thread; formatting may race with observations (each value is read
 * atomically, the set is not a snapshot, as in Prometheus clients).
 */
#ifndef AF_COMMON_METRICS_H
#define AF_COMMON_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define AF_HIST_BUCKETS 14

/* Buckets (seconds): 10us .. 10s, roughly x2.5 apart. */
struct af_histogram {
	_Atomic uint64_t counts[AF_HIST_BUCKETS + 1]; /* last: +Inf */
	_Atomic uint64_t sum_ns;
	_Atomic uint64_t count;
};

void af_histogram_observe_ns(struct af_histogram *h, uint64_t ns);

/* A growable text buffer for /metrics bodies. */
struct af_textbuf {
	char *buf;
	size_t len, cap;
	int failed; /* an allocation failed: the text is incomplete */
};

void af_textbuf_printf(struct af_textbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Appends "# HELP/# TYPE" and the series of one histogram. labels may be
 * "" or 'k="v"' (without braces). */
void af_histogram_format(struct af_textbuf *b, const char *name,
			 const char *help, const char *labels,
			 const struct af_histogram *h);
void af_textbuf_free(struct af_textbuf *b);
/* Appends "# HELP/# TYPE" and the one unlabelled series of `name`. */
void af_metric_u64(struct af_textbuf *b, const char *name, const char *help,
		   const char *type, uint64_t v);

/* Appends "# HELP/# TYPE" for family `name`, then the lines of rows that
 * are series of it (name followed by '{'), so series gathered interleaved
 * print grouped by family. rows failing marks b failed. */
void af_family_filter(struct af_textbuf *b, const struct af_textbuf *rows,
		      const char *name, const char *type, const char *help);

/* Appends af_build_info{version,daemon} and the standard process metrics
 * (process_start_time_seconds, process_cpu_seconds_total,
 * process_resident_memory_bytes, process_virtual_memory_bytes,
 * process_open_fds, process_max_fds) read from /proc/self. A /proc file
 * that cannot be read leaves its series out. Bounded work: two small files
 * and one directory listing of the process's descriptors. */
void af_process_metrics(struct af_textbuf *b, const char *daemon,
			const char *version);

/* Outcome latency buckets reported by routerd and judged by the canary
 * controller (milliseconds; the last bucket, index AF_USAGE_BUCKETS - 1,
 * is +Inf). */
#define AF_USAGE_BUCKETS 12
extern const uint64_t af_usage_bucket_ms[AF_USAGE_BUCKETS - 1];

#endif
