/* Budgets that hold across replicas: budget definitions, per-period spend
 * and Raft-granted leases, plus the
 * showback aggregates. Apply code: deterministic, the entry's
 * leader-stamped time is the only clock. Invariant kept by every lease
 * grant: spent + outstanding leases <= hard limit (spent only grows by what
 * routerds consumed out of their leases, or by more when actual costs
 * exceed estimates: the documented bound). */
#include "controld/budget.h"
#include "controld/state.h"
#include "common/satarith.h"
#include "common/alloc.h"
#include "proto/alloc.h"
#include "controld/fsm_int.h"
#include "controld/lease.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define MAX_TENANT 64
#define MAX_MONEY_MICRO 1000000000000000LL /* 1e9 USD */

int64_t af_period_start_ms(int64_t t_ms, bool month)
{
	time_t t = (time_t)(t_ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	if (month)
		tm.tm_mday = 1;
	return (int64_t)timegm(&tm) * 1000;
}

int64_t af_period_end_ms(int64_t t_ms, bool month)
{
	time_t t = (time_t)(af_period_start_ms(t_ms, month) / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	if (month)
		tm.tm_mon += 1;
	else
		tm.tm_mday += 1;
	return (int64_t)timegm(&tm) * 1000;
}

/* Sums in the replicated state saturate (common/satarith.h) instead of
 * overflowing: a clamp is as deterministic as the sum. */

static bool is_month(const char *period)
{
	return strcmp(period, "month") == 0;
}

static bool tenant_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > MAX_TENANT)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

int af_budget_get(struct af_txn *t, const char *tenant, Af__Budget **ret)
{
	return af_txn_get_msg(t, AF_TABLE_BUDGETS, tenant, strlen(tenant),
			      &af__budget__descriptor,
			      (ProtobufCMessage **)ret);
}

/* The stored spend of the period starting at pstart (owned; NULL when
 * none or another period's). */
static int spend_load(struct af_txn *t, const char *tenant, int64_t pstart,
		      Af__Spend **ret)
{
	int rc = af_txn_get_msg(t, AF_TABLE_SPEND, tenant, strlen(tenant),
				&af__spend__descriptor,
				(ProtobufCMessage **)ret);

	if (rc == AF_ENOTFOUND) {
		*ret = NULL;
		return 0;
	}
	if (rc != 0)
		return rc;
	if ((*ret)->period_start_ms != pstart) {
		protobuf_c_message_free_unpacked(&(*ret)->base, NULL);
		*ret = NULL;
	}
	return 0;
}

/* Spend of the period starting at pstart (0 when another period). */
static int spend_get(struct af_txn *t, const char *tenant, int64_t pstart,
		     int64_t *ret)
{
	Af__Spend *s;
	int rc = spend_load(t, tenant, pstart, &s);

	*ret = 0;
	if (rc != 0 || s == NULL)
		return rc;
	*ret = s->spent_micro;
	protobuf_c_message_free_unpacked(&s->base, NULL);
	return 0;
}

/* A month has at most 744 hours: one point per hour always fits. */
#define MAX_SPEND_POINTS 800

/* Stores the period's spend as of now; the history keeps one point per
 * hour of the period (the hour's last settlement). */
static int spend_put(struct af_txn *t, const char *tenant, int64_t pstart,
		     int64_t spent, int64_t now)
{
	Af__Spend s = AF__SPEND__INIT, *old = NULL;
	Af__SpendPoint pt = AF__SPEND_POINT__INIT, **h = NULL;
	size_t n = 0;
	int rc = spend_load(t, tenant, pstart, &old);

	if (rc != 0)
		return rc;
	if (old != NULL)
		n = old->n_history;
	h = af_calloc(n + 1, sizeof(*h));
	if (h == NULL) {
		rc = AF_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		h[i] = old->history[i];
	/* Points never go back in time (the leader's clock may); the same
	 * hour of the period as the last point, or no room: replace it. */
	pt.at_ms = n > 0 && now < h[n - 1]->at_ms ? h[n - 1]->at_ms : now;
	if (n > 0 && ((pt.at_ms - pstart) / 3600000 ==
			      (h[n - 1]->at_ms - pstart) / 3600000 ||
		      n == MAX_SPEND_POINTS))
		n--;
	pt.spent_micro = spent;
	h[n++] = &pt;
	s.period_start_ms = pstart;
	s.spent_micro = spent;
	s.history = h;
	s.n_history = n;
	rc = af_txn_put_msg(t, AF_TABLE_SPEND, tenant, strlen(tenant), &s.base);
out:
	af_free(h);
	if (old)
		protobuf_c_message_free_unpacked(&old->base, NULL);
	return rc;
}

/* Lease keys: tenant NUL routerd-id, so one tenant's leases are one
 * prefix. */
static size_t lease_key(const char *tenant, const char *rid, char *out,
			size_t len)
{
	size_t tl = strlen(tenant), rl = strlen(rid);

	if (tl + 1 + rl > len)
		return 0;
	memcpy(out, tenant, tl);
	out[tl] = '\0';
	memcpy(out + tl + 1, rid, rl);
	return tl + 1 + rl;
}

/* The lease scan's view of a budget lease (lease.h): dead when expired
 * or of another period. */
struct budget_judge {
	const char *rid;
	int64_t now, pstart;
};

static int judge_lease(const void *val, size_t vlen, void *arg,
		       int64_t *ret_amount, bool *ret_dead, bool *ret_mine)
{
	const struct budget_judge *j = arg;
	Af__Lease *l;
	/* Out of memory stays AF_ENOMEM: fatal inside apply, an error in a
	 * read; never taken for a corrupt record. */
	int rc = af_pb_unpack(&af__lease__descriptor, vlen, val,
			      (ProtobufCMessage **)&l);

	if (rc != 0)
		return rc == AF_ENOMEM ? rc : AF_ECORRUPT;
	*ret_dead = l->expires_ms < j->now || l->period_start_ms != j->pstart;
	*ret_mine = j->rid != NULL && strcmp(l->routerd_id, j->rid) == 0;
	*ret_amount = l->amount_micro;
	protobuf_c_message_free_unpacked(&l->base, NULL);
	return 0;
}

/* Sums the tenant's live leases (dropping expired and old-period ones). */
static int scan_leases(struct af_txn *t, const char *tenant,
		       struct af_lease_scan *ls, struct budget_judge *j,
		       bool drop_dead)
{
	char prefix[MAX_TENANT + 2];
	size_t n = strlen(tenant) + 1;

	memcpy(prefix, tenant, n); /* includes the NUL separator */
	ls->judge = judge_lease;
	ls->arg = j;
	return af_lease_scan(t, prefix, n, drop_dead, ls);
}

int af_budget_period(struct af_txn *t, const Af__Budget *b, int64_t now_ms,
		     bool history, struct af_budget_period *ret)
{
	bool month = is_month(b->period);
	struct af_lease_scan *ls;
	struct budget_judge j = {NULL, now_ms, 0};
	int rc;

	ret->spend = NULL;
	ret->spent_micro = 0;
	ls = af_calloc(1, sizeof(*ls));
	if (ls == NULL)
		return AF_ENOMEM;
	ret->period_start_ms = af_period_start_ms(now_ms, month);
	ret->period_end_ms = af_period_end_ms(now_ms, month);
	j.pstart = ret->period_start_ms;
	rc = spend_load(t, b->tenant, ret->period_start_ms, &ret->spend);
	if (rc == 0 && ret->spend != NULL)
		ret->spent_micro = ret->spend->spent_micro;
	if (rc == 0 && !history)
		af_budget_period_free(ret);
	if (rc == 0)
		rc = scan_leases(t, b->tenant, ls, &j, false);
	ret->leased_micro = ls->others;
	af_free(ls);
	return rc;
}

void af_budget_period_free(struct af_budget_period *p)
{
	if (p->spend != NULL)
		protobuf_c_message_free_unpacked(&p->spend->base, NULL);
	p->spend = NULL;
}

/* ---------------------------------------------------------------- set */

int af_budget_apply_set(struct af_txn *t, struct apply_ctx *c)
{
	const Af__BudgetSet *bs = c->cmd->budget_set;
	Af__Budget b = AF__BUDGET__INIT, *old = NULL;
	int rc;

	c->verb = bs->remove ? "budget.delete" : "budget.set";
	snprintf(c->target, sizeof(c->target), "%.64s", bs->tenant);
	if (!tenant_ok(bs->tenant)) {
		af_fsm_resultf(c->res, AF__CODE__INVALID,
			       "tenant must be 1-%d printable characters",
			       MAX_TENANT);
		return 0;
	}
	if (bs->remove) {
		rc = af_txn_del(t, AF_TABLE_BUDGETS, bs->tenant,
				strlen(bs->tenant));
		if (rc == AF_ENOTFOUND) {
			af_fsm_resultf(c->res, AF__CODE__NOT_FOUND,
				       "no budget for \"%.64s\"", bs->tenant);
			return 0;
		}
		af_fsm_resultf(c->res, AF__CODE__OK, "removed");
		return rc;
	}
	if (bs->hard_micro <= 0 || bs->hard_micro > MAX_MONEY_MICRO ||
	    bs->soft_micro < 0 || bs->soft_micro > bs->hard_micro ||
	    (strcmp(bs->period, "day") != 0 && !is_month(bs->period))) {
		af_fsm_resultf(c->res, AF__CODE__INVALID,
			       "need 0 < hard <= 1e9 USD, 0 <= soft <= hard, "
			       "period day or month");
		return 0;
	}
	if (af_txn_count(t, AF_TABLE_BUDGETS) >= AF_MAX_BUDGETS &&
	    af_budget_get(t, bs->tenant, &old) == AF_ENOTFOUND) {
		af_fsm_resultf(c->res, AF__CODE__INVALID, "at most %d budgets",
			       AF_MAX_BUDGETS);
		return 0;
	}
	if (old)
		protobuf_c_message_free_unpacked(&old->base, NULL);
	b.tenant = bs->tenant;
	b.hard_micro = bs->hard_micro;
	b.soft_micro = bs->soft_micro;
	b.period = bs->period;
	rc = af_txn_put_msg(t, AF_TABLE_BUDGETS, bs->tenant, strlen(bs->tenant),
			    &b.base);
	if (rc == 0)
		af_fsm_resultf(c->res, AF__CODE__OK, "budget set");
	return rc;
}

/* -------------------------------------------------------------- lease */

static int lease_put(struct af_txn *t, const Af__LeaseRequest *lr,
		     int64_t amount, int64_t expires, int64_t pstart)
{
	Af__Lease l = AF__LEASE__INIT;
	char key[MAX_TENANT + 1 + 129];
	size_t klen = lease_key(lr->tenant, lr->routerd_id, key, sizeof(key));

	l.routerd_id = lr->routerd_id;
	l.tenant = lr->tenant;
	l.amount_micro = amount;
	l.expires_ms = expires;
	l.period_start_ms = pstart;
	if (klen == 0)
		return AF_EINVAL;
	if (amount == 0) {
		int rc = af_txn_del(t, AF_TABLE_LEASES, key, klen);

		return rc == AF_ENOTFOUND ? 0 : rc;
	}
	return af_txn_put_msg(t, AF_TABLE_LEASES, key, klen, &l.base);
}

static int grant(struct af_txn *t, struct apply_ctx *c, const Af__Budget *b,
		 const struct af_lease_scan *ls, int64_t pstart)
{
	const Af__LeaseRequest *lr = c->cmd->lease;
	int64_t now = c->cmd->time_ms, spent, amount = 0, avail = 0;
	int rc;

	if ((rc = spend_get(t, b->tenant, pstart, &spent)) != 0)
		return rc;
	/* What this routerd consumed is spend now (in this period). */
	spent = af_sat_add_i64(spent, lr->consumed_micro);
	if (!lr->release) {
		avail = af_sat_add_i64(af_sat_add_i64(b->hard_micro, -spent),
				       -ls->others);
		amount = lr->want_micro < avail ? lr->want_micro : avail;
		if (amount < 0)
			amount = 0;
	}
	if ((rc = spend_put(t, b->tenant, pstart, spent, now)) != 0 ||
	    (rc = lease_put(t, lr, amount, now + AF_LEASE_TTL_MS, pstart)) != 0)
		return rc;
	c->res->lease_micro = amount;
	/* "last": this lease is all the period has left (no other routerd
	 * holds any, and the grant is everything that is left), so a hop it
	 * cannot cover will not be covered before the period ends. */
	snprintf(c->res->state, sizeof(c->res->state), "%s",
		 !lr->release && ls->others == 0 && amount >= avail ? "last"
								    : "");
	c->res->over_soft = b->soft_micro > 0 && spent >= b->soft_micro;
	c->res->over_hard = spent >= b->hard_micro;
	c->res->period_end_ms = af_period_end_ms(now, is_month(b->period));
	af_fsm_resultf(c->res, AF__CODE__OK, "lease %lld of %lld spent",
		       (long long)amount, (long long)spent);
	return 0;
}

int af_budget_apply_lease(struct af_txn *t, struct apply_ctx *c)
{
	const Af__LeaseRequest *lr = c->cmd->lease;
	Af__Budget *b = NULL;
	struct af_lease_scan *ls;
	struct budget_judge j;
	int rc;

	/* routerd traffic, not an operator's change: no audit record. */
	if (!tenant_ok(lr->tenant) || lr->routerd_id[0] == '\0' ||
	    strlen(lr->routerd_id) > 128 || lr->consumed_micro < 0 ||
	    lr->consumed_micro > MAX_MONEY_MICRO || lr->want_micro < 0 ||
	    lr->want_micro > MAX_MONEY_MICRO) {
		af_fsm_resultf(c->res, AF__CODE__INVALID, "bad lease request");
		return 0;
	}
	ls = af_calloc(1, sizeof(*ls));
	if (ls == NULL)
		return AF_ENOMEM;
	rc = af_budget_get(t, lr->tenant, &b);
	if (rc == AF_ENOTFOUND) {
		c->res->unlimited = true;
		af_fsm_resultf(c->res, AF__CODE__OK, "no budget");
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	j.rid = lr->routerd_id;
	j.now = c->cmd->time_ms;
	j.pstart = af_period_start_ms(j.now, is_month(b->period));
	if ((rc = scan_leases(t, lr->tenant, ls, &j, true)) == 0)
		rc = grant(t, c, b, ls, j.pstart);
out:
	if (b)
		protobuf_c_message_free_unpacked(&b->base, NULL);
	af_free(ls);
	return rc;
}

/* ----------------------------------------------------------- showback */

/* Appends row's declared labels to its key key[0..*klen): each "key=value"
 * as key NUL value NUL, a value past the day's AF_SHOWBACK_VALUES_MAX of
 * its key as "other"; malformed labels, and those past the key's room,
 * are left out (the row counts without them). */
static int showback_labels(struct af_txn *t, int64_t day,
			   const Af__UsageRow *row, uint8_t *key, size_t *klen)
{
	for (size_t i = 0; i < row->n_labels && i < 4; i++) {
		const char *lab = row->labels[i], *eq = strchr(lab, '=');
		size_t kl = eq ? (size_t)(eq - lab) : 0, vl;
		int rc;

		if (kl == 0 || kl > 64 || (vl = strlen(eq + 1)) == 0 ||
		    vl > 64 || *klen + kl + vl + 2 > AF_STORE_MAX_KEY)
			continue;
		rc = af_showback_value_counted(t, day, lab, kl, eq + 1);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			eq = "=other";
			vl = 5;
		}
		memcpy(key + *klen, lab, kl);
		key[*klen + kl] = 0;
		memcpy(key + *klen + kl + 1, eq + 1, vl + 1);
		*klen += kl + vl + 2;
	}
	return 0;
}

int af_showback_apply(struct af_txn *t, int64_t now_ms, const Af__UsageRow *row)
{
	Af__Showback *old = NULL, sb = AF__SHOWBACK__INIT;
	uint8_t key[AF_STORE_MAX_KEY];
	int64_t day = af_period_start_ms(now_ms, false);
	size_t klen =
		af_showback_key(day, row->tenant, row->class_name, row->model,
				row->revision, key, sizeof(key));
	int rc;

	if (klen == 0)
		return 0;
	if ((rc = showback_labels(t, day, row, key, &klen)) != 0)
		return rc;
	rc = af_txn_get_msg(t, AF_TABLE_USAGE, key, klen,
			    &af__showback__descriptor,
			    (ProtobufCMessage **)&old);
	if (rc != 0 && rc != AF_ENOTFOUND)
		return rc;
	if (old != NULL) {
		sb = *old;
		sb.base = (ProtobufCMessage)PROTOBUF_C_MESSAGE_INIT(
			&af__showback__descriptor);
	}
	sb.count = af_sat_add_u64(sb.count, row->count);
	sb.ok = af_sat_add_u64(sb.ok, row->ok);
	sb.cost_nano_usd = af_sat_add_i64(sb.cost_nano_usd, row->cost_nano_usd);
	sb.failed_cost_nano_usd = af_sat_add_i64(sb.failed_cost_nano_usd,
						 row->failed_cost_nano_usd);
	rc = af_txn_put_msg(t, AF_TABLE_USAGE, key, klen, &sb.base);
	if (old)
		protobuf_c_message_free_unpacked(&old->base, NULL);
	return rc;
}
