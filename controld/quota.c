/* Quota capacity leases in the state machine. For every (quota, tenant,
 * dimension) the sum of live leases never exceeds the limit the routerds
 * state: each ask is granted min(want, limit - the others' live leases).
 * A lease lives ttl_ms from the leader-stamped time of its last renewal;
 * a rate lease (rpm, tpm) counts one window longer, since what it
 * admitted stays inside the rolling minute. Leases share table LEASES
 * with budget leases under keys starting with 0x01, which no tenant
 * (printable) starts with: 0x01 quota 0x1f tenant 0x1f dim NUL routerd. */
#include "controld/quota.h"
#include "common/alloc.h"
#include "common/satarith.h"
#include "controld/fsm_int.h"
#include "controld/lease.h"
#include "proto/alloc.h"

#include <stdio.h>
#include <string.h>

#define MAX_LIMIT 1000000000000LL
#define RID_MAX 128
#define KEY_SEP '\x1f'

int64_t af_quota_grant(int64_t limit, int64_t others, int64_t want)
{
	int64_t avail = af_sat_sub_i64(limit, others);
	int64_t g = want < avail ? want : avail;

	return g > 0 ? g : 0;
}

static bool rate_dim(uint32_t dim)
{
	return dim >= 2;
}

/* The prefix of one (quota, tenant, dim): 0 when too long. */
static size_t quota_prefix(const Af__QuotaAsk *a, char *out, size_t len)
{
	int n = snprintf(out, len, "\x01%s%c%s%c%u", a->quota, KEY_SEP,
			 a->tenant, KEY_SEP, a->dim);

	if (n < 0 || (size_t)n + 1 >= len)
		return 0;
	out[n] = '\0'; /* the separator before the routerd id */
	return (size_t)n + 1;
}

static bool ask_ok(const Af__QuotaAsk *a)
{
	size_t q = strlen(a->quota), t = strlen(a->tenant);

	if (q == 0 || q > 270 || t > 64 || a->dim >= AF_QUOTA_DIMS ||
	    a->limit < 1 || a->limit > MAX_LIMIT || a->want < 0 ||
	    a->want > MAX_LIMIT)
		return false;
	for (const char *s = a->quota; *s; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			return false;
	for (const char *s = a->tenant; *s; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

struct quota_judge {
	const char *rid;
	int64_t now;
};

static int judge_quota(const void *val, size_t vlen, void *arg,
		       int64_t *ret_amount, bool *ret_dead, bool *ret_mine)
{
	const struct quota_judge *j = arg;
	Af__QuotaLease *l;
	int rc = af_pb_unpack(&af__quota_lease__descriptor, vlen, val,
			      (ProtobufCMessage **)&l);
	int64_t end;

	if (rc != 0)
		return rc == AF_ENOMEM ? rc : AF_ECORRUPT;
	end = rate_dim(l->dim)
		      ? af_sat_add_i64(l->expires_ms, AF_QUOTA_WINDOW_MS)
		      : l->expires_ms;
	*ret_dead = end < j->now;
	*ret_mine = j->rid != NULL && strcmp(l->routerd_id, j->rid) == 0;
	*ret_amount = l->amount;
	protobuf_c_message_free_unpacked(&l->base, NULL);
	return 0;
}

static int ask_one(struct af_txn *t, const Af__QuotaLeaseRequest *qr,
		   const Af__QuotaAsk *a, int64_t now, struct af_lease_scan *ls,
		   struct quota_judge *j, int64_t *ret_granted)
{
	Af__QuotaLease l = AF__QUOTA_LEASE__INIT;
	char key[AF_LEASE_KEY_MAX];
	size_t plen = quota_prefix(a, key, sizeof(key) - RID_MAX - 1);
	size_t rl = strlen(qr->routerd_id);
	int64_t g;
	int rc;

	memset(ls, 0, sizeof(*ls));
	ls->judge = judge_quota;
	ls->arg = j;
	if (plen == 0)
		return AF_EINVAL;
	if ((rc = af_lease_scan(t, key, plen, true, ls)) != 0)
		return rc;
	g = af_quota_grant(a->limit, ls->others, a->want);
	memcpy(key + plen, qr->routerd_id, rl);
	*ret_granted = g;
	if (g == 0) {
		rc = af_txn_del(t, AF_TABLE_LEASES, key, plen + rl);
		return rc == AF_ENOTFOUND ? 0 : rc;
	}
	l.routerd_id = qr->routerd_id;
	l.quota = a->quota;
	l.tenant = a->tenant;
	l.dim = a->dim;
	l.amount = g;
	l.limit = a->limit;
	l.expires_ms = af_sat_add_i64(now, qr->ttl_ms);
	return af_txn_put_msg(t, AF_TABLE_LEASES, key, plen + rl, &l.base);
}

/* routerd traffic, not an operator's change: no audit record. */
int af_quota_apply_lease(struct af_txn *t, struct apply_ctx *c)
{
	const Af__QuotaLeaseRequest *qr = c->cmd->quota_lease;
	struct quota_judge j = {qr->routerd_id, c->cmd->time_ms};
	struct af_lease_scan *ls;
	int rc = 0;

	if (qr->routerd_id[0] == '\0' || strlen(qr->routerd_id) > RID_MAX ||
	    qr->ttl_ms < AF_QUOTA_TTL_MIN_MS ||
	    qr->ttl_ms > AF_QUOTA_TTL_MAX_MS ||
	    qr->n_asks > AF_QUOTA_ASKS_MAX) {
		af_fsm_resultf(c->res, AF__CODE__INVALID,
			       "bad quota lease request");
		return 0;
	}
	for (size_t i = 0; i < qr->n_asks; i++)
		if (!ask_ok(qr->asks[i])) {
			af_fsm_resultf(c->res, AF__CODE__INVALID,
				       "bad quota ask %zu", i);
			return 0;
		}
	if ((ls = af_calloc(1, sizeof(*ls))) == NULL)
		return AF_ENOMEM;
	for (size_t i = 0; i < qr->n_asks && rc == 0; i++) {
		rc = ask_one(t, qr, qr->asks[i], c->cmd->time_ms, ls, &j,
			     &c->res->quota_granted[i]);
		c->res->quota_others[i] = ls->others;
	}
	af_free(ls);
	if (rc != 0)
		return rc;
	c->res->n_quota = qr->n_asks;
	af_fsm_resultf(c->res, AF__CODE__OK, "%zu quota leases", qr->n_asks);
	return 0;
}

/* ---------------------------------------------------------------- read */

struct collect {
	int64_t now;
	Af__QuotaLease **v;
	size_t n;
};

static int collect_one(const void *key, size_t klen, const void *val,
		       size_t vlen, void *arg)
{
	struct collect *c = arg;
	Af__QuotaLease *l;
	int64_t end;
	int rc;

	(void)key;
	(void)klen;
	if (c->n >= AF_QUOTA_LEASES_MAX)
		return 1; /* stop */
	rc = af_pb_unpack(&af__quota_lease__descriptor, vlen, val,
			  (ProtobufCMessage **)&l);
	if (rc != 0)
		return rc == AF_ENOMEM ? rc : AF_ECORRUPT;
	end = rate_dim(l->dim)
		      ? af_sat_add_i64(l->expires_ms, AF_QUOTA_WINDOW_MS)
		      : l->expires_ms;
	if (end < c->now) {
		protobuf_c_message_free_unpacked(&l->base, NULL);
		return 0;
	}
	c->v[c->n++] = l;
	return 0;
}

int af_quota_leases(struct af_txn *t, int64_t now_ms, Af__QuotaLease ***ret,
		    size_t *ret_n)
{
	struct collect c = {now_ms, NULL, 0};
	int rc;

	c.v = af_calloc(AF_QUOTA_LEASES_MAX + 1, sizeof(*c.v));
	if (c.v == NULL)
		return AF_ENOMEM;
	rc = af_txn_iter_prefix(t, AF_TABLE_LEASES, "\x01", 1, false,
				collect_one, &c);
	if (rc < 0) {
		af_quota_leases_free(c.v, c.n);
		return rc;
	}
	*ret = c.v;
	*ret_n = c.n;
	return 0;
}

void af_quota_leases_free(Af__QuotaLease **l, size_t n)
{
	for (size_t i = 0; l != NULL && i < n; i++)
		protobuf_c_message_free_unpacked(&l[i]->base, NULL);
	af_free(l);
}
