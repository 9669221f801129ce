/* Text helpers for /metrics: process metrics read from /proc/self match
 * what the kernel says of this process; a family filter prints each
 * family's series under its own header, in order. */
#include "common/metrics.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double value_of(const char *text, const char *name)
{
	char key[128];
	const char *p;

	snprintf(key, sizeof(key), "\n%s ", name);
	p = strstr(text, key);
	cr_assert_not_null(p, "%s missing in:\n%s", name, text);
	return strtod(p + strlen(key), NULL);
}

Test(metrics, process_metrics_describe_this_process)
{
	struct af_textbuf b = {0};
	int fd = open("/dev/null", O_RDONLY);
	double fds, fds2, start;

	cr_assert_geq(fd, 0);
	af_process_metrics(&b, "test", "9.9.9");
	cr_assert(!b.failed);
	cr_assert_not_null(strstr(b.buf, "af_build_info{daemon=\"test\","
					 "version=\"9.9.9\"} 1\n"));
	fds = value_of(b.buf, "process_open_fds");
	start = value_of(b.buf, "process_start_time_seconds");
	cr_assert_gt(value_of(b.buf, "process_resident_memory_bytes"), 4096);
	cr_assert_geq(value_of(b.buf, "process_cpu_seconds_total"), 0);
	cr_assert_gt(value_of(b.buf, "process_max_fds"), fds);
	/* started in the last two minutes, not in the future */
	cr_assert_leq(start, (double)time(NULL) + 1);
	cr_assert_gt(start, (double)time(NULL) - 120);
	af_textbuf_free(&b);
	close(fd); /* one descriptor fewer is seen */
	af_process_metrics(&b, "test", "9.9.9");
	fds2 = value_of(b.buf, "process_open_fds");
	cr_assert_eq(fds2, fds - 1, "%g then %g", fds, fds2);
	af_textbuf_free(&b);
}

Test(metrics, family_filter_groups_interleaved_series)
{
	struct af_textbuf rows = {0}, b = {0};

	af_textbuf_printf(&rows, "a_x{l=\"1\"} 1\na_xy{l=\"1\"} 9\n"
				 "a_y{l=\"1\"} 2\na_x{l=\"2\"} 3\n");
	af_family_filter(&b, &rows, "a_x", "gauge", "X.");
	af_family_filter(&b, &rows, "a_y", "counter", "Y.");
	cr_assert_str_eq(b.buf, "# HELP a_x X.\n# TYPE a_x gauge\n"
				"a_x{l=\"1\"} 1\na_x{l=\"2\"} 3\n"
				"# HELP a_y Y.\n# TYPE a_y counter\n"
				"a_y{l=\"1\"} 2\n");
	af_textbuf_free(&rows);
	af_textbuf_free(&b);
}
