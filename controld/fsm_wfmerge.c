/* Merging the parts of one workflow that several routerds saw (its hops
 * through two sidecars, its outcome at one of them): each routerd sends
 * its part of every workflow under the workflow_id; the first part is
 * counted as a workflow and kept in a merge index, "wi/" day(8)
 * XXH3(workflow_id)(8) -> the workflow as counted (a WorkflowRow of one
 * workflow); a later part takes the counted workflow out of its day's
 * totals and puts the merged one back, in the same day. At most
 * AF_WORKFLOW_MERGE_MAX workflows a day enter the index ("wc/" day(8)
 * counts them); later ones count as they come, unmerged. Entries of the
 * days before yesterday are pruned, a bounded number per entry: a part
 * merges when it reaches the cluster the day its workflow was first
 * counted or the day after.
 * Deterministic: the day is the entry's time. */
#include "common/money.h"
#include "common/satarith.h"
#include "controld/fsm_int.h"
#include "controld/state.h"
#include "proto/af.pb-c.h"

#include <string.h>
#include <xxhash.h>

#define DAY_MS 86400000LL

enum outcome { SUCCESS, FAILED, ABANDONED };

static void index_key(int64_t day, const char *id, uint8_t out[19])
{
	memcpy(out, "wi/", 3);
	af_store_key_u64((uint64_t)day, out + 3);
	af_store_key_u64(XXH3_64bits(id, strlen(id)), out + 11);
}

static enum outcome outcome_of(const Af__WorkflowRow *r)
{
	return r->succeeded ? SUCCESS : r->failed ? FAILED : ABANDONED;
}

/* m as one workflow of outcome o: the counts, its waste or its success
 * bucket (pair[2]) from its money. */
static void one(Af__WorkflowRow *m, enum outcome o, uint64_t pair[2])
{
	int64_t cost = af_sat_add_i64(
		af_sat_add_i64(m->inference_micro, m->tool_micro),
		m->human_micro);

	m->workflows = 1;
	m->succeeded = o == SUCCESS;
	m->failed = o == FAILED;
	m->abandoned = o == ABANDONED;
	m->waste_micro = o == SUCCESS ? 0 : cost;
	m->n_success_hist = 0;
	m->success_hist = pair;
	m->success_min_micro = -1;
	m->success_max_micro = 0;
	if (o == SUCCESS) {
		pair[0] = af_costhist_index(cost);
		pair[1] = 1;
		m->n_success_hist = 2;
		m->success_min_micro = m->success_max_micro = cost;
	}
}

/* Puts workflow m (day's index entry key) in the index; counts a new entry
 * against the day's AF_WORKFLOW_MERGE_MAX (full: not kept, 0). */
static int index_put(struct af_txn *t, int64_t day, const uint8_t key[19],
		     const Af__WorkflowRow *m, bool fresh)
{
	uint8_t ck[11], cnt[8];
	const void *v;
	size_t len;
	uint64_t c = 0;
	int rc;

	if (fresh) {
		memcpy(ck, "wc/", 3);
		af_store_key_u64((uint64_t)day, ck + 3);
		rc = af_txn_get(t, AF_TABLE_USAGE, ck, sizeof(ck), &v, &len);
		if (rc != 0 && rc != AF_ENOTFOUND)
			return rc;
		if (rc == 0 && len == 8)
			c = af_store_u64_of_key(v);
		if (c >= AF_WORKFLOW_MERGE_MAX)
			return 0;
		af_store_key_u64(c + 1, cnt);
		rc = af_txn_put(t, AF_TABLE_USAGE, ck, sizeof(ck), cnt, 8);
		if (rc != 0)
			return rc;
	}
	return af_txn_put_msg(t, AF_TABLE_USAGE, key, 19, &m->base);
}

/* The workflow counted so far (old) and part r as one: hops, tokens and
 * money summed; the outcome of the part that ended it (the first one
 * counted when both did), else abandoned; tenant, class and labels of
 * that part (labels: else the other's). */
static void merged(const Af__WorkflowRow *old, const Af__WorkflowRow *r,
		   Af__WorkflowRow *m, uint64_t pair[2])
{
	const Af__WorkflowRow *who = old->finished || !r->finished ? old : r;
	const Af__WorkflowRow *other = who == old ? r : old;

	af__workflow_row__init(m);
	m->workflow_id = old->workflow_id;
	m->finished = old->finished || r->finished;
	m->tenant = who->tenant;
	m->class_name = who->class_name;
	m->n_labels = who->n_labels ? who->n_labels : other->n_labels;
	m->labels = who->n_labels ? who->labels : other->labels;
	m->hops = af_sat_add_u64(old->hops, r->hops);
	m->tokens = af_sat_add_u64(old->tokens, r->tokens);
	m->inference_micro =
		af_sat_add_i64(old->inference_micro, r->inference_micro);
	m->tool_micro = af_sat_add_i64(old->tool_micro, r->tool_micro);
	m->human_micro = af_sat_add_i64(old->human_micro, r->human_micro);
	one(m, m->finished ? outcome_of(who) : ABANDONED, pair);
}

int af_workflow_merge(struct af_txn *t, int64_t day, const Af__WorkflowRow *r)
{
	Af__WorkflowRow *old = NULL, part, m;
	uint64_t pair[2], mpair[2];
	uint8_t key[19];
	int64_t d0 = day;
	int rc = AF_ENOTFOUND;

	if (strlen(r->workflow_id) > 64 || r->inference_micro < 0 ||
	    r->tool_micro < 0 || r->human_micro < 0 ||
	    r->succeeded + r->failed + r->abandoned != 1)
		return af_workflow_apply_row(t, day, r);
	for (int back = 0; back < 2 && rc == AF_ENOTFOUND; back++) {
		d0 = day - back * DAY_MS;
		index_key(d0, r->workflow_id, key);
		rc = af_txn_get_msg(t, AF_TABLE_USAGE, key, sizeof(key),
				    &af__workflow_row__descriptor,
				    (ProtobufCMessage **)&old);
	}
	if (rc == AF_ENOTFOUND) { /* the first part: counted as it is */
		part = *r;
		one(&part, outcome_of(r), pair);
		index_key(day, r->workflow_id, key);
		if ((rc = af_workflow_apply_row(t, day, &part)) == 0)
			rc = index_put(t, day, key, &part, true);
		return rc;
	}
	if (rc != 0)
		return rc;
	merged(old, r, &m, mpair);
	rc = af_workflow_add_row(t, d0, old, true);
	if (rc == 0)
		rc = af_workflow_apply_row(t, d0, &m);
	if (rc == 0)
		rc = index_put(t, d0, key, &m, false);
	protobuf_c_message_free_unpacked(&old->base, NULL);
	return rc;
}
