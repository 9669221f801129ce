#include "common/log.h"
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum af_log_level af_log_level = AF_LOG_INFO;
static char prefix[128];

static const char *level_names[] = {"debug", "info", "warn", "error"};

int af_log_parse_level(const char *s, enum af_log_level *ret_level)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*ret_level = (enum af_log_level)i;
			return 0;
		}
	}
	return AF_EINVAL;
}

void af_log_set_level(enum af_log_level level)
{
	af_log_level = level;
}

void af_log_set_prefix(const char *p)
{
	snprintf(prefix, sizeof(prefix), "%s", p ? p : "");
}

static void vlog(enum af_log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void vlog(enum af_log_level level, const char *fmt, va_list ap)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	int n, m;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
		     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s%s%s ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
		     level_names[level], prefix[0] ? " " : "", prefix);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* nowhere left to report it */
	}
}

void af_log(enum af_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level < af_log_level)
		return;
	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

void af_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(AF_LOG_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}
