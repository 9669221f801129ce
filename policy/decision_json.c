/* Decision and error bodies rendered into caller
 * buffers: no allocation, one pass. */
#include "policy/jsonw.h"
#include "policy/policy.h"

#include <inttypes.h>
#include <string.h>

size_t af_policy_fmt_usd(int64_t nano, char out[32])
{
	uint64_t v = nano < 0 ? (uint64_t)0 - (uint64_t)nano : (uint64_t)nano;
	uint64_t whole = v / 1000000000u, frac = v % 1000000000u;
	char tmp[32];
	size_t n = 0, i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + whole % 10);
		whole /= 10;
	} while (whole != 0);
	if (nano < 0)
		out[n++] = '-';
	memcpy(out + n, tmp + i, sizeof(tmp) - i);
	n += sizeof(tmp) - i;
	if (frac != 0) {
		int digits = 9;

		while (frac % 10 == 0) {
			frac /= 10;
			digits--;
		}
		out[n++] = '.';
		for (int d = digits - 1; d >= 0; d--) {
			out[n + (size_t)d] = (char)('0' + frac % 10);
			frac /= 10;
		}
		n += (size_t)digits;
	}
	out[n] = '\0';
	return n;
}

static void key(struct w *w, const char *k)
{
	lit(w, k);
}

static void policy_obj(struct w *w, const struct af_decision *d)
{
	key(w, ",\"policy\":{\"revision\":");
	u64(w, d->revision);
	key(w, ",\"hash\":");
	str(w, d->hash ? d->hash : "");
	key(w,
	    d->canary ? ",\"cohort\":\"canary\"}" : ",\"cohort\":\"stable\"}");
}

static void hop(struct w *w, const struct af_hop *h, bool full)
{
	key(w, "\"model\":");
	str(w, h->model);
	if (full) {
		key(w, ",\"provider\":");
		str(w, h->provider);
	}
	key(w, ",\"tier\":");
	str(w, h->tier);
	key(w, ",\"region\":");
	str(w, h->region);
}

static void rule(struct w *w, const struct af_decision *d)
{
	key(w, ",\"rule\":");
	if (d->rule != NULL)
		str(w, d->rule);
	else
		lit(w, "null");
}

/* ,"workflow":{"hops","inflight","cost_usd"}: the state before this hop. */
static void workflow_obj(struct w *w, const struct af_decision *d)
{
	char usd[32];
	size_t n;

	if (!d->has_workflow)
		return;
	key(w, ",\"workflow\":{\"hops\":");
	u64(w, d->workflow.hops);
	key(w, ",\"inflight\":");
	u64(w, d->workflow.inflight);
	key(w, ",\"cost_usd\":");
	n = af_policy_fmt_usd(d->workflow.cost_nano_usd, usd);
	raw(w, usd, n);
	raw(w, "}", 1);
}

/* "overrides" and "stale", only when set. */
static void extras(struct w *w, const struct af_decision *d)
{
	if (d->noverrides > 0) {
		key(w, ",\"overrides\":[");
		for (size_t i = 0; i < d->noverrides; i++) {
			if (i > 0)
				raw(w, ",", 1);
			str(w, d->overrides[i]);
		}
		raw(w, "]", 1);
	}
	if (d->quota_name != NULL) {
		key(w, ",\"quota\":{\"name\":");
		str(w, d->quota_name);
		key(w, ",\"dimension\":");
		str(w, d->quota_dim != NULL ? d->quota_dim : "");
		key(w, ",\"limit\":");
		i64(w, d->quota_limit);
		key(w, ",\"in_use\":");
		i64(w, d->quota_in_use);
		raw(w, "}", 1);
	}
	if (d->stale_mode != NULL) {
		key(w, ",\"stale\":{\"since_s\":");
		i64(w, d->stale_since_s);
		key(w, ",\"mode\":");
		str(w, d->stale_mode);
		raw(w, "}", 1);
	}
}

static void route_body(struct w *w, const struct af_decision *d)
{
	char usd[32];
	size_t n;

	key(w, "{\"decision\":\"route\",\"decision_id\":");
	str(w, d->decision_id ? d->decision_id : "");
	raw(w, ",", 1);
	hop(w, &d->primary, true);
	key(w, ",\"lane\":");
	str(w, d->lane);
	key(w, ",\"fallback\":[");
	for (size_t i = 0; i < d->nfallback; i++) {
		raw(w, i ? ",{" : "{", i ? 2 : 1);
		hop(w, &d->fallback[i], false);
		raw(w, "}", 1);
	}
	key(w, "],\"max_retries\":");
	i64(w, d->max_retries);
	key(w, ",\"est_cost_usd\":");
	n = af_policy_fmt_usd(d->est_cost_nano_usd, usd);
	raw(w, usd, n);
	rule(w, d);
	key(w, d->degraded ? ",\"degraded\":true" : ",\"degraded\":false");
	extras(w, d);
	policy_obj(w, d);
	key(w, ",\"registry_revision\":");
	u64(w, d->registry_revision);
	workflow_obj(w, d);
	raw(w, "}", 1);
}

static void deny_body(struct w *w, const struct af_decision *d)
{
	key(w, "{\"decision\":\"deny\",\"decision_id\":");
	str(w, d->decision_id ? d->decision_id : "");
	key(w, ",\"code\":");
	str(w, d->code ? d->code : "");
	key(w, ",\"message\":");
	str(w, d->message);
	rule(w, d);
	key(w, d->retryable ? ",\"retryable\":true" : ",\"retryable\":false");
	if (d->retry_after_ms >= 0) {
		key(w, ",\"retry_after_ms\":");
		i64(w, d->retry_after_ms);
	}
	extras(w, d);
	policy_obj(w, d);
	workflow_obj(w, d);
	raw(w, "}", 1);
}

int af_decision_json(const struct af_decision *d, char *buf, size_t len,
		     size_t *ret_len)
{
	struct w w = {.p = buf, .left = len};

	if (d->kind == AF_DECISION_ROUTE)
		route_body(&w, d);
	else
		deny_body(&w, d);
	if (w.full || w.left == 0)
		return AF_ETOOBIG;
	*w.p = '\0';
	*ret_len = len - w.left;
	return 0;
}

int af_error_json(const char *code, const char *message, const char *field,
		  char *buf, size_t len, size_t *ret_len)
{
	struct w w = {.p = buf, .left = len};

	lit(&w, "{\"error\":{\"code\":");
	str(&w, code);
	lit(&w, ",\"message\":");
	str(&w, message);
	if (field != NULL && field[0] != '\0') {
		lit(&w, ",\"field\":");
		str(&w, field);
	}
	lit(&w, "}}");
	if (w.full || w.left == 0)
		return AF_ETOOBIG;
	*w.p = '\0';
	*ret_len = len - w.left;
	return 0;
}
