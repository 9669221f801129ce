/* routerd: the decision sidecar beside each orchestrator. */
#include "common/cluster.h"
#include "common/log.h"
#include "routerd/routerd_int.h"

#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* HTTP polling threads; AF_ROUTERD_HTTP_THREADS (1..16) overrides. */
#define HTTP_THREADS 2

static unsigned http_threads(void)
{
	const char *e = getenv("AF_ROUTERD_HTTP_THREADS");
	long n = e != NULL ? strtol(e, NULL, 10) : 0;

	return n >= 1 && n <= 16 ? (unsigned)n : HTTP_THREADS;
}

struct flags {
	const char *config, *listen, *id, *cache;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: routerd -c FILE --listen HOST:PORT [--id NAME] "
		"[--cache DIR] [--log-level LEVEL]\n"
		"  -c, --config FILE   cluster file\n"
		"  --listen HOST:PORT  HTTP API address (bound exactly)\n"
		"  --id NAME           routerd id (default: hostname:port)\n"
		"  --cache DIR         persist the last good view; serve it at "
		"start\n"
		"  --log-level LEVEL   debug, info, warn or error\n");
}

/* Returns -1 to continue, else the exit code. */
static int parse_flags(int argc, char **argv, struct flags *f)
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
	enum af_log_level level;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			f->config = optarg;
			break;
		case 'L':
			f->listen = optarg;
			break;
		case 'i':
			f->id = optarg;
			break;
		case 'C':
			f->cache = optarg;
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
		case ':':
			fprintf(stderr,
				"routerd: option \"%s\" needs a value\n",
				argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr,
				"routerd: bad option \"%s\" (see --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "routerd: unexpected argument \"%s\"\n",
			argv[optind]);
		return 2;
	}
	if (f->config == NULL || f->listen == NULL) {
		fprintf(stderr, "routerd: -c FILE and --listen HOST:PORT are "
				"required\n");
		return 2;
	}
	if (f->id != NULL &&
	    (f->id[0] == '\0' || strlen(f->id) >= ROUTERD_ID_MAX - 24)) {
		fprintf(stderr, "routerd: --id: 1 to %d characters\n",
			ROUTERD_ID_MAX - 25);
		return 2;
	}
	return -1;
}

/* Splits "host:port" or "[v6]:port" and resolves it. */
static int resolve(const char *listen, struct sockaddr_storage *ret,
		   socklen_t *ret_len, char *port, size_t port_len)
{
	struct addrinfo hints = {0}, *ai = NULL;
	char host[256];
	const char *colon = strrchr(listen, ':');
	size_t hlen;
	char *end;
	long p;

	if (colon == NULL || colon == listen)
		return AF_EINVAL;
	hlen = (size_t)(colon - listen);
	if (listen[0] == '[' && hlen >= 2 && listen[hlen - 1] == ']')
		snprintf(host, sizeof(host), "%.*s", (int)(hlen - 2),
			 listen + 1);
	else
		snprintf(host, sizeof(host), "%.*s", (int)hlen, listen);
	p = strtol(colon + 1, &end, 10);
	if (*end != '\0' || p < 1 || p > 65535)
		return AF_EINVAL;
	snprintf(port, port_len, "%ld", p);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &ai) != 0 || ai == NULL)
		return AF_EINVAL;
	memcpy(ret, ai->ai_addr, ai->ai_addrlen);
	*ret_len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static int wait_signal(void)
{
	sigset_t set;
	int sig = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	while (sigwait(&set, &sig) != 0)
		;
	return sig;
}

static int run(struct routerd *r, const struct sockaddr *sa, socklen_t salen,
	       const char *listen)
{
	struct af_err err = {{0}};
	int rc, sig;

	rc = routerd_views_init(r, &err);
	if (rc == 0)
		rc = routerd_live_new(&r->live, &err);
	if (rc == 0)
		rc = routerd_sync_start(r, &err);
	if (rc != 0) {
		log_error("event=start_failed error=\"%s\"", err.msg);
		goto out;
	}
	rc = routerd_http_start(r, sa, salen, http_threads(), &err);
	if (rc != 0) {
		log_error("event=start_failed listen=%s error=\"%s\"", listen,
			  err.msg);
		goto out_sync;
	}
	log_info("event=started id=%s listen=%s cluster=%s cache=%s "
		 "http_threads=%u view_loaded=%d",
		 r->id, listen, r->cfg->name,
		 r->cache_dir != NULL ? r->cache_dir : "-", http_threads(),
		 atomic_load(&r->current) != NULL);
	sig = wait_signal();
	log_info("event=stopping signal=%s", sig == SIGINT ? "INT" : "TERM");
	routerd_http_stop(r);
out_sync:
	routerd_sync_stop(r);
out:
	routerd_views_fini(r);
	routerd_live_free(r->live);
	r->live = NULL;
	if (rc == 0)
		log_info("event=stopped");
	return rc;
}

int main(int argc, char **argv)
{
	static struct af_cluster_cfg cfg; /* large: not on the stack */
	static struct routerd r;
	struct flags f = {0};
	struct sockaddr_storage sa;
	socklen_t salen = 0;
	struct af_err err = {{0}};
	char port[8], host[96], prefix[ROUTERD_ID_MAX + 8];
	sigset_t set;
	int rc;

	rc = parse_flags(argc, argv, &f);
	if (rc >= 0)
		return rc;
	if (resolve(f.listen, &sa, &salen, port, sizeof(port)) != 0) {
		fprintf(stderr,
			"routerd: --listen: \"%s\" is not HOST:PORT with a "
			"resolvable host\n",
			f.listen);
		return 2;
	}
	if (af_cluster_load(f.config, &cfg, &err) != 0) {
		fprintf(stderr, "routerd: %s\n", err.msg);
		return 1;
	}
	r.cfg = &cfg;
	r.cache_dir = f.cache;
	if (f.id != NULL) {
		snprintf(r.id, sizeof(r.id), "%s", f.id);
	} else {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "routerd");
		host[sizeof(host) - 1] = '\0';
		snprintf(r.id, sizeof(r.id), "%.95s:%s", host, port);
	}
	snprintf(prefix, sizeof(prefix), "routerd=%s", r.id);
	af_log_set_prefix(prefix);
	/* Every thread started from here on inherits the blocked signals;
	 * the main thread takes them with sigwait. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	return run(&r, (const struct sockaddr *)&sa, salen, f.listen) == 0 ? 0
									   : 1;
}
