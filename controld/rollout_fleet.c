/* The fleet gates of a running rollout: how many live routerds serve its
 * state and how many NACK its canary hash, for the controller and for
 * `af canary status`. Loop thread, inside a read transaction. */
#include "controld/handlers_int.h"
#include "controld/node.h"
#include "controld/rollout.h"
#include "controld/state.h"
#include "render/render.h"

int controld_fleet_gate(struct af_txn *t, const struct af_rollout *ro,
			int64_t now, Af__FleetGate *ret)
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

		if (!af_fleet_live(r, now) || r->last == NULL)
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
