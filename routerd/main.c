/* routerd: the decision sidecar beside each orchestrator. */
#include "common/cluster.h"
#include "common/log.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: routerd -c FILE --listen HOST:PORT [--id NAME] "
		   "[--cache DIR] [--log-level LEVEL]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"listen", required_argument, NULL, 'L'},
		{"id", required_argument, NULL, 'i'},
		{"cache", required_argument, NULL, 'C'},
		{"log-level", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *config = NULL, *listen = NULL;
	struct af_cluster_cfg cfg;
	struct af_err err = {{0}};
	enum af_log_level level;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'L':
			listen = optarg;
			break;
		case 'i':
		case 'C':
			break;
		case 'l':
			if (af_log_parse_level(optarg, &level) != 0) {
				fprintf(stderr, "routerd: --log-level: "
						"expected debug, info, warn or "
						"error\n");
				return 2;
			}
			af_log_set_level(level);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("routerd %s\n", AF_VERSION);
			return 0;
		default:
			fprintf(stderr,
				"routerd: bad option \"%s\" (see --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (config == NULL || listen == NULL) {
		fprintf(stderr, "routerd: -c FILE and --listen HOST:PORT are "
				"required\n");
		return 2;
	}
	if (af_cluster_load(config, &cfg, &err) != 0) {
		fprintf(stderr, "routerd: %s\n", err.msg);
		return 1;
	}
	log_error("event=start error=\"routerd is not implemented yet\"");
	return 1;
}
