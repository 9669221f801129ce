/* See fsm_node.h. */
#include "tests/lib/fsm_node.h"
#include "tests/lib/tmpdir.h"

#include <raft.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int af_test_fsm_open(struct af_test_fsm *n)
{
	struct af_store_opts o = {.cluster = "test", .nosync = true};
	struct af_err e = {{0}};

	memset(n, 0, sizeof(*n));
	snprintf(n->dir, sizeof(n->dir), "/tmp/af-fsm.XXXXXX");
	if (mkdtemp(n->dir) == NULL) {
		perror("mkdtemp");
		return -1;
	}
	if (af_store_open(n->dir, &o, &n->store, &e) != 0) {
		fprintf(stderr, "store: %s\n", e.msg);
		af_test_rmtree(n->dir);
		n->store = NULL;
		return -1;
	}
	af_fsm_init(&n->fsm, n->store);
	return 0;
}

void af_test_fsm_close(struct af_test_fsm *n)
{
	if (n->store == NULL)
		return;
	af_store_close(n->store);
	n->store = NULL;
	af_test_rmtree(n->dir);
}

int af_test_fsm_apply(struct af_test_fsm *n, Af__Command *cmd, int64_t time_ms)
{
	void *buf;
	size_t len;
	int rc;

	cmd->principal = (char *)"test";
	cmd->time_ms = time_ms;
	if ((rc = af_fsm_encode_entry(cmd, &buf, &len)) != 0)
		return rc;
	rc = af_fsm_apply_entry(&n->fsm, ++n->idx, buf, len);
	raft_free(buf);
	return rc;
}
