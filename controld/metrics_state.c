/* /metrics series read from the replicated state: budgets per tenant,
 * the rollout, the routerd fleet by state. The loop thread reads them from
 * the store at most every CONTROLD_STATE_METRICS_MS (bounded work: at most
 * CONTROLD_METRIC_TENANTS budgets and MAX_LIST fleet records, one read
 * transaction) into a text block; scrapes copy the last block on the HTTP
 * threads, so a scrape never waits for the loop. Every node exports them
 * (followers from their applied state). */
#include "common/alloc.h"
#include "common/timeutil.h"
#include "controld/anomaly.h"
#include "controld/budget.h"
#include "controld/handlers_int.h"
#include "controld/quota.h"
#include "controld/rollout.h"
#include "controld/state.h"

#include <stdio.h>
#include <string.h>

static const char *fleet_states[] = {"SYNCED", "STALE", "NACKED", "LOST"};

static void family(struct af_textbuf *b, const char *name, const char *type,
		   const char *help)
{
	af_textbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
			  type);
}

static int budgets(struct controld_node *n, struct af_txn *t,
		   struct af_textbuf *b)
{
	struct controld_collect c = {0};
	struct af_textbuf rows[4] = {{0}};
	static const char *names[4] = {
		"af_budget_spent_usd", "af_budget_leased_usd",
		"af_budget_hard_usd", "af_budget_soft_usd"};
	static const char *helps[4] = {
		"Spend settled in the tenant's current period.",
		"Granted to routerd leases and not yet settled (may be spent).",
		"The tenant's hard limit per period.",
		"The tenant's soft limit per period (0: none)."};
	int64_t now = af_wall_ms();
	int rc;

	(void)n;
	rc = controld_collect(t, AF_TABLE_BUDGETS, &af__budget__descriptor,
			      false, CONTROLD_METRIC_TENANTS, &c);
	for (size_t i = 0; rc == 0 && i < c.n; i++) {
		const Af__Budget *bu = (const Af__Budget *)c.items[i];
		struct af_budget_period st;
		int64_t v[4];

		if ((rc = af_budget_period(t, bu, now, false, &st)) != 0)
			break;
		v[0] = st.spent_micro, v[1] = st.leased_micro;
		v[2] = bu->hard_micro, v[3] = bu->soft_micro;
		for (int k = 0; k < 4; k++)
			af_textbuf_printf(&rows[k], "%s{tenant=\"%s\"} %.6f\n",
					  names[k], bu->tenant,
					  (double)v[k] / 1e6);
	}
	for (int k = 0; k < 4; k++) {
		family(b, names[k], "gauge", helps[k]);
		if (rows[k].buf != NULL)
			af_textbuf_printf(b, "%s", rows[k].buf);
		if (rows[k].failed)
			b->failed = 1;
		af_textbuf_free(&rows[k]);
	}
	controld_collect_free(&c);
	return rc;
}

/* Per (quota, tenant, dimension) with live leases: the limit the
 * routerds state and the leased sum (at most the limit). */
static int quotas(struct af_txn *t, struct af_textbuf *b)
{
	static const char *dims[] = {"inflight", "tokens_in_flight", "rpm",
				     "tpm"};
	struct af_textbuf rows[2] = {{0}};
	Af__QuotaLease **l = NULL;
	size_t n = 0;
	int rc = af_quota_leases(t, af_wall_ms(), &l, &n);

	for (size_t i = 0, j; rc == 0 && i < n; i = j) {
		int64_t sum = 0, lim = 0;

		for (j = i; j < n && strcmp(l[j]->quota, l[i]->quota) == 0 &&
			    strcmp(l[j]->tenant, l[i]->tenant) == 0 &&
			    l[j]->dim == l[i]->dim;
		     j++) {
			sum += l[j]->amount;
			lim = l[j]->limit > lim ? l[j]->limit : lim;
		}
		for (int k = 0; k < 2; k++)
			af_textbuf_printf(
				&rows[k],
				"%s{quota=\"%s\",tenant=\"%s\",dimension=\"%"
				"s\"} "
				"%lld\n",
				k ? "af_quota_leased" : "af_quota_limit",
				l[i]->quota, l[i]->tenant,
				l[i]->dim < 4 ? dims[l[i]->dim] : "unknown",
				(long long)(k ? sum : lim));
	}
	family(b, "af_quota_limit", "gauge",
	       "A fleet-wide quota's limit, as the routerds leasing it state.");
	if (rows[0].buf != NULL)
		af_textbuf_printf(b, "%s", rows[0].buf);
	family(b, "af_quota_leased", "gauge",
	       "Capacity of the quota on lease to routerds (never above the "
	       "limit).");
	if (rows[1].buf != NULL)
		af_textbuf_printf(b, "%s", rows[1].buf);
	if (rows[0].failed || rows[1].failed)
		b->failed = 1;
	af_textbuf_free(&rows[0]);
	af_textbuf_free(&rows[1]);
	af_quota_leases_free(l, n);
	return rc;
}

static int rollout(struct controld_node *n, struct af_txn *t,
		   struct af_textbuf *b)
{
	static const char *states[] = {"none", "progressing", "paused"};
	static const char *verdicts[] = {"hold", "pass", "breach"};
	struct af_rollout ro;
	int rc = af_rollout_get(t, &ro);
	const char *st;

	if (rc != 0)
		return rc;
	st = af_rollout_state(&ro);
	family(b, "af_rollout_state", "gauge",
	       "1 for the rollout's state (none: no canary).");
	for (size_t i = 0; i < 3; i++)
		af_textbuf_printf(b, "af_rollout_state{state=\"%s\"} %d\n",
				  states[i], strcmp(st, states[i]) == 0);
	family(b, "af_rollout_canary_weight_ratio", "gauge",
	       "Share of traffic sent to the canary, 0-1.");
	af_textbuf_printf(b, "af_rollout_canary_weight_ratio %.2f\n",
			  ro.canary ? (double)ro.weight / 100.0 : 0.0);
	family(b, "af_rollout_step", "gauge",
	       "Index of the canary's current step (-1: no steps or no "
	       "canary).");
	af_textbuf_printf(b, "af_rollout_step %d\n",
			  ro.canary ? (int)ro.step_index : -1);
	family(b, "af_rollout_fleet_waiting", "gauge",
	       "1 while the canary's step waits for the fleet to serve it "
	       "(--require-fleet).");
	af_textbuf_printf(b, "af_rollout_fleet_waiting %d\n",
			  ro.canary && ro.fleet_waiting);
	family(b, "af_rollout_canary_revision", "gauge",
	       "Policy revision under canary (0: none).");
	af_textbuf_printf(b, "af_rollout_canary_revision %llu\n",
			  (unsigned long long)ro.canary);
	family(b, "af_rollout_verdicts_total", "counter",
	       "Canary judgements this node made as leader, by verdict.");
	for (int v = 0; v < 3; v++)
		af_textbuf_printf(
			b,
			"af_rollout_verdicts_total{verdict=\"%s\"} "
			"%llu\n",
			verdicts[v],
			(unsigned long long)atomic_load(&n->verdicts[v]));
	family(b, "af_rollout_auto_aborts_total", "counter",
	       "Canaries this node aborted as leader because a gate was "
	       "breached.");
	af_textbuf_printf(b, "af_rollout_auto_aborts_total %llu\n",
			  (unsigned long long)atomic_load(&n->auto_aborts));
	return 0;
}

static int fleet(struct controld_node *n, struct af_txn *t,
		 struct af_textbuf *b)
{
	struct controld_collect c = {0};
	struct af_state_heads h;
	uint64_t count[4] = {0};
	int64_t now = af_wall_ms();
	int64_t forget_ms = (int64_t)n->cfg->fleet_forget_s * 1000;
	uint64_t reg = af_state_registry_revision(t);
	int rc;

	if ((rc = af_state_heads_read(t, &h)) == 0)
		rc = controld_collect(t, AF_TABLE_FLEET,
				      &af__fleet_record__descriptor, false,
				      MAX_LIST, &c);
	for (size_t i = 0; rc == 0 && i < c.n; i++) {
		const Af__FleetRecord *r = (const Af__FleetRecord *)c.items[i];
		const char *s;

		if (now - r->last_seen_ms > forget_ms)
			continue;
		s = controld_fleet_state(r, &h, reg, now,
					 (int64_t)n->cfg->fleet_lost_s * 1000);
		for (int k = 0; k < 4; k++)
			if (strcmp(s, fleet_states[k]) == 0)
				count[k]++;
	}
	family(b, "af_fleet_routerd", "gauge",
	       "routerd instances by state, as af fleet status shows them.");
	for (int k = 0; k < 4; k++)
		af_textbuf_printf(b, "af_fleet_routerd{state=\"%s\"} %llu\n",
				  fleet_states[k],
				  (unsigned long long)count[k]);
	controld_collect_free(&c);
	af_state_heads_free(&h);
	return rc;
}

/* The leader's z of each tenant's last complete day (anomaly.h), for
 * the first CONTROLD_METRIC_TENANTS tenants. */
static int anomalies(struct controld_node *n, struct af_txn *t,
		     struct af_textbuf *b, uint64_t now_mono)
{
	struct af_textbuf *m = &n->anomaly_metrics;
	struct af_anomaly *a = NULL;
	size_t cnt = 0;
	int64_t day;
	int rc;

	if (!af_consensus_is_leader(&n->cons)) {
		af_textbuf_free(m);
		return 0;
	}
	if (m->buf == NULL ||
	    now_mono - n->anomaly_metrics_ms >= CONTROLD_ANOMALY_METRICS_MS) {
		rc = af_anomalies(t, af_wall_ms(), AF_ANOMALY_WINDOW_DEFAULT,
				  CONTROLD_METRIC_TENANTS, &a, &cnt, &day);
		if (rc != 0)
			return rc;
		af_textbuf_free(m);
		n->anomaly_metrics_ms = now_mono;
		family(m, "af_spend_anomaly_z", "gauge",
		       "z-score of the tenant's spend on the last complete "
		       "UTC day against the 28 days before it (leader only).");
		for (size_t i = 0; i < cnt; i++)
			af_textbuf_printf(
				m, "af_spend_anomaly_z{tenant=\"%s\"} %.3f\n",
				a[i].tenant, a[i].z);
		af_free(a);
		if (m->failed) {
			af_textbuf_free(m);
			return 0;
		}
	}
	af_textbuf_printf(b, "%s", m->buf);
	return 0;
}

void controld_state_metrics_tick(struct controld_node *n, uint64_t now_mono)
{
	struct af_textbuf b = {0};
	struct af_txn *t;
	int rc;

	if (n->state_metrics != NULL &&
	    now_mono - n->state_metrics_ms < CONTROLD_STATE_METRICS_MS)
		return;
	n->state_metrics_ms = now_mono;
	if (af_store_read_begin(n->store, &t, NULL) != 0)
		return;
	rc = budgets(n, t, &b);
	if (rc == 0)
		rc = rollout(n, t, &b);
	if (rc == 0)
		rc = fleet(n, t, &b);
	if (rc == 0)
		rc = anomalies(n, t, &b, now_mono);
	if (rc == 0)
		rc = quotas(t, &b);
	af_store_read_end(t);
	if (rc != 0 || b.failed || b.buf == NULL) {
		af_textbuf_free(&b); /* keep the last good block */
		return;
	}
	pthread_mutex_lock(&n->state_metrics_mu);
	af_free(n->state_metrics);
	n->state_metrics = b.buf;
	n->state_metrics_len = b.len;
	pthread_mutex_unlock(&n->state_metrics_mu);
}

void controld_state_metrics_copy(struct controld_node *n, struct af_textbuf *b)
{
	pthread_mutex_lock(&n->state_metrics_mu);
	if (n->state_metrics != NULL)
		af_textbuf_printf(b, "%.*s", (int)n->state_metrics_len,
				  n->state_metrics);
	pthread_mutex_unlock(&n->state_metrics_mu);
}
