/* routerd follows the cluster: hints over NNG sub from every controld (a
 * hint only), the truth by pulling with Sync over req/rep from any node,
 * on one kept connection per node. Hints and heartbeats carry the
 * distribution index (the last entry that changed what Sync returns):
 * routerd pulls only when it passed what its last Sync saw, so telemetry
 * never makes it Sync. The sync thread is the only publisher of views;
 * leases, usage and reports run on their own thread (telemetry.c). */
#include "common/alloc.h"
#include "common/log.h"
#include "net/rpc.h"
#include "common/sign.h"
#include "common/timeutil.h"
#include "proto/af.pb-c.h"
#include "proto/alloc.h"
#include "routerd/sync_int.h"
#include "routerd/budget.h"
#include "routerd/override.h"
#include "routerd/usage.h"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SYNC_REPLY_MAX (300u * 1024 * 1024)
#define IDLE_WAIT_MS 1000 /* the sync thread wakes at least this often */
#define SILENCE_MS 2500	  /* no hint nor heartbeat: probe */

/* Canonical bytes for a bundle the reply did not carry: the current view
 * has them under the same hash (we offered it as cached). */
static const uint8_t *cached_bytes(const struct routerd_view *cur,
				   const char *hash, size_t *ret_len)
{
	if (cur == NULL || hash[0] == '\0')
		return NULL;
	if (strcmp(cur->stable_hash, hash) == 0) {
		*ret_len = cur->stable_len;
		return cur->stable_bytes;
	}
	if (cur->canary_len && strcmp(cur->canary_hash, hash) == 0) {
		*ret_len = cur->canary_len;
		return cur->canary_bytes;
	}
	if (cur->shadow_len && strcmp(cur->shadow_hash, hash) == 0) {
		*ret_len = cur->shadow_len;
		return cur->shadow_bytes;
	}
	return NULL;
}

static bool same_heads(const struct routerd_view *cur, const Af__SyncResp *p)
{
	const char *ch = p->canary ? p->canary->hash : "";
	const char *sh = p->shadow ? p->shadow->hash : "";

	return cur != NULL && p->stable != NULL &&
	       strcmp(cur->shadow_hash, sh) == 0 &&
	       cur->shadow_sample_pct ==
		       (p->shadow ? p->shadow_sample_pct : 0) &&
	       strcmp(cur->stable_hash, p->stable->hash) == 0 &&
	       cur->stable_revision == p->stable->revision &&
	       strcmp(cur->canary_hash, ch) == 0 &&
	       cur->canary_weight == (p->canary ? p->canary_weight : 0) &&
	       cur->registry_revision == p->registry_revision;
}

void routerd_sync_report_due(struct routerd_sync *s)
{
	s->report_gen++;
	s->report_at_ms = 0;
	s->tele_kick = true;
	pthread_cond_signal(&s->tcv);
}

void routerd_sync_report_spread(struct routerd_sync *s)
{
	uint32_t spread = s->spread_ms;

	routerd_sync_report_due(s);
	s->spread_ms = 0; /* one change, one spread report */
	if (spread > 0) {
		uint32_t in = randombytes_uniform(spread + 1);

		s->report_at_ms = af_mono_ms() + in;
		log_info("event=fleet_report_due in_ms=%u spread_ms=%u", in,
			 spread);
	}
}

static void nack(struct routerd_sync *s, const char *why)
{
	pthread_mutex_lock(&s->mu);
	if (!s->nack || strcmp(s->reason, why) != 0) {
		log_warn("event=view_rejected reason=\"%s\"", why);
		routerd_sync_report_spread(s);
	}
	s->nack = true;
	snprintf(s->reason, sizeof(s->reason), "%s", why);
	pthread_mutex_unlock(&s->mu);
	atomic_fetch_add(&s->r->sync_stats.nacks, 1);
}

/* With trusted keys configured, only bundles signed by one of them are
 * activated (the hash is then checked against the bytes by the view
 * build); anything else is NACKed and the current view stays. */
static bool signed_ok(struct routerd_sync *s, const Af__SyncBundle *b)
{
	struct af_err err = {{0}};

	if (s->nkeys == 0)
		return true;
	if (b->signature.len == 0) {
		nack(s, "unsigned bundle: trusted keys are configured");
		return false;
	}
	if (af_sign_verify(s->keys, s->nkeys, b->key_id, b->name, b->hash,
			   b->serial, b->signature.data, b->signature.len,
			   &err) != 0) {
		nack(s, err.msg);
		return false;
	}
	return true;
}

/* The running shadow into v. A shadow that cannot be used (not sent
 * nor cached, unsigned under trusted keys, invalid) is logged and left
 * out: it never costs the live view. */
static void add_shadow(struct routerd_sync *s, const struct routerd_view *cur,
		       const Af__SyncResp *p, struct routerd_view *v)
{
	const Af__SyncBundle *sh = p->shadow;
	const uint8_t *b = sh != NULL ? sh->compiled.data : NULL;
	size_t len = sh != NULL ? sh->compiled.len : 0;
	struct af_err err = {{0}};
	const char *why = NULL;

	if (sh == NULL)
		return;
	if (len == 0 && (b = cached_bytes(cur, sh->hash, &len)) == NULL)
		why = "shadow bundle neither sent nor cached";
	else if (s->nkeys > 0 &&
		 (sh->signature.len == 0 ||
		  af_sign_verify(s->keys, s->nkeys, sh->key_id, sh->name,
				 sh->hash, sh->serial, sh->signature.data,
				 sh->signature.len, &err) != 0))
		why = "shadow bundle not signed by a trusted key";
	else if (routerd_view_set_shadow(v, sh->revision, sh->hash, b, len,
					 p->shadow_sample_pct,
					 p->shadow_expires_ms, &err) != 0)
		why = err.msg;
	if (why != NULL)
		log_warn("event=shadow_rejected hash=%s reason=\"%s\"",
			 sh->hash, why);
}

/* Builds the view a Sync reply describes (NULL after a NACK). The bytes a
 * reply did not carry come from `cur`, which the caller holds. */
static struct routerd_view *build(struct routerd_sync *s,
				  const struct routerd_view *cur,
				  const Af__SyncResp *p)
{
	const Af__SyncBundle *st = p->stable, *ca = p->canary;
	const uint8_t *sb = st->compiled.data, *cb = NULL;
	const uint8_t *rb = p->registry.data;
	size_t sl = st->compiled.len, cl = 0, rl = p->registry.len;
	struct routerd_view *v;
	struct af_err err = {{0}};

	if (!signed_ok(s, st) || (ca != NULL && !signed_ok(s, ca)))
		return NULL;
	if (sl == 0 && (sb = cached_bytes(cur, st->hash, &sl)) == NULL) {
		nack(s, "stable bundle neither sent nor cached");
		return NULL;
	}
	if (ca != NULL) {
		cb = ca->compiled.data;
		cl = ca->compiled.len;
		if (cl == 0 &&
		    (cb = cached_bytes(cur, ca->hash, &cl)) == NULL) {
			nack(s, "canary bundle neither sent nor cached");
			return NULL;
		}
	}
	if (rl == 0 && cur != NULL &&
	    cur->registry_revision == p->registry_revision) {
		rb = cur->registry_bytes;
		rl = cur->registry_len;
	}
	if (routerd_view_build(p->state_index, st->revision, st->hash, sb, sl,
			       ca ? ca->revision : 0, ca ? ca->hash : "", cb,
			       cl, ca ? p->canary_weight : 0,
			       p->registry_revision, rb, rl, &v, &err) != 0) {
		nack(s, err.msg);
		return NULL;
	}
	add_shadow(s, cur, p, v);
	return v;
}

/* Publishes v. The caller must hold no view: publishing waits until
 * every reader of the previous view has left. */
static void activate(struct routerd_sync *s, struct routerd_view *v)
{
	struct af_err err = {{0}};
	uint64_t rev = v->stable_revision;

	if (routerd_view_publish(s->r, v) != 0)
		return; /* older than what we serve (and freed) */
	atomic_fetch_add(&s->r->sync_stats.views_published, 1);
	/* Logged once serving: bench/propagation reads this line's time.
	 * Only this thread publishes, so v stays alive until our next
	 * publish. */
	log_info("event=view_activated revision=%llu hash=%s canary=%llu "
		 "weight=%u registry=%llu index=%llu",
		 (unsigned long long)rev, v->stable_hash,
		 (unsigned long long)v->canary_revision, v->canary_weight,
		 (unsigned long long)v->registry_revision,
		 (unsigned long long)v->state_index);
	/* Persisted off the decision path, after activation. */
	if (s->r->cache_dir && routerd_cache_save(s->r, v, &err) != 0)
		log_warn("event=cache_write_failed error=\"%s\"", err.msg);
	pthread_mutex_lock(&s->mu);
	s->nack = false;
	s->reason[0] = '\0';
	routerd_sync_report_spread(s);
	pthread_mutex_unlock(&s->mu);
}

/* Enforces a newer override set (from a hint, heartbeat or Sync answer);
 * the fleet hears of it with the next report. */
static void take_overrides(struct routerd_sync *s, const Af__OverrideSet *set)
{
	if (routerd_overrides_hint(s->r, set)) {
		pthread_mutex_lock(&s->mu);
		routerd_sync_report_due(s);
		pthread_mutex_unlock(&s->mu);
	}
}

/* The budgets of a Sync answer; new ones ask for leases at once. */
static void take_budgets(struct routerd_sync *s, const Af__SyncResp *p)
{
	pthread_mutex_lock(&s->bmu);
	routerd_budgets_define(s->r->budgets, p->budgets, p->n_budgets);
	pthread_mutex_unlock(&s->bmu);
	if (p->n_budgets > 0) {
		pthread_mutex_lock(&s->mu);
		s->tele_kick = true;
		pthread_cond_signal(&s->tcv);
		pthread_mutex_unlock(&s->mu);
	}
}

/* Keeps the heads a Sync offers: a NACK names the view it rejected. */
static void offered(struct routerd_sync *s, const Af__SyncResp *p)
{
	pthread_mutex_lock(&s->mu);
	snprintf(s->offer_stable, sizeof(s->offer_stable), "%s",
		 p->stable->hash);
	snprintf(s->offer_canary, sizeof(s->offer_canary), "%s",
		 p->canary ? p->canary->hash : "");
	pthread_mutex_unlock(&s->mu);
}

/* The cluster offers what we serve again (the view we rejected was
 * withdrawn, say a canary aborted): the NACK no longer stands. */
static void served_again(struct routerd_sync *s)
{
	pthread_mutex_lock(&s->mu);
	if (s->nack) {
		log_info("event=view_current msg=\"the rejected view was "
			 "withdrawn\"");
		s->nack = false;
		s->reason[0] = '\0';
		routerd_sync_report_due(s);
	}
	pthread_mutex_unlock(&s->mu);
}

/* The view a Sync reply asks for, when it differs from cur (NULL: none,
 * or NACKed). */
static struct routerd_view *follow(struct routerd_sync *s,
				   const struct routerd_view *cur,
				   const Af__SyncResp *p)
{
	if (p->stable == NULL)
		return NULL;
	if (same_heads(cur, p)) {
		served_again(s);
		return NULL;
	}
	offered(s, p);
	return build(s, cur, p);
}

/* What cur holds, offered so the reply need not carry it. */
static void offer_cached(const struct routerd_view *cur, Af__SyncReq *sr,
			 char *hashes[3])
{
	sr->cached_hashes = hashes;
	if (cur == NULL)
		return;
	hashes[sr->n_cached_hashes++] = (char *)cur->stable_hash;
	if (cur->canary_hash[0])
		hashes[sr->n_cached_hashes++] = (char *)cur->canary_hash;
	if (cur->shadow_hash[0])
		hashes[sr->n_cached_hashes++] = (char *)cur->shadow_hash;
	sr->registry_revision = cur->registry_revision;
}

/* A Sync answer, pulled or carried by a hint: the budgets, overrides and
 * the view it describes (NULL: none new). cur: what we serve. */
static struct routerd_view *take_answer(struct routerd_sync *s,
					const struct routerd_view *cur,
					const Af__SyncResp *p)
{
	atomic_store(&s->n_budgets, p->n_budgets);
	atomic_store(&s->r->sync_stats.connected, 1);
	atomic_store(&s->r->sync_stats.last_sync_ms, af_wall_ms());
	/* A node behind what we serve: never move backwards. */
	if (cur != NULL && p->state_index < cur->state_index)
		return NULL;
	if (p->state_index > s->synced_index)
		s->synced_index = p->state_index;
	take_budgets(s, p);
	/* The overrides as of the state read (newer versions only): they
	 * reach a routerd that pulls even when no hint gets through. */
	take_overrides(s, p->overrides);
	return follow(s, cur, p);
}

/* Whether cur holds what a bundle of the pushed answer left out. */
static bool have_bytes(const struct routerd_view *cur, const Af__SyncBundle *b)
{
	size_t len;

	return b == NULL || b->compiled.len > 0 ||
	       cached_bytes(cur, b->hash, &len) != NULL;
}

/* A change hint that carries the Sync answer: taken instead of pulling
 * when it is newer than our last Sync and we hold everything it left out
 * (the bundles of the heads before the change, an unmoved registry).
 * Anything else, and the Sync the hint announced follows as before. */
static void take_push(struct routerd_sync *s, const Af__Hint *h)
{
	const Af__SyncResp *p = h->push;
	const struct routerd_view *cur;
	struct routerd_view *next = NULL;
	bool ok;

	if (p == NULL || h->kind != AF__HINT__KIND__HINT ||
	    p->state_index <= s->synced_index || p->stable == NULL)
		return;
	cur = routerd_view_acquire(s->r);
	ok = have_bytes(cur, p->stable) && have_bytes(cur, p->canary) &&
	     have_bytes(cur, p->shadow) &&
	     (!h->push_registry_omitted ||
	      (cur != NULL && cur->registry_revision == p->registry_revision));
	if (ok) {
		atomic_fetch_add(&s->r->sync_stats.pushes, 1);
		log_debug("event=push_taken node=%llu index=%llu",
			  (unsigned long long)h->node_id,
			  (unsigned long long)p->state_index);
		next = take_answer(s, cur, p);
	}
	if (cur)
		routerd_view_release(s->r, cur);
	if (next != NULL)
		activate(s, next);
}

static int do_sync(struct routerd_sync *s)
{
	const struct routerd_view *cur = routerd_view_acquire(s->r);
	struct routerd_view *next = NULL;
	Af__Request req = AF__REQUEST__INIT;
	Af__SyncReq sr = AF__SYNC_REQ__INIT;
	Af__Response *resp = NULL;
	char *hashes[3];
	int rc;

	sr.routerd_id = s->r->id;
	sr.state_index = s->synced_index;
	offer_cached(cur, &sr, hashes);
	if (s->hinted_url >= 0 && s->hinted_index > s->synced_index)
		s->sch.next = (unsigned)s->hinted_url;
	req.body_case = AF__REQUEST__BODY_SYNC;
	req.sync = &sr;
	log_debug("event=sync_start url=%s have=%llu hinted=%llu",
		  s->urls[s->sch.next % s->n_urls],
		  (unsigned long long)s->synced_index,
		  (unsigned long long)s->hinted_index);
	rc = routerd_sync_call(s, &s->sch, &req, false, &resp);
	log_debug("event=sync_done rc=%d index=%llu", rc,
		  rc == 0 && resp->sync
			  ? (unsigned long long)resp->sync->state_index
			  : 0ull);
	if (rc == 0 && (!routerd_sync_answered_ok(resp) || resp->sync == NULL))
		rc = AF_EUNAVAIL;
	if (rc != 0) {
		atomic_store(&s->r->sync_stats.connected, 0);
		routerd_sync_failed(s, &s->sch, "sync",
				    routerd_sync_why(rc, resp));
		atomic_fetch_add(&s->r->sync_stats.sync_errors, 1);
		if (resp != NULL)
			s->sch.next++; /* answered, but could not serve */
		goto out;
	}
	if (!atomic_load(&s->r->sync_stats.connected))
		log_info("event=sync_connected url=%s",
			 s->urls[s->sch.next % s->n_urls]);
	routerd_sync_succeeded(&s->sch);
	atomic_fetch_add(&s->r->sync_stats.syncs, 1);
	/* This node is behind what a hint announced: ask another next. */
	if (resp->sync->state_index < s->hinted_index &&
	    (cur == NULL || resp->sync->state_index >= cur->state_index))
		s->sch.next++;
	next = take_answer(s, cur, resp->sync);
out:
	if (resp)
		af__response__free_unpacked(resp, NULL);
	if (cur)
		routerd_view_release(s->r, cur);
	if (next != NULL)
		activate(s, next);
	return rc;
}

/* ------------------------------------------------------------- thread */

static void take_hint(struct routerd_sync *s, const uint8_t *buf, size_t len)
{
	Af__Hint *h;
	int rc = af_pb_unpack(&af__hint__descriptor, len, buf,
			      (ProtobufCMessage **)&h);

	if (rc != 0) {
		/* Lossy by design: the next hint or heartbeat follows. */
		if (rc == AF_ENOMEM)
			log_warn("event=hint_dropped error=\"out of memory\"");
		return;
	}
#ifdef AF_TEST_HOOKS
	if (s->drop_hints == 2 ||
	    (s->drop_hints == 1 && h->kind == AF__HINT__KIND__HINT)) {
		af__hint__free_unpacked(h, NULL);
		return;
	}
#endif
	if (strcmp(h->cluster, s->r->cfg->name) == 0) {
		atomic_fetch_add(&s->r->sync_stats.hints_received, 1);
		s->last_msg_ms = af_mono_ms();
		log_debug("event=hint kind=%d node=%llu index=%llu "
			  "distribution=%llu",
			  (int)h->kind, (unsigned long long)h->node_id,
			  (unsigned long long)h->state_index,
			  (unsigned long long)h->distribution_index);
		/* A heartbeat announcing no change past our last Sync
		 * confirms, from a live controld, that we are current. Every
		 * configuration entry after that Sync has a higher index than
		 * the state it read, so comparing with its state index is
		 * exact; telemetry never moves the distribution index. */
		if (h->kind == AF__HINT__KIND__HEARTBEAT &&
		    h->distribution_index <= s->synced_index &&
		    s->synced_index > 0) {
			atomic_store(&s->r->sync_stats.last_sync_ms,
				     af_wall_ms());
			atomic_store(&s->r->sync_stats.connected, 1);
		}
		/* Enforced at once, Sync or not; the fleet hears of it. */
		take_overrides(s, h->overrides);
		if (h->distribution_index > s->hinted_index) {
			/* Pull from the node that has it: the first hint of a
			 * change comes from the leader, which applied first. */
			s->hinted_index = h->distribution_index;
			s->hinted_url = -1;
			for (unsigned i = 0; i < s->r->cfg->n_nodes; i++)
				if (s->r->cfg->nodes[i].id == h->node_id)
					s->hinted_url = (int)i;
		}
		if (h->kind == AF__HINT__KIND__HINT)
			s->spread_ms = h->report_spread_ms;
		take_push(s, h);
	}
	af__hint__free_unpacked(h, NULL);
}

/* Sub receive callback: queues the hint and wakes the loop. */
static void sub_cb(void *arg)
{
	struct routerd_sync *s = arg;
	int rv = nng_aio_result(s->sub_aio);

	if (rv == 0) {
		nng_msg *m = nng_aio_get_msg(s->sub_aio);
		size_t len = nng_msg_len(m);

		pthread_mutex_lock(&s->mu);
		if (s->n_hints < HINT_QUEUE && len <= HINT_MAX) {
			memcpy(s->hints[s->n_hints], nng_msg_body(m), len);
			s->hint_len[s->n_hints++] = len;
			pthread_cond_signal(&s->cv);
		}
		pthread_mutex_unlock(&s->mu);
		nng_msg_free(m);
	}
	if (atomic_load(&s->stop) || rv == NNG_ECLOSED || rv == NNG_ECANCELED)
		return;
	nng_recv_aio(s->sub, s->sub_aio);
}

/* A model's next price version took effect: the same view built again
 * prices by it (views choose their prices when built). */
static void reprice(struct routerd_sync *s)
{
	const struct routerd_view *cur = routerd_view_acquire(s->r);
	struct routerd_view *v = NULL;
	struct af_err err = {{0}};
	int64_t next = cur ? af_policy_view_next_price_ms(cur->pv) : 0;

	if (next != 0 && af_wall_ms() >= next &&
	    routerd_view_build(
		    cur->state_index, cur->stable_revision, cur->stable_hash,
		    cur->stable_bytes, cur->stable_len, cur->canary_revision,
		    cur->canary_hash, cur->canary_bytes, cur->canary_len,
		    cur->canary_weight, cur->registry_revision,
		    cur->registry_bytes, cur->registry_len, &v, &err) != 0)
		log_warn("event=reprice_failed error=\"%s\"", err.msg);
	routerd_view_release(s->r, cur);
	if (v != NULL) {
		log_info("event=price_version_in_force registry=%llu",
			 (unsigned long long)v->registry_revision);
		activate(s, v);
	}
}

/* Blocks until a hint arrives, a retry is due, IDLE_WAIT_MS, or stop. */
static void wait_work(struct routerd_sync *s, uint64_t now)
{
	uint64_t ms = IDLE_WAIT_MS;
	struct timespec ts;

	if (s->sch.retry_at_ms > now && s->sch.retry_at_ms - now < ms)
		ms = s->sch.retry_at_ms - now;
	af_deadline_after(CLOCK_MONOTONIC, ms, &ts);
	pthread_mutex_lock(&s->mu);
	while (s->n_hints == 0 && !atomic_load(&s->stop) &&
	       pthread_cond_timedwait(&s->cv, &s->mu, &ts) == 0)
		;
	pthread_mutex_unlock(&s->mu);
}

static void take_hints(struct routerd_sync *s)
{
	static _Thread_local uint8_t q[HINT_QUEUE][HINT_MAX];
	size_t lens[HINT_QUEUE];
	unsigned n;

	pthread_mutex_lock(&s->mu);
	n = s->n_hints;
	for (unsigned i = 0; i < n; i++) {
		memcpy(q[i], s->hints[i], s->hint_len[i]);
		lens[i] = s->hint_len[i];
	}
	s->n_hints = 0;
	pthread_mutex_unlock(&s->mu);
	for (unsigned i = 0; i < n; i++)
		take_hint(s, q[i], lens[i]);
}

/* Pulls at start-up, when a hint or heartbeat announced a change past
 * the last Sync, and when every publisher has been silent for over two
 * heartbeats (so a lost control plane shows at once). Nothing else:
 * telemetry entries never make a routerd Sync. */
static void *sync_main(void *arg)
{
	struct routerd_sync *s = arg;

	while (!atomic_load(&s->stop)) {
		uint64_t now;

		take_hints(s);
		now = af_mono_ms();
		if (now - s->last_msg_ms > SILENCE_MS &&
		    now - s->last_attempt_ms >= SILENCE_MS)
			s->sync_due = true;
		if (routerd_sync_may_call(&s->sch) &&
		    (s->sync_due || s->hinted_index > s->synced_index)) {
			s->last_attempt_ms = now;
			if (do_sync(s) == 0)
				s->sync_due = false;
		}
		reprice(s);
		wait_work(s, af_mono_ms());
	}
	return NULL;
}

static int open_sub(struct routerd_sync *s, struct af_err *err)
{
	const struct af_cluster_cfg *cfg = s->r->cfg;
	int rv;

	if ((rv = nng_sub0_open(&s->sub)) != 0)
		return af_errf(err, AF_EIO, "sub: %s", nng_strerror(rv));
	nng_socket_set(s->sub, NNG_OPT_SUB_SUBSCRIBE, "", 0);
	nng_socket_set_size(s->sub, NNG_OPT_RECVMAXSZ, HINT_MAX);
	nng_socket_set_ms(s->sub, NNG_OPT_RECONNMINT, 100);
	nng_socket_set_ms(s->sub, NNG_OPT_RECONNMAXT, 1000);
	for (unsigned i = 0; i < cfg->n_nodes; i++) {
		char url[AF_ADDR_MAX + 16];
		struct af_err derr;

		af_cluster_url(cfg, cfg->nodes[i].pub, url, sizeof(url));
		/* Non-blocking: a publisher that is down is dialed again. */
		if (af_tls_dial(s->tls, s->sub, url, NNG_FLAG_NONBLOCK,
				&derr) != 0)
			log_warn("event=dial_failed url=%s error=\"%s\"", url,
				 derr.msg);
		af_cluster_url(cfg, cfg->nodes[i].api, s->urls[i],
			       sizeof(s->urls[i]));
	}
	s->n_urls = cfg->n_nodes;
	{
		const char *urls[AF_MAX_NODES];
		int rc;

		for (unsigned i = 0; i < s->n_urls; i++)
			urls[i] = s->urls[i];
		if ((rc = routerd_conns_open(urls, s->n_urls, s->tls,
					     SYNC_REPLY_MAX,
					     &s->r->sync_stats.connects,
					     &s->conns, err)) != 0) {
			nng_close(s->sub);
			return rc;
		}
	}
	if ((rv = nng_aio_alloc(&s->sub_aio, sub_cb, s)) != 0) {
		nng_close(s->sub);
		routerd_conns_close(s->conns);
		s->conns = NULL;
		return af_errf(err, AF_ENOMEM, "sub: %s", nng_strerror(rv));
	}
	return 0;
}

/* Frees s and what it created for r. */
static void sync_free(struct routerd *r, struct routerd_sync *s)
{
	routerd_overrides_stop(r);
	routerd_conns_close(s->conns);
	af_tls_free(s->tls);
	af_free(s->usage_buf);
	pthread_cond_destroy(&s->cv);
	pthread_cond_destroy(&s->tcv);
	pthread_mutex_destroy(&s->bmu);
	pthread_mutex_destroy(&s->mu);
	if (s->owns_usage) {
		routerd_usage_free(r->usage);
		r->usage = NULL;
	}
	if (s->owns_budgets) {
		routerd_budgets_free(r->budgets);
		r->budgets = NULL;
	}
	r->sync = NULL;
	af_free(s);
}

/* Fault injection for tests, compiled in test builds only (the Makefile's
 * TEST_HOOKS; docs/architecture.md, "Test hooks"). AF_TEST_DROP_HINTS:
 * behave like a subscriber that misses every change hint and sees only
 * the heartbeats; AF_TEST_DROP_HINTS=all: one that hears nothing at all,
 * so only its silence probes (a Sync every SILENCE_MS) keep it current. */
static void test_hooks_init(struct routerd_sync *s)
{
#ifdef AF_TEST_HOOKS
	const char *v = getenv("AF_TEST_DROP_HINTS");

	s->drop_hints = v == NULL ? 0 : strcmp(v, "all") == 0 ? 2 : 1;
	if (s->drop_hints)
		log_warn("event=test_hook name=AF_TEST_DROP_HINTS "
			 "msg=\"every change hint%s is dropped\"",
			 s->drop_hints == 2 ? " and heartbeat" : "");
#else
	(void)s;
#endif
}

int routerd_sync_start(struct routerd *r, struct af_err *err)
{
	struct routerd_sync *s;
	struct routerd_view *v;
	struct af_err cerr = {{0}};
	int rc;

	s = af_calloc(1, sizeof(*s));
	if (s == NULL)
		return af_errf(err, AF_ENOMEM, "sync: out of memory");
	s->r = r;
	s->hinted_url = -1;
	s->sync_due = true;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->bmu, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&s->cv, &ca);
		pthread_cond_init(&s->tcv, &ca);
		pthread_condattr_destroy(&ca);
	}
	r->sync = s;
	if (r->usage == NULL) {
		if (routerd_usage_new(&r->usage) != 0) {
			r->sync = NULL;
			af_free(s);
			return af_errf(err, AF_ENOMEM, "usage: out of memory");
		}
		s->owns_usage = true;
	}
	if (r->budgets == NULL) {
		if (routerd_budgets_new(&r->budgets) != 0) {
			rc = af_errf(err, AF_ENOMEM, "budgets: out of memory");
			goto out_free;
		}
		s->owns_budgets = true;
	}
	test_hooks_init(s);
	s->token = r->token;
	rc = routerd_cache_load(r, &v, &cerr);
	if (rc == 0) {
		log_info("event=cache_loaded revision=%llu hash=%s index=%llu",
			 (unsigned long long)v->stable_revision, v->stable_hash,
			 (unsigned long long)v->state_index);
		s->synced_index = v->state_index;
		if (routerd_view_publish(r, v) == 0)
			atomic_fetch_add(&r->sync_stats.views_published, 1);
	} else if (rc != AF_ENOTFOUND) {
		log_warn("event=cache_ignored error=\"%s\"", cerr.msg);
	}
	for (unsigned i = 0; i < r->cfg->n_trusted_keys; i++, s->nkeys++)
		if ((rc = af_sign_load_pub(r->cfg->trusted_keys[i], &s->keys[i],
					   err)) != 0)
			goto out_free;
	if ((rc = af_tls_new(r->cfg, &s->tls, err)) != 0 ||
	    (rc = routerd_overrides_start(r, s->keys, s->nkeys, err)) != 0 ||
	    (rc = open_sub(s, err)) != 0)
		goto out_free;
	s->report_gen = 1; /* a first report at once */
	nng_recv_aio(s->sub, s->sub_aio);
	if (pthread_create(&s->thread, NULL, sync_main, s) == 0)
		s->started = true;
	if (s->started && pthread_create(&s->tele_thread, NULL,
					 routerd_telemetry_main, s) == 0)
		s->tele_started = true;
	if (!s->tele_started) {
		routerd_sync_stop(r);
		return af_errf(err, AF_ENOMEM, "sync: no thread");
	}
	return 0;
out_free:
	sync_free(r, s);
	return rc;
}

void routerd_sync_stop(struct routerd *r)
{
	struct routerd_sync *s = r->sync;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	atomic_store(&s->stop, 1);
	pthread_cond_signal(&s->cv);
	pthread_cond_signal(&s->tcv);
	pthread_mutex_unlock(&s->mu);
	if (s->started)
		pthread_join(s->thread, NULL);
	if (s->tele_started)
		pthread_join(s->tele_thread, NULL);
	nng_aio_stop(s->sub_aio);
	nng_aio_free(s->sub_aio);
	nng_close(s->sub);
	if (s->tele_started)
		routerd_telemetry_final(s);
	sync_free(r, s);
}
