#include "common/cluster.h"
#include "common/alloc.h"
#include "common/file.h"
#include "common/timeutil.h"
#include "common/yamldoc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_NODES_IN_FILE 64

static const char *const top_keys[] = {"cluster",  "nodes",   "raft",  "tls",
				       "auth",	   "signing", "fleet", "backup",
				       "showback", "history", NULL};
static const char *const backup_keys[] = {"dir", "every", "keep", NULL};
static const char *const fleet_keys[] = {"forget_s", "lost_s", NULL};
static const char *const showback_keys[] = {"retention_days", NULL};
static const char *const history_keys[] = {"revisions", "days", NULL};
static const char *const node_keys[] = {"id",  "raft", "raft_bind", "api",
					"pub", "http", "data",	    NULL};
static const char *const raft_keys[] = {"heartbeat_ms",
					"election_timeout_ms",
					"snapshot_threshold",
					"snapshot_max_log_mb",
					"install_snapshot_timeout_ms",
					NULL};
static const char *const tls_keys[] = {"ca", "cert", "key", NULL};
static const char *const auth_keys[] = {"tokens", NULL};
static const char *const signing_keys[] = {"trusted_keys", "require_signed",
					   NULL};

struct parse {
	struct af_yaml *y;
	struct af_cluster_cfg *c;
	struct af_err *err;
};

/* Copies a string value into a fixed buffer. */
static int get_str(struct parse *p, yaml_node_t *n, const char *what, char *out,
		   size_t outlen)
{
	const char *s;
	int rc = af_yaml_str(p->y, n, what, outlen - 1, &s, p->err);

	if (rc != 0)
		return rc;
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

static int get_path(struct parse *p, yaml_node_t *n, const char *what,
		    char *out, size_t outlen)
{
	char raw[PATH_MAX];
	int rc = get_str(p, n, what, raw, sizeof(raw));

	if (rc != 0)
		return rc;
	if (af_path_resolve(p->c->path, raw, out, outlen) != 0)
		return af_yaml_errf(p->y, n, p->err, "%s: path too long", what);
	return 0;
}

/* host:port with a numeric port 1..65535. */
static int check_hostport(struct parse *p, yaml_node_t *n, const char *what,
			  const char *s)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (colon == NULL || colon == s)
		return af_yaml_errf(p->y, n, p->err,
				    "%s: expected host:port, got \"%s\"", what,
				    s);
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535 || colon[1] == '\0')
		return af_yaml_errf(p->y, n, p->err,
				    "%s: bad port in \"%s\" (1-65535)", what,
				    s);
	return 0;
}

/* Splits host:port (the port already checked) into host and port. */
static void split_hostport(const char *s, char *host, size_t hostlen,
			   unsigned *port)
{
	const char *colon = strrchr(s, ':');

	snprintf(host, hostlen, "%.*s", (int)(colon - s), s);
	*port = (unsigned)strtoul(colon + 1, NULL, 10);
}

/* A DNS host name: dot-separated labels of letters, digits and '-', none
 * empty, longer than 63 or starting or ending with '-'. */
static bool is_hostname(const char *h)
{
	size_t label = 0, n = strlen(h);

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i <= n; i++) {
		char ch = h[i];

		if (ch == '.' || ch == '\0') {
			if (label == 0 || h[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)ch) && ch != '-')
			return false;
		if (label == 0 && ch == '-')
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

/* Raft addresses: numeric IPv4 or a host name, which controld resolves
 * each time it dials a peer (controld/consensus_dns.c) and once at start
 * for its own listener. */
static int check_raft_addr(struct parse *p, yaml_node_t *n, const char *what,
			   const char *s)
{
	char host[AF_ADDR_MAX];
	struct in_addr a;
	unsigned port;
	int rc = check_hostport(p, n, what, s);

	if (rc != 0)
		return rc;
	split_hostport(s, host, sizeof(host), &port);
	if (inet_pton(AF_INET, host, &a) != 1 && !is_hostname(host))
		return af_yaml_errf(p->y, n, p->err,
				    "%s: \"%s\" is neither an IPv4 address "
				    "nor a host name",
				    what, host);
	return 0;
}

static int check_url(struct parse *p, yaml_node_t *n, const char *what,
		     const char *s)
{
	if (strncmp(s, "tcp://", 6) == 0)
		return check_hostport(p, n, what, s + 6);
	if (strncmp(s, "tls+tcp://", 10) == 0)
		return check_hostport(p, n, what, s + 10);
	if (strncmp(s, "ipc://", 6) == 0 && s[6] != '\0')
		return 0;
	return af_yaml_errf(p->y, n, p->err,
			    "%s: expected a tcp:// or ipc:// URL, got \"%s\"",
			    what, s);
}

static int need(struct parse *p, yaml_node_t *map, const char *key,
		const char *what, yaml_node_t **ret)
{
	yaml_node_t *v = af_yaml_get(p->y, map, key);

	if (v == NULL)
		return af_yaml_errf(p->y, map, p->err, "%s: missing \"%s\"",
				    what, key);
	*ret = v;
	return 0;
}

static int parse_node(struct parse *p, yaml_node_t *m, struct af_node_cfg *nd)
{
	yaml_node_t *v = NULL;
	int64_t id;
	int rc;

	if ((rc = af_yaml_expect_map(p->y, m, "nodes[]", p->err)) != 0 ||
	    (rc = af_yaml_check_keys(p->y, m, node_keys, p->err)) != 0)
		return rc;
	if ((rc = need(p, m, "id", "node", &v)) != 0 ||
	    (rc = af_yaml_int(p->y, v, "id", 1, 65535, &id, p->err)) != 0)
		return rc;
	nd->id = (uint64_t)id;
	if ((rc = need(p, m, "raft", "node", &v)) != 0 ||
	    (rc = get_str(p, v, "raft", nd->raft, sizeof(nd->raft))) != 0 ||
	    (rc = check_raft_addr(p, v, "raft", nd->raft)) != 0)
		return rc;
	if ((v = af_yaml_get(p->y, m, "raft_bind")) != NULL &&
	    ((rc = get_str(p, v, "raft_bind", nd->raft_bind,
			   sizeof(nd->raft_bind))) != 0 ||
	     (rc = check_raft_addr(p, v, "raft_bind", nd->raft_bind)) != 0))
		return rc;
	if ((rc = need(p, m, "api", "node", &v)) != 0 ||
	    (rc = get_str(p, v, "api", nd->api, sizeof(nd->api))) != 0 ||
	    (rc = check_url(p, v, "api", nd->api)) != 0)
		return rc;
	if ((rc = need(p, m, "pub", "node", &v)) != 0 ||
	    (rc = get_str(p, v, "pub", nd->pub, sizeof(nd->pub))) != 0 ||
	    (rc = check_url(p, v, "pub", nd->pub)) != 0)
		return rc;
	if ((rc = need(p, m, "http", "node", &v)) != 0 ||
	    (rc = get_str(p, v, "http", nd->http, sizeof(nd->http))) != 0 ||
	    (rc = check_hostport(p, v, "http", nd->http)) != 0)
		return rc;
	if ((rc = need(p, m, "data", "node", &v)) != 0 ||
	    (rc = get_path(p, v, "data", nd->data, sizeof(nd->data))) != 0)
		return rc;
	return 0;
}

/* The host part of a node's raft address stands for its machine; every
 * loopback address is the same machine. */
static bool same_host(const struct af_node_cfg *a, const struct af_node_cfg *b)
{
	char ha[AF_ADDR_MAX], hb[AF_ADDR_MAX];
	unsigned pa, pb;

	split_hostport(a->raft, ha, sizeof(ha), &pa);
	split_hostport(b->raft, hb, sizeof(hb), &pb);
	if ((strncmp(ha, "127.", 4) == 0 || strcmp(ha, "localhost") == 0) &&
	    (strncmp(hb, "127.", 4) == 0 || strcmp(hb, "localhost") == 0))
		return true;
	return strcmp(ha, hb) == 0;
}

static bool is_wildcard(const char *host)
{
	return strcmp(host, "0.0.0.0") == 0 || host[0] == '\0' ||
	       strcmp(host, "*") == 0;
}

/* Two listen addresses on one machine collide: same port, and the same
 * host or a wildcard on either side. */
static bool binds_collide(const char *a, const char *b)
{
	char ha[AF_ADDR_MAX], hb[AF_ADDR_MAX];
	unsigned pa, pb;

	split_hostport(a, ha, sizeof(ha), &pa);
	split_hostport(b, hb, sizeof(hb), &pb);
	if (pa != pb)
		return false;
	if (strcmp(ha, "localhost") == 0)
		snprintf(ha, sizeof(ha), "127.0.0.1");
	if (strcmp(hb, "localhost") == 0)
		snprintf(hb, sizeof(hb), "127.0.0.1");
	return is_wildcard(ha) || is_wildcard(hb) || strcmp(ha, hb) == 0;
}

/* Ids and the raft, api and pub addresses (what peers and clients dial)
 * are unique across nodes; a data dir or an http bind only collides
 * between two nodes on the same host (one file may serve every pod). */
static int check_unique(struct parse *p, yaml_node_t *seq, unsigned i)
{
	const struct af_node_cfg *a = &p->c->nodes[i];
	yaml_node_t *m = af_yaml_item(p->y, seq, i);
	const char *addrs_a[] = {a->raft, a->api, a->pub, a->http};
	const char *keys[] = {"raft", "api", "pub", "http"};

	for (unsigned j = 0; j < i; j++) {
		const struct af_node_cfg *b = &p->c->nodes[j];
		const char *addrs_b[] = {b->raft, b->api, b->pub, b->http};
		bool local = same_host(a, b);

		if (a->id == b->id)
			return af_yaml_errf(p->y, af_yaml_get(p->y, m, "id"),
					    p->err, "duplicate node id %llu",
					    (unsigned long long)a->id);
		for (unsigned k = 0; k < 3; k++) {
			for (unsigned l = 0; l < 4; l++) {
				if (strcmp(addrs_a[k], addrs_b[l]) != 0)
					continue;
				return af_yaml_errf(
					p->y, af_yaml_get(p->y, m, keys[k]),
					p->err,
					"%s: address %s is already used by "
					"node %llu",
					keys[k], addrs_a[k],
					(unsigned long long)b->id);
			}
		}
		if (local && strcmp(a->data, b->data) == 0)
			return af_yaml_errf(p->y, af_yaml_get(p->y, m, "data"),
					    p->err,
					    "data: node %llu on the same host "
					    "uses the same directory",
					    (unsigned long long)b->id);
		if (local && binds_collide(a->http, b->http))
			return af_yaml_errf(
				p->y, af_yaml_get(p->y, m, "http"), p->err,
				"http: %s collides with node "
				"%llu's %s on the same host",
				a->http, (unsigned long long)b->id, b->http);
		if (local && binds_collide(af_cluster_raft_listen(a),
					   af_cluster_raft_listen(b)))
			return af_yaml_errf(
				p->y, af_yaml_get(p->y, m, "raft"), p->err,
				"raft: node %llu listens on the same port on "
				"the same host",
				(unsigned long long)b->id);
	}
	for (unsigned k = 0; k < 4; k++)
		for (unsigned l = 0; l < k; l++)
			if (strcmp(addrs_a[k], addrs_a[l]) == 0)
				return af_yaml_errf(
					p->y, af_yaml_get(p->y, m, keys[k]),
					p->err,
					"%s: address %s is already used by %s",
					keys[k], addrs_a[k], keys[l]);
	return 0;
}

static int parse_nodes(struct parse *p, yaml_node_t *seq)
{
	size_t n;
	int rc;

	rc = af_yaml_expect_seq(p->y, seq, "nodes", MAX_NODES_IN_FILE, p->err);
	if (rc != 0)
		return rc;
	n = af_yaml_len(seq);
	if (n == 0)
		return af_yaml_errf(p->y, seq, p->err,
				    "nodes: at least one node is needed");
	if (n > AF_MAX_NODES)
		return af_yaml_errf(p->y, seq, p->err,
				    "nodes: at most %d nodes", AF_MAX_NODES);
	for (size_t i = 0; i < n; i++) {
		rc = parse_node(p, af_yaml_item(p->y, seq, i), &p->c->nodes[i]);
		if (rc != 0)
			return rc;
		p->c->n_nodes = (unsigned)(i + 1);
		rc = check_unique(p, seq, (unsigned)i);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int get_uint(struct parse *p, yaml_node_t *map, const char *key,
		    int64_t min, int64_t max, unsigned *out)
{
	yaml_node_t *v = af_yaml_get(p->y, map, key);
	int64_t x;
	int rc;

	if (v == NULL)
		return 0;
	rc = af_yaml_int(p->y, v, key, min, max, &x, p->err);
	if (rc == 0)
		*out = (unsigned)x;
	return rc;
}

static int parse_raft(struct parse *p, yaml_node_t *m)
{
	int rc;

	if ((rc = af_yaml_expect_map(p->y, m, "raft", p->err)) != 0 ||
	    (rc = af_yaml_check_keys(p->y, m, raft_keys, p->err)) != 0 ||
	    (rc = get_uint(p, m, "heartbeat_ms", 10, 60000,
			   &p->c->heartbeat_ms)) != 0 ||
	    (rc = get_uint(p, m, "election_timeout_ms", 50, 600000,
			   &p->c->election_timeout_ms)) != 0 ||
	    (rc = get_uint(p, m, "snapshot_threshold", 16, 100000000,
			   &p->c->snapshot_threshold)) != 0 ||
	    (rc = get_uint(p, m, "snapshot_max_log_mb", 1, 4096,
			   &p->c->snapshot_max_log_mb)) != 0 ||
	    (rc = get_uint(p, m, "install_snapshot_timeout_ms", 100, 600000,
			   &p->c->install_snapshot_timeout_ms)) != 0)
		return rc;
	if (p->c->election_timeout_ms < 2 * p->c->heartbeat_ms)
		return af_yaml_errf(p->y, m, p->err,
				    "raft: election_timeout_ms must be at "
				    "least twice heartbeat_ms");
	return 0;
}

static int parse_fleet(struct parse *p, yaml_node_t *m)
{
	int rc;

	if ((rc = af_yaml_expect_map(p->y, m, "fleet", p->err)) != 0 ||
	    (rc = af_yaml_check_keys(p->y, m, fleet_keys, p->err)) != 0 ||
	    (rc = get_uint(p, m, "forget_s", 10, 10u * 365 * 86400,
			   &p->c->fleet_forget_s)) != 0 ||
	    (rc = get_uint(p, m, "lost_s", 20, 86400, &p->c->fleet_lost_s)) !=
		    0)
		return rc;
	if (p->c->fleet_lost_s >= p->c->fleet_forget_s)
		return af_yaml_errf(p->y, m, p->err,
				    "fleet: lost_s (%u) must be less than "
				    "forget_s (%u): a routerd is LOST before "
				    "it is forgotten",
				    p->c->fleet_lost_s, p->c->fleet_forget_s);
	return 0;
}

/* A section `name` of one number, `keys[0]`, in [lo, hi]. */
static int parse_one(struct parse *p, yaml_node_t *m, const char *name,
		     const char *const *keys, unsigned lo, unsigned hi,
		     unsigned *out)
{
	int rc;

	if ((rc = af_yaml_expect_map(p->y, m, name, p->err)) != 0 ||
	    (rc = af_yaml_check_keys(p->y, m, keys, p->err)) != 0)
		return rc;
	return get_uint(p, m, keys[0], lo, hi, out);
}

/* history: how many policy revisions (and days) keep their bundles. */
static int parse_history(struct parse *p, yaml_node_t *m)
{
	int rc;

	if ((rc = af_yaml_expect_map(p->y, m, "history", p->err)) != 0 ||
	    (rc = af_yaml_check_keys(p->y, m, history_keys, p->err)) != 0)
		return rc;
	if ((rc = get_uint(p, m, "revisions", 0, AF_HISTORY_MAX_REVISIONS,
			   &p->c->history_revisions)) != 0)
		return rc;
	return get_uint(p, m, "days", 0, 3650, &p->c->history_days);
}

static int parse_tls(struct parse *p, yaml_node_t *m)
{
	yaml_node_t *v = NULL;
	int rc;

	if ((rc = af_yaml_expect_map(p->y, m, "tls", p->err)) != 0 ||
	    (rc = af_yaml_check_keys(p->y, m, tls_keys, p->err)) != 0)
		return rc;
	if ((rc = need(p, m, "ca", "tls", &v)) != 0 ||
	    (rc = get_path(p, v, "ca", p->c->tls_ca, PATH_MAX)) != 0 ||
	    (rc = need(p, m, "cert", "tls", &v)) != 0 ||
	    (rc = get_path(p, v, "cert", p->c->tls_cert, PATH_MAX)) != 0 ||
	    (rc = need(p, m, "key", "tls", &v)) != 0 ||
	    (rc = get_path(p, v, "key", p->c->tls_key, PATH_MAX)) != 0)
		return rc;
	p->c->tls = true;
	return 0;
}

static int parse_auth(struct parse *p, yaml_node_t *m)
{
	yaml_node_t *v = NULL;
	int rc;

	if ((rc = af_yaml_expect_map(p->y, m, "auth", p->err)) != 0 ||
	    (rc = af_yaml_check_keys(p->y, m, auth_keys, p->err)) != 0 ||
	    (rc = need(p, m, "tokens", "auth", &v)) != 0 ||
	    (rc = get_path(p, v, "tokens", p->c->auth_tokens, PATH_MAX)) != 0)
		return rc;
	p->c->auth = true;
	return 0;
}

static int parse_signing(struct parse *p, yaml_node_t *m)
{
	yaml_node_t *v = NULL;
	int rc;

	if ((rc = af_yaml_expect_map(p->y, m, "signing", p->err)) != 0 ||
	    (rc = af_yaml_check_keys(p->y, m, signing_keys, p->err)) != 0)
		return rc;
	v = af_yaml_get(p->y, m, "trusted_keys");
	if (v != NULL) {
		rc = af_yaml_expect_seq(p->y, v, "trusted_keys",
					AF_MAX_TRUSTED_KEYS, p->err);
		if (rc != 0)
			return rc;
		for (size_t i = 0; i < af_yaml_len(v); i++) {
			rc = get_path(p, af_yaml_item(p->y, v, i),
				      "trusted_keys[]", p->c->trusted_keys[i],
				      PATH_MAX);
			if (rc != 0)
				return rc;
			p->c->n_trusted_keys = (unsigned)(i + 1);
		}
	}
	v = af_yaml_get(p->y, m, "require_signed");
	if (v != NULL &&
	    (rc = af_yaml_bool(p->y, v, "require_signed", &p->c->require_signed,
			       p->err)) != 0)
		return rc;
	if (p->c->require_signed && p->c->n_trusted_keys == 0)
		return af_yaml_errf(p->y, v, p->err,
				    "require_signed: needs trusted_keys");
	return 0;
}

/* backup: {dir, every: DURATION, keep: N} (scheduled backups). */
static int parse_backup(struct parse *p, yaml_node_t *m)
{
	yaml_node_t *v = NULL;
	const char *s;
	uint64_t ms;
	int rc;

	if ((rc = af_yaml_expect_map(p->y, m, "backup", p->err)) != 0 ||
	    (rc = af_yaml_check_keys(p->y, m, backup_keys, p->err)) != 0 ||
	    (rc = need(p, m, "dir", "backup", &v)) != 0 ||
	    (rc = get_path(p, v, "dir", p->c->backup_dir, PATH_MAX)) != 0 ||
	    (rc = need(p, m, "every", "backup", &v)) != 0 ||
	    (rc = af_yaml_str(p->y, v, "every", 32, &s, p->err)) != 0)
		return rc;
	if (af_parse_duration_ms(s, &ms) != 0 || ms < AF_BACKUP_MIN_EVERY_MS)
		return af_yaml_errf(p->y, v, p->err,
				    "backup: every: expected a duration from "
				    "1s to 720h (e.g. 1h), got \"%s\"",
				    s);
	p->c->backup_every_ms = ms;
	if ((rc = get_uint(p, m, "keep", 1, AF_BACKUP_MAX_KEEP,
			   &p->c->backup_keep)) != 0)
		return rc;
	p->c->backup = true;
	return 0;
}

static int parse_root(struct parse *p, yaml_node_t *root)
{
	yaml_node_t *v = NULL;
	int rc;

	if ((rc = af_yaml_expect_map(p->y, root, "cluster file", p->err)) !=
		    0 ||
	    (rc = af_yaml_check_keys(p->y, root, top_keys, p->err)) != 0)
		return rc;
	if ((rc = need(p, root, "cluster", "cluster file", &v)) != 0 ||
	    (rc = get_str(p, v, "cluster", p->c->name, AF_NAME_MAX)) != 0)
		return rc;
	if ((rc = need(p, root, "nodes", "cluster file", &v)) != 0 ||
	    (rc = parse_nodes(p, v)) != 0)
		return rc;
	if ((v = af_yaml_get(p->y, root, "raft")) != NULL &&
	    (rc = parse_raft(p, v)) != 0)
		return rc;
	if ((v = af_yaml_get(p->y, root, "fleet")) != NULL &&
	    (rc = parse_fleet(p, v)) != 0)
		return rc;
	if ((v = af_yaml_get(p->y, root, "showback")) != NULL &&
	    (rc = parse_one(p, v, "showback", showback_keys, 1, 3650,
			    &p->c->showback_retention_days)) != 0)
		return rc;
	if ((v = af_yaml_get(p->y, root, "history")) != NULL &&
	    (rc = parse_history(p, v)) != 0)
		return rc;
	if ((v = af_yaml_get(p->y, root, "tls")) != NULL &&
	    (rc = parse_tls(p, v)) != 0)
		return rc;
	if ((v = af_yaml_get(p->y, root, "auth")) != NULL &&
	    (rc = parse_auth(p, v)) != 0)
		return rc;
	if ((v = af_yaml_get(p->y, root, "signing")) != NULL &&
	    (rc = parse_signing(p, v)) != 0)
		return rc;
	if ((v = af_yaml_get(p->y, root, "backup")) != NULL &&
	    (rc = parse_backup(p, v)) != 0)
		return rc;
	return 0;
}

int af_cluster_parse(const char *path, const char *buf, size_t len,
		     struct af_cluster_cfg *ret, struct af_err *err)
{
	struct af_cluster_cfg *c;
	struct parse p;
	int rc;

	c = af_calloc(1, sizeof(*c));
	if (c == NULL)
		return af_errf(err, AF_ENOMEM, "%s: out of memory", path);
	if (snprintf(c->path, sizeof(c->path), "%s", path) >=
	    (int)sizeof(c->path)) {
		af_free(c);
		return af_errf(err, AF_ETOOBIG, "%s: path too long", path);
	}
	c->heartbeat_ms = 100;
	c->election_timeout_ms = 1000;
	c->snapshot_threshold = 65536;
	c->snapshot_max_log_mb = 64;
	c->install_snapshot_timeout_ms = 2000;
	c->fleet_forget_s = 86400;
	c->fleet_lost_s = AF_FLEET_LOST_DEFAULT_S;
	c->showback_retention_days = AF_SHOWBACK_RETENTION_DEFAULT_DAYS;
	c->backup_keep = AF_BACKUP_DEFAULT_KEEP;
	c->history_revisions = AF_HISTORY_DEFAULT_REVISIONS;
	p.c = c;
	p.err = err;
	rc = af_yaml_load(path, buf, len, 4096, &p.y, err);
	if (rc != 0)
		goto out_free;
	rc = parse_root(&p, af_yaml_root(p.y));
	af_yaml_free(p.y);
	if (rc == 0)
		memcpy(ret, c, sizeof(*c));
out_free:
	af_free(c);
	return rc;
}

int af_cluster_load(const char *path, struct af_cluster_cfg *ret,
		    struct af_err *err)
{
	char *buf;
	size_t len;
	int rc;

	rc = af_read_file(path, AF_CLUSTER_FILE_MAX, &buf, &len, err);
	if (rc != 0)
		return rc;
	rc = af_cluster_parse(path, buf, len, ret, err);
	af_free(buf);
	return rc;
}

const struct af_node_cfg *af_cluster_node(const struct af_cluster_cfg *c,
					  uint64_t id)
{
	for (unsigned i = 0; i < c->n_nodes; i++)
		if (c->nodes[i].id == id)
			return &c->nodes[i];
	return NULL;
}

int af_cluster_id_from_hostname(const char *host, uint64_t *id)
{
	const char *dash = strrchr(host, '-');
	const char *dot = strchr(host, '.');
	unsigned long long ord = 0;
	size_t digits;

	if (dash == NULL || (dot != NULL && dot < dash))
		return AF_EINVAL;
	digits = dot != NULL ? (size_t)(dot - dash - 1) : strlen(dash + 1);
	if (digits == 0 || digits > 5)
		return AF_EINVAL;
	for (size_t i = 1; i <= digits; i++) {
		if (!isdigit((unsigned char)dash[i]))
			return AF_EINVAL;
		ord = ord * 10 + (unsigned long long)(dash[i] - '0');
	}
	if (ord + 1 > 65535)
		return AF_EINVAL;
	*id = ord + 1;
	return 0;
}

const char *af_cluster_raft_listen(const struct af_node_cfg *n)
{
	return n->raft_bind[0] != '\0' ? n->raft_bind : n->raft;
}

int af_cluster_resolve(const char *what, const char *hostport, char *out,
		       size_t outlen, struct af_err *err)
{
	struct addrinfo hints = {.ai_family = AF_INET,
				 .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai = NULL;
	char host[AF_ADDR_MAX], ip[INET_ADDRSTRLEN];
	struct in_addr a;
	unsigned port;
	int rc, n;

	if (strrchr(hostport, ':') == NULL || strlen(hostport) >= AF_ADDR_MAX)
		return af_errf(err, AF_ECONFIG,
			       "%s: expected host:port, got \"%s\"", what,
			       hostport);
	split_hostport(hostport, host, sizeof(host), &port);
	if (is_wildcard(host))
		snprintf(ip, sizeof(ip), "0.0.0.0");
	else if (inet_pton(AF_INET, host, &a) == 1)
		inet_ntop(AF_INET, &a, ip, sizeof(ip));
	else if ((rc = getaddrinfo(host, NULL, &hints, &ai)) != 0 || ai == NULL)
		return af_errf(err, AF_ECONFIG,
			       "%s: cannot resolve \"%s\": %s (check the "
			       "name and this host's resolver; a node whose "
			       "own name resolves only once it runs can "
			       "listen with raft_bind: 0.0.0.0:PORT)",
			       what, host,
			       rc != 0 ? gai_strerror(rc) : "no IPv4 address");
	else {
		inet_ntop(
			AF_INET,
			&((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr,
			ip, sizeof(ip));
		freeaddrinfo(ai);
	}
	n = snprintf(out, outlen, "%s:%u", ip, port);
	if (n < 0 || (size_t)n >= outlen)
		return af_errf(err, AF_ETOOBIG, "%s: address too long", what);
	return 0;
}

int af_cluster_probe_listen(const char *what, const char *hostport,
			    struct af_err *err)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char host[AF_ADDR_MAX], numeric[AF_ADDR_MAX];
	unsigned port;
	int fd, one = 1, rc;

	if ((rc = af_cluster_resolve(what, hostport, numeric, sizeof(numeric),
				     err)) != 0)
		return rc;
	split_hostport(numeric, host, sizeof(host), &port);
	(void)inet_pton(AF_INET, host, &sa.sin_addr);
	sa.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return af_errf(err, AF_EIO, "%s: socket: %s", what,
			       strerror(errno));
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		if (errno == EADDRINUSE)
			rc = af_errf(err, AF_EEXIST,
				     "%s: port %u on %s is already in use on "
				     "this host (another controld or "
				     "program listens there): stop it or "
				     "choose another port; the data dir is "
				     "not affected",
				     what, port, host);
		else if (errno == EADDRNOTAVAIL)
			rc = af_errf(err, AF_ECONFIG,
				     "%s: %s is not an address of this host%s",
				     what, host,
				     strncmp(what, "raft", 4) == 0
					     ? " (to listen on every interface "
					       "while peers dial it, add "
					       "raft_bind: 0.0.0.0:PORT to the "
					       "node)"
					     : "");
		else
			rc = af_errf(err, AF_EIO, "%s: cannot listen on %s: %s",
				     what, hostport, strerror(errno));
	}
	close(fd);
	return rc;
}

int af_cluster_url(const struct af_cluster_cfg *c, const char *url, char *out,
		   size_t outlen)
{
	int n;

	if (c->tls && strncmp(url, "tcp://", 6) == 0)
		n = snprintf(out, outlen, "tls+tcp://%s", url + 6);
	else
		n = snprintf(out, outlen, "%s", url);
	if (n < 0 || (size_t)n >= outlen)
		return AF_ETOOBIG;
	return 0;
}
