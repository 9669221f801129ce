/* Private to the consensus module (consensus.c, consensus_io.c). */
#ifndef AF_CONTROLD_CONSENSUS_INT_H
#define AF_CONTROLD_CONSENSUS_INT_H

#include "controld/consensus.h"

/* Wraps raft_uv's disk operations: the first failure is recorded (see
 * af_consensus_io_error) and logged. */
void consensus_wrap_io(struct af_consensus *c);
/* The transport's listen, wrapped to watch each inbound connection. */
int consensus_transport_listen(struct raft_uv_transport *t,
			       raft_uv_accept_cb cb);
/* Stops watching every connection (at close). */
void consensus_unwatch_all(struct af_consensus *c);

#endif
