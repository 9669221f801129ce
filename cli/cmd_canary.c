/* af canary start | status [--watch] | set-weight | promote [--full] |
 * abort | pause | resume. */
#include "cli/client.h"
#include "cli/output.h"
#include "common/alloc.h"
#include "common/file.h"
#include "common/metrics.h"
#include "common/timeutil.h"
#include "policy/policy.h"
#include "render/render.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "0.02" -> 20000 ppm. */
static int parse_ppm(const char *flag, const char *s, int64_t *ret)
{
	char *end;
	double v = strtod(s, &end);

	if (*s == '\0' || *end != '\0' || !(v >= 0) || v > 1000)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "%s takes a number, got \"%s\"", flag, s);
	*ret = (int64_t)llround(v * 1e6);
	return 0;
}

/* A percentage of live routerds, 1-100. */
static int parse_pct(const char *flag, const char *s, uint32_t *ret)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 1 || v > 100)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "%s takes a percentage 1-100, got \"%s\"",
				   flag, s);
	*ret = (uint32_t)v;
	return 0;
}

static int parse_steps(const char *s, uint32_t *steps, size_t *n)
{
	*n = 0;
	while (*s) {
		char *end;
		unsigned long v = strtoul(s, &end, 10);

		if (end == s || v < 1 || v > 100 || *n >= 16 ||
		    (*end != ',' && *end != '\0'))
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "--steps takes rising percentages "
					   "like 5,25,50");
		steps[(*n)++] = (uint32_t)v;
		s = *end ? end + 1 : end;
	}
	return 0;
}

enum {
	F_FILE,
	F_WEIGHT,
	F_STEPS,
	F_INTERVAL,
	F_ERR,
	F_LAT,
	F_COST,
	F_MIN,
	F_MSG,
	F_SIG,
	F_FLEET,
	F_NACK,
	F_QUALITY,
	F_REQ_SHADOW,
	F_MIN_SHADOW,
	F_N
};

/* --require-shadow PCT [--min-shadow-samples N]. */
static int shadow_args(Af__PolicyApply *pa, const char *vals[])
{
	char *end;
	double v;

	if (vals[F_REQ_SHADOW] == NULL) {
		if (vals[F_MIN_SHADOW] != NULL)
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "--min-shadow-samples needs "
					   "--require-shadow PCT");
		return 0;
	}
	v = strtod(vals[F_REQ_SHADOW], &end);
	if (*vals[F_REQ_SHADOW] == '\0' || *end != '\0' || !(v >= 0) || v > 100)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "--require-shadow takes a percentage "
				   "0-100, got \"%s\"",
				   vals[F_REQ_SHADOW]);
	pa->require_shadow = true;
	pa->require_shadow_ppm = (uint32_t)llround(v * 10000);
	if (vals[F_MIN_SHADOW] != NULL) {
		unsigned long long n = strtoull(vals[F_MIN_SHADOW], &end, 10);

		if (*vals[F_MIN_SHADOW] == '\0' || *end != '\0' || n == 0)
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "--min-shadow-samples takes a "
					   "positive count");
		pa->min_shadow_samples = n;
	}
	return 0;
}

/* --require-fleet, --max-nack, --max-quality-drop. */
static int fleet_args(Af__Gates *g, const char *vals[])
{
	int rc = 0;

	if ((vals[F_FLEET] && (rc = parse_pct("--require-fleet", vals[F_FLEET],
					      &g->require_fleet_pct))) ||
	    (vals[F_NACK] &&
	     (rc = parse_pct("--max-nack", vals[F_NACK], &g->max_nack_pct))))
		return rc;
	if (vals[F_QUALITY]) {
		if ((rc = parse_ppm("--max-quality-drop", vals[F_QUALITY],
				    &g->max_quality_drop_ppm)) != 0)
			return rc;
		if (g->max_quality_drop_ppm <= 0 ||
		    g->max_quality_drop_ppm > 1000000)
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "--max-quality-drop takes a number "
					   "above 0, at most 1 (quality is "
					   "0 to 1)");
	}
	return 0;
}

static int start_args(Af__PolicyApply *pa, Af__Gates *g, uint32_t *steps,
		      const char *vals[])
{
	uint64_t ms;
	int rc = 0;

	if (vals[F_WEIGHT]) {
		char *end;
		unsigned long w = strtoul(vals[F_WEIGHT], &end, 10);

		if (*end != '\0' || w < 1 || w > 100)
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "--weight takes 1-100");
		pa->canary_weight = (uint32_t)w;
	}
	if (vals[F_STEPS] &&
	    (rc = parse_steps(vals[F_STEPS], steps, &pa->n_steps)) != 0)
		return rc;
	pa->steps = steps;
	if (pa->canary_weight == 0 && pa->n_steps == 0)
		pa->canary_weight = 10;
	if (vals[F_INTERVAL]) {
		if (af_parse_duration_ms(vals[F_INTERVAL], &ms) != 0 || ms == 0)
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "bad --interval");
		pa->interval_ms = ms;
	}
	if ((vals[F_ERR] && (rc = parse_ppm("--max-error-delta", vals[F_ERR],
					    &g->max_error_delta_ppm))) ||
	    (vals[F_LAT] && (rc = parse_ppm("--max-latency-ratio", vals[F_LAT],
					    &g->max_latency_ratio_ppm))) ||
	    (vals[F_COST] && (rc = parse_ppm("--max-cost-ratio", vals[F_COST],
					     &g->max_cost_ratio_ppm))))
		return rc;
	if (vals[F_MIN])
		g->min_samples = strtoull(vals[F_MIN], NULL, 10);
	pa->gates = g;
	if ((rc = fleet_args(g, vals)) != 0)
		return rc;
	return shadow_args(pa, vals);
}

int af_cli_canary_start(struct af_cli *cli, int argc, char **argv)
{
	static const char *const names[] = {"-f",
					    "--weight",
					    "--steps",
					    "--interval",
					    "--max-error-delta",
					    "--max-latency-ratio",
					    "--max-cost-ratio",
					    "--min-samples",
					    "-m",
					    "--signature",
					    "--require-fleet",
					    "--max-nack",
					    "--max-quality-drop",
					    "--require-shadow",
					    "--min-shadow-samples",
					    NULL};
	const char *vals[F_N] = {NULL};
	Af__PolicyApply pa = AF__POLICY_APPLY__INIT;
	Af__Gates g = AF__GATES__INIT;
	uint32_t steps[16];
	Af__Response *resp;
	int npos, rc;

	if ((rc = af_cli_flags(argc, argv, names, vals, &npos, NULL, 0)) != 0)
		return rc;
	if (vals[F_FILE] == NULL)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "usage: af canary start -f FILE [--weight "
				   "PCT] [--steps 5,25,50] [--interval 60s] "
				   "[gates]");
	if ((rc = start_args(&pa, &g, steps, vals)) != 0)
		return rc;
	pa.message = (char *)(vals[F_MSG] ? vals[F_MSG] : "");
	if ((rc = af_cli_propose_bundle(cli, vals[F_FILE], vals[F_SIG], &pa,
					&resp)) != 0)
		return rc;
	if (cli->output != AF_OUT_TABLE) {
		json_t *o = af_render_apply(resp->apply);

		af__response__free_unpacked(resp, NULL);
		return af_out_json(o);
	}
	printf("revision %llu %s canary at %u%%\n",
	       (unsigned long long)resp->apply->revision, resp->apply->hash,
	       pa.n_steps ? steps[0] : pa.canary_weight);
	af__response__free_unpacked(resp, NULL);
	return 0;
}

/* ------------------------------------------------------------ control */

static int control(struct af_cli *cli, Af__RolloutControl__Action action,
		   uint32_t weight)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__RolloutControl rc = AF__ROLLOUT_CONTROL__INIT;
	Af__Response *resp;
	int err;

	rc.action = action;
	rc.weight = weight;
	rc.expected_step = -1;
	cmd.op_case = AF__COMMAND__OP_ROLLOUT;
	cmd.rollout = &rc;
	if ((err = af_cli_propose(cli, &cmd, &resp)) != 0)
		return err;
	if (cli->output != AF_OUT_TABLE) {
		json_t *o = json_object();
		json_object_set_new(
			o, "revision",
			json_integer((json_int_t)resp->apply->revision));
		json_object_set_new(o, "state",
				    json_string(resp->apply->state));
		json_object_set_new(o, "message",
				    json_string(resp->status->message));
		af__response__free_unpacked(resp, NULL);
		return af_out_json(o);
	}
	printf("revision %llu: %s\n", (unsigned long long)resp->apply->revision,
	       resp->status->message);
	af__response__free_unpacked(resp, NULL);
	return 0;
}

int af_cli_canary_control(struct af_cli *cli, int argc, char **argv)
{
	const char *verb = argv[0];

	if (strcmp(verb, "set-weight") == 0) {
		char *end;
		unsigned long w;

		if (argc != 2)
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "usage: af canary set-weight PCT");
		w = strtoul(argv[1], &end, 10);
		if (*argv[1] == '\0' || *end != '\0' || w > 100)
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "weight must be 0-100");
		return control(cli, AF__ROLLOUT_CONTROL__ACTION__SET_WEIGHT,
			       (uint32_t)w);
	}
	if (strcmp(verb, "promote") == 0) {
		if (argc > 2 || (argc == 2 && strcmp(argv[1], "--full") != 0))
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "usage: af canary promote [--full]");
		return control(
			cli,
			argc == 2 ? AF__ROLLOUT_CONTROL__ACTION__PROMOTE_FULL
				  : AF__ROLLOUT_CONTROL__ACTION__PROMOTE,
			0);
	}
	if (argc != 1)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "canary %s takes no arguments", verb);
	if (strcmp(verb, "abort") == 0)
		return control(cli, AF__ROLLOUT_CONTROL__ACTION__ABORT, 0);
	if (strcmp(verb, "pause") == 0)
		return control(cli, AF__ROLLOUT_CONTROL__ACTION__PAUSE, 0);
	return control(cli, AF__ROLLOUT_CONTROL__ACTION__RESUME, 0);
}

/* ------------------------------------------------------------- status */

static long long jint(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static void print_cohorts(json_t *o)
{
	printf("\n%-8s %9s %9s %8s %8s %14s %8s\n", "COHORT", "REQUESTS",
	       "ERRORS", "P50_MS", "P99_MS", "USD/SUCCESS", "QUALITY");
	for (int k = 0; k < 2; k++) {
		json_t *x = json_object_get(o, k ? "canary" : "stable");
		json_t *usd = json_object_get(x, "usd_per_success");
		json_t *q = json_object_get(x, "quality");
		char usds[32] = "-", qs[32] = "-";

		if (json_is_real(usd))
			snprintf(usds, sizeof(usds), "%.6f",
				 json_real_value(usd));
		if (json_is_real(q))
			snprintf(qs, sizeof(qs), "%.3f", json_real_value(q));
		printf("%-8s %9lld %8.2f%% %8lld %8lld %14s %8s\n",
		       k ? "canary" : "stable", jint(x, "requests"),
		       json_real_value(json_object_get(x, "error_rate")) * 100,
		       jint(x, "p50_ms"), jint(x, "p99_ms"), usds, qs);
	}
}

/* The fleet line, when a fleet gate is set. */
static void print_fleet(json_t *o)
{
	json_t *g = json_object_get(o, "gates"),
	       *f = json_object_get(o, "fleet");
	long long need = jint(g, "require_fleet_pct"),
		  nack = jint(g, "max_nack_pct");

	if (need == 0 && nack == 0)
		return;
	printf("fleet      %lld of %lld live routerds serve the step (%.0f%%",
	       jint(f, "serving"), jint(f, "live"),
	       json_real_value(json_object_get(f, "serving_share")) * 100);
	if (need > 0)
		printf(", need %lld%%", need);
	printf("); %lld NACK the canary (%.0f%%", jint(f, "nacked"),
	       json_real_value(json_object_get(f, "nack_share")) * 100);
	if (nack > 0)
		printf(", abort at %lld%%", nack);
	printf(")\n");
	if (json_is_true(json_object_get(f, "waiting")))
		printf("waiting    for the fleet since %s: the step's interval "
		       "has not started\n",
		       json_string_value(json_object_get(f, "waiting_since")));
}

static void print_status(json_t *o)
{
	const char *state = json_string_value(json_object_get(o, "state"));

	printf("state      %s\nstable     revision %lld %.20s\n", state,
	       jint(o, "stable_revision"),
	       json_string_value(json_object_get(o, "stable_hash")));
	if (strcmp(state, "none") == 0) {
		printf("last       %s\n",
		       json_string_value(json_object_get(o, "last_action")));
		return;
	}
	printf("canary     revision %lld %.20s at %lld%%",
	       jint(o, "canary_revision"),
	       json_string_value(json_object_get(o, "canary_hash")),
	       jint(o, "weight"));
	if (json_array_size(json_object_get(o, "steps")) > 0)
		printf(" (step %lld of %zu)\n", jint(o, "step_index") + 1,
		       json_array_size(json_object_get(o, "steps")));
	else
		printf(" (no steps: set-weight and promote by hand)\n");
	print_fleet(o);
	print_cohorts(o);
	printf("\nverdict    %s\nlast       %s\n",
	       json_string_value(json_object_get(o, "verdict")),
	       json_string_value(json_object_get(o, "last_action")));
}

int af_cli_canary_status(struct af_cli *cli, int argc, char **argv)
{
	bool watch = argc == 2 && strcmp(argv[1], "--watch") == 0;
	Af__Request req = AF__REQUEST__INIT;
	Af__CanaryStatusReq cr = AF__CANARY_STATUS_REQ__INIT;

	if (argc > 2 || (argc == 2 && !watch))
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "usage: af canary status [--watch]");
	req.body_case = AF__REQUEST__BODY_CANARY_STATUS;
	req.canary_status = &cr;
	for (;;) {
		Af__Response *resp;
		json_t *o;
		bool running;
		int rc = af_cli_request(cli, &req, &resp);

		if (rc != 0)
			return rc;
		o = af_render_canary(resp->canary_status);
		af__response__free_unpacked(resp, NULL);
		running = strcmp(json_string_value(json_object_get(o, "state")),
				 "none") != 0;
		if (watch && cli->output == AF_OUT_TABLE)
			printf("\033[H\033[2J");
		if (cli->output != AF_OUT_TABLE) {
			af_out_json(o);
		} else {
			print_status(o);
			json_decref(o);
		}
		fflush(stdout);
		if (!watch || !running)
			return 0;
		struct timespec ts = {.tv_sec = 2};
		nanosleep(&ts, NULL);
	}
}
