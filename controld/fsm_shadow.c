/* Apply of shadow starts (a PolicyApply with shadow set), ShadowStop,
 * the shadow part of UsageReport, and the shadow agreement a canary start
 * may require. A shadow is independent of the rollout: nothing here reads
 * or writes the rollout record, and no rollout verb touches the shadow. */
#include "common/alloc.h"
#include "common/satarith.h"
#include "controld/fsm_int.h"
#include "controld/state.h"
#include "policy/policy.h"
#include "proto/af.pb-c.h"
#include "render/render.h"

#include <stdio.h>
#include <string.h>

/* Classes one shadow hash keeps totals for: those of its bundle, and the
 * "(other)" row past them. */
#define SHADOW_MAX_CLASSES (AF_POLICY_MAX_CLASSES + 1)
#define SHADOW_MAX_ROWS 4096

static bool running(const Af__Shadow *s)
{
	return s != NULL && strcmp(s->state, "running") == 0;
}

static int refuse_start(struct apply_ctx *c, const Af__Shadow *cur,
			const Af__PolicyApply *pa, uint64_t stable)
{
	if (running(cur)) {
		af_fsm_resultf(c->res, AF__CODE__ROLLOUT_STATE,
			       "shadow revision %llu is running: stop it "
			       "first (af shadow stop)",
			       (unsigned long long)cur->revision);
		return 1;
	}
	if (stable == 0) {
		af_fsm_resultf(c->res, AF__CODE__ROLLOUT_STATE,
			       "no stable revision yet: a shadow is compared "
			       "with the stable one, apply one first");
		return 1;
	}
	if (pa->shadow_sample_pct > 100 || pa->canary_weight > 0 ||
	    pa->n_steps > 0) {
		af_fsm_resultf(c->res, AF__CODE__INVALID,
			       "a shadow takes a sample of 1-100%% and no "
			       "canary weight or steps");
		return 1;
	}
	return 0;
}

int af_fsm_apply_shadow_start(struct af_txn *t, struct apply_ctx *c,
			      uint64_t stable)
{
	const Af__PolicyApply *pa = c->cmd->policy_apply;
	Af__Revision rev = AF__REVISION__INIT;
	Af__Shadow sh = AF__SHADOW__INIT, *cur;
	uint64_t next;
	int rc;

	c->verb = "shadow.start";
	if ((rc = af_state_shadow_get(t, &cur)) != 0)
		return rc;
	rc = refuse_start(c, cur, pa, stable);
	if (cur != NULL)
		protobuf_c_message_free_unpacked(&cur->base, NULL);
	if (rc != 0)
		return 0;
	next = af_state_policy_revision(t) + 1;
	if ((rc = af_fsm_store_bundle(t, c, next)) != 0 ||
	    (rc = af_state_set_policy_revision(t, next)) != 0 ||
	    (rc = af_state_shadow_totals_del(t, pa->hash)) != 0)
		return rc;
	af_fsm_revision_of(c, pa, next, &rev);
	rev.state = (char *)"shadow";
	sh.revision = next;
	sh.hash = pa->hash;
	sh.sample_pct = pa->shadow_sample_pct ? pa->shadow_sample_pct : 100;
	sh.started_ms = c->cmd->time_ms;
	sh.expires_ms =
		pa->shadow_duration_ms
			? af_sat_add_i64(
				  c->cmd->time_ms,
				  (int64_t)(pa->shadow_duration_ms & INT64_MAX))
			: 0;
	sh.state = (char *)"running";
	sh.author = c->cmd->principal;
	sh.message = pa->message;
	sh.name = pa->name;
	if ((rc = af_state_revision_put(t, &rev)) != 0 ||
	    (rc = af_state_shadow_put(t, &sh)) != 0)
		return rc;
	c->res->revision = next;
	snprintf(c->res->hash, sizeof(c->res->hash), "%s", pa->hash);
	snprintf(c->res->state, sizeof(c->res->state), "shadow");
	af_fsm_resultf(c->res, AF__CODE__OK, "shadow at %u%% of requests",
		       sh.sample_pct);
	return 0;
}

int af_fsm_apply_shadow_stop(struct af_txn *t, struct apply_ctx *c)
{
	const Af__ShadowStop *ss = c->cmd->shadow_stop;
	Af__Shadow *sh;
	char *old;
	int rc;

	c->verb = ss->expire ? "shadow.expire" : "shadow.stop";
	if ((rc = af_state_shadow_get(t, &sh)) != 0)
		return rc;
	if (!running(sh) ||
	    (ss->expire &&
	     (sh->expires_ms == 0 || c->cmd->time_ms < sh->expires_ms))) {
		af_fsm_resultf(c->res, AF__CODE__ROLLOUT_STATE, "%s",
			       running(sh) ? "the shadow has not expired"
					   : "no shadow is running");
		goto out;
	}
	snprintf(c->target, sizeof(c->target), "revision %llu",
		 (unsigned long long)sh->revision);
	old = sh->state;
	sh->state = (char *)(ss->expire ? "expired" : "stopped");
	sh->ended_ms = c->cmd->time_ms;
	rc = af_state_shadow_put(t, sh);
	if (rc == 0)
		rc = af_fsm_set_revision_state(t, sh->revision, "shadowed");
	c->res->revision = sh->revision;
	snprintf(c->res->hash, sizeof(c->res->hash), "%s", sh->hash);
	snprintf(c->res->state, sizeof(c->res->state), "%s", sh->state);
	af_fsm_resultf(c->res, AF__CODE__OK, "shadow %s", sh->state);
	sh->state = old;
out:
	if (sh != NULL)
		protobuf_c_message_free_unpacked(&sh->base, NULL);
	return rc;
}

/* ------------------------------------------------------------- totals */

/* Adds row into rows[0..*n) (a new class row when there is room, else
 * the "(other)" row); names are borrowed. */
static void totals_add(Af__ShadowCounts *rows, size_t *n,
		       const Af__ShadowCounts *row)
{
	const char *cls =
		*n < SHADOW_MAX_CLASSES - 1 ? row->class_name : "(other)";

	for (size_t i = 0; i < *n; i++)
		if (strcmp(rows[i].class_name, cls) == 0) {
			af_shadow_counts_add(&rows[i], row);
			return;
		}
	af__shadow_counts__init(&rows[*n]);
	rows[*n].class_name = (char *)cls;
	af_shadow_counts_add(&rows[(*n)++], row);
}

/* Adds the report's rows of one hash to its stored totals. */
static int apply_hash(struct af_txn *t, const Af__UsageReport *ur,
		      const char *hash)
{
	Af__ShadowTotals *st = NULL, out = AF__SHADOW_TOTALS__INIT;
	Af__ShadowCounts *rows = NULL, **ptrs = NULL;
	size_t n = 0, cap;
	int rc;

	if ((rc = af_state_shadow_totals_get(t, hash, &st)) != 0)
		return rc;
	cap = (st != NULL ? st->n_classes : 0) + ur->n_shadow + 1;
	rows = af_calloc(cap, sizeof(*rows));
	ptrs = af_calloc(cap, sizeof(*ptrs));
	if (rows == NULL || ptrs == NULL) {
		rc = AF_ENOMEM;
		goto out;
	}
	for (size_t i = 0; st != NULL && i < st->n_classes; i++)
		totals_add(rows, &n, st->classes[i]);
	for (size_t i = 0; i < ur->n_shadow; i++)
		if (strcmp(ur->shadow[i]->hash, hash) == 0)
			totals_add(rows, &n, ur->shadow[i]);
	for (size_t i = 0; i < n; i++)
		ptrs[i] = &rows[i];
	out.n_classes = n;
	out.classes = ptrs;
	rc = af_state_shadow_totals_put(t, hash, &out);
out:
	af_free(rows);
	af_free(ptrs);
	if (st != NULL)
		protobuf_c_message_free_unpacked(&st->base, NULL);
	return rc;
}

int af_fsm_apply_shadow_usage(struct af_txn *t, const Af__UsageReport *ur)
{
	int rc;

	if (ur->n_shadow > SHADOW_MAX_ROWS)
		return 0;
	for (size_t i = 0; i < ur->n_shadow; i++) {
		const char *h = ur->shadow[i]->hash;
		bool seen = false;

		if (ur->shadow[i]->same > ur->shadow[i]->sampled ||
		    strlen(h) >= AF_HASH_STR_LEN)
			continue;
		for (size_t k = 0; k < i && !seen; k++)
			seen = strcmp(ur->shadow[k]->hash, h) == 0;
		if (!seen && (rc = apply_hash(t, ur, h)) != 0)
			return rc;
	}
	return 0;
}

/* ------------------------------------------------------- canary check */

int af_fsm_check_shadow(struct af_txn *t, struct apply_ctx *c,
			const Af__PolicyApply *pa)
{
	Af__ShadowTotals *st;
	Af__ShadowCounts sum;
	double pct;
	int rc;

	if (!pa->require_shadow)
		return 0;
	if ((rc = af_state_shadow_totals_get(t, pa->hash, &st)) != 0)
		return rc;
	af_shadow_totals_sum(st, &sum);
	if (st != NULL)
		protobuf_c_message_free_unpacked(&st->base, NULL);
	pct = sum.sampled ? 100.0 * (double)sum.same / (double)sum.sampled : 0;
	if (sum.sampled == 0 || sum.sampled < pa->min_shadow_samples ||
	    (uint64_t)sum.same * 1000000u <
		    (uint64_t)pa->require_shadow_ppm * sum.sampled) {
		af_fsm_resultf(
			c->res, AF__CODE__ROLLOUT_STATE,
			"shadow agreement for %.24s is %.2f%% over %llu "
			"sampled requests: --require-shadow %.2f%% with at "
			"least %llu samples is not met (shadow it longer, "
			"or fix the bundle)",
			pa->hash, pct, (unsigned long long)sum.sampled,
			pa->require_shadow_ppm / 10000.0,
			(unsigned long long)(pa->min_shadow_samples
						     ? pa->min_shadow_samples
						     : 1));
		return 1;
	}
	return 0;
}
