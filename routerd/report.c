/*
 * POST /v1/report bodies and the table of recent decisions (report.h).
 *
 * The table is a ring indexed by the decision's sequence number (decision
 * ids are "<routerd id>-<16 hex digits of seq>", and seq grows by one per
 * decision), so a lookup is one slot and a store overwrites the decision
 * made ROUTERD_DECISIONS_MAX earlier. Each slot has its own spin lock,
 * held for a copy of at most a few hundred bytes.
 */
#include "routerd/report.h"
#include "common/alloc.h"
#include "common/err.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------- parsing */

static int refuse(struct routerd_report_error *e, int status, const char *code,
		  const char *field, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int refuse(struct routerd_report_error *e, int status, const char *code,
		  const char *field, const char *fmt, ...)
{
	va_list ap;

	e->http_status = status;
	e->code = code;
	e->field = field;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return AF_EPARSE;
}

static int str_field(json_t *root, const char *name, const char **out,
		     struct routerd_report_error *e)
{
	json_t *v = json_object_get(root, name);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return refuse(e, 422, "WRONG_TYPE", name, "%s must be a string",
			      name);
	if (json_string_length(v) == 0 ||
	    json_string_length(v) > ROUTERD_KEY_MAX)
		return refuse(e, 422, "INVALID_FIELD", name,
			      "%s must be 1 to %d bytes", name,
			      ROUTERD_KEY_MAX);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return refuse(e, 422, "INVALID_FIELD", name,
			      "%s must not contain NUL characters", name);
	*out = json_string_value(v);
	return 0;
}

static int int_field(json_t *root, const char *name, int64_t min, int64_t max,
		     int64_t *out, struct routerd_report_error *e)
{
	json_t *v = json_object_get(root, name);
	json_int_t n;

	*out = -1;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return refuse(e, 422, "WRONG_TYPE", name,
			      "%s must be an integer", name);
	n = json_integer_value(v);
	if (n < min || n > max)
		return refuse(e, 422, "INVALID_FIELD", name,
			      "%s must be between %lld and %lld", name,
			      (long long)min, (long long)max);
	*out = (int64_t)n;
	return 0;
}

/* A money field in USD (0..ROUTERD_REPORT_MAX_COST_USD): *ret in
 * 1e-9 USD, *has whether it was given. */
static int usd_field(json_t *root, const char *name, bool *has, int64_t *ret,
		     struct routerd_report_error *e)
{
	json_t *v = json_object_get(root, name);
	double d;

	*has = false;
	*ret = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_number(v))
		return refuse(e, 422, "WRONG_TYPE", name, "%s must be a number",
			      name);
	d = json_number_value(v);
	if (!isfinite(d) || d < 0 || d > ROUTERD_REPORT_MAX_COST_USD)
		return refuse(e, 422, "INVALID_FIELD", name,
			      "%s must be between 0 and %.0f USD", name,
			      ROUTERD_REPORT_MAX_COST_USD);
	*has = true;
	*ret = (int64_t)llround(d * 1e9);
	return 0;
}

/* quality: the orchestrator's score of the outcome, 0 to 1. */
static int quality_field(json_t *root, struct routerd_report *r,
			 struct routerd_report_error *e)
{
	json_t *v = json_object_get(root, "quality");
	double d;

	r->quality_ppm = -1;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_number(v))
		return refuse(e, 422, "WRONG_TYPE", "quality",
			      "quality must be a number");
	d = json_number_value(v);
	if (!isfinite(d) || d < 0 || d > 1)
		return refuse(e, 422, "INVALID_FIELD", "quality",
			      "quality must be between 0 and 1");
	r->quality_ppm = (int64_t)llround(d * 1e6);
	return 0;
}

static int cost_field(json_t *root, struct routerd_report *r,
		      struct routerd_report_error *e)
{
	return usd_field(root, "cost_usd", &r->has_cost, &r->cost_nano_usd, e);
}

int routerd_report_parse(void *root_, struct routerd_report *ret,
			 struct routerd_report_error *err)
{
	static const struct {
		const char *name;
		size_t off;
	} strs[] = {
		{"decision_id", offsetof(struct routerd_report, decision_id)},
		{"workflow_id", offsetof(struct routerd_report, workflow_id)},
		{"tenant", offsetof(struct routerd_report, tenant)},
		{"class", offsetof(struct routerd_report, class_name)},
		{"model", offsetof(struct routerd_report, model)},
		{"region", offsetof(struct routerd_report, region)},
	};
	static const struct {
		const char *name;
		int64_t min, max;
		size_t off;
	} ints[] = {
		{"latency_ms", 0, ROUTERD_REPORT_MAX_LATENCY_MS,
		 offsetof(struct routerd_report, latency_ms)},
		{"input_tokens", 0, ROUTERD_REPORT_MAX_TOKENS,
		 offsetof(struct routerd_report, input_tokens)},
		{"output_tokens", 0, ROUTERD_REPORT_MAX_TOKENS,
		 offsetof(struct routerd_report, output_tokens)},
		{"cached_input_tokens", 0, ROUTERD_REPORT_MAX_TOKENS,
		 offsetof(struct routerd_report, cached_input_tokens)},
		{"revision", 1, INT64_MAX,
		 offsetof(struct routerd_report, revision)},
	};
	json_t *root = root_, *ok;
	struct routerd_report r;
	int rc = 0;

	memset(&r, 0, sizeof(r));
	if (!json_is_object(root))
		return refuse(err, 400, "MALFORMED_JSON", NULL,
			      "the body must be a JSON object");
	ok = json_object_get(root, "ok");
	if (ok == NULL)
		return refuse(err, 400, "MISSING_FIELD", "ok",
			      "ok is required (true or false)");
	if (!json_is_boolean(ok))
		return refuse(err, 422, "WRONG_TYPE", "ok",
			      "ok must be true or false");
	r.ok = json_is_true(ok);
	for (size_t i = 0; rc == 0 && i < sizeof(strs) / sizeof(strs[0]); i++)
		rc = str_field(
			root, strs[i].name,
			(const char **)(void *)((char *)&r + strs[i].off), err);
	for (size_t i = 0; rc == 0 && i < sizeof(ints) / sizeof(ints[0]); i++)
		rc = int_field(root, ints[i].name, ints[i].min, ints[i].max,
			       (int64_t *)(void *)((char *)&r + ints[i].off),
			       err);
	if (rc == 0)
		rc = cost_field(root, &r, err);
	if (rc == 0 && r.cached_input_tokens > 0 &&
	    r.cached_input_tokens > (r.input_tokens > 0 ? r.input_tokens : 0))
		rc = refuse(err, 422, "INVALID_FIELD", "cached_input_tokens",
			    "cached_input_tokens must be at most input_tokens");
	if (rc == 0)
		rc = quality_field(root, &r, err);
	if (rc == 0)
		*ret = r;
	return rc;
}

/* ---------------------------------------------------------- outcome */

static int outcome_labels(json_t *root, struct routerd_outcome *o,
			  struct routerd_report_error *e)
{
	json_t *l = json_object_get(root, "labels"), *v;
	const char *k;

	if (l == NULL || json_is_null(l))
		return 0;
	if (!json_is_object(l))
		return refuse(e, 422, "WRONG_TYPE", "labels",
			      "labels must be an object of strings");
	if (json_object_size(l) > AF_REQ_MAX_LABELS)
		return refuse(e, 422, "INVALID_FIELD", "labels",
			      "labels: at most %d", AF_REQ_MAX_LABELS);
	json_object_foreach(l, k, v)
	{
		if (strlen(k) == 0 || strlen(k) > AF_POLICY_LABEL_KEY_MAX)
			return refuse(e, 422, "INVALID_FIELD", "labels",
				      "labels: keys must be 1 to %d bytes",
				      AF_POLICY_LABEL_KEY_MAX);
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > ROUTERD_KEY_MAX ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return refuse(e, 422, "INVALID_FIELD", "labels",
				      "labels.%.64s must be a string of 1 to "
				      "%d bytes",
				      k, ROUTERD_KEY_MAX);
		o->labels[o->nlabels][0] = k;
		o->labels[o->nlabels++][1] = json_string_value(v);
	}
	return 0;
}

static int outcome_kind(json_t *root, struct routerd_outcome *o,
			struct routerd_report_error *e)
{
	static const char *const names[] = {"success", "failed", "abandoned"};
	const char *s;
	int rc = str_field(root, "outcome", &s, e);

	if (rc != 0)
		return rc;
	if (s == NULL)
		return refuse(e, 400, "MISSING_FIELD", "outcome",
			      "outcome is required (success, failed or "
			      "abandoned)");
	for (int i = 0; i < 3; i++)
		if (strcmp(s, names[i]) == 0) {
			o->outcome = (enum routerd_workflow_outcome)i;
			return 0;
		}
	return refuse(e, 422, "INVALID_FIELD", "outcome",
		      "outcome must be success, failed or abandoned");
}

int routerd_outcome_parse(void *root_, struct routerd_outcome *ret,
			  struct routerd_report_error *err)
{
	static const char *const req[] = {"workflow_id", "tenant", "class"};
	json_t *root = root_;
	struct routerd_outcome o;
	const char **dst[] = {&o.workflow_id, &o.tenant, &o.class_name};
	bool has;
	int rc = 0;

	memset(&o, 0, sizeof(o));
	if (!json_is_object(root))
		return refuse(err, 400, "MALFORMED_JSON", NULL,
			      "the body must be a JSON object");
	for (size_t i = 0; rc == 0 && i < 3; i++) {
		rc = str_field(root, req[i], dst[i], err);
		if (rc == 0 && *dst[i] == NULL)
			rc = refuse(err, 400, "MISSING_FIELD", req[i],
				    "%s is required", req[i]);
	}
	if (rc == 0)
		rc = outcome_kind(root, &o, err);
	if (rc == 0)
		rc = usd_field(root, "tool_cost_usd", &has, &o.tool_nano, err);
	if (rc == 0)
		rc = usd_field(root, "human_review_usd", &has, &o.human_nano,
			       err);
	if (rc == 0)
		rc = outcome_labels(root, &o, err);
	if (rc == 0)
		*ret = o;
	return rc;
}

/* ---------------------------------------------------- decision table */

#define INLINE_NAMES 104
#define NNAMES 5

struct dent {
	_Atomic int lock;
	uint64_t seq; /* 0: free */
	uint64_t made_ms;
	uint64_t revision, wf_hash;
	bool canary;
	uint16_t len[NNAMES]; /* tenant, class, model, region, labels */
	char *heap;	      /* the names when they do not fit inline */
	char inl[INLINE_NAMES];
};

struct routerd_decisions {
	struct routerd_decisions_stats stats;
	struct dent *ring;
};

static void spin_lock(_Atomic int *l)
{
	while (atomic_exchange_explicit(l, 1, memory_order_acquire) != 0)
		while (atomic_load_explicit(l, memory_order_relaxed) != 0)
			;
}

static void spin_unlock(_Atomic int *l)
{
	atomic_store_explicit(l, 0, memory_order_release);
}

int routerd_decisions_new(struct routerd_decisions **ret)
{
	struct routerd_decisions *t = af_calloc(1, sizeof(*t));

	if (t == NULL)
		return AF_ENOMEM;
	/* Zeroed pages: memory is touched only as decisions are made. */
	t->ring = af_calloc(ROUTERD_DECISIONS_MAX, sizeof(*t->ring));
	if (t->ring == NULL) {
		af_free(t);
		return AF_ENOMEM;
	}
	*ret = t;
	return 0;
}

void routerd_decisions_free(struct routerd_decisions *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < ROUTERD_DECISIONS_MAX; i++)
		af_free(t->ring[i].heap);
	af_free(t->ring);
	af_free(t);
}

const struct routerd_decisions_stats *
routerd_decisions_stats(const struct routerd_decisions *t)
{
	return &t->stats;
}

void routerd_decisions_put(struct routerd_decisions *t, uint64_t seq,
			   const struct af_decision *d, const char *tenant,
			   const char *class_name, uint64_t now_ms,
			   uint64_t wf_hash, const char *labels,
			   size_t labels_len)
{
	const char *names[NNAMES] = {tenant, class_name, d->primary.model,
				     d->primary.region, labels};
	struct dent *e = &t->ring[seq & (ROUTERD_DECISIONS_MAX - 1)];
	uint16_t len[NNAMES];
	size_t total = 0;
	char *heap = NULL, *old = NULL, *dst;
	bool stored = false;

	if (seq == 0)
		return;
	for (int i = 0; i < NNAMES - 1; i++) {
		len[i] = (uint16_t)(names[i] != NULL
					    ? strnlen(names[i], ROUTERD_KEY_MAX)
					    : 0);
		total += len[i];
	}
	len[NNAMES - 1] =
		(uint16_t)(labels != NULL && labels_len <= ROUTERD_HOP_LABELS
				   ? labels_len
				   : 0);
	total += len[NNAMES - 1];
	if (total > INLINE_NAMES) {
		heap = af_malloc(total);
		if (heap == NULL)
			atomic_fetch_add(&t->stats.oversized, 1);
	}
	spin_lock(&e->lock);
	if (e->seq != 0 && now_ms - e->made_ms < ROUTERD_DECISIONS_KEEP_MS)
		atomic_fetch_add_explicit(&t->stats.dropped_early, 1,
					  memory_order_relaxed);
	old = e->heap;
	e->heap = heap;
	e->seq = 0;
	if (total <= INLINE_NAMES || heap != NULL) {
		dst = heap != NULL ? heap : e->inl;
		for (int i = 0; i < NNAMES; i++) {
			if (len[i] > 0)
				memcpy(dst, names[i], len[i]);
			dst += len[i];
			e->len[i] = len[i];
		}
		e->seq = seq;
		e->made_ms = now_ms;
		e->revision = d->revision;
		e->wf_hash = wf_hash;
		e->canary = d->canary;
		stored = true;
	}
	spin_unlock(&e->lock);
	af_free(old);
	if (stored)
		atomic_fetch_add_explicit(&t->stats.stored, 1,
					  memory_order_relaxed);
}

bool routerd_decisions_get(struct routerd_decisions *t, uint64_t seq,
			   struct routerd_decision_rec *ret)
{
	struct dent *e = &t->ring[seq & (ROUTERD_DECISIONS_MAX - 1)];
	char *outs[NNAMES] = {ret->tenant, ret->class_name, ret->model,
			      ret->region, ret->labels};
	const char *src;
	bool found = false;

	if (seq == 0)
		return false;
	spin_lock(&e->lock);
	if (e->seq == seq) {
		src = e->heap != NULL ? e->heap : e->inl;
		for (int i = 0; i < NNAMES; i++) {
			memcpy(outs[i], src, e->len[i]);
			outs[i][e->len[i]] = '\0';
			src += e->len[i];
		}
		ret->labels_len = e->len[NNAMES - 1];
		ret->revision = e->revision;
		ret->wf_hash = e->wf_hash;
		ret->canary = e->canary;
		found = true;
	}
	spin_unlock(&e->lock);
	return found;
}

/* What the call cost: the orchestrator's figure, else the registry price
 * of the tokens on the model that was called; at most the report bound. */
int64_t routerd_report_cost(const struct af_policy_view *pv,
			    const struct routerd_report *rep, const char *model)
{
	int64_t nano = 0;

	if (rep->has_cost)
		return rep->cost_nano_usd;
	if (pv != NULL && model != NULL && model[0] != '\0' &&
	    af_policy_view_cost_cached(
		    pv, model, rep->input_tokens > 0 ? rep->input_tokens : 0,
		    rep->cached_input_tokens > 0 ? rep->cached_input_tokens : 0,
		    rep->output_tokens > 0 ? rep->output_tokens : 0,
		    &nano) != 0)
		nano = 0;
	if (nano < 0)
		nano = 0;
	return nano > ROUTERD_REPORT_MAX_COST_NANO
		       ? ROUTERD_REPORT_MAX_COST_NANO
		       : nano;
}
