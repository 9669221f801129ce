/* Private to routerd's sync side (sync.c, cache.c). */
#ifndef AF_ROUTERD_SYNC_INT_H
#define AF_ROUTERD_SYNC_INT_H

#include "routerd/routerd.h"

#define ROUTERD_CACHE_MAX (256u * 1024 * 1024)

/* Writes v to r->cache_dir/view.pb atomically. No-op without a cache dir.
 * Errors: AF_EIO, AF_ENOMEM. */
int routerd_cache_save(struct routerd *r, const struct routerd_view *v,
		       struct af_err *err);
/* Loads and verifies the cached view. AF_ENOTFOUND when there is none;
 * AF_ECORRUPT / AF_ECLUSTER for a file that must not be served. */
int routerd_cache_load(struct routerd *r, struct routerd_view **ret,
		       struct af_err *err);

#endif
