#include "cli/output.h"
#include "common/timeutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#define MAX_DEPTH 64 /* documents are built by af itself: a sanity bound */

static enum af_cli_output out_format = AF_OUT_JSON;
static unsigned out_docs; /* documents printed: later ones start with --- */

void af_out_set_format(enum af_cli_output fmt)
{
	out_format = fmt;
}

static int write_cb(void *data, unsigned char *buf, size_t size)
{
	return fwrite(buf, 1, size, data) == size;
}

/* A plain scalar a YAML 1.1/1.2 resolver would read as something else
 * than a string: such strings are quoted. */
static bool looks_typed(const char *s)
{
	static const char *const words[] = {
		"null",	 "Null",  "NULL",  "~",	   "true", "True", "TRUE",
		"false", "False", "FALSE", "yes",  "Yes",  "YES",  "no",
		"No",	 "NO",	  "on",	   "On",   "ON",   "off",  "Off",
		"OFF",	 "y",	  "Y",	   "n",	   "N",	   ".inf", ".Inf",
		".INF",	 "-.inf", ".nan",  ".NaN", ".NAN", NULL};
	const char *p = s;

	if (*s == '\0')
		return true;
	for (size_t i = 0; words[i] != NULL; i++)
		if (strcmp(s, words[i]) == 0)
			return true;
	if (*p == '-' || *p == '+')
		p++;
	if (*p == '.')
		p++;
	return *p >= '0' && *p <= '9'; /* a number, a date, a time */
}

/* quoted_ok: the value is a string, so a quoted form needs no tag. */
static int emit_scalar(yaml_emitter_t *e, const char *s, int quoted_ok,
		       yaml_scalar_style_t style)
{
	yaml_event_t ev;

	if (!yaml_scalar_event_initialize(&ev, NULL, NULL,
					  (yaml_char_t *)(uintptr_t)s,
					  (int)strlen(s), 1, quoted_ok, style))
		return -1;
	return yaml_emitter_emit(e, &ev) ? 0 : -1;
}

static int emit_string(yaml_emitter_t *e, const char *s)
{
	yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;

	if (looks_typed(s))
		style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	else if (strchr(s, '\n') != NULL)
		style = YAML_LITERAL_SCALAR_STYLE;
	return emit_scalar(e, s, 1, style);
}

static int emit_node(yaml_emitter_t *e, const json_t *v, int depth)
{
	yaml_event_t ev;
	char num[64];

	if (depth > MAX_DEPTH)
		return -1;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *x;

		if (!yaml_mapping_start_event_initialize(
			    &ev, NULL, NULL, 1,
			    json_object_size(v) ? YAML_BLOCK_MAPPING_STYLE
						: YAML_FLOW_MAPPING_STYLE) ||
		    !yaml_emitter_emit(e, &ev))
			return -1;
		json_object_foreach((json_t *)(uintptr_t)v, k, x)
		{
			if (emit_string(e, k) != 0 ||
			    emit_node(e, x, depth + 1) != 0)
				return -1;
		}
		if (!yaml_mapping_end_event_initialize(&ev) ||
		    !yaml_emitter_emit(e, &ev))
			return -1;
		return 0;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *x;

		if (!yaml_sequence_start_event_initialize(
			    &ev, NULL, NULL, 1,
			    json_array_size(v) ? YAML_BLOCK_SEQUENCE_STYLE
					       : YAML_FLOW_SEQUENCE_STYLE) ||
		    !yaml_emitter_emit(e, &ev))
			return -1;
		json_array_foreach(v, i, x)
		{
			if (emit_node(e, x, depth + 1) != 0)
				return -1;
		}
		if (!yaml_sequence_end_event_initialize(&ev) ||
		    !yaml_emitter_emit(e, &ev))
			return -1;
		return 0;
	}
	case JSON_STRING:
		return emit_string(e, json_string_value(v));
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
		return emit_scalar(e, num, 0, YAML_PLAIN_SCALAR_STYLE);
	case JSON_REAL:
		snprintf(num, sizeof(num), "%.12g", json_real_value(v));
		if (strpbrk(num, ".eEn") == NULL) /* keep it a float */
			strncat(num, ".0", sizeof(num) - strlen(num) - 1);
		return emit_scalar(e, num, 0, YAML_PLAIN_SCALAR_STYLE);
	case JSON_TRUE:
		return emit_scalar(e, "true", 0, YAML_PLAIN_SCALAR_STYLE);
	case JSON_FALSE:
		return emit_scalar(e, "false", 0, YAML_PLAIN_SCALAR_STYLE);
	default:
		return emit_scalar(e, "null", 0, YAML_PLAIN_SCALAR_STYLE);
	}
}

int af_out_yaml(FILE *f, const json_t *doc)
{
	yaml_emitter_t e;
	yaml_event_t ev;
	int rc = -1;

	if (!yaml_emitter_initialize(&e))
		return -1;
	yaml_emitter_set_output(&e, write_cb, f);
	yaml_emitter_set_unicode(&e, 1);
	yaml_emitter_set_width(&e, -1);
	if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) ||
	    !yaml_emitter_emit(&e, &ev))
		goto out;
	if (!yaml_document_start_event_initialize(&ev, NULL, NULL, NULL,
						  out_docs++ == 0) ||
	    !yaml_emitter_emit(&e, &ev))
		goto out;
	if (emit_node(&e, doc, 0) != 0)
		goto out;
	if (!yaml_document_end_event_initialize(&ev, 1) ||
	    !yaml_emitter_emit(&e, &ev))
		goto out;
	if (!yaml_stream_end_event_initialize(&ev) ||
	    !yaml_emitter_emit(&e, &ev))
		goto out;
	rc = yaml_emitter_flush(&e) ? 0 : -1;
out:
	yaml_emitter_delete(&e);
	return rc;
}

int af_out_json(json_t *doc)
{
	int rc = 0;

	if (doc == NULL)
		return af_cli_fail(AF_EXIT_REFUSED, "ENOMEM", "out of memory");
	if (out_format == AF_OUT_CSV) {
		rc = af_out_csv(stdout, doc);
		if (rc == AF_EXIT_USAGE) {
			json_decref(doc);
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "-o csv: this output is not a "
					   "table; use -o json or -o yaml");
		}
	} else if (out_format == AF_OUT_YAML) {
		rc = af_out_yaml(stdout, doc);
	} else {
		rc = json_dumpf(doc, stdout,
				JSON_INDENT(2) | JSON_PRESERVE_ORDER |
					JSON_REAL_PRECISION(12));
		fputc('\n', stdout);
	}
	json_decref(doc);
	if (rc != 0 || fflush(stdout) != 0)
		return af_cli_fail(AF_EXIT_REFUSED, "IO",
				   "could not write the output");
	return AF_EXIT_OK;
}

int af_out_body(const char *json)
{
	json_error_t jerr;
	json_t *doc;

	if (out_format != AF_OUT_YAML) {
		printf("%s\n", json);
		return AF_EXIT_OK;
	}
	doc = json_loads(json, JSON_DECODE_ANY, &jerr);
	if (doc == NULL)
		return af_cli_fail(AF_EXIT_REFUSED, "INTERNAL",
				   "answer is not JSON: %s", jerr.text);
	return af_out_json(doc);
}

json_t *af_out_ok(void)
{
	json_t *o = json_object();

	json_object_set_new(o, "ok", json_true());
	return o;
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

/* ---------------------------------------------------------------- CSV */

static bool flat_row(const json_t *o)
{
	const char *k;
	json_t *v;

	if (!json_is_object(o))
		return false;
	json_object_foreach((json_t *)o, k,
			    v) if (json_is_object(v) ||
				   json_is_array(v)) return false;
	return true;
}

/* One RFC 4180 field: quoted when it holds a comma, a quote, CR or LF. */
static void csv_field(FILE *f, const json_t *v)
{
	const char *s;

	if (v == NULL || json_is_null(v))
		return;
	if (json_is_integer(v)) {
		fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return;
	}
	if (json_is_real(v)) {
		fprintf(f, "%.12g", json_real_value(v));
		return;
	}
	if (json_is_boolean(v)) {
		fputs(json_is_true(v) ? "true" : "false", f);
		return;
	}
	s = json_string_value(v);
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

int af_out_csv(FILE *f, const json_t *doc)
{
	const json_t *first;
	const char *k;
	json_t *v;
	size_t i;
	bool sep = false;

	if (!json_is_array(doc))
		return AF_EXIT_USAGE;
	json_array_foreach(doc, i, v) if (!flat_row(v)) return AF_EXIT_USAGE;
	if (json_array_size(doc) == 0)
		return 0;
	/* the columns: the keys of the first row, in its order */
	first = json_array_get(doc, 0);
	json_object_foreach((json_t *)first, k, v)
	{
		fprintf(f, "%s%s", sep ? "," : "", k);
		sep = true;
	}
	fputs("\r\n", f);
	json_array_foreach(doc, i, v)
	{
		json_t *c;

		sep = false;
		json_object_foreach((json_t *)first, k, c)
		{
			if (sep)
				fputc(',', f);
			csv_field(f, json_object_get(v, k));
			sep = true;
		}
		fputs("\r\n", f);
	}
	return ferror(f) ? -1 : 0;
}
