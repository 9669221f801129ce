/* Bundles, registries and views for simulate and test (replay.h). */
#include "cli/client.h"
#include "cli/replay.h"
#include "common/alloc.h"
#include "common/file.h"

#include <inttypes.h>
#include <string.h>

/* Reads and compiles a bundle (rb) or a registry (rr) file. */
static int compile_file(const char *path, struct af_bundle **rb,
			struct af_registry **rr)
{
	struct af_err err = {{0}};
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (af_read_file(path, AF_POLICY_MAX_BYTES, &buf, &len, &err) != 0)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE", "%s", err.msg);
	rc = rb != NULL ? af_bundle_compile(path, buf, len, rb, &err)
			: af_registry_compile(path, buf, len, rr, &err);
	af_free(buf);
	if (rc != 0)
		return af_cli_fail(AF_EXIT_REFUSED, "INVALID", "%s", err.msg);
	return 0;
}

int rp_bundle_file(const char *path, struct af_bundle **ret)
{
	return compile_file(path, ret, NULL);
}

int rp_registry(struct rp_env *e, const char *models_file)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__ModelListReq ml = AF__MODEL_LIST_REQ__INIT;
	struct af_err err = {{0}};
	Af__Response *resp;
	int rc;

	if (models_file != NULL)
		return compile_file(models_file, NULL, &e->registry);
	req.body_case = AF__REQUEST__BODY_MODEL_LIST;
	req.model_list = &ml;
	if ((rc = af_cli_request(e->cli, &req, &resp)) != 0)
		return rc;
	e->registry_revision = resp->model_list->registry_revision;
	rc = af_registry_load(resp->model_list->compiled.data,
			      resp->model_list->compiled.len, &e->registry,
			      &err);
	af__response__free_unpacked(resp, NULL);
	if (rc != 0)
		return af_cli_fail(AF_EXIT_UNAVAILABLE, "PROTOCOL", "%s",
				   err.msg);
	return 0;
}

int rp_fetch_revision(struct af_cli *cli, uint64_t rev,
		      struct af_bundle **ret_b, uint64_t *ret_rev)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__PolicyGetReq pg = AF__POLICY_GET_REQ__INIT;
	struct af_err err = {{0}};
	Af__Response *resp;
	int rc;

	pg.revision = rev;
	req.body_case = AF__REQUEST__BODY_POLICY_GET;
	req.policy_get = &pg;
	if ((rc = af_cli_request(cli, &req, &resp)) != 0)
		return rc;
	*ret_rev = resp->policy_get->revision->revision;
	rc = af_bundle_load(resp->policy_get->compiled.data,
			    resp->policy_get->compiled.len, ret_b, &err);
	af__response__free_unpacked(resp, NULL);
	if (rc != 0)
		return af_cli_fail(AF_EXIT_UNAVAILABLE, "PROTOCOL",
				   "revision %" PRIu64 ": %s", rev, err.msg);
	return 0;
}

int rp_view(struct rp_env *e, struct rp_bundle *rb, bool canary,
	    const struct af_policy_view **ret)
{
	struct af_policy_view_config cfg = {
		.stable = rb->b,
		.stable_revision = rb->revision,
		.registry = e->registry,
		.registry_revision = e->registry_revision,
	};
	struct af_err err = {{0}};
	int i = canary ? 1 : 0;

	if (rb->v[i] == NULL) {
		if (canary) {
			cfg.canary = rb->b;
			cfg.canary_revision = rb->revision;
			cfg.canary_weight_bp = 10000;
		}
		if (af_policy_view_new(&cfg, &rb->v[i], &err) != 0)
			return af_cli_fail(AF_EXIT_REFUSED, "INVALID", "%s",
					   err.msg);
	}
	*ret = rb->v[i];
	return 0;
}

int rp_baseline(struct rp_env *e, uint64_t rev, struct rp_bundle **ret)
{
	struct rp_bundle *rb;
	uint64_t got = 0;
	int rc;

	for (size_t i = 0; i < e->nbase; i++)
		if (e->base[i].revision == rev) {
			*ret = &e->base[i];
			return 0;
		}
	if (e->nbase == sizeof(e->base) / sizeof(e->base[0]))
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "the logs name more than %zu revisions: "
				   "give --baseline REV or --baseline-file",
				   e->nbase);
	rb = &e->base[e->nbase];
	memset(rb, 0, sizeof(*rb));
	if ((rc = rp_fetch_revision(e->cli, rev, &rb->b, &got)) != 0)
		return rc;
	rb->revision = got;
	e->nbase++;
	*ret = rb;
	return 0;
}

static void bundle_free(struct rp_bundle *rb)
{
	af_policy_view_free(rb->v[0]);
	af_policy_view_free(rb->v[1]);
	af_bundle_free(rb->b);
	memset(rb, 0, sizeof(*rb));
}

void rp_env_free(struct rp_env *e)
{
	bundle_free(&e->cand);
	for (size_t i = 0; i < e->nbase; i++)
		bundle_free(&e->base[i]);
	e->nbase = 0;
	af_registry_free(e->registry);
	e->registry = NULL;
}
