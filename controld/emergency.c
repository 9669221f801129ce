/* Emergency overrides outside apply: the read of `af emergency list`, and
 * the leader's expiry timer, which proposes an expiry entry once an
 * override's time has passed, so every node drops it at the same entry
 * (apply compares with the entry's own time, never a local clock). Loop
 * thread. */
#include "common/log.h"
#include "common/timeutil.h"
#include "controld/auth.h"
#include "controld/handlers_int.h"
#include "controld/node.h"
#include "controld/state.h"

#include <string.h>

void controld_read_emergency(struct controld_job *j, struct af_txn *t)
{
	Af__Response resp = AF__RESPONSE__INIT;
	Af__EmergencyListResp el = AF__EMERGENCY_LIST_RESP__INIT;
	Af__OverrideSet empty = AF__OVERRIDE_SET__INIT, *s = NULL;
	int rc = af_state_overrides_get(t, &s);

	if (rc != 0) {
		controld_job_fail(j, AF__CODE__INTERNAL, "emergency: %s",
				  af_strerror(rc));
		return;
	}
	el.set = s != NULL ? s : &empty;
	el.now_ms = af_wall_ms();
	resp.body_case = AF__RESPONSE__BODY_EMERGENCY_LIST;
	resp.emergency_list = &el;
	controld_job_finish(j, &resp);
	if (s != NULL)
		protobuf_c_message_free_unpacked(&s->base, NULL);
}

static void expire_cb(void *arg, int status, const struct af_fsm_result *r)
{
	struct controld_node *n = arg;

	n->emergency_busy = false;
	if (status != 0)
		log_warn("event=emergency_expire_failed error=\"%s\"",
			 af_strerror(status));
	else
		log_info("event=emergency_expired msg=\"%s\"", r->message);
}

void controld_emergency_tick(struct controld_node *n)
{
	const struct af_override_set *s = &n->fsm.heads.overrides;
	Af__Command cmd = AF__COMMAND__INIT;
	Af__EmergencyClear ec = AF__EMERGENCY_CLEAR__INIT;
	int64_t now = af_wall_ms();
	bool due = false;

	if (n->emergency_busy || s->n == 0 || !af_consensus_ready(&n->cons))
		return;
	for (size_t i = 0; i < s->n && !due; i++)
		due = s->ov[i].expires_ms <= now;
	if (!due)
		return;
	ec.expire = true;
	cmd.op_case = AF__COMMAND__OP_EMERGENCY_CLEAR;
	cmd.emergency_clear = &ec;
	cmd.principal = (char *)"emergency-expiry";
	cmd.time_ms = now;
	if (af_consensus_propose(&n->cons, &cmd, expire_cb, n) == 0)
		n->emergency_busy = true;
}

int controld_check_emergency(struct controld_job *j, const Af__Command *cmd)
{
	Af__EmergencyClear *ec = cmd->emergency_clear;
	const char *principal;
	char why[160];

	if (cmd->op_case == AF__COMMAND__OP_EMERGENCY_SET) {
		const Af__EmergencySet *es = cmd->emergency_set;
		size_t n;

		if (es->override == NULL) {
			controld_job_fail(j, AF__CODE__INVALID,
					  "emergency set: no override given");
			return -1;
		}
		n = strnlen(es->override->reason, AF_OVERRIDE_REASON_MAX + 1);
		if (n == 0 || n > AF_OVERRIDE_REASON_MAX) {
			controld_job_fail(
				j, AF__CODE__INVALID,
				"emergency set: a reason (-m) of 1..%d "
				"bytes is required",
				AF_OVERRIDE_REASON_MAX);
			return -1;
		}
		return 0;
	}
	if (ec->expire) {
		controld_job_fail(j, AF__CODE__INVALID,
				  "only the leader's expiry timer expires "
				  "overrides");
		return -1;
	}
	if (strnlen(ec->id, AF_OVERRIDE_ID_MAX + 1) > AF_OVERRIDE_ID_MAX) {
		controld_job_fail(j, AF__CODE__INVALID,
				  "emergency clear: an id is at most %d bytes",
				  AF_OVERRIDE_ID_MAX);
		return -1;
	}
	/* Whether the caller could clear a freeze: apply decides with it,
	 * the same on every node. */
	ec->admin = af_auth_check(j->node->auth, j->req, "admin", &principal,
				  why, sizeof(why)) == 0;
	return 0;
}
