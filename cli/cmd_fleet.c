/* af fleet status [--watch]: every routerd the cluster has heard from. */
#include "cli/client.h"
#include "cli/output.h"
#include "cli/watch.h"
#include "render/render.h"

#include <stdio.h>
#include <string.h>

static int fleet_once(struct af_cli *cli, void *arg)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__FleetStatusReq fr = AF__FLEET_STATUS_REQ__INIT;
	Af__Response *resp;
	Af__FleetStatusResp *fs;
	json_t *arr;
	int rc;

	(void)arg;
	req.body_case = AF__REQUEST__BODY_FLEET_STATUS;
	req.fleet_status = &fr;
	if ((rc = af_cli_request(cli, &req, &resp)) != 0)
		return rc;
	fs = resp->fleet_status;
	arr = af_render_fleet(fs);
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

int af_cli_fleet_status(struct af_cli *cli, int argc, char **argv)
{
	return af_watch_verb(cli, argc, argv, "fleet status", fleet_once);
}
