/* Unpacking when memory runs out. af_pb_unpack tells an allocation that
 * failed (AF_ENOMEM) from bytes that do not decode (AF_EPROTO) at every
 * allocation of a large message. In the state machine the difference
 * decides whether nodes agree: an entry applied while this node's
 * allocations fail, at each N-th allocation in turn, either applies as on
 * a healthy node or stops the process (logged, abort); it is never
 * refused as an entry that does not decode. */
#include "tests/lib/alloc_check.h"
#include "tests/lib/policy_fixture.h"
#include "common/alloc.h"
#include "controld/fsm.h"
#include "proto/af.pb-c.h"
#include "proto/alloc.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <raft.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void setup(void)
{
	af_test_alloc_begin();
}

static void teardown(void)
{
	af_alloc_fail_after(-1, 0);
	af_test_alloc_end();
}

TestSuite(unpack_oom, .init = setup, .fini = teardown, .timeout = 120);

/* A Sync answer with two bundles, a registry and many budgets: hundreds
 * of allocations to unpack. */
static uint8_t *big_response(size_t *ret_len)
{
	Af__Response resp = AF__RESPONSE__INIT;
	Af__SyncResp sr = AF__SYNC_RESP__INIT;
	Af__SyncBundle st = AF__SYNC_BUNDLE__INIT, ca = AF__SYNC_BUNDLE__INIT;
	Af__Budget b[64], *bp[64];
	char tenants[64][24];
	uint8_t *buf;

	for (int i = 0; i < 64; i++) {
		af__budget__init(&b[i]);
		snprintf(tenants[i], sizeof(tenants[i]), "tenant-%d", i);
		b[i].tenant = tenants[i];
		b[i].hard_micro = 1000 + i;
		b[i].period = (char *)"day";
		bp[i] = &b[i];
	}
	st.revision = 1;
	st.hash = (char *)"sha256:01";
	st.compiled.data = (uint8_t *)pf_example_policy;
	st.compiled.len = strlen(pf_example_policy);
	ca = st;
	ca.revision = 2;
	sr.stable = &st;
	sr.canary = &ca;
	sr.registry.data = (uint8_t *)pf_example_models;
	sr.registry.len = strlen(pf_example_models);
	sr.budgets = bp;
	sr.n_budgets = 64;
	resp.body_case = AF__RESPONSE__BODY_SYNC;
	resp.sync = &sr;
	*ret_len = af__response__get_packed_size(&resp);
	buf = af_malloc(*ret_len);
	cr_assert_not_null(buf);
	af__response__pack(&resp, buf);
	return buf;
}

Test(unpack_oom, out_of_memory_is_not_bad_input)
{
	size_t len, relen;
	uint8_t *buf = big_response(&len), *again;
	ProtobufCMessage *m = NULL;
	long n;
	int rc;

	for (n = 0;; n++) {
		cr_assert_lt(n, 100000);
		af_alloc_fail_after(n, 1);
		rc = af_pb_unpack(&af__response__descriptor, len, buf, &m);
		af_alloc_fail_after(-1, 0);
		if (rc == 0)
			break;
		cr_assert_eq(rc, AF_ENOMEM, "allocation %ld: %s", n,
			     af_err_name(rc));
	}
	cr_assert_gt(n, 64, "one allocation per budget at least");
	/* What finally unpacked is the whole message. */
	relen = protobuf_c_message_get_packed_size(m);
	cr_assert_eq(relen, len);
	again = af_malloc(relen);
	cr_assert_not_null(again);
	protobuf_c_message_pack(m, again);
	cr_assert_eq(memcmp(again, buf, len), 0);
	af_free(again);
	protobuf_c_message_free_unpacked(m, NULL);
	/* Bytes that do not decode, with memory to spare. */
	cr_assert_eq(af_pb_unpack(&af__response__descriptor, len / 2, buf, &m),
		     AF_EPROTO);
	cr_assert_null(m);
	af_free(buf);
}

/* ------------------------------------------------- in the state machine */

/* A model apply entry: the Command and the registry inside it are
 * unpacked in apply, and every model is read back from the store. */
static void *model_entry(size_t *ret_len)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__ModelApply ma = AF__MODEL_APPLY__INIT;
	struct af_registry *reg;
	struct af_err err = {{0}};
	void *buf;

	cr_assert_eq(af_registry_compile("models", pf_example_models,
					 strlen(pf_example_models), &reg, &err),
		     0, "%s", err.msg);
	ma.compiled.data = (uint8_t *)af_registry_bytes(reg, &ma.compiled.len);
	cmd.op_case = AF__COMMAND__OP_MODEL_APPLY;
	cmd.model_apply = &ma;
	cmd.principal = (char *)"test";
	cmd.time_ms = 1795341600000LL;
	cr_assert_eq(af_fsm_encode_entry(&cmd, &buf, ret_len), 0);
	af_registry_free(reg);
	return buf;
}

enum outcome {
	APPLIED = 0,	   /* as on a healthy node */
	STORAGE_ERROR = 3, /* returned to the caller, which aborts */
	REFUSED = 4,	   /* a refusal: other nodes would not make it */
	SETUP = 5,
};

/* In a child with its own fresh store: applies the entry while the n-th
 * allocation and all later ones fail. */
static void child(const char *dir, long n, const void *entry, size_t len)
{
	struct af_store_opts o = {.cluster = "test", .nosync = true};
	char path[128];
	struct af_store *s;
	struct af_fsm fsm;
	int fd, rc;

	snprintf(path, sizeof(path), "%s/stderr", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || dup2(fd, 2) < 0 ||
	    af_store_open(dir, &o, &s, NULL) != 0 || af_fsm_init(&fsm, s) != 0)
		_exit(SETUP);
	af_alloc_fail_after(n, 1);
	rc = af_fsm_apply_entry(&fsm, 1, entry, len);
	af_alloc_fail_after(-1, 0);
	if (rc != 0)
		_exit(STORAGE_ERROR);
	_exit(fsm.result.code == AF__CODE__OK ? APPLIED : REFUSED);
}

static bool stderr_says(const char *dir, const char *what)
{
	char path[128], text[4096];
	size_t got;
	FILE *f;

	snprintf(path, sizeof(path), "%s/stderr", dir);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	got = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[got] = '\0';
	return strstr(text, what) != NULL;
}

Test(unpack_oom, apply_never_takes_out_of_memory_for_bad_input)
{
	size_t len;
	void *entry = model_entry(&len);
	unsigned aborted = 0, errors = 0;
	char dir[64], cmd[96];
	int status;
	long n;

	for (n = 0;; n++) {
		pid_t pid;

		cr_assert_lt(n, 10000);
		snprintf(dir, sizeof(dir), "/tmp/af-test-oom-XXXXXX");
		cr_assert_not_null(mkdtemp(dir));
		fflush(NULL);
		pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0)
			child(dir, n, entry, len);
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		if (WIFSIGNALED(status)) {
			cr_assert_eq(WTERMSIG(status), SIGABRT,
				     "allocation %ld: signal %d", n,
				     WTERMSIG(status));
			cr_assert(stderr_says(dir, "out of memory"),
				  "allocation %ld: aborted without saying "
				  "why",
				  n);
			aborted++;
		} else {
			cr_assert(WIFEXITED(status));
			cr_assert_neq(WEXITSTATUS(status), REFUSED,
				      "allocation %ld: out of memory became "
				      "a refusal",
				      n);
			cr_assert_neq(WEXITSTATUS(status), SETUP);
			if (WEXITSTATUS(status) == STORAGE_ERROR)
				errors++;
		}
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		cr_assert_eq(system(cmd), 0);
		if (WIFEXITED(status) && WEXITSTATUS(status) == APPLIED)
			break;
	}
	cr_assert_gt(aborted, 0, "the unpacks in apply were reached");
	cr_log_info("%ld allocations: %u aborts, %u storage errors", n, aborted,
		    errors);
	raft_free(entry);
}
