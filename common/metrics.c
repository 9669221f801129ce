#include "common/metrics.h"
#include "common/alloc.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

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

void af_family_filter(struct af_textbuf *b, const struct af_textbuf *rows,
		      const char *name, const char *type, const char *help)
{
	size_t nl = strlen(name);
	const char *p = rows->buf, *e;

	af_textbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
			  type);
	for (; p != NULL && p < rows->buf + rows->len; p = e + 1) {
		if ((e = memchr(p, '\n',
				rows->len - (size_t)(p - rows->buf))) == NULL)
			break;
		if (strncmp(p, name, nl) == 0 && p[nl] == '{')
			af_textbuf_printf(b, "%.*s\n", (int)(e - p), p);
	}
	if (rows->failed)
		b->failed = 1;
}

/* ------------------------------------------------------ process */

static void metric_line(struct af_textbuf *b, const char *name,
			const char *type, const char *help, double v)
{
	af_textbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name,
			  help, name, type, name, v);
}

/* /proc/self/stat: utime, stime (fields 14, 15), starttime (22), vsize
 * (23), rss in pages (24). The command name (field 2) may hold spaces:
 * fields are counted from its closing parenthesis. */
static void proc_stat(struct af_textbuf *b)
{
	char buf[1024], *p;
	unsigned long long ut, st, start, vsize;
	long long rss;
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n;

	if (f == NULL)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu "
		   "%*d %*d %*d %*d %*d %*d %llu %llu %lld",
		   &ut, &st, &start, &vsize, &rss) != 5)
		return;
	double hz = (double)sysconf(_SC_CLK_TCK);
	double page = (double)sysconf(_SC_PAGESIZE);

	metric_line(b, "process_cpu_seconds_total", "counter",
		    "User and system CPU time spent, in seconds.",
		    (double)(ut + st) / hz);
	metric_line(b, "process_resident_memory_bytes", "gauge",
		    "Resident memory size in bytes.", (double)rss * page);
	metric_line(b, "process_virtual_memory_bytes", "gauge",
		    "Virtual memory size in bytes.", (double)vsize);
	/* starttime counts clock ticks since boot: the wall clock minus the
	 * time since boot gives the boot time (no /proc/stat, which a
	 * ProcSubset=pid sandbox hides). */
	struct timespec real, boot;

	if (clock_gettime(CLOCK_REALTIME, &real) == 0 &&
	    clock_gettime(CLOCK_BOOTTIME, &boot) == 0)
		metric_line(b, "process_start_time_seconds", "gauge",
			    "Start time of the process since the Unix epoch "
			    "in seconds.",
			    (double)real.tv_sec - (double)boot.tv_sec +
				    (double)(real.tv_nsec - boot.tv_nsec) /
					    1e9 +
				    (double)start / hz);
}

static void proc_fds(struct af_textbuf *b)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	struct rlimit rl;
	long n = 0;

	if (d != NULL) {
		while ((e = readdir(d)) != NULL)
			if (e->d_name[0] != '.')
				n++;
		closedir(d);
		/* the listing's own descriptor is not the process's */
		metric_line(b, "process_open_fds", "gauge",
			    "Number of open file descriptors.",
			    (double)(n > 0 ? n - 1 : 0));
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		metric_line(b, "process_max_fds", "gauge",
			    "Maximum number of open file descriptors.",
			    (double)rl.rlim_cur);
}

void af_process_metrics(struct af_textbuf *b, const char *daemon,
			const char *version)
{
	af_textbuf_printf(b,
			  "# HELP af_build_info The daemon's version "
			  "(always 1).\n# TYPE af_build_info gauge\n"
			  "af_build_info{daemon=\"%s\",version=\"%s\"} 1\n",
			  daemon, version);
	proc_stat(b);
	proc_fds(b);
}

void af_metric_u64(struct af_textbuf *b, const char *name, const char *help,
		   const char *type, uint64_t v)
{
	af_textbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name,
			  help, name, type, name, (unsigned long long)v);
}
