/* Publisher: a hint after each apply that moved the distribution index
 * (configuration, never telemetry) and a heartbeat every second. Pub/sub
 * is lossy by design; routerd pulls the truth with Sync. Loop thread. */
#include "common/log.h"
#include "controld/node.h"
#include "controld/state.h"
#include "proto/af.pb-c.h"

#include <nng/protocol/pubsub0/pub.h>
#include <string.h>

int controld_pub_start(struct controld_node *n, struct af_err *err)
{
	char url[AF_ADDR_MAX + 16];
	int rv;

	if (af_cluster_url(n->cfg, n->self->pub, url, sizeof(url)) != 0)
		return af_errf(err, AF_ECONFIG, "pub: URL too long");
	if ((rv = nng_pub0_open(&n->pub)) != 0)
		return af_errf(err, AF_EIO, "pub: %s", nng_strerror(rv));
	nng_socket_set_size(n->pub, NNG_OPT_RECVMAXSZ, 1024);
	nng_socket_set_int(n->pub, NNG_OPT_SENDBUF, 1024);
	if ((rv = af_tls_listen(n->tls, n->pub, url, err)) != 0) {
		nng_close(n->pub);
		return af_err_wrap(err, rv, "pub");
	}
	return 0;
}

void controld_pub_stop(struct controld_node *n)
{
	nng_close(n->pub);
}

struct heads {
	uint64_t stable, canary;
	uint32_t weight;
	char stable_hash[AF_HASH_STR_LEN], canary_hash[AF_HASH_STR_LEN];
	uint64_t registry;
	uint64_t distribution;
};

static void read_heads(struct controld_node *n, struct heads *h)
{
	struct af_txn *t;
	Af__Rollout *ro;

	memset(h, 0, sizeof(*h));
	if (af_store_read_begin(n->store, &t, NULL) != 0)
		return;
	if (af_state_rollout_get(t, &ro) == 0) {
		h->stable = ro->stable_revision;
		h->canary = ro->canary_revision;
		h->weight = ro->weight;
		protobuf_c_message_free_unpacked(&ro->base, NULL);
	}
	/* Best effort: a hash that cannot be read is sent empty. */
	(void)af_state_revision_hash(t, h->stable, h->stable_hash,
				     sizeof(h->stable_hash));
	(void)af_state_revision_hash(t, h->canary, h->canary_hash,
				     sizeof(h->canary_hash));
	h->registry = af_state_registry_revision(t);
	h->distribution = af_fsm_distribution_index(t);
	af_store_read_end(t);
}

void controld_pub_hint(struct controld_node *n, int heartbeat, uint64_t index)
{
	Af__Hint hint = AF__HINT__INIT;
	struct heads h;
	uint8_t buf[512];
	size_t len;

	read_heads(n, &h);
	/* An entry that left the distribution index alone (telemetry)
	 * changes nothing a routerd pulls: no hint, no Sync. */
	if (!heartbeat && h.distribution != index)
		return;
	hint.kind =
		heartbeat ? AF__HINT__KIND__HEARTBEAT : AF__HINT__KIND__HINT;
	hint.node_id = n->self->id;
	/* Inside apply libraft has not advanced its applied index yet: the
	 * caller passes the entry's own index. */
	hint.state_index = af_consensus_applied_index(&n->cons);
	if (index > hint.state_index)
		hint.state_index = index;
	hint.stable_revision = h.stable;
	hint.stable_hash = h.stable_hash;
	hint.canary_revision = h.canary;
	hint.canary_hash = h.canary_hash;
	hint.canary_weight = h.weight;
	hint.registry_revision = h.registry;
	hint.distribution_index = h.distribution;
	hint.cluster = (char *)n->cfg->name;
	len = af__hint__get_packed_size(&hint);
	if (len > sizeof(buf))
		return;
	af__hint__pack(&hint, buf);
	if (nng_send(n->pub, buf, len, NNG_FLAG_NONBLOCK) == 0)
		atomic_fetch_add(heartbeat ? &n->stats.heartbeats_published
					   : &n->stats.hints_published,
				 1);
}
