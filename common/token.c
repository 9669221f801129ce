#include "common/token.h"
#include "common/alloc.h"
#include "common/file.h"

#include <stdio.h>
#include <string.h>

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int af_token_read(const char *path, char *buf, size_t len, struct af_err *err)
{
	char *text = NULL;
	size_t n = 0, a = 0;
	int rc;

	if ((rc = af_read_file(path, 4 * AF_TOKEN_MAX, &text, &n, err)) != 0)
		return af_err_wrap(err, rc, "token file");
	while (n > 0 && is_space(text[n - 1]))
		n--;
	while (a < n && is_space(text[a]))
		a++;
	if (a == n)
		rc = af_errf(err, AF_EINVAL,
			     "token file %s is empty: write the token in it",
			     path);
	else if (memchr(text + a, '\n', n - a) != NULL)
		rc = af_errf(err, AF_EINVAL,
			     "token file %s has more than one line: keep only "
			     "the token",
			     path);
	else if (n - a > AF_TOKEN_MAX || n - a >= len)
		rc = af_errf(err, AF_ETOOBIG,
			     "token file %s: token over %d bytes", path,
			     AF_TOKEN_MAX);
	else
		snprintf(buf, len, "%.*s", (int)(n - a), text + a);
	af_free(text);
	return rc;
}
