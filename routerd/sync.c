/* routerd follows the cluster: hints over NNG sub from every controld (a
 * hint only), the truth by pulling with Sync over req/rep from any node.
 * One background thread; it is the only publisher of views. */
#include "common/alloc.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/sign.h"
#include "common/timeutil.h"
#include "proto/af.pb-c.h"
#include "routerd/sync_int.h"
#include "routerd/budget.h"
#include "routerd/usage.h"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HINT_MAX 4096
#define SYNC_REPLY_MAX (300u * 1024 * 1024)
#define RPC_TIMEOUT_MS 2000
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

/* Sends req to the current endpoint; rotates on failure. Follows one
 * NOT_LEADER redirect when `to_leader`. */
static int call(struct routerd_sync *s, Af__Request *req, bool to_leader,
		Af__Response **ret)
{
	const char *url = s->urls[s->next % s->n_urls];
	char leader[AF_ADDR_MAX + 16];
	size_t len, outlen;
	uint8_t *buf;
	void *out;
	int rc;

	req->version = 1; /* before sizing: it is part of the message */
	if (s->token != NULL)
		req->token = (char *)s->token;
	len = af__request__get_packed_size(req);
	buf = af_malloc(len ? len : 1);
	if (buf == NULL)
		return AF_ENOMEM;
	af__request__pack(req, buf);
	for (int hop = 0; hop < 2; hop++) {
		rc = af_rpc_call(url, s->tls, buf, len, RPC_TIMEOUT_MS,
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
	if (call(s, &req, true, &resp) == 0 && answered_ok(resp)) {
		s->report_due = false;
		s->last_report_ms = af_mono_ms();
	}
	if (resp)
		af__response__free_unpacked(resp, NULL);
	if (v)
		routerd_view_release(s->r, v);
}

/* Sends what /v1/report recorded since the last flush; on failure the
 * aggregates go back for the next attempt. */
static void flush_usage(struct routerd_sync *s)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__Command cmd = AF__COMMAND__INIT;
	Af__UsageReport *rep;
	Af__Response *resp = NULL;
	uint8_t *buf;
	size_t len;
	bool sent = false;

	if (routerd_usage_take(s->r->usage, s->r->id, &buf, &len) != 0 ||
	    buf == NULL)
		return;
	rep = af__usage_report__unpack(NULL, len, buf);
	if (rep != NULL) {
		cmd.op_case = AF__COMMAND__OP_USAGE_REPORT;
		cmd.usage_report = rep;
		req.body_case = AF__REQUEST__BODY_PROPOSE;
		req.propose = &cmd;
		sent = call(s, &req, true, &resp) == 0 && answered_ok(resp);
		af__usage_report__free_unpacked(rep, NULL);
	}
	if (!sent)
		routerd_usage_restore(s->r->usage, buf, len);
	if (resp)
		af__response__free_unpacked(resp, NULL);
	af_free(buf);
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
		int slot;
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
		ok = call(s, &req, true, &resp) == 0 && answered_ok(resp) &&
		     resp->apply != NULL;
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
		if (atomic_exchange(&s->r->sync_stats.connected, 0) ||
		    atomic_load(&s->r->sync_stats.sync_errors) == 0)
			log_warn("event=sync_failed url=%s error=\"%s\"",
				 s->urls[s->next % s->n_urls],
				 rc == AF_EUNAVAIL && resp && resp->status
					 ? resp->status->message
				 : rc == AF_EUNAVAIL || rc == AF_ETIMEDOUT
					 ? af_rpc_errstr()
					 : af_strerror(rc));
		atomic_fetch_add(&s->r->sync_stats.sync_errors, 1);
		s->next++;
		goto out;
	}
	if (!atomic_load(&s->r->sync_stats.connected))
		log_info("event=sync_connected url=%s",
			 s->urls[s->next % s->n_urls]);
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

static void *sync_main(void *arg)
{
	struct routerd_sync *s = arg;
	uint8_t buf[HINT_MAX];

	while (!atomic_load(&s->stop)) {
		size_t len = sizeof(buf);
		uint64_t now;

		if (nng_recv(s->sub, buf, &len, 0) == 0)
			take_hint(s, buf, len);
		now = af_mono_ms();
		/* Silence from every publisher for over two heartbeats:
		 * probe now, so a lost control plane shows at once. */
		if (now - s->last_msg_ms > SILENCE_MS &&
		    now - s->last_attempt_ms >= SILENCE_MS)
			s->last_attempt_ms = 0;
		if (now >= s->retry_at_ms &&
		    (s->hinted_index > s->synced_index ||
		     now - s->last_attempt_ms >= BACKSTOP_MS)) {
			s->last_attempt_ms = now;
			if (do_sync(s) != 0) {
				s->backoff_ms =
					s->backoff_ms ? s->backoff_ms * 2 : 100;
				if (s->backoff_ms > 2000)
					s->backoff_ms = 2000;
				s->retry_at_ms = now + s->backoff_ms;
			} else {
				s->backoff_ms = 0;
				s->retry_at_ms = 0;
			}
		}
		leases(s, false);
		if (now - s->last_usage_ms >= USAGE_EVERY_MS) {
			s->last_usage_ms = now;
			flush_usage(s);
		}
		if (s->report_due ||
		    now - s->last_report_ms >= REPORT_EVERY_MS) {
			if (!s->report_due)
				s->last_report_ms = now; /* retry later */
			report(s);
		}
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
	/* Short: the loop also refills budget leases promptly. */
	nng_socket_set_ms(s->sub, NNG_OPT_RECVTIMEO, 10);
	nng_socket_set_ms(s->sub, NNG_OPT_RECONNMINT, 100);
	nng_socket_set_ms(s->sub, NNG_OPT_RECONNMAXT, 1000);
	for (unsigned i = 0; i < cfg->n_nodes; i++) {
		char url[AF_ADDR_MAX + 16];

		af_cluster_url(cfg, cfg->nodes[i].pub, url, sizeof(url));
		/* Non-blocking: a publisher that is down is dialed again. */
		rv = af_tls_dial(s->tls, s->sub, url, NNG_FLAG_NONBLOCK);
		if (rv != 0)
			log_warn("event=dial_failed url=%s error=\"%s\"", url,
				 nng_strerror(rv));
		af_cluster_url(cfg, cfg->nodes[i].api, s->urls[i],
			       sizeof(s->urls[i]));
	}
	s->n_urls = cfg->n_nodes;
	return 0;
}

/* Frees s and what it created for r. */
static void sync_free(struct routerd *r, struct routerd_sync *s)
{
	af_tls_free(s->tls);
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
	if (pthread_create(&s->thread, NULL, sync_main, s) != 0) {
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
	atomic_store(&s->stop, 1);
	if (s->started) {
		pthread_join(s->thread, NULL);
		nng_close(s->sub);
		if (atomic_load(&r->sync_stats.connected)) {
			/* Last outcomes and every lease back, best effort. */
			flush_usage(s);
			leases(s, true);
		}
	}
	sync_free(r, s);
}
