/* af policy diff REV [REV | -f FILE]: the difference of two canonical
 * compiled forms, rendered one "path: value" line per field so every
 * semantic change is one readable line. Exit 0 when equal, 1 when they
 * differ (as kubectl diff). */
#include "cli/client.h"
#include "common/alloc.h"
#include "common/file.h"
#include "policy/policy.h"
#include "proto/policy.pb-c.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_DEPTH 8

static void render_msg(FILE *out, const ProtobufCMessage *m, const char *path,
		       int depth);

static void render_value(FILE *out, const ProtobufCFieldDescriptor *f,
			 const void *p, const char *path, int depth)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		fprintf(out, "%s: %" PRId32 "\n", path, *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		fprintf(out, "%s: %" PRIu32 "\n", path, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		fprintf(out, "%s: %" PRId64 "\n", path, *(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		fprintf(out, "%s: %" PRIu64 "\n", path, *(const uint64_t *)p);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		fprintf(out, "%s: %s\n", path,
			*(const protobuf_c_boolean *)p ? "true" : "false");
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *v =
			protobuf_c_enum_descriptor_get_value(f->descriptor,
							     *(const int *)p);
		fprintf(out, "%s: %s\n", path, v ? v->name : "?");
		break;
	}
	case PROTOBUF_C_TYPE_STRING:
		fprintf(out, "%s: \"%s\"\n", path, *(char *const *)p);
		break;
	case PROTOBUF_C_TYPE_BYTES:
		fprintf(out, "%s: <%zu bytes>\n", path,
			((const ProtobufCBinaryData *)p)->len);
		break;
	case PROTOBUF_C_TYPE_MESSAGE:
		if (*(ProtobufCMessage *const *)p != NULL)
			render_msg(out, *(ProtobufCMessage *const *)p, path,
				   depth + 1);
		break;
	default:
		break;
	}
}

static size_t elem_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	default:
		return 4;
	}
}

static void render_msg(FILE *out, const ProtobufCMessage *m, const char *path,
		       int depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	char sub[512];

	if (depth > MAX_DEPTH)
		return;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m;

		snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "",
			 f->name);
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n =
				*(const size_t *)(base + f->quantifier_offset);
			const char *arr = *(char *const *)(base + f->offset);
			char item[600];

			for (size_t k = 0; k < n; k++) {
				snprintf(item, sizeof(item), "%s[%zu]", sub, k);
				render_value(out, f, arr + k * elem_size(f),
					     item, depth);
			}
			continue;
		}
		render_value(out, f, base + f->offset, sub, depth);
	}
}

/* Writes the canonical rendering of compiled bundle bytes to `path`. */
static int render_file(const uint8_t *bytes, size_t len, const char *path)
{
	Af__Policy__Bundle *b = af__policy__bundle__unpack(NULL, len, bytes);
	FILE *out;

	if (b == NULL)
		return af_cli_fail(AF_EXIT_UNAVAILABLE, "PROTOCOL",
				   "compiled bundle does not decode");
	out = fopen(path, "w");
	if (out == NULL) {
		af__policy__bundle__free_unpacked(b, NULL);
		return af_cli_fail(AF_EXIT_USAGE, "IO", "%s: cannot write",
				   path);
	}
	render_msg(out, &b->base, "", 0);
	fclose(out);
	af__policy__bundle__free_unpacked(b, NULL);
	return 0;
}

/* One side: a revision of the cluster (rev > 0) or a local file. */
static int side(struct af_cli *cli, const char *spec, bool is_file,
		const char *out, char *label, size_t lablen)
{
	if (is_file) {
		struct af_bundle *b;
		char *src;
		size_t len, blen;
		int rc;

		if ((rc = af_cli_read_bundle(spec, &src, &len, &b)) != 0)
			return rc;
		af_free(src);
		snprintf(label, lablen, "%s (%s)", spec, af_bundle_hash(b));
		const uint8_t *bytes = af_bundle_bytes(b, &blen);
		rc = render_file(bytes, blen, out);
		af_bundle_free(b);
		return rc;
	}
	Af__Request req = AF__REQUEST__INIT;
	Af__PolicyGetReq pg = AF__POLICY_GET_REQ__INIT;
	Af__Response *resp;
	char *end;
	int rc;

	pg.revision = strtoull(spec, &end, 10);
	if (*spec == '\0' || *end != '\0' || pg.revision == 0)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "expected a revision number, got \"%s\"",
				   spec);
	req.body_case = AF__REQUEST__BODY_POLICY_GET;
	req.policy_get = &pg;
	if ((rc = af_cli_request(cli, &req, &resp)) != 0)
		return rc;
	snprintf(label, lablen, "revision %s (%s)", spec,
		 resp->policy_get->revision->hash);
	rc = render_file(resp->policy_get->compiled.data,
			 resp->policy_get->compiled.len, out);
	af__response__free_unpacked(resp, NULL);
	return rc;
}

int af_cli_policy_diff(struct af_cli *cli, int argc, char **argv)
{
	static const char *const names[] = {"-f", NULL};
	const char *vals[1] = {NULL};
	char *pos[2], dir[] = "/tmp/af-diff.XXXXXX", a[64], b[64];
	char la[256], lb[256];
	int npos, rc, status;
	pid_t pid;

	if ((rc = af_cli_flags(argc, argv, names, vals, &npos, pos, 2)) != 0)
		return rc;
	if (npos < 1 || (npos == 2) == (vals[0] != NULL))
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "usage: af policy diff REV [REV | -f FILE]");
	if (mkdtemp(dir) == NULL)
		return af_cli_fail(AF_EXIT_USAGE, "IO", "mkdtemp failed");
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	rc = side(cli, pos[0], false, a, la, sizeof(la));
	if (rc == 0)
		rc = side(cli, vals[0] ? vals[0] : pos[1], vals[0] != NULL, b,
			  lb, sizeof(lb));
	if (rc == 0) {
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			execlp("diff", "diff", "-u", "--label", la, "--label",
			       lb, a, b, (char *)NULL);
			_exit(2);
		}
		if (pid < 0 || waitpid(pid, &status, 0) < 0 ||
		    !WIFEXITED(status) || WEXITSTATUS(status) > 1)
			rc = af_cli_fail(AF_EXIT_USAGE, "IO",
					 "could not run diff(1)");
		else
			rc = WEXITSTATUS(status);
	}
	unlink(a);
	unlink(b);
	rmdir(dir);
	return rc;
}
