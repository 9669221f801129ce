/* Private to the consensus module (consensus.c, consensus_io.c). */
#ifndef AF_CONTROLD_CONSENSUS_INT_H
#define AF_CONTROLD_CONSENSUS_INT_H

#include "controld/consensus.h"

#include <stddef.h>

/* Wraps raft_uv's disk operations: the first failure is recorded (see
 * af_consensus_io_error) and logged. */
void consensus_wrap_io(struct af_consensus *c);
/* The transport's listen, wrapped to watch each inbound connection. */
int consensus_transport_listen(struct raft_uv_transport *t,
			       raft_uv_accept_cb cb);
/* Stops watching every connection (at close). */
void consensus_unwatch_all(struct af_consensus *c);

/* The consensus that owns transport t. */
static inline struct af_consensus *
consensus_of_transport(struct raft_uv_transport *t)
{
	return (struct af_consensus *)(void *)((char *)t -
					       offsetof(struct af_consensus,
							transport));
}

/* consensus_dns.c: wraps the transport's connect and close so that raft
 * addresses may be host names, resolved at each dial. */
void consensus_dns_wrap(struct af_consensus *c);
/* Sets the transport's bind address when this node listens on a name
 * (resolved now) or on raft_bind. Errors: AF_ECONFIG. */
int consensus_dns_bind(struct af_consensus *c, const struct af_node_cfg *node,
		       struct af_err *err);

#endif
