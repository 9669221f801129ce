/* routerd: the decision sidecar beside each orchestrator. */
#include "common/cluster.h"
#include "common/log.h"
#include "common/token.h"
#include "routerd/config.h"
#include "routerd/decision_log.h"
#include "routerd/usage.h"
#include "routerd/workflow.h"
#include "routerd/quota.h"
#include "routerd/otlp.h"
#include "routerd/shadow.h"
#include "net/tls.h"
#include "routerd/routerd_int.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* The decision log of --decision-log, if any, into r->dlog. */
static int dlog_start(struct routerd *r, const struct routerd_config *c,
		      struct af_err *err)
{
	struct routerd_dlog_config dc = {
		.dir = c->decision_log,
		.routerd = r->id,
		.max_bytes = (uint64_t)c->decision_log_max_mb << 20,
		.keep = c->decision_log_keep,
	};

	if (c->decision_log == NULL)
		return 0;
	return routerd_dlog_new(&dc, &r->dlog, err);
}

static int run(struct routerd *r, const struct sockaddr *sa, socklen_t salen,
	       const struct routerd_config *c)
{
	const char *listen = c->listen;
	unsigned http_threads = c->http_threads;
	struct af_err err = {{0}};
	int rc, sig;

	rc = routerd_views_init(r, &err);
	if (rc == 0)
		rc = dlog_start(r, c, &err);
	if (rc == 0 && c->otlp_endpoint != NULL)
		rc = routerd_otlp_new(c->otlp_endpoint, r->id, &r->otlp, &err);
	if (rc == 0)
		rc = routerd_live_new(&r->live, &err);
	if (rc == 0)
		rc = routerd_shadow_start(r, &err);
	if (rc == 0 &&
	    routerd_workflows_new(c->max_workflows, &r->workflows) != 0)
		rc = af_errf(&err, AF_ENOMEM,
			     "workflow table of %u entries: out of memory; "
			     "lower --max-workflows",
			     c->max_workflows);
	if (rc == 0 &&
	    routerd_quotas_new(c->quota_lease_ttl_ms, &r->quotas) != 0)
		rc = af_errf(&err, AF_ENOMEM, "quota table: out of memory");
	if (rc == 0)
		rc = routerd_sync_start(r, &err);
	if (rc != 0) {
		log_error("event=start_failed error=\"%s\"", err.msg);
		goto out;
	}
	/* ended workflows are summed with the usage the sync flushes */
	routerd_workflows_on_done(r->workflows, routerd_usage_workflow,
				  r->usage);
	rc = routerd_http_start(r, sa, salen, http_threads, &err);
	if (rc != 0) {
		log_error("event=start_failed listen=%s error=\"%s\"", listen,
			  err.msg);
		goto out_sync;
	}
	log_info("event=started id=%s listen=%s cluster=%s cache=%s "
		 "http_threads=%u view_loaded=%d decision_log=%s",
		 r->id, listen, r->cfg->name,
		 r->cache_dir != NULL ? r->cache_dir : "-", http_threads,
		 atomic_load(&r->current) != NULL,
		 c->decision_log != NULL ? c->decision_log : "-");
	sig = wait_signal();
	log_info("event=stopping signal=%s", sig == SIGINT ? "INT" : "TERM");
	routerd_http_stop(r);
out_sync:
	routerd_shadow_stop(r); /* before the last flush: counters settle */
	routerd_sync_stop(r);	/* frees the usage the table fed */
	routerd_workflows_on_done(r->workflows, NULL, NULL);
out:
	routerd_shadow_free(r);
	routerd_views_fini(r);
	routerd_live_free(r->live);
	r->live = NULL;
	routerd_workflows_free(r->workflows);
	r->workflows = NULL;
	routerd_quotas_free(r->quotas);
	r->quotas = NULL;
	routerd_dlog_free(r->dlog);
	r->dlog = NULL;
	routerd_otlp_free(r->otlp);
	r->otlp = NULL;
	if (rc == 0)
		log_info("event=stopped");
	return rc;
}

/* A writable directory, or one that can be created in a writable
 * parent. */
static bool dir_usable(const char *dir)
{
	char parent[4096];
	char *slash;

	if (access(dir, W_OK | X_OK) == 0)
		return true;
	if (errno != ENOENT)
		return false;
	snprintf(parent, sizeof(parent), "%s", dir);
	while ((slash = strrchr(parent, '/')) != NULL && slash[1] == '\0')
		*slash = '\0';
	slash = strrchr(parent, '/');
	if (slash == NULL)
		return access(".", W_OK | X_OK) == 0;
	if (slash == parent)
		slash[1] = '\0';
	else
		*slash = '\0';
	return access(parent, W_OK | X_OK) == 0 || dir_usable(parent);
}

/* --check: the cluster file loads and its TLS files are usable. */
static int check(const struct routerd_config *c,
		 const struct af_cluster_cfg *cfg)
{
	struct af_tls *tls = NULL;
	struct af_err err = {{0}};

	if (af_tls_new(cfg, &tls, &err) != 0) {
		fprintf(stderr, "routerd: %s\n", err.msg);
		return 1;
	}
	if (c->decision_log != NULL && !dir_usable(c->decision_log)) {
		fprintf(stderr,
			"routerd: --decision-log: \"%s\" is neither a "
			"writable directory nor can be created (check its "
			"parent's permissions)\n",
			c->decision_log);
		af_tls_free(tls);
		return 1;
	}
	af_tls_free(tls);
	routerd_config_print(c, stdout);
	printf("routerd: configuration ok (cluster %s, %u nodes%s)\n",
	       cfg->name, cfg->n_nodes, cfg->tls ? ", mutual TLS" : "");
	return 0;
}

/* The API token: the file AF_TOKEN_FILE names (with systemd, a
 * credential), else AF_TOKEN. */
static int load_token(struct routerd *r)
{
	static char token[AF_TOKEN_MAX + 1];
	const char *file = getenv("AF_TOKEN_FILE");
	struct af_err err = {{0}};

	r->token = getenv("AF_TOKEN");
	if (file == NULL || file[0] == '\0')
		return 0;
	if (af_token_read(file, token, sizeof(token), &err) != 0) {
		fprintf(stderr, "routerd: AF_TOKEN_FILE: %s\n", err.msg);
		return -1;
	}
	r->token = token;
	return 0;
}

int main(int argc, char **argv)
{
	static struct af_cluster_cfg cfg; /* large: not on the stack */
	static struct routerd r;
	struct routerd_config c;
	struct sockaddr_storage sa;
	socklen_t salen = 0;
	struct af_err err = {{0}};
	char port[8], host[96], prefix[ROUTERD_ID_MAX + 8];
	sigset_t set;

	if (routerd_config_parse(argc, argv, &c, &err) != 0) {
		fprintf(stderr, "routerd: %s\n", err.msg);
		return 2;
	}
	if (c.help || c.version) {
		if (c.help)
			routerd_config_usage(stdout);
		else
			printf("routerd %s\n", AF_VERSION);
		return 0;
	}
	af_log_set_level(c.log_level);
	if (resolve(c.listen, &sa, &salen, port, sizeof(port)) != 0) {
		fprintf(stderr,
			"routerd: --listen: \"%s\" is not HOST:PORT with a "
			"resolvable host\n",
			c.listen);
		return 2;
	}
	if (af_cluster_load(c.config, &cfg, &err) != 0) {
		fprintf(stderr, "routerd: %s\n", err.msg);
		return 1;
	}
	if (c.check)
		return check(&c, &cfg);
	r.cfg = &cfg;
	r.cache_dir = c.cache;
	r.override_file = c.override_file;
	if (load_token(&r) != 0)
		return 2;
	if (c.id != NULL) {
		snprintf(r.id, sizeof(r.id), "%s", c.id);
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
	return run(&r, (const struct sockaddr *)&sa, salen, &c) == 0 ? 0 : 1;
}
