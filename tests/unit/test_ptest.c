/* PolicyTest files (cli/ptest_file.c): a good file loads with each case's
 * line and its request, live and expect as JSON; every kind of bad file is
 * refused with file:line:col and the cause. */
#include "cli/ptest.h"
#include "tests/lib/alloc_check.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

TestSuite(ptest, .init = af_test_alloc_begin, .fini = af_test_alloc_end);

static char path[64];

static const char *write_file(const char *text)
{
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/tmp/af-ptest.XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

#define HEAD "apiVersion: af/v1\nkind: PolicyTest\ncases:\n"
#define REQ "    request: { workflow_id: w, tenant: t, class: c }\n"

Test(ptest, good_file)
{
	struct af_err err = {{0}};
	struct pt_file f;
	const char *p = write_file(
		HEAD "  - name: one\n" REQ "    expect: { tier: mid, degraded: "
		     "false, est_cost_usd: 0.05, max_retries: 2 }\n"
		     "  - name: two\n" REQ "    live: { lanes: { l: 3 } }\n"
		     "    expect: { decision: deny, code: \"42\" }\n");

	cr_assert_eq(pt_file_load(p, &f, &err), 0, "%s", err.msg);
	cr_assert_eq(f.ncases, 2);
	cr_expect_str_eq(f.cases[0].name, "one");
	cr_expect_eq(f.cases[0].line, 4);
	cr_expect_eq(f.cases[1].line, 7);
	cr_expect(
		json_is_false(json_object_get(f.cases[0].expect, "degraded")));
	cr_expect(json_is_real(
		json_object_get(f.cases[0].expect, "est_cost_usd")));
	cr_expect(json_is_integer(
		json_object_get(f.cases[0].expect, "max_retries")));
	cr_expect(json_is_string(json_object_get(f.cases[1].expect, "code")));
	cr_expect_null(f.cases[0].live);
	cr_expect_eq(json_integer_value(json_object_get(
			     json_object_get(f.cases[1].live, "lanes"), "l")),
		     3);
	pt_file_free(&f);
	unlink(p);
}

static void refused(const char *text, const char *where, const char *why)
{
	struct af_err err = {{0}};
	struct pt_file f;
	const char *p = write_file(text);
	char want[128];

	cr_assert_eq(pt_file_load(p, &f, &err), AF_EPARSE, "accepted:\n%s",
		     text);
	snprintf(want, sizeof(want), "%s:%s: ", p, where);
	cr_expect(strncmp(err.msg, want, strlen(want)) == 0, "%s (want %s)",
		  err.msg, want);
	cr_expect(strstr(err.msg, why) != NULL, "%s (want %s)", err.msg, why);
	unlink(p);
}

Test(ptest, bad_files)
{
	refused("apiVersion: af/v2\nkind: PolicyTest\ncases: []\n", "1:13",
		"apiVersion");
	refused("apiVersion: af/v1\nkind: Policy\ncases: []\n", "2:7",
		"PolicyTest");
	refused(HEAD, "3:7", "cases");
	refused("apiVersion: af/v1\nkind: PolicyTest\ncases: []\n", "3:8",
		"empty");
	refused(HEAD "  - name: x\n" REQ "    expect: { tierr: mid }\n", "6:15",
		"unknown key \"tierr\"");
	refused(HEAD "  - name: x\n" REQ, "4:5", "expect is required");
	refused(HEAD "  - name: x\n    expect: { tier: mid }\n", "4:5",
		"request is required");
	refused(HEAD "  - name: x\n" REQ "    expect: {}\n", "6:13",
		"at least one decision field");
	refused(HEAD "  - name: x\n" REQ "    expect: { tier: mid }\n"
		     "    extra: 1\n",
		"7:5", "unknown key \"extra\"");
	refused(HEAD "  - name: x\n    request: [1]\n    expect: { tier: x }\n",
		"5:14", "request");
	refused(HEAD "  - request: {}\n    expect: { tier: x }\n", "4:5",
		"name is required");
}
