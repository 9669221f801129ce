/* Raft addresses that are host names. libraft 0.15's TCP transport parses
 * every peer address with uv_ip4_addr(), so a name (a Kubernetes pod's
 * stable DNS name, "localhost") never connects. controld's transport wraps
 * raft_uv_tcp: each time raft_uv dials a peer whose address is a name, the
 * name is resolved on libuv's thread pool and the numeric address is
 * dialled. A pod that comes back with a new IP under the same name is
 * reached at its next dial; raft itself only ever sees the names of the
 * cluster file. Part of the only libraft caller (see consensus.h). */
#include "controld/consensus.h"
#include "controld/consensus_int.h"
#include "common/alloc.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

struct af_dns_dial {
	struct af_dns_dial *next;
	struct af_consensus *c;
	uv_getaddrinfo_t gai;
	struct raft_uv_connect *req;
	raft_uv_connect_cb cb;
	raft_id id;
	char host[AF_ADDR_MAX];
	char port[8];
};

/* What was last learnt of peer id's name (for logging changes only:
 * raft_uv dials an unreachable peer every second). */
static struct af_dns_peer *peer_of(struct af_consensus *c, uint64_t id)
{
	unsigned n = sizeof(c->dns_peers) / sizeof(c->dns_peers[0]);

	for (unsigned i = 0; i < n; i++)
		if (c->dns_peers[i].id == id)
			return &c->dns_peers[i];
	for (unsigned i = 0; i < n; i++)
		if (c->dns_peers[i].id == 0) {
			c->dns_peers[i].id = id;
			return &c->dns_peers[i];
		}
	return NULL;
}

static void note_resolved(struct af_consensus *c, const struct af_dns_dial *d,
			  const char *addr)
{
	struct af_dns_peer *p = peer_of(c, d->id);

	if (p == NULL || strcmp(p->addr, addr) == 0)
		return;
	log_info("event=raft_resolved id=%llu host=%s address=%s%s%s",
		 (unsigned long long)d->id, d->host, addr,
		 p->addr[0] != '\0' ? " was=" : "", p->addr);
	snprintf(p->addr, sizeof(p->addr), "%s", addr);
	p->failing = false;
}

static void note_failed(struct af_consensus *c, const struct af_dns_dial *d,
			int status)
{
	struct af_dns_peer *p = peer_of(c, d->id);

	atomic_fetch_add(&c->dns_failures, 1);
	if (p != NULL && p->failing)
		return;
	if (p != NULL) {
		p->failing = true;
		p->addr[0] = '\0';
	}
	log_warn("event=raft_resolve_failed id=%llu host=%s error=\"%s\" "
		 "msg=\"the peer's raft address does not resolve: raft "
		 "retries every second (check its name and this host's "
		 "resolver; on Kubernetes, the headless Service must publish "
		 "not-ready addresses)\"",
		 (unsigned long long)d->id, d->host, uv_strerror(status));
}

/* The transport is closing: its own close finished and no resolution is
 * left. */
static void maybe_closed(struct af_consensus *c)
{
	raft_uv_transport_close_cb cb = c->dns_close_cb;

	if (!c->dns_closing || !c->dns_tcp_closed || c->dials != NULL ||
	    cb == NULL)
		return;
	c->dns_close_cb = NULL;
	cb(&c->transport);
}

static void unlink_dial(struct af_consensus *c, struct af_dns_dial *d)
{
	struct af_dns_dial **p = &c->dials;

	while (*p != d)
		p = &(*p)->next;
	*p = d->next;
}

static int format_addr(const struct addrinfo *res, const char *port, char *out,
		       size_t outlen)
{
	char ip[INET_ADDRSTRLEN];

	for (; res != NULL; res = res->ai_next) {
		const struct sockaddr_in *sa =
			(const struct sockaddr_in *)(const void *)res->ai_addr;

		if (res->ai_family != AF_INET ||
		    inet_ntop(AF_INET, &sa->sin_addr, ip, sizeof(ip)) == NULL)
			continue;
		snprintf(out, outlen, "%s:%s", ip, port);
		return 0;
	}
	return UV_EAI_NONAME;
}

static void resolved_cb(uv_getaddrinfo_t *gai, int status, struct addrinfo *res)
{
	struct af_dns_dial *d = gai->data;
	struct af_consensus *c = d->c;
	char addr[AF_ADDR_MAX];
	int rv = RAFT_NOCONNECTION;

	unlink_dial(c, d);
	if (c->dns_closing) {
		/* raft_uv's client is closing: only CANCELED is expected. */
		rv = RAFT_CANCELED;
	} else if (status == 0 && (status = format_addr(res, d->port, addr,
							sizeof(addr))) == 0) {
		note_resolved(c, d, addr);
		rv = c->uv_connect(&c->transport, d->req, d->id, addr, d->cb);
		if (rv != 0)
			rv = RAFT_NOCONNECTION;
	} else {
		note_failed(c, d, status);
	}
	if (rv != 0)
		d->cb(d->req, NULL, rv);
	uv_freeaddrinfo(res);
	af_free(d);
	maybe_closed(c);
}

static int dns_connect(struct raft_uv_transport *t, struct raft_uv_connect *req,
		       raft_id id, const char *address, raft_uv_connect_cb cb)
{
	struct af_consensus *c = consensus_of_transport(t);
	const struct addrinfo hints = {.ai_family = AF_INET,
				       .ai_socktype = SOCK_STREAM};
	const char *colon = strrchr(address, ':');
	struct af_dns_dial *d;
	struct in_addr a;
	size_t hostlen;

	if (colon == NULL)
		return RAFT_NOCONNECTION;
	hostlen = (size_t)(colon - address);
	if (hostlen == 0 || hostlen >= AF_ADDR_MAX || strlen(colon + 1) >= 8)
		return RAFT_NOCONNECTION;
	d = af_calloc(1, sizeof(*d));
	if (d == NULL)
		return RAFT_NOMEM;
	memcpy(d->host, address, hostlen);
	snprintf(d->port, sizeof(d->port), "%s", colon + 1);
	if (inet_pton(AF_INET, d->host, &a) == 1) {
		af_free(d);
		return c->uv_connect(t, req, id, address, cb);
	}
	d->c = c;
	d->req = req;
	d->cb = cb;
	d->id = id;
	d->gai.data = d;
	if (uv_getaddrinfo(c->loop, &d->gai, resolved_cb, d->host, NULL,
			   &hints) != 0) {
		af_free(d);
		return RAFT_NOCONNECTION;
	}
	d->next = c->dials;
	c->dials = d;
	return 0;
}

static void tcp_closed_cb(struct raft_uv_transport *t)
{
	struct af_consensus *c = consensus_of_transport(t);

	c->dns_tcp_closed = true;
	maybe_closed(c);
}

/* Cancels the resolutions not started yet; those under way finish, are
 * answered CANCELED, and the close completes after the last. */
static void dns_close(struct raft_uv_transport *t,
		      raft_uv_transport_close_cb cb)
{
	struct af_consensus *c = consensus_of_transport(t);

	c->dns_closing = true;
	c->dns_close_cb = cb;
	for (struct af_dns_dial *d = c->dials; d != NULL; d = d->next)
		(void)uv_cancel((uv_req_t *)&d->gai);
	c->uv_close(t, tcp_closed_cb);
}

void consensus_dns_wrap(struct af_consensus *c)
{
	c->uv_connect = c->transport.connect;
	c->uv_close = c->transport.close;
	c->transport.connect = dns_connect;
	c->transport.close = dns_close;
}

int consensus_dns_bind(struct af_consensus *c, const struct af_node_cfg *node,
		       struct af_err *err)
{
	const char *listen = af_cluster_raft_listen(node);
	char numeric[AF_ADDR_MAX], host[AF_ADDR_MAX];
	const char *colon = strrchr(listen, ':');
	struct in_addr a;
	int rc, rv;

	snprintf(host, sizeof(host), "%.*s",
		 colon != NULL ? (int)(colon - listen) : 0, listen);
	if (node->raft_bind[0] == '\0' && inet_pton(AF_INET, host, &a) == 1)
		return 0; /* raft_uv_tcp listens on the raft address itself */
	rc = af_cluster_resolve(node->raft_bind[0] != '\0' ? "raft_bind"
							   : "raft",
				listen, numeric, sizeof(numeric), err);
	if (rc != 0)
		return rc;
	rv = raft_uv_tcp_set_bind_address(&c->transport, numeric);
	if (rv != 0)
		return af_errf(err, AF_ECONFIG, "raft: cannot listen on %s: %s",
			       numeric, raft_strerror(rv));
	return 0;
}
