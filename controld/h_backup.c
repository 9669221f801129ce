/* `af backup list`: the backup files in the leader's backup dir, from the
 * listing backup.c keeps (no scan of the dir here unless it changed). */
#include "common/alloc.h"
#include "controld/backup.h"
#include "controld/handlers_int.h"

#include <stdio.h>
#include <string.h>

struct listing {
	char (*paths)[PATH_MAX + CONTROLD_BACKUP_NAME_MAX];
	Af__BackupFile *files;
	Af__BackupFile **ptrs;
};

static void listing_free(struct listing *l)
{
	af_free(l->paths);
	af_free(l->files);
	af_free(l->ptrs);
}

/* Room for the n rows found. */
static int listing_alloc(struct listing *l, size_t n)
{
	if (n == 0)
		return 0;
	l->paths = af_calloc(n, sizeof(*l->paths));
	l->files = af_calloc(n, sizeof(*l->files));
	l->ptrs = af_calloc(n, sizeof(*l->ptrs));
	return l->paths && l->files && l->ptrs ? 0 : AF_ENOMEM;
}

void controld_handle_backup_list(struct controld_job *j)
{
	const struct af_cluster_cfg *cfg = j->node->cfg;
	Af__Response resp = AF__RESPONSE__INIT;
	Af__BackupListResp bl = AF__BACKUP_LIST_RESP__INIT;
	const struct controld_backup_file *rows;
	struct listing l = {0};
	const char *last_error = "", *dir_error = "";
	size_t n = 0;

	/* An unreadable dir is what the list says, not a failure of the
	 * list: the next backup fails the same way. */
	rows = controld_backup_files(j->node, &n, &dir_error);
	if (listing_alloc(&l, n) != 0) {
		controld_job_fail(j, AF__CODE__INTERNAL,
				  "backup list: no memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		Af__BackupFile *f = &l.files[i];

		af__backup_file__init(f);
		snprintf(l.paths[i], sizeof(l.paths[i]), "%s/%s",
			 cfg->backup_dir, rows[i].name);
		f->file = l.paths[i];
		f->time_ms = rows[i].time_ms;
		f->index = rows[i].index;
		f->bytes = rows[i].bytes;
		f->verified = rows[i].verified;
		l.ptrs[i] = f;
	}
	if (cfg->backup) {
		bl.dir = (char *)cfg->backup_dir;
		bl.every_ms = cfg->backup_every_ms;
		bl.keep = cfg->backup_keep;
	}
	bl.files = l.ptrs;
	bl.n_files = n;
	controld_backup_status(j->node, &bl.last_success_ms, &last_error);
	bl.last_error = (char *)(last_error[0] ? last_error : dir_error);
	resp.body_case = AF__RESPONSE__BODY_BACKUP_LIST;
	resp.backup_list = &bl;
	controld_job_finish(j, &resp);
out:
	listing_free(&l);
}
