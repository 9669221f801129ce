#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *af_strerror(int code)
{
	switch (code) {
#define AF_ERR_MSG(name, value, msg)                                           \
	case value:                                                            \
		return msg;
		AF_ERRORS(AF_ERR_MSG)
#undef AF_ERR_MSG
	}
	return "unknown error";
}

const char *af_err_name(int code)
{
	switch (code) {
#define AF_ERR_NAME(name, value, msg)                                          \
	case value:                                                            \
		return #name;
		AF_ERRORS(AF_ERR_NAME)
#undef AF_ERR_NAME
	}
	return "AF_EUNKNOWN";
}

const char *af_err_short(int code)
{
	const char *n = af_err_name(code);
	return n + 3; /* skip "AF_" */
}

int af_errf(struct af_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

int af_err_wrap(struct af_err *err, int code, const char *prefix)
{
	char tmp[AF_ERRMSG_SIZE];
	size_t plen;

	if (err == NULL)
		return code;
	plen = strnlen(prefix, sizeof(tmp) - 3);
	memcpy(tmp, prefix, plen);
	memcpy(tmp + plen, ": ", 2);
	memcpy(tmp + plen + 2, err->msg, sizeof(tmp) - plen - 3);
	tmp[sizeof(tmp) - 1] = '\0';
	memcpy(err->msg, tmp, sizeof(tmp));
	return code;
}
