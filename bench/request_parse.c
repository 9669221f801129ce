/* POST /v1/route body parsing: ns per parse of the example request with
 * the fast parser and with the reference (jansson) one, median and p99,
 * and allocations per parse. Prints figures; never fails on a number. */
#include "common/alloc.h"
#include "common/timeutil.h"
#include "policy/policy.h"
#include "policy/request_json.h"
#include "tests/lib/policy_fixture.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 64
#define SAMPLES 20000

typedef int (*parse_fn)(const char *, size_t, struct af_request *,
			struct af_request_error *);

static unsigned long json_allocs;

static void *count_malloc(size_t n)
{
	json_allocs++;
	return malloc(n);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Returns the median ns per parse. */
static double run(const char *name, parse_fn parse, const char *body)
{
	static uint64_t s[SAMPLES];
	static struct af_request r;
	struct af_request_error e;
	size_t len = strlen(body);
	unsigned long a0;

	for (int i = 0; i < 2000; i++)
		parse(body, len, &r, &e);
	json_allocs = 0;
	a0 = af_alloc_count();
	for (int i = 0; i < SAMPLES; i++) {
		uint64_t t0 = af_mono_ns();

		for (int j = 0; j < BATCH; j++)
			if (parse(body, len, &r, &e) != 0)
				return -1;
		s[i] = af_mono_ns() - t0;
	}
	qsort(s, SAMPLES, sizeof(s[0]), cmp_u64);
	printf("%-22s median %7.1f ns  p99 %7.1f ns  allocations/parse "
	       "%.2f\n",
	       name, (double)s[SAMPLES / 2] / BATCH,
	       (double)s[SAMPLES * 99 / 100] / BATCH,
	       (double)(json_allocs + af_alloc_count() - a0) /
		       ((double)SAMPLES * BATCH));
	return (double)s[SAMPLES / 2] / BATCH;
}

int main(void)
{
	double fast, ref;

	json_set_alloc_funcs(count_malloc, free);
	printf("# request parse: the example request (%zu bytes), %d x %d "
	       "parses\n",
	       strlen(pf_example_request), SAMPLES, BATCH);
	fast = run("fast parser", af_request_parse_json, pf_example_request);
	ref = run("reference (jansson)", af_request_parse_json_ref,
		  pf_example_request);
	if (fast > 0 && ref > 0)
		printf("speedup %.1fx; goal: under 1000 ns, no allocation\n",
		       ref / fast);
	return 0;
}
