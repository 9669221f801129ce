/* routerd's persisted view: the last good view, written atomically after
 * each activation and served at start before any controld answers (static
 * stability). The file holds canonical bytes and their hashes (the
 * shadow's too, when one runs); loading verifies them exactly as a Sync
 * would. */
#include "common/alloc.h"
#include "common/file.h"
#include "common/log.h"
#include "proto/af.pb-c.h"
#include "proto/alloc.h"
#include "routerd/sync_int.h"

#include <limits.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

static void cache_path(const struct routerd *r, char *out, size_t len)
{
	snprintf(out, len, "%s/view.pb", r->cache_dir);
}

/* b borrows the bundle's hash and bytes. */
static Af__SyncBundle *bundle(Af__SyncBundle *b, uint64_t revision,
			      const char *hash, const void *bytes, size_t len)
{
	b->revision = revision;
	b->hash = (char *)hash;
	b->compiled.data = (uint8_t *)bytes;
	b->compiled.len = len;
	return b;
}

int routerd_cache_save(struct routerd *r, const struct routerd_view *v,
		       struct af_err *err)
{
	Af__CachedView cv = AF__CACHED_VIEW__INIT;
	Af__SyncBundle st = AF__SYNC_BUNDLE__INIT, ca = AF__SYNC_BUNDLE__INIT,
		       sh = AF__SYNC_BUNDLE__INIT;
	char path[PATH_MAX];
	uint8_t *buf;
	size_t len;
	int rc;

	if (r->cache_dir == NULL)
		return 0;
	if ((rc = af_mkdir_p(r->cache_dir, err)) != 0)
		return rc;
	cv.cluster = (char *)r->cfg->name;
	cv.state_index = v->state_index;
	cv.stable = bundle(&st, v->stable_revision, v->stable_hash,
			   v->stable_bytes, v->stable_len);
	if (v->canary_len > 0) {
		cv.canary = bundle(&ca, v->canary_revision, v->canary_hash,
				   v->canary_bytes, v->canary_len);
		cv.canary_weight = v->canary_weight;
	}
	if (v->shadow_len > 0) {
		cv.shadow = bundle(&sh, v->shadow_revision, v->shadow_hash,
				   v->shadow_bytes, v->shadow_len);
		cv.shadow_sample_pct = v->shadow_sample_pct;
		cv.shadow_expires_ms = v->shadow_expires_ms;
	}
	cv.registry_revision = v->registry_revision;
	cv.registry.data = v->registry_bytes;
	cv.registry.len = v->registry_len;
	len = af__cached_view__get_packed_size(&cv);
	buf = af_malloc(len);
	if (buf == NULL)
		return af_errf(err, AF_ENOMEM, "cache: out of memory");
	af__cached_view__pack(&cv, buf);
	cache_path(r, path, sizeof(path));
	rc = af_write_file_atomic(path, buf, len, err);
	af_free(buf);
	return rc;
}

int routerd_cache_load(struct routerd *r, struct routerd_view **ret,
		       struct af_err *err)
{
	char path[PATH_MAX];
	Af__CachedView *cv;
	char *buf;
	size_t len;
	int rc;

	if (r->cache_dir == NULL)
		return AF_ENOTFOUND;
	cache_path(r, path, sizeof(path));
	rc = af_read_file(path, ROUTERD_CACHE_MAX, &buf, &len, err);
	if (rc == AF_EIO && access(path, F_OK) != 0)
		return AF_ENOTFOUND;
	if (rc != 0)
		return rc;
	cv = af__cached_view__unpack(&af_pb_allocator, len,
				     (const uint8_t *)buf);
	af_free(buf);
	if (cv == NULL || cv->stable == NULL)
		rc = af_errf(err, AF_ECORRUPT, "%s: not a cached view", path);
	else if (strcmp(cv->cluster, r->cfg->name) != 0)
		rc = af_errf(err, AF_ECLUSTER,
			     "%s: view of cluster \"%s\", not \"%s\"", path,
			     cv->cluster, r->cfg->name);
	else
		rc = routerd_view_build(
			cv->state_index, cv->stable->revision, cv->stable->hash,
			cv->stable->compiled.data, cv->stable->compiled.len,
			cv->canary ? cv->canary->revision : 0,
			cv->canary ? cv->canary->hash : "",
			cv->canary ? cv->canary->compiled.data : NULL,
			cv->canary ? cv->canary->compiled.len : 0,
			cv->canary_weight, cv->registry_revision,
			cv->registry.data, cv->registry.len, ret, err);
	if (rc == 0 && cv->shadow != NULL) {
		struct af_err serr = {{0}};

		/* Optional: a shadow that does not verify is left out, the
		 * view is served without it. */
		if (routerd_view_set_shadow(
			    *ret, cv->shadow->revision, cv->shadow->hash,
			    cv->shadow->compiled.data, cv->shadow->compiled.len,
			    cv->shadow_sample_pct, cv->shadow_expires_ms,
			    &serr) != 0)
			log_warn("event=cache_shadow_dropped error=\"%s\"",
				 serr.msg);
	}
	if (cv)
		af__cached_view__free_unpacked(cv, NULL);
	if (rc != 0 && rc != AF_ECLUSTER && rc != AF_ENOMEM)
		return af_err_wrap(err, AF_ECORRUPT, "cache");
	return rc;
}
