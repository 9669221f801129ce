/* A request packed into its bytes in use and back (policy.h). */
#include "policy/pack.h"
#include "policy/policy.h"

#include <stddef.h>
#include <string.h>

/* A string of at most max bytes: its length (u16), its bytes. */
static void pk_put_str(struct pk *k, const char *s)
{
	uint16_t n = (uint16_t)strnlen(s, UINT16_MAX);

	pk_put(k, &n, sizeof(n));
	pk_put(k, s, n);
}

static void pk_get_str(struct pk *k, char *out, size_t max)
{
	uint16_t n = 0;

	pk_get(k, &n, sizeof(n));
	if (n > max)
		k->bad = true;
	pk_get(k, out, k->bad ? 0 : n);
	out[k->bad ? 0 : n] = '\0';
}

/* The scalar fields, latency_slo_ms to attempt, lie side by side. */
#define REQ_SCALARS                                                            \
	(offsetof(struct af_request, attempt) + sizeof(int64_t) -              \
	 offsetof(struct af_request, latency_slo_ms))

_Static_assert(REQ_SCALARS == 8 * sizeof(int64_t),
	       "af_request_pack: the scalars are not side by side");

size_t af_request_pack(const struct af_request *r, uint8_t *buf, size_t cap)
{
	struct pk k = {.p = buf, .left = cap};
	uint8_t nn = (uint8_t)r->nneeds, nl = (uint8_t)r->nlabels;

	pk_put_str(&k, r->workflow_id);
	pk_put_str(&k, r->tenant);
	pk_put_str(&k, r->class_name);
	pk_put_str(&k, r->sensitivity);
	pk_put_str(&k, r->agent_role);
	pk_put_str(&k, r->region);
	pk_put(&k, &r->latency_slo_ms, REQ_SCALARS);
	pk_put(&k, &nn, 1);
	for (size_t i = 0; i < r->nneeds; i++)
		pk_put_str(&k, r->needs[i]);
	pk_put(&k, &nl, 1);
	for (size_t i = 0; i < r->nlabels; i++) {
		pk_put_str(&k, r->labels[i].key);
		pk_put_str(&k, r->labels[i].value);
	}
	return k.bad ? 0 : cap - k.left;
}

size_t af_request_unpack(const uint8_t *buf, size_t len, struct af_request *ret)
{
	struct pk k = {.q = buf, .left = len};
	uint8_t nn = 0, nl = 0;

	pk_get_str(&k, ret->workflow_id, AF_POLICY_NAME_MAX);
	pk_get_str(&k, ret->tenant, AF_POLICY_NAME_MAX);
	pk_get_str(&k, ret->class_name, AF_POLICY_NAME_MAX);
	pk_get_str(&k, ret->sensitivity, AF_POLICY_NAME_MAX);
	pk_get_str(&k, ret->agent_role, AF_POLICY_NAME_MAX);
	pk_get_str(&k, ret->region, AF_POLICY_NAME_MAX);
	pk_get(&k, &ret->latency_slo_ms, REQ_SCALARS);
	pk_get(&k, &nn, 1);
	if (nn > AF_REQ_MAX_NEEDS)
		k.bad = true;
	for (size_t i = 0; !k.bad && i < nn; i++)
		pk_get_str(&k, ret->needs[i], AF_POLICY_NAME_MAX);
	pk_get(&k, &nl, 1);
	if (nl > AF_REQ_MAX_LABELS)
		k.bad = true;
	for (size_t i = 0; !k.bad && i < nl; i++) {
		pk_get_str(&k, ret->labels[i].key, AF_POLICY_LABEL_KEY_MAX);
		pk_get_str(&k, ret->labels[i].value, AF_POLICY_NAME_MAX);
	}
	ret->nneeds = k.bad ? 0 : nn;
	ret->nlabels = k.bad ? 0 : nl;
	return k.bad ? 0 : len - k.left;
}
