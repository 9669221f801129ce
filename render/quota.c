/* Quota leases as JSON: one object per (quota, tenant, dimension) with
 * the limit, the leased sum and each routerd's lease. Shared by af quota
 * status -o json and GET /api/v1/quotas. */
#include "render/render.h"

#include <stdbool.h>
#include <string.h>

static const char *dim_name(uint32_t d)
{
	static const char *const names[] = {"inflight", "tokens_in_flight",
					    "rpm", "tpm"};

	return d < 4 ? names[d] : "unknown";
}

static bool same_group(const Af__QuotaLease *a, const Af__QuotaLease *b)
{
	return strcmp(a->quota, b->quota) == 0 &&
	       strcmp(a->tenant, b->tenant) == 0 && a->dim == b->dim;
}

static json_t *group(Af__QuotaLease *const *l, size_t n)
{
	json_t *o = json_object(), *arr = json_array();
	int64_t sum = 0, limit = 0;

	for (size_t i = 0; i < n; i++) {
		json_t *e = json_object();

		json_object_set_new(e, "routerd",
				    json_string(l[i]->routerd_id));
		json_object_set_new(e, "amount", json_integer(l[i]->amount));
		json_object_set_new(e, "expires",
				    af_render_time(l[i]->expires_ms));
		json_array_append_new(arr, e);
		sum += l[i]->amount;
		if (l[i]->limit > limit)
			limit = l[i]->limit;
	}
	json_object_set_new(o, "quota", json_string(l[0]->quota));
	json_object_set_new(o, "tenant",
			    l[0]->tenant[0] ? json_string(l[0]->tenant)
					    : json_null());
	json_object_set_new(o, "dimension", json_string(dim_name(l[0]->dim)));
	json_object_set_new(o, "limit", json_integer(limit));
	json_object_set_new(o, "leased", json_integer(sum));
	json_object_set_new(o, "leases", arr);
	return o;
}

json_t *af_render_quotas(const Af__QuotaStatusResp *qs)
{
	json_t *arr = json_array();
	size_t i = 0;

	while (qs != NULL && i < qs->n_leases) {
		size_t j = i + 1;

		while (j < qs->n_leases &&
		       same_group(qs->leases[i], qs->leases[j]))
			j++;
		json_array_append_new(arr, group(qs->leases + i, j - i));
		i = j;
	}
	return arr;
}
