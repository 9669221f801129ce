/* Private declarations of the policy engine (not for other modules). */
#ifndef AF_POLICY_POLICY_INT_H
#define AF_POLICY_POLICY_INT_H

#include "policy/policy.h"
#include "proto/policy.pb-c.h"
#include "common/hash.h"
#include "common/yamldoc.h"

/* ------------------------------------------------------------- arena */

/* Bump allocator: everything a parse or a view builds is freed at once.
 * Allocations go through af_malloc so tests can fail them. */
struct arena_chunk;
struct arena {
	struct arena_chunk *head;
};

void *arena_alloc(struct arena *a, size_t size);
void *arena_calloc(struct arena *a, size_t n, size_t size);
char *arena_strdup(struct arena *a, const char *s);
void arena_free(struct arena *a);

/* ----------------------------------------------- compiled objects */

#define MAX_WARNINGS 8

struct af_bundle {
	uint8_t *bytes;
	size_t len;
	char hash[AF_HASH_STR_LEN];
	Af__Policy__Bundle *pb; /* unpacked from bytes */
	size_t nwarn;
	char *warn[MAX_WARNINGS];
};

struct af_registry {
	uint8_t *bytes;
	size_t len;
	char hash[AF_HASH_STR_LEN];
	Af__Policy__Registry *pb;
};

/* YAML -> protobuf structs allocated in arena `a`, canonical order.
 * Warnings (owned strings) are appended to b->warn. */
int parse_bundle(struct af_yaml *y, struct arena *a, struct af_bundle *b,
		 Af__Policy__Bundle **ret, struct af_err *err);
int parse_registry(struct af_yaml *y, struct arena *a,
		   Af__Policy__Registry **ret, struct af_err *err);

/* Validation shared by compile (sanity) and load (untrusted bytes). */
int validate_bundle(const Af__Policy__Bundle *b, struct af_err *err);
int validate_registry(const Af__Policy__Registry *r, struct af_err *err);

/* Sorting helpers shared by the parsers. */
int cmp_str_ptr(const void *a, const void *b);
/* Sorts strs; returns the index of the first duplicate or -1. */
long sort_unique(char **strs, size_t n);

/* Bounds used by the parsers and validators. */
#define MAX_NUMBER 1000000000000LL     /* numeric condition values */
#define MAX_TOKENS 1000000000LL	       /* tokens, context limits */
#define MAX_PRICE_MICRO 1000000000LL   /* 1,000 USD per 1k tokens */
#define MAX_COST_MICRO 1000000000000LL /* 1,000,000 USD */
#define MAX_COUNT 1000000000LL	       /* fanout, tool calls, in-flight */
#define MAX_CODE_LEN 64

bool valid_deny_code(const char *s);

/* The `staleness` section's bounds (parse_staleness.c, for validate.c):
 * 0 or AF_ECORRUPT. */
int validate_staleness(const Af__Policy__Bundle *b, struct af_err *err);
/* parse_showback.c: the `showback` section's dimensions. */
int validate_showback(const Af__Policy__Bundle *b, struct af_err *err);

#endif
