/* `af backup list`: the backup files in the leader's backup dir. */
#include "common/alloc.h"
#include "controld/backup.h"
#include "controld/handlers_int.h"

#include <stdio.h>
#include <string.h>

struct listing {
	char (*names)[CONTROLD_BACKUP_NAME_MAX];
	char (*paths)[PATH_MAX + CONTROLD_BACKUP_NAME_MAX];
	Af__BackupFile *files;
	Af__BackupFile **ptrs;
};

static void listing_free(struct listing *l)
{
	af_free(l->names);
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

/* One row: name, index and time from the name, bytes from the file. */
static void describe(const char *dir, const char *name, char *path,
		     size_t pathlen, Af__BackupFile *f)
{
	uint64_t bytes = 0;

	af__backup_file__init(f);
	snprintf(path, pathlen, "%s/%s", dir, name);
	f->file = path;
	controld_backup_parse_name(name, &f->time_ms, &f->index);
	/* Only files that passed verification get this name; a file whose
	 * size no longer matches its trailer has been damaged since. */
	f->verified = af_store_snapshot_peek(path, &bytes, NULL) == 0;
	f->bytes = bytes;
}

void controld_handle_backup_list(struct controld_job *j)
{
	const struct af_cluster_cfg *cfg = j->node->cfg;
	Af__Response resp = AF__RESPONSE__INIT;
	Af__BackupListResp bl = AF__BACKUP_LIST_RESP__INIT;
	struct listing l = {0};
	struct af_err err = {{0}};
	const char *last_error = "";
	size_t n = 0;

	if (cfg->backup) {
		l.names = af_calloc(AF_BACKUP_MAX_KEEP, sizeof(*l.names));
		if (l.names == NULL) {
			controld_job_fail(j, AF__CODE__INTERNAL,
					  "backup list: no memory");
			goto out;
		}
		/* An unreadable dir is what the list says, not a failure of
		 * the list: the next backup fails the same way. */
		if (controld_backup_scan(cfg->backup_dir, l.names,
					 AF_BACKUP_MAX_KEEP, &n, &err) != 0)
			n = 0;
		if (listing_alloc(&l, n) != 0) {
			controld_job_fail(j, AF__CODE__INTERNAL,
					  "backup list: no memory");
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			describe(cfg->backup_dir, l.names[i], l.paths[i],
				 sizeof(l.paths[i]), &l.files[i]);
			l.ptrs[i] = &l.files[i];
		}
		bl.dir = (char *)cfg->backup_dir;
		bl.every_ms = cfg->backup_every_ms;
		bl.keep = cfg->backup_keep;
	}
	bl.files = l.ptrs;
	bl.n_files = n;
	controld_backup_status(j->node, &bl.last_success_ms, &last_error);
	bl.last_error = (char *)(last_error[0] ? last_error : err.msg);
	resp.body_case = AF__RESPONSE__BODY_BACKUP_LIST;
	resp.backup_list = &bl;
	controld_job_finish(j, &resp);
out:
	listing_free(&l);
}
