/*
 * The commit bench's calls on either target: close, write, probe, find the
 * leader, wait until a write goes through.
 */
#include "bench/lib/commit.h"

#include <string.h>
#include <unistd.h>

void conn_close(struct conn *c)
{
	if (c->open && c->t->proto == PROTO_AF)
		nng_close(c->sock);
	if (c->open && c->t->proto == PROTO_ETCD)
		close(c->fd);
	c->open = false;
}

int probe(const struct target *t, unsigned i, struct node_state *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (t->proto == PROTO_AF)
		return af_probe(t, i, ret);
	return etcd_probe(t, i, ret);
}

int conn_write(struct conn *c, unsigned client, uint64_t seq)
{
	if (c->t->proto == PROTO_AF)
		return af_write(c, NULL);
	return etcd_write(c, client, seq);
}

/* The index of the node that says it leads, or -1. `skip`: a node known
 * dead (-1: none). */
int find_leader(const struct target *t, int skip)
{
	for (unsigned i = 0; i < t->n; i++) {
		struct node_state s;

		if ((int)i != skip && probe(t, i, &s) == 0 && s.leader)
			return (int)i;
	}
	return -1;
}

/* Waits for a leader and one acknowledged write through it. */
int wait_writable(const struct target *t, unsigned timeout_ms, int *ret_leader)
{
	uint64_t deadline = af_mono_ms() + timeout_ms;
	char buf[HTTP_MAX + 1];

	while (af_mono_ms() < deadline) {
		int l = find_leader(t, -1);

		if (l >= 0) {
			struct conn c = {
				.t = t, .idx = (unsigned)l, .buf = buf};
			int rv = conn_write(&c, 0, 0);

			conn_close(&c);
			if (rv == WR_OK) {
				*ret_leader = l;
				return 0;
			}
		}
		pause_ms(100);
	}
	return -1;
}
