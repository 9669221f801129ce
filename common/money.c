/* Micro-USD strings, rounding and cost buckets: see money.h. */
#include "common/money.h"

#include <math.h>
#include <stdio.h>

const char *af_money_str(int64_t micro, char out[AF_MONEY_LEN])
{
	/* the magnitude as unsigned: INT64_MIN has no positive twin */
	uint64_t m =
		micro < 0 ? (uint64_t)0 - (uint64_t)micro : (uint64_t)micro;

	snprintf(out, AF_MONEY_LEN, "%s%llu.%06llu", micro < 0 ? "-" : "",
		 (unsigned long long)(m / 1000000u),
		 (unsigned long long)(m % 1000000u));
	return out;
}

int64_t af_money_micro_of_nano(int64_t nano)
{
	if (nano == INT64_MIN)
		nano++;
	if (nano < 0)
		return -af_money_micro_of_nano(-nano);
	return nano / 1000 + (nano % 1000 >= 500);
}

int64_t af_money_micro_of_usd(double usd)
{
	if (!isfinite(usd))
		return 0;
	if (usd >= 9.2e12)
		return INT64_MAX;
	if (usd <= -9.2e12)
		return INT64_MIN;
	return (int64_t)llround(usd * 1e6);
}

unsigned af_costhist_index(int64_t micro)
{
	double l;
	unsigned i;

	if (micro < 1)
		return 0;
	l = floor(log2((double)micro) * AF_COSTHIST_PER_OCTAVE);
	i = 1u + (unsigned)l;
	return i < AF_COSTHIST_BUCKETS ? i : AF_COSTHIST_BUCKETS - 1;
}

static int64_t clamp(int64_t v, int64_t lo, int64_t hi)
{
	if (v < lo)
		v = lo;
	return v > hi ? hi : v;
}

int64_t af_costhist_percentile(const uint64_t *counts, size_t n, unsigned pct,
			       int64_t min_micro, int64_t max_micro)
{
	uint64_t total = 0, seen = 0, want;
	double mid;

	for (size_t i = 0; i < n; i++)
		total += counts[i];
	if (total == 0)
		return 0;
	/* the smallest cost with at least pct% of the set at or below it */
	want = (total * pct + 99) / 100;
	if (want == 0)
		want = 1;
	for (size_t i = 0; i < n; i++) {
		seen += counts[i];
		if (seen < want)
			continue;
		if (i == 0)
			return clamp(0, min_micro, max_micro);
		mid = exp2(((double)i - 0.5) / AF_COSTHIST_PER_OCTAVE);
		return clamp((int64_t)llround(mid), min_micro, max_micro);
	}
	return max_micro;
}
