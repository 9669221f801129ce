#include "tests/lib/alloc_check.h"
#include "common/alloc.h"

#include <stdio.h>
#include <stdlib.h>

static long at_begin;

void af_test_alloc_begin(void)
{
	at_begin = af_alloc_outstanding();
}

void af_test_alloc_end(void)
{
	long left = af_alloc_outstanding() - at_begin;

	/* Criterion reports a crash in .fini ("crashed during its setup or
	 * teardown"), which tests/run.sh counts as a failure, as it does
	 * this line. */
	if (left != 0) {
		fprintf(stderr, "af-alloc: %ld allocations outstanding\n",
			left);
		abort();
	}
}
