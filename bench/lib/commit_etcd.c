/*
 * The commit bench's etcd target: the v3 JSON gateway, POST /v3/kv/put over
 * a kept-alive HTTP/1.1 connection per client; /v3/maintenance/status as
 * the probe.
 */
#include "bench/lib/commit.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

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
int etcd_write(struct conn *c, unsigned client, uint64_t seq)
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

int etcd_probe(const struct target *t, unsigned i, struct node_state *ret)
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
