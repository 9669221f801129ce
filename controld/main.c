/* controld: one node of the replicated control plane. */
#include "common/cluster.h"
#include "common/log.h"
#include "controld/auth.h"
#include "controld/backup.h"
#include "controld/controld.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: controld -c FILE --id N [--log-level LEVEL] [--check]\n"
		"       controld -c FILE --id-from-hostname [...]\n"
		"       controld -c FILE --id N --restore BACKUP\n"
		"       controld --verify-snapshot FILE\n\n"
		"  -c, --config FILE     cluster file (docs/cluster-file.md)\n"
		"      --id N            this node's id in the cluster file\n"
		"      --id-from-hostname\n"
		"                        the id from this host's name: "
		"NAME-N is\n"
		"                        node N+1 (a StatefulSet's pods)\n"
		"      --log-level L     debug | info | warn | error\n"
		"      --check           validate the cluster file and that "
		"this\n"
		"                        host can listen on the node's raft "
		"and\n"
		"                        http ports, then exit\n"
		"      --join            start a node that `af cluster add` "
		"adds to a\n"
		"                        running cluster (no bootstrap)\n"
		"      --restore FILE    bootstrap this node's data dir from "
		"a backup\n"
		"                        (af snapshot save), then serve\n"
		"      --verify-snapshot FILE\n"
		"                        check a backup without starting a "
		"node:\n"
		"                        checksum, tables, raft index and "
		"term, and\n"
		"                        a hash of the state; prints one "
		"key=value\n"
		"                        line, exits 1 on a damaged file\n"
		"                        (e.g. controld --verify-snapshot "
		"backup.db)\n"
		"  -h, --help            this text\n"
		"      --version         print the version\n");
}

/* --id-from-hostname: node N+1 on host NAME-N (a StatefulSet's pod). */
static int id_from_hostname(uint64_t *id)
{
	char host[256] = "";

	if (gethostname(host, sizeof(host) - 1) != 0 ||
	    af_cluster_id_from_hostname(host, id) != 0) {
		fprintf(stderr,
			"controld: --id-from-hostname: host name \"%s\" does "
			"not end in -N (a StatefulSet pod's ordinal; pod "
			"NAME-N "
			"is node N+1): pass --id N instead\n",
			host);
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"id", required_argument, NULL, 'i'},
		{"id-from-hostname", no_argument, NULL, 'H'},
		{"log-level", required_argument, NULL, 'l'},
		{"check", no_argument, NULL, 'k'},
		{"restore", required_argument, NULL, 'r'},
		{"join", no_argument, NULL, 'j'},
		{"verify-snapshot", required_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct controld_opts o = {0};
	struct af_cluster_cfg cfg;
	struct af_err err = {{0}};
	enum af_log_level level;
	const char *verify = NULL;
	bool check = false;
	char *end;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.config = optarg;
			break;
		case 'i':
			o.id = strtoull(optarg, &end, 10);
			if (*end != '\0' || o.id == 0 || o.id > 65535) {
				fprintf(stderr,
					"controld: --id: expected 1..65535, "
					"got \"%s\"\n",
					optarg);
				return 2;
			}
			break;
		case 'H':
			if (id_from_hostname(&o.id) != 0)
				return 2;
			break;
		case 'l':
			if (af_log_parse_level(optarg, &level) != 0) {
				fprintf(stderr,
					"controld: --log-level: expected "
					"debug, info, warn or error\n");
				return 2;
			}
			af_log_set_level(level);
			break;
		case 'k':
			check = true;
			break;
		case 'r':
			o.restore = optarg;
			break;
		case 'j':
			o.join = true;
			break;
		case 'v':
			verify = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("controld %s\n", AF_VERSION);
			return 0;
		default:
			fprintf(stderr,
				"controld: bad option \"%s\" (see --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "controld: unexpected argument \"%s\"\n",
			argv[optind]);
		return 2;
	}
	if (verify != NULL)
		return controld_verify_snapshot_main(verify, stdout, stderr);
	if (o.config == NULL || o.id == 0) {
		fprintf(stderr, "controld: -c FILE and --id N (or "
				"--id-from-hostname) are required\n");
		return 2;
	}
	if (af_cluster_load(o.config, &cfg, &err) != 0) {
		fprintf(stderr, "controld: %s\n", err.msg);
		return 1;
	}
	if (af_cluster_node(&cfg, o.id) == NULL) {
		fprintf(stderr, "controld: %s: no node with id %llu\n",
			o.config, (unsigned long long)o.id);
		return 1;
	}
	if (check && cfg.auth) {
		struct af_auth *a;

		if (af_auth_load(cfg.auth_tokens, &a, &err) != 0) {
			fprintf(stderr, "controld: %s\n", err.msg);
			return 1;
		}
		af_auth_free(a);
	}
	if (check) {
		const struct af_node_cfg *self = af_cluster_node(&cfg, o.id);

		/* What start would refuse: ports this host cannot bind. */
		if (af_cluster_probe_listen(
			    "raft", af_cluster_raft_listen(self), &err) != 0 ||
		    af_cluster_probe_listen("http", self->http, &err) != 0) {
			fprintf(stderr, "controld: %s: node %llu: %s\n",
				o.config, (unsigned long long)o.id, err.msg);
			return 1;
		}
		printf("%s: ok (cluster %s, %u nodes, node %llu)\n", o.config,
		       cfg.name, cfg.n_nodes, (unsigned long long)o.id);
		return 0;
	}
	return controld_run(&cfg, &o);
}
