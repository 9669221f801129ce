/* Time helpers. Thread-safe. */
#ifndef AF_COMMON_TIMEUTIL_H
#define AF_COMMON_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Monotonic clock in nanoseconds / milliseconds. */
uint64_t af_mono_ns(void);
uint64_t af_mono_ms(void);
/* Wall clock, milliseconds since the Unix epoch (UTC). */
int64_t af_wall_ms(void);
/* *ret = the time ms milliseconds from now on clock (CLOCK_MONOTONIC or
 * CLOCK_REALTIME): the absolute deadline pthread_cond_timedwait takes. */
void af_deadline_after(clockid_t clock, uint64_t ms, struct timespec *ret);
/* Parses "250ms", "10s", "2m", "1h" or a bare number of seconds into
 * milliseconds. Returns 0 or AF_EINVAL; bounded to 30 days. */
int af_parse_duration_ms(const char *s, uint64_t *ret_ms);
/* Formats epoch milliseconds as RFC 3339 UTC ("2026-11-22T10:00:00Z") into
 * buf (at least 32 bytes). Returns buf. */
char *af_format_time(int64_t epoch_ms, char *buf, size_t len);

#endif
