/* Private to the policy engine: a bounded JSON writer over a caller's
 * buffer (no allocation). Once a write does not fit, `full` is set and
 * every later write is ignored. */
#ifndef AF_POLICY_JSONW_H
#define AF_POLICY_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct w {
	char *p;
	size_t left;
	bool full;
};

static inline void raw(struct w *w, const char *s, size_t n)
{
	if (w->full || n >= w->left) {
		w->full = true;
		return;
	}
	memcpy(w->p, s, n);
	w->p += n;
	w->left -= n;
}

static inline void lit(struct w *w, const char *s)
{
	raw(w, s, strlen(s));
}

static inline void str(struct w *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;

	raw(w, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		raw(w, run, (size_t)(s - run));
		if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			raw(w, esc, 2);
		} else {
			raw(w, esc, 6);
		}
		run = s + 1;
	}
	raw(w, run, (size_t)(s - run));
	raw(w, "\"", 1);
}

static inline void u64(struct w *w, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	raw(w, tmp + i, sizeof(tmp) - i);
}

static inline void i64(struct w *w, int64_t v)
{
	if (v < 0) {
		raw(w, "-", 1);
		u64(w, (uint64_t)0 - (uint64_t)v);
	} else {
		u64(w, (uint64_t)v);
	}
}

#endif
