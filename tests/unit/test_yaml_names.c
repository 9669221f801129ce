/* Input checks shared by every parser: names (control characters, path
 * segments), YAML tags, nesting depth bounded before libyaml parses, and
 * empty input (protobuf-c's NULL for empty bytes). */
#include "tests/lib/alloc_check.h"
#include "common/alloc.h"
#include "common/name.h"
#include "common/timeutil.h"
#include "common/yamldoc.h"
#include "policy/policy.h"
#include "tests/lib/policy_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool valid(const char *s)
{
	return af_name_valid(s, strlen(s), 256, NULL, 0);
}

TestSuite(names, .init = af_test_alloc_begin, .fini = af_test_alloc_end);
TestSuite(yaml, .init = af_test_alloc_begin, .fini = af_test_alloc_end);

Test(names, accepted)
{
	const char *ok[] = {"prod",   "acme-corp", "eu-west-1",
			    "gpt-4o", "a.b_c:d@e", "vendor/model",
			    "v1.2",   "Team A",	   "x..y"};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		cr_assert(valid(ok[i]), "%s", ok[i]);
}

Test(names, refused_with_reason)
{
	const char *bad[] = {"",       "a\nb",	   "a\tb", "\x7f", "..",
			     "../x",   "a/../b",   "a/..", ".",	   "./a",
			     "/abs",   "a/",	   "a//b", "a\\b", " lead",
			     "trail ", "a\x1b[31m"};
	char why[96];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert(!valid(bad[i]), "\"%s\" accepted", bad[i]);
	cr_assert(!af_name_valid("a\nb", 3, 256, why, sizeof(why)));
	cr_assert_str_eq(why, "contains a control character (0x0a)");
	cr_assert(!af_name_valid("abc", 3, 2, why, sizeof(why)));
	cr_assert_str_eq(why, "is longer than 2 bytes");
	/* an embedded NUL counts as a control character */
	cr_assert(!af_name_valid("a\0b", 3, 256, NULL, 0));
}

/* Compiles the example policy with one replacement; returns the error. */
static int compile_with(const char *from, const char *to, char *msg,
			size_t msglen)
{
	char *text = pf_replace(pf_example_policy, from, to);
	struct af_bundle *b = NULL;
	struct af_err err = {{0}};
	int rc;

	cr_assert_not_null(text, "\"%s\" not in the example", from);
	rc = af_bundle_compile("p.yaml", text, strlen(text), &b, &err);
	snprintf(msg, msglen, "%.200s", err.msg);
	af_bundle_free(b);
	af_free(text);
	return rc;
}

Test(names, parser_refuses_bad_names)
{
	char msg[512];

	cr_assert_eq(compile_with("name: prod", "name: \"../../etc\"", msg,
				  sizeof(msg)),
		     AF_EPARSE);
	cr_assert(strstr(msg, "p.yaml:3:7: name: the name contains a \".\" "
			      "or \"..\" path segment") != NULL,
		  "%s", msg);
	cr_assert_eq(compile_with("  research-agent:", "  \"res\\x01earch\":",
				  msg, sizeof(msg)),
		     AF_EPARSE);
	cr_assert(strstr(msg, "control character (0x01)") != NULL, "%s", msg);
	cr_assert(strstr(msg, "p.yaml:") == msg, "%s", msg);
	/* the example itself still compiles */
	cr_assert_eq(compile_with("name: prod", "name: prod", msg, sizeof(msg)),
		     0, "%s", msg);
}

Test(yaml, tags_refused_with_position)
{
	char msg[512];

	cr_assert_eq(compile_with("name: prod", "name: !!str prod", msg,
				  sizeof(msg)),
		     AF_EPARSE);
	cr_assert(strstr(msg, "p.yaml:3:7: YAML tags are not supported") == msg,
		  "%s", msg);
	cr_assert_eq(
		compile_with("tiers: [", "tiers: !foo [", msg, sizeof(msg)),
		AF_EPARSE);
	cr_assert(strstr(msg, "YAML tags are not supported (!foo)") != NULL,
		  "%s", msg);
}

static int load(const char *buf, size_t len, char *msg, size_t msglen)
{
	struct af_yaml *y = NULL;
	struct af_err err = {{0}};
	int rc = af_yaml_load("f.yaml", buf, len, 10000000, &y, &err);

	snprintf(msg, msglen, "%.200s", err.msg);
	af_yaml_free(y);
	return rc;
}

Test(yaml, empty_input_is_an_error_not_an_abort)
{
	char msg[256];

	cr_assert_eq(load(NULL, 0, msg, sizeof(msg)), AF_EPARSE);
	cr_assert_str_eq(msg, "f.yaml:1:1: empty document");
	cr_assert_eq(load("", 0, msg, sizeof(msg)), AF_EPARSE);
}

/* depth opening brackets, then as many closing ones, after a prefix. */
static char *nested(const char *prefix, size_t depth, char open, char close)
{
	size_t pl = strlen(prefix);
	char *s = malloc(pl + 2 * depth + 8);

	memcpy(s, prefix, pl);
	memset(s + pl, open, depth);
	memset(s + pl + depth, close, depth);
	s[pl + 2 * depth] = '\0';
	return s;
}

Test(yaml, flow_depth_bounded_with_position)
{
	char msg[256];
	char *ok = nested("a: ", AF_YAML_MAX_DEPTH - 1, '[', ']');
	char *deep = nested("a: ", AF_YAML_MAX_DEPTH, '[', ']');
	char *maps = nested("a: ", 200, '{', '}');

	cr_assert_eq(load(ok, strlen(ok), msg, sizeof(msg)), 0, "%s", msg);
	cr_assert_eq(load(deep, strlen(deep), msg, sizeof(msg)), AF_EPARSE);
	cr_assert_str_eq(msg, "f.yaml:1:67: nested deeper than 64 levels: "
			      "flatten the document");
	cr_assert_eq(load(maps, strlen(maps), msg, sizeof(msg)), AF_EPARSE);
	cr_assert(strstr(msg, "nested deeper than 64") != NULL, "%s", msg);
	free(ok);
	free(deep);
	free(maps);
}

Test(yaml, block_depth_bounded)
{
	char buf[64 * 200], msg[256];
	size_t n = 0;

	/* 100 nested mappings, one more indent each */
	for (int d = 0; d < 100; d++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%*sk%d:\n", d,
				      "", d);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%*sx\n", 100, "");
	cr_assert_eq(load(buf, n, msg, sizeof(msg)), AF_EPARSE);
	cr_assert(strstr(msg, "f.yaml:65:") == msg, "%s", msg);
	/* "- - - ..." on one line nests sequences too */
	n = 0;
	for (int d = 0; d < 100; d++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "- ");
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "x\n");
	cr_assert_eq(load(buf, n, msg, sizeof(msg)), AF_EPARSE);
	cr_assert(strstr(msg, "nested deeper than 64") != NULL, "%s", msg);
}

Test(yaml, brackets_in_quotes_comments_and_scalars_do_not_count)
{
	char msg[256];
	char *s = malloc(70000);
	size_t n;

	n = (size_t)sprintf(s, "a: \"");
	memset(s + n, '[', 300);
	n += 300;
	n += (size_t)sprintf(s + n, "\"\nb: '[[[[''[[['\n# [[[[[[[[\n");
	n += (size_t)sprintf(s + n, "c: |\n  {{{{{{{{{{{{{{{{\n  [[[[\n");
	n += (size_t)sprintf(s + n, "d: x[[[[\n");
	cr_assert_eq(load(s, n, msg, sizeof(msg)), 0, "%s", msg);
	free(s);
}

Test(yaml, worst_input_refused_fast)
{
	size_t len = 4u * 1024 * 1024;
	char *s = malloc(len);
	char msg[256];
	uint64_t t0;

	memset(s, '[', len);
	t0 = af_mono_ns();
	cr_assert_eq(load(s, len, msg, sizeof(msg)), AF_EPARSE);
	cr_assert_lt(af_mono_ns() - t0, 50000000ull, "under 50 ms");
	free(s);
}
