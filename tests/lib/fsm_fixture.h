/* Unit-test fixture for the state machine: a real LMDB store in a fresh
 * temporary directory, an FSM over it, and entries applied straight to
 * it at the index after the last (no raft). No Criterion here: every
 * test program, tool and benchmark links the tests/lib objects. */
#ifndef AF_TESTS_LIB_FSM_FIXTURE_H
#define AF_TESTS_LIB_FSM_FIXTURE_H

#include "common/err.h"
#include "controld/fsm.h"
#include "proto/af.pb-c.h"
#include "store/store.h"

#include <stdint.h>

struct fsm_fixture {
	char dir[64];
	struct af_store *store;
	struct af_fsm fsm;
	uint64_t idx; /* index of the last entry applied */
};

/* Creates /tmp/af-<name>.XXXXXX, opens a store there (cluster "test",
 * no fsync) and an FSM over it. Several may be open at once (two nodes
 * applying the same entries). Returns 0, or -1 with the reason in *err. */
int fsm_fixture_open(struct fsm_fixture *f, const char *name,
		     struct af_err *err);
/* Closes the store and removes the directory (nothing when not open).
 * Returns 0, or -1 (errno) when the directory could not be removed. */
int fsm_fixture_close(struct fsm_fixture *f);
/* Applies cmd as principal "test" at time_ms as the next entry; the
 * outcome is in f->fsm.result. Returns 0, or -1 when the entry could not
 * be encoded or applied. */
int fsm_fixture_apply(struct fsm_fixture *f, Af__Command *cmd, int64_t time_ms);

#endif
