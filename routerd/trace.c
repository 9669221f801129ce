/* W3C trace context (see trace.h). */
#include "routerd/trace.h"

#include <string.h>

static bool hex_run(const char *s, size_t n, bool *all_zero)
{
	*all_zero = true;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
		if (c != '0')
			*all_zero = false;
	}
	return true;
}

static unsigned hexval(char c)
{
	return c <= '9' ? (unsigned)(c - '0') : (unsigned)(c - 'a' + 10);
}

static bool state_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > ROUTERD_TRACESTATE_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

bool routerd_trace_parse(const char *traceparent, const char *tracestate,
			 struct routerd_trace *t)
{
	const char *p = traceparent;
	bool zero;
	size_t n;

	t->has = false;
	t->state[0] = '\0';
	if (p == NULL)
		return false;
	n = strlen(p);
	/* vv-<32>-<16>-ff: 55 characters */
	if (n < 55 || p[2] != '-' || p[35] != '-' || p[52] != '-')
		return false;
	if (!hex_run(p, 2, &zero) || (p[0] == 'f' && p[1] == 'f'))
		return false;
	if (memcmp(p, "00", 2) == 0 ? n != 55 : (n > 55 && p[55] != '-'))
		return false;
	if (!hex_run(p + 3, 32, &zero) || zero)
		return false;
	memcpy(t->trace_id, p + 3, 32);
	t->trace_id[32] = '\0';
	if (!hex_run(p + 36, 16, &zero) || zero)
		return false;
	memcpy(t->parent_id, p + 36, 16);
	t->parent_id[16] = '\0';
	if (!hex_run(p + 53, 2, &zero))
		return false;
	t->flags = (uint8_t)(hexval(p[53]) << 4 | hexval(p[54]));
	t->has = true;
	if (tracestate != NULL && state_ok(tracestate))
		memcpy(t->state, tracestate, strlen(tracestate) + 1);
	return true;
}

size_t routerd_trace_splice(const struct routerd_trace *t, char *body,
			    size_t cap, size_t len)
{
	static const char key[] = ",\"trace_id\":\"";
	size_t add = sizeof(key) - 1 + 32 + 1;
	char *p;

	if (!t->has || len < 2 || body[len - 1] != '}' || len + add + 1 > cap)
		return len;
	p = body + len - 1;
	memcpy(p, key, sizeof(key) - 1);
	p += sizeof(key) - 1;
	memcpy(p, t->trace_id, 32);
	p += 32;
	memcpy(p, "\"}", 3);
	return len + add;
}
