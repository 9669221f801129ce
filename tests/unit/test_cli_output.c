/* af's -o yaml emitter: the YAML it writes reads back (libyaml's parser)
 * as the same values, strings a YAML reader would take for something else
 * are quoted, and multi-line strings survive. */
#include "tests/lib/alloc_check.h"
#include "cli/output.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct scalar {
	char value[256];
	bool plain;
};

/* Emits doc, parses it back, returns the scalars in document order. */
static size_t roundtrip(json_t *doc, struct scalar *out, size_t max, char *text,
			size_t textlen)
{
	yaml_parser_t p;
	yaml_event_t e;
	FILE *f = fmemopen(text, textlen, "w");
	size_t n = 0;
	bool done = false;

	cr_assert_not_null(f);
	cr_assert_eq(af_out_yaml(f, doc), 0);
	fputc('\0', f);
	fclose(f);
	cr_assert(yaml_parser_initialize(&p));
	yaml_parser_set_input_string(&p, (const unsigned char *)text,
				     strlen(text));
	while (!done) {
		cr_assert(yaml_parser_parse(&p, &e), "parse error in:\n%s",
			  text);
		if (e.type == YAML_SCALAR_EVENT && n < max) {
			snprintf(out[n].value, sizeof(out[n].value), "%s",
				 (const char *)e.data.scalar.value);
			out[n].plain =
				e.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
			cr_assert_null(e.data.scalar.tag,
				       "a tag in the output:\n%s", text);
			n++;
		}
		done = e.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&e);
	}
	yaml_parser_delete(&p);
	json_decref(doc);
	return n;
}

TestSuite(cli_output, .init = af_test_alloc_begin, .fini = af_test_alloc_end);

Test(cli_output, typed_strings_are_quoted)
{
	static const char *const typed[] = {
		"true", "null", "123", "1.5", "", "no", "~", "2026-11-01"};
	struct scalar s[64];
	char text[4096];
	json_t *doc = json_object();
	size_t n;

	for (size_t i = 0; i < sizeof(typed) / sizeof(typed[0]); i++) {
		char k[8];

		snprintf(k, sizeof(k), "k%zu", i);
		json_object_set_new(doc, k, json_string(typed[i]));
	}
	n = roundtrip(doc, s, 64, text, sizeof(text));
	cr_assert_eq(n, 2 * (sizeof(typed) / sizeof(typed[0])));
	for (size_t i = 1; i < n; i += 2) {
		cr_assert_str_eq(s[i].value, typed[i / 2]);
		cr_assert(!s[i].plain, "\"%s\" is not quoted:\n%s", s[i].value,
			  text);
	}
}

Test(cli_output, values_and_text_survive)
{
	struct scalar s[64];
	char text[4096];
	json_t *doc = json_object(), *a = json_array();
	size_t n;

	json_object_set_new(doc, "auth",
			    json_string("disabled: every caller is admin"));
	json_object_set_new(doc, "source",
			    json_string("name: prod\nrules:\n  - a\n"));
	json_object_set_new(doc, "n", json_integer(42));
	json_object_set_new(doc, "usd", json_real(5.0));
	json_object_set_new(doc, "ok", json_true());
	json_object_set_new(doc, "leader", json_null());
	json_array_append_new(a, json_string("sha256:ab"));
	json_object_set_new(doc, "list", a);
	json_object_set_new(doc, "empty", json_array());
	n = roundtrip(doc, s, 64, text, sizeof(text));
	cr_assert_eq(n, 15, "%zu scalars in:\n%s", n, text);
	cr_assert_str_eq(s[1].value, "disabled: every caller is admin");
	cr_assert_str_eq(s[3].value, "name: prod\nrules:\n  - a\n");
	cr_assert(strstr(text, "source: |") != NULL, "no literal block:\n%s",
		  text);
	cr_assert_str_eq(s[5].value, "42");
	cr_assert(s[5].plain);
	cr_assert_str_eq(s[7].value, "5.0"); /* stays a float */
	cr_assert_str_eq(s[9].value, "true");
	cr_assert(s[9].plain);
	cr_assert_str_eq(s[11].value, "null");
	cr_assert(s[11].plain);
	cr_assert_str_eq(s[13].value, "sha256:ab");
	cr_assert(strstr(text, "empty: []") != NULL, "%s", text);
	cr_assert(text[0] != '{', "flow (JSON) form:\n%s", text);
}
