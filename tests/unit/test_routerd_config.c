/* routerd's option table: defaults, environment, flags (a flag wins over
 * its variable), bounds, and clear refusals. */
#include "routerd/config.h"
#include "tests/lib/alloc_check.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

TestSuite(routerd_config, .init = af_test_alloc_begin,
	  .fini = af_test_alloc_end);

/* routerd_config_parse over "routerd" and the NULL-terminated args. */
static int parse(struct routerd_config *c, struct af_err *err,
		 const char *const *args)
{
	char *argv[16] = {(char *)"routerd"};
	int argc = 1;

	while (args[argc - 1] != NULL && argc < 15) {
		argv[argc] = (char *)args[argc - 1];
		argc++;
	}
	return routerd_config_parse(argc, argv, c, err);
}

#define PARSE(c, err, ...)                                                     \
	parse((c), (err), (const char *[]){__VA_ARGS__, NULL})

Test(routerd_config, defaults_env_and_flags)
{
	struct routerd_config c;
	struct af_err err = {{0}};

	unsetenv("AF_ROUTERD_HTTP_THREADS");
	cr_assert_eq(PARSE(&c, &err, "-c", "f.yaml", "--listen", "h:1"), 0,
		     "%s", err.msg);
	cr_expect_str_eq(c.config, "f.yaml");
	cr_expect_eq(c.http_threads, 2);
	cr_expect_eq(c.log_level, AF_LOG_INFO);
	cr_expect_not(c.check);
	setenv("AF_ROUTERD_HTTP_THREADS", "7", 1);
	cr_assert_eq(PARSE(&c, &err, "-c", "f", "--listen", "h:1", "--check",
			   "--log-level", "warn"),
		     0, "%s", err.msg);
	cr_expect_eq(c.http_threads, 7);
	cr_expect_str_eq(c.source[5], "env");
	cr_expect(c.check);
	cr_expect_eq(c.log_level, AF_LOG_WARN);
	cr_assert_eq(PARSE(&c, &err, "-c", "f", "--listen", "h:1",
			   "--http-threads", "3"),
		     0, "%s", err.msg);
	cr_expect_eq(c.http_threads, 3, "the flag wins over the variable");
	unsetenv("AF_ROUTERD_HTTP_THREADS");
}

Test(routerd_config, refusals_name_the_option)
{
	static const struct {
		const char *flag, *value, *says;
	} bad[] = {
		{"--http-threads", "0",
		 "--http-threads: \"0\" is not a number "
		 "from 1 to 16"},
		{"--http-threads", "17", "from 1 to 16"},
		{"--http-threads", "2x", "not a number"},
		{"--log-level", "loud", "expected debug, info, warn or error"},
		{"--id", "", "--id: 1 to 103 characters"},
	};
	struct routerd_config c;
	struct af_err err;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		cr_expect_eq(PARSE(&c, &err, "-c", "f", "--listen", "h:1",
				   bad[i].flag, bad[i].value),
			     AF_EINVAL, "%s %s", bad[i].flag, bad[i].value);
		cr_expect(strstr(err.msg, bad[i].says) != NULL, "%s", err.msg);
	}
	setenv("AF_ROUTERD_HTTP_THREADS", "40", 1);
	cr_expect_eq(PARSE(&c, &err, "-c", "f", "--listen", "h:1"), AF_EINVAL);
	cr_expect(strstr(err.msg, "AF_ROUTERD_HTTP_THREADS") != NULL, "%s",
		  err.msg);
	unsetenv("AF_ROUTERD_HTTP_THREADS");
	cr_expect_eq(PARSE(&c, &err, "--listen", "h:1"), AF_EINVAL);
	cr_expect(strstr(err.msg, "required") != NULL, "%s", err.msg);
	cr_expect_eq(PARSE(&c, &err, "-c", "f", "--listen"), AF_EINVAL);
	cr_expect(strstr(err.msg, "needs a value") != NULL, "%s", err.msg);
	cr_expect_eq(PARSE(&c, &err, "-c", "f", "--listen", "h:1", "--nope"),
		     AF_EINVAL);
	cr_expect(strstr(err.msg, "bad option") != NULL, "%s", err.msg);
}

Test(routerd_config, decision_log_options)
{
	struct routerd_config c;
	struct af_err err = {{0}};

	unsetenv("AF_ROUTERD_DECISION_LOG");
	cr_assert_eq(PARSE(&c, &err, "-c", "f", "--listen", "h:1"), 0, "%s",
		     err.msg);
	cr_expect_null(c.decision_log);
	cr_expect_eq(c.decision_log_max_mb, 64);
	cr_expect_eq(c.decision_log_keep, 16);
	cr_assert_eq(PARSE(&c, &err, "-c", "f", "--listen", "h:1",
			   "--decision-log", "/var/log/af",
			   "--decision-log-max-mb", "8", "--decision-log-keep",
			   "3"),
		     0, "%s", err.msg);
	cr_expect_str_eq(c.decision_log, "/var/log/af");
	cr_expect_eq(c.decision_log_max_mb, 8);
	cr_expect_eq(c.decision_log_keep, 3);
	setenv("AF_ROUTERD_DECISION_LOG", "/tmp/d", 1);
	cr_assert_eq(PARSE(&c, &err, "-c", "f", "--listen", "h:1"), 0);
	cr_expect_str_eq(c.decision_log, "/tmp/d");
	unsetenv("AF_ROUTERD_DECISION_LOG");
	cr_expect_eq(PARSE(&c, &err, "-c", "f", "--listen", "h:1",
			   "--decision-log-max-mb", "0"),
		     AF_EINVAL);
	cr_expect(strstr(err.msg, "--decision-log-max-mb") != NULL, "%s",
		  err.msg);
	cr_expect_eq(PARSE(&c, &err, "-c", "f", "--listen", "h:1",
			   "--decision-log-keep", "10001"),
		     AF_EINVAL);
	cr_expect(strstr(err.msg, "1 to 10000") != NULL, "%s", err.msg);
}
