/* af backup list: the scheduled backups in the leader's backup dir. */
#include "cli/client.h"
#include "cli/output.h"

#include <stdio.h>
#include <string.h>

static json_t *file_json(const Af__BackupFile *f)
{
	json_t *o = json_object();
	char t[32];

	json_object_set_new(o, "file", json_string(f->file));
	json_object_set_new(o, "index", json_integer((json_int_t)f->index));
	json_object_set_new(o, "bytes", json_integer((json_int_t)f->bytes));
	json_object_set_new(o, "time", json_string(af_fmt_ms(f->time_ms, t)));
	json_object_set_new(o, "verified", json_boolean(f->verified));
	return o;
}

static void print_table(const Af__BackupListResp *bl)
{
	char t[32];

	if (bl->dir[0] == '\0') {
		printf("scheduled backups are off (no backup: section in the "
		       "cluster file)\n");
		return;
	}
	printf("%-8s %-10s %-20s %-8s %s\n", "INDEX", "BYTES", "TIME",
	       "VERIFIED", "FILE");
	for (size_t i = 0; i < bl->n_files; i++) {
		const Af__BackupFile *f = bl->files[i];

		printf("%-8llu %-10llu %-20s %-8s %s\n",
		       (unsigned long long)f->index,
		       (unsigned long long)f->bytes, af_fmt_ms(f->time_ms, t),
		       f->verified ? "yes" : "NO", f->file);
	}
	if (bl->n_files == 0)
		printf("no backup yet in %s\n", bl->dir);
	if (bl->last_error[0] != '\0')
		printf("last backup failed: %s\n", bl->last_error);
}

int af_cli_backup_list(struct af_cli *cli, int argc, char **argv)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__BackupListReq br = AF__BACKUP_LIST_REQ__INIT;
	Af__Response *resp;
	const Af__BackupListResp *bl;
	json_t *o, *arr;
	char t[32];
	int rc;

	if (argc > 1)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "backup list: unexpected \"%s\"", argv[1]);
	req.body_case = AF__REQUEST__BODY_BACKUP_LIST;
	req.backup_list = &br;
	if ((rc = af_cli_request(cli, &req, &resp)) != 0)
		return rc;
	bl = resp->backup_list;
	if (bl == NULL) {
		af__response__free_unpacked(resp, NULL);
		return af_cli_fail(AF_EXIT_UNAVAILABLE, "UNAVAILABLE",
				   "backup list: empty answer");
	}
	if (cli->output == AF_OUT_TABLE) {
		print_table(bl);
		af__response__free_unpacked(resp, NULL);
		return 0;
	}
	o = json_object();
	arr = json_array();
	for (size_t i = 0; i < bl->n_files; i++)
		json_array_append_new(arr, file_json(bl->files[i]));
	json_object_set_new(o, "dir",
			    bl->dir[0] ? json_string(bl->dir) : json_null());
	json_object_set_new(o, "every_ms",
			    json_integer((json_int_t)bl->every_ms));
	json_object_set_new(o, "keep", json_integer((json_int_t)bl->keep));
	json_object_set_new(o, "node", json_integer((json_int_t)resp->node_id));
	json_object_set_new(
		o, "last_success",
		bl->last_success_ms
			? json_string(af_fmt_ms(bl->last_success_ms, t))
			: json_null());
	json_object_set_new(o, "last_error",
			    bl->last_error[0] ? json_string(bl->last_error)
					      : json_null());
	json_object_set_new(o, "backups", arr);
	af__response__free_unpacked(resp, NULL);
	return af_out_json(o);
}
