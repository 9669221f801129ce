/* af report: showback per hop (the default) or per workflow
 * (--unit workflow), as a table, JSON, YAML or CSV; spend anomalies; and
 * af model history (the price versions money is computed from). */
#include "cli/client.h"
#include "cli/output.h"
#include "common/money.h"
#include "common/timeutil.h"
#include "render/render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BY 3

static int parse_date(const char *flag, const char *s, int64_t *ret)
{
	char why[128];

	if (af_render_parse_date(flag, s, ret, why, sizeof(why)) != 0)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE", "%s", why);
	return 0;
}

static const char *cell(const json_t *o, const char *k, char *buf, size_t n)
{
	const json_t *v = json_object_get(o, k);

	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v))
		snprintf(buf, n, "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, n, "%.4f", json_real_value(v));
	else
		snprintf(buf, n, "-");
	return buf;
}

/* by[0..nby) joined by "/" (row NULL: the names; else row's values). */
static const char *group(const json_t *row, char *const *by, size_t nby,
			 char *out, size_t n)
{
	size_t len = 0;
	char b[32];

	out[0] = '\0';
	for (size_t k = 0; k < nby && len < n; k++)
		len += (size_t)snprintf(
			out + len, n - len, "%s%s", k ? "/" : "",
			row ? cell(row, by[k], b, sizeof(b)) : by[k]);
	return out;
}

/* The per-hop rows' JSON as a table (money: its exact 6-decimal
 * strings). */
static void hop_table(const json_t *arr, const char *by)
{
	char list[256], *keys[MAX_BY + 1], key[256];
	size_t nby, i;
	const json_t *o;

	snprintf(list, sizeof(list), "%s", by);
	nby = af_render_split_by(list, keys, MAX_BY);
	nby = nby < MAX_BY ? nby : MAX_BY;
	printf("%-24s %9s %9s %12s %14s %12s\n",
	       group(NULL, keys, nby, key, sizeof(key)), "SUCCESS", "FAILED",
	       "SPEND_USD", "USD/SUCCESS", "WASTE_USD");
	json_array_foreach((json_t *)arr, i, o)
	{
		char b[5][32];

		printf("%-24s %9s %9s %12s %14s %12s\n",
		       group(o, keys, nby, key, sizeof(key)),
		       cell(o, "successes", b[0], sizeof(b[0])),
		       cell(o, "failures", b[1], sizeof(b[1])),
		       cell(o, "spend_usd", b[2], sizeof(b[2])),
		       cell(o, "usd_per_success", b[3], sizeof(b[3])),
		       cell(o, "waste_usd", b[4], sizeof(b[4])));
	}
}

/* The table of the rows' JSON: the group, then the columns. */
static void workflow_table(const json_t *arr, char *const *by, size_t nby)
{
	static const char *const cols[] = {
		"workflows",	   "succeeded",	      "failed",
		"abandoned",	   "success_rate",    "cost_usd",
		"usd_per_success", "p50_success_usd", "p95_success_usd",
		"waste_usd",
	};
	static const char *const heads[] = {
		"WORKFLOWS", "SUCCEEDED", "FAILED", "ABANDONED", "RATE",
		"COST_USD",  "USD/SUCC",  "P50",    "P95",	 "WASTE_USD",
	};
	const json_t *o;
	char key[256];
	size_t i;

	printf("%-28s", group(NULL, by, nby, key, sizeof(key)));
	for (size_t c = 0; c < 10; c++)
		printf(" %*s", c < 5 ? 9 : 12, heads[c]);
	printf("\n");
	json_array_foreach((json_t *)arr, i, o)
	{
		char b[32];

		printf("%-28s", group(o, by, nby, key, sizeof(key)));
		for (size_t c = 0; c < 10; c++)
			printf(" %*s", c < 5 ? 9 : 12,
			       cell(o, cols[c], b, sizeof(b)));
		printf("\n");
	}
}

static int hop_report(struct af_cli *cli, const char *by, int64_t since,
		      int64_t until)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__ShowbackReq q = AF__SHOWBACK_REQ__INIT;
	Af__Response *resp;
	json_t *arr;
	int rc;

	q.by = (char *)(by ? by : "tenant");
	q.since_ms = since;
	q.until_ms = until;
	req.body_case = AF__REQUEST__BODY_SHOWBACK;
	req.showback = &q;
	if ((rc = af_cli_request(cli, &req, &resp)) != 0)
		return rc;
	arr = af_render_showback(resp->showback, q.by);
	af__response__free_unpacked(resp, NULL);
	if (cli->output != AF_OUT_TABLE)
		return af_out_json(arr);
	hop_table(arr, q.by);
	json_decref(arr);
	return 0;
}

static int workflow_report(struct af_cli *cli, const char *by, int64_t since,
			   int64_t until)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__WorkflowReportReq q = AF__WORKFLOW_REPORT_REQ__INIT;
	char list[256], *keys[MAX_BY + 1];
	Af__Response *resp;
	json_t *arr;
	int rc;

	snprintf(list, sizeof(list), "%s", by ? by : "tenant");
	if ((q.n_by = af_render_split_by(list, keys, MAX_BY)) > MAX_BY)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "--by takes at most %d keys", MAX_BY);
	q.by = keys;
	q.since_ms = since;
	q.until_ms = until;
	req.body_case = AF__REQUEST__BODY_WORKFLOW_REPORT;
	req.workflow_report = &q;
	if ((rc = af_cli_request(cli, &req, &resp)) != 0)
		return rc;
	arr = af_render_workflow_report(resp->workflow_report, keys, q.n_by);
	af__response__free_unpacked(resp, NULL);
	if (cli->output != AF_OUT_TABLE)
		return af_out_json(arr);
	workflow_table(arr, keys, q.n_by);
	json_decref(arr);
	return 0;
}

static int anomalies(struct af_cli *cli, const char *z, const char *window)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__AnomalyReq q = AF__ANOMALY_REQ__INIT;
	Af__Response *resp;
	json_t *arr, *o;
	char *end = NULL;
	size_t i;
	int rc;

	if (z != NULL && ((q.z = strtod(z, &end)) <= 0 || *end != '\0'))
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "--z takes a number above 0");
	if (window != NULL &&
	    ((q.window = (uint32_t)strtoul(window, &end, 10)) < 2 ||
	     *end != '\0'))
		return af_cli_fail(
			AF_EXIT_USAGE, "USAGE",
			"--window takes a number of days, 2 or more");
	req.body_case = AF__REQUEST__BODY_ANOMALIES;
	req.anomalies = &q;
	if ((rc = af_cli_request(cli, &req, &resp)) != 0)
		return rc;
	arr = af_render_anomalies(resp->anomalies);
	af__response__free_unpacked(resp, NULL);
	if (cli->output != AF_OUT_TABLE)
		return af_out_json(arr);
	printf("%-24s %-10s %14s %14s %14s %8s\n", "TENANT", "DAY", "SPEND_USD",
	       "MEAN_USD", "STDDEV_USD", "Z");
	json_array_foreach(arr, i, o)
		printf("%-24s %-10s %14s %14s %14s %8.3f\n",
		       json_string_value(json_object_get(o, "tenant")),
		       json_string_value(json_object_get(o, "day")),
		       json_string_value(json_object_get(o, "spend_usd")),
		       json_string_value(json_object_get(o, "mean_usd")),
		       json_string_value(json_object_get(o, "stddev_usd")),
		       json_real_value(json_object_get(o, "z")));
	json_decref(arr);
	return 0;
}

int af_cli_report(struct af_cli *cli, int argc, char **argv)
{
	static const char *const names[] = {
		"--by", "--since",  "--until",	    "--unit",
		"--z",	"--window", "--anomalies!", NULL};
	const char *vals[7] = {NULL};
	int64_t since = 0, until = 0;
	int npos, rc;

	if ((rc = af_cli_flags(argc, argv, names, vals, &npos, NULL, 0)) != 0)
		return rc;
	if (vals[6] != NULL)
		return anomalies(cli, vals[4], vals[5]);
	if (vals[4] != NULL || vals[5] != NULL)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "--z and --window go with --anomalies");
	if (vals[1] && (rc = parse_date("--since", vals[1], &since)) != 0)
		return rc;
	if (vals[2] && (rc = parse_date("--until", vals[2], &until)) != 0)
		return rc;
	if (vals[3] == NULL || strcmp(vals[3], "hop") == 0)
		return hop_report(cli, vals[0], since, until);
	if (strcmp(vals[3], "workflow") == 0)
		return workflow_report(cli, vals[0], since, until);
	return af_cli_fail(AF_EXIT_USAGE, "USAGE",
			   "--unit takes hop (the default) or workflow");
}

/* af model history ID: the model's price versions. */
int af_cli_model_history(struct af_cli *cli, int argc, char **argv)
{
	Af__Policy__Registry *reg;
	json_t *arr = NULL, *o;
	size_t i;
	int rc;

	if (argc != 2)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "usage: af model history ID");
	if ((rc = af_cli_registry(cli, &reg)) != 0)
		return rc;
	for (i = 0; i < reg->n_models && arr == NULL; i++)
		if (strcmp(reg->models[i]->id, argv[1]) == 0)
			arr = af_render_price_history(reg->models[i],
						      af_wall_ms());
	af__policy__registry__free_unpacked(reg, NULL);
	if (arr == NULL)
		return af_cli_fail(AF_EXIT_REFUSED, "NOT_FOUND",
				   "no model \"%s\"", argv[1]);
	if (cli->output != AF_OUT_TABLE)
		return af_out_json(arr);
	printf("%-22s %12s %12s %12s %s\n", "EFFECTIVE", "IN/1K", "OUT/1K",
	       "CACHED/1K", "IN_FORCE");
	json_array_foreach(arr, i, o)
	{
		const json_t *e = json_object_get(o, "effective");

		printf("%-22s %12.6f %12.6f %12.6f %s\n",
		       json_is_string(e) ? json_string_value(e) : "(always)",
		       json_real_value(json_object_get(o, "usd_per_1k_input")),
		       json_real_value(json_object_get(o, "usd_per_1k_output")),
		       json_real_value(
			       json_object_get(o, "usd_per_1k_cached_input")),
		       json_is_true(json_object_get(o, "in_force")) ? "yes"
								    : "");
	}
	json_decref(arr);
	return 0;
}
