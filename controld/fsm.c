/* The replicated state machine over store/: see fsm.h. */
#include "controld/fsm.h"
#include "controld/consensus.h"
#include "controld/fsm_int.h"
#include "controld/rollout.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/satarith.h"
#include "common/timeutil.h"
#include "proto/af.pb-c.h"
#include "proto/policy.pb-c.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENTRY_HDR 4u
#define MAX_ENTRY (32u * 1024 * 1024)
#define MAX_AUDIT_DETAIL 200

static const char *code_name(int code)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
		&af__code__descriptor, code);
	return v ? v->name : "INTERNAL";
}

/* ---------------------------------------------------------- revisions */

static int get_revision(struct af_txn *t, uint64_t rev, Af__Revision **ret)
{
	uint8_t key[8];

	af_store_key_u64(rev, key);
	return af_txn_get_msg(t, AF_TABLE_REVISIONS, key, sizeof(key),
			      &af__revision__descriptor,
			      (ProtobufCMessage **)ret);
}

static int put_revision(struct af_txn *t, const Af__Revision *r)
{
	uint8_t key[8];

	af_store_key_u64(r->revision, key);
	return af_txn_put_msg(t, AF_TABLE_REVISIONS, key, sizeof(key),
			      &r->base);
}

/* Sets the state of revision `rev` (if it exists). */
static int set_revision_state(struct af_txn *t, uint64_t rev, const char *state)
{
	Af__Revision *r;
	char *old;
	int rc;

	if (rev == 0)
		return 0;
	rc = get_revision(t, rev, &r);
	if (rc == AF_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	old = r->state;
	r->state = (char *)state;
	if (strcmp(state, "stable") == 0)
		r->ever_stable = 1;
	rc = put_revision(t, r);
	r->state = old;
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return rc;
}

/* Hash of revision `rev` into out (empty when absent). */
static int revision_hash(struct af_txn *t, uint64_t rev, char *out,
			 size_t outlen)
{
	Af__Revision *r;
	int rc;

	out[0] = '\0';
	if (rev == 0)
		return 0;
	rc = get_revision(t, rev, &r);
	if (rc == AF_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	snprintf(out, outlen, "%s", r->hash);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return 0;
}

static int store_bundle(struct af_txn *t, const Af__PolicyApply *pa)
{
	Af__StoredBundle sb = AF__STORED_BUNDLE__INIT;
	const void *v;
	size_t vlen;

	if (af_txn_get(t, AF_TABLE_BUNDLES, pa->hash, strlen(pa->hash), &v,
		       &vlen) == 0)
		return 0; /* content-addressed: already there */
	sb.hash = pa->hash;
	sb.source = pa->source;
	sb.compiled = pa->compiled;
	return af_txn_put_msg(t, AF_TABLE_BUNDLES, pa->hash, strlen(pa->hash),
			      &sb.base);
}

/* Starts the step timer: the gates judge usage from here on. */
static int start_step(struct af_txn *t, struct af_rollout *ro, int64_t now)
{
	int rc;

	ro->step_started_ms = now;
	if ((rc = af_usage_get(t, ro->stable, &ro->stable_base)) != 0)
		return rc;
	return af_usage_get(t, ro->canary, &ro->canary_base);
}

static void end_canary(struct af_rollout *ro)
{
	ro->canary = 0;
	ro->weight = 0;
	ro->paused = false;
	ro->nsteps = 0;
	ro->step_index = -1;
	ro->interval_ms = 0;
	memset(&ro->gates, 0, sizeof(ro->gates));
}

static int start_canary(struct af_txn *t, struct apply_ctx *c,
			struct af_rollout *ro, const Af__PolicyApply *pa,
			uint64_t next)
{
	ro->canary = next;
	ro->paused = false;
	ro->nsteps = 0;
	for (size_t i = 0; i < pa->n_steps && i < AF_MAX_STEPS; i++)
		ro->steps[ro->nsteps++] = pa->steps[i];
	ro->step_index = ro->nsteps ? 0 : -1;
	ro->weight = ro->nsteps ? ro->steps[0] : pa->canary_weight;
	ro->interval_ms = pa->interval_ms ? pa->interval_ms : 60000;
	memset(&ro->gates, 0, sizeof(ro->gates));
	if (pa->gates) {
		ro->gates.max_error_delta_ppm = pa->gates->max_error_delta_ppm;
		ro->gates.max_latency_ratio_ppm =
			pa->gates->max_latency_ratio_ppm;
		ro->gates.max_cost_ratio_ppm = pa->gates->max_cost_ratio_ppm;
		ro->gates.min_samples = pa->gates->min_samples;
	}
	ro->started_ms = c->cmd->time_ms;
	snprintf(ro->verdict, sizeof(ro->verdict), "started");
	return start_step(t, ro, c->cmd->time_ms);
}

static int check_canary_args(struct apply_ctx *c, const Af__PolicyApply *pa,
			     const struct af_rollout *ro)
{
	bool canary = pa->canary_weight > 0 || pa->n_steps > 0;

	if (canary && ro->canary != 0) {
		af_fsm_resultf(c->res, AF__CODE__ROLLOUT_STATE,
			       "canary revision %llu is running: promote or "
			       "abort it first",
			       (unsigned long long)ro->canary);
		return 1;
	}
	if (canary && ro->stable == 0) {
		af_fsm_resultf(
			c->res, AF__CODE__ROLLOUT_STATE,
			"no stable revision yet: apply one without a canary "
			"first");
		return 1;
	}
	if (pa->canary_weight > 100 || pa->n_steps > AF_MAX_STEPS) {
		af_fsm_resultf(c->res, AF__CODE__INVALID,
			       "canary weight must be 1-100, at most %d steps",
			       AF_MAX_STEPS);
		return 1;
	}
	for (size_t i = 0; i < pa->n_steps; i++)
		if (pa->steps[i] < 1 || pa->steps[i] > 100 ||
		    (i > 0 && pa->steps[i] <= pa->steps[i - 1])) {
			af_fsm_resultf(c->res, AF__CODE__INVALID,
				       "steps must rise within 1-100");
			return 1;
		}
	return 0;
}

/* A signed bundle's serial must be above every serial accepted before
 * for that bundle name: an old signed bundle cannot be applied again.
 * Returns 1 (refused, result set), 0, or a storage error. */
static int check_serial(struct af_txn *t, struct apply_ctx *c,
			const Af__PolicyApply *pa)
{
	char key[96];
	uint64_t last;

	if (pa->signature.len == 0)
		return 0;
	snprintf(key, sizeof(key), "sigserial/%.80s", pa->name);
	last = af_txn_meta_u64(t, key);
	if (pa->serial <= last) {
		af_fsm_resultf(c->res, AF__CODE__CONFLICT,
			       "replayed or older signed bundle: serial %llu, "
			       "but %llu was already accepted for %.64s",
			       (unsigned long long)pa->serial,
			       (unsigned long long)last, pa->name);
		return 1;
	}
	return af_txn_set_meta_u64(t, key, pa->serial);
}

static int apply_policy(struct af_txn *t, struct apply_ctx *c)
{
	const Af__PolicyApply *pa = c->cmd->policy_apply;
	Af__Revision rev = AF__REVISION__INIT;
	bool canary = pa->canary_weight > 0 || pa->n_steps > 0;
	struct af_rollout ro;
	char stable_hash[AF_HASH_STR_LEN];
	uint64_t next;
	int rc;

	c->verb = canary ? "canary.start" : "policy.apply";
	snprintf(c->target, sizeof(c->target), "%.64s %.72s", pa->name,
		 pa->hash);
	if ((rc = af_rollout_get(t, &ro)) != 0 ||
	    (rc = revision_hash(t, ro.stable, stable_hash,
				sizeof(stable_hash))) != 0)
		return rc;
	if (!canary && ro.canary == 0 && strcmp(stable_hash, pa->hash) == 0) {
		c->res->revision = ro.stable;
		c->res->unchanged = true;
		snprintf(c->res->hash, sizeof(c->res->hash), "%s", pa->hash);
		snprintf(c->res->state, sizeof(c->res->state), "stable");
		af_fsm_resultf(c->res, AF__CODE__UNCHANGED, "unchanged");
		return 0;
	}
	if (check_canary_args(c, pa, &ro) != 0 ||
	    (rc = check_serial(t, c, pa)) != 0)
		return rc > 0 ? 0 : rc;
	next = af_txn_meta_u64(t, "policy_revision") + 1;
	if ((rc = store_bundle(t, pa)) != 0 ||
	    (rc = af_txn_set_meta_u64(t, "policy_revision", next)) != 0)
		return rc;
	rev.revision = next;
	rev.hash = pa->hash;
	rev.author = c->cmd->principal;
	rev.time_ms = c->cmd->time_ms;
	rev.message = pa->message;
	rev.name = pa->name;
	rev.key_id = pa->key_id;
	rev.serial = pa->serial;
	rev.signature = pa->signature;
	if (canary) {
		rev.state = (char *)"canary";
		if ((rc = start_canary(t, c, &ro, pa, next)) != 0)
			return rc;
	} else {
		/* A direct apply replaces the stable and ends any canary. */
		rev.state = (char *)"stable";
		rev.ever_stable = 1;
		if ((rc = set_revision_state(t, ro.stable, "superseded")) !=
			    0 ||
		    (rc = set_revision_state(t, ro.canary, "aborted")) != 0)
			return rc;
		ro.stable = next;
		end_canary(&ro);
	}
	if ((rc = put_revision(t, &rev)) != 0 ||
	    (rc = af_rollout_put(t, &ro)) != 0)
		return rc;
	c->res->revision = next;
	snprintf(c->res->hash, sizeof(c->res->hash), "%s", pa->hash);
	snprintf(c->res->state, sizeof(c->res->state), "%s", rev.state);
	af_fsm_resultf(c->res, AF__CODE__OK, "applied");
	return 0;
}

/* The newest revision below `below` that was stable once. */
struct find_prev {
	uint64_t below, found;
};

static int find_prev_stable(const void *key, size_t klen, const void *val,
			    size_t vlen, void *arg)
{
	struct find_prev *fp = arg;
	Af__Revision *r;
	uint64_t rev;
	int hit;

	(void)klen;
	rev = af_store_u64_of_key(key);
	if (rev >= fp->below)
		return 0;
	r = af__revision__unpack(NULL, vlen, val);
	if (r == NULL)
		return AF_ECORRUPT;
	hit = r->ever_stable && strcmp(r->state, "superseded") == 0;
	protobuf_c_message_free_unpacked(&r->base, NULL);
	if (hit) {
		fp->found = rev;
		return 1;
	}
	return 0;
}

static int apply_rollback(struct af_txn *t, struct apply_ctx *c)
{
	const Af__PolicyRollback *pr = c->cmd->policy_rollback;
	struct find_prev fp = {0};
	struct af_rollout ro;
	Af__Revision *target;
	uint64_t to = pr->to_revision;
	int rc;

	c->verb = "policy.rollback";
	if ((rc = af_rollout_get(t, &ro)) != 0)
		return rc;
	/* During a canary, a bare rollback undoes the change being rolled
	 * out: the canary is aborted and the stable stays. */
	if (to == 0 && ro.canary != 0)
		to = ro.stable;
	if (to == 0) {
		fp.below = ro.stable;
		rc = af_txn_iter(t, AF_TABLE_REVISIONS, true, find_prev_stable,
				 &fp);
		if (rc < 0)
			return rc;
		to = fp.found;
		if (to == 0) {
			af_fsm_resultf(
				c->res, AF__CODE__NOT_FOUND,
				"no previous stable revision to roll back "
				"to");
			return 0;
		}
	}
	snprintf(c->target, sizeof(c->target), "revision %llu",
		 (unsigned long long)to);
	rc = get_revision(t, to, &target);
	if (rc == AF_ENOTFOUND) {
		af_fsm_resultf(c->res, AF__CODE__NOT_FOUND,
			       "revision %llu does not exist",
			       (unsigned long long)to);
		return 0;
	}
	if (rc != 0)
		return rc;
	snprintf(c->res->hash, sizeof(c->res->hash), "%s", target->hash);
	protobuf_c_message_free_unpacked(&target->base, NULL);
	if (to == ro.stable && ro.canary == 0) {
		c->res->revision = to;
		c->res->unchanged = true;
		snprintf(c->res->state, sizeof(c->res->state), "stable");
		af_fsm_resultf(c->res, AF__CODE__OK, "already stable");
		return 0;
	}
	if ((rc = set_revision_state(t, ro.canary, "aborted")) != 0)
		return rc;
	if (to != ro.stable &&
	    (rc = set_revision_state(t, ro.stable, "superseded")) != 0)
		return rc;
	if ((rc = set_revision_state(t, to, "stable")) != 0)
		return rc;
	ro.stable = to;
	end_canary(&ro);
	snprintf(ro.verdict, sizeof(ro.verdict), "aborted by rollback");
	if ((rc = af_rollout_put(t, &ro)) != 0)
		return rc;
	c->res->revision = to;
	snprintf(c->res->state, sizeof(c->res->state), "stable");
	af_fsm_resultf(c->res, AF__CODE__OK, "rolled back");
	return 0;
}

/* ------------------------------------------------------------- models */

static int bump_registry(struct af_txn *t, struct apply_ctx *c)
{
	uint64_t next = af_txn_meta_u64(t, "registry_revision") + 1;

	c->res->registry_revision = next;
	return af_txn_set_meta_u64(t, "registry_revision", next);
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

static int apply_models(struct af_txn *t, struct apply_ctx *c)
{
	const Af__ModelApply *ma = c->cmd->model_apply;
	Af__Policy__Registry *reg;
	size_t changed = 0;
	int rc = 0;

	c->verb = "model.apply";
	reg = af__policy__registry__unpack(NULL, ma->compiled.len,
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
		c->res->registry_revision =
			af_txn_meta_u64(t, "registry_revision");
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

static int apply_model_status(struct af_txn *t, struct apply_ctx *c)
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

static int apply_model_delete(struct af_txn *t, struct apply_ctx *c)
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

/* ------------------------------------------------------------ rollout */

static const char *action_verb(Af__RolloutControl__Action a)
{
	switch (a) {
	case AF__ROLLOUT_CONTROL__ACTION__SET_WEIGHT:
		return "canary.set_weight";
	case AF__ROLLOUT_CONTROL__ACTION__PROMOTE:
		return "canary.promote";
	case AF__ROLLOUT_CONTROL__ACTION__PROMOTE_FULL:
		return "canary.promote_full";
	case AF__ROLLOUT_CONTROL__ACTION__ABORT:
		return "canary.abort";
	case AF__ROLLOUT_CONTROL__ACTION__PAUSE:
		return "canary.pause";
	case AF__ROLLOUT_CONTROL__ACTION__RESUME:
		return "canary.resume";
	case AF__ROLLOUT_CONTROL__ACTION__ADVANCE:
		return "canary.advance";
	case AF__ROLLOUT_CONTROL__ACTION__AUTO_ABORT:
		return "canary.auto_abort";
	default:
		return "canary.unknown";
	}
}

/* The canary becomes the stable revision. */
static int promote_full(struct af_txn *t, struct af_rollout *ro)
{
	int rc;

	if ((rc = set_revision_state(t, ro->stable, "superseded")) != 0 ||
	    (rc = set_revision_state(t, ro->canary, "stable")) != 0)
		return rc;
	ro->stable = ro->canary;
	end_canary(ro);
	return 0;
}

/* Next step, or promotion after the last one. */
static int next_step(struct af_txn *t, struct apply_ctx *c,
		     struct af_rollout *ro, bool *ret_promoted)
{
	*ret_promoted = false;
	if (ro->step_index >= 0 && (size_t)ro->step_index + 1 < ro->nsteps) {
		ro->step_index++;
		ro->weight = ro->steps[ro->step_index];
		return start_step(t, ro, c->cmd->time_ms);
	}
	*ret_promoted = true;
	return promote_full(t, ro);
}

static int rollout_guard(struct apply_ctx *c, const Af__RolloutControl *rc,
			 const struct af_rollout *ro)
{
	if (ro->canary == 0) {
		af_fsm_resultf(c->res, AF__CODE__ROLLOUT_STATE,
			       "no canary is running");
		return 1;
	}
	if ((rc->canary_revision && rc->canary_revision != ro->canary) ||
	    (rc->expected_step >= 0 && rc->expected_step != ro->step_index)) {
		af_fsm_resultf(c->res, AF__CODE__CONFLICT,
			       "the rollout moved on (canary %llu, step %d)",
			       (unsigned long long)ro->canary, ro->step_index);
		return 1;
	}
	return 0;
}

static int apply_rollout(struct af_txn *t, struct apply_ctx *c)
{
	const Af__RolloutControl *rc = c->cmd->rollout;
	struct af_rollout ro;
	bool promoted = false;
	uint64_t canary;
	int err;

	c->verb = action_verb(rc->action);
	if ((err = af_rollout_get(t, &ro)) != 0)
		return err;
	canary = ro.canary;
	snprintf(c->target, sizeof(c->target), "revision %llu",
		 (unsigned long long)canary);
	if (rollout_guard(c, rc, &ro) != 0)
		return 0;
	switch (rc->action) {
	case AF__ROLLOUT_CONTROL__ACTION__SET_WEIGHT:
		if (rc->weight > 100) {
			af_fsm_resultf(c->res, AF__CODE__INVALID,
				       "weight must be 0-100");
			return 0;
		}
		ro.weight = rc->weight;
		err = start_step(t, &ro, c->cmd->time_ms);
		break;
	case AF__ROLLOUT_CONTROL__ACTION__PROMOTE:
	case AF__ROLLOUT_CONTROL__ACTION__ADVANCE:
		err = next_step(t, c, &ro, &promoted);
		break;
	case AF__ROLLOUT_CONTROL__ACTION__PROMOTE_FULL:
		promoted = true;
		err = promote_full(t, &ro);
		break;
	case AF__ROLLOUT_CONTROL__ACTION__ABORT:
	case AF__ROLLOUT_CONTROL__ACTION__AUTO_ABORT:
		err = set_revision_state(t, ro.canary, "aborted");
		end_canary(&ro);
		break;
	case AF__ROLLOUT_CONTROL__ACTION__PAUSE:
		ro.paused = true;
		break;
	case AF__ROLLOUT_CONTROL__ACTION__RESUME:
		ro.paused = false;
		err = start_step(t, &ro, c->cmd->time_ms);
		break;
	default:
		af_fsm_resultf(c->res, AF__CODE__INVALID, "unknown action");
		return 0;
	}
	if (err != 0)
		return err;
	snprintf(ro.verdict, sizeof(ro.verdict), "%s%s%s", c->verb + 7,
		 rc->verdict[0] ? ": " : "", rc->verdict);
	if ((err = af_rollout_put(t, &ro)) != 0)
		return err;
	c->res->revision = promoted ? ro.stable : canary;
	snprintf(c->res->state, sizeof(c->res->state), "%s",
		 promoted ? "stable" : af_rollout_state(&ro));
	if (promoted)
		af_fsm_resultf(c->res, AF__CODE__OK, "promoted to stable");
	else if (ro.canary == 0)
		af_fsm_resultf(c->res, AF__CODE__OK,
			       "%s: all traffic on stable", c->verb + 7);
	else
		af_fsm_resultf(c->res, AF__CODE__OK, "%s: canary at %u%%%s",
			       c->verb + 7, ro.weight,
			       ro.paused ? " (paused)" : "");
	return 0;
}

#define MAX_USAGE_ROWS 4096

/* Sums of replicated counters saturate: no undefined behaviour inside
 * apply, whatever an old entry carries (the leader bounds new ones). */
/* Telemetry, not an operator's change: no audit record. */
static int apply_usage(struct af_txn *t, struct apply_ctx *c)
{
	const Af__UsageReport *ur = c->cmd->usage_report;
	int rc;

	if (ur->n_rows > MAX_USAGE_ROWS) {
		af_fsm_resultf(c->res, AF__CODE__TOO_LARGE, "more than %d rows",
			       MAX_USAGE_ROWS);
		return 0;
	}
	for (size_t i = 0; i < ur->n_rows; i++) {
		const Af__UsageRow *row = ur->rows[i];
		struct af_usage u;

		if (row->revision == 0 || row->ok > row->count)
			continue;
		if ((rc = af_usage_get(t, row->revision, &u)) != 0)
			return rc;
		u.count = af_sat_add_u64(u.count, row->count);
		u.ok = af_sat_add_u64(u.ok, row->ok);
		for (size_t k = 0;
		     k < row->n_latency_buckets && k < AF_USAGE_BUCKETS; k++)
			u.lat[k] = af_sat_add_u64(u.lat[k],
						  row->latency_buckets[k]);
		u.lat_sum_ms =
			af_sat_add_u64(u.lat_sum_ms, row->latency_sum_ms);
		u.cost_nano = af_sat_add_i64(u.cost_nano, row->cost_nano_usd);
		u.ok_cost_nano = af_sat_add_i64(
			u.ok_cost_nano,
			af_sat_sub_i64(row->cost_nano_usd,
				       row->failed_cost_nano_usd));
		if ((rc = af_usage_put(t, row->revision, &u)) != 0 ||
		    (rc = af_showback_apply(t, c->cmd->time_ms, row)) != 0)
			return rc;
	}
	af_fsm_resultf(c->res, AF__CODE__OK, "recorded");
	return 0;
}

/* -------------------------------------------------------------- fleet */

#define MAX_ROUTERD_ID 128

/* Telemetry, not an operator's change: no audit record. */
static int apply_fleet_report(struct af_txn *t, struct apply_ctx *c)
{
	Af__FleetReport *fr = c->cmd->fleet_report;
	Af__FleetRecord rec = AF__FLEET_RECORD__INIT, *old = NULL;
	size_t idlen = strlen(fr->routerd_id);
	int rc;

	if (idlen == 0 || idlen > MAX_ROUTERD_ID) {
		af_fsm_resultf(c->res, AF__CODE__INVALID,
			       "routerd id must be 1-%d bytes", MAX_ROUTERD_ID);
		return 0;
	}
	rc = af_txn_get_msg(t, AF_TABLE_FLEET, fr->routerd_id, idlen,
			    &af__fleet_record__descriptor,
			    (ProtobufCMessage **)&old);
	if (rc != 0 && rc != AF_ENOTFOUND)
		return rc;
	rec.last = fr;
	rec.last_seen_ms = c->cmd->time_ms;
	rec.first_seen_ms = old ? old->first_seen_ms : c->cmd->time_ms;
	rc = af_txn_put_msg(t, AF_TABLE_FLEET, fr->routerd_id, idlen,
			    &rec.base);
	if (old)
		protobuf_c_message_free_unpacked(&old->base, NULL);
	if (rc == 0)
		af_fsm_resultf(c->res, AF__CODE__OK, "recorded");
	return rc;
}

/* A routerd that stops cleanly leaves the fleet view. */
static int apply_fleet_deregister(struct af_txn *t, struct apply_ctx *c)
{
	const char *id = c->cmd->fleet_deregister->routerd_id;
	size_t idlen = strlen(id);
	int rc;

	if (idlen == 0 || idlen > MAX_ROUTERD_ID) {
		af_fsm_resultf(c->res, AF__CODE__INVALID,
			       "routerd id must be 1-%d bytes", MAX_ROUTERD_ID);
		return 0;
	}
	rc = af_txn_del(t, AF_TABLE_FLEET, id, idlen);
	if (rc != 0 && rc != AF_ENOTFOUND)
		return rc;
	af_fsm_resultf(c->res, AF__CODE__OK, "deregistered");
	return 0;
}

/* -------------------------------------------------------------- apply */

static int put_audit(struct af_txn *t, struct apply_ctx *c)
{
	Af__AuditRecord a = AF__AUDIT_RECORD__INIT;
	uint8_t key[8];

	a.index = c->index;
	a.time_ms = c->cmd->time_ms;
	a.principal = c->cmd->principal;
	a.verb = (char *)c->verb;
	a.target = c->target;
	a.outcome = (char *)code_name(c->res->code);
	a.detail = c->res->message;
	af_store_key_u64(c->index, key);
	return af_txn_put_msg(t, AF_TABLE_AUDIT, key, sizeof(key), &a.base);
}

typedef int (*apply_fn)(struct af_txn *t, struct apply_ctx *c);

static int apply_noop(struct af_txn *t, struct apply_ctx *c)
{
	(void)t;
	af_fsm_resultf(c->res, AF__CODE__OK, "noop");
	return 0;
}

static const struct {
	Af__Command__OpCase op;
	apply_fn fn;
} ops[] = {
	{AF__COMMAND__OP_NOOP, apply_noop},
	{AF__COMMAND__OP_POLICY_APPLY, apply_policy},
	{AF__COMMAND__OP_POLICY_ROLLBACK, apply_rollback},
	{AF__COMMAND__OP_MODEL_APPLY, apply_models},
	{AF__COMMAND__OP_MODEL_SET_STATUS, apply_model_status},
	{AF__COMMAND__OP_MODEL_DELETE, apply_model_delete},
	{AF__COMMAND__OP_FLEET_REPORT, apply_fleet_report},
	{AF__COMMAND__OP_FLEET_DEREGISTER, apply_fleet_deregister},
	{AF__COMMAND__OP_ROLLOUT, apply_rollout},
	{AF__COMMAND__OP_USAGE_REPORT, apply_usage},
	{AF__COMMAND__OP_BUDGET_SET, af_budget_apply_set},
	{AF__COMMAND__OP_LEASE, af_budget_apply_lease},
};

static int dispatch(struct af_txn *t, struct apply_ctx *c)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (ops[i].op == c->cmd->op_case)
			return ops[i].fn(t, c);
	c->verb = "unknown";
	af_fsm_resultf(c->res, AF__CODE__INVALID, "unknown command");
	return 0;
}

/* ------------------------------------------------- results by request id */

/* In meta: "request/<id>" -> packed ApplyResult, and a ring in apply order
 * "request_seq/<8-byte seq>" -> id, so the oldest is evicted first. */
#define REQ_PREFIX "request/"
#define REQ_SEQ_PREFIX "request_seq/"
#define REQ_COUNTER "request_seq"

static bool request_id_usable(const char *id)
{
	return id != NULL && id[0] != '\0' &&
	       strnlen(id, AF_REQUEST_ID_MAX + 1) <= AF_REQUEST_ID_MAX;
}

static size_t req_key(const char *id, char *out)
{
	size_t n = strlen(id);

	memcpy(out, REQ_PREFIX, sizeof(REQ_PREFIX) - 1);
	memcpy(out + sizeof(REQ_PREFIX) - 1, id, n);
	return sizeof(REQ_PREFIX) - 1 + n;
}

static size_t req_seq_key(uint64_t seq, char *out)
{
	memcpy(out, REQ_SEQ_PREFIX, sizeof(REQ_SEQ_PREFIX) - 1);
	af_store_key_u64(seq, (uint8_t *)out + sizeof(REQ_SEQ_PREFIX) - 1);
	return sizeof(REQ_SEQ_PREFIX) - 1 + 8;
}

/* Fields a result and an ApplyResult share by name and type. */
#define RESULT_SCALARS(X)                                                      \
	X(index)                                                               \
	X(revision)                                                            \
	X(unchanged)                                                           \
	X(registry_revision)                                                   \
	X(lease_micro)                                                         \
	X(over_soft)                                                           \
	X(over_hard)                                                           \
	X(period_end_ms)                                                       \
	X(unlimited)                                                           \
	X(replayed)

void af_fsm_result_to_pb(const struct af_fsm_result *r, Af__ApplyResult *ar,
			 Af__Status *st)
{
	af__apply_result__init(ar);
	af__status__init(st);
	st->code = (Af__Code)r->code;
	st->message = (char *)r->message;
	ar->status = st;
	ar->hash = (char *)r->hash;
	ar->state = (char *)r->state;
#define TO_PB(f) ar->f = r->f;
	RESULT_SCALARS(TO_PB)
#undef TO_PB
}

static void result_of_pb(const Af__ApplyResult *ar, struct af_fsm_result *r)
{
	memset(r, 0, sizeof(*r));
	if (ar->status) {
		r->code = (int)ar->status->code;
		snprintf(r->message, sizeof(r->message), "%s",
			 ar->status->message);
	}
	snprintf(r->hash, sizeof(r->hash), "%s", ar->hash);
	snprintf(r->state, sizeof(r->state), "%s", ar->state);
#define OF_PB(f) r->f = ar->f;
	RESULT_SCALARS(OF_PB)
#undef OF_PB
	r->replayed = true;
}

static int load_result(struct af_txn *t, const char *id,
		       struct af_fsm_result *ret)
{
	char key[sizeof(REQ_PREFIX) + AF_REQUEST_ID_MAX];
	Af__ApplyResult *ar;
	int rc;

	rc = af_txn_get_msg(t, AF_TABLE_META, key, req_key(id, key),
			    &af__apply_result__descriptor,
			    (ProtobufCMessage **)&ar);
	if (rc != 0)
		return rc;
	result_of_pb(ar, ret);
	protobuf_c_message_free_unpacked(&ar->base, NULL);
	return 0;
}

/* Drops the entry stored `keep` results ago (the ring is in apply order,
 * so every node evicts the same id). */
static int evict_result(struct af_txn *t, uint64_t seq)
{
	char skey[sizeof(REQ_SEQ_PREFIX) + 8];
	char key[sizeof(REQ_PREFIX) + AF_REQUEST_ID_MAX];
	char id[AF_REQUEST_ID_MAX + 1];
	size_t sklen = req_seq_key(seq, skey), vlen;
	const void *v;
	int rc;

	rc = af_txn_get(t, AF_TABLE_META, skey, sklen, &v, &vlen);
	if (rc == AF_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (vlen > AF_REQUEST_ID_MAX)
		return AF_ECORRUPT;
	memcpy(id, v, vlen);
	id[vlen] = '\0';
	rc = af_txn_del(t, AF_TABLE_META, key, req_key(id, key));
	if (rc != 0 && rc != AF_ENOTFOUND)
		return rc;
	rc = af_txn_del(t, AF_TABLE_META, skey, sklen);
	return rc == AF_ENOTFOUND ? 0 : rc;
}

static int remember_result(struct af_txn *t, struct apply_ctx *c,
			   const char *id)
{
	char key[sizeof(REQ_PREFIX) + AF_REQUEST_ID_MAX];
	char skey[sizeof(REQ_SEQ_PREFIX) + 8];
	uint64_t keep = c->fsm->keep_results ? c->fsm->keep_results
					     : AF_FSM_KEEP_RESULTS;
	uint64_t seq = af_txn_meta_u64(t, REQ_COUNTER);
	Af__ApplyResult ar;
	Af__Status st;
	int rc;

	af_fsm_result_to_pb(c->res, &ar, &st);
	if ((rc = af_txn_put_msg(t, AF_TABLE_META, key, req_key(id, key),
				 &ar.base)) != 0 ||
	    (rc = af_txn_put(t, AF_TABLE_META, skey, req_seq_key(seq, skey), id,
			     strlen(id))) != 0)
		return rc;
	if (seq >= keep && (rc = evict_result(t, seq - keep)) != 0)
		return rc;
	return af_txn_set_meta_u64(t, REQ_COUNTER, seq + 1);
}

int af_fsm_lookup_result(struct af_fsm *fsm, const char *id,
			 struct af_fsm_result *ret)
{
	struct af_txn *t;
	int rc;

	if (!request_id_usable(id))
		return AF_EINVAL;
	if ((rc = af_store_read_begin(fsm->store, &t, NULL)) != 0)
		return rc;
	rc = load_result(t, id, ret);
	af_store_read_end(t);
	return rc;
}

/* ------------------------------------------------- distribution index */

/* The index of the last entry that may have changed what routerd pulls
 * with Sync (bundles, rollout heads, registry, budget definitions).
 * Telemetry (usage, leases, fleet reports) and no-ops leave it alone, so
 * routerds pull only when configuration changed. Persisted in meta: it
 * survives restarts and travels in snapshots. */
#define DISTRIBUTION_KEY "distribution_index"

static bool distributed(Af__Command__OpCase op)
{
	switch (op) {
	case AF__COMMAND__OP_POLICY_APPLY:
	case AF__COMMAND__OP_POLICY_ROLLBACK:
	case AF__COMMAND__OP_MODEL_APPLY:
	case AF__COMMAND__OP_MODEL_SET_STATUS:
	case AF__COMMAND__OP_MODEL_DELETE:
	case AF__COMMAND__OP_ROLLOUT:
	case AF__COMMAND__OP_BUDGET_SET:
		return true;
	default:
		return false;
	}
}

uint64_t af_fsm_distribution_index(struct af_txn *t)
{
	return af_txn_meta_u64(t, DISTRIBUTION_KEY);
}

/* ------------------------------------------------------------ apply */

static int apply_txn(struct af_txn *t, void *arg)
{
	struct apply_ctx *c = arg;
	const char *id = c->cmd->request_id;
	uint64_t idx = c->index;
	int rc = 0;

	/* af_store_update may run this again after growing the map. */
	memset(c->res, 0, sizeof(*c->res));
	c->res->index = idx;
	c->verb = NULL;
	c->target[0] = '\0';
	if (!request_id_usable(id))
		id = NULL;
	/* A retried write: the stored result, nothing else changes. */
	if (id != NULL && (rc = load_result(t, id, c->res)) != AF_ENOTFOUND) {
		if (rc != 0)
			return rc;
		return c->dry_run ? 0 : af_txn_set_applied(t, idx, 0);
	}
	memset(c->res, 0, sizeof(*c->res));
	c->res->index = idx;
	rc = dispatch(t, c);
	if (rc != 0)
		return rc;
	if (c->dry_run)
		return 0;
	if (distributed(c->cmd->op_case) &&
	    (rc = af_txn_set_meta_u64(t, DISTRIBUTION_KEY, idx)) != 0)
		return rc;
	if (c->verb != NULL && (rc = put_audit(t, c)) != 0)
		return rc;
	if (id != NULL && (rc = remember_result(t, c, id)) != 0)
		return rc;
	return af_txn_set_applied(t, idx, 0);
}

#define DRY_RUN_ABORT 1

static int dry_run_txn(struct af_txn *t, void *arg)
{
	int rc = apply_txn(t, arg);

	return rc != 0 ? rc : DRY_RUN_ABORT;
}

int af_fsm_dry_run(struct af_fsm *fsm, const void *cmd,
		   struct af_fsm_result *ret)
{
	struct apply_ctx c = {
		.fsm = fsm, .cmd = cmd, .res = ret, .dry_run = true};
	struct af_txn *rt;
	int rc;

	if ((rc = af_store_read_begin(fsm->store, &rt, NULL)) != 0)
		return rc;
	c.index = af_txn_applied(rt) + 1;
	af_store_read_end(rt);
	rc = af_store_update(fsm->store, dry_run_txn, &c, NULL);
	return rc == DRY_RUN_ABORT ? 0 : rc;
}

/* An entry that does not decode still advances the index: apply must
 * never fail for a reason a later retry would not fix. */
static int apply_undecodable(struct af_txn *t, void *arg)
{
	struct apply_ctx *c = arg;

	memset(c->res, 0, sizeof(*c->res));
	c->res->index = c->index;
	af_fsm_resultf(c->res, AF__CODE__INVALID, "entry does not decode");
	return af_txn_set_applied(t, c->index, 0);
}

int af_fsm_apply_entry(struct af_fsm *fsm, uint64_t index, const void *buf,
		       size_t len)
{
	struct apply_ctx c = {.fsm = fsm, .index = index, .res = &fsm->result};
	uint64_t start_ns = af_mono_ns();
	const uint8_t *p = buf;
	Af__Command *cmd = NULL;
	struct af_txn *rt;
	uint64_t applied;
	uint32_t n;
	int rc;

	if ((rc = af_store_read_begin(fsm->store, &rt, NULL)) != 0)
		return rc;
	applied = af_txn_applied(rt);
	af_store_read_end(rt);
	if (index <= applied) {
		/* Replayed after a restart: already in the store. */
		memset(&fsm->result, 0, sizeof(fsm->result));
		fsm->result.index = index;
		return 0;
	}
	if (len >= ENTRY_HDR) {
		n = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
		    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
		if (n <= len - ENTRY_HDR)
			cmd = af__command__unpack(NULL, n, p + ENTRY_HDR);
	}
	c.cmd = cmd;
	rc = af_store_update(fsm->store, cmd ? apply_txn : apply_undecodable,
			     &c, NULL);
	if (cmd)
		af__command__free_unpacked(cmd, NULL);
	af_histogram_observe_ns(&fsm->apply_seconds, af_mono_ns() - start_ns);
	if (rc != 0)
		return rc;
	fsm->entries_applied++;
	if (fsm->on_applied)
		fsm->on_applied(fsm->on_applied_arg, index);
	return 0;
}

int af_fsm_encode_entry(const void *cmdp, void **ret_buf, size_t *ret_len)
{
	const Af__Command *cmd = cmdp;
	size_t n = af__command__get_packed_size(cmd);
	size_t total = (ENTRY_HDR + n + 7) & ~(size_t)7;
	uint8_t *buf;

	if (n > MAX_ENTRY)
		return AF_ETOOBIG;
	buf = af_consensus_buf_alloc(total);
	if (buf == NULL)
		return AF_ENOMEM;
	memset(buf, 0, total);
	buf[0] = (uint8_t)n;
	buf[1] = (uint8_t)(n >> 8);
	buf[2] = (uint8_t)(n >> 16);
	buf[3] = (uint8_t)(n >> 24);
	af__command__pack(cmd, buf + ENTRY_HDR);
	*ret_buf = buf;
	*ret_len = total;
	return 0;
}

/* ------------------------------------------------- raft_fsm callbacks */

static int fsm_apply(struct raft_fsm *rf, const struct raft_buffer *buf,
		     void **result)
{
	struct af_fsm *fsm = rf->data;
	uint64_t index = af_consensus_applying_index(fsm->raft);
	int rc;

	rc = af_fsm_apply_entry(fsm, index, buf->base, buf->len);
	if (rc != 0) {
		/* Storage failure: libraft would retry forever; a restart and
		 * log replay is the way back. */
		fprintf(stderr, "controld: fatal: apply index %llu: %s\n",
			(unsigned long long)index, af_strerror(rc));
		abort();
	}
	*result = &fsm->result;
	return 0;
}

/* A snapshot handed to libraft: the buffers (first, so finalize finds the
 * rest from them) point into a store view, which keeps the state as of the
 * snapshot while writes go on; libraft writes them out in its thread pool
 * and calls finalize when done. */
struct fsm_snap {
	struct raft_buffer bufs[AF_STORE_VIEW_PARTS];
	struct af_store_view *view;
};

static int fsm_snapshot(struct raft_fsm *rf, struct raft_buffer *bufs[],
			unsigned *n_bufs)
{
	struct af_fsm *fsm = rf->data;
	struct af_store_part parts[AF_STORE_VIEW_PARTS];
	struct fsm_snap *snap;
	uint64_t applied;
	int rc;

	snap = af_calloc(1, sizeof(*snap));
	if (snap == NULL)
		return AF_CONSENSUS_NOMEM;
	rc = af_store_view_begin(fsm->store, &snap->view, parts, &applied,
				 NULL);
	if (rc != 0) {
		af_free(snap);
		/* Busy: libraft tries again at a later entry. */
		return rc == AF_EUNAVAIL ? AF_CONSENSUS_BUSY
					 : AF_CONSENSUS_NOMEM;
	}
	for (unsigned i = 0; i < AF_STORE_VIEW_PARTS; i++) {
		snap->bufs[i].base = (void *)(uintptr_t)parts[i].base;
		snap->bufs[i].len = parts[i].len;
	}
	*bufs = snap->bufs;
	*n_bufs = AF_STORE_VIEW_PARTS;
	return 0;
}

static int fsm_snapshot_finalize(struct raft_fsm *rf,
				 struct raft_buffer *bufs[], unsigned *n_bufs)
{
	struct fsm_snap *snap = (struct fsm_snap *)*bufs;

	(void)rf;
	if (snap != NULL) {
		af_store_view_end(snap->view);
		af_free(snap);
	}
	*bufs = NULL;
	*n_bufs = 0;
	return 0;
}

static int fsm_restore(struct raft_fsm *rf, struct raft_buffer *buf)
{
	struct af_fsm *fsm = rf->data;
	int rc = af_store_restore(fsm->store, buf->base, buf->len, NULL);

	if (rc != 0)
		return AF_CONSENSUS_CORRUPT;
	log_info("event=snapshot_restored bytes=%zu", buf->len);
	af_consensus_buf_free(buf->base);
	return 0;
}

void af_fsm_init(struct af_fsm *fsm, struct af_store *store)
{
	memset(fsm, 0, sizeof(*fsm));
	fsm->store = store;
	fsm->raft_fsm.version = 2;
	fsm->raft_fsm.data = fsm;
	fsm->raft_fsm.apply = fsm_apply;
	fsm->raft_fsm.snapshot = fsm_snapshot;
	fsm->raft_fsm.restore = fsm_restore;
	fsm->raft_fsm.snapshot_finalize = fsm_snapshot_finalize;
	fsm->raft_fsm.snapshot_async = NULL;
}

void af_fsm_resultf(struct af_fsm_result *r, int code, const char *fmt, ...)
{
	va_list ap;

	r->code = code;
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
}
