/* Whole-file helpers. Thread-safe. */
#ifndef AF_COMMON_FILE_H
#define AF_COMMON_FILE_H

#include "common/err.h"

#include <stddef.h>

/* Reads a whole file of at most max bytes ("-" is stdin). On success
 * *ret_buf is owned by the caller (af_free) and NUL-terminated.
 * Errors: AF_EIO (with errno text), AF_ETOOBIG, AF_ENOMEM. */
int af_read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len,
		 struct af_err *err);
/* Writes buf to path atomically: temp file in the same dir, fsync, rename,
 * fsync of the dir. Returns 0, AF_EIO. */
int af_write_file_atomic(const char *path, const void *buf, size_t len,
			 struct af_err *err);
/* Creates a directory and its parents (mode 0700 for new ones). */
int af_mkdir_p(const char *path, struct af_err *err);
/* Resolves `rel` against the directory of `base_file` into out. Absolute
 * rel is copied. Returns 0 or AF_ETOOBIG. */
int af_path_resolve(const char *base_file, const char *rel, char *out,
		    size_t outlen);
/* fsync()s a directory. */
int af_fsync_dir(const char *dir);

#endif
