#include "routerd/usage.h"
#include "common/alloc.h"
#include "common/err.h"
#include "common/metrics.h"
#include "common/satarith.h"
#include "proto/af.pb-c.h"
#include "routerd/shadow.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define KEY_MAX 65

struct row {
	uint64_t revision;
	char tenant[KEY_MAX], class_name[KEY_MAX], model[KEY_MAX];
	uint64_t count, ok, lat[AF_USAGE_BUCKETS], lat_sum_ms;
	int64_t cost, failed_cost;
};

struct routerd_usage {
	pthread_mutex_t lock;
	struct row rows[AF_USAGE_MAX_ROWS + 64];
	size_t n;
};

int routerd_usage_new(struct routerd_usage **ret)
{
	struct routerd_usage *u = af_calloc(1, sizeof(*u));

	if (u == NULL)
		return AF_ENOMEM;
	pthread_mutex_init(&u->lock, NULL);
	*ret = u;
	return 0;
}

void routerd_usage_free(struct routerd_usage *u)
{
	if (u == NULL)
		return;
	pthread_mutex_destroy(&u->lock);
	af_free(u);
}

#define OTHER "(other)"

static struct row *find(struct routerd_usage *u, uint64_t rev,
			const char *tenant, const char *cls, const char *model)
{
	struct row *r;

	for (size_t i = 0; i < u->n; i++) {
		r = &u->rows[i];
		if (r->revision == rev && strcmp(r->model, model) == 0 &&
		    strcmp(r->tenant, tenant) == 0 &&
		    strcmp(r->class_name, cls) == 0)
			return r;
	}
	/* Full: the revision's "(other)" row keeps canary analysis exact;
	 * showback loses the breakdown, not the sums. */
	if (u->n >= AF_USAGE_MAX_ROWS && strcmp(tenant, OTHER) != 0)
		return find(u, rev, OTHER, OTHER, OTHER);
	if (u->n >= sizeof(u->rows) / sizeof(u->rows[0]))
		return NULL;
	r = &u->rows[u->n++];
	memset(r, 0, sizeof(*r));
	r->revision = rev;
	snprintf(r->tenant, KEY_MAX, "%s", tenant);
	snprintf(r->class_name, KEY_MAX, "%s", cls);
	snprintf(r->model, KEY_MAX, "%s", model);
	return r;
}

static size_t bucket_of(uint64_t ms)
{
	size_t i = 0;

	while (i < AF_USAGE_BUCKETS - 1 && ms > af_usage_bucket_ms[i])
		i++;
	return i;
}

void routerd_usage_record(struct routerd_usage *u, uint64_t revision,
			  const char *tenant, const char *class_name,
			  const char *model, bool ok, uint64_t latency_ms,
			  int64_t cost_nano_usd)
{
	struct row *r;

	if (revision == 0)
		return;
	pthread_mutex_lock(&u->lock);
	r = find(u, revision, tenant, class_name, model);
	if (r != NULL) {
		r->count++;
		r->ok += ok;
		r->lat[bucket_of(latency_ms)]++;
		r->lat_sum_ms = af_sat_add_u64(r->lat_sum_ms, latency_ms);
		r->cost = af_sat_add_i64(r->cost, cost_nano_usd);
		if (!ok)
			r->failed_cost =
				af_sat_add_i64(r->failed_cost, cost_nano_usd);
	}
	pthread_mutex_unlock(&u->lock);
}

static int pack(const struct row *rows, size_t n, Af__ShadowCounts *sh,
		size_t nsh, const char *id, uint8_t **ret, size_t *ret_len)
{
	Af__UsageReport rep = AF__USAGE_REPORT__INIT;
	Af__UsageRow *pr = af_calloc(n + 1, sizeof(*pr));
	Af__UsageRow **pp = af_calloc(n + 1, sizeof(*pp));
	Af__ShadowCounts **sp = af_calloc(nsh + 1, sizeof(*sp));
	uint8_t *buf = NULL;
	int rc = 0;

	if (pr == NULL || pp == NULL || sp == NULL) {
		rc = AF_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nsh; i++)
		sp[i] = &sh[i];
	rep.n_shadow = nsh;
	rep.shadow = sp;
	for (size_t i = 0; i < n; i++) {
		af__usage_row__init(&pr[i]);
		pr[i].revision = rows[i].revision;
		pr[i].tenant = (char *)rows[i].tenant;
		pr[i].class_name = (char *)rows[i].class_name;
		pr[i].model = (char *)rows[i].model;
		pr[i].count = rows[i].count;
		pr[i].ok = rows[i].ok;
		pr[i].n_latency_buckets = AF_USAGE_BUCKETS;
		pr[i].latency_buckets = (uint64_t *)rows[i].lat;
		pr[i].latency_sum_ms = rows[i].lat_sum_ms;
		pr[i].cost_nano_usd = rows[i].cost;
		pr[i].failed_cost_nano_usd = rows[i].failed_cost;
		pp[i] = &pr[i];
	}
	rep.routerd_id = (char *)id;
	rep.n_rows = n;
	rep.rows = pp;
	buf = af_malloc(af__usage_report__get_packed_size(&rep) + 1);
	if (buf == NULL) {
		rc = AF_ENOMEM;
		goto out;
	}
	*ret_len = af__usage_report__pack(&rep, buf);
	*ret = buf;
out:
	af_free(pr);
	af_free(pp);
	af_free(sp);
	return rc;
}

int routerd_usage_take(struct routerd_usage *u, struct routerd_shadow *sh,
		       const char *id, uint8_t **ret, size_t *ret_len)
{
	Af__ShadowCounts *rows = NULL;
	size_t nsh = 0;
	int rc = 0;

	*ret = NULL;
	*ret_len = 0;
	/* Shadow counters taken are sent with this batch (or lost with it
	 * when it cannot be packed). */
	(void)routerd_shadow_take(sh, &rows, &nsh);
	pthread_mutex_lock(&u->lock);
	if ((u->n > 0 || nsh > 0) &&
	    (rc = pack(u->rows, u->n, rows, nsh, id, ret, ret_len)) == 0)
		u->n = 0;
	pthread_mutex_unlock(&u->lock);
	af_free(rows);
	return rc;
}
