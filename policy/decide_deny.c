/* How a decision becomes a denial, and when a saturated lane (or a
 * workflow at its fan-out) may be tried again: shared by the steps of
 * af_decide() (decide.c), the workflow caps (decide_workflow.c) and the
 * emergency overlay (decide_override.c). Pure; no allocation. */
#include "policy/decide_int.h"

#include <stdarg.h>
#include <stdio.h>

void decide_deny(struct af_decision *d, const char *code, const char *rule,
		 const char *fmt, ...)
{
	va_list ap;

	d->kind = AF_DECISION_DENY;
	d->code = code;
	d->rule = rule;
	d->retryable = false;
	va_start(ap, fmt);
	vsnprintf(d->message, sizeof(d->message), fmt, ap);
	va_end(ap);
}

int64_t decide_lane_retry_ms(int64_t slo_ms)
{
	if (slo_ms <= 0)
		return AF_LANE_RETRY_DEFAULT_MS;
	if (slo_ms < AF_LANE_RETRY_MIN_MS)
		return AF_LANE_RETRY_MIN_MS;
	return slo_ms > AF_LANE_RETRY_MAX_MS ? AF_LANE_RETRY_MAX_MS : slo_ms;
}
