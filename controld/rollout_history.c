/* The running canary's history over time: with each usage report apply
 * may add a point, the stable and canary totals of the step so far (what
 * the gates judge), stamped with the entry's time, never a local clock,
 * so that every node keeps the same points. Bounded: past HIST_MAX
 * points every other one goes and the spacing doubles. Loop thread,
 * inside the apply transaction. */
#include "common/alloc.h"
#include "controld/fsm_int.h"
#include "controld/rollout.h"
#include "controld/state.h"

#define HIST_MAX 240
#define HIST_SPACING_MS 2000

/* Whether a point at at_ms is due in h for canary revision rev. */
static bool due(const Af__RolloutHistory *h, uint64_t rev, int64_t at_ms)
{
	if (h == NULL || h->canary_revision != rev || h->n_points == 0)
		return true;
	return at_ms >= h->points[h->n_points - 1]->at_ms + h->spacing_ms;
}

int af_fsm_rollout_history_apply(struct af_txn *t, int64_t at_ms)
{
	Af__RolloutHistory *h = NULL, out = AF__ROLLOUT_HISTORY__INIT;
	Af__RolloutPoint pt = AF__ROLLOUT_POINT__INIT, **ptrs = NULL;
	Af__UsageTotals ps, pc;
	struct af_usage now, s, c;
	struct af_rollout ro;
	size_t n = 0, keep = 1;
	int rc;

	if ((rc = af_rollout_get(t, &ro)) != 0 || ro.canary == 0)
		return rc;
	if ((rc = af_state_rollout_history_get(t, &h)) != 0)
		return rc;
	if (!due(h, ro.canary, at_ms))
		goto out;
	if ((rc = af_usage_get(t, ro.stable, &now)) != 0)
		goto out;
	af_usage_sub(&now, &ro.stable_base, &s);
	if ((rc = af_usage_get(t, ro.canary, &now)) != 0)
		goto out;
	af_usage_sub(&now, &ro.canary_base, &c);
	out.canary_revision = ro.canary;
	out.spacing_ms = HIST_SPACING_MS;
	if (h != NULL && h->canary_revision == ro.canary) {
		out.spacing_ms =
			h->spacing_ms > 0 ? h->spacing_ms : HIST_SPACING_MS;
		n = h->n_points;
		if (n >= HIST_MAX) {
			keep = 2;
			out.spacing_ms *= 2;
		}
	}
	ptrs = af_calloc(n / keep + 1, sizeof(*ptrs));
	if (ptrs == NULL) {
		rc = AF_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i += keep)
		ptrs[out.n_points++] = h->points[i];
	af_usage_to_pb(&s, &ps);
	af_usage_to_pb(&c, &pc);
	pt.at_ms = at_ms;
	pt.step_index = ro.step_index;
	pt.weight = ro.weight;
	pt.stable = &ps;
	pt.canary = &pc;
	ptrs[out.n_points++] = &pt;
	out.points = ptrs;
	rc = af_state_rollout_history_put(t, &out);
out:
	af_free(ptrs);
	if (h != NULL)
		protobuf_c_message_free_unpacked(&h->base, NULL);
	return rc;
}
