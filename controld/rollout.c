/* Rollout record, usage totals and gate judgement: see rollout.h. */
#include "controld/rollout.h"
#include "controld/state.h"
#include "proto/af.pb-c.h"

#include <stdio.h>
#include <string.h>

static void usage_from_pb(const Af__UsageTotals *p, struct af_usage *u)
{
	memset(u, 0, sizeof(*u));
	if (p == NULL)
		return;
	u->count = p->count;
	u->ok = p->ok;
	for (size_t i = 0; i < p->n_latency_buckets && i < AF_USAGE_BUCKETS;
	     i++)
		u->lat[i] = p->latency_buckets[i];
	u->lat_sum_ms = p->latency_sum_ms;
	u->cost_nano = p->cost_nano_usd;
	u->ok_cost_nano = p->ok_cost_nano_usd;
	u->q_count = p->quality_count;
	u->q_sum_ppm = p->quality_sum_ppm;
}

void af_usage_to_pb(const struct af_usage *u, Af__UsageTotals *pb)
{
	af__usage_totals__init(pb);
	pb->count = u->count;
	pb->ok = u->ok;
	pb->n_latency_buckets = AF_USAGE_BUCKETS;
	pb->latency_buckets = (uint64_t *)u->lat;
	pb->latency_sum_ms = u->lat_sum_ms;
	pb->cost_nano_usd = u->cost_nano;
	pb->ok_cost_nano_usd = u->ok_cost_nano;
	pb->quality_count = u->q_count;
	pb->quality_sum_ppm = u->q_sum_ppm;
}

int af_rollout_get(struct af_txn *t, struct af_rollout *ret)
{
	Af__Rollout *p;
	int rc;

	memset(ret, 0, sizeof(*ret));
	ret->step_index = -1;
	rc = af_state_rollout_get(t, &p);
	if (rc == AF_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	ret->stable = p->stable_revision;
	ret->canary = p->canary_revision;
	ret->weight = p->weight;
	ret->paused = strcmp(p->state, "paused") == 0;
	for (size_t i = 0; i < p->n_steps && i < AF_MAX_STEPS; i++)
		ret->steps[ret->nsteps++] = p->steps[i];
	ret->step_index = p->step_index;
	ret->interval_ms = p->interval_ms;
	ret->step_started_ms = p->step_started_ms;
	ret->started_ms = p->started_ms;
	if (p->gates) {
		ret->gates.max_error_delta_ppm = p->gates->max_error_delta_ppm;
		ret->gates.max_latency_ratio_ppm =
			p->gates->max_latency_ratio_ppm;
		ret->gates.max_cost_ratio_ppm = p->gates->max_cost_ratio_ppm;
		ret->gates.min_samples = p->gates->min_samples;
		ret->gates.require_fleet_pct = p->gates->require_fleet_pct;
		ret->gates.max_nack_pct = p->gates->max_nack_pct;
		ret->gates.max_quality_drop_ppm =
			p->gates->max_quality_drop_ppm;
	}
	ret->fleet_waiting = p->fleet_waiting;
	ret->fleet_waiting_since_ms = p->fleet_waiting_since_ms;
	usage_from_pb(p->stable_base, &ret->stable_base);
	usage_from_pb(p->canary_base, &ret->canary_base);
	snprintf(ret->verdict, sizeof(ret->verdict), "%s", p->verdict);
	protobuf_c_message_free_unpacked(&p->base, NULL);
	return 0;
}

const char *af_rollout_state(const struct af_rollout *r)
{
	if (r->canary == 0)
		return "none";
	return r->paused ? "paused" : "progressing";
}

int af_rollout_put(struct af_txn *t, const struct af_rollout *r)
{
	Af__Rollout p = AF__ROLLOUT__INIT;
	Af__Gates g = AF__GATES__INIT;
	Af__UsageTotals sb, cb;

	p.stable_revision = r->stable;
	p.canary_revision = r->canary;
	p.weight = r->weight;
	p.state = (char *)af_rollout_state(r);
	p.n_steps = r->nsteps;
	p.steps = (uint32_t *)r->steps;
	p.step_index = r->step_index;
	p.interval_ms = r->interval_ms;
	p.step_started_ms = r->step_started_ms;
	p.started_ms = r->started_ms;
	g.max_error_delta_ppm = r->gates.max_error_delta_ppm;
	g.max_latency_ratio_ppm = r->gates.max_latency_ratio_ppm;
	g.max_cost_ratio_ppm = r->gates.max_cost_ratio_ppm;
	g.min_samples = r->gates.min_samples;
	g.require_fleet_pct = r->gates.require_fleet_pct;
	g.max_nack_pct = r->gates.max_nack_pct;
	g.max_quality_drop_ppm = r->gates.max_quality_drop_ppm;
	p.gates = &g;
	p.fleet_waiting = r->fleet_waiting;
	p.fleet_waiting_since_ms = r->fleet_waiting_since_ms;
	af_usage_to_pb(&r->stable_base, &sb);
	af_usage_to_pb(&r->canary_base, &cb);
	p.stable_base = &sb;
	p.canary_base = &cb;
	p.verdict = (char *)r->verdict;
	return af_state_rollout_put(t, &p);
}

int af_usage_get(struct af_txn *t, uint64_t revision, struct af_usage *ret)
{
	Af__UsageTotals *p;
	uint8_t key[8];
	int rc;

	memset(ret, 0, sizeof(*ret));
	af_store_key_u64(revision, key);
	rc = af_txn_get_msg(t, AF_TABLE_USAGE, key, sizeof(key),
			    &af__usage_totals__descriptor,
			    (ProtobufCMessage **)&p);
	if (rc == AF_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	usage_from_pb(p, ret);
	protobuf_c_message_free_unpacked(&p->base, NULL);
	return 0;
}

int af_usage_put(struct af_txn *t, uint64_t revision, const struct af_usage *u)
{
	Af__UsageTotals pb;
	uint8_t key[8];

	af_store_key_u64(revision, key);
	af_usage_to_pb(u, &pb);
	return af_txn_put_msg(t, AF_TABLE_USAGE, key, sizeof(key), &pb.base);
}

void af_usage_sub(const struct af_usage *now, const struct af_usage *base,
		  struct af_usage *out)
{
	out->count = now->count - base->count;
	out->ok = now->ok - base->ok;
	for (size_t i = 0; i < AF_USAGE_BUCKETS; i++)
		out->lat[i] = now->lat[i] - base->lat[i];
	out->lat_sum_ms = now->lat_sum_ms - base->lat_sum_ms;
	out->cost_nano = now->cost_nano - base->cost_nano;
	out->ok_cost_nano = now->ok_cost_nano - base->ok_cost_nano;
	out->q_count = now->q_count - base->q_count;
	out->q_sum_ppm = now->q_sum_ppm - base->q_sum_ppm;
}

uint64_t af_usage_percentile_ms(const struct af_usage *u, unsigned p)
{
	uint64_t total = 0, seen = 0, want;

	for (size_t i = 0; i < AF_USAGE_BUCKETS; i++)
		total += u->lat[i];
	if (total == 0)
		return 0;
	want = (total * p + 99) / 100;
	for (size_t i = 0; i < AF_USAGE_BUCKETS; i++) {
		seen += u->lat[i];
		if (seen >= want)
			return i < AF_USAGE_BUCKETS - 1
				       ? af_usage_bucket_ms[i]
				       : af_usage_bucket_ms[AF_USAGE_BUCKETS -
							    2];
	}
	return af_usage_bucket_ms[AF_USAGE_BUCKETS - 2];
}

/* Error rate in ppm. */
static int64_t error_ppm(const struct af_usage *u)
{
	return u->count ? (int64_t)((u->count - u->ok) * 1000000 / u->count)
			: 0;
}

/* USD (nano) per successful outcome; INT64_MAX with no success. */
static int64_t cost_per_ok(const struct af_usage *u)
{
	return u->ok ? u->cost_nano / (int64_t)u->ok : INT64_MAX;
}

int64_t af_usage_quality_ppm(const struct af_usage *u)
{
	return u->q_count ? (int64_t)(u->q_sum_ppm / u->q_count) : -1;
}

/* The quality gate, once both cohorts have their samples: HOLD until
 * both have min_samples outcomes that carried a quality (at least one),
 * BREACH when the canary's mean is more than the limit below stable's,
 * else PASS. */
static enum af_verdict judge_quality(const struct af_gates *g,
				     const struct af_usage *s,
				     const struct af_usage *c, char *why,
				     size_t whylen)
{
	uint64_t need = g->min_samples ? g->min_samples : 1;
	int64_t qs = af_usage_quality_ppm(s), qc = af_usage_quality_ppm(c);

	if (g->max_quality_drop_ppm <= 0)
		return AF_VERDICT_PASS;
	if (s->q_count < need || c->q_count < need) {
		snprintf(why, whylen,
			 "waiting for quality samples: stable %llu, canary "
			 "%llu of %llu",
			 (unsigned long long)s->q_count,
			 (unsigned long long)c->q_count,
			 (unsigned long long)need);
		return AF_VERDICT_HOLD;
	}
	if (qs - qc > g->max_quality_drop_ppm) {
		snprintf(why, whylen,
			 "mean quality %.4f vs stable %.4f: drop above %.4f",
			 (double)qc / 1e6, (double)qs / 1e6,
			 (double)g->max_quality_drop_ppm / 1e6);
		return AF_VERDICT_BREACH;
	}
	return AF_VERDICT_PASS;
}

enum af_verdict af_rollout_judge(const struct af_gates *g,
				 const struct af_usage *s,
				 const struct af_usage *c, char *why,
				 size_t whylen)
{
	int64_t es = error_ppm(s), ec = error_ppm(c);
	uint64_t ps = af_usage_percentile_ms(s, 99);
	uint64_t pc = af_usage_percentile_ms(c, 99);
	int64_t cs = cost_per_ok(s), cc = cost_per_ok(c);
	enum af_verdict q;

	if (s->count < g->min_samples || c->count < g->min_samples ||
	    s->count == 0 || c->count == 0) {
		snprintf(why, whylen,
			 "waiting for samples: stable %llu, canary %llu of "
			 "%llu",
			 (unsigned long long)s->count,
			 (unsigned long long)c->count,
			 (unsigned long long)g->min_samples);
		return AF_VERDICT_HOLD;
	}
	if (g->max_error_delta_ppm > 0 && ec - es > g->max_error_delta_ppm) {
		snprintf(why, whylen,
			 "error rate %.4f vs stable %.4f: delta above %.4f",
			 (double)ec / 1e6, (double)es / 1e6,
			 (double)g->max_error_delta_ppm / 1e6);
		return AF_VERDICT_BREACH;
	}
	if (g->max_latency_ratio_ppm > 0 && ps > 0 &&
	    (int64_t)(pc * 1000000 / ps) > g->max_latency_ratio_ppm) {
		snprintf(why, whylen,
			 "p99 latency %llu ms vs stable %llu ms: ratio above "
			 "%.2f",
			 (unsigned long long)pc, (unsigned long long)ps,
			 (double)g->max_latency_ratio_ppm / 1e6);
		return AF_VERDICT_BREACH;
	}
	if (g->max_cost_ratio_ppm > 0 && cs > 0 && cs != INT64_MAX &&
	    (cc == INT64_MAX ||
	     (double)cc / (double)cs * 1e6 > (double)g->max_cost_ratio_ppm)) {
		snprintf(why, whylen,
			 "USD per successful outcome %.6f vs stable %.6f: "
			 "ratio above %.2f",
			 cc == INT64_MAX ? 0.0 : (double)cc / 1e9,
			 (double)cs / 1e9, (double)g->max_cost_ratio_ppm / 1e6);
		return AF_VERDICT_BREACH;
	}
	if ((q = judge_quality(g, s, c, why, whylen)) != AF_VERDICT_PASS)
		return q;
	snprintf(why, whylen,
		 "gates pass: error %.4f vs %.4f, p99 %llu vs %llu ms, "
		 "%llu vs %llu samples",
		 (double)ec / 1e6, (double)es / 1e6, (unsigned long long)pc,
		 (unsigned long long)ps, (unsigned long long)c->count,
		 (unsigned long long)s->count);
	return AF_VERDICT_PASS;
}
