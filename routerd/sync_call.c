/* routerd's calls to controld (sync_int.h): one attempt per node within
 * an election timeout, redirects to the leader, exponential backoff with
 * jitter between failing calls, and the reason a call failed. Used by the
 * sync thread (Sync) and the telemetry thread (leases, usage, reports). */
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "net/rpc.h"
#include "proto/af.pb-c.h"
#include "proto/alloc.h"
#include "routerd/sync_int.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000 /* failing controld calls: at most this apart */
#define LOG_EVERY_MS 10000  /* one failure line per this, with a count */

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
void routerd_sync_failed(struct routerd_sync *s, struct sync_chan *ch,
			 const char *what, const char *why)
{
	uint64_t now = af_mono_ms(), b;

	(void)s;
	b = ch->backoff_ms ? ch->backoff_ms * 2 : BACKOFF_MIN_MS;
	ch->backoff_ms = b > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : b;
	/* Full jitter over the upper half: routerds that lost controld
	 * together do not come back in step. */
	ch->retry_at_ms =
		now + ch->backoff_ms / 2 +
		randombytes_uniform((uint32_t)(ch->backoff_ms / 2) + 1);
	if (ch->fail_logged_ms != 0 &&
	    now - ch->fail_logged_ms < LOG_EVERY_MS) {
		ch->fail_suppressed++;
		return;
	}
	log_warn("event=controld_call_failed call=%s error=\"%s\" "
		 "retry_in_ms=%llu suppressed=%u",
		 what, why, (unsigned long long)(ch->retry_at_ms - now),
		 ch->fail_suppressed);
	ch->fail_logged_ms = now;
	ch->fail_suppressed = 0;
}

void routerd_sync_succeeded(struct sync_chan *ch)
{
	ch->backoff_ms = 0;
	ch->retry_at_ms = 0;
}

/* Whether controld may be called now (not backing off). */
bool routerd_sync_may_call(const struct sync_chan *ch)
{
	return af_mono_ms() >= ch->retry_at_ms;
}

const char *routerd_sync_why(int rc, const Af__Response *resp)
{
	if (resp != NULL && resp->status != NULL)
		return resp->status->message;
	if (rc == AF_EUNAVAIL || rc == AF_ETIMEDOUT)
		return routerd_conns_errstr();
	return af_strerror(rc);
}

/* Packs req with the version, token and (for a write) a request id. */
static int pack_req(struct routerd_sync *s, Af__Request *req,
		    char rid[AF_RPC_ID_LEN + 1], uint8_t **ret, size_t *ret_len)
{
	size_t len;

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
	if ((*ret = af_malloc(len ? len : 1)) == NULL)
		return AF_ENOMEM;
	af__request__pack(req, *ret);
	*ret_len = len;
	return 0;
}

/* The endpoint a NOT_LEADER answer names, or -1. */
static int redirect(struct routerd_sync *s, const Af__Response *resp)
{
	char leader[AF_ADDR_MAX + 16];

	if (resp->status == NULL ||
	    resp->status->code != AF__CODE__NOT_LEADER ||
	    resp->status->leader_api[0] == '\0')
		return -1;
	af_cluster_url(s->r->cfg, resp->status->leader_api, leader,
		       sizeof(leader));
	return routerd_conns_find(s->conns, leader);
}

int routerd_sync_call(struct routerd_sync *s, struct sync_chan *ch,
		      Af__Request *req, bool to_leader, Af__Response **ret)
{
	char rid[AF_RPC_ID_LEN + 1];
	unsigned at = ch->next % s->n_urls;
	size_t len, outlen;
	uint8_t *buf;
	void *out;
	int rc, k;

	if ((rc = pack_req(s, req, rid, &buf, &len)) != 0)
		return rc;
	for (int hop = 0; hop < 2; hop++) {
		rc = routerd_conns_call(s->conns, at, buf, len, attempt_ms(s),
					&out, &outlen);
		if (rc != 0)
			break;
		/* AF_ENOMEM or AF_EPROTO (an answer that does not decode). */
		rc = af_pb_unpack(&af__response__descriptor, outlen, out,
				  (ProtobufCMessage **)ret);
		af_free(out);
		if (rc != 0)
			break;
		if (!to_leader || hop == 1 || (k = redirect(s, *ret)) < 0)
			break;
		af__response__free_unpacked(*ret, NULL);
		*ret = NULL;
		at = (unsigned)k;
		ch->next = at; /* the leader, until it fails */
		rc = AF_ENOTLEADER;
	}
	af_free(buf);
	if (req->body_case == AF__REQUEST__BODY_PROPOSE &&
	    req->propose->request_id == rid)
		req->propose->request_id = NULL;
	if (rc != 0)
		ch->next = at + 1;
	return rc;
}

bool routerd_sync_answered_ok(const Af__Response *resp)
{
	return resp->status == NULL || resp->status->code == AF__CODE__OK;
}

/* -------------------------------------------------------------- sync */
