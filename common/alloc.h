/*
 * Allocation with a hook tests can use to fail the N-th allocation.
 * All project code allocates through these (never libraft's internals).
 * af_alloc_fail_after() is for tests only and is not thread-safe.
 */
#ifndef AF_COMMON_ALLOC_H
#define AF_COMMON_ALLOC_H

#include <stddef.h>

void *af_malloc(size_t size);
void *af_calloc(size_t n, size_t size);
void *af_realloc(void *p, size_t size);
void af_free(void *p);
/* Returns an owned copy (af_free), or NULL. */
char *af_strdup(const char *s);
char *af_strndup(const char *s, size_t n);

/* Make the allocation after n more successful ones fail (and all later
 * ones while `sticky`). n < 0 turns failures off. */
void af_alloc_fail_after(long n, int sticky);
/* Number of allocations performed so far (for tests that sweep N). */
unsigned long af_alloc_count(void);

#endif
