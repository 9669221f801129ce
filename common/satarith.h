/*
 * Saturating sums for counters that input controls: no undefined behaviour
 * (signed overflow) and no wrap-around, whatever the values.
 */
#ifndef AF_COMMON_SATARITH_H
#define AF_COMMON_SATARITH_H

#include <stdint.h>

static inline uint64_t af_sat_add_u64(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

static inline int64_t af_sat_add_i64(int64_t a, int64_t b)
{
	int64_t r;

	if (!__builtin_add_overflow(a, b, &r))
		return r;
	return b > 0 ? INT64_MAX : INT64_MIN;
}

static inline int64_t af_sat_sub_i64(int64_t a, int64_t b)
{
	int64_t r;

	if (!__builtin_sub_overflow(a, b, &r))
		return r;
	return b < 0 ? INT64_MAX : INT64_MIN;
}

#endif
