/* Unit-test fixture for the state machine (see the header). */
#include "tests/lib/fsm_fixture.h"
#include "tests/lib/tmpdir.h"

#include <raft.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fsm_fixture_open(struct fsm_fixture *f, const char *name,
		     struct af_err *err)
{
	struct af_store_opts o = {.cluster = "test", .nosync = true};

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/af-%s.XXXXXX", name);
	if (mkdtemp(f->dir) == NULL) {
		af_errf(err, AF_EIO, "mkdtemp %s failed", f->dir);
		return -1;
	}
	if (af_store_open(f->dir, &o, &f->store, err) != 0) {
		af_test_rmtree(f->dir);
		f->store = NULL;
		return -1;
	}
	(void)af_fsm_init(&f->fsm, f->store);
	return 0;
}

int fsm_fixture_close(struct fsm_fixture *f)
{
	if (f->store == NULL)
		return 0;
	af_store_close(f->store);
	f->store = NULL;
	return af_test_rmtree(f->dir) != 0 ? -1 : 0;
}

int fsm_fixture_apply(struct fsm_fixture *f, Af__Command *cmd, int64_t time_ms)
{
	void *buf;
	size_t len;
	int rc;

	cmd->principal = (char *)"test";
	cmd->time_ms = time_ms;
	if (af_fsm_encode_entry(cmd, &buf, &len) != 0)
		return -1;
	rc = af_fsm_apply_entry(&f->fsm, ++f->idx, buf, len);
	raft_free(buf);
	return rc == 0 ? 0 : -1;
}
