#include "cli/output.h"
#include "common/timeutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int af_out_json(json_t *doc)
{
	json_dumpf(doc, stdout,
		   JSON_INDENT(2) | JSON_PRESERVE_ORDER |
			   JSON_REAL_PRECISION(12));
	fputc('\n', stdout);
	json_decref(doc);
	return AF_EXIT_OK;
}

json_t *af_json_usd(int64_t micro)
{
	return json_real((double)micro / 1e6);
}

const char *af_fmt_micro(int64_t micro, char out[32])
{
	uint64_t a = micro < 0 ? (uint64_t)(-micro) : (uint64_t)micro;
	char frac[8];
	int n;

	snprintf(frac, sizeof(frac), "%06" PRIu64, a % 1000000);
	for (n = 5; n >= 0 && frac[n] == '0'; n--)
		frac[n] = '\0';
	snprintf(out, 32, "%s%" PRIu64 "%s%s", micro < 0 ? "-" : "",
		 a / 1000000, frac[0] ? "." : "", frac);
	return out;
}

const char *af_fmt_ms(int64_t ms, char out[32])
{
	return af_format_time(ms, out, 32);
}
