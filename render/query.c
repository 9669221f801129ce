/* Parameters of paged and dated reads, the same for af's flags and the
 * query strings of /api/v1. */
#include "render/render.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A decimal number with nothing around it. */
static int parse_num(const char *s, unsigned long long *ret)
{
	char *end = NULL;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*ret = strtoull(s, &end, 10);
	return *end != '\0' || errno ? -1 : 0;
}

int af_render_parse_page(const char *limit_name, const char *limit,
			 const char *after_name, const char *after,
			 uint32_t *ret_limit, uint64_t *ret_after, char *why,
			 size_t whylen)
{
	unsigned long long v = 0;

	*ret_limit = AF_RENDER_PAGE_DEFAULT;
	*ret_after = 0;
	if (limit) {
		if (parse_num(limit, &v) != 0 || v < 1 ||
		    v > AF_RENDER_PAGE_MAX) {
			snprintf(why, whylen, "%s takes 1 to %u, got \"%.64s\"",
				 limit_name, AF_RENDER_PAGE_MAX, limit);
			return -1;
		}
		*ret_limit = (uint32_t)v;
	}
	if (after) {
		if (parse_num(after, &v) != 0 || v == 0) {
			snprintf(why, whylen,
				 "%s takes the next_after of a previous page "
				 "(a positive number), got \"%.64s\"",
				 after_name, after);
			return -1;
		}
		*ret_after = v;
	}
	return 0;
}

int af_render_parse_date(const char *name, const char *s, int64_t *ret,
			 char *why, size_t whylen)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0') {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%d", &tm);
	}
	if (end == NULL || *end != '\0') {
		snprintf(why, whylen,
			 "%s takes YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ", name);
		return -1;
	}
	*ret = (int64_t)timegm(&tm) * 1000;
	return 0;
}
