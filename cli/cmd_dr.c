/* af dr drill: writes while leadership moves (RTO), every acknowledged
 * write looked up on every member (RPO), routerds probed throughout, a
 * snapshot taken and verified. Routerd probes: dr_probe.c. */
#include "cli/client.h"
#include "cli/dr.h"
#include "cli/output.h"
#include "common/file.h"
#include "common/timeutil.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The drill's write: a budget for a tenant no request uses, set to the
 * write's number (micro-USD) and removed at the end; audited on every
 * member under its Raft index. */
#define DR_TENANT "af-dr-drill"
#define DR_MAX_WRITES 10000
#define DR_DEFAULT_WRITES 200
#define DR_MAX_FAIL_IF 8
#define DR_AUDIT_PAGE 1000
#define DR_FAIL_LEN 256
#define DR_MAX_FAILS (AF_MAX_NODES + 8)

enum dr_key { K_RTO, K_RPO, K_ERRORS, K_VIOLATIONS, K_COUNT };
static const char *const key_names[K_COUNT] = {
	"rto_ms", "rpo_entries", "routerd_errors", "residency_violations"};

struct dr_ack {
	uint64_t index, node, t_ns;
};

struct dr_member {
	uint64_t id;
	uint64_t missing;
	bool reached; /* answered: applied the last write, audit read */
	char endpoint[AF_ADDR_MAX + 16];
};

struct drill {
	struct af_cli *cli;
	uint64_t target;
	const char *request_file;
	const char *controld;
	struct {
		enum dr_key key;
		uint64_t limit;
	} fail_if[DR_MAX_FAIL_IF];
	size_t n_fail_if;
	struct dr_probe probe;
	/* the writer thread's; read by main after acked moves or the join */
	struct dr_ack *acks;
	size_t n_acks, cap;
	_Atomic size_t acked;
	_Atomic bool stop_writes;
	uint64_t failed_writes;
	char write_error[512];
	pthread_t writer;
	/* results */
	uint64_t old_leader, new_leader, transfer_ms, rto_ms, rpo;
	struct dr_member members[AF_MAX_NODES];
	size_t n_members, n_unanswered;
	struct dr_snap snap;
};

/* ---- flags ------------------------------------------------------------ */

static int parse_u64(const char *flag, const char *s, uint64_t max,
		     uint64_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s == '\0' || *s == '-' || *end != '\0' || errno != 0 || v > max)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "%s: expected 0..%llu, got \"%s\"", flag,
				   (unsigned long long)max, s);
	*ret = v;
	return 0;
}

/* KEY>N, e.g. rto_ms>2000. */
static int parse_fail_if(struct drill *d, const char *s)
{
	const char *gt = strchr(s, '>');

	if (d->n_fail_if == DR_MAX_FAIL_IF)
		return af_cli_fail(AF_EXIT_USAGE, "USAGE",
				   "--fail-if: at most %d", DR_MAX_FAIL_IF);
	for (int k = 0; gt != NULL && k < K_COUNT; k++) {
		if (strlen(key_names[k]) != (size_t)(gt - s) ||
		    strncmp(s, key_names[k], (size_t)(gt - s)) != 0)
			continue;
		d->fail_if[d->n_fail_if].key = (enum dr_key)k;
		return parse_u64("--fail-if", gt + 1, UINT32_MAX,
				 &d->fail_if[d->n_fail_if++].limit);
	}
	return af_cli_fail(AF_EXIT_USAGE, "USAGE",
			   "--fail-if: expected KEY>N with KEY rto_ms, "
			   "rpo_entries, routerd_errors or "
			   "residency_violations, got \"%s\"",
			   s);
}

static int parse_flags(struct drill *d, int argc, char **argv)
{
	int rc = 0;

	for (int i = 1; i < argc && rc == 0; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--routerd") != 0 && strcmp(a, "--writes") != 0 &&
		    strcmp(a, "--fail-if") != 0 &&
		    strcmp(a, "--request") != 0 &&
		    strcmp(a, "--snapshot") != 0 &&
		    strcmp(a, "--controld") != 0)
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "dr drill: unknown argument \"%s\" "
					   "(see af dr drill --help)",
					   a);
		if (v == NULL)
			return af_cli_fail(AF_EXIT_USAGE, "USAGE",
					   "%s needs a value", a);
		i++;
		if (strcmp(a, "--routerd") == 0)
			rc = dr_probe_add(&d->probe, v);
		else if (strcmp(a, "--writes") == 0)
			rc = parse_u64(a, v, DR_MAX_WRITES, &d->target);
		else if (strcmp(a, "--fail-if") == 0)
			rc = parse_fail_if(d, v);
		else if (strcmp(a, "--request") == 0)
			d->request_file = v;
		else if (strcmp(a, "--controld") == 0)
			d->controld = v;
		else if (snprintf(d->snap.file, sizeof(d->snap.file), "%s", v) <
			 (int)sizeof(d->snap.file))
			d->snap.keep = true;
	}
	if (rc == 0 && d->target < 2)
		rc = af_cli_fail(AF_EXIT_USAGE, "USAGE",
				 "--writes: at least 2 (one before the move, "
				 "one after)");
	return rc;
}

/* ---- writes ------------------------------------------------------------ */

static void budget_request(Af__Request *req, Af__Command *cmd,
			   Af__BudgetSet *bs, int64_t hard, bool remove)
{
	af__request__init(req);
	af__command__init(cmd);
	af__budget_set__init(bs);
	bs->tenant = (char *)DR_TENANT;
	bs->hard_micro = hard;
	bs->period = (char *)"month";
	bs->remove = remove;
	cmd->op_case = AF__COMMAND__OP_BUDGET_SET;
	cmd->budget_set = bs;
	req->body_case = AF__REQUEST__BODY_PROPOSE;
	req->propose = cmd;
}

/* One write; 0 and the ack, or an error kept in d->write_error. */
static int write_once(struct drill *d, struct af_client *c, uint64_t k,
		      struct dr_ack *ret)
{
	Af__Request req;
	Af__Command cmd;
	Af__BudgetSet bs;
	Af__Response *resp = NULL;
	int rc;

	budget_request(&req, &cmd, &bs, (int64_t)k + 1, false);
	rc = af_client_call(c, &req, -1, &resp);
	if (rc == 0 &&
	    (af_client_exit_code(resp->status) != 0 || resp->apply == NULL)) {
		snprintf(d->write_error, sizeof(d->write_error), "%s",
			 resp->status && resp->status->message
				 ? resp->status->message
				 : "refused");
		rc = AF_EXIT_REFUSED;
	} else if (rc != 0)
		snprintf(d->write_error, sizeof(d->write_error),
			 "no answer within --timeout");
	if (rc == 0) {
		ret->index = resp->apply->index;
		ret->node = resp->node_id;
		ret->t_ns = af_mono_ns();
	}
	if (resp != NULL)
		af__response__free_unpacked(resp, NULL);
	return rc;
}

/* Writes one at a time until the target is reached with at least one
 * write acknowledged by another leader, or stop_writes. */
static void *writer_main(void *arg)
{
	struct drill *d = arg;
	struct af_client c;
	bool moved = false;

	if (af_client_open(&c, d->cli) != 0)
		return NULL;
	c.quiet = true;
	for (uint64_t k = 0; d->n_acks < d->cap; k++) {
		struct dr_ack a;

		if ((d->n_acks >= d->target && moved) ||
		    atomic_load(&d->stop_writes))
			break;
		if (write_once(d, &c, k, &a) != 0) {
			d->failed_writes++;
			continue;
		}
		d->acks[d->n_acks++] = a;
		moved = moved || a.node != d->acks[0].node;
		atomic_store(&d->acked, d->n_acks);
	}
	af_client_close(&c);
	return NULL;
}

/* Leadership away from the node that acknowledged the first writes. */
static int transfer(struct drill *d)
{
	Af__Request req = AF__REQUEST__INIT;
	Af__TransferLeaderReq tr = AF__TRANSFER_LEADER_REQ__INIT;
	Af__Response *resp;
	uint64_t t0 = af_mono_ms();
	int rc;

	req.body_case = AF__REQUEST__BODY_TRANSFER_LEADER;
	req.transfer_leader = &tr;
	rc = af_cli_request(d->cli, &req, &resp);
	if (rc != 0)
		return rc;
	af__response__free_unpacked(resp, NULL);
	d->transfer_ms = af_mono_ms() - t0;
	return 0;
}

/* Runs the writes, moving the leadership after a third of them. */
static int run_writes(struct drill *d)
{
	const struct timespec tick = {0, 2000000L};
	uint64_t deadline;
	int rc = 0;

	d->cap = (size_t)d->target * 4 + 100;
	d->acks = calloc(d->cap, sizeof(*d->acks));
	if (d->acks == NULL)
		return af_cli_fail(AF_EXIT_UNAVAILABLE, "NOMEM",
				   "dr drill: out of memory");
	if (pthread_create(&d->writer, NULL, writer_main, d) != 0)
		return af_cli_fail(AF_EXIT_UNAVAILABLE, "INTERNAL",
				   "dr drill: cannot start the writer");
	deadline = af_mono_ms() + d->cli->timeout_ms;
	while (atomic_load(&d->acked) < d->target / 3 + 1 &&
	       af_mono_ms() < deadline)
		nanosleep(&tick, NULL);
	if (atomic_load(&d->acked) == 0)
		rc = af_cli_fail(AF_EXIT_UNAVAILABLE, "UNAVAILABLE",
				 "dr drill: no write was acknowledged (%s)",
				 d->write_error);
	else
		rc = transfer(d);
	if (rc != 0)
		atomic_store(&d->stop_writes, true);
	/* The writer ends by itself once a new leader acknowledged; bound
	 * it anyway. */
	deadline = af_mono_ms() + 3 * d->cli->timeout_ms;
	while (rc == 0 && pthread_tryjoin_np(d->writer, NULL) == EBUSY) {
		if (af_mono_ms() > deadline)
			atomic_store(&d->stop_writes, true);
		nanosleep(&tick, NULL);
	}
	if (rc != 0)
		pthread_join(d->writer, NULL);
	return rc;
}

/* RTO: from the last write the old leader acknowledged to the first the
 * new one did. */
static int measure(struct drill *d)
{
	for (size_t i = 1; i < d->n_acks; i++) {
		if (d->acks[i].node == d->acks[0].node)
			continue;
		d->old_leader = d->acks[0].node;
		d->new_leader = d->acks[i].node;
		d->rto_ms = (d->acks[i].t_ns - d->acks[i - 1].t_ns + 999999) /
			    1000000;
		return 0;
	}
	return af_cli_fail(AF_EXIT_UNAVAILABLE, "UNAVAILABLE",
			   "dr drill: leadership did not move within the "
			   "drill (%zu writes acknowledged, all by node "
			   "%llu)",
			   d->n_acks, (unsigned long long)d->acks[0].node);
}

/* ---- RPO: every acknowledged write on every member -------------------- */

static struct dr_ack *find_ack(struct drill *d, uint64_t index)
{
	size_t lo = 0, hi = d->n_acks;

	while (lo < hi) { /* acks are in index order: one writer */
		size_t mid = lo + (hi - lo) / 2;
		if (d->acks[mid].index < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < d->n_acks && d->acks[lo].index == index ? &d->acks[lo]
							    : NULL;
}

/* This member's own view, or NULL. */
static Af__Response *ask(struct af_client *c, unsigned node, Af__Request *req)
{
	Af__Response *resp = NULL;

	req->read_mode = AF__READ_MODE__STALE;
	if (af_client_call(c, req, (int)node, &resp) != 0)
		return NULL;
	if (af_client_exit_code(resp->status) != 0) {
		af__response__free_unpacked(resp, NULL);
		return NULL;
	}
	return resp;
}

/* Waits until member `node` applied `index`; its id in *ret_id. */
static bool wait_applied(struct af_client *c, unsigned node, uint64_t index,
			 uint64_t *ret_id)
{
	const struct timespec pause = {0, 50000000L};
	uint64_t deadline = af_mono_ms() + c->cli->timeout_ms;

	do {
		Af__Request req = AF__REQUEST__INIT;
		Af__ClusterStatusReq cs = AF__CLUSTER_STATUS_REQ__INIT;
		Af__Response *r;
		bool done = false;

		req.body_case = AF__REQUEST__BODY_CLUSTER_STATUS;
		req.cluster_status = &cs;
		r = ask(c, node, &req);
		if (r != NULL && r->cluster_status && r->cluster_status->node) {
			*ret_id = r->cluster_status->node->id;
			done = r->cluster_status->node->applied_index >= index;
		}
		if (r != NULL)
			af__response__free_unpacked(r, NULL);
		if (done)
			return true;
		nanosleep(&pause, NULL);
	} while (af_mono_ms() < deadline);
	return false;
}

/* Marks, in seen (one flag per ack), the drill writes this member's audit
 * holds. Returns false when the member did not answer. */
static bool audit_member(struct drill *d, struct af_client *c, unsigned node,
			 bool *seen)
{
	uint64_t after = 0, low = d->acks[0].index;

	do {
		Af__Request req = AF__REQUEST__INIT;
		Af__AuditReq ar = AF__AUDIT_REQ__INIT;
		Af__Response *r;

		ar.limit = DR_AUDIT_PAGE;
		ar.after = after;
		req.body_case = AF__REQUEST__BODY_AUDIT;
		req.audit = &ar;
		if ((r = ask(c, node, &req)) == NULL || r->audit == NULL) {
			if (r != NULL)
				af__response__free_unpacked(r, NULL);
			return false;
		}
		for (size_t i = 0; i < r->audit->n_records; i++) {
			const Af__AuditRecord *a = r->audit->records[i];
			struct dr_ack *k = find_ack(d, a->index);

			if (k != NULL && strcmp(a->verb, "budget.set") == 0 &&
			    strcmp(a->target, DR_TENANT) == 0)
				seen[k - d->acks] = true;
		}
		after = r->audit->next_after;
		af__response__free_unpacked(r, NULL);
	} while (after != 0 && after > low);
	return true;
}

static int check_rpo(struct drill *d)
{
	struct af_client c;
	bool *seen, *lost;
	int rc;

	if ((rc = af_client_open(&c, d->cli)) != 0)
		return rc;
	c.quiet = true;
	seen = calloc(d->n_acks, sizeof(*seen));
	lost = calloc(d->n_acks, sizeof(*lost));
	for (unsigned n = 0; seen && lost && n < c.n_endpoints; n++) {
		struct dr_member *m = &d->members[d->n_members++];

		/* Its id from the cluster file, until it answers with its
		 * own (--endpoints: 0). */
		m->id = n < c.cfg.n_nodes ? c.cfg.nodes[n].id : 0;
		snprintf(m->endpoint, sizeof(m->endpoint), "%s",
			 c.endpoints[n]);
		memset(seen, 0, d->n_acks * sizeof(*seen));
		m->reached = wait_applied(&c, n, d->acks[d->n_acks - 1].index,
					  &m->id) &&
			     audit_member(d, &c, n, seen);
		/* A member that did not answer is its own failure, not a
		 * loss of the writes: what it holds is unknown. */
		d->n_unanswered += !m->reached;
		for (size_t i = 0; m->reached && i < d->n_acks; i++)
			if (!seen[i]) {
				m->missing++;
				lost[i] = true;
			}
	}
	for (size_t i = 0; lost && i < d->n_acks; i++)
		d->rpo += lost[i];
	rc = seen && lost ? 0
			  : af_cli_fail(AF_EXIT_UNAVAILABLE, "NOMEM",
					"dr drill: out of memory");
	free(seen);
	free(lost);
	af_client_close(&c);
	return rc;
}

/* ---- output ---------------------------------------------------------------
 */

static uint64_t value_of(const struct drill *d, enum dr_key k)
{
	switch (k) {
	case K_RTO:
		return d->rto_ms;
	case K_RPO:
		return d->rpo;
	case K_ERRORS:
		return atomic_load(&d->probe.errors);
	default:
		return atomic_load(&d->probe.violations);
	}
}

/* What failed: the drill's own checks, then the --fail-if conditions. */
static size_t failures(const struct drill *d, char out[][DR_FAIL_LEN],
		       size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < d->n_members && n < max; i++)
		if (!d->members[i].reached)
			snprintf(out[n++], DR_FAIL_LEN,
				 "member %llu (%s) did not answer",
				 (unsigned long long)d->members[i].id,
				 d->members[i].endpoint);
	if (d->rpo > 0 && n < max)
		snprintf(out[n++], DR_FAIL_LEN,
			 "%llu acknowledged writes missing",
			 (unsigned long long)d->rpo);
	if (atomic_load(&d->probe.errors) > 0 && n < max)
		snprintf(out[n++], DR_FAIL_LEN, "routerd errors");
	if (atomic_load(&d->probe.violations) > 0 && n < max)
		snprintf(out[n++], DR_FAIL_LEN, "regions outside residency");
	if (!d->snap.verified && n < max)
		snprintf(out[n++], DR_FAIL_LEN, "snapshot not verified");
	for (size_t i = 0; i < d->n_fail_if && n < max; i++)
		if (value_of(d, d->fail_if[i].key) > d->fail_if[i].limit)
			snprintf(out[n++], DR_FAIL_LEN, "%s>%llu (%llu)",
				 key_names[d->fail_if[i].key],
				 (unsigned long long)d->fail_if[i].limit,
				 (unsigned long long)value_of(
					 d, d->fail_if[i].key));
	return n;
}

static json_t *drill_json(const struct drill *d, char fails[][DR_FAIL_LEN],
			  size_t nf)
{
	json_t *o = json_object(), *arr = json_array(), *f = json_array();
	json_t *un = json_array();

	for (size_t i = 0; i < d->n_members; i++) {
		json_array_append_new(
			arr, json_pack("{s:I, s:s, s:b, s:I}", "id",
				       (json_int_t)d->members[i].id, "endpoint",
				       d->members[i].endpoint, "reached",
				       d->members[i].reached, "missing",
				       (json_int_t)d->members[i].missing));
		if (!d->members[i].reached)
			json_array_append_new(
				un, json_integer((json_int_t)d->members[i].id));
	}
	for (size_t i = 0; i < nf; i++)
		json_array_append_new(f, json_string(fails[i]));
	json_object_set_new(o, "rto_ms", json_integer((json_int_t)d->rto_ms));
	json_object_set_new(o, "rpo_entries", json_integer((json_int_t)d->rpo));
	json_object_set_new(o, "unanswered_members", un);
	json_object_set_new(o, "writes", json_integer((json_int_t)d->n_acks));
	json_object_set_new(
		o, "routerd",
		json_pack("{s:I, s:I, s:I, s:I}", "decisions",
			  (json_int_t)atomic_load(&d->probe.decisions),
			  "errors", (json_int_t)atomic_load(&d->probe.errors),
			  "residency_violations",
			  (json_int_t)atomic_load(&d->probe.violations),
			  "routerds", (json_int_t)d->probe.n_urls));
	json_object_set_new(o, "snapshot",
			    json_pack("{s:I, s:I, s:b, s:s}", "bytes",
				      (json_int_t)d->snap.bytes, "index",
				      (json_int_t)d->snap.index, "verified",
				      d->snap.verified, "state_hash",
				      d->snap.hash));
	json_object_set_new(o, "failed_writes",
			    json_integer((json_int_t)d->failed_writes));
	json_object_set_new(o, "old_leader",
			    json_integer((json_int_t)d->old_leader));
	json_object_set_new(o, "new_leader",
			    json_integer((json_int_t)d->new_leader));
	json_object_set_new(o, "transfer_ms",
			    json_integer((json_int_t)d->transfer_ms));
	json_object_set_new(o, "members", arr);
	json_object_set_new(o, "passed", json_boolean(nf == 0));
	json_object_set_new(o, "failures", f);
	return o;
}

static void print_table(const struct drill *d, char fails[][DR_FAIL_LEN],
			size_t nf)
{
	size_t reached = 0;

	for (size_t i = 0; i < d->n_members; i++)
		reached += d->members[i].reached && !d->members[i].missing;
	printf("%-12s node %llu -> node %llu (transfer took %llu ms)\n",
	       "leadership", (unsigned long long)d->old_leader,
	       (unsigned long long)d->new_leader,
	       (unsigned long long)d->transfer_ms);
	printf("%-12s %llu ms\n", "RTO", (unsigned long long)d->rto_ms);
	printf("%-12s %llu entries (every write found on %zu of %zu "
	       "members",
	       "RPO", (unsigned long long)d->rpo, reached,
	       d->n_members - d->n_unanswered);
	if (d->n_unanswered > 0)
		printf("; %zu did not answer", d->n_unanswered);
	printf(")\n");
	printf("%-12s %zu acknowledged, %llu failed\n", "writes", d->n_acks,
	       (unsigned long long)d->failed_writes);
	printf("%-12s %llu decisions, %llu errors, %llu residency "
	       "violations (%zu routerd%s probed)\n",
	       "routerd", (unsigned long long)atomic_load(&d->probe.decisions),
	       (unsigned long long)atomic_load(&d->probe.errors),
	       (unsigned long long)atomic_load(&d->probe.violations),
	       d->probe.n_urls, d->probe.n_urls == 1 ? "" : "s");
	printf("%-12s %llu bytes at index %llu, %s\n", "snapshot",
	       (unsigned long long)d->snap.bytes,
	       (unsigned long long)d->snap.index,
	       d->snap.verified ? "verified" : "NOT VERIFIED");
	if (!d->snap.verified && d->snap.error[0])
		printf("%-12s %s\n", "", d->snap.error);
	if (nf == 0 && d->probe.errors == 0)
		printf("%-12s PASS\n", "result");
	for (size_t i = 0; i < nf; i++)
		printf("%-12s %s %s\n", i ? "" : "result",
		       i ? "" : "FAIL:", fails[i]);
	if (atomic_load(&d->probe.errors) > 0)
		printf("%-12s last routerd error: %s\n", "",
		       d->probe.last_error);
}

/* ---- the verb -------------------------------------------------------------
 */

static int cleanup_write(struct drill *d)
{
	Af__Request req;
	Af__Command cmd;
	Af__BudgetSet bs;
	Af__Response *resp;
	int rc;

	budget_request(&req, &cmd, &bs, 0, true);
	rc = af_cli_request(d->cli, &req, &resp);
	if (rc == 0)
		af__response__free_unpacked(resp, NULL);
	return rc;
}

static int drill_run(struct drill *d)
{
	int rc;

	rc = dr_probe_prepare(&d->probe, d->cli, d->request_file);
	if (rc == 0)
		rc = dr_probe_start(&d->probe);
	if (rc == 0)
		rc = run_writes(d);
	if (rc == 0)
		rc = measure(d);
	if (rc == 0)
		rc = check_rpo(d);
	if (rc == 0)
		rc = dr_snapshot(d->cli, d->controld, &d->snap);
	dr_probe_stop(&d->probe);
	/* The drill's budget goes whatever failed after a write landed (the
	 * writer has been joined by now). */
	if (d->n_acks > 0) {
		int crc = cleanup_write(d);

		rc = rc != 0 ? rc : crc;
	}
	return rc;
}

int af_cli_dr_drill(struct af_cli *cli, int argc, char **argv)
{
	struct drill *d = calloc(1, sizeof(*d));
	char fails[DR_MAX_FAILS][DR_FAIL_LEN];
	size_t nf;
	int rc;

	if (d == NULL)
		return af_cli_fail(AF_EXIT_UNAVAILABLE, "NOMEM",
				   "dr drill: out of memory");
	d->cli = cli;
	d->target = DR_DEFAULT_WRITES;
	rc = parse_flags(d, argc, argv);
	if (rc == 0)
		rc = drill_run(d);
	if (rc == 0) {
		nf = failures(d, fails, DR_MAX_FAILS);
		if (cli->output == AF_OUT_TABLE)
			print_table(d, fails, nf);
		else
			rc = af_out_json(drill_json(d, fails, nf));
		if (rc == 0 && nf > 0)
			rc = AF_EXIT_REFUSED;
	}
	dr_probe_free(&d->probe);
	free(d->acks);
	free(d);
	return rc;
}
