#include "common/hash.h"
#include "common/err.h"

#include <sodium.h>
#include <string.h>

void af_sha256(const void *buf, size_t len, uint8_t out[AF_SHA256_LEN])
{
	crypto_hash_sha256(out, buf, len);
}

void af_hash_to_str(const uint8_t digest[AF_SHA256_LEN],
		    char out[AF_HASH_STR_LEN])
{
	memcpy(out, "sha256:", 7);
	sodium_bin2hex(out + 7, AF_HASH_STR_LEN - 7, digest, AF_SHA256_LEN);
}

void af_sha256_str(const void *buf, size_t len, char out[AF_HASH_STR_LEN])
{
	uint8_t d[AF_SHA256_LEN];

	af_sha256(buf, len, d);
	af_hash_to_str(d, out);
}

int af_hash_from_str(const char *s, uint8_t ret_digest[AF_SHA256_LEN])
{
	uint8_t d[AF_SHA256_LEN];
	size_t bin_len;
	const char *end;

	if (strncmp(s, "sha256:", 7) != 0 || strlen(s) != 7 + 64)
		return AF_EINVAL;
	if (sodium_hex2bin(d, sizeof(d), s + 7, 64, NULL, &bin_len, &end) !=
		    0 ||
	    bin_len != AF_SHA256_LEN || *end != '\0')
		return AF_EINVAL;
	memcpy(ret_digest, d, sizeof(d));
	return 0;
}
