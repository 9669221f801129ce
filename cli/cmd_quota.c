/* af quota status: the live capacity leases of every fleet-wide quota. */
#include "cli/client.h"
#include "cli/output.h"
#include "render/render.h"

#include <stdio.h>
#include <string.h>

static void print_table(json_t *arr)
{
	printf("%-24s %-16s %-17s %10s %10s  %s\n", "QUOTA", "TENANT",
	       "DIMENSION", "LIMIT", "LEASED", "LEASES (routerd=amount until)");
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *o = json_array_get(arr, i), *ls;
		json_t *t = json_object_get(o, "tenant");

		printf("%-24s %-16s %-17s %10lld %10lld  ",
		       json_string_value(json_object_get(o, "quota")),
		       json_is_string(t) ? json_string_value(t) : "(all)",
		       json_string_value(json_object_get(o, "dimension")),
		       (long long)json_integer_value(
			       json_object_get(o, "limit")),
		       (long long)json_integer_value(
			       json_object_get(o, "leased")));
		ls = json_object_get(o, "leases");
		for (size_t k = 0; k < json_array_size(ls); k++) {
			json_t *l = json_array_get(ls, k);

			printf("%s%s=%lld until %s", k ? ", " : "",
			       json_string_value(json_object_get(l, "routerd")),
			       (long long)json_integer_value(
				       json_object_get(l, "amount")),
			       json_string_value(
				       json_object_get(l, "expires")));
		}
		printf("\n");
	}
	if (json_array_size(arr) == 0)
		printf("no quota leases: no routerd holds quota capacity\n");
}

int af_cli_quota_status(struct af_cli *cli, int argc, char **argv)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__QuotaStatusReq qr = AF__QUOTA_STATUS_REQ__INIT;
	Af__Response *resp;
	json_t *arr;
	int rc;

	if (argc != 1)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "quota status: unexpected \"%s\"", argv[1]);
	req.body_case = AF__REQUEST__BODY_QUOTA_STATUS;
	req.quota_status = &qr;
	if ((rc = af_cli_request(cli, &req, &resp)) != 0)
		return rc;
	arr = af_render_quotas(resp->quota_status);
	af__response__free_unpacked(resp, NULL);
	if (cli->output != AF_OUT_TABLE)
		return af_out_json(arr);
	print_table(arr);
	json_decref(arr);
	return 0;
}
