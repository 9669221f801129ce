/* Apply of the model registry: ModelApply (upserts only what changed),
 * ModelSetStatus, ModelDelete; each change bumps the registry revision. */
#include "common/alloc.h"
#include "controld/fsm_int.h"
#include "controld/state.h"
#include "proto/af.pb-c.h"
#include "proto/policy.pb-c.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------- models */

static int bump_registry(struct af_txn *t, struct apply_ctx *c)
{
	uint64_t next = af_state_registry_revision(t) + 1;

	c->res->registry_revision = next;
	return af_state_set_registry_revision(t, next);
}

/* Upserts one model; counts it in *changed when the stored bytes differ. */
static int put_model_if_changed(struct af_txn *t, const Af__Policy__Model *m,
				size_t *changed)
{
	size_t len = af__policy__model__get_packed_size(m), vlen;
	const void *v;
	uint8_t *buf;
	int rc;

	if (af_txn_get(t, AF_TABLE_MODELS, m->id, strlen(m->id), &v, &vlen) ==
		    0 &&
	    vlen == len) {
		buf = af_malloc(len ? len : 1);
		if (buf == NULL)
			return AF_ENOMEM;
		af__policy__model__pack(m, buf);
		rc = memcmp(buf, v, len);
		af_free(buf);
		if (rc == 0)
			return 0;
	}
	(*changed)++;
	return af_txn_put_msg(t, AF_TABLE_MODELS, m->id, strlen(m->id),
			      &m->base);
}

int af_fsm_apply_models(struct af_txn *t, struct apply_ctx *c)
{
	const Af__ModelApply *ma = c->cmd->model_apply;
	Af__Policy__Registry *reg;
	size_t changed = 0;
	int rc = 0;

	c->verb = "model.apply";
	reg = af_fsm_unpack(&af__policy__registry__descriptor, ma->compiled.len,
			    ma->compiled.data);
	if (reg == NULL) {
		af_fsm_resultf(c->res, AF__CODE__INVALID,
			       "compiled registry does not decode");
		return 0;
	}
	snprintf(c->target, sizeof(c->target), "%zu models", reg->n_models);
	for (size_t i = 0; i < reg->n_models && rc == 0; i++) {
		const Af__Policy__Model *m = reg->models[i];

		rc = put_model_if_changed(t, m, &changed);
	}
	protobuf_c_message_free_unpacked(&reg->base, NULL);
	if (rc != 0)
		return rc;
	if (changed == 0) {
		/* Identical to what the registry holds: no new revision. */
		c->res->registry_revision = af_state_registry_revision(t);
		c->res->unchanged = true;
		af_fsm_resultf(c->res, AF__CODE__UNCHANGED, "unchanged");
		return 0;
	}
	if ((rc = bump_registry(t, c)) == 0)
		af_fsm_resultf(c->res, AF__CODE__OK, "applied");
	return rc;
}

static int status_of(const char *s, Af__Policy__Status *ret)
{
	if (strcmp(s, "active") == 0)
		*ret = AF__POLICY__STATUS__STATUS_ACTIVE;
	else if (strcmp(s, "deprecated") == 0)
		*ret = AF__POLICY__STATUS__STATUS_DEPRECATED;
	else if (strcmp(s, "disabled") == 0)
		*ret = AF__POLICY__STATUS__STATUS_DISABLED;
	else
		return AF_EINVAL;
	return 0;
}

int af_fsm_apply_model_status(struct af_txn *t, struct apply_ctx *c)
{
	const Af__ModelSetStatus *ms = c->cmd->model_set_status;
	Af__Policy__Model *m;
	Af__Policy__Status st;
	int rc;

	c->verb = "model.status";
	snprintf(c->target, sizeof(c->target), "%.100s %.16s", ms->id,
		 ms->status);
	if (status_of(ms->status, &st) != 0) {
		af_fsm_resultf(c->res, AF__CODE__INVALID,
			       "status must be active, deprecated or disabled");
		return 0;
	}
	rc = af_txn_get_msg(t, AF_TABLE_MODELS, ms->id, strlen(ms->id),
			    &af__policy__model__descriptor,
			    (ProtobufCMessage **)&m);
	if (rc == AF_ENOTFOUND || (rc == AF_EINVAL && ms->id[0] == '\0')) {
		af_fsm_resultf(c->res, AF__CODE__NOT_FOUND,
			       "no model \"%.100s\"", ms->id);
		return 0;
	}
	if (rc != 0)
		return rc;
	m->status = st;
	rc = af_txn_put_msg(t, AF_TABLE_MODELS, ms->id, strlen(ms->id),
			    &m->base);
	protobuf_c_message_free_unpacked(&m->base, NULL);
	if (rc == 0)
		rc = bump_registry(t, c);
	if (rc == 0)
		af_fsm_resultf(c->res, AF__CODE__OK, "%s", ms->status);
	return rc;
}

int af_fsm_apply_model_delete(struct af_txn *t, struct apply_ctx *c)
{
	const Af__ModelDelete *md = c->cmd->model_delete;
	int rc;

	c->verb = "model.delete";
	snprintf(c->target, sizeof(c->target), "%.100s", md->id);
	rc = md->id[0] ? af_txn_del(t, AF_TABLE_MODELS, md->id, strlen(md->id))
		       : AF_ENOTFOUND;
	if (rc == AF_ENOTFOUND) {
		af_fsm_resultf(c->res, AF__CODE__NOT_FOUND,
			       "no model \"%.100s\"", md->id);
		return 0;
	}
	if (rc == 0)
		rc = bump_registry(t, c);
	if (rc == 0)
		af_fsm_resultf(c->res, AF__CODE__OK, "deleted");
	return rc;
}
