/* The allocator's counters: outstanding allocations (allocs - frees),
 * exact under concurrent use; the failing allocator also fails protobuf-c
 * unpacking through AF_PB_ALLOCATOR. */
#include "common/alloc.h"
#include "proto/af.pb-c.h"
#include "tests/lib/alloc_check.h"

#include <criterion/criterion.h>
#include <pthread.h>

TestSuite(alloc, .init = af_test_alloc_begin, .fini = af_test_alloc_end);

Test(alloc, outstanding_counts_allocs_minus_frees)
{
	long base = af_alloc_outstanding();
	void *a = af_malloc(8), *b = af_calloc(2, 8), *c = af_realloc(NULL, 4);

	cr_assert_eq(af_alloc_outstanding(), base + 3);
	c = af_realloc(c, 64); /* a move, not a new allocation */
	cr_assert_eq(af_alloc_outstanding(), base + 3);
	af_free(NULL);
	af_free(a);
	af_free(b);
	af_free(c);
	cr_assert_eq(af_alloc_outstanding(), base);
}

static void *churn(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100000; i++)
		af_free(af_malloc(16));
	return NULL;
}

Test(alloc, counters_are_exact_across_threads)
{
	unsigned long c0 = af_alloc_count();
	pthread_t t[4];

	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, churn, NULL), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(af_alloc_count() - c0, 400000ul);
}

Test(alloc, failing_allocator_reaches_protobuf_unpack)
{
	ProtobufCAllocator pa = AF_PB_ALLOCATOR;
	Af__Hint h = AF__HINT__INIT;
	uint8_t buf[256];
	size_t len;
	Af__Hint *out;

	h.cluster = (char *)"c";
	len = af__hint__pack(&h, buf);
	af_alloc_fail_after(0, 1);
	out = af__hint__unpack(&pa, len, buf);
	af_alloc_fail_after(-1, 0);
	cr_assert_null(out, "unpack ignored the failing allocator");
	out = af__hint__unpack(&pa, len, buf);
	cr_assert_not_null(out);
	cr_assert_str_eq(out->cluster, "c");
	af__hint__free_unpacked(out, NULL); /* malloc underneath: allowed */
}
