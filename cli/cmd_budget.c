/* af budget set | list | get | delete. */
#include "cli/client.h"
#include "cli/output.h"
#include "render/render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "12.5" USD -> 12500000 micro-USD, exactly (at most 6 decimals). */
int af_cli_parse_usd(const char *flag, const char *s, int64_t *ret)
{
	int64_t whole = 0, frac = 0, scale = 100000;
	const char *p = s;

	if (*p < '0' || *p > '9')
		goto bad;
	for (; *p >= '0' && *p <= '9'; p++) {
		whole = whole * 10 + (*p - '0');
		if (whole > 1000000000)
			goto bad;
	}
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10) {
			if (scale == 0)
				goto bad;
			frac += (*p - '0') * scale;
		}
	if (*p != '\0')
		goto bad;
	*ret = whole * 1000000 + frac;
	return 0;
bad:
	return af_cli_fail(AF_EXIT_USAGE, "USAGE",
			   "%s takes an amount in USD like 100 or 12.50 (at "
			   "most 6 decimals, at most 1e9)",
			   flag);
}

static int propose_budget(struct af_cli *cli, Af__BudgetSet *bs)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__Response *resp;
	int rc;

	cmd.op_case = AF__COMMAND__OP_BUDGET_SET;
	cmd.budget_set = bs;
	if ((rc = af_cli_propose(cli, &cmd, &resp)) != 0)
		return rc;
	if (cli->output != AF_OUT_TABLE) {
		json_t *o = af_out_ok();

		json_object_set_new(o, "tenant", json_string(bs->tenant));
		if (bs->remove) {
			json_object_set_new(o, "deleted", json_true());
		} else {
			json_object_set_new(o, "period",
					    json_string(bs->period));
			json_object_set_new(o, "hard_usd",
					    af_render_usd(bs->hard_micro));
			json_object_set_new(
				o, "soft_usd",
				bs->soft_micro ? af_render_usd(bs->soft_micro)
					       : json_null());
		}
		json_object_set_new(o, "message",
				    json_string(resp->status->message));
		af__response__free_unpacked(resp, NULL);
		return af_out_json(o);
	}
	printf("%s: %s\n", bs->tenant, resp->status->message);
	af__response__free_unpacked(resp, NULL);
	return 0;
}

int af_cli_budget_set(struct af_cli *cli, int argc, char **argv)
{
	static const char *const names[] = {"--hard", "--soft", "--period",
					    NULL};
	const char *vals[3] = {NULL};
	Af__BudgetSet bs = AF__BUDGET_SET__INIT;
	char *pos[1];
	int npos, rc;

	if ((rc = af_cli_flags(argc, argv, names, vals, &npos, pos, 1)) != 0)
		return rc;
	if (npos != 1 || vals[0] == NULL)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "usage: af budget set TENANT --hard USD "
				   "[--soft USD] [--period day|month]");
	if ((rc = af_cli_parse_usd("--hard", vals[0], &bs.hard_micro)) != 0 ||
	    (vals[1] &&
	     (rc = af_cli_parse_usd("--soft", vals[1], &bs.soft_micro))))
		return rc;
	bs.tenant = pos[0];
	bs.period = (char *)(vals[2] ? vals[2] : "month");
	if (strcmp(bs.period, "day") != 0 && strcmp(bs.period, "month") != 0)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "--period takes day or month");
	return propose_budget(cli, &bs);
}

int af_cli_budget_delete(struct af_cli *cli, int argc, char **argv)
{
	Af__BudgetSet bs = AF__BUDGET_SET__INIT;

	if (argc != 2)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "usage: af budget delete TENANT");
	bs.tenant = argv[1];
	bs.remove = 1;
	return propose_budget(cli, &bs);
}

/* af budget get: the period's spend, one line per hour it moved. */
static void print_history(json_t *h)
{
	if (json_array_size(h) == 0) {
		printf("\nno spend settled in this period yet\n");
		return;
	}
	printf("\n%-24s %12s\n", "SPENT BY (HOUR)", "SPENT");
	for (size_t i = 0; i < json_array_size(h); i++) {
		json_t *p = json_array_get(h, i);

		printf("%-24s %12.4f\n",
		       json_string_value(json_object_get(p, "at")),
		       json_number_value(json_object_get(p, "spent_usd")));
	}
}

static int list_or_get(struct af_cli *cli, const char *tenant)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__BudgetListReq bl = AF__BUDGET_LIST_REQ__INIT;
	Af__Response *resp;
	json_t *arr;
	int rc;

	bl.tenant = (char *)(tenant ? tenant : "");
	bl.history = tenant != NULL; /* get: the spend over the period too */
	req.body_case = AF__REQUEST__BODY_BUDGET_LIST;
	req.budget_list = &bl;
	if ((rc = af_cli_request(cli, &req, &resp)) != 0)
		return rc;
	arr = af_render_budgets(resp->budget_list);
	af__response__free_unpacked(resp, NULL);
	if (cli->output != AF_OUT_TABLE) {
		if (tenant) {
			json_t *one = json_incref(json_array_get(arr, 0));
			json_decref(arr);
			return af_out_json(one);
		}
		return af_out_json(arr);
	}
	printf("%-20s %-6s %12s %12s %12s %12s %12s\n", "TENANT", "PERIOD",
	       "SPENT", "LEASED", "SOFT", "HARD", "REMAINING");
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *o = json_array_get(arr, i);
		json_t *soft = json_object_get(o, "soft_usd");
		char sb[32] = "-";

		if (json_is_number(soft))
			snprintf(sb, sizeof(sb), "%.2f",
				 json_number_value(soft));
		printf("%-20s %-6s %12.4f %12.4f %12s %12.2f %12.4f\n",
		       json_string_value(json_object_get(o, "tenant")),
		       json_string_value(json_object_get(o, "period")),
		       json_number_value(json_object_get(o, "spent_usd")),
		       json_number_value(json_object_get(o, "leased_usd")), sb,
		       json_number_value(json_object_get(o, "hard_usd")),
		       json_number_value(json_object_get(o, "remaining_usd")));
	}
	if (json_array_size(arr) == 0)
		printf("no budgets: every tenant is unlimited\n");
	if (tenant)
		print_history(
			json_object_get(json_array_get(arr, 0), "history"));
	json_decref(arr);
	return 0;
}

int af_cli_budget_list(struct af_cli *cli, int argc, char **argv)
{
	if (argc != 1)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "budget list: unexpected \"%s\"", argv[1]);
	return list_or_get(cli, NULL);
}

int af_cli_budget_get(struct af_cli *cli, int argc, char **argv)
{
	if (argc != 2)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "usage: af budget get TENANT");
	return list_or_get(cli, argv[1]);
}
