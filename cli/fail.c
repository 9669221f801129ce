#include "cli/cli.h"

#include <stdarg.h>
#include <stdio.h>

int af_cli_fail(int exit_code, const char *code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "af: %s: ", code);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return exit_code;
}
