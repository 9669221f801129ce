/* Applies N policy revisions through the real write path (the API, Raft,
 * apply) as fast as one client can: the policy file's top-level "name:"
 * becomes "name: gen-K" for K = 1..N, so each one is a new revision.
 * usage: apply_many CLUSTER.yaml POLICY.yaml N */
#include "cli/client.h"
#include "common/alloc.h"
#include "common/file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_N 1000000

int main(int argc, char **argv)
{
	struct af_cli cli = {.timeout_ms = 30000};
	struct af_client c;
	struct af_err err = {{0}};
	char *src = NULL, *buf = NULL;
	const char *rest;
	size_t len, cap;
	long n;
	int rc = 1;

	if (argc != 4 || (n = strtol(argv[3], NULL, 10)) < 1 || n > MAX_N) {
		fprintf(stderr, "usage: apply_many CLUSTER.yaml POLICY.yaml N "
				"(1-1000000)\n");
		return 2;
	}
	if (af_read_file(argv[2], 1 << 20, &src, &len, &err) != 0) {
		fprintf(stderr, "apply_many: %s\n", err.msg);
		return 1;
	}
	/* the file without its top-level name line */
	rest = strncmp(src, "name:", 5) == 0 ? src : strstr(src, "\nname:");
	if (rest == NULL) {
		fprintf(stderr, "apply_many: %s has no top-level name:\n",
			argv[2]);
		goto out;
	}
	cap = len + 64;
	buf = af_malloc(cap);
	cli.cluster_file = argv[1];
	if (buf == NULL || af_client_open(&c, &cli) != 0)
		goto out;
	for (long k = 1; k <= n; k++) {
		Af__Request req = AF__REQUEST__INIT;
		Af__Command cmd = AF__COMMAND__INIT;
		Af__PolicyApply pa = AF__POLICY_APPLY__INIT;
		Af__Response *resp = NULL;
		const char *after = strchr(rest + 1, '\n');
		size_t head = (size_t)(rest - src) + (rest != src);
		int w;

		w = snprintf(buf, cap, "%.*sname: gen-%ld\n%s", (int)head, src,
			     k, after ? after + 1 : "");
		pa.source.data = (uint8_t *)buf;
		pa.source.len = (size_t)w;
		pa.message = (char *)"apply_many";
		cmd.op_case = AF__COMMAND__OP_POLICY_APPLY;
		cmd.policy_apply = &pa;
		req.body_case = AF__REQUEST__BODY_PROPOSE;
		req.propose = &cmd;
		if (af_client_call(&c, &req, -1, &resp) != 0 ||
		    resp->status == NULL ||
		    resp->status->code != AF__CODE__OK) {
			fprintf(stderr, "apply_many: revision %ld: %s\n", k,
				resp && resp->status ? resp->status->message
						     : "no answer");
			if (resp)
				af__response__free_unpacked(resp, NULL);
			af_client_close(&c);
			goto out;
		}
		af__response__free_unpacked(resp, NULL);
	}
	af_client_close(&c);
	rc = 0;
out:
	af_free(src);
	af_free(buf);
	return rc;
}
