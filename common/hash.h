/* Hashing helpers (libsodium SHA-256). Thread-safe. */
#ifndef AF_COMMON_HASH_H
#define AF_COMMON_HASH_H

#include <stddef.h>
#include <stdint.h>

#define AF_SHA256_LEN 32
/* "sha256:" + 64 hex + NUL */
#define AF_HASH_STR_LEN 72

void af_sha256(const void *buf, size_t len, uint8_t out[AF_SHA256_LEN]);
/* Writes "sha256:<hex>" into out (AF_HASH_STR_LEN bytes). */
void af_sha256_str(const void *buf, size_t len, char out[AF_HASH_STR_LEN]);
/* Formats a raw digest as "sha256:<hex>". */
void af_hash_to_str(const uint8_t digest[AF_SHA256_LEN],
		    char out[AF_HASH_STR_LEN]);
/* Parses "sha256:<hex>"; returns 0 or AF_EINVAL. */
int af_hash_from_str(const char *s, uint8_t ret_digest[AF_SHA256_LEN]);

#endif
