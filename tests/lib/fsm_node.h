/* A state machine over a real LMDB store in a temporary directory, for
 * unit tests that apply entries straight to it (no raft). */
#ifndef AF_TESTS_FSM_NODE_H
#define AF_TESTS_FSM_NODE_H

#include "controld/fsm.h"
#include "proto/af.pb-c.h"

#include <stdint.h>

struct af_test_fsm {
	char dir[64];
	struct af_store *store;
	struct af_fsm fsm;
	uint64_t idx; /* the index of the entry applied last */
};

/* Opens a new store (cluster "test", no sync) in a new directory and the
 * state machine on it. 0, or -1 with the reason on stderr. */
int af_test_fsm_open(struct af_test_fsm *n);
/* Closes the store and removes its directory (nothing when not open). */
void af_test_fsm_close(struct af_test_fsm *n);
/* Applies cmd as the next entry, by principal "test" at time_ms. 0, or the
 * error of encoding or apply. The result: n->fsm.result. */
int af_test_fsm_apply(struct af_test_fsm *n, Af__Command *cmd, int64_t time_ms);

#endif
