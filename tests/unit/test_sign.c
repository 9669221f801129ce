/* Bundle signatures: keys, sign, parse, verify; tampering, untrusted keys
 * and malformed signature lines. */
#include "tests/lib/alloc_check.h"
#include "common/sign.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64], prefix[96], other[96];

static void setup(void)
{
	char id[AF_KEYID_LEN];
	struct af_err e;

	af_test_alloc_begin();
	snprintf(dir, sizeof(dir), "/tmp/af-sign.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(prefix, sizeof(prefix), "%s/release", dir);
	snprintf(other, sizeof(other), "%s/other", dir);
	cr_assert_eq(af_sign_keygen(prefix, id, &e), 0, "%s", e.msg);
	cr_assert_eq(af_sign_keygen(other, id, &e), 0, "%s", e.msg);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
	af_test_alloc_end();
}

TestSuite(sign, .init = setup, .fini = teardown);

#define HASH                                                                   \
	"sha256:"                                                              \
	"16f0182383a324d2decf35bf26565b6420034a9b461e222602d3469a07830603"

static void sign_and_parse(const char *keyprefix, uint64_t serial,
			   char id[AF_KEYID_LEN], uint8_t sig[AF_SIGN_SIG],
			   uint64_t *ret_serial)
{
	char path[128], line[256];
	struct af_err e;

	snprintf(path, sizeof(path), "%s.key", keyprefix);
	cr_assert_eq(af_sign_bundle(path, "prod", HASH, serial, line,
				    sizeof(line), &e),
		     0, "%s", e.msg);
	cr_assert_eq(af_sign_parse(line, id, ret_serial, sig, &e), 0, "%s",
		     e.msg);
}

Test(sign, verifies_and_catches_tampering)
{
	struct af_pubkey key;
	char path[128], id[AF_KEYID_LEN];
	uint8_t sig[AF_SIGN_SIG];
	uint64_t serial;
	struct af_err e;

	snprintf(path, sizeof(path), "%s.pub", prefix);
	cr_assert_eq(af_sign_load_pub(path, &key, &e), 0, "%s", e.msg);
	sign_and_parse(prefix, 42, id, sig, &serial);
	cr_assert_eq(serial, 42);
	cr_assert_str_eq(id, key.id);
	cr_assert_eq(af_sign_verify(&key, 1, id, "prod", HASH, 42, sig,
				    sizeof(sig), &e),
		     0, "%s", e.msg);
	/* another name, hash or serial: the signature does not cover it */
	cr_assert_eq(af_sign_verify(&key, 1, id, "prod2", HASH, 42, sig,
				    sizeof(sig), &e),
		     AF_EPERM);
	cr_assert_eq(af_sign_verify(&key, 1, id, "prod",
				    "sha256:06f0182383a324d2decf35bf26565b642"
				    "0034a9b461e222602d3469a07830603",
				    42, sig, sizeof(sig), &e),
		     AF_EPERM);
	cr_assert_eq(af_sign_verify(&key, 1, id, "prod", HASH, 43, sig,
				    sizeof(sig), &e),
		     AF_EPERM);
	sig[10] ^= 1;
	cr_assert_eq(af_sign_verify(&key, 1, id, "prod", HASH, 42, sig,
				    sizeof(sig), &e),
		     AF_EPERM);
	cr_assert(strstr(e.msg, "does not verify") != NULL, "%s", e.msg);
}

Test(sign, untrusted_key)
{
	struct af_pubkey key;
	char path[128], id[AF_KEYID_LEN];
	uint8_t sig[AF_SIGN_SIG];
	uint64_t serial;
	struct af_err e;

	snprintf(path, sizeof(path), "%s.pub", prefix);
	cr_assert_eq(af_sign_load_pub(path, &key, &e), 0);
	sign_and_parse(other, 7, id, sig, &serial);
	cr_assert_eq(af_sign_verify(&key, 1, id, "prod", HASH, 7, sig,
				    sizeof(sig), &e),
		     AF_EPERM);
	cr_assert(strstr(e.msg, "not trusted") != NULL, "%s", e.msg);
}

Test(sign, malformed_lines_and_files)
{
	char id[AF_KEYID_LEN], line[400], path[128];
	uint8_t sig[AF_SIGN_SIG];
	uint64_t serial;
	struct af_pubkey key;
	struct af_err e;

	cr_assert_eq(af_sign_parse("", id, &serial, sig, &e), AF_EPARSE);
	cr_assert_eq(af_sign_parse("af-sig-v1 abc 1 00", id, &serial, sig, &e),
		     AF_EPARSE);
	/* a signature field longer than any signature */
	memset(line, 0, sizeof(line));
	strcpy(line, "af-sig-v1 0123456789abcdef 1 ");
	memset(line + strlen(line), 'a', 300);
	cr_assert_eq(af_sign_parse(line, id, &serial, sig, &e), AF_EPARSE);
	snprintf(path, sizeof(path), "%s.key", prefix);
	/* a secret key is not a public key */
	cr_assert_eq(af_sign_load_pub(path, &key, &e), AF_EPARSE);
	cr_assert_eq(af_sign_load_pub("/nonexistent.pub", &key, &e), AF_EIO);
	/* keygen never overwrites a secret key */
	cr_assert_eq(af_sign_keygen(prefix, id, &e), AF_EIO);
}
