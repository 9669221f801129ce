/* Publisher: a hint after each apply that moved the distribution index
 * (configuration, never telemetry) and a heartbeat every second, both
 * built from the heads the state machine keeps in memory (fsm.h). A hint
 * also carries the Sync answer when it fits: what a routerd serving the
 * heads before the change would pull, so such a routerd needs no round
 * trip. Pub/sub is lossy by design; routerd pulls the truth with Sync
 * whenever a hint does not carry what it needs. Loop thread. */
#include "common/log.h"
#include "controld/handlers_int.h"
#include "controld/node.h"
#include "policy/override.h"
#include "proto/af.pb-c.h"

#include <nng/protocol/pubsub0/pub.h>
#include <string.h>

/* The largest hint routerd accepts (its HINT_MAX). */
#define CONTROLD_HINT_MAX 16384
/* Fleet reports after a change: spread over this much per routerd known
 * (about what three nodes spend on one report's Raft entry), at most
 * REPORT_SPREAD_MAX_MS. */
#define REPORT_SPREAD_US 500
#define REPORT_SPREAD_MAX_MS 2000

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

/* The Sync answer for a routerd that serves the heads before this change
 * (fsm.h's prev_heads): their bundles and an unmoved registry left out.
 * 0 with o filled (free it), or an error: the hint goes without. */
static int push_fill(struct controld_node *n, uint64_t state_index,
		     struct controld_sync_out *o,
		     protobuf_c_boolean *ret_reg_omitted, uint32_t *ret_spread)
{
	uint64_t spread;
	const struct af_fsm_heads *p = &n->fsm.prev_heads;
	char shadow_hash[AF_HASH_STR_LEN];
	char *hashes[3];
	Af__SyncReq sr = AF__SYNC_REQ__INIT;
	struct af_txn *t;
	int rc;

	if ((rc = af_store_read_begin(n->fsm.store, &t, NULL)) != 0)
		return rc;
	sr.cached_hashes = hashes;
	if (p->stable_hash[0])
		hashes[sr.n_cached_hashes++] = (char *)p->stable_hash;
	if (p->canary_hash[0])
		hashes[sr.n_cached_hashes++] = (char *)p->canary_hash;
	if (p->shadow != 0 && af_state_revision_hash(t, p->shadow, shadow_hash,
						     sizeof(shadow_hash)) == 0)
		hashes[sr.n_cached_hashes++] = shadow_hash;
	sr.registry_revision = p->registry_revision;
	rc = controld_sync_fill(t, &sr, o);
	spread = af_txn_count(t, AF_TABLE_FLEET) * REPORT_SPREAD_US / 1000;
	*ret_spread = (uint32_t)(spread < REPORT_SPREAD_MAX_MS
					 ? spread
					 : REPORT_SPREAD_MAX_MS);
	af_store_read_end(t);
	o->resp.state_index = state_index;
	*ret_reg_omitted = sr.registry_revision == o->resp.registry_revision;
	return rc;
}

/* Attaches the Sync answer to a change hint when the hint then stays
 * within cap bytes (*ret_pushed); returns the hint's packed size, with
 * the answer or without it. */
static size_t attach_push(struct controld_node *n, Af__Hint *hint,
			  struct controld_sync_out *push, size_t cap,
			  bool *ret_pushed)
{
	int rc = push_fill(n, hint->state_index, push,
			   &hint->push_registry_omitted,
			   &hint->report_spread_ms);
	size_t len;

	*ret_pushed = false;
	if (rc != 0) {
		log_warn("event=push_skipped error=\"%s\" msg=\"the hint goes "
			 "without the Sync answer\"",
			 af_strerror(rc));
		hint->push_registry_omitted = false;
		return af__hint__get_packed_size(hint);
	}
	hint->push = &push->resp;
	if ((len = af__hint__get_packed_size(hint)) <= cap) {
		*ret_pushed = true;
		return len;
	}
	/* Too large: routerds pull. */
	hint->push = NULL;
	hint->push_registry_omitted = false;
	atomic_fetch_add(&n->stats.pushes_too_large, 1);
	return af__hint__get_packed_size(hint);
}

void controld_pub_hint(struct controld_node *n, int heartbeat, uint64_t index)
{
	/* As of the last apply (fsm.h): no transaction here. */
	const struct af_fsm_heads *h = &n->fsm.heads;
	Af__Hint hint = AF__HINT__INIT;
	Af__OverrideSet os = AF__OVERRIDE_SET__INIT;
	Af__Override ov[AF_OVERRIDE_MAX], *ovp[AF_OVERRIDE_MAX];
	struct controld_sync_out push;
	bool pushed = false;
	uint8_t buf[CONTROLD_HINT_MAX];
	size_t len;

	/* An entry that left the distribution index alone (telemetry)
	 * changes nothing a routerd pulls: no hint, no Sync. */
	if (!heartbeat && h->distribution_index != index)
		return;
	hint.kind =
		heartbeat ? AF__HINT__KIND__HEARTBEAT : AF__HINT__KIND__HINT;
	hint.node_id = n->self->id;
	/* Inside apply libraft has not advanced its applied index yet: the
	 * caller passes the entry's own index. */
	hint.state_index = af_consensus_applied_index(&n->cons);
	if (index > hint.state_index)
		hint.state_index = index;
	hint.stable_revision = h->stable;
	hint.stable_hash = (char *)h->stable_hash;
	hint.canary_revision = h->canary;
	hint.canary_hash = (char *)h->canary_hash;
	hint.canary_weight = h->weight;
	hint.registry_revision = h->registry_revision;
	hint.distribution_index = h->distribution_index;
	hint.cluster = (char *)n->cfg->name;
	/* The override set inline: a routerd enforces it from the first
	 * hint or heartbeat, whether or not its Sync succeeds. */
	for (size_t i = 0; i < h->overrides.n && i < AF_OVERRIDE_MAX; i++) {
		af_override_to_pb(&h->overrides.ov[i], &ov[i]);
		ovp[i] = &ov[i];
	}
	os.overrides = ovp;
	os.n_overrides = h->overrides.n;
	os.version = h->overrides.version;
	hint.overrides = &os;
	memset(&push, 0, sizeof(push));
	len = heartbeat ? af__hint__get_packed_size(&hint)
			: attach_push(n, &hint, &push, sizeof(buf), &pushed);
	if (len > sizeof(buf)) {
		/* Cannot happen within the set's bounds (a full set of the
		 * longest names packs in under half the cap): say so loudly
		 * rather than send heads without their overrides. */
		log_error("event=hint_too_large bytes=%zu cap=%zu", len,
			  sizeof(buf));
		controld_sync_out_free(&push);
		return;
	}
	af__hint__pack(&hint, buf);
	controld_sync_out_free(&push);
	if (nng_send(n->pub, buf, len, NNG_FLAG_NONBLOCK) == 0) {
		atomic_fetch_add(heartbeat ? &n->stats.heartbeats_published
					   : &n->stats.hints_published,
				 1);
		if (pushed)
			atomic_fetch_add(&n->stats.pushes_sent, 1);
	}
}
