/*
 * The commit bench's af target: controld's Request{propose=Command{noop}}
 * over NNG req/rep, one req socket per client, following NOT_LEADER to the
 * leader; ClusterStatus (stale) as the probe.
 */
#include "bench/lib/commit.h"
#include "proto/af.pb-c.h"
#include "proto/alloc.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <string.h>

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
int af_write(struct conn *c, uint64_t *ret_index)
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

int af_probe(const struct target *t, unsigned i, struct node_state *ret)
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
