/* Spend anomalies: per tenant, the last complete UTC day's spend against
 * the trailing window of days before it, from the per-day usage rows. */
#include "common/alloc.h"
#include "common/money.h"
#include "controld/anomaly.h"
#include "controld/budget.h"
#include "controld/state.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define DAY_MS 86400000LL
#define NSLOTS 32768u /* a power of two over 2 * AF_ANOMALY_TENANTS */

struct tenant {
	char name[65];
	int64_t nano[AF_ANOMALY_WINDOW_MAX + 1]; /* window days, then the day */
};

struct scan {
	int64_t lo_ms;
	unsigned window;
	struct tenant *t;
	size_t n, max;
	uint32_t slots[NSLOTS];
};

static struct tenant *tenant_of(struct scan *s, const char *name, size_t len)
{
	size_t h = XXH3_64bits(name, len) & (NSLOTS - 1);
	uint32_t i;

	if (len > 64)
		len = 64;
	while ((i = s->slots[h]) != 0) {
		if (strncmp(s->t[i - 1].name, name, len) == 0 &&
		    s->t[i - 1].name[len] == '\0')
			return &s->t[i - 1];
		h = (h + 1) & (NSLOTS - 1);
	}
	if (s->n == s->max)
		return NULL;
	memcpy(s->t[s->n].name, name, len);
	s->slots[h] = (uint32_t)++s->n;
	return &s->t[s->n - 1];
}

static int row(const void *key, size_t klen, const void *val, size_t vlen,
	       void *arg)
{
	struct scan *s = arg;
	struct af_showback_key k;
	struct tenant *t;
	Af__Showback *sb;
	int64_t d;

	if (af_showback_key_parse(key, klen, &k) != 0)
		return 0;
	d = (k.day_ms - s->lo_ms) / DAY_MS;
	if (d < 0 || d > s->window ||
	    (t = tenant_of(s, k.part[0], k.len[0])) == NULL)
		return 0; /* past the tenant bound: left out */
	if ((sb = af__showback__unpack(NULL, vlen, val)) == NULL)
		return AF_ECORRUPT;
	t->nano[d] += sb->cost_nano_usd;
	af__showback__free_unpacked(sb, NULL);
	return 0;
}

static void judge(const struct tenant *t, unsigned window, int64_t day_ms,
		  struct af_anomaly *a)
{
	double sum = 0, var = 0, mean, sd;

	for (unsigned i = 0; i < window; i++)
		sum += (double)af_money_micro_of_nano(t->nano[i]);
	mean = sum / window;
	for (unsigned i = 0; i < window; i++) {
		double x = (double)af_money_micro_of_nano(t->nano[i]) - mean;

		var += x * x;
	}
	sd = sqrt(var / window);
	memcpy(a->tenant, t->name, sizeof(a->tenant));
	a->day_ms = day_ms;
	a->spend_micro = af_money_micro_of_nano(t->nano[window]);
	a->mean_micro = mean;
	a->stddev_micro = sd;
	a->z = ((double)a->spend_micro - mean) / (sd < 1 ? 1 : sd);
}

static int by_z(const void *x, const void *y)
{
	const struct af_anomaly *a = x, *b = y;

	if (a->z != b->z)
		return a->z < b->z ? 1 : -1;
	return strcmp(a->tenant, b->tenant);
}

int af_anomalies(struct af_txn *txn, int64_t now_ms, unsigned window,
		 size_t max_tenants, struct af_anomaly **ret, size_t *ret_n,
		 int64_t *ret_day_ms)
{
	int64_t day = af_period_start_ms(now_ms, false) - DAY_MS;
	struct scan *s;
	struct af_anomaly *a = NULL;
	int rc;

	*ret = NULL;
	*ret_n = 0;
	*ret_day_ms = day;
	if (window < 2 || window > AF_ANOMALY_WINDOW_MAX || max_tenants == 0 ||
	    max_tenants > AF_ANOMALY_TENANTS)
		return AF_EINVAL;
	if ((s = af_calloc(1, sizeof(*s))) == NULL ||
	    (s->t = af_calloc(max_tenants, sizeof(*s->t))) == NULL) {
		af_free(s);
		return AF_ENOMEM;
	}
	s->window = window;
	s->max = max_tenants;
	s->lo_ms = day - (int64_t)window * DAY_MS;
	rc = af_showback_iter(txn, s->lo_ms, day + DAY_MS, row, s);
	if (rc == 0 && s->n > 0 && (a = af_calloc(s->n, sizeof(*a))) == NULL)
		rc = AF_ENOMEM;
	for (size_t i = 0; rc == 0 && i < s->n; i++)
		judge(&s->t[i], window, day, &a[i]);
	if (rc == 0) {
		if (s->n > 1)
			qsort(a, s->n, sizeof(*a), by_z);
		*ret = a;
		*ret_n = s->n;
	} else {
		af_free(a);
	}
	af_free(s->t);
	af_free(s);
	return rc;
}
