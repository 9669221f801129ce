/*
 * Outstanding allocations in unit tests: a suite whose tests free what they
 * allocate calls af_test_alloc_begin() first in its .init and
 * af_test_alloc_end() last in its .fini; the test fails when af_malloc'd
 * memory is still held: it prints "af-alloc: N allocations outstanding"
 * and aborts (each test runs in its own process).
 */
#ifndef AF_TESTS_ALLOC_CHECK_H
#define AF_TESTS_ALLOC_CHECK_H

void af_test_alloc_begin(void);
void af_test_alloc_end(void);

#endif
