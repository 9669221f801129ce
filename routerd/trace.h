/*
 * W3C trace context for routerd's decisions: the `traceparent` and
 * `tracestate` request headers are parsed (strictly: an invalid header is
 * ignored, as the W3C recommendation says), the trace id goes into the
 * decision body as "trace_id", and the OTLP exporter (otlp.h) makes the
 * decision a child span of the caller's span. No allocation.
 */
#ifndef AF_ROUTERD_TRACE_H
#define AF_ROUTERD_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROUTERD_TRACESTATE_MAX 512

struct routerd_trace {
	bool has;	   /* a valid traceparent came in */
	char trace_id[33]; /* 32 lowercase hex digits */
	char parent_id[17];
	uint8_t flags;
	char state[ROUTERD_TRACESTATE_MAX + 1]; /* "" when none or invalid */
};

/* Parses the headers (either may be NULL) into *t. Version 00 must be
 * exactly "00-<32 hex>-<16 hex>-<2 hex>"; a later version may carry more
 * after a '-'; version ff, upper-case hex and all-zero ids are invalid.
 * tracestate is kept only with a valid traceparent, when it is at most
 * ROUTERD_TRACESTATE_MAX printable ASCII characters. Returns t->has. */
bool routerd_trace_parse(const char *traceparent, const char *tracestate,
			 struct routerd_trace *t);

/* Inserts ,"trace_id":"..." before the closing brace of the JSON object
 * body[0..len) (buffer of cap bytes, kept NUL-terminated) when t->has.
 * Returns the new length; len unchanged when there is no trace or no room. */
size_t routerd_trace_splice(const struct routerd_trace *t, char *body,
			    size_t cap, size_t len);

#endif
