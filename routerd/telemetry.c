/* routerd's telemetry thread: lease top-ups and settlements, usage
 * batches and fleet reports. Each is a Raft write answered by the leader
 * (a lease grant travels in the reply, not in a hint), and none of them
 * changes what routerds pull, so none makes any routerd Sync. Kept off the
 * sync thread: a slow write never delays a configuration pull. */
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "proto/alloc.h"
#include "routerd/budget.h"
#include "routerd/override.h"
#include "routerd/quota.h"
#include "routerd/sync_int.h"
#include "routerd/usage.h"
#include "routerd/workflow.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define LEASE_POLL_MS 50      /* budgets defined: lease top-ups this prompt */
#define IDLE_POLL_MS 1000     /* otherwise the thread wakes this often */
#define DEREGISTER_MS 1000    /* shutdown: leave the fleet, best effort */
#define REPORT_EVERY_MS 10000 /* fleet last-seen refresh */
#define USAGE_EVERY_MS 1000   /* outcome aggregates to controld */

/* ACK (or NACK with the reason) of what this routerd serves. */
static void report(struct routerd_sync *s)
{
	const struct routerd_view *v = routerd_view_acquire(s->r);
	Af__Request req = AF__REQUEST__INIT;
	Af__Command cmd = AF__COMMAND__INIT;
	Af__FleetReport fr = AF__FLEET_REPORT__INIT;
	Af__Response *resp = NULL;
	char reason[sizeof(s->reason)];
	char nst[sizeof(s->offer_stable)], nca[sizeof(s->offer_canary)];
	struct routerd_override_info ov;
	uint64_t gen;
	int rc;

	pthread_mutex_lock(&s->mu);
	gen = s->report_gen;
	fr.nack = s->nack;
	memcpy(reason, s->reason, sizeof(reason));
	memcpy(nst, s->offer_stable, sizeof(nst));
	memcpy(nca, s->offer_canary, sizeof(nca));
	pthread_mutex_unlock(&s->mu);
	fr.routerd_id = s->r->id;
	fr.reason = reason;
	if (fr.nack) {
		fr.nack_stable_hash = nst;
		fr.nack_canary_hash = nca;
	}
	if (v != NULL) {
		fr.state_index = v->state_index;
		fr.stable_revision = v->stable_revision;
		fr.stable_hash = (char *)v->stable_hash;
		fr.canary_revision = v->canary_revision;
		fr.canary_hash = (char *)v->canary_hash;
		fr.canary_weight = v->canary_weight;
		fr.registry_revision = v->registry_revision;
	}
	routerd_overrides_info(s->r, &ov);
	fr.override_version = ov.version;
	fr.override_file = ov.file_hash;
	cmd.op_case = AF__COMMAND__OP_FLEET_REPORT;
	cmd.fleet_report = &fr;
	req.body_case = AF__REQUEST__BODY_PROPOSE;
	req.propose = &cmd;
	rc = routerd_sync_call(s, &s->tch, &req, true, &resp);
	if (rc == 0 && routerd_sync_answered_ok(resp)) {
		s->reported_gen = gen;
		s->last_report_ms = af_mono_ms();
		routerd_sync_succeeded(&s->tch);
	} else {
		routerd_sync_failed(s, &s->tch, "fleet_report",
				    routerd_sync_why(rc, resp));
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

	if (s->r->workflows != NULL)
		routerd_workflows_sweep(s->r->workflows, af_mono_ms());
	if (s->usage_buf == NULL) {
		if (routerd_usage_take(s->r->usage, s->r->shadow, s->r->id,
				       &s->usage_buf, &s->usage_len) != 0 ||
		    s->usage_buf == NULL)
			return;
		af_rpc_request_id(s->usage_rid);
	}
	rc = af_pb_unpack(&af__usage_report__descriptor, s->usage_len,
			  s->usage_buf, (ProtobufCMessage **)&rep);
	if (rc == AF_ENOMEM) {
		log_warn("event=usage_report_delayed error=\"out of memory\" "
			 "msg=\"kept for the next flush\"");
		return;
	}
	if (rc != 0)
		goto drop;
	cmd.op_case = AF__COMMAND__OP_USAGE_REPORT;
	cmd.usage_report = rep;
	cmd.request_id = s->usage_rid;
	req.body_case = AF__REQUEST__BODY_PROPOSE;
	req.propose = &cmd;
	rc = routerd_sync_call(s, &s->tch, &req, true, &resp);
	af__usage_report__free_unpacked(rep, NULL);
	if (rc == 0 && routerd_sync_answered_ok(resp)) {
		routerd_sync_succeeded(&s->tch);
		goto drop;
	}
	routerd_sync_failed(s, &s->tch, "usage_report",
			    routerd_sync_why(rc, resp));
	if (retry_same(rc, resp)) {
		if (resp)
			af__response__free_unpacked(resp, NULL);
		return; /* kept for the next flush */
	}
	log_warn("event=usage_report_refused error=\"%s\"",
		 routerd_sync_why(rc, resp));
drop:
	if (resp)
		af__response__free_unpacked(resp, NULL);
	af_free(s->usage_buf);
	s->usage_buf = NULL;
	s->usage_len = 0;
}

/* Proposes one lease command (budget or quota) to controld and judges
 * the answer. true: controld applied it and (*resp)->apply holds the
 * grant; false: the failure is counted under what. *resp (NULL on
 * entry) is the caller's to free either way. */
static bool propose_lease(struct routerd_sync *s, Af__Command *cmd,
			  const char *what, Af__Response **resp)
{
	Af__Request req = AF__REQUEST__INIT;
	int rc;
	bool ok;

	req.body_case = AF__REQUEST__BODY_PROPOSE;
	req.propose = cmd;
	rc = routerd_sync_call(s, &s->tch, &req, true, resp);
	ok = rc == 0 && routerd_sync_answered_ok(*resp) &&
	     (*resp)->apply != NULL;
	if (ok)
		routerd_sync_succeeded(&s->tch);
	else
		routerd_sync_failed(s, &s->tch, what,
				    routerd_sync_why(rc, *resp));
	return ok;
}

/* One lease request: settles what decisions consumed and tops the lease
 * up (or gives it back with release). false: nothing was due, or
 * controld is unreachable. */
static bool lease_one(struct routerd_sync *s, bool release)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__LeaseRequest lr = AF__LEASE_REQUEST__INIT;
	Af__Response *resp = NULL;
	char tenant[72];
	uint64_t now = af_mono_ms();
	int slot;
	bool ok;

	pthread_mutex_lock(&s->bmu);
	slot = routerd_budgets_next(s->r->budgets, now, release, &lr, tenant,
				    sizeof(tenant));
	pthread_mutex_unlock(&s->bmu);
	if (slot < 0)
		return false;
	lr.routerd_id = s->r->id;
	cmd.op_case = AF__COMMAND__OP_LEASE;
	cmd.lease = &lr;
	ok = propose_lease(s, &cmd, "lease", &resp);
	pthread_mutex_lock(&s->bmu);
	routerd_budgets_granted(s->r->budgets, slot, ok, lr.consumed_micro,
				ok ? resp->apply : NULL, now);
	pthread_mutex_unlock(&s->bmu);
	if (resp)
		af__response__free_unpacked(resp, NULL);
	return ok;
}

/* One request for every quota lease due (quota.h): one Raft commit per
 * round however many quotas this routerd serves. */
static void quota_leases(struct routerd_sync *s, bool release)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__QuotaLeaseRequest qr = AF__QUOTA_LEASE_REQUEST__INIT;
	Af__QuotaAsk asks[ROUTERD_QUOTA_ASKS_MAX];
	Af__QuotaAsk *ptrs[ROUTERD_QUOTA_ASKS_MAX];
	Af__Response *resp = NULL;
	uint64_t now = af_mono_ms();
	bool ok;

	if (s->r->quotas == NULL ||
	    routerd_quotas_next(s->r->quotas, now, release, &qr, asks, ptrs) ==
		    0)
		return;
	qr.routerd_id = s->r->id;
	cmd.op_case = AF__COMMAND__OP_QUOTA_LEASE;
	cmd.quota_lease = &qr;
	ok = propose_lease(s, &cmd, "quota_lease", &resp);
	routerd_quotas_granted(s->r->quotas, ok ? resp->apply : NULL, now);
	if (resp)
		af__response__free_unpacked(resp, NULL);
}

/* A few lease requests per round, so usage and reports keep flowing. */
static void leases(struct routerd_sync *s, bool release)
{
	for (int k = 0; k < (release ? ROUTERD_MAX_BUDGETS : 8); k++)
		if (!lease_one(s, release))
			return;
}

/* Blocks until the next periodic duty, a kick (report due, budgets
 * defined) or stop. */
static void wait_tele(struct routerd_sync *s)
{
	uint64_t now = af_mono_ms();
	uint64_t ms = atomic_load(&s->n_budgets) ||
				      routerd_quotas_active(s->r->quotas)
			      ? LEASE_POLL_MS
			      : IDLE_POLL_MS;
	struct timespec ts;

	if (s->tch.retry_at_ms > now + ms)
		ms = s->tch.retry_at_ms - now; /* backing off */
	pthread_mutex_lock(&s->mu);
	if (s->report_gen != s->reported_gen && s->report_at_ms > now &&
	    s->report_at_ms - now < ms)
		ms = s->report_at_ms - now; /* a spread report */
	af_deadline_after(CLOCK_MONOTONIC, ms, &ts);
	while (!s->tele_kick && !atomic_load(&s->stop) &&
	       pthread_cond_timedwait(&s->tcv, &s->mu, &ts) == 0)
		;
	s->tele_kick = false;
	pthread_mutex_unlock(&s->mu);
}

static bool report_wanted(struct routerd_sync *s, uint64_t now)
{
	bool due;

	pthread_mutex_lock(&s->mu);
	due = s->report_gen != s->reported_gen && now >= s->report_at_ms;
	pthread_mutex_unlock(&s->mu);
	if (!due && now - s->last_report_ms >= REPORT_EVERY_MS) {
		s->last_report_ms = now; /* refresh; on failure, retry later */
		due = true;
	}
	return due;
}

void *routerd_telemetry_main(void *arg)
{
	struct routerd_sync *s = arg;

	while (!atomic_load(&s->stop)) {
		uint64_t now = af_mono_ms();

		if (routerd_sync_may_call(&s->tch))
			leases(s, false);
		if (routerd_sync_may_call(&s->tch))
			quota_leases(s, false);
		if (routerd_sync_may_call(&s->tch) &&
		    now - s->last_usage_ms >= USAGE_EVERY_MS) {
			s->last_usage_ms = now;
			flush_usage(s);
		}
		if (routerd_sync_may_call(&s->tch) && report_wanted(s, now))
			report(s);
		wait_tele(s);
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
		rc = routerd_sync_call(s, &s->tch, &req, true, &resp);
		if (rc == 0 && routerd_sync_answered_ok(resp))
			break;
		rc = rc != 0 ? rc : AF_EUNAVAIL;
		if (resp)
			af__response__free_unpacked(resp, NULL);
		resp = NULL;
		s->tch.next++;
	}
	if (rc == 0)
		log_info("event=fleet_deregistered");
	else
		log_warn("event=fleet_deregister_failed error=\"%s\"",
			 routerd_sync_why(rc, resp));
	if (resp)
		af__response__free_unpacked(resp, NULL);
}

void routerd_telemetry_final(struct routerd_sync *s)
{
	s->deadline_ms = af_mono_ms() + 2 * DEREGISTER_MS;
	if (atomic_load(&s->r->sync_stats.connected)) {
		/* Last outcomes and every lease back, best effort. A first
		 * flush may only resend an older batch: the second takes
		 * what was recorded after it. */
		flush_usage(s);
		if (s->usage_buf == NULL)
			flush_usage(s);
		leases(s, true);
		quota_leases(s, true);
	}
	deregister(s);
}
