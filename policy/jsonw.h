/* The policy engine's and the decision log's bounded JSON writer over a
 * caller's buffer (no allocation). Once a write does not fit, `full` is set and
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

/* Whether any of the 8 bytes of v needs an escape in a JSON string: a
 * control character (< 0x20), '"' or '\\'. (x - 0x01..) & ~x & 0x80..
 * is non-zero when a byte of x is zero; with x - 0x20.. in place of
 * x - 0x01.., when a byte is below 0x20. */
static inline bool swar_needs_escape(uint64_t v)
{
	const uint64_t ones = 0x0101010101010101ull,
		       high = 0x8080808080808080ull;
	uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');

	return (((v - ones * 0x20) & ~v) | ((q - ones) & ~q) |
		((b - ones) & ~b)) &
	       high;
}

static inline void str(struct w *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(s), i = 0, run = 0;

	raw(w, "\"", 1);
	for (;;) {
		uint64_t v;
		unsigned char c;

		/* Eight clean bytes at a time, then byte by byte. */
		while (i + 8 <= n) {
			memcpy(&v, s + i, 8);
			if (swar_needs_escape(v))
				break;
			i += 8;
		}
		while (i < n && (c = (unsigned char)s[i]) >= 0x20 && c != '"' &&
		       c != '\\')
			i++;
		raw(w, s + run, i - run);
		if (i >= n)
			break;
		c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			char esc[2] = {'\\', (char)c};

			raw(w, esc, 2);
		} else {
			char esc[6] = {'\\', 'u',	  '0',
				       '0',  hex[c >> 4], hex[c & 15]};

			raw(w, esc, 6);
		}
		run = ++i;
	}
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
