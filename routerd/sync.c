/* routerd follows the cluster: hints over NNG sub from every controld (a
 * hint only), the truth by pulling with Sync over req/rep from any node.
 * One background thread; it is the only publisher of views. */
#include "common/alloc.h"
#include "common/log.h"
#include "net/rpc.h"
#include "common/sign.h"
#include "common/timeutil.h"
#include "proto/af.pb-c.h"
#include "routerd/sync_int.h"
#include "routerd/budget.h"
#include "routerd/usage.h"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HINT_MAX 4096
#define HINT_QUEUE 16 /* hints waiting for the loop; more are dropped */
#define SYNC_REPLY_MAX (300u * 1024 * 1024)
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000   /* failing controld calls: at most this apart */
#define LOG_EVERY_MS 10000    /* one failure line per this, with a count */
#define LEASE_POLL_MS 50      /* budgets defined: lease top-ups this prompt */
#define IDLE_POLL_MS 1000     /* otherwise the loop wakes this often */
#define DEREGISTER_MS 1000    /* shutdown: leave the fleet, best effort */
#define BACKSTOP_MS 5000      /* pull even without hints this often */
#define SILENCE_MS 2500	      /* no hint nor heartbeat: probe */
#define REPORT_EVERY_MS 10000 /* fleet last-seen refresh */
#define USAGE_EVERY_MS 1000   /* outcome aggregates to controld */

struct routerd_sync {
	struct routerd *r;
	pthread_t thread;
	bool started;
	_Atomic int stop;
	nng_socket sub;
	nng_aio *sub_aio; /* hints arrive on a callback; the loop blocks */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned n_hints; /* queued by the callback, taken by the loop */
	uint8_t hints[HINT_QUEUE][HINT_MAX];
	size_t hint_len[HINT_QUEUE];
	size_t n_budgets;	 /* budgeted tenants in the last Sync */
	uint64_t fail_logged_ms; /* rate-limited failure log */
	uint64_t deadline_ms;	 /* shutdown: no call past this */
	uint8_t *usage_buf;	 /* a usage batch not yet acknowledged */
	size_t usage_len;
	char usage_rid[AF_RPC_ID_LEN + 1];
	unsigned fail_suppressed;
	char urls[AF_MAX_NODES][AF_ADDR_MAX + 16];
	unsigned n_urls, next;
	uint64_t synced_index; /* state index of the last good Sync */
	uint64_t hinted_index; /* highest index any hint announced */
	int hinted_url;	       /* endpoint of that node, -1: unknown */
	uint64_t last_msg_ms;  /* last hint or heartbeat from anyone */
	uint64_t last_attempt_ms, retry_at_ms, backoff_ms;
	uint64_t last_report_ms, last_usage_ms;
	bool owns_usage, owns_budgets;
	bool report_due;
	bool drop_hints;    /* AF_TEST_DROP_HINTS: lose every change hint */
	const char *token;  /* AF_TOKEN: a token of role routerd, or NULL */
	struct af_tls *tls; /* mutual TLS from the cluster file, or NULL */
	struct af_pubkey keys[AF_MAX_TRUSTED_KEYS]; /* signing.trusted_keys */
	size_t nkeys;
	bool nack;
	char reason[256];
};

/* ------------------------------------------------------------ requests */

/* One attempt at one node: about one election timeout, so that a paused
 * or cut-off node costs one election before the next is tried. */
static uint64_t attempt_ms(const struct routerd_sync *s)
{
	uint64_t et = s->r->cfg->election_timeout_ms, now = af_mono_ms();

	if (et < 200)
		et = 200;
	if (s->deadline_ms == 0)
		return et;
	if (now >= s->deadline_ms)
		return 1;
	return s->deadline_ms - now < et ? s->deadline_ms - now : et;
}

/* Failing calls to controld (down, or refusing our token) are retried
 * with exponential backoff and jitter, up to BACKOFF_MAX_MS apart, and
 * logged at most once per LOG_EVERY_MS with the number left out. */
static void failed(struct routerd_sync *s, const char *what, const char *why)
{
	uint64_t now = af_mono_ms(), b;

	b = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_MIN_MS;
	s->backoff_ms = b > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : b;
	/* Full jitter over the upper half: routerds that lost controld
	 * together do not come back in step. */
	s->retry_at_ms = now + s->backoff_ms / 2 +
			 randombytes_uniform((uint32_t)(s->backoff_ms / 2) + 1);
	if (s->fail_logged_ms != 0 && now - s->fail_logged_ms < LOG_EVERY_MS) {
		s->fail_suppressed++;
		return;
	}
	log_warn("event=controld_call_failed call=%s error=\"%s\" "
		 "retry_in_ms=%llu suppressed=%u",
		 what, why, (unsigned long long)(s->retry_at_ms - now),
		 s->fail_suppressed);
	s->fail_logged_ms = now;
	s->fail_suppressed = 0;
}

static void succeeded(struct routerd_sync *s)
{
	s->backoff_ms = 0;
	s->retry_at_ms = 0;
}

/* Why a call failed, for the log. */
static const char *why_failed(int rc, const Af__Response *resp)
{
	if (resp != NULL && resp->status != NULL)
		return resp->status->message;
	if (rc == AF_EUNAVAIL || rc == AF_ETIMEDOUT)
		return af_rpc_errstr();
	return af_strerror(rc);
}

/* Sends req to the current endpoint; rotates on failure. Follows one
 * NOT_LEADER redirect when `to_leader`. */
static int call(struct routerd_sync *s, Af__Request *req, bool to_leader,
		Af__Response **ret)
{
	const char *url = s->urls[s->next % s->n_urls];
	char leader[AF_ADDR_MAX + 16], rid[AF_RPC_ID_LEN + 1];
	size_t len, outlen;
	uint8_t *buf;
	void *out;
	int rc;

	req->version = 1; /* before sizing: it is part of the message */
	if (s->token != NULL)
		req->token = (char *)s->token;
	/* One id per write, kept on the redirect: applied at most once. */
	if (req->body_case == AF__REQUEST__BODY_PROPOSE &&
	    (req->propose->request_id == NULL ||
	     req->propose->request_id[0] == '\0')) {
		af_rpc_request_id(rid);
		req->propose->request_id = rid;
	}
	len = af__request__get_packed_size(req);
	buf = af_malloc(len ? len : 1);
	if (buf == NULL)
		return AF_ENOMEM;
	af__request__pack(req, buf);
	for (int hop = 0; hop < 2; hop++) {
		rc = af_rpc_call(url, s->tls, buf, len, attempt_ms(s),
				 SYNC_REPLY_MAX, &out, &outlen);
		if (rc != 0)
			break;
		*ret = af__response__unpack(NULL, outlen, out);
		af_free(out);
		if (*ret == NULL) {
			rc = AF_EPROTO;
			break;
		}
		if (!to_leader || (*ret)->status == NULL ||
		    (*ret)->status->code != AF__CODE__NOT_LEADER ||
		    (*ret)->status->leader_api[0] == '\0')
			break;
		af_cluster_url(s->r->cfg, (*ret)->status->leader_api, leader,
			       sizeof(leader));
		af__response__free_unpacked(*ret, NULL);
		*ret = NULL;
		url = leader;
		rc = AF_ENOTLEADER;
	}
	af_free(buf);
	if (req->body_case == AF__REQUEST__BODY_PROPOSE &&
	    req->propose->request_id == rid)
		req->propose->request_id = NULL;
	if (rc != 0)
		s->next++;
	return rc;
}

/* An answer without a status is a success (reads); writes carry one. */
static bool answered_ok(const Af__Response *resp)
{
	return resp->status == NULL || resp->status->code == AF__CODE__OK;
}

/* ACK (or NACK with the reason) of what this routerd serves. */
static void report(struct routerd_sync *s)
{
	const struct routerd_view *v = routerd_view_acquire(s->r);
	Af__Request req = AF__REQUEST__INIT;
	Af__Command cmd = AF__COMMAND__INIT;
	Af__FleetReport fr = AF__FLEET_REPORT__INIT;
	Af__Response *resp = NULL;
	int rc;

	fr.routerd_id = s->r->id;
	fr.nack = s->nack;
	fr.reason = s->reason;
	if (v != NULL) {
		fr.state_index = v->state_index;
		fr.stable_revision = v->stable_revision;
		fr.stable_hash = (char *)v->stable_hash;
		fr.canary_revision = v->canary_revision;
		fr.canary_hash = (char *)v->canary_hash;
		fr.registry_revision = v->registry_revision;
	}
	cmd.op_case = AF__COMMAND__OP_FLEET_REPORT;
	cmd.fleet_report = &fr;
	req.body_case = AF__REQUEST__BODY_PROPOSE;
	req.propose = &cmd;
	rc = call(s, &req, true, &resp);
	if (rc == 0 && answered_ok(resp)) {
		s->report_due = false;
		s->last_report_ms = af_mono_ms();
		succeeded(s);
	} else {
		failed(s, "fleet_report", why_failed(rc, resp));
	}
	if (resp)
		af__response__free_unpacked(resp, NULL);
	if (v)
		routerd_view_release(s->r, v);
}

/* Whether a failed write may have been applied or may succeed later,
 * so that it is sent again as it was (same bytes, same request id):
 * no answer, or an answer about leadership or quorum. */
static bool retry_same(int rc, const Af__Response *resp)
{
	return rc != 0 || resp->status == NULL ||
	       resp->status->code == AF__CODE__NOT_LEADER ||
	       resp->status->code == AF__CODE__UNAVAILABLE ||
	       resp->status->code == AF__CODE__PERMISSION_DENIED;
}

/* Sends what /v1/report recorded since the last flush. A batch whose
 * fate is unknown is sent again unchanged, with its request id, until it
 * is answered: the cluster applies it once (outcomes recorded meanwhile
 * wait for the next batch). */
static void flush_usage(struct routerd_sync *s)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__Command cmd = AF__COMMAND__INIT;
	Af__UsageReport *rep;
	Af__Response *resp = NULL;
	int rc;

	if (s->usage_buf == NULL) {
		if (routerd_usage_take(s->r->usage, s->r->id, &s->usage_buf,
				       &s->usage_len) != 0 ||
		    s->usage_buf == NULL)
			return;
		af_rpc_request_id(s->usage_rid);
	}
	rep = af__usage_report__unpack(NULL, s->usage_len, s->usage_buf);
	if (rep == NULL) {
		rc = AF_EPROTO;
		goto drop;
	}
	cmd.op_case = AF__COMMAND__OP_USAGE_REPORT;
	cmd.usage_report = rep;
	cmd.request_id = s->usage_rid;
	req.body_case = AF__REQUEST__BODY_PROPOSE;
	req.propose = &cmd;
	rc = call(s, &req, true, &resp);
	af__usage_report__free_unpacked(rep, NULL);
	if (rc == 0 && answered_ok(resp)) {
		succeeded(s);
		goto drop;
	}
	failed(s, "usage_report", why_failed(rc, resp));
	if (retry_same(rc, resp)) {
		if (resp)
			af__response__free_unpacked(resp, NULL);
		return; /* kept for the next flush */
	}
	log_warn("event=usage_report_refused error=\"%s\"",
		 why_failed(rc, resp));
drop:
	if (resp)
		af__response__free_unpacked(resp, NULL);
	af_free(s->usage_buf);
	s->usage_buf = NULL;
	s->usage_len = 0;
}

/* Lease traffic: settles what decisions consumed and tops leases up (or
 * gives them all back with release). A few requests per call, so the loop
 * keeps following hints. */
static void leases(struct routerd_sync *s, bool release)
{
	for (int k = 0; k < (release ? ROUTERD_MAX_BUDGETS : 8); k++) {
		Af__Request req = AF__REQUEST__INIT;
		Af__Command cmd = AF__COMMAND__INIT;
		Af__LeaseRequest lr = AF__LEASE_REQUEST__INIT;
		Af__Response *resp = NULL;
		char tenant[72];
		uint64_t now = af_mono_ms();
		int slot, rc;
		bool ok;

		slot = routerd_budgets_next(s->r->budgets, now, release, &lr,
					    tenant, sizeof(tenant));
		if (slot < 0)
			return;
		lr.routerd_id = s->r->id;
		cmd.op_case = AF__COMMAND__OP_LEASE;
		cmd.lease = &lr;
		req.body_case = AF__REQUEST__BODY_PROPOSE;
		req.propose = &cmd;
		rc = call(s, &req, true, &resp);
		ok = rc == 0 && answered_ok(resp) && resp->apply != NULL;
		if (ok)
			succeeded(s);
		else
			failed(s, "lease", why_failed(rc, resp));
		routerd_budgets_granted(s->r->budgets, slot, ok,
					lr.consumed_micro,
					ok ? resp->apply : NULL, now);
		if (resp)
			af__response__free_unpacked(resp, NULL);
		if (!ok)
			return; /* controld unreachable: try again later */
	}
}

/* -------------------------------------------------------------- sync */

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
	return NULL;
}

static bool same_heads(const struct routerd_view *cur, const Af__SyncResp *p)
{
	const char *ch = p->canary ? p->canary->hash : "";

	return cur != NULL && p->stable != NULL &&
	       strcmp(cur->stable_hash, p->stable->hash) == 0 &&
	       cur->stable_revision == p->stable->revision &&
	       strcmp(cur->canary_hash, ch) == 0 &&
	       cur->canary_weight == (p->canary ? p->canary_weight : 0) &&
	       cur->registry_revision == p->registry_revision;
}

static void nack(struct routerd_sync *s, const char *why)
{
	if (!s->nack || strcmp(s->reason, why) != 0) {
		log_warn("event=view_rejected reason=\"%s\"", why);
		s->report_due = true;
	}
	s->nack = true;
	snprintf(s->reason, sizeof(s->reason), "%s", why);
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
	s->nack = false;
	s->reason[0] = '\0';
	s->report_due = true;
}

static int do_sync(struct routerd_sync *s)
{
	const struct routerd_view *cur = routerd_view_acquire(s->r);
	struct routerd_view *next = NULL;
	Af__Request req = AF__REQUEST__INIT;
	Af__SyncReq sr = AF__SYNC_REQ__INIT;
	Af__Response *resp = NULL;
	char *hashes[2];
	int rc;

	sr.routerd_id = s->r->id;
	sr.state_index = s->synced_index;
	if (cur != NULL) {
		hashes[sr.n_cached_hashes++] = (char *)cur->stable_hash;
		if (cur->canary_hash[0])
			hashes[sr.n_cached_hashes++] = (char *)cur->canary_hash;
		sr.registry_revision = cur->registry_revision;
	}
	sr.cached_hashes = hashes;
	if (s->hinted_url >= 0 && s->hinted_index > s->synced_index)
		s->next = (unsigned)s->hinted_url;
	req.body_case = AF__REQUEST__BODY_SYNC;
	req.sync = &sr;
	log_debug("event=sync_start url=%s have=%llu hinted=%llu",
		  s->urls[s->next % s->n_urls],
		  (unsigned long long)s->synced_index,
		  (unsigned long long)s->hinted_index);
	rc = call(s, &req, false, &resp);
	log_debug("event=sync_done rc=%d index=%llu", rc,
		  rc == 0 && resp->sync
			  ? (unsigned long long)resp->sync->state_index
			  : 0ull);
	if (rc == 0 && (!answered_ok(resp) || resp->sync == NULL))
		rc = AF_EUNAVAIL;
	if (rc != 0) {
		atomic_store(&s->r->sync_stats.connected, 0);
		failed(s, "sync", why_failed(rc, resp));
		atomic_fetch_add(&s->r->sync_stats.sync_errors, 1);
		s->next++;
		goto out;
	}
	if (!atomic_load(&s->r->sync_stats.connected))
		log_info("event=sync_connected url=%s",
			 s->urls[s->next % s->n_urls]);
	succeeded(s);
	s->n_budgets = resp->sync->n_budgets;
	atomic_store(&s->r->sync_stats.connected, 1);
	atomic_fetch_add(&s->r->sync_stats.syncs, 1);
	atomic_store(&s->r->sync_stats.last_sync_ms, af_wall_ms());
	/* A node behind what we serve: never move backwards. */
	if (cur != NULL && resp->sync->state_index < cur->state_index)
		goto out;
	if (resp->sync->state_index > s->synced_index)
		s->synced_index = resp->sync->state_index;
	routerd_budgets_define(s->r->budgets, resp->sync->budgets,
			       resp->sync->n_budgets);
	/* This node is behind what a hint announced: ask another next. */
	if (resp->sync->state_index < s->hinted_index)
		s->next++;
	if (resp->sync->stable != NULL && !same_heads(cur, resp->sync))
		next = build(s, cur, resp->sync);
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
	Af__Hint *h = af__hint__unpack(NULL, len, buf);

	if (h == NULL)
		return;
	if (s->drop_hints && h->kind == AF__HINT__KIND__HINT) {
		af__hint__free_unpacked(h, NULL);
		return;
	}
	if (strcmp(h->cluster, s->r->cfg->name) == 0) {
		atomic_fetch_add(&s->r->sync_stats.hints_received, 1);
		s->last_msg_ms = af_mono_ms();
		log_debug("event=hint kind=%d node=%llu index=%llu",
			  (int)h->kind, (unsigned long long)h->node_id,
			  (unsigned long long)h->state_index);
		/* A heartbeat announcing nothing newer than what we hold
		 * confirms, from a live controld, that we are current. */
		if (h->kind == AF__HINT__KIND__HEARTBEAT &&
		    h->state_index <= s->synced_index && s->synced_index > 0) {
			atomic_store(&s->r->sync_stats.last_sync_ms,
				     af_wall_ms());
			atomic_store(&s->r->sync_stats.connected, 1);
		}
		if (h->state_index > s->hinted_index) {
			/* Pull from the node that has it: the first hint of a
			 * change comes from the leader, which applied first. */
			s->hinted_index = h->state_index;
			s->hinted_url = -1;
			for (unsigned i = 0; i < s->r->cfg->n_nodes; i++)
				if (s->r->cfg->nodes[i].id == h->node_id)
					s->hinted_url = (int)i;
		}
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

/* Blocks until a hint arrives, the next periodic duty, or stop. */
static void wait_work(struct routerd_sync *s, uint64_t now)
{
	uint64_t ms = s->n_budgets ? LEASE_POLL_MS : IDLE_POLL_MS;
	struct timespec ts;

	if (s->retry_at_ms > now && s->retry_at_ms - now < ms)
		ms = s->retry_at_ms - now;
	if (s->retry_at_ms > now + ms)
		ms = s->retry_at_ms - now; /* backing off: hints still wake */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
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

/* Whether controld may be called now (not backing off). */
static bool may_call(const struct routerd_sync *s)
{
	return af_mono_ms() >= s->retry_at_ms;
}

static void *sync_main(void *arg)
{
	struct routerd_sync *s = arg;

	while (!atomic_load(&s->stop)) {
		uint64_t now;

		take_hints(s);
		now = af_mono_ms();
		/* Silence from every publisher for over two heartbeats:
		 * probe now, so a lost control plane shows at once. */
		if (now - s->last_msg_ms > SILENCE_MS &&
		    now - s->last_attempt_ms >= SILENCE_MS)
			s->last_attempt_ms = 0;
		if (may_call(s) && (s->hinted_index > s->synced_index ||
				    now - s->last_attempt_ms >= BACKSTOP_MS)) {
			s->last_attempt_ms = now;
			do_sync(s);
		}
		if (may_call(s))
			leases(s, false);
		if (may_call(s) && now - s->last_usage_ms >= USAGE_EVERY_MS) {
			s->last_usage_ms = now;
			flush_usage(s);
		}
		if (may_call(s) && (s->report_due || now - s->last_report_ms >=
							     REPORT_EVERY_MS)) {
			if (!s->report_due)
				s->last_report_ms = now; /* retry later */
			report(s);
		}
		wait_work(s, af_mono_ms());
	}
	return NULL;
}

/* Leaves the fleet view: a routerd that stops cleanly is not LOST. */
static void deregister(struct routerd_sync *s)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__Command cmd = AF__COMMAND__INIT;
	Af__FleetDeregister fd = AF__FLEET_DEREGISTER__INIT;
	Af__Response *resp = NULL;
	int rc = AF_EUNAVAIL;

	fd.routerd_id = s->r->id;
	cmd.op_case = AF__COMMAND__OP_FLEET_DEREGISTER;
	cmd.fleet_deregister = &fd;
	req.body_case = AF__REQUEST__BODY_PROPOSE;
	req.propose = &cmd;
	s->deadline_ms = af_mono_ms() + DEREGISTER_MS;
	for (unsigned k = 0; k < s->n_urls && af_mono_ms() < s->deadline_ms;
	     k++) {
		rc = call(s, &req, true, &resp);
		if (rc == 0 && answered_ok(resp))
			break;
		rc = rc != 0 ? rc : AF_EUNAVAIL;
		if (resp)
			af__response__free_unpacked(resp, NULL);
		resp = NULL;
		s->next++;
	}
	if (rc == 0)
		log_info("event=fleet_deregistered");
	else
		log_warn("event=fleet_deregister_failed error=\"%s\"",
			 why_failed(rc, resp));
	if (resp)
		af__response__free_unpacked(resp, NULL);
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
	if ((rv = nng_aio_alloc(&s->sub_aio, sub_cb, s)) != 0) {
		nng_close(s->sub);
		return af_errf(err, AF_ENOMEM, "sub: %s", nng_strerror(rv));
	}
	return 0;
}

/* Frees s and what it created for r. */
static void sync_free(struct routerd *r, struct routerd_sync *s)
{
	af_tls_free(s->tls);
	af_free(s->usage_buf);
	pthread_cond_destroy(&s->cv);
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
	pthread_mutex_init(&s->mu, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&s->cv, &ca);
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
	/* Fault injection for tests: behave like a subscriber that misses
	 * every change hint and sees only the heartbeats. */
	s->drop_hints = getenv("AF_TEST_DROP_HINTS") != NULL;
	s->token = getenv("AF_TOKEN");
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
	    (rc = open_sub(s, err)) != 0)
		goto out_free;
	s->report_due = true;
	nng_recv_aio(s->sub, s->sub_aio);
	if (pthread_create(&s->thread, NULL, sync_main, s) != 0) {
		atomic_store(&s->stop, 1);
		nng_aio_stop(s->sub_aio);
		nng_aio_free(s->sub_aio);
		nng_close(s->sub);
		rc = af_errf(err, AF_ENOMEM, "sync: no thread");
		goto out_free;
	}
	s->started = true;
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
	pthread_mutex_unlock(&s->mu);
	if (s->started) {
		pthread_join(s->thread, NULL);
		nng_aio_stop(s->sub_aio);
		nng_aio_free(s->sub_aio);
		nng_close(s->sub);
		s->deadline_ms = af_mono_ms() + 2 * DEREGISTER_MS;
		if (atomic_load(&r->sync_stats.connected)) {
			/* Last outcomes and every lease back, best effort. A
			 * first flush may only resend an older batch: the
			 * second takes what was recorded after it. */
			flush_usage(s);
			if (s->usage_buf == NULL)
				flush_usage(s);
			leases(s, true);
		}
		deregister(s);
	}
	sync_free(r, s);
}
