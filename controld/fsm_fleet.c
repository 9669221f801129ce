/* Apply of FleetReport and FleetDeregister: the fleet view of routerds. */
#include "controld/fsm_int.h"
#include "proto/af.pb-c.h"

#include <string.h>

/* -------------------------------------------------------------- fleet */

#define MAX_ROUTERD_ID 128
#define MAX_FORGET 256 /* routerds one sweep entry forgets */

/* Telemetry, not an operator's change: no audit record. */
int af_fsm_apply_fleet_report(struct af_txn *t, struct apply_ctx *c)
{
	Af__FleetReport *fr = c->cmd->fleet_report;
	Af__FleetRecord rec = AF__FLEET_RECORD__INIT, *old = NULL;
	size_t idlen = strlen(fr->routerd_id);
	int rc;

	if (idlen == 0 || idlen > MAX_ROUTERD_ID) {
		af_fsm_resultf(c->res, AF__CODE__INVALID,
			       "routerd id must be 1-%d bytes", MAX_ROUTERD_ID);
		return 0;
	}
	rc = af_txn_get_msg(t, AF_TABLE_FLEET, fr->routerd_id, idlen,
			    &af__fleet_record__descriptor,
			    (ProtobufCMessage **)&old);
	if (rc != 0 && rc != AF_ENOTFOUND)
		return rc;
	rec.last = fr;
	rec.last_seen_ms = c->cmd->time_ms;
	rec.first_seen_ms = old ? old->first_seen_ms : c->cmd->time_ms;
	rc = af_txn_put_msg(t, AF_TABLE_FLEET, fr->routerd_id, idlen,
			    &rec.base);
	if (old)
		protobuf_c_message_free_unpacked(&old->base, NULL);
	if (rc == 0)
		af_fsm_resultf(c->res, AF__CODE__OK, "recorded");
	return rc;
}

/* The leader's sweep: each listed routerd still unheard of for
 * forget_after_ms at the entry's time is deleted. */
static int forget(struct af_txn *t, struct apply_ctx *c)
{
	const Af__FleetDeregister *fd = c->cmd->fleet_deregister;
	size_t n = 0;

	for (size_t i = 0; i < fd->n_forget && i < MAX_FORGET; i++) {
		const char *id = fd->forget[i];
		size_t idlen = strlen(id);
		Af__FleetRecord *r = NULL;
		int rc;

		if (idlen == 0 || idlen > MAX_ROUTERD_ID)
			continue;
		rc = af_txn_get_msg(t, AF_TABLE_FLEET, id, idlen,
				    &af__fleet_record__descriptor,
				    (ProtobufCMessage **)&r);
		if (rc == AF_ENOTFOUND)
			continue;
		if (rc != 0)
			return rc;
		if (c->cmd->time_ms - r->last_seen_ms > fd->forget_after_ms) {
			rc = af_txn_del(t, AF_TABLE_FLEET, id, idlen);
			n += rc == 0;
		}
		protobuf_c_message_free_unpacked(&r->base, NULL);
		if (rc != 0 && rc != AF_ENOTFOUND)
			return rc;
	}
	af_fsm_resultf(c->res, AF__CODE__OK, "forgot %zu routerds", n);
	return 0;
}

/* A routerd that stops cleanly leaves the fleet view. */
int af_fsm_apply_fleet_deregister(struct af_txn *t, struct apply_ctx *c)
{
	const char *id = c->cmd->fleet_deregister->routerd_id;
	size_t idlen = strlen(id);
	int rc;

	if (c->cmd->fleet_deregister->n_forget > 0)
		return forget(t, c);
	if (idlen == 0 || idlen > MAX_ROUTERD_ID) {
		af_fsm_resultf(c->res, AF__CODE__INVALID,
			       "routerd id must be 1-%d bytes", MAX_ROUTERD_ID);
		return 0;
	}
	rc = af_txn_del(t, AF_TABLE_FLEET, id, idlen);
	if (rc != 0 && rc != AF_ENOTFOUND)
		return rc;
	af_fsm_resultf(c->res, AF__CODE__OK, "deregistered");
	return 0;
}
