/* What routerd pulls (Sync: the rollout heads, bundles it does not cache,
 * the registry when it moved, budgets) and the fleet state derived from
 * its reports. */
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "controld/handlers_int.h"
#include "controld/state.h"
#include "render/render.h"

#include <stdbool.h>
#include <string.h>

/* ------------------------------------------------- routerd: sync, fleet */

#define MAX_CACHED_HASHES 16

static bool is_cached(const Af__SyncReq *sr, const char *hash)
{
	for (size_t i = 0; i < sr->n_cached_hashes && i < MAX_CACHED_HASHES;
	     i++)
		if (strcmp(sr->cached_hashes[i], hash) == 0)
			return true;
	return false;
}

/* Fills sb for revision r; the bundle bytes travel only when routerd does
 * not cache that hash. *ret_sb owns what the store gave (free after). */
static int sync_bundle(struct af_txn *t, const Af__SyncReq *sr,
		       const Af__Revision *r, Af__SyncBundle *sb,
		       Af__StoredBundle **ret_sb)
{
	*ret_sb = NULL;
	sb->revision = r->revision;
	sb->hash = r->hash;
	sb->name = r->name;
	sb->key_id = r->key_id;
	sb->serial = r->serial;
	sb->signature = r->signature;
	if (is_cached(sr, r->hash))
		return 0;
	int rc = af_txn_get_msg(t, AF_TABLE_BUNDLES, r->hash, strlen(r->hash),
				&af__stored_bundle__descriptor,
				(ProtobufCMessage **)ret_sb);
	if (rc == 0)
		sb->compiled = (*ret_sb)->compiled;
	return rc;
}

int controld_sync_fill(struct af_txn *t, const Af__SyncReq *sr,
		       struct controld_sync_out *o)
{
	Af__SyncResp *out = &o->resp;
	struct af_state_heads *h = &o->heads;
	int rc;

	memset(o, 0, sizeof(*o));
	af__sync_resp__init(out);
	af__sync_bundle__init(&o->st);
	af__sync_bundle__init(&o->ca);
	af__sync_bundle__init(&o->sh);
	out->registry_revision = af_state_registry_revision(t);
	out->distribution_index = af_fsm_distribution_index(t);
	if ((rc = af_state_heads_read(t, h)) != 0)
		return rc;
	if (h->stable_rev &&
	    (rc = sync_bundle(t, sr, h->stable_rev, &o->st, &o->sst)) != 0)
		return rc;
	if (h->canary_rev &&
	    (rc = sync_bundle(t, sr, h->canary_rev, &o->ca, &o->sca)) != 0)
		return rc;
	if ((rc = controld_sync_shadow(t, out, &o->shr)) != 0 ||
	    (o->shr != NULL &&
	     (rc = sync_bundle(t, sr, o->shr, &o->sh, &o->ssh)) != 0))
		return rc;
	out->shadow = o->shr != NULL ? &o->sh : NULL;
	out->stable = h->stable_rev ? &o->st : NULL;
	out->canary = h->canary_rev ? &o->ca : NULL;
	out->canary_weight = h->canary_rev ? h->weight : 0;
	if (sr->registry_revision != out->registry_revision &&
	    (rc = controld_registry_pack(t, &o->reg, &out->registry.len)) != 0)
		return rc;
	out->registry.data = o->reg;
	if ((rc = controld_collect(t, AF_TABLE_BUDGETS, &af__budget__descriptor,
				   false, MAX_LIST, &o->budgets)) != 0)
		return rc;
	out->n_budgets = o->budgets.n;
	out->budgets = (Af__Budget **)o->budgets.items;
	/* Also in every hint and heartbeat; here for a routerd that hears
	 * none (a lossy or blocked subscription) but can pull. */
	if ((rc = af_state_overrides_get(t, &o->ov)) != 0)
		return rc;
	out->overrides = o->ov;
	return 0;
}

void controld_sync_out_free(struct controld_sync_out *o)
{
	af_free(o->reg);
	controld_collect_free(&o->budgets);
	if (o->ov)
		protobuf_c_message_free_unpacked(&o->ov->base, NULL);
	if (o->sst)
		protobuf_c_message_free_unpacked(&o->sst->base, NULL);
	if (o->sca)
		protobuf_c_message_free_unpacked(&o->sca->base, NULL);
	if (o->ssh)
		protobuf_c_message_free_unpacked(&o->ssh->base, NULL);
	if (o->shr)
		protobuf_c_message_free_unpacked(&o->shr->base, NULL);
	af_state_heads_free(&o->heads);
	memset(o, 0, sizeof(*o));
}

void controld_read_sync(struct controld_job *j, struct af_txn *t)
{
	Af__Response resp = AF__RESPONSE__INIT;
	struct controld_sync_out o;
	int rc = controld_sync_fill(t, j->req->sync, &o);

	if (rc == 0) {
		/* The raft applied index: the store reflects every command
		 * entry up to it (all on this thread), and hints carry the
		 * same number. */
		o.resp.state_index = af_consensus_applied_index(&j->node->cons);
		resp.body_case = AF__RESPONSE__BODY_SYNC;
		resp.sync = &o.resp;
		controld_job_finish(j, &resp);
	} else {
		controld_job_fail(j, AF__CODE__INTERNAL, "sync: %s",
				  af_strerror(rc));
	}
	controld_sync_out_free(&o);
}

const char *controld_fleet_state(const Af__FleetRecord *r,
				 const struct af_state_heads *h,
				 uint64_t registry, int64_t now,
				 int64_t lost_ms)
{
	const Af__FleetReport *f = r->last;
	const char *ch = h->canary_rev ? h->canary_rev->hash : "";

	if (!af_fleet_live(r, now, lost_ms))
		return "LOST";
	if (f->nack)
		return "NACKED";
	if (h->stable_rev == NULL ||
	    strcmp(f->stable_hash, h->stable_rev->hash) ||
	    strcmp(f->canary_hash, ch) || f->registry_revision != registry)
		return "STALE";
	return "SYNCED";
}

void controld_read_fleet(struct controld_job *j, struct af_txn *t)
{
	Af__Response resp = AF__RESPONSE__INIT;
	Af__FleetStatusResp fs = AF__FLEET_STATUS_RESP__INIT;
	Af__FleetEntry *entries = NULL, **ptrs = NULL;
	struct controld_collect c = {0};
	struct af_state_heads h;
	int64_t forget_ms = (int64_t)j->node->cfg->fleet_forget_s * 1000;
	int rc;

	fs.now_ms = af_wall_ms();
	fs.registry_revision = af_state_registry_revision(t);
	if ((rc = af_state_heads_read(t, &h)) != 0 ||
	    (rc = controld_collect(t, AF_TABLE_FLEET,
				   &af__fleet_record__descriptor, false,
				   MAX_LIST, &c)) != 0)
		goto out;
	entries = af_calloc(c.n + 1, sizeof(*entries));
	ptrs = af_calloc(c.n + 1, sizeof(*ptrs));
	if (entries == NULL || ptrs == NULL) {
		rc = AF_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < c.n; i++) {
		Af__FleetRecord *r = (Af__FleetRecord *)c.items[i];

		if (fs.now_ms - r->last_seen_ms > forget_ms)
			continue; /* LOST long enough: forgotten */
		af__fleet_entry__init(&entries[fs.n_entries]);
		entries[fs.n_entries].record = r;
		entries[fs.n_entries].state = (char *)controld_fleet_state(
			r, &h, fs.registry_revision, fs.now_ms,
			(int64_t)j->node->cfg->fleet_lost_s * 1000);
		ptrs[fs.n_entries] = &entries[fs.n_entries];
		fs.n_entries++;
	}
	fs.entries = ptrs;
	fs.stable_revision = h.stable;
	fs.stable_hash = h.stable_rev ? h.stable_rev->hash : (char *)"";
	resp.body_case = AF__RESPONSE__BODY_FLEET_STATUS;
	resp.fleet_status = &fs;
	controld_job_finish(j, &resp);
out:
	if (rc != 0)
		controld_job_fail(j, AF__CODE__INTERNAL, "fleet: %s",
				  af_strerror(rc));
	af_free(entries);
	af_free(ptrs);
	controld_collect_free(&c);
	af_state_heads_free(&h);
}
