/*
 * Small helpers every bench program shares (linked into each with
 * bench/lib/): a monotonic clock in seconds. Scratch trees are removed
 * with af_test_rmtree (tests/lib/tmpdir.h), linked into every bench.
 */
#ifndef BENCH_LIB_UTIL_H
#define BENCH_LIB_UTIL_H

/* Seconds on the monotonic clock (for differences only). */
double bench_now_s(void);

#endif
