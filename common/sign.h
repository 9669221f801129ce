/*
 * Signed policy bundles (ed25519, libsodium). A signature covers
 *   "af-policy-v1\n" <bundle name> "\n" <sha256:hash> "\n" <serial> "\n"
 * where the hash is the canonical compiled hash and the serial a number
 * the signer chooses that must grow with every bundle of that name (the
 * cluster refuses a serial it has seen: no replay of old bundles).
 *
 * Files: a public key is one line "ed25519 <64 hex>", a secret key
 * "ed25519-secret <128 hex>"; a signature file (FILE.sig) is one line
 * "af-sig-v1 <key-id> <serial> <128 hex>". A key id is the first 16 hex
 * digits of SHA-256 of the public key. Thread-safe.
 */
#ifndef AF_COMMON_SIGN_H
#define AF_COMMON_SIGN_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AF_SIGN_PK 32
#define AF_SIGN_SK 64
#define AF_SIGN_SIG 64
#define AF_KEYID_LEN 17 /* 16 hex + NUL */

struct af_pubkey {
	uint8_t pk[AF_SIGN_PK];
	char id[AF_KEYID_LEN];
};

/* Makes a key pair into PREFIX.key (0600) and PREFIX.pub. */
int af_sign_keygen(const char *prefix, char ret_id[AF_KEYID_LEN],
		   struct af_err *err);
int af_sign_load_pub(const char *path, struct af_pubkey *ret,
		     struct af_err *err);

/* Signs (name, hash, serial) with the secret key file; writes the
 * signature line into out (at least 256 bytes). */
int af_sign_bundle(const char *key_path, const char *name, const char *hash,
		   uint64_t serial, char *out, size_t outlen,
		   struct af_err *err);
/* Parses a signature line. */
int af_sign_parse(const char *line, char ret_id[AF_KEYID_LEN],
		  uint64_t *ret_serial, uint8_t ret_sig[AF_SIGN_SIG],
		  struct af_err *err);
/* Verifies sig over (name, hash, serial) against the key with that id
 * among keys[0..n). Errors: AF_EPERM with the reason (untrusted key, bad
 * signature). */
int af_sign_verify(const struct af_pubkey *keys, size_t n, const char *id,
		   const char *name, const char *hash, uint64_t serial,
		   const uint8_t *sig, size_t siglen, struct af_err *err);

#endif
