/* af policy diff REV [REV | -f FILE]: the difference of two canonical
 * compiled forms, rendered one "path: value" line per field so every
 * semantic change is one readable line. Exit 0 when equal, 1 when they
 * differ (as kubectl diff). */
#include "cli/client.h"
#include "cli/output.h"
#include "common/alloc.h"
#include "common/file.h"
#include "policy/policy.h"
#include "proto/policy.pb-c.h"
#include "proto/alloc.h"

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
			size_t n;
			const char *arr;
			char item[600];

			/* memcpy: the offsets come from the descriptor. */
			memcpy(&n, base + f->quantifier_offset, sizeof(n));
			memcpy(&arr, base + f->offset, sizeof(arr));

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
	Af__Policy__Bundle *b =
		af__policy__bundle__unpack(&af_pb_allocator, len, bytes);
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

#define MAX_DIFF (16u * 1024 * 1024)

/* Reads the child's output (at most MAX_DIFF bytes kept) into *ret
 * (owned, NUL-terminated). */
static char *slurp(int fd)
{
	size_t len = 0, cap = 4096;
	char *buf = af_malloc(cap), *nb;
	ssize_t n;

	if (buf == NULL)
		return NULL;
	for (;;) {
		if (len + 1 >= cap && cap < MAX_DIFF) {
			cap *= 2;
			if ((nb = af_realloc(buf, cap)) == NULL)
				break;
			buf = nb;
		}
		if (len + 1 >= cap) { /* at the bound: drain, keep nothing */
			char skip[4096];

			if (read(fd, skip, sizeof(skip)) <= 0)
				break;
			continue;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

/* diff -u of the two renderings: to stdout, or with -o json|yaml inside
 * one document. Exit 0 equal, 1 different (as diff(1)). */
static int run_diff(struct af_cli *cli, const char *la, const char *lb,
		    const char *a, const char *b)
{
	bool doc = cli->output != AF_OUT_TABLE;
	char *text = NULL;
	int fds[2] = {-1, -1}, status, rc;
	pid_t pid;

	fflush(stdout);
	if (doc && pipe(fds) != 0)
		return af_cli_fail(AF_EXIT_USAGE, "IO", "pipe failed");
	pid = fork();
	if (pid == 0) {
		if (doc) {
			dup2(fds[1], STDOUT_FILENO);
			close(fds[0]);
			close(fds[1]);
		}
		execlp("diff", "diff", "-u", "--label", la, "--label", lb, a, b,
		       (char *)NULL);
		_exit(2);
	}
	if (doc) {
		close(fds[1]);
		if (pid > 0)
			text = slurp(fds[0]);
		close(fds[0]);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) > 1 || (doc && text == NULL)) {
		af_free(text);
		return af_cli_fail(AF_EXIT_USAGE, "IO",
				   "could not run diff(1) (is it installed?)");
	}
	rc = WEXITSTATUS(status);
	if (doc) {
		json_t *o = af_out_ok();

		json_object_set_new(o, "a", json_string(la));
		json_object_set_new(o, "b", json_string(lb));
		json_object_set_new(o, "identical", json_boolean(rc == 0));
		json_object_set_new(o, "diff", json_string(text));
		af_free(text);
		if (af_out_json(o) != 0)
			return AF_EXIT_REFUSED;
	}
	return rc;
}

int af_cli_policy_diff(struct af_cli *cli, int argc, char **argv)
{
	static const char *const names[] = {"-f", NULL};
	const char *vals[1] = {NULL};
	char *pos[2], dir[] = "/tmp/af-diff.XXXXXX", a[64], b[64];
	char la[256], lb[256];
	int npos, rc;

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
	if (rc == 0)
		rc = run_diff(cli, la, lb, a, b);
	unlink(a);
	unlink(b);
	rmdir(dir);
	return rc;
}
