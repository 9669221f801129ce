/* Private to af policy test: PolicyTest files (ptest_file.c) and running
 * them (cmd_ptest.c). */
#ifndef AF_CLI_PTEST_H
#define AF_CLI_PTEST_H

#include "cli/replay.h"
#include "common/yamldoc.h"

#include <jansson.h>

#define PT_FILE_MAX (4u << 20)
#define PT_CASES_MAX 10000
#define PT_NODES_MAX 1000000

struct pt_case {
	const char *name; /* borrowed from the document */
	size_t line;	  /* of the case's first key */
	yaml_node_t *node, *request_node, *live_node, *expect_node;
	json_t *request, *live, *expect; /* owned; live may be NULL */
};

struct pt_file {
	const char *path;
	struct af_yaml *y;
	size_t ncases;
	struct pt_case *cases;
};

/* Reads and checks a PolicyTest file. Errors: AF_EPARSE
 * ("file:line:col: message"), AF_EIO, AF_ETOOBIG, AF_ENOMEM. */
int pt_file_load(const char *path, struct pt_file *ret, struct af_err *err);
void pt_file_free(struct pt_file *f);

#endif
