/*
 * Allocation with a hook tests can use to fail the N-th allocation, and an
 * outstanding-allocation counter tests assert back to its start value.
 * All project code allocates through these (never libraft's internals).
 * Any thread may allocate; af_alloc_fail_after() is for tests.
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
/* af_malloc/af_calloc/af_realloc(NULL) results not yet given to af_free
 * (tests: a test that frees what it allocated ends where it started). */
long af_alloc_outstanding(void);

/* protobuf-c's ProtobufCAllocator callbacks: unpacking through the failing
 * allocator (NULL from unpack when it fails). They are malloc and free
 * underneath and not counted as outstanding, so a message unpacked with
 * them may be freed with free_unpacked(msg, NULL) or with them. Write
 *   ProtobufCAllocator a = AF_PB_ALLOCATOR;   (or static const)
 * and pass &a to unpack. */
void *af_pb_alloc(void *data, size_t size);
void af_pb_free(void *data, void *p);
#define AF_PB_ALLOCATOR                                                        \
	{                                                                      \
		.alloc = af_pb_alloc, .free = af_pb_free                       \
	}

#endif
