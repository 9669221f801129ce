/*
 * Scheduled backups (cluster file `backup:`) and the snapshot check behind
 * `controld --verify-snapshot`.
 *
 * The leader takes a backup every `every`: on the loop thread it opens a
 * store view and keeps its copy of the pages (one memcpy); on a worker it
 * writes them to a temporary file in `dir` with a SHA-256 of every byte,
 * fsyncs it, verifies it with the same code as --verify-snapshot, renames
 * it to backup-<UTC time>-<index>.db, fsyncs the dir and prunes the oldest
 * files (by index) beyond `keep`. At most one backup is in flight.
 */
#ifndef AF_CONTROLD_BACKUP_H
#define AF_CONTROLD_BACKUP_H

#include "common/err.h"
#include "common/metrics.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct controld_node;
struct controld_job;

/* `controld --verify-snapshot FILE`: prints one key=value line on out (or
 * the cause on errf) and returns the exit code (0 ok, 1 damaged or
 * unreadable). */
int controld_verify_snapshot_main(const char *path, FILE *out, FILE *errf);

/* Sets up n->backup when the cluster file has a backup section (creates
 * the dir). Loop thread, before the HTTP server starts. Errors: AF_EIO,
 * AF_ENOMEM. */
int controld_backup_start(struct controld_node *n, struct af_err *err);
/* Loop thread, every tick: starts a backup when this node leads and one
 * is due. */
void controld_backup_tick(struct controld_node *n, uint64_t now_ms);
/* After the loop has stopped (no backup in flight). Accepts NULL. */
void controld_backup_free(struct controld_node *n);
/* /metrics (HTTP thread): the af_backup_* series. */
void controld_backup_metrics(struct controld_node *n, struct af_textbuf *b);

/* This node's last successful backup (Unix ms, 0: none) and last error
 * ("" when the last one succeeded); borrowed. Loop thread. */
void controld_backup_status(const struct controld_node *n, int64_t *ret_last_ms,
			    const char **ret_error);

/* One backup file of the listing. */
#define CONTROLD_BACKUP_NAME_MAX 80
struct controld_backup_file {
	char name[CONTROLD_BACKUP_NAME_MAX];
	int64_t time_ms;
	uint64_t index, bytes;
	bool verified; /* its size matched its trailer when listed */
};
/* The listing `af backup list` answers with, oldest first (borrowed,
 * until the next call or the next backup; NULL without a backup section)
 * and the error that kept the dir from being read ("" none). Kept from
 * the scan after each backup (on the worker) and at start; scanned again
 * here only when the dir changed since (files removed or added by hand):
 * one stat otherwise. Loop thread. */
const struct controld_backup_file *
controld_backup_files(struct controld_node *n, size_t *ret_n,
		      const char **ret_error);

/* h_backup.c: `af backup list` (loop thread). */
void controld_handle_backup_list(struct controld_job *j);

/* The backup files in dir, oldest first (by Raft index, then time: the
 * index grows across leaders whose clocks disagree): names (not paths) into
 * names, at most max; *ret_n their number. Errors: AF_EIO (err says why). */
int controld_backup_scan(const char *dir,
			 char (*names)[CONTROLD_BACKUP_NAME_MAX], size_t max,
			 size_t *ret_n, struct af_err *err);
/* Deletes the oldest backup files in dir beyond the newest keep, never
 * the one named written (the backup just taken), and returns how many. */
unsigned controld_backup_prune(const char *dir, unsigned keep,
			       const char *written);
/* Parses a backup file name into its time (Unix ms) and index. Returns 0
 * or AF_EINVAL. */
int controld_backup_parse_name(const char *name, int64_t *ret_time_ms,
			       uint64_t *ret_index);

#endif
