/* af keygen, af policy sign, and attaching signatures to applies. */
#include "cli/client.h"
#include "cli/output.h"
#include "common/alloc.h"
#include "common/file.h"
#include "common/sign.h"
#include "policy/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int af_cli_keygen(struct af_cli *cli, int argc, char **argv)
{
	static const char *const names[] = {"--out", NULL};
	const char *vals[1] = {NULL};
	struct af_err err = {{0}};
	char id[AF_KEYID_LEN];
	int npos, rc;

	if ((rc = af_cli_flags(argc, argv, names, vals, &npos, NULL, 0)) != 0)
		return rc;
	if (vals[0] == NULL)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "usage: af keygen --out PREFIX (writes "
				   "PREFIX.key and PREFIX.pub)");
	if (af_sign_keygen(vals[0], id, &err) != 0)
		return af_cli_fail(AF_EXIT_REFUSED, "IO", "%s", err.msg);
	if (cli->output != AF_OUT_TABLE) {
		json_t *o = af_out_ok();
		char path[4096];

		json_object_set_new(o, "key_id", json_string(id));
		snprintf(path, sizeof(path), "%s.key", vals[0]);
		json_object_set_new(o, "secret", json_string(path));
		snprintf(path, sizeof(path), "%s.pub", vals[0]);
		json_object_set_new(o, "public", json_string(path));
		return af_out_json(o);
	}
	printf("key %s: secret %s.key (keep it private), public %s.pub "
	       "(list it in signing.trusted_keys)\n",
	       id, vals[0], vals[0]);
	return 0;
}

int af_cli_policy_sign(struct af_cli *cli, int argc, char **argv)
{
	static const char *const names[] = {"-f", "--key", "--serial", "--out",
					    NULL};
	const char *vals[4] = {NULL};
	struct af_bundle *b;
	struct af_err err = {{0}};
	char line[256], out[4096], *src, *end;
	uint64_t serial = (uint64_t)time(NULL);
	size_t len;
	int npos, rc;

	if ((rc = af_cli_flags(argc, argv, names, vals, &npos, NULL, 0)) != 0)
		return rc;
	if (vals[0] == NULL || vals[1] == NULL)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "usage: af policy sign -f FILE --key KEY "
				   "[--serial N] [--out FILE.sig]");
	if (vals[2]) {
		serial = strtoull(vals[2], &end, 10);
		if (*vals[2] == '\0' || *end != '\0' || serial == 0)
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "--serial takes a positive number");
	}
	if ((rc = af_cli_read_bundle(vals[0], &src, &len, &b)) != 0)
		return rc;
	af_free(src);
	rc = af_sign_bundle(vals[1], af_bundle_name(b), af_bundle_hash(b),
			    serial, line, sizeof(line), &err);
	if (rc != 0) {
		af_bundle_free(b);
		return af_cli_fail(AF_EXIT_REFUSED, "SIGN", "%s", err.msg);
	}
	snprintf(out, sizeof(out), "%s", vals[3] ? vals[3] : vals[0]);
	if (vals[3] == NULL)
		strncat(out, ".sig", sizeof(out) - strlen(out) - 1);
	if (af_write_file_atomic(out, line, strlen(line), &err) != 0) {
		af_bundle_free(b);
		return af_cli_fail(AF_EXIT_REFUSED, "IO", "%s", err.msg);
	}
	if (cli->output != AF_OUT_TABLE) {
		json_t *o = af_out_ok();

		json_object_set_new(o, "name", json_string(af_bundle_name(b)));
		json_object_set_new(o, "hash", json_string(af_bundle_hash(b)));
		json_object_set_new(o, "serial",
				    json_integer((json_int_t)serial));
		json_object_set_new(o, "signature", json_string(out));
		af_bundle_free(b);
		return af_out_json(o);
	}
	printf("signed %s %s serial %llu: %s\n", af_bundle_name(b),
	       af_bundle_hash(b), (unsigned long long)serial, out);
	af_bundle_free(b);
	return 0;
}

int af_cli_attach_signature(const char *file, const char *sigpath,
			    Af__PolicyApply *pa, uint8_t sig[64],
			    char id[AF_KEYID_LEN])
{
	char path[4096], *buf;
	struct af_err err = {{0}};
	size_t len;
	int rc;

	if (sigpath == NULL) {
		snprintf(path, sizeof(path), "%s.sig", file);
		if (access(path, F_OK) != 0)
			return 0; /* unsigned */
		sigpath = path;
	}
	if (af_read_file(sigpath, 4096, &buf, &len, &err) != 0)
		return af_cli_fail(AF_EXIT_USAGE, "IO", "%s", err.msg);
	rc = af_sign_parse(buf, id, &pa->serial, sig, &err);
	af_free(buf);
	if (rc != 0)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE", "%s: %s", sigpath,
				   err.msg);
	pa->signature.data = sig;
	pa->signature.len = 64;
	pa->key_id = id;
	return 0;
}
