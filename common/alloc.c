#include "common/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Any thread allocates: every counter is atomic (relaxed: they order
 * nothing, they count). */
static atomic_long fail_after = -1;
static atomic_int fail_sticky;
static atomic_ulong count;
static atomic_long outstanding;

static int should_fail(void)
{
	long n;

	atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
	n = atomic_load_explicit(&fail_after, memory_order_relaxed);
	while (n >= 0) {
		long next = n > 0 ? n - 1 : -1;

		if (n == 0 &&
		    atomic_load_explicit(&fail_sticky, memory_order_relaxed))
			return 1;
		if (atomic_compare_exchange_weak_explicit(&fail_after, &n, next,
							  memory_order_relaxed,
							  memory_order_relaxed))
			return n == 0;
	}
	return 0;
}

static void *counted(void *p)
{
	if (p != NULL)
		atomic_fetch_add_explicit(&outstanding, 1,
					  memory_order_relaxed);
	return p;
}

void af_alloc_fail_after(long n, int sticky)
{
	atomic_store(&fail_sticky, sticky);
	atomic_store(&fail_after, n);
}

unsigned long af_alloc_count(void)
{
	return atomic_load_explicit(&count, memory_order_relaxed);
}

long af_alloc_outstanding(void)
{
	return atomic_load_explicit(&outstanding, memory_order_relaxed);
}

void *af_malloc(size_t size)
{
	if (should_fail())
		return NULL;
	return counted(malloc(size ? size : 1));
}

void *af_calloc(size_t n, size_t size)
{
	if (should_fail())
		return NULL;
	return counted(calloc(n ? n : 1, size ? size : 1));
}

void *af_realloc(void *p, size_t size)
{
	void *q;

	if (should_fail())
		return NULL;
	q = realloc(p, size ? size : 1);
	return p == NULL ? counted(q) : q;
}

void af_free(void *p)
{
	if (p != NULL)
		atomic_fetch_sub_explicit(&outstanding, 1,
					  memory_order_relaxed);
	free(p);
}

void *af_pb_alloc(void *data, size_t size)
{
	(void)data;
	if (should_fail())
		return NULL;
	return malloc(size ? size : 1);
}

void af_pb_free(void *data, void *p)
{
	(void)data;
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
