#include "common/alloc.h"

#include <stdlib.h>
#include <string.h>

static long fail_after = -1;
static int fail_sticky;
static unsigned long count;

static int should_fail(void)
{
	count++;
	if (fail_after < 0)
		return 0;
	if (fail_after == 0) {
		if (!fail_sticky)
			fail_after = -1;
		return 1;
	}
	fail_after--;
	return 0;
}

void af_alloc_fail_after(long n, int sticky)
{
	fail_after = n;
	fail_sticky = sticky;
}

unsigned long af_alloc_count(void)
{
	return count;
}

void *af_malloc(size_t size)
{
	if (should_fail())
		return NULL;
	return malloc(size ? size : 1);
}

void *af_calloc(size_t n, size_t size)
{
	if (should_fail())
		return NULL;
	return calloc(n ? n : 1, size ? size : 1);
}

void *af_realloc(void *p, size_t size)
{
	if (should_fail())
		return NULL;
	return realloc(p, size ? size : 1);
}

void af_free(void *p)
{
	free(p);
}

char *af_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = af_malloc(len + 1);

	if (d == NULL)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

char *af_strdup(const char *s)
{
	return af_strndup(s, strlen(s));
}
