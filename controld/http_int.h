/* Private to controld's HTTP listener (http.c: the server, health and
 * metrics; http_call.c: asking the cluster; http_api.c: /api/v1;
 * http_ui.c: the console). Everything here runs on libmicrohttpd's
 * threads, never on the loop thread. */
#ifndef AF_CONTROLD_HTTP_INT_H
#define AF_CONTROLD_HTTP_INT_H

#include "controld/node.h"
#include "proto/af.pb-c.h"

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

/* How long an /api/v1 read may wait for the loop thread (or the leader)
 * before it answers 503. */
#define CONTROLD_HTTP_TIMEOUT_MS 5000u
/* Concurrent HTTP connections (one thread each); more wait in the
 * listen backlog. */
#define CONTROLD_HTTP_CONNS 64u
/* Per node for /api/v1/cluster, as af cluster status does. */
#define CONTROLD_HTTP_PROBE_MS 2000u
/* Longest bearer token accepted. */
#define CONTROLD_HTTP_TOKEN_MAX 512u

/* Asks this node: req goes through controld_handle on the loop thread
 * (authorization, read mode, the verb's handler), as a request on the NNG
 * API does; waits at most timeout_ms. On 0, *ret is owned
 * (af__response__free_unpacked). Errors: AF_ETIMEDOUT, AF_ENOMEM,
 * AF_EIO. */
int controld_http_local(struct controld_node *n, const Af__Request *req,
			uint64_t timeout_ms, Af__Response **ret);
/* Asks node `id` of the cluster file: this node through
 * controld_http_local, another over its NNG API (as af does). */
int controld_http_node(struct controld_node *n, uint64_t id,
		       const Af__Request *req, uint64_t timeout_ms,
		       Af__Response **ret);
/* A leader read: asks this node and, when it answers NOT_LEADER, the
 * leader it names (once). */
int controld_http_read(struct controld_node *n, const Af__Request *req,
		       uint64_t timeout_ms, Af__Response **ret);

/* Queues body (a copy is made) with the content type and the headers every
 * answer carries. */
enum MHD_Result controld_http_send(struct MHD_Connection *c, unsigned code,
				   const char *type, const void *body,
				   size_t len);

/* A file of the console, built into the binary from controld/ui/ (the
 * generated ui_assets.c). */
struct controld_asset {
	const char *name; /* "index.html" */
	const char *type; /* its Content-Type */
	const unsigned char *data;
	size_t len;
};
extern const struct controld_asset controld_ui_assets[];
extern const size_t controld_ui_n_assets;

/* /api/v1/...: url is the path after "/api/v1". */
enum MHD_Result controld_http_api(struct controld_node *n,
				  struct MHD_Connection *c, const char *url);
/* /ui/NAME: the console's assets (NAME "" is index.html); NULL: a
 * redirect to /ui/. */
enum MHD_Result controld_http_ui(struct MHD_Connection *c, const char *name);

/* http_metrics.c: process, Raft log, snapshot, proposal and follower
 * series for /metrics. */
void controld_ops_metrics(struct controld_node *n, struct af_textbuf *b);

#endif
