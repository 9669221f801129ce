#include "common/sign.h"
#include "common/alloc.h"
#include "common/file.h"
#include "common/hash.h"

#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAYLOAD_MAX 512

static void key_id(const uint8_t pk[AF_SIGN_PK], char out[AF_KEYID_LEN])
{
	uint8_t d[AF_SHA256_LEN];

	af_sha256(pk, AF_SIGN_PK, d);
	sodium_bin2hex(out, AF_KEYID_LEN, d, 8);
}

static size_t payload(const char *name, const char *hash, uint64_t serial,
		      char *out)
{
	int n = snprintf(out, PAYLOAD_MAX,
			 "af-policy-v1\n%s\n%s\n%" PRIu64 "\n", name, hash,
			 serial);

	return n > 0 && n < PAYLOAD_MAX ? (size_t)n : 0;
}

/* "<tag> <hex>" with exactly binlen bytes of hex. */
static int read_hex_line(const char *path, const char *tag, uint8_t *bin,
			 size_t binlen, struct af_err *err)
{
	char *buf, *p;
	size_t len, got;
	int rc;

	if ((rc = af_read_file(path, 4096, &buf, &len, err)) != 0)
		return rc;
	p = buf;
	if (strncmp(p, tag, strlen(tag)) != 0 || p[strlen(tag)] != ' ') {
		af_free(buf);
		return af_errf(err, AF_EPARSE, "%s:1:1: expected \"%s <hex>\"",
			       path, tag);
	}
	p += strlen(tag) + 1;
	rc = sodium_hex2bin(bin, binlen, p, strcspn(p, "\r\n"), NULL, &got,
			    NULL);
	sodium_memzero(buf, len);
	af_free(buf);
	if (rc != 0 || got != binlen)
		return af_errf(err, AF_EPARSE, "%s:1:%zu: bad key material",
			       path, strlen(tag) + 2);
	return 0;
}

int af_sign_keygen(const char *prefix, char ret_id[AF_KEYID_LEN],
		   struct af_err *err)
{
	uint8_t pk[AF_SIGN_PK], sk[AF_SIGN_SK];
	char path[4096], hex[2 * AF_SIGN_SK + 1], line[300];
	int fd, n, rc = 0;

	if (sodium_init() < 0)
		return af_errf(err, AF_EIO, "libsodium failed to start");
	crypto_sign_keypair(pk, sk);
	snprintf(path, sizeof(path), "%s.key", prefix);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = af_errf(err, AF_EIO, "%s: cannot create (exists?)", path);
		goto out;
	}
	sodium_bin2hex(hex, sizeof(hex), sk, AF_SIGN_SK);
	n = snprintf(line, sizeof(line), "ed25519-secret %s\n", hex);
	if (write(fd, line, (size_t)n) != n || fsync(fd) != 0)
		rc = af_errf(err, AF_EIO, "%s: write failed", path);
	close(fd);
	sodium_memzero(line, sizeof(line));
	if (rc != 0)
		goto out;
	sodium_bin2hex(hex, sizeof(hex), pk, AF_SIGN_PK);
	n = snprintf(line, sizeof(line), "ed25519 %s\n", hex);
	snprintf(path, sizeof(path), "%s.pub", prefix);
	if ((rc = af_write_file_atomic(path, line, (size_t)n, err)) != 0)
		goto out;
	key_id(pk, ret_id);
out:
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(hex, sizeof(hex));
	return rc;
}

int af_sign_load_pub(const char *path, struct af_pubkey *ret,
		     struct af_err *err)
{
	int rc = read_hex_line(path, "ed25519", ret->pk, AF_SIGN_PK, err);

	if (rc == 0)
		key_id(ret->pk, ret->id);
	return rc;
}

int af_sign_bundle(const char *key_path, const char *name, const char *hash,
		   uint64_t serial, char *out, size_t outlen,
		   struct af_err *err)
{
	uint8_t sk[AF_SIGN_SK], sig[AF_SIGN_SIG];
	char msg[PAYLOAD_MAX], id[AF_KEYID_LEN], hex[2 * AF_SIGN_SIG + 1];
	size_t mlen = payload(name, hash, serial, msg);
	int rc;

	if (sodium_init() < 0)
		return af_errf(err, AF_EIO, "libsodium failed to start");
	if (mlen == 0)
		return af_errf(err, AF_EINVAL, "name too long to sign");
	if ((rc = read_hex_line(key_path, "ed25519-secret", sk, AF_SIGN_SK,
				err)) != 0)
		return rc;
	crypto_sign_detached(sig, NULL, (const uint8_t *)msg, mlen, sk);
	/* The public key is the second half of a libsodium secret key. */
	key_id(sk + 32, id);
	sodium_memzero(sk, sizeof(sk));
	sodium_bin2hex(hex, sizeof(hex), sig, sizeof(sig));
	snprintf(out, outlen, "af-sig-v1 %s %" PRIu64 " %s\n", id, serial, hex);
	return 0;
}

int af_sign_parse(const char *line, char ret_id[AF_KEYID_LEN],
		  uint64_t *ret_serial, uint8_t ret_sig[AF_SIGN_SIG],
		  struct af_err *err)
{
	char id[AF_KEYID_LEN + 8], hex[2 * AF_SIGN_SIG + 8];
	unsigned long long serial;
	size_t got;

	if (sscanf(line, "af-sig-v1 %20s %llu %135s", id, &serial, hex) != 3 ||
	    strlen(id) != AF_KEYID_LEN - 1 ||
	    sodium_hex2bin(ret_sig, AF_SIGN_SIG, hex, strlen(hex), NULL, &got,
			   NULL) != 0 ||
	    got != AF_SIGN_SIG)
		return af_errf(err, AF_EPARSE,
			       "signature: expected \"af-sig-v1 <key-id> "
			       "<serial> <signature>\"");
	memcpy(ret_id, id, AF_KEYID_LEN);
	*ret_serial = serial;
	return 0;
}

int af_sign_verify(const struct af_pubkey *keys, size_t n, const char *id,
		   const char *name, const char *hash, uint64_t serial,
		   const uint8_t *sig, size_t siglen, struct af_err *err)
{
	char msg[PAYLOAD_MAX];
	size_t mlen = payload(name, hash, serial, msg);

	if (sodium_init() < 0)
		return af_errf(err, AF_EIO, "libsodium failed to start");
	for (size_t i = 0; i < n; i++) {
		if (strcmp(keys[i].id, id) != 0)
			continue;
		if (siglen != AF_SIGN_SIG || mlen == 0 ||
		    crypto_sign_verify_detached(sig, (const uint8_t *)msg, mlen,
						keys[i].pk) != 0)
			return af_errf(err, AF_EPERM,
				       "signature by key %s does not verify "
				       "for %s %s serial %" PRIu64,
				       id, name, hash, serial);
		return 0;
	}
	return af_errf(err, AF_EPERM, "key %s is not trusted",
		       id[0] ? id : "(none)");
}
