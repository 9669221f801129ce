/*
 * Commit path figures: C concurrent clients doing W acknowledged writes (or
 * writing for D seconds) against a 3-node cluster, then optionally leader
 * failover: SIGKILL the leader, time until the next write is acknowledged,
 * restart the killed node, wait until it has caught up; R rounds.
 *
 * Two targets, so the same load runs against both:
 *   -c CLUSTER.yaml   controld: Request{propose=Command{noop}} over NNG
 *                     req/rep, one req socket per client, following
 *                     NOT_LEADER to the leader.
 *   --etcd URL,...    etcd v3 JSON gateway: POST /v3/kv/put over a kept-alive
 *                     HTTP/1.1 connection per client, sent to the leader.
 *
 * With --launch CMD the bench starts the nodes itself (`sh -c "exec CMD"`,
 * every %d replaced by the node's position 1..N in the cluster file or URL
 * list), which it needs to kill and restart them; it stops them at exit.
 * Without arguments (as `make bench` runs it) it prints how to run it.
 *
 * Prints one parsable line per figure:
 *   commit <label> clients=C writes=W secs=S commits_per_s=X p50_ms=..
 *   failover <label> rounds=R median_ms=.. max_ms=..   (SIGKILL)
 *   restart <label> rounds=R median_ms=.. max_ms=..    (SIGTERM)
 * Asserts nothing. COMMIT_DEBUG=1 traces every failover attempt on stderr.
 */
#include "common/cluster.h"
#include "proto/af.pb-c.h"
#include "proto/alloc.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define MAX_NODES AF_MAX_NODES
#define URL_MAX (AF_ADDR_MAX + 16)
#define MAX_CLIENTS 256
#define HTTP_MAX (256u * 1024)
#define RESP_MAX (1u * 1024 * 1024)
#define WRITE_TIMEOUT_MS 2000
/* Per attempt while a leader is being replaced: an etcd follower forwards
 * a put to the dead leader and answers only at its own request timeout, so
 * this bounds the resolution of the etcd figure (af followers answer
 * NOT_LEADER at once). */
#define FAILOVER_ATTEMPT_MS 100
#define PROBE_TIMEOUT_MS 500
#define RETRY_PAUSE_MS 10
#define FAILOVER_PAUSE_MS 2
#define READY_TIMEOUT_MS 60000

enum proto { PROTO_AF, PROTO_ETCD };

struct target {
	enum proto proto;
	const char *label;
	unsigned n;
	char url[MAX_NODES][URL_MAX]; /* af: NNG URL; etcd: http://h:p */
	char host[MAX_NODES][64];     /* etcd */
	uint16_t port[MAX_NODES];     /* etcd */
	struct af_cluster_cfg cfg;    /* af */
};

/* What one node says about itself. */
struct node_state {
	bool leader;
	uint64_t leader_id; /* 0: knows no leader */
	uint64_t applied;
	uint64_t commit; /* af: commit index; etcd: raft index */
};

/* One client's connection to one node. */
struct conn {
	const struct target *t;
	unsigned idx;
	int timeout_ms; /* 0: WRITE_TIMEOUT_MS */
	bool open;
	nng_socket sock; /* af */
	int fd;		 /* etcd */
	char *buf;	 /* etcd: response bytes */
	size_t blen;
};

enum { WR_OK = 0, WR_REDIRECT = 1, WR_FAIL = -1 };

/* Launched nodes, global only so the signal handler can stop them. */
static const char *launch_cmd;
static volatile pid_t node_pid[MAX_NODES];
static unsigned n_launched;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ms(void)
{
	return mono_ns() / 1000000u;
}

static void pause_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------ launching */

static void stop_nodes(int sig)
{
	for (unsigned i = 0; i < n_launched; i++)
		if (node_pid[i] > 0)
			kill(node_pid[i], sig);
}

static void on_signal(int sig)
{
	stop_nodes(SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Starts node i (0-based) with the --launch template. */
static int launch(unsigned i)
{
	char cmd[4096];
	size_t o = 0;
	const char *p = launch_cmd;
	pid_t pid;

	o = (size_t)snprintf(cmd, sizeof(cmd), "exec ");
	while (*p && o + 16 < sizeof(cmd)) {
		if (p[0] == '%' && p[1] == 'd') {
			o += (size_t)snprintf(cmd + o, sizeof(cmd) - o, "%u",
					      i + 1);
			p += 2;
		} else {
			cmd[o++] = *p++;
		}
	}
	cmd[o] = '\0';
	pid = fork();
	if (pid < 0) {
		perror("commit: fork");
		return -1;
	}
	if (pid == 0) {
		/* The node must not outlive the bench, whatever kills it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	node_pid[i] = pid;
	return 0;
}

static void kill_node(unsigned i, int sig)
{
	pid_t pid = node_pid[i];

	if (pid <= 0)
		return;
	kill(pid, sig);
	waitpid(pid, NULL, 0);
	node_pid[i] = 0;
}

/* SIGTERM every node, SIGKILL what is left after 10 s. */
static void stop_all(void)
{
	uint64_t deadline = mono_ms() + 10000;

	stop_nodes(SIGTERM);
	for (unsigned i = 0; i < n_launched; i++) {
		while (node_pid[i] > 0) {
			pid_t r = waitpid(node_pid[i], NULL, WNOHANG);

			if (r == node_pid[i] || (r < 0 && errno == ECHILD)) {
				node_pid[i] = 0;
			} else if (mono_ms() > deadline) {
				fprintf(stderr,
					"commit: node %u ignored "
					"SIGTERM; killing it\n",
					i + 1);
				kill_node(i, SIGKILL);
			} else {
				pause_ms(20);
			}
		}
	}
}

/* ----------------------------------------------------------- af (NNG) */

static int af_call(struct conn *c, const Af__Request *req, int timeout_ms,
		   Af__Response **ret)
{
	size_t len = af__request__get_packed_size(req);
	uint8_t buf[512];
	nng_msg *msg = NULL;
	int rv;

	if (len > sizeof(buf))
		return NNG_EMSGSIZE;
	af__request__pack(req, buf);
	if (!c->open) {
		if ((rv = nng_req0_open(&c->sock)) != 0)
			return rv;
		nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME,
				  NNG_DURATION_INFINITE);
		nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, RESP_MAX);
		if ((rv = nng_dial(c->sock, c->t->url[c->idx], NULL, 0)) != 0) {
			nng_close(c->sock);
			return rv;
		}
		c->open = true;
	}
	nng_socket_set_ms(c->sock, NNG_OPT_RECVTIMEO, timeout_ms);
	nng_socket_set_ms(c->sock, NNG_OPT_SENDTIMEO, timeout_ms);
	if ((rv = nng_send(c->sock, buf, len, 0)) != 0)
		return rv;
	if ((rv = nng_recvmsg(c->sock, &msg, 0)) != 0)
		return rv;
	*ret = af__response__unpack(&af_pb_allocator, nng_msg_len(msg),
				    nng_msg_body(msg));
	nng_msg_free(msg);
	return *ret ? 0 : NNG_EPROTO;
}

static void conn_close(struct conn *c)
{
	if (c->open && c->t->proto == PROTO_AF)
		nng_close(c->sock);
	if (c->open && c->t->proto == PROTO_ETCD)
		close(c->fd);
	c->open = false;
}

static int af_index_of(const struct target *t, const char *api)
{
	char url[URL_MAX];

	if (api == NULL || api[0] == '\0')
		return -1;
	af_cluster_url(&t->cfg, api, url, sizeof(url));
	for (unsigned i = 0; i < t->n; i++)
		if (strcmp(t->url[i], url) == 0)
			return (int)i;
	return -1;
}

/* One noop write. WR_REDIRECT: c->idx now names the leader. */
static int af_write(struct conn *c, uint64_t *ret_index)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__Command cmd = AF__COMMAND__INIT;
	Af__Noop noop = AF__NOOP__INIT;
	Af__Response *resp = NULL;
	int rv, leader;

	cmd.op_case = AF__COMMAND__OP_NOOP;
	cmd.noop = &noop;
	req.version = 1;
	req.body_case = AF__REQUEST__BODY_PROPOSE;
	req.propose = &cmd;
	if (af_call(c, &req, c->timeout_ms ? c->timeout_ms : WRITE_TIMEOUT_MS,
		    &resp) != 0) {
		conn_close(c);
		return WR_FAIL;
	}
	if (resp->status == NULL || resp->status->code == AF__CODE__OK) {
		if (ret_index != NULL && resp->apply != NULL)
			*ret_index = resp->apply->index;
		af__response__free_unpacked(resp, NULL);
		return WR_OK;
	}
	rv = WR_FAIL;
	leader = af_index_of(c->t, resp->status->leader_api);
	if (resp->status->code == AF__CODE__NOT_LEADER && leader >= 0 &&
	    (unsigned)leader != c->idx) {
		conn_close(c);
		c->idx = (unsigned)leader;
		rv = WR_REDIRECT;
	}
	af__response__free_unpacked(resp, NULL);
	return rv;
}

static int af_probe(const struct target *t, unsigned i, struct node_state *ret)
{
	struct conn c = {.t = t, .idx = i, .timeout_ms = PROBE_TIMEOUT_MS};
	Af__Request req = AF__REQUEST__INIT;
	Af__ClusterStatusReq csr = AF__CLUSTER_STATUS_REQ__INIT;
	Af__Response *resp = NULL;
	int rv = -1;

	req.version = 1;
	req.read_mode = AF__READ_MODE__STALE;
	req.body_case = AF__REQUEST__BODY_CLUSTER_STATUS;
	req.cluster_status = &csr;
	if (af_call(&c, &req, PROBE_TIMEOUT_MS, &resp) != 0)
		goto out;
	if (resp->cluster_status != NULL &&
	    resp->cluster_status->node != NULL) {
		const Af__NodeStatus *ns = resp->cluster_status->node;

		ret->leader = strcmp(ns->role, "leader") == 0;
		ret->leader_id = ns->leader_id;
		ret->applied = ns->applied_index;
		ret->commit = ns->commit_index;
		rv = 0;
	}
	af__response__free_unpacked(resp, NULL);
out:
	conn_close(&c);
	return rv;
}

/* ------------------------------------------------------- etcd (HTTP) */

static int tcp_connect(const char *host, uint16_t port, int timeout_ms)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(port)};
	struct timeval tv = {.tv_sec = timeout_ms / 1000,
			     .tv_usec = (timeout_ms % 1000) * 1000};
	int one = 1, fd;

	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);

		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Reads more bytes into c->buf. */
static int fill(struct conn *c)
{
	ssize_t r;

	if (c->blen >= HTTP_MAX)
		return -1;
	r = recv(c->fd, c->buf + c->blen, HTTP_MAX - c->blen, 0);
	if (r <= 0)
		return -1;
	c->blen += (size_t)r;
	return 0;
}

/* Decodes a complete chunked body in place; returns its length, or -1
 * while bytes are missing. */
static long dechunk(char *body, size_t avail)
{
	size_t in = 0, out = 0;

	for (int pass = 0; pass < 2; pass++) {
		in = out = 0;
		for (;;) {
			const char *crlf =
				memmem(body + in, avail - in, "\r\n", 2);
			unsigned long sz;

			if (crlf == NULL)
				return -1;
			sz = strtoul(body + in, NULL, 16);
			in = (size_t)(crlf - body) + 2;
			if (sz == 0)
				break;
			if (avail - in < sz + 2)
				return -1;
			if (pass == 1) /* only once the body is complete */
				memmove(body + out, body + in, sz);
			out += sz;
			in += sz + 2;
		}
	}
	return (long)out;
}

/* POST path with a JSON body on c's kept-alive connection. On 0,
 * *ret_status is the HTTP status and the body is c->buf[0..*ret_len). */
static int http_post(struct conn *c, const char *path, const char *body,
		     int *ret_status, size_t *ret_len)
{
	const struct target *t = c->t;
	char req[1024];
	int n, status;
	const char *hdr_end, *cl;
	size_t hlen, blen;
	bool chunked, close_after;

	if (!c->open) {
		c->fd = tcp_connect(t->host[c->idx], t->port[c->idx],
				    c->timeout_ms ? c->timeout_ms
						  : WRITE_TIMEOUT_MS);
		if (c->fd < 0)
			return -1;
		c->open = true;
	}
	n = snprintf(req, sizeof(req),
		     "POST %s HTTP/1.1\r\nHost: %s:%u\r\n"
		     "Content-Type: application/json\r\n"
		     "Content-Length: %zu\r\n\r\n%s",
		     path, t->host[c->idx], t->port[c->idx], strlen(body),
		     body);
	if (n < 0 || (size_t)n >= sizeof(req))
		return -1;
	c->blen = 0;
	if (send_all(c->fd, req, (size_t)n) != 0)
		goto fail;
	while ((hdr_end = memmem(c->buf, c->blen, "\r\n\r\n", 4)) == NULL)
		if (fill(c) != 0)
			goto fail;
	hlen = (size_t)(hdr_end - c->buf) + 4;
	if (sscanf(c->buf, "HTTP/1.%*d %d", &status) != 1)
		goto fail;
	c->buf[hlen - 2] = '\0'; /* headers as one string, for strcasestr */
	chunked = strcasestr(c->buf, "\r\nTransfer-Encoding: chunked") != NULL;
	close_after = strcasestr(c->buf, "\r\nConnection: close") != NULL;
	cl = strcasestr(c->buf, "\r\nContent-Length:");
	if (chunked) {
		long len;

		while ((len = dechunk(c->buf + hlen, c->blen - hlen)) < 0)
			if (fill(c) != 0)
				goto fail;
		blen = (size_t)len;
	} else if (cl != NULL) {
		blen = strtoul(cl + 17, NULL, 10);
		if (blen > HTTP_MAX / 2)
			goto fail;
		while (c->blen - hlen < blen)
			if (fill(c) != 0)
				goto fail;
	} else {
		goto fail; /* etcd always frames its answers */
	}
	memmove(c->buf, c->buf + hlen, blen);
	c->buf[blen] = '\0';
	*ret_status = status;
	*ret_len = blen;
	if (close_after)
		conn_close(c);
	return 0;
fail:
	conn_close(c);
	return -1;
}

static void b64(const char *s, char *out, size_t outlen)
{
	sodium_bin2base64(out, outlen, (const unsigned char *)s, strlen(s),
			  sodium_base64_VARIANT_ORIGINAL);
}

/* One put of a 16-byte value under a per-client key. */
static int etcd_write(struct conn *c, unsigned client, uint64_t seq)
{
	char key[64], k64[128], v64[64], body[256];
	int status;
	size_t len;

	snprintf(key, sizeof(key), "bench/%u/%llu", client,
		 (unsigned long long)seq);
	b64(key, k64, sizeof(k64));
	b64("0123456789abcdef", v64, sizeof(v64));
	snprintf(body, sizeof(body), "{\"key\":\"%s\",\"value\":\"%s\"}", k64,
		 v64);
	if (http_post(c, "/v3/kv/put", body, &status, &len) != 0)
		return WR_FAIL;
	if (status != 200 || strstr(c->buf, "\"header\"") == NULL) {
		conn_close(c);
		return WR_FAIL;
	}
	return WR_OK;
}

/* The gateway prints uint64 fields as JSON strings. */
static uint64_t json_u64(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_string(v))
		return strtoull(json_string_value(v), NULL, 10);
	if (json_is_integer(v))
		return (uint64_t)json_integer_value(v);
	return 0;
}

static int etcd_probe(const struct target *t, unsigned i,
		      struct node_state *ret)
{
	char buf[HTTP_MAX + 1];
	struct conn c = {
		.t = t, .idx = i, .buf = buf, .timeout_ms = PROBE_TIMEOUT_MS};
	json_t *root;
	int status, rv = -1;
	size_t len;

	if (http_post(&c, "/v3/maintenance/status", "{}", &status, &len) != 0)
		return -1;
	conn_close(&c);
	if (status != 200)
		return -1;
	root = json_loadb(buf, len, 0, NULL);
	if (root != NULL) {
		uint64_t self =
			json_u64(json_object_get(root, "header"), "member_id");

		ret->leader_id = json_u64(root, "leader");
		ret->leader = self != 0 && ret->leader_id == self;
		ret->applied = json_u64(root, "raftAppliedIndex");
		ret->commit = json_u64(root, "raftIndex");
		rv = 0;
		json_decref(root);
	}
	return rv;
}

/* ------------------------------------------------------------- common */

static int probe(const struct target *t, unsigned i, struct node_state *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (t->proto == PROTO_AF)
		return af_probe(t, i, ret);
	return etcd_probe(t, i, ret);
}

static int conn_write(struct conn *c, unsigned client, uint64_t seq)
{
	if (c->t->proto == PROTO_AF)
		return af_write(c, NULL);
	return etcd_write(c, client, seq);
}

/* The index of the node that says it leads, or -1. `skip`: a node known
 * dead (-1: none). */
static int find_leader(const struct target *t, int skip)
{
	for (unsigned i = 0; i < t->n; i++) {
		struct node_state s;

		if ((int)i != skip && probe(t, i, &s) == 0 && s.leader)
			return (int)i;
	}
	return -1;
}

/* Waits for a leader and one acknowledged write through it. */
static int wait_writable(const struct target *t, unsigned timeout_ms,
			 int *ret_leader)
{
	uint64_t deadline = mono_ms() + timeout_ms;
	char buf[HTTP_MAX + 1];

	while (mono_ms() < deadline) {
		int l = find_leader(t, -1);

		if (l >= 0) {
			struct conn c = {
				.t = t, .idx = (unsigned)l, .buf = buf};
			int rv = conn_write(&c, 0, 0);

			conn_close(&c);
			if (rv == WR_OK) {
				*ret_leader = l;
				return 0;
			}
		}
		pause_ms(100);
	}
	return -1;
}

/* ---------------------------------------------------------------- load */

struct run {
	const struct target *t;
	unsigned leader;
	uint64_t writes; /* 0: until deadline */
	uint64_t deadline_ns;
	atomic_uint_fast64_t next;
	atomic_uint_fast64_t errors;
};

struct client {
	struct run *run;
	unsigned id;
	uint64_t *lat; /* ns */
	size_t n, cap;
	int rc;
};

static void *client_main(void *arg)
{
	struct client *cl = arg;
	struct run *r = cl->run;
	struct conn c = {.t = r->t, .idx = r->leader};

	if (r->t->proto == PROTO_ETCD &&
	    (c.buf = malloc(HTTP_MAX + 1)) == NULL) {
		cl->rc = -1;
		return NULL;
	}
	for (;;) {
		uint64_t seq, t0;
		unsigned tries = 0;
		int rv;

		if (r->writes != 0) {
			seq = atomic_fetch_add(&r->next, 1);
			if (seq >= r->writes)
				break;
		} else {
			if (mono_ns() >= r->deadline_ns)
				break;
			seq = atomic_fetch_add(&r->next, 1);
		}
		t0 = mono_ns();
		while ((rv = conn_write(&c, cl->id, seq)) != WR_OK) {
			if (rv == WR_FAIL)
				atomic_fetch_add(&r->errors, 1);
			if (++tries > 100) {
				fprintf(stderr,
					"commit: client %u: write "
					"keeps failing\n",
					cl->id);
				cl->rc = -1;
				goto out;
			}
			if (rv == WR_FAIL) {
				int l = find_leader(r->t, -1);

				pause_ms(RETRY_PAUSE_MS);
				if (l >= 0 && (unsigned)l != c.idx) {
					conn_close(&c);
					c.idx = (unsigned)l;
				}
			}
		}
		if (cl->n == cl->cap) {
			size_t cap = cl->cap ? cl->cap * 2 : 4096;
			uint64_t *p = realloc(cl->lat, cap * sizeof(*p));

			if (p == NULL) {
				cl->rc = -1;
				goto out;
			}
			cl->lat = p;
			cl->cap = cap;
		}
		cl->lat[cl->n++] = mono_ns() - t0;
	}
out:
	conn_close(&c);
	free(c.buf);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v. */
static double pct_ms(const uint64_t *v, size_t n, unsigned p)
{
	size_t rank = (n * p + 99) / 100;

	if (n == 0)
		return 0;
	return (double)v[rank ? rank - 1 : 0] / 1e6;
}

/* Context switches of every thread of pid so far (-1: unreadable). */
static long long ctx_switches(pid_t pid)
{
	char path[64], line[256];
	long long sum = 0;
	DIR *d;
	struct dirent *e;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		char f[128];
		FILE *fp;

		if (e->d_name[0] == '.')
			continue;
		snprintf(f, sizeof(f), "%s/%.32s/status", path, e->d_name);
		if ((fp = fopen(f, "r")) == NULL)
			continue;
		while (fgets(line, sizeof(line), fp) != NULL) {
			long long v;

			if (sscanf(line, "voluntary_ctxt_switches: %lld", &v) ==
				    1 ||
			    sscanf(line, "nonvoluntary_ctxt_switches: %lld",
				   &v) == 1)
				sum += v;
		}
		fclose(fp);
	}
	closedir(d);
	return sum;
}

static int load(const struct target *t, unsigned clients, uint64_t writes,
		unsigned seconds, const char *what)
{
	long long cs0 = -1, cs1 = -1;
	struct run r = {.t = t, .writes = writes};
	struct client *cl = calloc(clients, sizeof(*cl));
	pthread_t *th = calloc(clients, sizeof(*th));
	uint64_t *all = NULL, t0, dt;
	size_t n = 0, k = 0;
	int leader, rc = -1;
	unsigned started = 0;

	if (cl == NULL || th == NULL)
		goto out;
	if (wait_writable(t, READY_TIMEOUT_MS, &leader) != 0) {
		fprintf(stderr, "commit: %s: no writable leader\n", t->label);
		goto out;
	}
	r.leader = (unsigned)leader;
	if (n_launched > 0)
		cs0 = ctx_switches(node_pid[leader]);
	t0 = mono_ns();
	r.deadline_ns = t0 + (uint64_t)seconds * 1000000000u;
	for (; started < clients; started++) {
		cl[started].run = &r;
		cl[started].id = started;
		if (pthread_create(&th[started], NULL, client_main,
				   &cl[started]) != 0)
			break;
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	dt = mono_ns() - t0;
	if (cs0 >= 0)
		cs1 = ctx_switches(node_pid[leader]);
	for (unsigned i = 0; i < started; i++)
		n += cl[i].n;
	if (started < clients || n == 0 || (all = malloc(n * 8)) == NULL)
		goto out;
	rc = 0;
	for (unsigned i = 0; i < started; i++) {
		memcpy(all + k, cl[i].lat, cl[i].n * 8);
		k += cl[i].n;
		if (cl[i].rc != 0)
			rc = -1;
	}
	qsort(all, n, sizeof(*all), cmp_u64);
	printf("%s %s clients=%u writes=%zu secs=%.2f commits_per_s=%.0f "
	       "p50_ms=%.2f p99_ms=%.2f max_ms=%.2f errors=%llu "
	       "leader_ctxsw_per_commit=%.1f\n",
	       what, t->label, clients, n, (double)dt / 1e9,
	       (double)n / ((double)dt / 1e9), pct_ms(all, n, 50),
	       pct_ms(all, n, 99), (double)all[n - 1] / 1e6,
	       (unsigned long long)atomic_load(&r.errors),
	       cs1 >= cs0 && cs0 >= 0 ? (double)(cs1 - cs0) / (double)n : -1.0);
	fflush(stdout);
out:
	for (unsigned i = 0; i < clients && cl != NULL; i++)
		free(cl[i].lat);
	free(all);
	free(cl);
	free(th);
	return rc;
}

/* ------------------------------------------------------------- futexes */

/* `strace -f -c -e trace=futex` attached to the leader (every thread) while
 * `clients` clients make `writes` commits; prints the futex calls per
 * commit. Needs --launch (the bench knows the pids) and strace. */
static int futex_run(const struct target *t, unsigned clients, uint64_t writes)
{
	char out[] = "/tmp/af-commit-strace.XXXXXX", pidstr[32], line[512];
	unsigned long long calls = 0;
	int leader, fd, status;
	pid_t st;
	FILE *fp;

	if (wait_writable(t, READY_TIMEOUT_MS, &leader) != 0 ||
	    node_pid[leader] <= 0)
		return -1;
	if ((fd = mkstemp(out)) < 0)
		return -1;
	close(fd);
	snprintf(pidstr, sizeof(pidstr), "%ld", (long)node_pid[leader]);
	st = fork();
	if (st < 0) {
		unlink(out);
		return -1;
	}
	if (st == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execlp("strace", "strace", "-q", "-f", "-c", "-e",
		       "trace=futex", "-o", out, "-p", pidstr, (char *)NULL);
		_exit(127);
	}
	pause_ms(1000); /* strace attaches to every thread */
	if (load(t, clients, writes, 0, "traced") != 0) {
		kill(st, SIGKILL);
		waitpid(st, NULL, 0);
		unlink(out);
		return -1;
	}
	kill(st, SIGINT);
	waitpid(st, &status, 0);
	if ((fp = fopen(out, "r")) != NULL) {
		while (fgets(line, sizeof(line), fp) != NULL) {
			double pct, secs;
			unsigned long long usecs, n;
			char name[64];

			/* % time seconds usecs/call calls [errors] syscall */
			if (sscanf(line, "%lf %lf %llu %llu %*s %63s", &pct,
				   &secs, &usecs, &n, name) == 5 ||
			    sscanf(line, "%lf %lf %llu %llu %63s", &pct, &secs,
				   &usecs, &n, name) == 5)
				if (strcmp(name, "futex") == 0)
					calls = n;
		}
		fclose(fp);
	}
	unlink(out);
	printf("futex %s clients=%u commits=%llu calls=%llu "
	       "per_commit=%.1f\n",
	       t->label, clients, (unsigned long long)writes, calls,
	       (double)calls / (double)writes);
	fflush(stdout);
	return 0;
}

/* ------------------------------------------------------------ failover */

/* Writes through any live node until one is acknowledged (the dead node is
 * skipped). Returns the index of the node that acknowledged; *ret_elected
 * is when a live node first said it leads (at the latest, the ack). */
static int write_any(const struct target *t, int dead, uint64_t deadline,
		     uint64_t *ret_elected)
{
	char buf[HTTP_MAX + 1];
	struct conn c = {.t = t, .buf = buf, .timeout_ms = FAILOVER_ATTEMPT_MS};
	unsigned next = 1;
	uint64_t elected = 0;

	while (mono_ms() < deadline) {
		int rv;

		if ((int)c.idx == dead) {
			c.idx = next++ % t->n;
			continue;
		}
		rv = conn_write(&c, 0, 0);
		if (getenv("COMMIT_DEBUG"))
			fprintf(stderr,
				"commit: debug: %llu ms node %u rv %d\n",
				(unsigned long long)mono_ms(), c.idx + 1, rv);
		if (rv == WR_OK) {
			conn_close(&c);
			*ret_elected = elected ? elected : mono_ns();
			return (int)c.idx;
		}
		if (elected == 0 && find_leader(t, dead) >= 0)
			elected = mono_ns();
		if (rv == WR_FAIL) {
			conn_close(&c);
			c.idx = next++ % t->n;
		}
		/* Also when a follower still points at the dead leader. A
		 * short pause: it is the resolution of the figure. */
		if (rv == WR_FAIL || (int)c.idx == dead)
			pause_ms(FAILOVER_PAUSE_MS);
	}
	return -1;
}

/* Node i answers, knows a leader and has applied what the leader had
 * committed when we asked. */
static int wait_caught_up(const struct target *t, unsigned i, uint64_t deadline)
{
	while (mono_ms() < deadline) {
		int l = find_leader(t, -1);
		struct node_state ls, s;

		if (l >= 0 && probe(t, (unsigned)l, &ls) == 0 &&
		    probe(t, i, &s) == 0 && s.leader_id != 0 &&
		    s.applied >= ls.commit)
			return 0;
		pause_ms(50);
	}
	return -1;
}

static uint64_t median(const uint64_t *v, unsigned n)
{
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Stops node i with sig without waiting for it to exit (a SIGTERM'd node
 * may hand its leadership over first). */
static void signal_node(unsigned i, int sig)
{
	if (node_pid[i] > 0)
		kill(node_pid[i], sig);
}

/* Reaps node i; returns its exit status (-1: killed by a signal or
 * vanished, -2: still running after timeout_ms, then SIGKILLed, -3: died
 * of SIGTERM). */
static int reap_node(unsigned i, unsigned timeout_ms)
{
	uint64_t deadline = mono_ms() + timeout_ms;
	pid_t pid = node_pid[i];
	int status = 0;

	if (pid <= 0)
		return -1;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (r < 0) {
			node_pid[i] = 0;
			return -1;
		}
		if (mono_ms() > deadline) {
			kill_node(i, SIGKILL);
			return -2;
		}
		pause_ms(10);
	}
	node_pid[i] = 0;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM)
		return -3; /* died of the SIGTERM itself (etcd re-raises it) */
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* R rounds: stop the leader with sig (SIGKILL: a crash; SIGTERM: a planned
 * restart, where the node may transfer its leadership first), time the
 * next acknowledged write through another node, restart the stopped node
 * and wait until it caught up. Prints `what label rounds=..`. */
static int failover(const struct target *t, unsigned rounds, int sig,
		    const char *what)
{
	uint64_t ms[64], el[64];
	unsigned done = 0, bad_exit = 0;

	for (unsigned r = 0; r < rounds && r < 64; r++) {
		uint64_t t0, t1, te;
		int leader, next, code = 0;

		if (wait_writable(t, READY_TIMEOUT_MS, &leader) != 0) {
			fprintf(stderr,
				"commit: %s: no leader before round "
				"%u\n",
				t->label, r + 1);
			return -1;
		}
		t0 = mono_ns();
		if (getenv("COMMIT_DEBUG"))
			fprintf(stderr, "commit: debug: %llu ms stop node %d\n",
				(unsigned long long)mono_ms(), leader + 1);
		signal_node((unsigned)leader, sig);
		next = write_any(t, leader, mono_ms() + READY_TIMEOUT_MS, &te);
		t1 = mono_ns();
		if (next < 0) {
			fprintf(stderr,
				"commit: %s: no write acknowledged "
				"within %u ms of stopping node %d\n",
				t->label, READY_TIMEOUT_MS, leader + 1);
			return -1;
		}
		code = reap_node((unsigned)leader, 30000);
		if (sig != SIGKILL && code != 0 && code != -3)
			bad_exit++;
		el[done] = (te - t0) / 1000000u;
		ms[done++] = (t1 - t0) / 1000000u;
		fprintf(stderr,
			"commit: %s: %s round %u: stopped node %d (%s, exit "
			"%d); node %d acknowledged a write after %llu ms (a "
			"leader after %llu ms)\n",
			t->label, what, r + 1, leader + 1,
			sig == SIGKILL ? "SIGKILL" : "SIGTERM", code, next + 1,
			(unsigned long long)ms[done - 1],
			(unsigned long long)el[done - 1]);
		if (launch((unsigned)leader) != 0 ||
		    wait_caught_up(t, (unsigned)leader,
				   mono_ms() + READY_TIMEOUT_MS) != 0) {
			fprintf(stderr,
				"commit: %s: node %d did not catch up "
				"after restart\n",
				t->label, leader + 1);
			return -1;
		}
	}
	if (done == 0)
		return 0;
	qsort(ms, done, sizeof(ms[0]), cmp_u64);
	qsort(el, done, sizeof(el[0]), cmp_u64);
	printf("%s %s rounds=%u median_ms=%llu min_ms=%llu max_ms=%llu "
	       "leader_median_ms=%llu bad_exits=%u\n",
	       what, t->label, done, (unsigned long long)median(ms, done),
	       (unsigned long long)ms[0], (unsigned long long)ms[done - 1],
	       (unsigned long long)median(el, done), bad_exit);
	fflush(stdout);
	return 0;
}

/* ----------------------------------------------------------------- CLI */

static int parse_etcd(struct target *t, const char *list)
{
	const char *p = list;

	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		unsigned port;
		char host[64];

		if (t->n == MAX_NODES || len >= URL_MAX)
			return -1;
		memcpy(t->url[t->n], p, len);
		t->url[t->n][len] = '\0';
		if (sscanf(t->url[t->n], "http://%63[0-9.]:%u", host, &port) !=
			    2 ||
		    port == 0 || port > 65535)
			return -1;
		snprintf(t->host[t->n], sizeof(t->host[0]), "%s", host);
		t->port[t->n] = (uint16_t)port;
		t->n++;
		p = comma ? comma + 1 : p + len;
	}
	return t->n ? 0 : -1;
}

static int parse_af(struct target *t, const char *file)
{
	struct af_err err = {{0}};

	if (af_cluster_load(file, &t->cfg, &err) != 0) {
		fprintf(stderr, "commit: %s\n", err.msg);
		return -1;
	}
	t->n = t->cfg.n_nodes;
	for (unsigned i = 0; i < t->n; i++)
		af_cluster_url(&t->cfg, t->cfg.nodes[i].api, t->url[i],
			       sizeof(t->url[i]));
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: commit (-c CLUSTER.yaml | --etcd URL,URL,...) "
		"[options]\n"
		"  -n, --clients LIST   concurrent clients per run (1,16; "
		"default 1)\n"
		"  -w, --writes W       writes per run (default 2000)\n"
		"  -d, --seconds D      write for D seconds instead\n"
		"      --launch CMD     start node i as `sh -c \"exec CMD\"`, "
		"%%d -> i (1..N);\n"
		"                       stopped with SIGTERM at exit\n"
		"      --failover R     then R rounds: SIGKILL the leader, "
		"time "
		"the next\n"
		"                       acknowledged write, restart, wait for "
		"catch-up\n"
		"                       (needs --launch)\n"
		"      --futex N        then N commits at 1 and at 16 clients "
		"under\n"
		"                       strace -f -c -e futex on the leader "
		"(needs --launch)\n"
		"      --restarts R     then R rounds of the same with "
		"SIGTERM (a planned\n"
		"                       restart; prints `restart ...`)\n"
		"      --label NAME     name printed in results (default af "
		"or etcd)\n"
		"af writes are Command{noop}; etcd writes are 16-byte puts.\n"
		"The side-by-side comparison: sh bench/commit.sh\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"cluster", required_argument, NULL, 'c'},
		{"etcd", required_argument, NULL, 'e'},
		{"clients", required_argument, NULL, 'n'},
		{"writes", required_argument, NULL, 'w'},
		{"seconds", required_argument, NULL, 'd'},
		{"launch", required_argument, NULL, 'L'},
		{"failover", required_argument, NULL, 'F'},
		{"restarts", required_argument, NULL, 'R'},
		{"futex", required_argument, NULL, 'f'},
		{"label", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static struct target t;
	const char *clients = "1", *cluster = NULL, *etcd = NULL;
	unsigned long writes = 2000, seconds = 0, rounds = 0, restarts = 0;
	unsigned long futex_writes = 0;
	int ch, rc = 0;

	if (argc == 1) {
		printf("commit: needs a cluster; the controld vs etcd figures "
		       "come from `sh bench/commit.sh` (commit --help)\n");
		return 0;
	}
	while ((ch = getopt_long(argc, argv, "c:n:w:d:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cluster = optarg;
			break;
		case 'e':
			etcd = optarg;
			break;
		case 'n':
			clients = optarg;
			break;
		case 'w':
			writes = strtoul(optarg, NULL, 10);
			break;
		case 'd':
			seconds = strtoul(optarg, NULL, 10);
			break;
		case 'L':
			launch_cmd = optarg;
			break;
		case 'F':
			rounds = strtoul(optarg, NULL, 10);
			break;
		case 'f':
			futex_writes = strtoul(optarg, NULL, 10);
			break;
		case 'R':
			restarts = strtoul(optarg, NULL, 10);
			break;
		case 'l':
			t.label = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if ((cluster == NULL) == (etcd == NULL) || optind != argc ||
	    ((rounds > 0 || restarts > 0) && launch_cmd == NULL) ||
	    rounds > 64 || restarts > 64 || futex_writes > 1000000 ||
	    (futex_writes > 0 && launch_cmd == NULL) ||
	    (seconds == 0 && writes == 0) || seconds > 3600) {
		usage(stderr);
		return 2;
	}
	t.proto = cluster ? PROTO_AF : PROTO_ETCD;
	if (t.label == NULL)
		t.label = cluster ? "af" : "etcd";
	if (cluster ? parse_af(&t, cluster) != 0 : parse_etcd(&t, etcd) != 0) {
		fprintf(stderr, "commit: bad cluster file or endpoint list\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (launch_cmd != NULL) {
		n_launched = t.n;
		for (unsigned i = 0; i < t.n; i++)
			if (launch(i) != 0)
				rc = 1;
	}
	for (const char *p = clients; rc == 0 && *p;) {
		char *end;
		unsigned long c = strtoul(p, &end, 10);

		if (c == 0 || c > MAX_CLIENTS || (*end != ',' && *end)) {
			fprintf(stderr, "commit: bad --clients\n");
			rc = 2;
			break;
		}
		if (load(&t, (unsigned)c, seconds ? 0 : writes,
			 (unsigned)seconds, "commit") != 0)
			rc = 1;
		p = *end ? end + 1 : end;
	}
	if (rc == 0 && futex_writes > 0 &&
	    (futex_run(&t, 1, futex_writes) != 0 ||
	     futex_run(&t, 16, futex_writes) != 0))
		rc = 1;
	if (rc == 0 && restarts > 0 &&
	    failover(&t, (unsigned)restarts, SIGTERM, "restart") != 0)
		rc = 1;
	if (rc == 0 && rounds > 0 &&
	    failover(&t, (unsigned)rounds, SIGKILL, "failover") != 0)
		rc = 1;
	if (launch_cmd != NULL)
		stop_all();
	return rc;
}
