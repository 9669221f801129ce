/*
 * Names of things (tenants, classes, models, bundles, lanes, tiers, ...):
 * one rule for every parser and for the leader's checks of writes.
 *
 * A valid name is 1..max bytes, has no control character (0x00-0x1f,
 * 0x7f), no backslash, does not start with '/' or end with '/', has no
 * leading or trailing space, and no path segment equal to "." or "..". Any
 * thread; no allocation.
 */
#ifndef AF_COMMON_NAME_H
#define AF_COMMON_NAME_H

#include <stdbool.h>
#include <stddef.h>

/* Checks the len bytes of s. On refusal, when why is non-NULL, writes the
 * reason ("contains a control character (0x0a)") into why. */
bool af_name_valid(const char *s, size_t len, size_t max, char *why,
		   size_t whylen);

#endif
