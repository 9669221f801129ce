/* Budget leases in the state machine: the invariant spent + outstanding
 * leases <= hard under random traffic from several routerds, lease expiry,
 * release, a new period, tenants without a budget, bad requests. Entries
 * are applied straight to a real LMDB store (no raft needed). */
#include "tests/lib/alloc_check.h"
#include "tests/lib/fsm_fixture.h"
#include "common/alloc.h"
#include "common/money.h"
#include "controld/anomaly.h"
#include "controld/budget.h"
#include "controld/fsm.h"
#include "controld/fsm_int.h"
#include "controld/state.h"
#include "proto/af.pb-c.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct fsm_fixture fx;

/* 2026-11-22T10:00:00Z */
#define T0 1795341600000LL
#define DAY 86400000LL

static void setup(void)
{
	struct af_err e;

	af_test_alloc_begin();
	cr_assert_eq(fsm_fixture_open(&fx, "budget", &e), 0, "%s", e.msg);
}

static void teardown(void)
{
	cr_assert_eq(fsm_fixture_close(&fx), 0);
	af_test_alloc_end();
}

static const struct af_fsm_result *apply(Af__Command *cmd, int64_t t)
{
	cr_assert_eq(fsm_fixture_apply(&fx, cmd, t), 0);
	return &fx.fsm.result;
}

static void set_budget(const char *tenant, int64_t hard, int64_t soft,
		       const char *period, int64_t t)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__BudgetSet bs = AF__BUDGET_SET__INIT;

	bs.tenant = (char *)tenant;
	bs.hard_micro = hard;
	bs.soft_micro = soft;
	bs.period = (char *)period;
	cmd.op_case = AF__COMMAND__OP_BUDGET_SET;
	cmd.budget_set = &bs;
	cr_assert_eq(apply(&cmd, t)->code, AF__CODE__OK);
}

static const struct af_fsm_result *lease(const char *rid, const char *tenant,
					 int64_t consumed, int64_t want,
					 bool release, int64_t t)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__LeaseRequest lr = AF__LEASE_REQUEST__INIT;

	lr.routerd_id = (char *)rid;
	lr.tenant = (char *)tenant;
	lr.consumed_micro = consumed;
	lr.want_micro = want;
	lr.release = release;
	cmd.op_case = AF__COMMAND__OP_LEASE;
	cmd.lease = &lr;
	return apply(&cmd, t);
}

static struct af_budget_period state(const char *tenant, int64_t t)
{
	struct af_budget_period st;
	struct af_txn *txn;
	Af__Budget *b;

	cr_assert_eq(af_store_read_begin(fx.store, &txn, NULL), 0);
	cr_assert_eq(af_budget_get(txn, tenant, &b), 0);
	cr_assert_eq(af_budget_period(txn, b, t, false, &st), 0);
	protobuf_c_message_free_unpacked(&b->base, NULL);
	af_store_read_end(txn);
	return st;
}

TestSuite(budget, .init = setup, .fini = teardown);

Test(budget, periods_are_utc_days_and_months)
{
	cr_assert_eq(af_period_start_ms(T0, false), 1795305600000LL);
	cr_assert_eq(af_period_end_ms(T0, false), 1795305600000LL + DAY);
	cr_assert_eq(af_period_start_ms(T0, true), 1793491200000LL);
	cr_assert_eq(af_period_end_ms(T0, true), 1796083200000LL);
}

Test(budget, grants_never_exceed_the_hard_limit)
{
	const char *rids[] = {"r1", "r2", "r3"};
	int64_t held[3] = {0}, t = T0;
	unsigned seed = (unsigned)time(NULL);

	if (getenv("AF_SEED"))
		seed = (unsigned)strtoul(getenv("AF_SEED"), NULL, 10);
	cr_log_info("AF_SEED=%u", seed);
	srand(seed);
	set_budget("acme", 1000000, 0, "day", t); /* 1 USD */
	for (int i = 0; i < 2000; i++) {
		int r = rand() % 3;
		/* consume part of what is held (sometimes more: actual
		 * costs above the estimate) */
		int64_t consumed = held[r] ? rand() % (held[r] + 1) : 0;
		int64_t want = 1 + rand() % 400000;
		const struct af_fsm_result *res;
		struct af_budget_period st;
		int64_t sum = 0;

		t += rand() % 50;
		res = lease(rids[r], "acme", consumed, want, rand() % 20 == 0,
			    t);
		cr_assert_eq(res->code, AF__CODE__OK, "%s", res->message);
		held[r] = res->lease_micro;
		for (int k = 0; k < 3; k++)
			sum += held[k];
		st = state("acme", t);
		cr_assert_leq(st.spent_micro + st.leased_micro, 1000000,
			      "seed %u step %d: spent %lld + leased %lld", seed,
			      i, (long long)st.spent_micro,
			      (long long)st.leased_micro);
		cr_assert_eq(st.leased_micro, sum, "seed %u step %d", seed, i);
		cr_assert_eq(res->over_hard, st.spent_micro >= 1000000);
	}
}

Test(budget, an_expired_lease_returns_and_release_gives_back)
{
	set_budget("acme", 1000000, 0, "day", T0);
	cr_assert_eq(lease("gone", "acme", 0, 800000, false, T0)->lease_micro,
		     800000);
	/* Only 200000 left for another routerd while the lease lives. */
	cr_assert_eq(
		lease("r2", "acme", 0, 800000, false, T0 + 1000)->lease_micro,
		200000);
	/* "gone" never renews: after the TTL its lease returns. */
	cr_assert_eq(lease("r2", "acme", 150000, 800000, false,
			   T0 + AF_LEASE_TTL_MS + 1)
			     ->lease_micro,
		     800000);
	cr_assert_eq(state("acme", T0 + AF_LEASE_TTL_MS + 2).spent_micro,
		     150000);
	cr_assert_eq(lease("r2", "acme", 0, 0, true, T0 + AF_LEASE_TTL_MS + 3)
			     ->lease_micro,
		     0);
	cr_assert_eq(state("acme", T0 + AF_LEASE_TTL_MS + 4).leased_micro, 0);
}

Test(budget, soft_and_hard_flags_and_a_new_period)
{
	const struct af_fsm_result *r;

	set_budget("acme", 1000000, 400000, "day", T0);
	r = lease("r1", "acme", 0, 1000000, false, T0);
	cr_assert_eq(r->lease_micro, 1000000);
	cr_assert_not(r->over_soft);
	r = lease("r1", "acme", 500000, 1000000, false, T0 + 10);
	cr_assert(r->over_soft);
	cr_assert_not(r->over_hard);
	cr_assert_eq(r->lease_micro, 500000);
	r = lease("r1", "acme", 500000, 1000000, false, T0 + 20);
	cr_assert(r->over_hard);
	cr_assert_eq(r->lease_micro, 0);
	cr_assert_eq(r->period_end_ms, af_period_end_ms(T0, false));
	/* The next UTC day: spend starts again from zero. */
	r = lease("r1", "acme", 0, 1000000, false, T0 + DAY);
	cr_assert_not(r->over_hard);
	cr_assert_eq(r->lease_micro, 1000000);
	cr_assert_eq(state("acme", T0 + DAY).spent_micro, 0);
}

Test(budget, unlimited_tenants_and_bad_requests)
{
	const struct af_fsm_result *r;
	Af__Command cmd = AF__COMMAND__INIT;
	Af__BudgetSet bs = AF__BUDGET_SET__INIT;

	r = lease("r1", "nobody", 0, 1000, false, T0);
	cr_assert_eq(r->code, AF__CODE__OK);
	cr_assert(r->unlimited);
	r = lease("r1", "", 0, 1000, false, T0);
	cr_assert_eq(r->code, AF__CODE__INVALID);
	r = lease("r1", "acme", -5, 1000, false, T0);
	cr_assert_eq(r->code, AF__CODE__INVALID);
	bs.tenant = (char *)"acme";
	bs.hard_micro = 100;
	bs.soft_micro = 200; /* above hard */
	bs.period = (char *)"day";
	cmd.op_case = AF__COMMAND__OP_BUDGET_SET;
	cmd.budget_set = &bs;
	cr_assert_eq(apply(&cmd, T0)->code, AF__CODE__INVALID);
	bs.soft_micro = 0;
	bs.period = (char *)"week";
	cr_assert_eq(apply(&cmd, T0)->code, AF__CODE__INVALID);
}

struct sb_apply {
	const Af__UsageRow *row;
};

static int sb_apply_fn(struct af_txn *t, void *arg)
{
	return af_showback_apply(t, T0, ((struct sb_apply *)arg)->row);
}

static Af__Showback *showback_row(const char *tenant)
{
	uint8_t key[256];
	size_t klen = af_showback_key(af_period_start_ms(T0, false), tenant,
				      "c", "m", 1, key, sizeof(key));
	Af__Showback *sb = NULL;
	struct af_txn *txn;

	cr_assert_eq(af_store_read_begin(fx.store, &txn, NULL), 0);
	cr_assert_eq(af_txn_get_msg(txn, AF_TABLE_USAGE, key, klen,
				    &af__showback__descriptor,
				    (ProtobufCMessage **)&sb),
		     0);
	af_store_read_end(txn);
	return sb;
}

/* Sums in the state machine saturate at the type's bounds: extreme rows
 * (any routerd may send them) neither wrap nor trap (UBSan). */
Test(budget, showback_sums_saturate)
{
	Af__UsageRow row = AF__USAGE_ROW__INIT;
	struct sb_apply a = {.row = &row};
	Af__Showback *sb;

	row.revision = 1;
	row.tenant = (char *)"acme";
	row.class_name = (char *)"c";
	row.model = (char *)"m";
	row.count = UINT64_MAX - 1;
	row.ok = UINT64_MAX - 1;
	row.cost_nano_usd = INT64_MAX - 1;
	row.failed_cost_nano_usd = INT64_MIN + 1;
	for (int i = 0; i < 3; i++)
		cr_assert_eq(af_store_update(fx.store, sb_apply_fn, &a, NULL),
			     0);
	sb = showback_row("acme");
	cr_assert_eq(sb->count, UINT64_MAX);
	cr_assert_eq(sb->ok, UINT64_MAX);
	cr_assert_eq(sb->cost_nano_usd, INT64_MAX);
	cr_assert_eq(sb->failed_cost_nano_usd, INT64_MIN);
	protobuf_c_message_free_unpacked(&sb->base, NULL);
}

struct sb_label_scan {
	uint64_t count, other, none, weird;
	int64_t cost;
};

static int sb_label_row(const void *key, size_t klen, const void *val,
			size_t vlen, void *arg)
{
	struct sb_label_scan *s = arg;
	struct af_showback_key k;
	Af__Showback *sb = af__showback__unpack(NULL, vlen, val);

	cr_assert_not_null(sb);
	cr_assert_eq(af_showback_key_parse(key, klen, &k), 0);
	s->count += sb->count;
	s->cost += sb->cost_nano_usd;
	if (k.nlabels == 0)
		s->none += sb->count;
	else if (k.nlabels == 1 && strcmp(k.label[0][0], "cc") == 0 &&
		 strcmp(k.label[0][1], "other") == 0)
		s->other += sb->count;
	else if (k.nlabels != 1 || strcmp(k.label[0][0], "cc") != 0)
		s->weird++;
	protobuf_c_message_free_unpacked(&sb->base, NULL);
	return 0;
}

static int sb_label_scan_fn(struct af_txn *t, void *arg)
{
	return af_showback_iter(t, 0, 0, sb_label_row, arg);
}

/* Hop rows keep their declared labels in the key: a label key takes
 * AF_SHOWBACK_VALUES_MAX values a day, later ones sum under "other";
 * malformed labels are left out, never the row. */
Test(budget, showback_labels_bounded)
{
	Af__UsageRow row = AF__USAGE_ROW__INIT;
	struct sb_apply a = {.row = &row};
	struct sb_label_scan s = {0};
	char lab[32], *labs[1] = {lab};
	struct af_txn *txn;

	row.revision = 1;
	row.tenant = (char *)"acme";
	row.class_name = (char *)"c";
	row.model = (char *)"m";
	row.count = row.ok = 1;
	row.cost_nano_usd = 1000;
	row.n_labels = 1;
	row.labels = labs;
	for (int i = 0; i < AF_SHOWBACK_VALUES_MAX + 5; i++) {
		snprintf(lab, sizeof(lab), "cc=v%d", i);
		cr_assert_eq(af_store_update(fx.store, sb_apply_fn, &a, NULL),
			     0);
	}
	snprintf(lab, sizeof(lab), "cc=v0"); /* a value seen: its own row */
	cr_assert_eq(af_store_update(fx.store, sb_apply_fn, &a, NULL), 0);
	snprintf(lab, sizeof(lab), "no-equals");
	cr_assert_eq(af_store_update(fx.store, sb_apply_fn, &a, NULL), 0);
	cr_assert_eq(af_store_read_begin(fx.store, &txn, NULL), 0);
	cr_assert_eq(sb_label_scan_fn(txn, &s), 0);
	af_store_read_end(txn);
	cr_expect_eq(s.count, AF_SHOWBACK_VALUES_MAX + 7);
	cr_expect_eq(s.cost, (AF_SHOWBACK_VALUES_MAX + 7) * 1000);
	cr_expect_eq(s.other, 5);
	cr_expect_eq(s.none, 1);
	cr_expect_eq(s.weird, 0);
}

/* Spend saturates too: consumption reports at the largest accepted value,
 * many times over, leave spent at most INT64_MAX and the tenant over its
 * hard limit with nothing leased. */
Test(budget, spend_saturates)
{
	const struct af_fsm_result *r = NULL;

	set_budget("acme", 1000000, 0, "day", T0);
	for (int i = 0; i < 10000; i++)
		r = lease("r1", "acme", 1000000000000000LL, 1000, false,
			  T0 + i);
	cr_assert_eq(r->code, AF__CODE__OK);
	cr_assert(r->over_hard);
	cr_assert_eq(r->lease_micro, 0);
	cr_assert_eq(state("acme", T0 + 10000).spent_micro, INT64_MAX);
}

/* The spend over the period: one point per hour it moved (the hour's last
 * settlement), never back in time, started afresh in a new period. */
Test(budget, spend_history_has_a_point_per_hour)
{
	const int64_t H = 3600000;
	struct af_budget_period st;
	struct af_txn *txn;
	Af__Budget *b;

	set_budget("t", 100000000, 0, "month", T0);
	lease("r1", "t", 0, 1000000, false, T0);
	lease("r1", "t", 100, 1000000, false, T0 + 60000);
	lease("r1", "t", 200, 1000000, false, T0 + 120000);
	lease("r1", "t", 300, 1000000, false, T0 + 2 * H);
	lease("r1", "t", 400, 1000000, false, T0 + 2 * H - 5000); /* back */
	cr_assert_eq(af_store_read_begin(fx.store, &txn, NULL), 0);
	cr_assert_eq(af_budget_get(txn, "t", &b), 0);
	cr_assert_eq(af_budget_period(txn, b, T0 + 3 * H, true, &st), 0);
	cr_assert_not_null(st.spend);
	cr_assert_eq(st.spend->n_history, 2);
	cr_expect_eq(st.spend->history[0]->at_ms, T0 + 120000);
	cr_expect_eq(st.spend->history[0]->spent_micro, 300);
	cr_expect_eq(st.spend->history[1]->at_ms, T0 + 2 * H);
	cr_expect_eq(st.spend->history[1]->spent_micro, 1000);
	cr_expect_eq(st.spent_micro, 1000);
	af_budget_period_free(&st);
	/* Next month: no history of this one. */
	cr_assert_eq(af_budget_period(txn, b, T0 + 31 * DAY, true, &st), 0);
	cr_expect_null(st.spend);
	cr_expect_eq(st.spent_micro, 0);
	protobuf_c_message_free_unpacked(&b->base, NULL);
	af_store_read_end(txn);
}

/* ------------------------------------------- workflow rows, retention */

static int count_fn(const void *k, size_t kl, const void *v, size_t vl,
		    void *arg)
{
	(void)k, (void)kl, (void)v, (void)vl;
	(*(size_t *)arg)++;
	return 0;
}

static size_t rows_under(const char *prefix)
{
	struct af_txn *txn;
	size_t n = 0;

	cr_assert_eq(af_store_read_begin(fx.store, &txn, NULL), 0);
	cr_assert_eq(af_txn_iter_prefix(txn, AF_TABLE_USAGE, prefix, 3, false,
					count_fn, &n),
		     0);
	af_store_read_end(txn);
	return n;
}

/* One UsageReport at time t: a hop row and one workflow of `tenant` with
 * label cost_center=cc; prune_before_ms as the leader would stamp it. */
static void usage_at(const char *tenant, const char *cc, int64_t t,
		     int64_t prune_before_ms)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__UsageReport ur = AF__USAGE_REPORT__INIT;
	Af__UsageRow row = AF__USAGE_ROW__INIT, *rows[1] = {&row};
	Af__WorkflowRow w = AF__WORKFLOW_ROW__INIT, *ws[1] = {&w};
	char lab[96], *labs[1] = {lab};

	snprintf(lab, sizeof(lab), "cost_center=%s", cc);
	row.revision = 1;
	row.tenant = w.tenant = (char *)tenant;
	row.class_name = w.class_name = (char *)"c";
	row.model = (char *)"m";
	row.count = row.ok = 1;
	w.workflows = w.succeeded = 1;
	w.inference_micro = 10;
	w.success_min_micro = w.success_max_micro = 10;
	w.labels = labs;
	w.n_labels = 1;
	ur.routerd_id = (char *)"r1";
	ur.rows = rows;
	ur.n_rows = 1;
	ur.workflows = ws;
	ur.n_workflows = 1;
	ur.prune_before_ms = prune_before_ms;
	cmd.op_case = AF__COMMAND__OP_USAGE_REPORT;
	cmd.usage_report = &ur;
	cr_assert_eq(apply(&cmd, t)->code, AF__CODE__OK);
}

Test(budget, label_values_capped_per_day)
{
	char cc[16];

	for (int i = 0; i < AF_SHOWBACK_VALUES_MAX + 5; i++) {
		snprintf(cc, sizeof(cc), "cc%d", i);
		usage_at("acme", cc, T0, 0);
	}
	/* a value seen before still has its own row */
	usage_at("acme", "cc3", T0, 0);
	cr_assert_eq(rows_under("wf/"), AF_SHOWBACK_VALUES_MAX + 1);
	cr_assert_eq(rows_under("wv/"), AF_SHOWBACK_VALUES_MAX);
	/* the next day counts again */
	usage_at("acme", "new", T0 + DAY, 0);
	cr_assert_eq(rows_under("wf/"), AF_SHOWBACK_VALUES_MAX + 2);
}

Test(budget, retention_prunes_old_days_bounded)
{
	char tenant[16];

	/* 300 tenants on day 0, one on days 1 and 2 */
	for (int i = 0; i < 300; i++) {
		snprintf(tenant, sizeof(tenant), "t%d", i);
		usage_at(tenant, "A", T0, 0);
	}
	usage_at("acme", "A", T0 + DAY, 0);
	usage_at("acme", "A", T0 + 2 * DAY, 0);
	cr_assert_eq(rows_under("sb/"), 302);
	cr_assert_eq(rows_under("wf/"), 302);
	/* before day 2: at most AF_USAGE_PRUNE_MAX keys per entry */
	usage_at("acme", "A", T0 + 2 * DAY,
		 af_period_start_ms(T0 + 2 * DAY, false));
	cr_assert_eq(rows_under("sb/"), 302 - AF_USAGE_PRUNE_MAX);
	for (int i = 0; i < 4; i++)
		usage_at("acme", "A", T0 + 2 * DAY,
			 af_period_start_ms(T0 + 2 * DAY, false));
	cr_assert_eq(rows_under("sb/"), 1);
	cr_assert_eq(rows_under("wf/"), 1);
	cr_assert_eq(rows_under("wv/"), 1);
	cr_assert_eq(rows_under("wn/"), 1);
}

/* Spend anomalies: a tenant steady for 28 days then 10x, one that
 * varies, one new; z from the mean and population deviation of the
 * window (missing days count as 0). */
static int spend_fn(struct af_txn *t, void *arg)
{
	const int64_t *v = arg; /* day index, tenant index, nano */
	static const char *const names[] = {"steady", "noisy", "new"};
	Af__UsageRow row = AF__USAGE_ROW__INIT;

	row.revision = 1;
	row.tenant = (char *)names[v[1]];
	row.class_name = (char *)"c";
	row.model = (char *)"m";
	row.count = row.ok = 1;
	row.cost_nano_usd = v[2];
	return af_showback_apply(t, T0 - (29 - v[0]) * DAY, &row);
}

Test(budget, anomalies_z_against_the_trailing_window)
{
	struct af_anomaly *a = NULL;
	size_t n = 0;
	int64_t day;

	for (int64_t d = 0; d < 30; d++) {
		int64_t steady[3] = {d, 0, d == 28 ? 10000000000 : 1000000000};
		int64_t noisy[3] = {d, 1, (d % 2 ? 3 : 1) * 1000000000LL};

		cr_assert_eq(af_store_update(fx.store, spend_fn, steady, NULL),
			     0);
		cr_assert_eq(af_store_update(fx.store, spend_fn, noisy, NULL),
			     0);
	}
	int64_t fresh[3] = {28, 2, 5000000000};
	cr_assert_eq(af_store_update(fx.store, spend_fn, fresh, NULL), 0);
	struct af_txn *txn;
	cr_assert_eq(af_store_read_begin(fx.store, &txn, NULL), 0);
	/* day 29 is today: day 28 is the last complete one */
	cr_assert_eq(af_anomalies(txn, T0, 1, 100, &a, &n, &day), AF_EINVAL);
	cr_assert_eq(af_anomalies(txn, T0, 28, 100, &a, &n, &day), 0);
	af_store_read_end(txn);
	cr_assert_eq(n, 3);
	cr_expect_eq(day, af_period_start_ms(T0, false) - DAY);
	/* steady: 28 days of 1 USD, stddev 0 (floored at 1 micro) */
	cr_expect_str_eq(a[0].tenant, "steady");
	cr_expect_eq(a[0].spend_micro, 10000000);
	cr_expect_float_eq(a[0].mean_micro, 1e6, 1e-6);
	cr_expect_float_eq(a[0].stddev_micro, 0, 1e-6);
	cr_expect_float_eq(a[0].z, 9e6, 1e-3);
	/* new: nothing for 28 days, 5 USD */
	cr_expect_str_eq(a[1].tenant, "new");
	cr_expect_float_eq(a[1].z, 5e6, 1e-3);
	/* noisy: 1, 3, 1, 3... mean 2, stddev 1; day 28 spent 1: z -1 */
	cr_expect_str_eq(a[2].tenant, "noisy");
	cr_expect_float_eq(a[2].mean_micro, 2e6, 1e-6);
	cr_expect_float_eq(a[2].stddev_micro, 1e6, 1e-6);
	cr_expect_float_eq(a[2].z, -1, 1e-9);
	af_free(a);
}

/* ------------------------------------------- merging workflow parts */

/* part ID at t: one routerd's part of workflow id (tenant acme), with
 * outcome o ('s', 'f' or 'a'), finished there or not, hops and
 * inference micro-USD, labels cc (NULL: none). */
static void part(const char *id, char o, bool finished, uint64_t hops,
		 int64_t inference, const char *cc, int64_t t)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__UsageReport ur = AF__USAGE_REPORT__INIT;
	Af__WorkflowRow w = AF__WORKFLOW_ROW__INIT, *ws[1] = {&w};
	char lab[96], *labs[1] = {lab};

	w.workflow_id = (char *)id;
	w.finished = finished;
	w.tenant = (char *)"acme";
	w.class_name = (char *)"c";
	w.workflows = 1;
	w.succeeded = o == 's';
	w.failed = o == 'f';
	w.abandoned = o == 'a';
	w.hops = hops;
	w.inference_micro = inference;
	w.waste_micro = o == 's' ? 0 : inference;
	if (cc != NULL) {
		snprintf(lab, sizeof(lab), "cost_center=%s", cc);
		w.labels = labs;
		w.n_labels = 1;
	}
	ur.routerd_id = (char *)"r1";
	ur.workflows = ws;
	ur.n_workflows = 1;
	cmd.op_case = AF__COMMAND__OP_USAGE_REPORT;
	cmd.usage_report = &ur;
	cr_assert_eq(apply(&cmd, t)->code, AF__CODE__OK);
}

struct wf_totals {
	Af__WorkflowRow sum;
	uint64_t hist[AF_COSTHIST_BUCKETS];
	size_t rows;
	char cc[8]; /* the label of the last row */
};

static int wf_total_fn(const void *key, size_t klen, const void *val,
		       size_t vlen, void *arg)
{
	struct wf_totals *s = arg;
	struct af_workflow_key k;
	Af__WorkflowRow *r = af__workflow_row__unpack(NULL, vlen, val);

	cr_assert_not_null(r);
	cr_assert_eq(af_workflow_key_parse(key, klen, &k), 0);
	snprintf(s->cc, sizeof(s->cc), "%s", k.nlabels ? k.label[0][1] : "-");
	af_workflow_sum(&s->sum, r, s->hist);
	s->rows++;
	af__workflow_row__free_unpacked(r, NULL);
	return 0;
}

static struct wf_totals wf_totals(int64_t day)
{
	struct wf_totals s = {.sum = AF__WORKFLOW_ROW__INIT};
	struct af_txn *txn;

	s.sum.success_min_micro = -1;
	cr_assert_eq(af_store_read_begin(fx.store, &txn, NULL), 0);
	cr_assert_eq(af_workflow_iter(txn, day, day + DAY, wf_total_fn, &s), 0);
	af_store_read_end(txn);
	return s;
}

/* A workflow whose parts reach the cluster from several routerds counts
 * once: hops and money summed, the outcome of the part that ended it
 * (whichever came first), abandoned only if none did; its labels the
 * ending part's, else the others'. */
Test(budget, workflow_parts_merge_by_id)
{
	int64_t d0 = af_period_start_ms(T0, false);
	struct wf_totals s;

	/* an abandoned part, then the one with the outcome */
	part("w1", 'a', false, 2, 100, "A", T0);
	part("w1", 's', true, 1, 50, NULL, T0 + 1);
	s = wf_totals(d0);
	cr_expect_eq(s.rows, 1);
	cr_expect_str_eq(s.cc, "A");
	cr_expect_eq(s.sum.workflows, 1);
	cr_expect_eq(s.sum.succeeded, 1);
	cr_expect_eq(s.sum.abandoned, 0);
	cr_expect_eq(s.sum.hops, 3);
	cr_expect_eq(s.sum.inference_micro, 150);
	cr_expect_eq(s.sum.waste_micro, 0);
	cr_expect_eq(s.hist[af_costhist_index(150)], 1);
	cr_expect_eq(s.hist[af_costhist_index(50)], 0);
	/* the outcome first, then a part that went idle elsewhere */
	part("w2", 'f', true, 0, 7, "B", T0 + 2);
	part("w2", 'a', false, 4, 40, "A", T0 + 3);
	/* no routerd saw w3 end: abandoned once */
	part("w3", 'a', false, 1, 1, "B", T0 + 4);
	part("w3", 'a', false, 1, 2, "B", T0 + 5);
	s = wf_totals(d0);
	cr_expect_eq(s.sum.workflows, 3);
	cr_expect_eq(s.sum.succeeded, 1);
	cr_expect_eq(s.sum.failed, 1);
	cr_expect_eq(s.sum.abandoned, 1);
	cr_expect_eq(s.sum.hops, 3 + 4 + 2);
	cr_expect_eq(s.sum.inference_micro, 150 + 47 + 3);
	cr_expect_eq(s.sum.waste_micro, 47 + 3);
	/* a part the next day joins the day its workflow was counted in */
	part("w3", 'a', false, 1, 10, "B", T0 + DAY);
	s = wf_totals(d0);
	cr_expect_eq(s.sum.workflows, 3);
	cr_expect_eq(s.sum.waste_micro, 47 + 13);
	cr_expect_eq(wf_totals(d0 + DAY).rows, 0);
	/* two days on, the index forgot w1: a part counts on its own */
	part("x", 'a', false, 1, 1, NULL, T0 + 2 * DAY);
	part("w1", 'a', false, 1, 1, NULL, T0 + 2 * DAY + 1);
	cr_expect_eq(wf_totals(d0 + 2 * DAY).sum.workflows, 2);
	cr_expect_eq(wf_totals(d0).sum.workflows, 3);
	cr_expect_eq(rows_under("wi/"), 2, "old index entries pruned");
}
