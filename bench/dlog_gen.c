/* Writes N decision log records (default 1,000,000) into DIR, as routerd
 * logs them: the example policy and registry decide six request shapes
 * under varying live inputs (lane fill, a cooling pair, latency), and
 * routerd's own decision log code renders, queues and writes them (files
 * of 64 MB). Input for bench/simulate.sh.
 * usage: dlog_gen POLICY MODELS DIR [N] */
#include "common/alloc.h"
#include "common/file.h"
#include "common/metrics.h"
#include "policy/replay.h"
#include "routerd/decision_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fake {
	uint64_t i;
};

static uint32_t inflight(void *ctx, uint32_t lane)
{
	const struct fake *f = ctx;

	return (uint32_t)((f->i * 7 + lane) % 70);
}

static uint64_t cooldown(void *ctx, uint32_t pair, bool canary)
{
	const struct fake *f = ctx;

	(void)canary;
	return f->i % 10 == 0 && pair == 1 ? 15000 : 0;
}

static uint32_t latency(void *ctx, uint32_t pair)
{
	const struct fake *f = ctx;

	return (uint32_t)(200 + (f->i + pair) % 50);
}

static int load(const char *path, bool reg, struct af_bundle **b,
		struct af_registry **r)
{
	struct af_err err = {{0}};
	char *buf;
	size_t len;
	int rc = af_read_file(path, AF_POLICY_MAX_BYTES, &buf, &len, &err);

	if (rc == 0)
		rc = reg ? af_registry_compile(path, buf, len, r, &err)
			 : af_bundle_compile(path, buf, len, b, &err);
	if (rc == 0)
		af_free(buf);
	else
		fprintf(stderr, "dlog_gen: %s\n", err.msg);
	return rc;
}

static const char *const shapes[] = {
	"\"tenant\":\"claims-team\",\"class\":"
	"\"research-agent\",\"input_tokens\":18240,\"output_tokens\":960,"
	"\"needs\":[\"tools\"]}",
	"\"tenant\":\"claims-team\",\"class\":"
	"\"research-agent\",\"agent_role\":\"planner\"}",
	"\"tenant\":\"ops-team\",\"class\":"
	"\"interactive-copilot\",\"labels\":{\"customer\":\"northwind\"}}",
	"\"tenant\":\"ops-team\",\"class\":"
	"\"marketing\",\"sensitivity\":\"restricted\"}",
	"\"tenant\":\"ops-team\",\"class\":"
	"\"claims-reconciliation\",\"input_tokens\":3000}",
	"\"tenant\":\"uw-team\",\"class\":"
	"\"underwriting\",\"sensitivity\":\"restricted\"}",
};

static int gen(struct af_policy_view *v, struct routerd_dlog *l, uint64_t n)
{
	static struct af_request req;
	static struct af_live_rec rec;
	struct fake f = {0};
	struct af_live in = {.ctx = &f,
			     .lane_inflight = inflight,
			     .cooldown_ms = cooldown,
			     .latency_ms = latency},
		       live;
	struct af_request_error rerr;
	struct af_decision d;
	char body[4096], idbuf[64], reqbuf[1024];
	size_t len;

	for (f.i = 1; f.i <= n; f.i++) {
		int m = snprintf(reqbuf, sizeof(reqbuf),
				 "{\"workflow_id\":\"wf-%llu\",%s",
				 (unsigned long long)f.i, shapes[f.i % 6]);

		if (af_request_parse_json(reqbuf, (size_t)m, &req, &rerr) != 0)
			return 1;
		snprintf(idbuf, sizeof(idbuf), "gen-%016llx",
			 (unsigned long long)f.i);
		af_live_rec_wrap(&rec, &in, v, &live);
		if (af_decide(v, &req, &live, idbuf, &d, NULL) != 0 ||
		    af_decision_json(&d, body, sizeof(body), &len) != 0)
			return 1;
		af_live_rec_finish(&rec, &d);
		struct routerd_dlog_rec r = {
			.seq = f.i,
			.wall_ms = 1764633600000 + (int64_t)f.i,
			.req = &req,
			.d = &d,
			.body = body,
			.body_len = len,
			.live = &rec,
		};
		r.mask = af_policy_view_log_masks(v, false, &r.nmask);
		routerd_dlog_put(l, &r);
		/* well inside one thread's queue (DLOG_QUEUE) */
		if (f.i % 1024 == 0)
			routerd_dlog_flush(l);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct af_bundle *b = NULL;
	struct af_registry *reg = NULL;
	struct af_policy_view *v = NULL;
	struct routerd_dlog *l = NULL;
	struct af_err err = {{0}};
	uint64_t n = argc > 4 ? strtoull(argv[4], NULL, 10) : 1000000;
	int rc;

	if (argc < 4) {
		fprintf(stderr, "usage: dlog_gen POLICY MODELS DIR [N]\n");
		return 2;
	}
	struct routerd_dlog_config dc = {.dir = argv[3],
					 .routerd = "gen",
					 .max_bytes = 64u << 20,
					 .keep = 1000,
					 .no_writer = true};
	if (load(argv[1], false, &b, NULL) || load(argv[2], true, NULL, &reg))
		return 1;
	struct af_policy_view_config cfg = {.stable = b,
					    .stable_revision = 1,
					    .registry = reg,
					    .registry_revision = 1};
	rc = af_policy_view_new(&cfg, &v, &err);
	if (rc == 0)
		rc = routerd_dlog_new(&dc, &l, &err);
	if (rc != 0) {
		fprintf(stderr, "dlog_gen: %s\n", err.msg);
		return 1;
	}
	rc = gen(v, l, n);
	routerd_dlog_flush(l);
	/* Every record written, or the figures downstream mean nothing. */
	struct af_textbuf tb = {0};
	routerd_dlog_metrics(l, &tb);
	if (rc == 0 &&
	    (tb.buf == NULL ||
	     strstr(tb.buf, "\naf_routerd_decision_log_dropped_total 0\n") ==
		     NULL)) {
		fprintf(stderr, "dlog_gen: records were dropped\n");
		rc = 1;
	}
	af_textbuf_free(&tb);
	routerd_dlog_free(l);
	af_policy_view_free(v);
	af_registry_free(reg);
	af_bundle_free(b);
	return rc;
}
