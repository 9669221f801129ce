/*
 * Spend anomalies (af report --anomalies, af_spend_anomaly_z): for every
 * tenant with usage in the window, the spend of the last complete UTC day
 * before now against the `window` days before it (days without usage
 * count as 0): mean, population standard deviation and
 * z = (spend - mean) / stddev, the deviation floored at 1 micro-USD so a
 * tenant whose spend never moved still gets a finite z.
 */
#ifndef AF_CONTROLD_ANOMALY_H
#define AF_CONTROLD_ANOMALY_H

#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

#define AF_ANOMALY_WINDOW_MAX 90
#define AF_ANOMALY_WINDOW_DEFAULT 28
/* Tenants one report may judge (max_tenants); later ones are left out. */
#define AF_ANOMALY_TENANTS 10000u

struct af_anomaly {
	char tenant[65];
	int64_t day_ms; /* the judged day */
	int64_t spend_micro;
	double mean_micro, stddev_micro, z;
};

/* Every tenant's anomaly (the first max_tenants met, 1 to
 * AF_ANOMALY_TENANTS), highest z first: *ret owned (af_free), *ret_n of
 * them (NULL, 0 when none); *ret_day_ms the judged day. window: 2 to
 * AF_ANOMALY_WINDOW_MAX days. Errors: AF_EINVAL (bounds), AF_ENOMEM,
 * storage errors. Thread: the store's readers. */
int af_anomalies(struct af_txn *txn, int64_t now_ms, unsigned window,
		 size_t max_tenants, struct af_anomaly **ret, size_t *ret_n,
		 int64_t *ret_day_ms);

#endif
