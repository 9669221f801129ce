/* Apply of UsageReport: per-revision usage counters (the canary gates
 * judge them) and the showback part (budget.c). */
#include "common/satarith.h"
#include "controld/fsm_int.h"
#include "controld/rollout.h"
#include "proto/af.pb-c.h"

#define MAX_USAGE_ROWS 4096

/* Sums of replicated counters saturate: no undefined behaviour inside
 * apply, whatever an old entry carries (the leader bounds new ones). */
/* Telemetry, not an operator's change: no audit record. */
int af_fsm_apply_usage(struct af_txn *t, struct apply_ctx *c)
{
	const Af__UsageReport *ur = c->cmd->usage_report;
	int rc;

	if (ur->n_rows > MAX_USAGE_ROWS || ur->n_workflows > MAX_USAGE_ROWS) {
		af_fsm_resultf(c->res, AF__CODE__TOO_LARGE, "more than %d rows",
			       MAX_USAGE_ROWS);
		return 0;
	}
	for (size_t i = 0; i < ur->n_rows; i++) {
		const Af__UsageRow *row = ur->rows[i];
		struct af_usage u;

		if (row->revision == 0 || row->ok > row->count)
			continue;
		if ((rc = af_usage_get(t, row->revision, &u)) != 0)
			return rc;
		u.count = af_sat_add_u64(u.count, row->count);
		u.ok = af_sat_add_u64(u.ok, row->ok);
		for (size_t k = 0;
		     k < row->n_latency_buckets && k < AF_USAGE_BUCKETS; k++)
			u.lat[k] = af_sat_add_u64(u.lat[k],
						  row->latency_buckets[k]);
		u.lat_sum_ms =
			af_sat_add_u64(u.lat_sum_ms, row->latency_sum_ms);
		u.cost_nano = af_sat_add_i64(u.cost_nano, row->cost_nano_usd);
		u.ok_cost_nano = af_sat_add_i64(
			u.ok_cost_nano,
			af_sat_sub_i64(row->cost_nano_usd,
				       row->failed_cost_nano_usd));
		if (row->quality_count <= row->count &&
		    row->quality_sum_ppm <= row->quality_count * 1000000) {
			u.q_count =
				af_sat_add_u64(u.q_count, row->quality_count);
			u.q_sum_ppm = af_sat_add_u64(u.q_sum_ppm,
						     row->quality_sum_ppm);
		}
		if ((rc = af_usage_put(t, row->revision, &u)) != 0 ||
		    (rc = af_showback_apply(t, c->cmd->time_ms, row)) != 0)
			return rc;
	}
	if ((rc = af_fsm_apply_workflows(t, c)) != 0 ||
	    (rc = af_usage_prune(t, ur->prune_before_ms)) != 0 ||
	    (rc = af_fsm_apply_shadow_usage(t, ur)) != 0 ||
	    (rc = af_fsm_rollout_history_apply(t, c->cmd->time_ms)) != 0)
		return rc;
	af_fsm_resultf(c->res, AF__CODE__OK, "recorded");
	return 0;
}
