/* Write handlers: Propose validated and bounded on the leader, policy and
 * model applies compiled off the loop thread, the command proposed (or
 * dry-run) through consensus. */
#include "common/alloc.h"
#include "common/name.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "controld/auth.h"
#include "controld/budget.h"
#include "controld/handlers_int.h"
#include "controld/quota.h"
#include "policy/policy.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MAX_POLICY_SOURCE (4u * 1024 * 1024)
#define MAX_MODELS_SOURCE (16u * 1024 * 1024)

/* ----------------------------------------------------------- writes */

static void finish_apply(struct controld_job *j, const struct af_fsm_result *r,
			 bool dry_run)
{
	Af__Response resp = AF__RESPONSE__INIT;
	Af__Status st;
	Af__ApplyResult ar;

	af_fsm_result_to_pb(r, &ar, &st);
	ar.dry_run = dry_run;
	resp.status = &st;
	resp.body_case = AF__RESPONSE__BODY_APPLY;
	resp.apply = &ar;
	controld_job_finish(j, &resp);
}

static void propose_cb(void *arg, int status, const struct af_fsm_result *r)
{
	struct controld_job *j = arg;

	if (status != 0) {
		controld_job_fail(j, controld_status_of_rc(status),
				  "write not committed: %s",
				  af_strerror(status));
		return;
	}
	af_histogram_observe_ns(&j->node->stats.apply_latency,
				af_mono_ns() - j->start_ns);
	finish_apply(j, r, false);
}

/* ------------------------------------------- compile (off the loop thread)
 *
 * Bundles and registries are compiled by the node's compile thread (api.c;
 * the NNG worker that received the request, if that thread could not
 * start), before the job is queued for the loop thread (which also runs
 * Raft): a slow compile delays only the applies queued behind it. These
 * functions touch nothing but immutable node configuration and the job. */

static int prep_fail(struct controld_job *j, Af__Code code, const char *fmt,
		     ...) __attribute__((format(printf, 3, 4)));

static int prep_fail(struct controld_job *j, Af__Code code, const char *fmt,
		     ...)
{
	va_list ap;

	j->pre_code = (int)code;
	va_start(ap, fmt);
	vsnprintf(j->pre_msg, sizeof(j->pre_msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* With trusted keys, a signed bundle must verify against one of them
 * (over the name and hash the leader computed); with require_signed an
 * unsigned one is refused. */
static int check_signature(struct controld_job *j, const Af__PolicyApply *pa)
{
	struct controld_node *n = j->node;
	struct af_err err = {{0}};

	if (pa->signature.len == 0) {
		if (!n->cfg->require_signed)
			return 0;
		return prep_fail(j, AF__CODE__PERMISSION_DENIED,
				 "unsigned bundle refused: this cluster "
				 "requires signed bundles (af policy sign)");
	}
	if (n->nkeys == 0)
		return 0; /* nothing to check against: stored as given */
	if (af_sign_verify(n->keys, n->nkeys, pa->key_id, pa->name, pa->hash,
			   pa->serial, pa->signature.data, pa->signature.len,
			   &err) != 0)
		return prep_fail(j, AF__CODE__PERMISSION_DENIED, "%s", err.msg);
	return 0;
}

/* Empty protobuf bytes arrive as a NULL pointer: refused here, and never
 * handed to a parser. */
static int check_source(struct controld_job *j, const ProtobufCBinaryData *b,
			size_t max, const char *what, const char *verb)
{
	if (b->len == 0 || b->data == NULL)
		return prep_fail(j, AF__CODE__INVALID,
				 "empty %s source: send the YAML file "
				 "(af %s FILE)",
				 what, verb);
	if (b->len > max)
		return prep_fail(j, AF__CODE__TOO_LARGE,
				 "%s larger than %zu bytes", what, max);
	return 0;
}

/* The leader compiles what the client sent and never trusts its
 * compiled form or hash. */
static int compile_policy(struct controld_job *j, const Af__PolicyApply *in)
{
	struct af_err err = {{0}};
	size_t len;

	if (check_source(j, &in->source, MAX_POLICY_SOURCE, "bundle",
			 "policy apply") != 0)
		return -1;
	if (af_bundle_compile("bundle", (const char *)in->source.data,
			      in->source.len, &j->bundle, &err) != 0)
		return prep_fail(j, AF__CODE__INVALID, "%s", err.msg);
	j->pa = *in;
	j->pa.compiled.data = (uint8_t *)af_bundle_bytes(j->bundle, &len);
	j->pa.compiled.len = len;
	j->pa.hash = (char *)af_bundle_hash(j->bundle);
	j->pa.name = (char *)af_bundle_name(j->bundle);
	return check_signature(j, &j->pa);
}

static int compile_models(struct controld_job *j, const Af__ModelApply *in)
{
	struct af_err err = {{0}};
	size_t len;

	if (check_source(j, &in->source, MAX_MODELS_SOURCE, "model file",
			 "model apply") != 0)
		return -1;
	if (af_registry_compile("models", (const char *)in->source.data,
				in->source.len, &j->reg, &err) != 0)
		return prep_fail(j, AF__CODE__INVALID, "%s", err.msg);
	j->ma = *in;
	j->ma.compiled.data = (uint8_t *)af_registry_bytes(j->reg, &len);
	j->ma.compiled.len = len;
	return 0;
}

void controld_prepare(struct controld_job *j, bool force)
{
	const Af__Command *cmd;
	const char *principal;
	char why[256];

	if (j->req->body_case != AF__REQUEST__BODY_PROPOSE)
		return;
	j->forced = force;
	cmd = j->req->propose;
	if (cmd->op_case != AF__COMMAND__OP_POLICY_APPLY &&
	    cmd->op_case != AF__COMMAND__OP_MODEL_APPLY)
		return;
	/* Only a leader compiles, and only for a caller allowed to write;
	 * the loop thread checks both again and answers. */
	if ((!force && !atomic_load(&j->node->stats.is_leader)) ||
	    af_auth_check(j->node->auth, j->req, NULL, &principal, why,
			  sizeof(why)) != 0)
		return;
	j->prepared = true;
	if (cmd->op_case == AF__COMMAND__OP_POLICY_APPLY)
		compile_policy(j, cmd->policy_apply);
	else
		compile_models(j, cmd->model_apply);
}

void controld_job_release(struct controld_job *j)
{
	af_bundle_free(j->bundle);
	af_registry_free(j->reg);
	j->bundle = NULL;
	j->reg = NULL;
}

/* ----------------------------------------------------- write checks */

#define MAX_ROUTERD_ID 128
/* Per row of one usage report (about a second of one routerd's traffic):
 * far above any real flush, far below what could overflow a sum. */
#define MAX_USAGE_COUNT 1000000000000ull	 /* 1e12 outcomes */
#define MAX_USAGE_LATENCY_MS 1000000000000000ull /* 1e15 ms */
#define MAX_USAGE_COST_NANO 1000000000000000ll	 /* 1e6 USD */
#define MAX_LEASE_MICRO 1000000000000000ll	 /* 1e9 USD */

static int check_name(struct controld_job *j, const char *what, const char *s,
		      size_t max, bool may_be_empty)
{
	char why[96];
	size_t len = strnlen(s, max + 1);

	if (len == 0 && may_be_empty)
		return 0;
	if (af_name_valid(s, len, max, why, sizeof(why)))
		return 0;
	controld_job_fail(j, AF__CODE__INVALID, "%s: the name %s", what, why);
	return -1;
}

static int check_usage_row(struct controld_job *j, size_t i,
			   const Af__UsageRow *r)
{
	const char *bad = NULL;

	if (r->count > MAX_USAGE_COUNT || r->ok > r->count)
		bad = "count and ok must satisfy ok <= count <= 1e12";
	else if (r->n_latency_buckets > AF_USAGE_BUCKETS)
		bad = "too many latency buckets";
	else if (r->latency_sum_ms > MAX_USAGE_LATENCY_MS)
		bad = "latency_sum_ms above 1e15";
	else if (r->cost_nano_usd < 0 || r->cost_nano_usd > MAX_USAGE_COST_NANO)
		bad = "cost_nano_usd must be within 0..1e15";
	else if (r->failed_cost_nano_usd < 0 ||
		 r->failed_cost_nano_usd > r->cost_nano_usd)
		bad = "failed_cost_nano_usd must be within 0..cost_nano_usd";
	else if (r->quality_count > r->count ||
		 r->quality_sum_ppm > r->quality_count * 1000000)
		bad = "quality_count must be within 0..count, each quality "
		      "within 0..1e6 ppm";
	for (size_t k = 0; bad == NULL && k < r->n_latency_buckets; k++)
		if (r->latency_buckets[k] > r->count)
			bad = "a latency bucket holds more than count";
	if (bad != NULL) {
		controld_job_fail(j, AF__CODE__INVALID,
				  "usage report row %zu: %s", i, bad);
		return -1;
	}
	if (check_name(j, "usage tenant", r->tenant, AF_POLICY_NAME_MAX,
		       true) != 0 ||
	    check_name(j, "usage class", r->class_name, AF_POLICY_NAME_MAX,
		       true) != 0 ||
	    check_name(j, "usage model", r->model, AF_POLICY_NAME_MAX, true) !=
		    0)
		return -1;
	return 0;
}

static int check_lease(struct controld_job *j, const Af__LeaseRequest *l)
{
	if (l->consumed_micro < 0 || l->consumed_micro > MAX_LEASE_MICRO ||
	    l->want_micro < 0 || l->want_micro > MAX_LEASE_MICRO) {
		controld_job_fail(j, AF__CODE__INVALID,
				  "lease: consumed and wanted amounts must "
				  "be within 0..1e15 micro-USD");
		return -1;
	}
	if (check_name(j, "lease routerd id", l->routerd_id, MAX_ROUTERD_ID,
		       false) != 0)
		return -1;
	return check_name(j, "lease tenant", l->tenant, AF_POLICY_NAME_MAX,
			  false);
}

/* Bounds every field input controls that apply sums or stores as a name.
 * 0, or -1 with the job failed. */
static int check_command(struct controld_job *j, const Af__Command *cmd)
{
	const Af__UsageReport *ur;

	if (strnlen(cmd->request_id, AF_REQUEST_ID_MAX + 1) >
	    AF_REQUEST_ID_MAX) {
		controld_job_fail(j, AF__CODE__INVALID,
				  "request id longer than %d bytes",
				  AF_REQUEST_ID_MAX);
		return -1;
	}
	switch (cmd->op_case) {
	case AF__COMMAND__OP_ROLLOUT:
		/* Only the rollout verbs carry an action (the other ops share
		 * the union slot). */
		if (cmd->rollout->action ==
			    AF__ROLLOUT_CONTROL__ACTION__ADVANCE ||
		    cmd->rollout->action ==
			    AF__ROLLOUT_CONTROL__ACTION__AUTO_ABORT) {
			controld_job_fail(j, AF__CODE__INVALID,
					  "only the rollout controller "
					  "advances or auto-aborts");
			return -1;
		}
		return 0;
	case AF__COMMAND__OP_MODEL_SET_STATUS:
		return check_name(j, "model id", cmd->model_set_status->id,
				  AF_POLICY_NAME_MAX, false);
	case AF__COMMAND__OP_MODEL_DELETE:
		return check_name(j, "model id", cmd->model_delete->id,
				  AF_POLICY_NAME_MAX, false);
	case AF__COMMAND__OP_BUDGET_SET:
		return check_name(j, "budget tenant", cmd->budget_set->tenant,
				  AF_POLICY_NAME_MAX, false);
	case AF__COMMAND__OP_LEASE:
		return check_lease(j, cmd->lease);
	case AF__COMMAND__OP_QUOTA_LEASE:
		if (cmd->quota_lease->n_asks > AF_QUOTA_ASKS_MAX) {
			controld_job_fail(j, AF__CODE__TOO_LARGE,
					  "quota lease: more than %d asks",
					  AF_QUOTA_ASKS_MAX);
			return -1;
		}
		return check_name(j, "routerd id", cmd->quota_lease->routerd_id,
				  MAX_ROUTERD_ID, false);
	case AF__COMMAND__OP_FLEET_REPORT:
		return check_name(j, "routerd id",
				  cmd->fleet_report->routerd_id, MAX_ROUTERD_ID,
				  false);
	case AF__COMMAND__OP_FLEET_DEREGISTER:
		if (cmd->fleet_deregister->n_forget > 0) {
			controld_job_fail(j, AF__CODE__PERMISSION_DENIED,
					  "only the leader forgets routerds");
			return -1;
		}
		return check_name(j, "routerd id",
				  cmd->fleet_deregister->routerd_id,
				  MAX_ROUTERD_ID, false);
	case AF__COMMAND__OP_USAGE_REPORT:
		ur = cmd->usage_report;
		for (size_t i = 0; i < ur->n_rows; i++)
			if (check_usage_row(j, i, ur->rows[i]) != 0)
				return -1;
		return 0;
	case AF__COMMAND__OP_EMERGENCY_SET:
	case AF__COMMAND__OP_EMERGENCY_CLEAR:
		return controld_check_emergency(j, cmd);
	case AF__COMMAND__OP_SHADOW_STOP:
		return controld_check_shadow(j, cmd);
	case AF__COMMAND__OP_POLICY_APPLY:
	case AF__COMMAND__OP_MODEL_APPLY:
	case AF__COMMAND__OP_POLICY_ROLLBACK:
	case AF__COMMAND__OP_NOOP:
		return 0;
	default:
		controld_job_fail(j, AF__CODE__INVALID, "unknown command");
		return -1;
	}
}

/* A compiled apply: the worker's result (or refusal). */
static int use_prepared(struct controld_job *j, Af__Command *cmd)
{
	if (!j->prepared && j->forced) {
		controld_job_fail(j, AF__CODE__PERMISSION_DENIED,
				  "not allowed to write");
		return -1;
	}
	if (!j->prepared) {
		/* The worker did not compile (leadership arrived meanwhile):
		 * back to it, to compile and queue the job again. */
		controld_job_again(j);
		return -1;
	}
	if (j->pre_code != 0) {
		controld_job_fail(j, (Af__Code)j->pre_code, "%s", j->pre_msg);
		return -1;
	}
	if (cmd->op_case == AF__COMMAND__OP_POLICY_APPLY)
		cmd->policy_apply = &j->pa;
	else
		cmd->model_apply = &j->ma;
	return 0;
}

void controld_handle_write(struct controld_job *j)
{
	struct controld_node *n = j->node;
	Af__Command cmd = *j->req->propose;
	struct af_fsm_result res;
	int rc;

	if (!af_consensus_is_leader(&n->cons)) {
		controld_job_fail(j, AF__CODE__NOT_LEADER, "not the leader");
		return;
	}
	if (check_command(j, &cmd) != 0)
		return;
	if ((cmd.op_case == AF__COMMAND__OP_POLICY_APPLY ||
	     cmd.op_case == AF__COMMAND__OP_MODEL_APPLY) &&
	    use_prepared(j, &cmd) != 0)
		return;
	/* A retried write already applied: its stored result, no new entry
	 * (apply checks again for one still in flight). */
	if (cmd.request_id[0] != '\0' &&
	    af_fsm_lookup_result(&n->fsm, cmd.request_id, &res) == 0) {
		finish_apply(j, &res, j->req->dry_run);
		return;
	}
	/* Stamped by the leader: apply never reads a clock, and the
	 * principal is who the token says, never what the client wrote. */
	cmd.principal = (char *)j->principal;
	cmd.time_ms = af_wall_ms();
	if (cmd.op_case == AF__COMMAND__OP_USAGE_REPORT)
		cmd.usage_report->prune_before_ms =
			af_period_start_ms(cmd.time_ms, false) -
			(int64_t)n->cfg->showback_retention_days * 86400000;
	if (cmd.op_case == AF__COMMAND__OP_POLICY_APPLY) {
		j->pa.history_revisions = n->cfg->history_revisions;
		j->pa.history_before_ms =
			n->cfg->history_days
				? cmd.time_ms - (int64_t)n->cfg->history_days *
							86400000
				: 0;
	}
	if (j->req->dry_run) {
		/* What apply would do now, from this leader's store; nothing
		 * is proposed. */
		rc = af_fsm_dry_run(&n->fsm, &cmd, &res);
		if (rc != 0)
			controld_job_fail(j, AF__CODE__INTERNAL, "dry run: %s",
					  af_strerror(rc));
		else
			finish_apply(j, &res, true);
		return;
	}
	rc = af_consensus_propose(&n->cons, &cmd, propose_cb, j);
	if (rc != 0)
		controld_job_fail(j, controld_status_of_rc(rc), "propose: %s",
				  af_strerror(rc));
}
