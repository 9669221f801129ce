/* The fleet gates of a running rollout: how many live routerds serve its
 * state and how many NACK its canary hash, for the controller and for
 * `af canary status`; and the leader's sweep that forgets routerds
 * unheard of for fleet.forget_s. Loop thread. */
#include "common/log.h"
#include "common/timeutil.h"
#include "controld/handlers_int.h"
#include "controld/node.h"
#include "controld/rollout.h"
#include "controld/state.h"
#include "render/render.h"

int controld_fleet_gate(struct af_txn *t, const struct af_rollout *ro,
			int64_t now, int64_t lost_ms, Af__FleetGate *ret)
{
	struct controld_collect c = {0};
	struct af_state_heads h;
	struct af_fleet_want w = {.weight = ro->weight};
	int rc;

	af__fleet_gate__init(ret);
	if ((rc = af_state_heads_read(t, &h)) != 0)
		goto out;
	if (h.stable_rev == NULL || h.canary_rev == NULL)
		goto out; /* no rollout: nothing to count */
	w.stable_hash = h.stable_rev->hash;
	w.canary_hash = w.new_hash = h.canary_rev->hash;
	if ((rc = controld_collect(t, AF_TABLE_FLEET,
				   &af__fleet_record__descriptor, false,
				   MAX_LIST, &c)) != 0)
		goto out;
	for (size_t i = 0; i < c.n; i++) {
		const Af__FleetRecord *r = (const Af__FleetRecord *)c.items[i];

		if (!af_fleet_live(r, now, lost_ms) || r->last == NULL)
			continue;
		ret->live++;
		switch (af_fleet_judge(r->last, &w)) {
		case AF_FLEET_SERVING:
			ret->serving++;
			break;
		case AF_FLEET_NACKING:
			ret->nacked++;
			break;
		default:
			break;
		}
	}
out:
	controld_collect_free(&c);
	af_state_heads_free(&h);
	return rc;
}

/* ------------------------------------------------------------ forget */

#define SWEEP_EVERY_MS 5000
#define SWEEP_MAX 256 /* as fsm_fleet.c's MAX_FORGET */

static void sweep_cb(void *arg, int status, const struct af_fsm_result *r)
{
	struct controld_node *n = arg;

	n->fleet_sweep_busy = false;
	if (status != 0)
		log_warn("event=fleet_forget_failed error=\"%s\"",
			 af_strerror(status));
	else
		log_info("event=fleet_forget msg=\"%s\"", r->message);
}

/* The ids of routerds unheard of for longer than forget_ms (at most
 * SWEEP_MAX). */
static int stale_ids(struct af_txn *t, int64_t now, int64_t forget_ms,
		     struct controld_collect *c, char **ids, size_t *n)
{
	int rc = controld_collect(t, AF_TABLE_FLEET,
				  &af__fleet_record__descriptor, false,
				  MAX_LIST, c);

	*n = 0;
	for (size_t i = 0; rc == 0 && i < c->n && *n < SWEEP_MAX; i++) {
		const Af__FleetRecord *r = (const Af__FleetRecord *)c->items[i];

		if (r->last != NULL && now - r->last_seen_ms > forget_ms)
			ids[(*n)++] = r->last->routerd_id;
	}
	return rc;
}

void controld_fleet_sweep_tick(struct controld_node *n, uint64_t now_mono)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__FleetDeregister fd = AF__FLEET_DEREGISTER__INIT;
	struct controld_collect c = {0};
	int64_t forget_ms = (int64_t)n->cfg->fleet_forget_s * 1000;
	int64_t now = af_wall_ms();
	char *ids[SWEEP_MAX];
	struct af_txn *t;
	size_t k = 0;

	if (n->fleet_sweep_busy || !af_consensus_ready(&n->cons) ||
	    now_mono - n->fleet_sweep_ms < SWEEP_EVERY_MS)
		return;
	n->fleet_sweep_ms = now_mono;
	if (af_store_read_begin(n->store, &t, NULL) != 0)
		return;
	if (stale_ids(t, now, forget_ms, &c, ids, &k) == 0 && k > 0) {
		fd.forget = ids;
		fd.n_forget = k;
		fd.forget_after_ms = forget_ms;
		cmd.op_case = AF__COMMAND__OP_FLEET_DEREGISTER;
		cmd.fleet_deregister = &fd;
		cmd.principal = (char *)"fleet-sweep";
		cmd.time_ms = now;
		/* The proposal copies the command: the ids may go now. */
		if (af_consensus_propose(&n->cons, &cmd, sweep_cb, n) == 0)
			n->fleet_sweep_busy = true;
	}
	controld_collect_free(&c);
	af_store_read_end(t);
}
