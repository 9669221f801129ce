/* af fleet status: every routerd the cluster has heard from. */
#include "cli/client.h"
#include "cli/output.h"

#include <stdio.h>
#include <string.h>

/* The emergency override set the routerd enforces: the cluster set's
 * version and its --override-file's hash (null: none). */
static json_t *overrides_json(const Af__FleetReport *f)
{
	json_t *o = json_object();

	json_object_set_new(o, "version",
			    json_integer((json_int_t)f->override_version));
	json_object_set_new(o, "file",
			    f->override_file[0] ? json_string(f->override_file)
						: json_null());
	return o;
}

static json_t *entry_json(const Af__FleetEntry *e)
{
	const Af__FleetReport *f = e->record->last;
	json_t *o = json_object();
	char t[32];

	json_object_set_new(o, "id", json_string(f->routerd_id));
	json_object_set_new(o, "revision",
			    json_integer((json_int_t)f->stable_revision));
	json_object_set_new(o, "hash", json_string(f->stable_hash));
	json_object_set_new(o, "canary_revision",
			    json_integer((json_int_t)f->canary_revision));
	json_object_set_new(o, "canary_hash", json_string(f->canary_hash));
	json_object_set_new(o, "registry_revision",
			    json_integer((json_int_t)f->registry_revision));
	json_object_set_new(o, "overrides", overrides_json(f));
	json_object_set_new(o, "state", json_string(e->state));
	json_object_set_new(o, "last_seen",
			    json_string(af_fmt_ms(e->record->last_seen_ms, t)));
	if (f->nack)
		json_object_set_new(o, "reason", json_string(f->reason));
	return o;
}

int af_cli_fleet_status(struct af_cli *cli, int argc, char **argv)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__FleetStatusReq fr = AF__FLEET_STATUS_REQ__INIT;
	Af__Response *resp;
	Af__FleetStatusResp *fs;
	json_t *arr;
	int rc;

	if (argc > 1)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "fleet status: unexpected \"%s\"", argv[1]);
	req.body_case = AF__REQUEST__BODY_FLEET_STATUS;
	req.fleet_status = &fr;
	if ((rc = af_cli_request(cli, &req, &resp)) != 0)
		return rc;
	fs = resp->fleet_status;
	arr = json_array();
	for (size_t i = 0; fs && i < fs->n_entries; i++)
		json_array_append_new(arr, entry_json(fs->entries[i]));
	if (cli->output != AF_OUT_TABLE) {
		af__response__free_unpacked(resp, NULL);
		return af_out_json(arr);
	}
	printf("%-28s %-8s %-4s %-20s %-4s %-10s %-20s %s\n", "ID", "STATE",
	       "REV", "HASH", "REG", "OVERRIDES", "LAST SEEN", "AGO");
	for (size_t i = 0; fs && i < fs->n_entries; i++) {
		const Af__FleetEntry *e = fs->entries[i];
		const Af__FleetReport *f = e->record->last;
		char t[32], ov[32];

		snprintf(ov, sizeof(ov), "v%llu%s",
			 (unsigned long long)f->override_version,
			 f->override_file[0] ? "+file" : "");
		printf("%-28s %-8s %-4llu %-20.20s %-4llu %-10s %-20s "
		       "%llds%s%s\n",
		       f->routerd_id, e->state,
		       (unsigned long long)f->stable_revision, f->stable_hash,
		       (unsigned long long)f->registry_revision, ov,
		       af_fmt_ms(e->record->last_seen_ms, t),
		       (long long)((fs->now_ms - e->record->last_seen_ms) /
				   1000),
		       f->nack ? "  " : "", f->nack ? f->reason : "");
	}
	if (fs == NULL || fs->n_entries == 0)
		printf("no routerd has reported yet\n");
	af__response__free_unpacked(resp, NULL);
	json_decref(arr);
	return 0;
}
