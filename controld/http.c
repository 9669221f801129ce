/* The node's http address (libmicrohttpd, a thread per connection, at most
 * CONTROLD_HTTP_CONNS): /healthz, /readyz and /metrics from the atomics in
 * stats; the /api/v1 resources (http_api.c) and the console under /ui/
 * (http_ui.c). HTTPS with the node's certificate when the cluster file has
 * tls:. */
#include "common/alloc.h"
#include "common/file.h"
#include "common/log.h"
#include "controld/backup.h"
#include "controld/http_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *result_names[RES_COUNT] = {"ok", "refused", "not_leader",
					      "error"};

/* Rows of the verb table may share a name: one series per name, in table
 * order, summing its rows. */
static bool first_of_name(size_t v)
{
	for (size_t i = 0; i < v; i++)
		if (strcmp(controld_verb_at(i)->name,
			   controld_verb_at(v)->name) == 0)
			return false;
	return true;
}

static unsigned long long verb_count(struct controld_stats *s, size_t v, int r)
{
	unsigned long long sum = 0;

	for (size_t i = v; i < controld_verb_count(); i++)
		if (strcmp(controld_verb_at(i)->name,
			   controld_verb_at(v)->name) == 0)
			sum += atomic_load(&s->api[i][r]);
	return sum;
}

static void format_metrics(struct controld_node *n, struct af_textbuf *b)
{
	struct controld_stats *s = &n->stats;

	af_textbuf_printf(
		b,
		"# HELP af_raft_term Current Raft term.\n"
		"# TYPE af_raft_term gauge\naf_raft_term %llu\n"
		"# HELP af_raft_commit_index Highest committed log index.\n"
		"# TYPE af_raft_commit_index gauge\n"
		"af_raft_commit_index %llu\n"
		"# HELP af_raft_applied_index Highest applied log index.\n"
		"# TYPE af_raft_applied_index gauge\n"
		"af_raft_applied_index %llu\n"
		"# HELP af_raft_leader 1 when this node is the leader.\n"
		"# TYPE af_raft_leader gauge\naf_raft_leader %d\n"
		"# HELP af_raft_leader_id Id of the known leader (0: none).\n"
		"# TYPE af_raft_leader_id gauge\naf_raft_leader_id %llu\n",
		(unsigned long long)atomic_load(&s->term),
		(unsigned long long)atomic_load(&s->commit),
		(unsigned long long)atomic_load(&s->applied),
		atomic_load(&s->is_leader),
		(unsigned long long)atomic_load(&s->leader_id));
	af_histogram_format(b, "af_apply_latency_seconds",
			    "Time from a write arriving on the leader to its "
			    "entry applied.",
			    "", &s->apply_latency);
	af_histogram_format(b, "af_fsm_apply_seconds",
			    "Time spent applying one entry to the store.", "",
			    &n->fsm.apply_seconds);
	af_histogram_format(b, "af_controld_loop_lag_seconds",
			    "How late the event loop (Raft, apply, requests) "
			    "ran a periodic timer.",
			    "", &s->loop_lag);
	af_textbuf_printf(b, "# HELP af_api_requests_total API requests by "
			     "verb and result.\n"
			     "# TYPE af_api_requests_total counter\n");
	for (size_t v = 0; v < controld_verb_count(); v++)
		if (first_of_name(v))
			for (int r = 0; r < RES_COUNT; r++)
				af_textbuf_printf(
					b,
					"af_api_requests_total{verb=\"%s\","
					"result=\"%s\"} %llu\n",
					controld_verb_at(v)->name,
					result_names[r],
					(unsigned long long)verb_count(s, v,
								       r));
	af_textbuf_printf(
		b,
		"# HELP af_pub_messages_total Hints and heartbeats "
		"published.\n# TYPE af_pub_messages_total counter\n"
		"af_pub_messages_total{kind=\"hint\"} %llu\n"
		"af_pub_messages_total{kind=\"heartbeat\"} %llu\n"
		"# HELP af_pub_pushes_total Change hints by whether they "
		"carried the Sync answer (too_large: routerds pull).\n"
		"# TYPE af_pub_pushes_total counter\n"
		"af_pub_pushes_total{result=\"carried\"} %llu\n"
		"af_pub_pushes_total{result=\"too_large\"} %llu\n"
		"# HELP af_auth_denied_total Requests refused by "
		"authentication or authorization.\n"
		"# TYPE af_auth_denied_total counter\n"
		"af_auth_denied_total %llu\n"
		"# HELP af_api_replies_queued_total API replies that waited "
		"behind another on their connection.\n"
		"# TYPE af_api_replies_queued_total counter\n"
		"af_api_replies_queued_total %llu\n",
		(unsigned long long)atomic_load(&s->hints_published),
		(unsigned long long)atomic_load(&s->heartbeats_published),
		(unsigned long long)atomic_load(&s->pushes_sent),
		(unsigned long long)atomic_load(&s->pushes_too_large),
		(unsigned long long)atomic_load(&s->auth_denied),
		(unsigned long long)atomic_load(&s->replies_queued));
	controld_backup_metrics(n, b);
	controld_ops_metrics(n, b);
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned code,
				 const char *type, char *body, size_t len,
				 enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body, mode);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result controld_http_send(struct MHD_Connection *c, unsigned code,
				   const char *type, const void *body,
				   size_t len)
{
	return send_text(c, code, type, (char *)(uintptr_t)body, len,
			 MHD_RESPMEM_MUST_COPY);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c,
			       const char *url, const char *method,
			       const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	static int marker;
	struct controld_node *n = cls;
	char body[256];
	int len;

	(void)version, (void)upload;
	if (*con_cls == NULL) {
		*con_cls = &marker; /* reply on the second call */
		return MHD_YES;
	}
	*upload_size = 0;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return send_text(c, 405, "text/plain",
				 (char *)"method not allowed (GET only)\n", 30,
				 MHD_RESPMEM_PERSISTENT);
	if (strncmp(url, "/api/v1", 7) == 0 &&
	    (url[7] == '\0' || url[7] == '/'))
		return controld_http_api(n, c, url + 7);
	if (strncmp(url, "/ui/", 4) == 0)
		return controld_http_ui(c, url + 4);
	if (strcmp(url, "/") == 0 || strcmp(url, "/ui") == 0)
		return controld_http_ui(c, NULL);
	if (strcmp(url, "/healthz") == 0)
		return send_text(c, 200, "text/plain", (char *)"ok\n", 3,
				 MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/readyz") == 0) {
		uint64_t leader = atomic_load(&n->stats.leader_id);
		int ready = leader != 0 && atomic_load(&n->stats.ready);

		len = snprintf(
			body, sizeof(body),
			"%s leader=%llu applied=%llu commit=%llu\n",
			ready ? "ready" : "not ready",
			(unsigned long long)leader,
			(unsigned long long)atomic_load(&n->stats.applied),
			(unsigned long long)atomic_load(&n->stats.commit));
		return send_text(c, ready ? 200 : 503, "text/plain", body,
				 (size_t)len, MHD_RESPMEM_MUST_COPY);
	}
	if (strcmp(url, "/metrics") == 0) {
		struct af_textbuf b = {0};

		format_metrics(n, &b);
		if (b.failed) {
			af_textbuf_free(&b);
			return send_text(c, 500, "text/plain",
					 (char *)"out of memory\n", 14,
					 MHD_RESPMEM_PERSISTENT);
		}
		return send_text(c, 200, "text/plain; version=0.0.4", b.buf,
				 b.len, MHD_RESPMEM_MUST_FREE);
	}
	return send_text(c, 404, "text/plain", (char *)"not found\n", 10,
			 MHD_RESPMEM_PERSISTENT);
}

/* The node's certificate and key for HTTPS (kept until the stop). */
static int load_tls(struct controld_node *n, struct af_err *err)
{
	size_t len;
	int rc;

	if ((rc = af_read_file(n->cfg->tls_cert, 1u << 20, &n->http_cert, &len,
			       err)) != 0 ||
	    (rc = af_read_file(n->cfg->tls_key, 1u << 20, &n->http_key, &len,
			       err)) != 0)
		return af_err_wrap(err, rc, "http: tls");
	return 0;
}

/* "127.0.0.1:7104" (or localhost) as a socket address. */
static int listen_addr(const char *http, struct sockaddr_in *sa,
		       struct af_err *err)
{
	char host[AF_ADDR_MAX];
	const char *colon = strrchr(http, ':');

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - http), http);
	sa->sin_port = htons((uint16_t)atoi(colon + 1));
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return af_errf(err, AF_ECONFIG,
			       "http: %s is not an IPv4 address", host);
	return 0;
}

int controld_http_start(struct controld_node *n, struct af_err *err)
{
	/* A thread per connection: an /api/v1 read waits for the loop (at
	 * most CONTROLD_HTTP_TIMEOUT_MS) on its own connection's thread, and
	 * /healthz or /metrics on another connection never waits behind it
	 * (a pool binds each connection to one of its threads). */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
	struct sockaddr_in sa;
	struct MHD_OptionItem opts[] = {
		{MHD_OPTION_CONNECTION_LIMIT, CONTROLD_HTTP_CONNS, NULL},
		{MHD_OPTION_THREAD_STACK_SIZE, 256 * 1024, NULL},
		{MHD_OPTION_CONNECTION_TIMEOUT, 30, NULL},
		{MHD_OPTION_END, 0, NULL}, /* the certificate, with tls: */
		{MHD_OPTION_END, 0, NULL},
		{MHD_OPTION_END, 0, NULL},
	};
	int rc;

	if ((rc = listen_addr(n->self->http, &sa, err)) != 0)
		return rc;
	if (n->cfg->tls) {
		if ((rc = load_tls(n, err)) != 0)
			return rc;
		flags |= MHD_USE_TLS;
		opts[3] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0,
						  n->http_cert};
		opts[4] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0,
						  n->http_key};
	}
	n->http = MHD_start_daemon(flags, 0, NULL, NULL, handler, n,
				   MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				   MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (n->http == NULL)
		return af_errf(err, AF_EIO, "http: cannot listen on %s",
			       n->self->http);
	return 0;
}

void controld_http_stop(struct controld_node *n)
{
	if (n->http)
		MHD_stop_daemon(n->http);
	n->http = NULL;
	af_free(n->http_cert);
	af_free(n->http_key);
	n->http_cert = n->http_key = NULL;
}
