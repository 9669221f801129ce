/*
 * Money as integer micro-USD: exact decimal strings, rounding from the
 * 1e-9 USD the decision path counts in, and the fixed log-scale buckets
 * that summarise a set of workflow costs for their percentiles.
 *
 * Bucket 0 holds costs under one micro-USD; bucket i >= 1 holds
 * [2^((i-1)/8), 2^(i/8)) micro-USD, up to AF_COSTHIST_BUCKETS - 1, which
 * also takes everything above. A percentile is the geometric middle of
 * its bucket, kept within the smallest and largest cost seen: at most
 * 2^(1/16) - 1 = 4.4% from the true value, and exact when every cost in
 * the set is the same. Pure functions: any thread.
 */
#ifndef AF_COMMON_MONEY_H
#define AF_COMMON_MONEY_H

#include <stddef.h>
#include <stdint.h>

/* "-12.345678": sign, integer part, 6 decimals (at most 28 bytes). */
#define AF_MONEY_LEN 32
const char *af_money_str(int64_t micro, char out[AF_MONEY_LEN]);

/* nano (1e-9 USD) rounded to the nearest micro-USD, halves away from 0. */
int64_t af_money_micro_of_nano(int64_t nano);

/* USD given as a double (a JSON number) rounded to micro-USD. */
int64_t af_money_micro_of_usd(double usd);

#define AF_COSTHIST_BUCKETS 344u
#define AF_COSTHIST_PER_OCTAVE 8

/* The bucket of a cost in micro-USD. */
unsigned af_costhist_index(int64_t micro);

/* The cost at percentile pct (1..100) of counts[0..n) (bucket counts),
 * clamped to [min_micro, max_micro]; 0 when the counts are all zero. */
int64_t af_costhist_percentile(const uint64_t *counts, size_t n, unsigned pct,
			       int64_t min_micro, int64_t max_micro);

#endif
