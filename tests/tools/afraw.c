/*
 * afraw: sends one request to a controld API URL over NNG req and prints
 * the reply on one line, for cluster scenarios that need requests the CLI
 * never builds.
 *
 *   afraw URL hex HEXBYTES            raw request bytes, as given
 *   afraw URL status                  ClusterStatus
 *   afraw URL policy FILE [ID] [dry]  Propose PolicyApply of FILE's bytes,
 *                                     with Command.request_id ID ("-":
 *                                     none) and Request.dry_run
 *   afraw URL rollback REV [ID]       Propose PolicyRollback to REV
 *   afraw URL usage COUNT COST_NANO   Propose a one-row UsageReport
 *   afraw URL fleet PREFIX N          Propose N FleetReports, one after
 *                                     another on one socket, of routerds
 *                                     PREFIX-1..N (serving nothing);
 *                                     prints "recorded=N"
 *   afraw URL budget TENANT           Propose BudgetSet (1 USD a day)
 *   afraw URL pipeline K M REQUEST... K contexts on one socket (one
 *                                     connection), each sending REQUEST
 *                                     (any form above) M times, all at
 *                                     once: replies queue behind each
 *                                     other on the connection
 *
 * Prints "code=NAME msg=\"...\"" then, for an ApplyResult, revision,
 * index, unchanged, replayed and dry_run; for a status, term and role.
 * pipeline prints "replies=N ok=N" instead (OK and UNCHANGED count as
 * ok) and exits 0 only when all K*M replies arrived and were ok.
 * Exit 0 when a reply arrived (whatever its code), 2 on usage errors, 3
 * when no reply arrived within 30 s.
 */
#include "proto/af.pb-c.h"
#include "proto/alloc.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
	fprintf(stderr, "usage: afraw URL [pipeline K M] hex HEX | status | "
			"policy FILE [ID] [dry] | rollback REV [ID] | fleet "
			"PREFIX N | usage "
			"COUNT COST | budget TENANT\n");
	return 2;
}

static int unhex(const char *s, uint8_t **ret, size_t *ret_len)
{
	size_t n = strlen(s) / 2;
	uint8_t *b = malloc(n ? n : 1);

	if (b == NULL || strlen(s) % 2 != 0) {
		free(b);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1) {
			free(b);
			return -1;
		}
		b[i] = (uint8_t)v;
	}
	*ret = b;
	*ret_len = n;
	return 0;
}

static int read_all(const char *path, uint8_t **ret, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b = NULL;
	size_t len = 0, cap = 0, got;

	if (f == NULL)
		return -1;
	do {
		if (len == cap) {
			uint8_t *nb;

			cap = cap ? cap * 2 : 65536;
			nb = realloc(b, cap);
			if (nb == NULL) {
				free(b);
				fclose(f);
				return -1;
			}
			b = nb;
		}
		got = fread(b + len, 1, cap - len, f);
		len += got;
	} while (got > 0);
	fclose(f);
	*ret = b;
	*ret_len = len;
	return 0;
}

/* Packs a Request around cmd (or the status body) into a malloc'd buf. */
static int pack(Af__Request *req, uint8_t **ret, size_t *ret_len)
{
	size_t n = af__request__get_packed_size(req);
	uint8_t *b = malloc(n ? n : 1);

	if (b == NULL)
		return -1;
	af__request__pack(req, b);
	*ret = b;
	*ret_len = n;
	return 0;
}

static int build(int argc, char **argv, uint8_t **ret, size_t *ret_len)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__Command cmd = AF__COMMAND__INIT;
	Af__PolicyApply pa = AF__POLICY_APPLY__INIT;
	Af__PolicyRollback pr = AF__POLICY_ROLLBACK__INIT;
	Af__ClusterStatusReq cs = AF__CLUSTER_STATUS_REQ__INIT;
	Af__UsageReport ur = AF__USAGE_REPORT__INIT;
	Af__UsageRow row = AF__USAGE_ROW__INIT, *rows[1] = {&row};
	Af__BudgetSet bs = AF__BUDGET_SET__INIT;
	uint8_t *src = NULL;
	size_t srclen = 0;
	int rc;

	req.version = 1;
	if (strcmp(argv[2], "hex") == 0 && argc == 4)
		return unhex(argv[3], ret, ret_len);
	if (strcmp(argv[2], "status") == 0) {
		req.body_case = AF__REQUEST__BODY_CLUSTER_STATUS;
		req.cluster_status = &cs;
		return pack(&req, ret, ret_len);
	}
	req.body_case = AF__REQUEST__BODY_PROPOSE;
	req.propose = &cmd;
	if (strcmp(argv[2], "policy") == 0 && argc >= 4) {
		if (read_all(argv[3], &src, &srclen) != 0) {
			fprintf(stderr, "afraw: cannot read %s\n", argv[3]);
			return -1;
		}
		pa.source.data = src;
		pa.source.len = srclen;
		cmd.op_case = AF__COMMAND__OP_POLICY_APPLY;
		cmd.policy_apply = &pa;
		req.dry_run = argc >= 6 && strcmp(argv[5], "dry") == 0;
	} else if (strcmp(argv[2], "rollback") == 0 && argc >= 4) {
		pr.to_revision = strtoull(argv[3], NULL, 10);
		cmd.op_case = AF__COMMAND__OP_POLICY_ROLLBACK;
		cmd.policy_rollback = &pr;
	} else if (strcmp(argv[2], "usage") == 0 && argc == 5) {
		row.revision = 1;
		row.count = strtoull(argv[3], NULL, 10);
		row.ok = row.count;
		row.cost_nano_usd = strtoll(argv[4], NULL, 10);
		ur.routerd_id = (char *)"afraw";
		ur.rows = rows;
		ur.n_rows = 1;
		cmd.op_case = AF__COMMAND__OP_USAGE_REPORT;
		cmd.usage_report = &ur;
		return pack(&req, ret, ret_len);
	} else if (strcmp(argv[2], "budget") == 0 && argc == 4) {
		bs.tenant = argv[3];
		bs.hard_micro = 1000000;
		bs.period = (char *)"day";
		cmd.op_case = AF__COMMAND__OP_BUDGET_SET;
		cmd.budget_set = &bs;
		return pack(&req, ret, ret_len);
	} else {
		return -1;
	}
	if (argc >= 5 && strcmp(argv[4], "-") != 0)
		cmd.request_id = argv[4];
	rc = pack(&req, ret, ret_len);
	free(src);
	return rc;
}

static const char *code_name(int code)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
		&af__code__descriptor, code);
	return v ? v->name : "?";
}

static void print_reply(const uint8_t *buf, size_t len)
{
	Af__Response *r = af__response__unpack(&af_pb_allocator, len, buf);

	if (r == NULL) {
		printf("undecodable reply (%zu bytes)\n", len);
		return;
	}
	printf("code=%s msg=\"%s\"",
	       code_name(r->status ? (int)r->status->code : 0),
	       r->status ? r->status->message : "");
	if (r->body_case == AF__RESPONSE__BODY_APPLY)
		printf(" revision=%llu index=%llu unchanged=%d replayed=%d "
		       "dry_run=%d state=%s",
		       (unsigned long long)r->apply->revision,
		       (unsigned long long)r->apply->index, r->apply->unchanged,
		       r->apply->replayed, r->apply->dry_run, r->apply->state);
	if (r->body_case == AF__RESPONSE__BODY_CLUSTER_STATUS &&
	    r->cluster_status->node)
		printf(" term=%llu role=%s",
		       (unsigned long long)r->cluster_status->node->term,
		       r->cluster_status->node->role);
	printf("\n");
	af__response__free_unpacked(r, NULL);
}

/* ------------------------------------------------------------ pipeline */

#define PIPELINE_MAX 1024 /* contexts, and requests per context (x1000) */

struct pipeline {
	nng_socket s;
	const uint8_t *buf;
	size_t len;
	unsigned each;
	atomic_uint replies, ok;
};

static bool reply_ok(const nng_msg *m)
{
	Af__Response *r = af__response__unpack(NULL, nng_msg_len(m),
					       nng_msg_body((nng_msg *)m));
	bool ok;

	if (r == NULL)
		return false;
	ok = r->status == NULL || r->status->code == AF__CODE__OK ||
	     r->status->code == AF__CODE__UNCHANGED;
	af__response__free_unpacked(r, NULL);
	return ok;
}

/* One context: its requests one after another. */
static void *pipeline_main(void *arg)
{
	struct pipeline *p = arg;
	nng_aio *aio = NULL;
	nng_ctx ctx;

	if (nng_aio_alloc(&aio, NULL, NULL) != 0)
		return NULL;
	if (nng_ctx_open(&ctx, p->s) != 0) {
		nng_aio_free(aio);
		return NULL;
	}
	nng_aio_set_timeout(aio, 30000);
	for (unsigned i = 0; i < p->each; i++) {
		nng_msg *m;

		if (nng_msg_alloc(&m, 0) != 0 ||
		    nng_msg_append(m, p->buf, p->len) != 0)
			break;
		nng_aio_set_msg(aio, m);
		nng_ctx_send(ctx, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio) != 0) {
			nng_msg_free(m);
			break;
		}
		nng_ctx_recv(ctx, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio) != 0)
			break;
		m = nng_aio_get_msg(aio);
		atomic_fetch_add(&p->replies, 1);
		if (reply_ok(m))
			atomic_fetch_add(&p->ok, 1);
		nng_msg_free(m);
	}
	nng_ctx_close(ctx);
	nng_aio_free(aio);
	return NULL;
}

static int pipeline(const char *url, unsigned k, unsigned each,
		    const uint8_t *buf, size_t len)
{
	static pthread_t th[PIPELINE_MAX];
	struct pipeline p = {.buf = buf, .len = len, .each = each};
	unsigned started = 0;
	int rv;

	if ((rv = nng_req0_open(&p.s)) != 0 ||
	    (rv = nng_dial(p.s, url, NULL, 0)) != 0) {
		fprintf(stderr, "afraw: %s: %s\n", url, nng_strerror(rv));
		return 3;
	}
	nng_socket_set_size(p.s, NNG_OPT_RECVMAXSZ, 64u * 1024 * 1024);
	while (started < k &&
	       pthread_create(&th[started], NULL, pipeline_main, &p) == 0)
		started++;
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	printf("replies=%u ok=%u\n", atomic_load(&p.replies),
	       atomic_load(&p.ok));
	fflush(stdout);
	/* No nng_close: with the node gone, NNG 1.5.2's close of a socket
	 * still redialing can wait for ever; the process exit ends it. */
	return atomic_load(&p.ok) == k * each ? 0 : 3;
}

/* afraw URL fleet PREFIX N: exit 0 when all N were recorded. */
static int fleet(const char *url, const char *prefix, unsigned long n)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__Command cmd = AF__COMMAND__INIT;
	Af__FleetReport fr = AF__FLEET_REPORT__INIT;
	unsigned long ok = 0;
	char id[96];
	nng_socket s;
	int rv;

	if ((rv = nng_req0_open(&s)) != 0 ||
	    (rv = nng_dial(s, url, NULL, 0)) != 0) {
		fprintf(stderr, "afraw: %s: %s\n", url, nng_strerror(rv));
		return 3;
	}
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 30000);
	req.version = 1;
	req.body_case = AF__REQUEST__BODY_PROPOSE;
	req.propose = &cmd;
	cmd.op_case = AF__COMMAND__OP_FLEET_REPORT;
	cmd.fleet_report = &fr;
	fr.routerd_id = id;
	for (unsigned long i = 1; i <= n; i++) {
		uint8_t *buf = NULL, *reply = NULL;
		size_t len = 0, rlen = 0;
		Af__Response *r;

		snprintf(id, sizeof(id), "%s-%lu", prefix, i);
		if (pack(&req, &buf, &len) != 0 ||
		    nng_send(s, buf, len, 0) != 0 ||
		    nng_recv(s, &reply, &rlen, NNG_FLAG_ALLOC) != 0) {
			free(buf);
			break;
		}
		free(buf);
		r = af__response__unpack(&af_pb_allocator, rlen, reply);
		if (r != NULL && r->status != NULL &&
		    r->status->code == AF__CODE__OK)
			ok++;
		if (r != NULL)
			af__response__free_unpacked(r, NULL);
		nng_free(reply, rlen);
	}
	printf("recorded=%lu\n", ok);
	fflush(stdout);
	return ok == n ? 0 : 3;
}

int main(int argc, char **argv)
{
	nng_socket s;
	uint8_t *buf = NULL;
	size_t len = 0;
	char *reply = NULL;
	size_t rlen = 0;
	int rv;

	if (argc == 5 && strcmp(argv[2], "fleet") == 0) {
		unsigned long n = strtoul(argv[4], NULL, 10);

		if (n == 0 || n > 100000 || strlen(argv[3]) > 64)
			return usage();
		return fleet(argv[1], argv[3], n);
	}
	if (argc >= 6 && strcmp(argv[2], "pipeline") == 0) {
		unsigned long k = strtoul(argv[3], NULL, 10);
		unsigned long m = strtoul(argv[4], NULL, 10);

		/* build() reads the request at argv[2]: K and M are skipped. */
		if (k == 0 || k > PIPELINE_MAX || m == 0 ||
		    m > PIPELINE_MAX * 1000 ||
		    build(argc - 3, argv + 3, &buf, &len) != 0)
			return usage();
		rv = pipeline(argv[1], (unsigned)k, (unsigned)m, buf, len);
		free(buf);
		return rv;
	}
	if (argc < 3 || build(argc, argv, &buf, &len) != 0)
		return usage();
	if ((rv = nng_req0_open(&s)) != 0) {
		fprintf(stderr, "afraw: %s\n", nng_strerror(rv));
		return 3;
	}
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 30000);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 30000);
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, 64u * 1024 * 1024);
	if ((rv = nng_dial(s, argv[1], NULL, 0)) != 0 ||
	    (rv = nng_send(s, buf, len, 0)) != 0 ||
	    (rv = nng_recv(s, &reply, &rlen, NNG_FLAG_ALLOC)) != 0) {
		fprintf(stderr, "afraw: %s: %s\n", argv[1], nng_strerror(rv));
		free(buf);
		nng_close(s);
		return 3;
	}
	print_reply((const uint8_t *)reply, rlen);
	nng_free(reply, rlen);
	free(buf);
	nng_close(s);
	return 0;
}
