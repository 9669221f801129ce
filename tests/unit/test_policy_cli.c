/* af policy lint and af route (offline) through the real binary. */
#include "tests/lib/alloc_check.h"
#include "tests/lib/policy_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];

static void put(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	af_test_alloc_begin();
	strcpy(dir, "/tmp/af-policy-cli-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	put("policy.yaml", pf_example_policy);
	put("models.yaml", pf_example_models);
	put("request.json", pf_example_request);
	put("bad.yaml", "apiVersion: af/v1\nkind: Policy\nname: x\n"
			"tiers: [a]\nrules:\n  - name: r\n"
			"    route: { tier: b }\n");
	put("bad.json", "{\"tenant\": \"t\", \"class\": \"c\"}");
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
	af_test_alloc_end();
}

TestSuite(policy_cli, .init = setup, .fini = teardown, .timeout = 60);

/* Runs `af ARGS` from dir; returns the exit code, stdout and stderr. */
static int af(const char *args, char *out, size_t outlen, char *err,
	      size_t errlen)
{
	const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
	char cwd[512], cmd[2048], errpath[128];
	FILE *p, *f;
	size_t n;
	int st;

	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
	snprintf(cmd, sizeof(cmd), "cd %s && %s/%s/bin/af %s 2>%s", dir, cwd,
		 build, args, errpath);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	n = fread(out, 1, outlen - 1, p);
	out[n] = '\0';
	st = pclose(p);
	f = fopen(errpath, "r");
	n = f ? fread(err, 1, errlen - 1, f) : 0;
	err[n] = '\0';
	if (f)
		fclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(policy_cli, route_example_json)
{
	char out[4096], err[1024];
	int rc = af("route -f request.json --policy policy.yaml "
		    "--models models.yaml -o json",
		    out, sizeof(out), err, sizeof(err));

	cr_assert_eq(rc, 0, "%s", err);
	cr_assert(strstr(out, "{\"decision\":\"route\",\"decision_id\":") ==
			  out,
		  "%s", out);
	cr_assert(strstr(out, "\"model\":\"swift-mid\",\"provider\":\"acme\","
			      "\"tier\":\"mid\",\"region\":\"eu-west-1\""),
		  "%s", out);
	cr_assert(strstr(out, "\"fallback\":[{\"model\":\"swift-mid\","
			      "\"tier\":\"mid\",\"region\":\"us-east-1\"}]"),
		  "%s", out);
	cr_assert(strstr(out, "\"est_cost_usd\":0.06624,\"rule\":\"default\""),
		  "%s", out);
	/* exactly one JSON document */
	cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1);
}

Test(policy_cli, route_explain_and_table)
{
	char out[8192], err[4096];
	int rc = af("route -f request.json --policy policy.yaml "
		    "--models models.yaml --explain",
		    out, sizeof(out), err, sizeof(err));

	cr_assert_eq(rc, 0, "%s", err);
	cr_assert(strstr(out, "model     swift-mid (acme)"), "%s", out);
	cr_assert(strstr(out, "MATCH    default"), "%s", out);
	cr_assert(strstr(out, "open-mid/eu-west-1 (tier mid, est 0.02016 USD): "
			      "lacks a needed capability"),
		  "%s", out);
	/* with -o json the trace goes to stderr, stdout stays one body */
	rc = af("route -f request.json --policy policy.yaml "
		"--models models.yaml --explain -o json",
		out, sizeof(out), err, sizeof(err));
	cr_assert_eq(rc, 0);
	cr_assert_eq(out[0], '{');
	cr_assert(strstr(err, "MATCH    default"), "%s", err);
}

Test(policy_cli, route_bad_request)
{
	char out[4096], err[1024];
	int rc = af("route -f bad.json --policy policy.yaml "
		    "--models models.yaml -o json",
		    out, sizeof(out), err, sizeof(err));

	cr_assert_eq(rc, 1);
	cr_assert_str_eq(out, "{\"error\":{\"code\":\"MISSING_FIELD\","
			      "\"message\":\"workflow_id is required\","
			      "\"field\":\"workflow_id\"}}\n");
	cr_assert(strncmp(err, "af: INVALID: ", 13) == 0, "%s", err);
}

Test(policy_cli, route_usage)
{
	char out[1024], err[1024];

	unsetenv("AF_CLUSTER");
	cr_assert_eq(
		af("route -f request.json", out, sizeof(out), err, sizeof(err)),
		2);
	/* Without --policy/--models it evaluates against a cluster, and
	 * none is named here. */
	cr_assert(strncmp(err, "af: USAGE: ", 11) == 0, "%s", err);
	cr_assert(strstr(err, "give -c FILE, AF_CLUSTER or --endpoints"), "%s",
		  err);
	cr_assert_eq(af("route --policy policy.yaml", out, sizeof(out), err,
			sizeof(err)),
		     2);
	cr_assert_eq(af("route -f request.json --policy policy.yaml --models "
			"models.yaml --bogus",
			out, sizeof(out), err, sizeof(err)),
		     2);
}

Test(policy_cli, lint)
{
	char out[1024], err[1024];

	cr_assert_eq(af("policy lint -f policy.yaml", out, sizeof(out), err,
			sizeof(err)),
		     0, "%s", err);
	cr_assert(strstr(out, "valid: policy prod, 7 rules"), "%s", out);
	cr_assert_eq(af("policy lint -f bad.yaml", out, sizeof(out), err,
			sizeof(err)),
		     1);
	cr_assert_str_eq(err, "af: INVALID: bad.yaml:7:20: unknown tier "
			      "\"b\"\n");
	cr_assert_eq(af("policy lint", out, sizeof(out), err, sizeof(err)), 2);
	cr_assert(strncmp(err, "af: USAGE: ", 11) == 0, "%s", err);
	cr_assert_eq(af("policy lint -f policy.yaml -o json", out, sizeof(out),
			err, sizeof(err)),
		     0);
	cr_assert(out[0] == '{' && strstr(out, "\"valid\": true,") &&
			  strstr(out, "\"name\": \"prod\",") &&
			  strstr(out, "\"hash\": \"sha256:"),
		  "%s", out);
}

/* --dry-run is a switch the flag parser knows (it used to be "unknown
 * flag"): with no cluster to ask, the answer is "unavailable" (3). */
Test(policy_cli, dry_run_is_a_known_flag)
{
	char out[4096], err[1024];
	int rc = af("policy apply -f policy.yaml --dry-run --endpoints "
		    "tcp://127.0.0.1:1 --timeout 300ms -o json",
		    out, sizeof(out), err, sizeof(err));

	cr_assert_eq(rc, 3, "exit %d: %s", rc, err);
	cr_assert_null(strstr(err, "unknown flag"), "%s", err);
	cr_assert_str_eq(out, "");
}

/* A bare group lists its verbs (exit 2); --help on a group or a verb is
 * exit 0 with an example. */
Test(policy_cli, group_and_verb_help)
{
	char out[8192], err[8192];
	int rc = af("policy", out, sizeof(out), err, sizeof(err));

	cr_assert_eq(rc, 2);
	cr_assert_not_null(strstr(err, "af policy apply -f FILE"), "%s", err);
	rc = af("policy --help", out, sizeof(out), err, sizeof(err));
	cr_assert_eq(rc, 0);
	cr_assert_not_null(strstr(out, "af policy rollback"), "%s", out);
	rc = af("policy apply --help", out, sizeof(out), err, sizeof(err));
	cr_assert_eq(rc, 0);
	cr_assert_not_null(strstr(out, "--dry-run"), "%s", out);
	cr_assert_not_null(strstr(out, "example:"), "%s", out);
	rc = af("route --help", out, sizeof(out), err, sizeof(err));
	cr_assert_eq(rc, 0);
	cr_assert_not_null(strstr(out, "--revision REV"), "%s", out);
}

/* -o yaml is YAML, not the JSON text: the lint document in block style. */
Test(policy_cli, lint_yaml_is_block_yaml)
{
	char out[4096], err[1024];
	int rc = af("policy lint -f policy.yaml -o yaml", out, sizeof(out), err,
		    sizeof(err));

	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_not_null(strstr(out, "valid: true\n"), "%s", out);
	cr_assert_not_null(strstr(out, "\nname: prod\n"), "%s", out);
	cr_assert_null(strstr(out, "{"), "%s", out);
}
