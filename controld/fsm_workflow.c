/* Apply of the workflow part of UsageReport: per-day workflow totals in the
 * usage table, under "wf/" day(8, big-endian) tenant NUL class NUL and the
 * declared labels, each "key=value" NUL. A label key takes at most
 * AF_SHOWBACK_VALUES_MAX distinct values a day ("wv/" day key NUL value
 * marks one seen, "wn/" day key its count); later ones are summed under
 * the value "other". Deterministic: the day is the entry's time. */
#include "common/alloc.h"
#include "common/money.h"
#include "common/satarith.h"
#include "controld/budget.h"
#include "controld/fsm_int.h"
#include "controld/state.h"
#include "proto/af.pb-c.h"

#include <stdio.h>
#include <string.h>

#define LABELS_MAX 4
#define LABEL_LEN 130 /* key (64) = value (64) NUL */

int af_showback_value_counted(struct af_txn *t, int64_t day, const char *key,
			      size_t klen, const char *val)
{
	uint8_t k[3 + 8 + LABEL_LEN + 1], cnt[8];
	size_t vl = strlen(val), n = 3 + 8 + klen + 1 + vl;
	const void *v;
	size_t len;
	uint64_t c;
	int rc;

	memcpy(k, "wv/", 3);
	af_store_key_u64((uint64_t)day, k + 3);
	memcpy(k + 11, key, klen);
	k[11 + klen] = 0;
	memcpy(k + 12 + klen, val, vl);
	rc = af_txn_get(t, AF_TABLE_USAGE, k, n, &v, &len);
	if (rc != AF_ENOTFOUND)
		return rc; /* 0: seen before */
	memcpy(k, "wn/", 3);
	rc = af_txn_get(t, AF_TABLE_USAGE, k, 12 + klen, &v, &len);
	if (rc != 0 && rc != AF_ENOTFOUND)
		return rc;
	c = rc == 0 && len == 8 ? af_store_u64_of_key(v) : 0;
	if (c >= AF_SHOWBACK_VALUES_MAX)
		return 1;
	af_store_key_u64(c + 1, cnt);
	if ((rc = af_txn_put(t, AF_TABLE_USAGE, k, 12 + klen, cnt, 8)) != 0)
		return rc;
	memcpy(k, "wv/", 3);
	return af_txn_put(t, AF_TABLE_USAGE, k, n, "", 0);
}

/* The row's key into out (0: a row to skip: bad names or labels). */
static int row_key(struct af_txn *t, int64_t day, const Af__WorkflowRow *r,
		   uint8_t *out, size_t *ret_len)
{
	size_t n = 3 + 8, l;
	int rc;

	*ret_len = 0;
	if (r->n_labels > LABELS_MAX || strlen(r->tenant) > 64 ||
	    strlen(r->class_name) > 64 || r->tenant[0] == '\0')
		return 0;
	memcpy(out, "wf/", 3);
	af_store_key_u64((uint64_t)day, out + 3);
	for (int i = 0; i < 2; i++) {
		const char *s = i == 0 ? r->tenant : r->class_name;

		l = strlen(s) + 1;
		memcpy(out + n, s, l);
		n += l;
	}
	for (size_t i = 0; i < r->n_labels; i++) {
		const char *lab = r->labels[i], *eq = strchr(lab, '=');

		if (eq == NULL || eq == lab || eq - lab > 64 ||
		    strlen(eq + 1) == 0 || strlen(eq + 1) > 64)
			return 0;
		if (n + strlen(lab) + 1 > AF_STORE_MAX_KEY)
			return 0;
		rc = af_showback_value_counted(t, day, lab, (size_t)(eq - lab),
					       eq + 1);
		if (rc < 0)
			return rc;
		l = (size_t)(eq - lab);
		memcpy(out + n, lab, l);
		out[n + l] = 0;
		n += l + 1;
		l = rc == 1 ? strlen("other") + 1 : strlen(eq + 1) + 1;
		memcpy(out + n, rc == 1 ? "other" : eq + 1, l);
		n += l;
	}
	*ret_len = n;
	return 0;
}

void af_workflow_sum(Af__WorkflowRow *to, const Af__WorkflowRow *r,
		     uint64_t *hist)
{
	to->workflows = af_sat_add_u64(to->workflows, r->workflows);
	to->succeeded = af_sat_add_u64(to->succeeded, r->succeeded);
	to->failed = af_sat_add_u64(to->failed, r->failed);
	to->abandoned = af_sat_add_u64(to->abandoned, r->abandoned);
	to->hops = af_sat_add_u64(to->hops, r->hops);
	to->tokens = af_sat_add_u64(to->tokens, r->tokens);
	to->inference_micro =
		af_sat_add_i64(to->inference_micro, r->inference_micro);
	to->tool_micro = af_sat_add_i64(to->tool_micro, r->tool_micro);
	to->human_micro = af_sat_add_i64(to->human_micro, r->human_micro);
	to->waste_micro = af_sat_add_i64(to->waste_micro, r->waste_micro);
	if (r->succeeded > 0 && r->success_min_micro >= 0) {
		if (to->success_min_micro < 0 ||
		    r->success_min_micro < to->success_min_micro)
			to->success_min_micro = r->success_min_micro;
		if (r->success_max_micro > to->success_max_micro)
			to->success_max_micro = r->success_max_micro;
	}
	for (size_t i = 0; i + 1 < r->n_success_hist; i += 2)
		if (r->success_hist[i] < AF_COSTHIST_BUCKETS)
			hist[r->success_hist[i]] =
				af_sat_add_u64(hist[r->success_hist[i]],
					       r->success_hist[i + 1]);
}

static bool row_ok(const Af__WorkflowRow *r)
{
	return r->workflows > 0 && r->succeeded <= r->workflows &&
	       r->failed <= r->workflows && r->abandoned <= r->workflows &&
	       r->succeeded + r->failed + r->abandoned == r->workflows &&
	       r->inference_micro >= 0 && r->tool_micro >= 0 &&
	       r->human_micro >= 0 && r->waste_micro >= 0 &&
	       r->n_success_hist <= 2 * AF_COSTHIST_BUCKETS;
}

/* to -= r (floored at 0): one workflow leaving the totals; its success
 * buckets out of hist (the smallest and largest success cost stay: they
 * only clamp the percentiles). */
static void workflow_sub(Af__WorkflowRow *to, const Af__WorkflowRow *r,
			 uint64_t *hist)
{
	uint64_t *u[] = {&to->workflows, &to->succeeded, &to->failed,
			 &to->abandoned, &to->hops,	 &to->tokens};
	const uint64_t ru[] = {r->workflows, r->succeeded, r->failed,
			       r->abandoned, r->hops,	   r->tokens};
	int64_t *m[] = {&to->inference_micro, &to->tool_micro, &to->human_micro,
			&to->waste_micro};
	const int64_t rm[] = {r->inference_micro, r->tool_micro, r->human_micro,
			      r->waste_micro};

	for (size_t i = 0; i < 6; i++)
		*u[i] = *u[i] > ru[i] ? *u[i] - ru[i] : 0;
	for (size_t i = 0; i < 4; i++)
		*m[i] = *m[i] > rm[i] ? *m[i] - rm[i] : 0;
	for (size_t i = 0; i + 1 < r->n_success_hist; i += 2)
		if (r->success_hist[i] < AF_COSTHIST_BUCKETS) {
			uint64_t *h = &hist[r->success_hist[i]];

			*h = *h > r->success_hist[i + 1]
				     ? *h - r->success_hist[i + 1]
				     : 0;
		}
}

int af_workflow_apply_row(struct af_txn *t, int64_t day,
			  const Af__WorkflowRow *r)
{
	return af_workflow_add_row(t, day, r, false);
}

int af_workflow_add_row(struct af_txn *t, int64_t day, const Af__WorkflowRow *r,
			bool subtract)
{
	Af__WorkflowRow *old = NULL, sum = AF__WORKFLOW_ROW__INIT;
	uint64_t hist[AF_COSTHIST_BUCKETS] = {0},
		 pairs[2 * AF_COSTHIST_BUCKETS];
	uint8_t key[AF_STORE_MAX_KEY];
	size_t klen;
	int rc;

	if (!row_ok(r))
		return 0;
	if ((rc = row_key(t, day, r, key, &klen)) != 0 || klen == 0)
		return rc;
	rc = af_txn_get_msg(t, AF_TABLE_USAGE, key, klen,
			    &af__workflow_row__descriptor,
			    (ProtobufCMessage **)&old);
	if (rc != 0 && rc != AF_ENOTFOUND)
		return rc;
	sum.success_min_micro = -1;
	if (old != NULL)
		af_workflow_sum(&sum, old, hist);
	if (subtract)
		workflow_sub(&sum, r, hist);
	else
		af_workflow_sum(&sum, r, hist);
	sum.success_hist = pairs;
	for (size_t i = 0; i < AF_COSTHIST_BUCKETS; i++)
		if (hist[i] != 0) {
			pairs[sum.n_success_hist++] = i;
			pairs[sum.n_success_hist++] = hist[i];
		}
	if (sum.workflows == 0) /* its last workflow left it */
		rc = old != NULL ? af_txn_del(t, AF_TABLE_USAGE, key, klen) : 0;
	else
		rc = af_txn_put_msg(t, AF_TABLE_USAGE, key, klen, &sum.base);
	if (old != NULL)
		protobuf_c_message_free_unpacked(&old->base, NULL);
	return rc;
}

int af_fsm_apply_workflows(struct af_txn *t, struct apply_ctx *c)
{
	const Af__UsageReport *ur = c->cmd->usage_report;
	int64_t day = af_period_start_ms(c->cmd->time_ms, false);
	int rc;

	for (size_t i = 0; i < ur->n_workflows; i++) {
		const Af__WorkflowRow *r = ur->workflows[i];

		rc = r->workflow_id[0] != '\0' && r->workflows == 1
			     ? af_workflow_merge(t, day, r)
			     : af_workflow_apply_row(t, day, r);
		if (rc != 0)
			return rc;
	}
	return af_workflow_prune_index(t, day - 86400000LL); /* yesterday on */
}

int af_workflow_key_parse(const void *key, size_t klen,
			  struct af_workflow_key *ret)
{
	const char *k = key, *end = k + klen, *p, *parts[2 + 8];
	size_t n = 0;

	if (klen < 3 + 8 + 2 || memcmp(k, "wf/", 3) != 0 || k[klen - 1] != 0)
		return AF_ECORRUPT;
	ret->day_ms = (int64_t)af_store_u64_of_key(k + 3);
	for (p = k + 11; p < end && n < 10; p += strlen(p) + 1)
		parts[n++] = p;
	if (p != end || n < 2 || n % 2 != 0)
		return AF_ECORRUPT;
	ret->tenant = parts[0];
	ret->class_name = parts[1];
	ret->nlabels = (n - 2) / 2;
	for (size_t i = 0; i < ret->nlabels; i++) {
		ret->label[i][0] = parts[2 + 2 * i];
		ret->label[i][1] = parts[3 + 2 * i];
	}
	return 0;
}

int af_workflow_iter(struct af_txn *t, int64_t since_ms, int64_t until_ms,
		     af_store_iter_fn fn, void *arg)
{
	return af_usage_iter_days(t, "wf/", "wf0", since_ms, until_ms, fn, arg);
}

/* ------------------------------------------------------------ retention */

struct prune {
	uint8_t (*keys)[AF_STORE_MAX_KEY];
	size_t len[AF_USAGE_PRUNE_MAX];
	size_t n;
};

static int collect(const void *key, size_t klen, const void *val, size_t vlen,
		   void *arg)
{
	struct prune *p = arg;

	(void)val, (void)vlen;
	if (p->n == AF_USAGE_PRUNE_MAX)
		return 1;
	memcpy(p->keys[p->n], key, klen);
	p->len[p->n++] = klen;
	return 0;
}

/* Deletes up to AF_USAGE_PRUNE_MAX rows under prefixes[0..n) of the days
 * before before_ms. */
static int prune(struct af_txn *t, const char *const (*prefixes)[2], size_t n,
		 int64_t before_ms)
{
	struct prune p = {0};
	int rc = 0;

	if (before_ms <= 0)
		return 0;
	p.keys = af_malloc(sizeof(*p.keys) * AF_USAGE_PRUNE_MAX);
	if (p.keys == NULL)
		return AF_ENOMEM;
	for (size_t i = 0; i < n && p.n < AF_USAGE_PRUNE_MAX; i++) {
		rc = af_usage_iter_days(t, prefixes[i][0], prefixes[i][1], 0,
					before_ms, collect, &p);
		if (rc < 0)
			goto out;
	}
	rc = 0;
	for (size_t i = 0; rc == 0 && i < p.n; i++)
		rc = af_txn_del(t, AF_TABLE_USAGE, p.keys[i], p.len[i]);
out:
	af_free(p.keys);
	return rc;
}

int af_usage_prune(struct af_txn *t, int64_t before_ms)
{
	static const char *const prefixes[][2] = {
		{"sb/", "sb0"}, {"wf/", "wf0"}, {"wv/", "wv0"}, {"wn/", "wn0"}};

	return prune(t, prefixes, 4, before_ms);
}

int af_workflow_prune_index(struct af_txn *t, int64_t before_ms)
{
	static const char *const prefixes[][2] = {{"wi/", "wi0"},
						  {"wc/", "wc0"}};

	return prune(t, prefixes, 2, before_ms);
}
