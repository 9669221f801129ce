#include "cli/client.h"
#include "common/timeutil.h"

#include "common/alloc.h"
#include "proto/alloc.h"
#include "net/rpc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_RESPONSE (64u * 1024 * 1024)

int af_client_open(struct af_client *c, struct af_cli *cli)
{
	struct af_err err = {{0}};

	memset(c, 0, sizeof(*c));
	c->cli = cli;
	if (cli->endpoints != NULL) {
		const char *p = cli->endpoints;

		while (*p && c->n_endpoints < AF_MAX_NODES) {
			const char *comma = strchr(p, ',');
			size_t len = comma ? (size_t)(comma - p) : strlen(p);

			if (len == 0 || len >= sizeof(c->endpoints[0]))
				return af_cli_fail(AF_EXIT_USAGE, "USAGE",
						   "bad --endpoints entry");
			memcpy(c->endpoints[c->n_endpoints], p, len);
			c->endpoints[c->n_endpoints++][len] = '\0';
			p = comma ? comma + 1 : p + len;
		}
		return c->n_endpoints ? 0
				      : af_cli_fail(AF_EXIT_USAGE, "USAGE",
						    "--endpoints is empty");
	}
	if (cli->cluster_file == NULL)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "no cluster: give -c FILE, AF_CLUSTER or "
				   "--endpoints");
	if (af_cluster_load(cli->cluster_file, &c->cfg, &err) != 0)
		return af_cli_fail(AF_EXIT_USAGE, "CONFIG", "%s", err.msg);
	if (af_tls_new(&c->cfg, &c->tls, &err) != 0)
		return af_cli_fail(AF_EXIT_USAGE, "CONFIG", "%s", err.msg);
	for (unsigned i = 0; i < c->cfg.n_nodes; i++)
		af_cluster_url(&c->cfg, c->cfg.nodes[i].api, c->endpoints[i],
			       sizeof(c->endpoints[i]));
	c->n_endpoints = c->cfg.n_nodes;
	return 0;
}

/* One request to one URL. Returns 0 with *ret, or an error (message in
 * af_rpc_errstr()). */
static int call_one(const char *url, const struct af_tls *tls,
		    const uint8_t *buf, size_t len, uint64_t timeout_ms,
		    Af__Response **ret)
{
	void *out;
	size_t outlen;
	int rc;

	rc = af_rpc_call(url, tls, buf, len, timeout_ms, MAX_RESPONSE, &out,
			 &outlen);
	if (rc != 0)
		return rc;
	*ret = af__response__unpack(&af_pb_allocator, outlen, out);
	af_free(out);
	return *ret ? 0 : AF_EPROTO;
}

static int endpoint_of(struct af_client *c, const char *leader_api)
{
	char url[AF_ADDR_MAX + 16];

	if (leader_api == NULL || leader_api[0] == '\0')
		return -1;
	af_cluster_url(&c->cfg, leader_api, url, sizeof(url));
	for (unsigned i = 0; i < c->n_endpoints; i++)
		if (strcmp(c->endpoints[i], url) == 0)
			return (int)i;
	if (c->n_endpoints < AF_MAX_NODES) {
		snprintf(c->endpoints[c->n_endpoints], sizeof(c->endpoints[0]),
			 "%s", url);
		return (int)c->n_endpoints++;
	}
	return -1;
}

/* Sleeps ms, but never past deadline. */
static void pause_ms(unsigned ms, uint64_t deadline)
{
	uint64_t now = af_mono_ms();

	if (now >= deadline)
		return;
	if (deadline - now < ms)
		ms = (unsigned)(deadline - now);
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* One election timeout from the cluster file (1 s with --endpoints). */
static uint64_t election_ms(const struct af_client *c)
{
	uint64_t et =
		c->cfg.election_timeout_ms ? c->cfg.election_timeout_ms : 1000;

	return et < 200 ? 200 : et;
}

/* Time one attempt may take: about one election timeout, so that a
 * paused or cut-off node costs one election and not the whole --timeout;
 * doubled on every further round over the endpoints, so that a leader
 * slower than that still gets to answer. */
static uint64_t attempt_ms(const struct af_client *c, unsigned attempt,
			   uint64_t left)
{
	unsigned round = attempt / (c->n_endpoints ? c->n_endpoints : 1);
	uint64_t ms = election_ms(c) << (round < 4 ? round : 4);

	return ms < left ? ms : left;
}

/* Packs req once, with a request id on a write (the same bytes go to
 * every endpoint tried, so the cluster applies the write at most once).
 * The id is the caller's when it set one. */
static uint8_t *pack(struct af_client *c, Af__Request *req, size_t *ret_len)
{
	char rid[AF_RPC_ID_LEN + 1];
	char *saved = NULL;
	uint8_t *buf;

	req->version = 1;
	if (c->cli->token)
		req->token = (char *)c->cli->token;
	if (req->body_case == AF__REQUEST__BODY_PROPOSE &&
	    req->propose != NULL &&
	    (req->propose->request_id == NULL ||
	     req->propose->request_id[0] == '\0')) {
		saved = req->propose->request_id;
		af_rpc_request_id(rid);
		req->propose->request_id = rid;
	}
	*ret_len = af__request__get_packed_size(req);
	buf = malloc(*ret_len ? *ret_len : 1);
	if (buf != NULL)
		af__request__pack(req, buf);
	if (req->body_case == AF__REQUEST__BODY_PROPOSE &&
	    req->propose != NULL && req->propose->request_id == rid)
		req->propose->request_id = saved;
	return buf;
}

/* Requests one attempt may spend the whole --timeout on: membership
 * changes and leader transfers wait for Raft (a new member catches up
 * first) and carry no request id, so cutting them short and asking again
 * would change membership twice; a snapshot is large. */
static bool takes_long(const Af__Request *req)
{
	return req->body_case == AF__REQUEST__BODY_MEMBERSHIP ||
	       req->body_case == AF__REQUEST__BODY_TRANSFER_LEADER ||
	       req->body_case == AF__REQUEST__BODY_SNAPSHOT;
}

/* Whether a node is worth asking: not one that just failed to answer
 * (a paused leader keeps being named by followers until an election). */
static bool usable(const uint64_t *failed_at, unsigned i, uint64_t now,
		   uint64_t et)
{
	return failed_at[i] == 0 || now - failed_at[i] >= et;
}

int af_client_call(struct af_client *c, Af__Request *req, int to_node,
		   Af__Response **ret)
{
	uint64_t deadline = af_mono_ms() + c->cli->timeout_ms;
	uint64_t failed_at[AF_MAX_NODES] = {0};
	uint64_t et = election_ms(c);
	size_t len;
	uint8_t *buf;
	unsigned idx = to_node >= 0 ? (unsigned)to_node : c->preferred;
	char last[256] = "no endpoint answered";
	int rv;

	buf = pack(c, req, &len);
	if (buf == NULL)
		return af_cli_fail(AF_EXIT_UNAVAILABLE, "UNAVAILABLE",
				   "out of memory");
	for (unsigned attempt = 0;; attempt++) {
		uint64_t now = af_mono_ms();
		Af__Response *resp = NULL;
		unsigned cur = idx % c->n_endpoints;
		int next;

		if (now >= deadline)
			break;
		rv = call_one(c->endpoints[cur], c->tls, buf, len,
			      to_node >= 0 || takes_long(req)
				      ? deadline - now
				      : attempt_ms(c, attempt, deadline - now),
			      &resp);
		if (rv == 0 && to_node >= 0) {
			*ret = resp;
			free(buf);
			return 0;
		}
		if (rv == 0 && resp->status != NULL &&
		    (resp->status->code == AF__CODE__NOT_LEADER ||
		     resp->status->code == AF__CODE__UNAVAILABLE)) {
			snprintf(last, sizeof(last), "%s: %s",
				 c->endpoints[cur], resp->status->message);
			next = endpoint_of(c, resp->status->leader_api);
			af__response__free_unpacked(resp, NULL);
			if (next >= 0 && (unsigned)next != cur &&
			    usable(failed_at, (unsigned)next, af_mono_ms(), et))
				idx = (unsigned)next;
			else {
				idx++;
				pause_ms(attempt < 10 ? 50 : 200, deadline);
			}
			continue;
		}
		if (rv == 0) {
			c->preferred = cur;
			*ret = resp;
			free(buf);
			return 0;
		}
		snprintf(last, sizeof(last), "%s: %s", c->endpoints[cur],
			 rv == AF_EPROTO ? "reply does not decode"
					 : af_rpc_errstr());
		if (to_node >= 0)
			break;
		failed_at[cur] = af_mono_ms();
		idx++;
		if (idx % c->n_endpoints == c->preferred)
			pause_ms(100, deadline);
	}
	free(buf);
	if (c->quiet)
		return AF_EXIT_UNAVAILABLE;
	return af_cli_fail(AF_EXIT_UNAVAILABLE, "UNAVAILABLE",
			   "cluster unavailable (%s)", last);
}

void af_client_close(struct af_client *c)
{
	af_tls_free(c->tls);
	c->tls = NULL;
}

int af_client_exit_code(const Af__Status *st)
{
	if (st == NULL || st->code == AF__CODE__OK ||
	    st->code == AF__CODE__UNCHANGED)
		return AF_EXIT_OK;
	if (st->code == AF__CODE__UNAVAILABLE ||
	    st->code == AF__CODE__NOT_LEADER)
		return AF_EXIT_UNAVAILABLE;
	return AF_EXIT_REFUSED;
}

int af_client_fail(const Af__Response *resp)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
		&af__code__descriptor, (int)resp->status->code);

	return af_cli_fail(af_client_exit_code(resp->status),
			   v ? v->name : "INTERNAL", "%s",
			   resp->status->message);
}
