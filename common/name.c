#include "common/name.h"

#include <stdio.h>

static bool refuse(char *why, size_t whylen, const char *msg)
{
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s", msg);
	return false;
}

/* The segment [s, s+n) of a '/'-separated name is "." or "..". */
static bool dot_segment(const char *s, size_t n)
{
	return (n == 1 && s[0] == '.') ||
	       (n == 2 && s[0] == '.' && s[1] == '.');
}

bool af_name_valid(const char *s, size_t len, size_t max, char *why,
		   size_t whylen)
{
	size_t seg = 0;

	if (len == 0)
		return refuse(why, whylen, "is empty");
	if (len > max) {
		if (why != NULL && whylen > 0)
			snprintf(why, whylen, "is longer than %zu bytes", max);
		return false;
	}
	if (s[0] == ' ' || s[len - 1] == ' ')
		return refuse(why, whylen, "starts or ends with a space");
	if (s[0] == '/' || s[len - 1] == '/')
		return refuse(why, whylen, "starts or ends with '/'");
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)s[i] : '/';

		if (c < 0x20 || c == 0x7f) {
			if (why != NULL && whylen > 0)
				snprintf(why, whylen,
					 "contains a control character "
					 "(0x%02x)",
					 c);
			return false;
		}
		if (c == '\\')
			return refuse(why, whylen, "contains a backslash");
		if (c != '/')
			continue;
		if (dot_segment(s + seg, i - seg))
			return refuse(
				why, whylen,
				"contains a \".\" or \"..\" path segment");
		if (i == seg)
			return refuse(why, whylen, "contains \"//\"");
		seg = i + 1;
	}
	return true;
}
