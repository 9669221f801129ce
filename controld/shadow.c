/* Shadows outside apply: `af shadow status` (the record and its hash's
 * agreement totals), the shadow part of Sync, the leader's checks of a
 * shadow write, and the leader's expiry timer, which proposes the expiry
 * entry once the shadow's duration has passed (apply compares with the
 * entry's own time, never a local clock). Loop thread. */
#include "common/log.h"
#include "common/timeutil.h"
#include "controld/handlers_int.h"
#include "controld/node.h"
#include "controld/state.h"

#include <string.h>

void controld_read_shadow(struct controld_job *j, struct af_txn *t)
{
	Af__Response resp = AF__RESPONSE__INIT;
	Af__ShadowStatusResp ss = AF__SHADOW_STATUS_RESP__INIT;
	Af__Shadow *sh = NULL;
	Af__ShadowTotals *st = NULL;
	int rc = af_state_shadow_get(t, &sh);

	if (rc == 0 && sh != NULL)
		rc = af_state_shadow_totals_get(t, sh->hash, &st);
	if (rc != 0) {
		controld_job_fail(j, AF__CODE__INTERNAL, "shadow: %s",
				  af_strerror(rc));
		goto out;
	}
	ss.shadow = sh;
	ss.totals = st;
	ss.now_ms = af_wall_ms();
	resp.body_case = AF__RESPONSE__BODY_SHADOW_STATUS;
	resp.shadow_status = &ss;
	controld_job_finish(j, &resp);
out:
	if (sh != NULL)
		protobuf_c_message_free_unpacked(&sh->base, NULL);
	if (st != NULL)
		protobuf_c_message_free_unpacked(&st->base, NULL);
}

int controld_sync_shadow(struct af_txn *t, Af__SyncResp *out,
			 Af__Revision **ret_rev)
{
	Af__Shadow *sh = NULL;
	int rc = af_state_shadow_get(t, &sh);

	*ret_rev = NULL;
	if (rc == 0 && sh != NULL && strcmp(sh->state, "running") == 0) {
		rc = af_state_revision_get(t, sh->revision, ret_rev);
		out->shadow_sample_pct = sh->sample_pct;
		out->shadow_expires_ms = sh->expires_ms;
	}
	if (sh != NULL)
		protobuf_c_message_free_unpacked(&sh->base, NULL);
	return rc;
}

int controld_check_shadow(struct controld_job *j, const Af__Command *cmd)
{
	if (cmd->op_case == AF__COMMAND__OP_SHADOW_STOP &&
	    cmd->shadow_stop->expire) {
		controld_job_fail(j, AF__CODE__INVALID,
				  "only the leader's expiry timer expires a "
				  "shadow");
		return -1;
	}
	return 0;
}

static void expire_cb(void *arg, int status, const struct af_fsm_result *r)
{
	struct controld_node *n = arg;

	n->shadow_busy = false;
	if (status != 0)
		log_warn("event=shadow_expire_failed error=\"%s\"",
			 af_strerror(status));
	else
		log_info("event=shadow_expired msg=\"%s\"", r->message);
}

void controld_shadow_tick(struct controld_node *n)
{
	const struct af_fsm_heads *h = &n->fsm.heads;
	Af__Command cmd = AF__COMMAND__INIT;
	Af__ShadowStop ss = AF__SHADOW_STOP__INIT;
	int64_t now = af_wall_ms();

	if (n->shadow_busy || h->shadow == 0 || h->shadow_expires_ms == 0 ||
	    h->shadow_expires_ms > now || !af_consensus_ready(&n->cons))
		return;
	ss.expire = true;
	cmd.op_case = AF__COMMAND__OP_SHADOW_STOP;
	cmd.shadow_stop = &ss;
	cmd.principal = (char *)"shadow-expiry";
	cmd.time_ms = now;
	if (af_consensus_propose(&n->cons, &cmd, expire_cb, n) == 0)
		n->shadow_busy = true;
}
