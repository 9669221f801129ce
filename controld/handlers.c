/* Request handlers: run on the loop thread (see node.h). Writes go through
 * consensus on the leader; reads are linearizable (a barrier issued after
 * the read arrived) unless the caller asks for a stale read. This file:
 * the verb table and controld_handle, status, membership and the read
 * path; the handlers by role in h_write.c, h_read.c, h_sync.c and
 * h_report.c. */
#include "common/alloc.h"
#include "common/log.h"
#include "controld/auth.h"
#include "controld/backup.h"
#include "controld/handlers_int.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

Af__Code controld_status_of_rc(int rc)
{
	switch (rc) {
	case AF_ENOTLEADER:
		return AF__CODE__NOT_LEADER;
	case AF_EINVAL:
		return AF__CODE__INVALID;
	case AF_ECONFLICT:
		return AF__CODE__CONFLICT;
	case AF_ETOOBIG:
		return AF__CODE__TOO_LARGE;
	default:
		return AF__CODE__UNAVAILABLE;
	}
}

/* ----------------------------------------------------------- status */

static void handle_status(struct controld_job *j)
{
	struct controld_node *n = j->node;
	Af__Response resp = AF__RESPONSE__INIT;
	Af__ClusterStatusResp cs = AF__CLUSTER_STATUS_RESP__INIT;
	Af__NodeStatus ns = AF__NODE_STATUS__INIT;

	ns.id = n->self->id;
	ns.role = (char *)af_consensus_role(&n->cons);
	ns.term = af_consensus_term(&n->cons);
	ns.applied_index = af_consensus_applied_index(&n->cons);
	ns.commit_index = af_consensus_commit_index(&n->cons);
	ns.leader_id = af_consensus_leader(&n->cons);
	ns.cluster = (char *)n->cfg->name;
	ns.version = (char *)AF_VERSION;
	cs.node = &ns;
	resp.body_case = AF__RESPONSE__BODY_CLUSTER_STATUS;
	resp.cluster_status = &cs;
	controld_job_finish(j, &resp);
}

/* The Raft configuration as this node knows it (no read barrier: like
 * status, every node answers from its own state). */
static void handle_member_list(struct controld_job *j)
{
	struct af_consensus_member m[AF_MAX_NODES];
	Af__Response resp = AF__RESPONSE__INIT;
	Af__MemberListResp ml = AF__MEMBER_LIST_RESP__INIT;
	Af__Member pm[AF_MAX_NODES], *pp[AF_MAX_NODES];
	unsigned n = af_consensus_members(&j->node->cons, m, AF_MAX_NODES);

	for (unsigned i = 0; i < n; i++) {
		af__member__init(&pm[i]);
		pm[i].id = m[i].id;
		pm[i].raft = (char *)(m[i].raft ? m[i].raft : "");
		pm[i].role = (char *)m[i].role;
		pp[i] = &pm[i];
	}
	ml.members = pp;
	ml.n_members = n;
	ml.leader_id = af_consensus_leader(&j->node->cons);
	resp.body_case = AF__RESPONSE__BODY_MEMBER_LIST;
	resp.member_list = &ml;
	controld_job_finish(j, &resp);
}

static void read_snapshot(struct controld_job *j)
{
	Af__Response resp = AF__RESPONSE__INIT;
	Af__SnapshotResp sr = AF__SNAPSHOT_RESP__INIT;
	struct af_err err = {{0}};
	void *buf;
	size_t len;
	uint64_t applied;

	if (af_store_snapshot(j->node->store, &buf, &len, &applied, &err) !=
	    0) {
		controld_job_fail(j, AF__CODE__INTERNAL, "snapshot: %s",
				  err.msg);
		return;
	}
	sr.index = applied;
	sr.data.data = buf;
	sr.data.len = len;
	resp.body_case = AF__RESPONSE__BODY_SNAPSHOT;
	resp.snapshot = &sr;
	controld_job_finish(j, &resp);
	af_free(buf);
}

static void do_read(struct controld_job *j)
{
	const struct controld_verb *v = controld_verb_at(j->verb);
	struct af_txn *t;
	struct af_err err = {{0}};

	if (v->read == NULL) {
		v->handle(j);
		return;
	}
	if (af_store_read_begin(j->node->store, &t, &err) != 0) {
		controld_job_fail(j, AF__CODE__INTERNAL, "%s", err.msg);
		return;
	}
	v->read(j, t);
	af_store_read_end(t);
}

static void read_barrier_cb(void *arg, int status,
			    const struct af_fsm_result *r)
{
	struct controld_job *j = arg;

	(void)r;
	if (status != 0) {
		controld_job_fail(j, controld_status_of_rc(status), "read: %s",
				  af_strerror(status));
		return;
	}
	do_read(j);
}

static void handle_read(struct controld_job *j)
{
	int rc;

	if (j->req->read_mode == AF__READ_MODE__STALE) {
		do_read(j);
		return;
	}
	rc = af_consensus_read_barrier(&j->node->cons, read_barrier_cb, j);
	if (rc != 0)
		controld_job_fail(j, controld_status_of_rc(rc), "%s",
				  rc == AF_ENOTLEADER ? "not the leader"
						      : af_strerror(rc));
}

/* ------------------------------------------------------- membership */

static void change_cb(void *arg, int status, const struct af_fsm_result *r)
{
	struct controld_job *j = arg;
	Af__Response resp = AF__RESPONSE__INIT;

	(void)r;
	if (status != 0) {
		controld_job_fail(j,
				  status == AF_EINVAL ? AF__CODE__INVALID
						      : AF__CODE__UNAVAILABLE,
				  "%s", af_strerror(status));
		return;
	}
	controld_job_finish(j, &resp);
}

static void handle_transfer(struct controld_job *j)
{
	int rc = af_consensus_transfer(
		&j->node->cons, j->req->transfer_leader->to, change_cb, j);
	if (rc != 0)
		controld_job_fail(j, controld_status_of_rc(rc), "transfer: %s",
				  af_strerror(rc));
}

static void handle_membership(struct controld_job *j)
{
	const Af__MembershipReq *m = j->req->membership;
	int rc;

	if (m->id == 0 || m->id > 65535) {
		controld_job_fail(j, AF__CODE__INVALID,
				  "node id must be 1..65535");
		return;
	}
	if (m->remove)
		rc = af_consensus_remove(&j->node->cons, m->id, change_cb, j);
	else if (m->raft[0] == '\0' || strlen(m->raft) >= AF_ADDR_MAX) {
		controld_job_fail(j, AF__CODE__INVALID, "--raft ADDR needed");
		return;
	} else
		rc = af_consensus_add(&j->node->cons, m->id, m->raft, change_cb,
				      j);
	if (rc != 0)
		controld_job_fail(j, controld_status_of_rc(rc),
				  "membership: %s", af_strerror(rc));
}

/* Authenticates and authorizes before anything else happens. */
static int authorize(struct controld_job *j, const struct controld_verb *v)
{
	const char *need = v->need ? v->need : af_auth_needs(j->req);
	char why[256];

	if (af_auth_check(j->node->auth, j->req, need, &j->principal, why,
			  sizeof(why)) == 0)
		return 0;
	atomic_fetch_add(&j->node->stats.auth_denied, 1);
	af_auth_log_denied(need, why);
	controld_job_fail(j, AF__CODE__PERMISSION_DENIED, "%s", why);
	return -1;
}

static void handle_unknown(struct controld_job *j)
{
	controld_job_fail(j, AF__CODE__INVALID, "unknown request");
}

/* ------------------------------------------------------ the verb table */

#define ROW(body, name, need, mode, handle, read)                              \
	{                                                                      \
		AF__REQUEST__BODY_##body, name, need, CONTROLD_##mode, handle, \
			read                                                   \
	}

/* Rows sharing a name share a metric series; the last row answers every
 * body case not listed. */
static const struct controld_verb verbs[] = {
	ROW(CLUSTER_STATUS, "status", "read", HANDLER, handle_status, NULL),
	ROW(MEMBER_LIST, "status", "read", HANDLER, handle_member_list, NULL),
	ROW(PROPOSE, "write", NULL, HANDLER, controld_handle_write, NULL),
	ROW(POLICY_GET, "policy_get", "read", READ, NULL,
	    controld_read_policy_get),
	ROW(POLICY_HISTORY, "policy_history", "read", READ, NULL,
	    controld_read_page),
	ROW(MODEL_LIST, "model_list", "read", READ, NULL, controld_read_models),
	ROW(AUDIT, "audit", "read", READ, NULL, controld_read_page),
	ROW(SNAPSHOT, "snapshot", "admin", READ, read_snapshot, NULL),
	ROW(TRANSFER_LEADER, "transfer_leader", "admin", HANDLER,
	    handle_transfer, NULL),
	ROW(MEMBERSHIP, "membership", "admin", HANDLER, handle_membership,
	    NULL),
	/* Any node answers from its own state: routerd never moves its view
	 * backwards, so it needs no linearizable read. */
	ROW(SYNC, "sync", "routerd", STALE, NULL, controld_read_sync),
	ROW(FLEET_STATUS, "fleet", "read", READ, NULL, controld_read_fleet),
	ROW(CANARY_STATUS, "canary", "read", READ, NULL, controld_read_canary),
	ROW(BUDGET_LIST, "budget", "read", READ, NULL, controld_read_budgets),
	ROW(QUOTA_STATUS, "quota", "read", READ, NULL, controld_read_quotas),
	ROW(SHOWBACK, "report", "read", READ, NULL, controld_read_showback),
	ROW(WORKFLOW_REPORT, "report", "read", READ, NULL,
	    controld_read_workflows),
	ROW(ANOMALIES, "report", "read", READ, NULL, controld_read_anomalies),
	ROW(BACKUP_LIST, "backup_list", "read", READ,
	    controld_handle_backup_list, NULL),
	ROW(EMERGENCY_LIST, "emergency", "read", READ, NULL,
	    controld_read_emergency),
	ROW(SHADOW_STATUS, "shadow", "read", READ, NULL, controld_read_shadow),
	ROW(_NOT_SET, "other", "admin", HANDLER, handle_unknown, NULL),
};

#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))
_Static_assert(NVERBS <= CONTROLD_MAX_VERBS, "raise CONTROLD_MAX_VERBS");

const struct controld_verb *controld_verb_of(Af__Request__BodyCase body)
{
	for (size_t i = 0; i + 1 < NVERBS; i++)
		if (verbs[i].body == body)
			return &verbs[i];
	return &verbs[NVERBS - 1];
}

size_t controld_verb_count(void)
{
	return NVERBS;
}

const struct controld_verb *controld_verb_at(size_t i)
{
	return &verbs[i];
}

void controld_handle(struct controld_job *j)
{
	/* One look-up: authorization, the metric and the dispatch use the
	 * same row (a refusal is counted under its verb). */
	const struct controld_verb *v = controld_verb_of(j->req->body_case);

	j->verb = (unsigned)(v - verbs);
	if (authorize(j, v) != 0)
		return;
	if (v->mode == CONTROLD_HANDLER)
		v->handle(j);
	else if (v->mode == CONTROLD_STALE)
		do_read(j);
	else
		handle_read(j);
}
