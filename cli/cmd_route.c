/* Placeholder until the policy engine lands: lint and offline route. */
#include "cli/cli.h"

int af_cli_policy_lint(struct af_cli *cli, int argc, char **argv)
{
	(void)cli, (void)argc, (void)argv;
	return af_cli_fail(AF_EXIT_USAGE, "USAGE", "policy lint: not yet");
}

int af_cli_route(struct af_cli *cli, int argc, char **argv)
{
	(void)cli, (void)argc, (void)argv;
	return af_cli_fail(AF_EXIT_USAGE, "USAGE", "route: not yet");
}
