/* controld_handle, the loop thread's entry for every API request, driven
 * for every row of the verb table (controld/verbs.h) on libraft's
 * in-memory raft_fixture: three controld nodes with real LMDB stores, the
 * real handlers, consensus and auth (a tokens file with one token per
 * role); only the NNG transport is left out (replies are captured through
 * each job's reply hook, packed and unpacked as a client would read them).
 * For each row a caller with the role it needs gets the expected answer
 * and effect, and a caller without it is refused and changes nothing.
 * A row without a case here fails the test. */
#include "tests/lib/alloc_check.h"
#include "tests/lib/policy_fixture.h"
#include "common/alloc.h"
#include "common/hash.h"
#include "controld/api_int.h"
#include "controld/auth.h"
#include "proto/af.pb-c.h"
#include "proto/alloc.h"

#include <criterion/criterion.h>
#include <raft.h>
#include <raft/fixture.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_SERVERS 3
#define MAX_STEP_MS 30000

struct tnode {
	char dir[64];
	struct controld_node n;
};

static struct {
	struct raft_fixture f;
	bool f_open;
	struct af_cluster_cfg cfg;
	struct af_auth *auth;
	char tokens[64];
	struct tnode nodes[N_SERVERS];
	long fail_at; /* >= 0: handling fails that allocation and later ones */
} T;

/* A request in flight; the job first, so a reply finds its call. */
struct call {
	struct controld_job j;
	bool done;
	Af__Response *resp;
};

static const char *const role_tokens[AF_ROLE_COUNT] = {
	"tok-viewer", "tok-author", "tok-promoter", "tok-admin", "tok-routerd"};

static void capture(struct controld_job *j, Af__Response *resp)
{
	struct call *c = (struct call *)(void *)j;
	size_t len = af__response__get_packed_size(resp);
	uint8_t *buf;

	af_alloc_fail_after(-1, 0); /* the client's side does not fail */
	buf = af_malloc(len + 1);
	cr_assert_not_null(buf);
	cr_assert(!c->done, "answered twice");
	af__response__pack(resp, buf);
	c->resp = af__response__unpack(&af_pb_allocator, len, buf);
	cr_assert_not_null(c->resp);
	c->done = true;
	af_free(buf);
}

static void write_tokens(void)
{
	char hex[2 * AF_SHA256_LEN + 1];
	uint8_t d[AF_SHA256_LEN];
	FILE *f;
	int fd;

	snprintf(T.tokens, sizeof(T.tokens), "/tmp/af-test-verbs-XXXXXX");
	fd = mkstemp(T.tokens);
	cr_assert_geq(fd, 0);
	f = fdopen(fd, "w");
	cr_assert_not_null(f);
	for (int r = 0; r < AF_ROLE_COUNT; r++) {
		af_sha256(role_tokens[r], strlen(role_tokens[r]), d);
		sodium_bin2hex(hex, sizeof(hex), d, sizeof(d));
		fprintf(f, "%s %s p-%s\n", hex, af_role_name((enum af_role)r),
			af_role_name((enum af_role)r));
	}
	cr_assert_eq(fclose(f), 0);
}

static void cluster_up(void)
{
	struct af_store_opts o = {.cluster = "test", .nosync = true};
	struct raft_configuration conf;
	struct af_err err = {{0}};

	memset(&T, 0, sizeof(T));
	T.fail_at = -1;
	write_tokens();
	cr_assert_eq(af_auth_load(T.tokens, &T.auth, &err), 0, "%s", err.msg);
	snprintf(T.cfg.name, sizeof(T.cfg.name), "test");
	T.cfg.auth = true;
	T.cfg.n_nodes = N_SERVERS;
	T.cfg.fleet_forget_s = 3600;
	cr_assert_eq(raft_fixture_initialize(&T.f), 0);
	T.f_open = true;
	for (unsigned i = 0; i < N_SERVERS; i++) {
		struct tnode *t = &T.nodes[i];
		struct af_node_cfg *nc = &T.cfg.nodes[i];

		nc->id = i + 1;
		snprintf(nc->api, sizeof(nc->api), "tcp://127.0.0.1:%u", 1 + i);
		snprintf(t->dir, sizeof(t->dir), "/tmp/af-test-verbs-XXXXXX");
		cr_assert_not_null(mkdtemp(t->dir));
		cr_assert_eq(af_store_open(t->dir, &o, &t->n.store, &err), 0,
			     "%s", err.msg);
		cr_assert_eq(af_fsm_init(&t->n.fsm, t->n.store), 0);
		cr_assert_eq(raft_fixture_grow(&T.f, &t->n.fsm.raft_fsm), 0);
		t->n.cfg = &T.cfg;
		t->n.self = nc;
		t->n.auth = T.auth;
	}
	raft_configuration_init(&conf);
	cr_assert_eq(raft_fixture_configuration(&T.f, N_SERVERS, &conf), 0);
	cr_assert_eq(raft_fixture_bootstrap(&T.f, &conf), 0);
	raft_configuration_close(&conf);
	cr_assert_eq(raft_fixture_start(&T.f), 0);
	for (unsigned i = 0; i < N_SERVERS; i++) {
		struct controld_node *n = &T.nodes[i].n;

		af_consensus_attach(&n->cons, raft_fixture_get(&T.f, i),
				    &n->fsm);
		n->cons_started = true;
	}
}

static void cluster_down(void)
{
	char cmd[160];

	for (unsigned i = 0; i < N_SERVERS; i++)
		af_consensus_close(&T.nodes[i].n.cons, NULL, NULL);
	if (T.f_open)
		raft_fixture_close(&T.f);
	T.f_open = false;
	for (unsigned i = 0; i < N_SERVERS; i++) {
		af_store_close(T.nodes[i].n.store);
		snprintf(cmd, sizeof(cmd), "rm -rf %s", T.nodes[i].dir);
		cr_assert_eq(system(cmd), 0);
	}
	af_auth_free(T.auth);
	unlink(T.tokens);
}

static void setup(void)
{
	af_test_alloc_begin();
}

static void teardown(void)
{
	af_test_alloc_end();
}

TestSuite(verbs, .init = setup, .fini = teardown, .timeout = 120);

/* ------------------------------------------------------------ stepping */

static bool is_done(struct raft_fixture *f, void *arg)
{
	(void)f;
	return ((struct call *)arg)->done;
}

static bool has_ready_leader(struct raft_fixture *f, void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < N_SERVERS; i++) {
		struct af_consensus *c = &T.nodes[i].n.cons;

		if (raft_state(raft_fixture_get(f, i)) == RAFT_LEADER) {
			af_consensus_make_ready(c);
			if (af_consensus_ready(c))
				return true;
		}
	}
	return false;
}

static unsigned leader(void)
{
	cr_assert(raft_fixture_step_until(&T.f, has_ready_leader, NULL,
					  MAX_STEP_MS),
		  "no ready leader");
	for (unsigned i = 0; i < N_SERVERS; i++)
		if (raft_state(raft_fixture_get(&T.f, i)) == RAFT_LEADER)
			return i;
	cr_assert_fail("no leader");
	return 0;
}

static bool all_applied(struct raft_fixture *f, void *arg)
{
	uint64_t want = *(uint64_t *)arg;

	for (unsigned i = 0; i < N_SERVERS; i++)
		if (raft_last_applied(raft_fixture_get(f, i)) < want)
			return false;
	return true;
}

static void step_until_applied_everywhere(unsigned on)
{
	uint64_t want = raft_last_index(raft_fixture_get(&T.f, on));

	cr_assert(
		raft_fixture_step_until(&T.f, all_applied, &want, MAX_STEP_MS));
}

/* Sends req (with token) to node i as the API would: packed, unpacked,
 * prepared, handled; steps the cluster until the answer. The answer is
 * the caller's (af__response__free_unpacked). */
static Af__Response *ask(unsigned i, Af__Request *req, const char *token)
{
	struct call c;
	size_t len;
	uint8_t *buf;
	Af__Response *resp;

	req->token = (char *)token;
	len = af__request__get_packed_size(req);
	buf = af_malloc(len + 1);
	cr_assert_not_null(buf);
	af__request__pack(req, buf);
	memset(&c, 0, sizeof(c));
	c.j.node = &T.nodes[i].n;
	c.j.reply = capture;
	c.j.req = af__request__unpack(&af_pb_allocator, len, buf);
	af_free(buf);
	cr_assert_not_null(c.j.req);
	atomic_store(&c.j.node->stats.is_leader,
		     af_consensus_is_leader(&c.j.node->cons));
	if (T.fail_at >= 0)
		af_alloc_fail_after(T.fail_at, 1);
	controld_prepare(&c.j, false);
	controld_handle(&c.j);
	af_alloc_fail_after(-1, 0);
	cr_assert(raft_fixture_step_until(&T.f, is_done, &c, MAX_STEP_MS),
		  "no answer to body case %d", (int)req->body_case);
	controld_job_release(&c.j);
	af__request__free_unpacked(c.j.req, &af_pb_allocator);
	resp = c.resp;
	return resp;
}

static Af__Code code_of(const Af__Response *r)
{
	return r->status ? r->status->code : AF__CODE__OK;
}

#define assert_ok(r)                                                           \
	cr_assert(code_of(r) == AF__CODE__OK ||                                \
			  code_of(r) == AF__CODE__UNCHANGED,                   \
		  "code %d: %s", (int)code_of(r),                              \
		  (r)->status ? (r)->status->message : "")

/* ------------------------------------------------------------ requests */

static Af__Response *propose(unsigned i, Af__Command *cmd, const char *token)
{
	Af__Request req = AF__REQUEST__INIT;

	req.body_case = AF__REQUEST__BODY_PROPOSE;
	req.propose = cmd;
	return ask(i, &req, token);
}

static Af__Response *policy_apply(unsigned i, const char *token)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__PolicyApply pa = AF__POLICY_APPLY__INIT;

	pa.source.data = (uint8_t *)pf_example_policy;
	pa.source.len = strlen(pf_example_policy);
	pa.message = (char *)"first";
	cmd.op_case = AF__COMMAND__OP_POLICY_APPLY;
	cmd.policy_apply = &pa;
	return propose(i, &cmd, token);
}

/* Runs a write that must succeed, and waits until every node applied it. */
static void seed(unsigned i, Af__Response *r)
{
	assert_ok(r);
	af__response__free_unpacked(r, &af_pb_allocator);
	step_until_applied_everywhere(i);
}

static void seed_policy(unsigned i)
{
	seed(i, policy_apply(i, role_tokens[AF_ROLE_AUTHOR]));
}

static void seed_models(unsigned i)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__ModelApply ma = AF__MODEL_APPLY__INIT;

	ma.source.data = (uint8_t *)pf_example_models;
	ma.source.len = strlen(pf_example_models);
	cmd.op_case = AF__COMMAND__OP_MODEL_APPLY;
	cmd.model_apply = &ma;
	seed(i, propose(i, &cmd, role_tokens[AF_ROLE_AUTHOR]));
}

static void seed_budget(unsigned i)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__BudgetSet bs = AF__BUDGET_SET__INIT;

	bs.tenant = (char *)"acme";
	bs.hard_micro = 5000000;
	bs.period = (char *)"day";
	cmd.op_case = AF__COMMAND__OP_BUDGET_SET;
	cmd.budget_set = &bs;
	seed(i, propose(i, &cmd, role_tokens[AF_ROLE_AUTHOR]));
}

/* A routerd's quota lease, as its telemetry thread asks for one. */
static void seed_quota(unsigned i)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__QuotaLeaseRequest qr = AF__QUOTA_LEASE_REQUEST__INIT;
	Af__QuotaAsk a = AF__QUOTA_ASK__INIT, *ap = &a;

	a.quota = (char *)"team";
	a.tenant = (char *)"acme";
	a.limit = 10;
	a.want = 4;
	qr.routerd_id = (char *)"r1";
	qr.ttl_ms = 60000;
	qr.asks = &ap;
	qr.n_asks = 1;
	cmd.op_case = AF__COMMAND__OP_QUOTA_LEASE;
	cmd.quota_lease = &qr;
	seed(i, propose(i, &cmd, role_tokens[AF_ROLE_ROUTERD]));
}

static void check_quotas(const Af__Response *r, unsigned l)
{
	(void)l;
	cr_assert_eq(r->quota_status->n_leases, 1);
	cr_assert_str_eq(r->quota_status->leases[0]->routerd_id, "r1");
	cr_assert_eq(r->quota_status->leases[0]->amount, 4);
	cr_assert_eq(r->quota_status->leases[0]->limit, 10);
}

static void seed_fleet(unsigned i)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__FleetReport fr = AF__FLEET_REPORT__INIT;

	fr.routerd_id = (char *)"r1";
	fr.stable_revision = 1;
	cmd.op_case = AF__COMMAND__OP_FLEET_REPORT;
	cmd.fleet_report = &fr;
	seed(i, propose(i, &cmd, role_tokens[AF_ROLE_ROUTERD]));
}

static void seed_usage(unsigned i)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__UsageReport ur = AF__USAGE_REPORT__INIT;
	Af__UsageRow row = AF__USAGE_ROW__INIT, *rows[1] = {&row};
	Af__WorkflowRow wf = AF__WORKFLOW_ROW__INIT, *wfs[1] = {&wf};
	uint64_t hist[2] = {100, 1};

	row.revision = 1;
	row.tenant = (char *)"acme";
	row.class_name = (char *)"chat";
	row.model = (char *)"m1";
	row.count = 3;
	row.ok = 3;
	row.cost_nano_usd = 300;
	ur.routerd_id = (char *)"r1";
	ur.rows = rows;
	ur.n_rows = 1;
	wf.tenant = (char *)"acme";
	wf.class_name = (char *)"chat";
	wf.workflows = 2;
	wf.succeeded = wf.abandoned = 1;
	wf.inference_micro = 900;
	wf.waste_micro = 400;
	wf.success_hist = hist;
	wf.n_success_hist = 2;
	wf.success_min_micro = wf.success_max_micro = 500;
	ur.workflows = wfs;
	ur.n_workflows = 1;
	cmd.op_case = AF__COMMAND__OP_USAGE_REPORT;
	cmd.usage_report = &ur;
	seed(i, propose(i, &cmd, role_tokens[AF_ROLE_ROUTERD]));
}

static Af__Response *emergency_set(unsigned i, const char *token, bool freeze,
				   int64_t ttl_ms)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__EmergencySet es = AF__EMERGENCY_SET__INIT;
	Af__Override o = AF__OVERRIDE__INIT;

	o.tenant = (char *)"acme";
	o.effects = freeze ? AF_OV_FREEZE_TENANT : AF_OV_MAX_FANOUT;
	o.max_fanout = 2;
	o.reason = (char *)"storm";
	es.override = &o;
	es.ttl_ms = ttl_ms;
	cmd.op_case = AF__COMMAND__OP_EMERGENCY_SET;
	cmd.emergency_set = &es;
	return propose(i, &cmd, token);
}

static Af__Response *emergency_clear(unsigned i, const char *token,
				     const char *id)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__EmergencyClear ec = AF__EMERGENCY_CLEAR__INIT;

	ec.id = (char *)id;
	cmd.op_case = AF__COMMAND__OP_EMERGENCY_CLEAR;
	cmd.emergency_clear = &ec;
	return propose(i, &cmd, token);
}

static void seed_emergency(unsigned i)
{
	seed(i, emergency_set(i, role_tokens[AF_ROLE_PROMOTER], true, 600000));
}

/* A stable revision, then a shadow of the same policy under another name
 * (another hash) by an author. */
static void seed_shadow(unsigned i)
{
	Af__Command cmd = AF__COMMAND__INIT;
	Af__PolicyApply pa = AF__POLICY_APPLY__INIT;
	const char *at = strstr(pf_example_policy, "name: prod");
	char *src;

	cr_assert_not_null(at);
	seed_policy(i);
	cr_assert(asprintf(&src, "%.*sname: shadowed%s",
			   (int)(at - pf_example_policy), pf_example_policy,
			   at + strlen("name: prod")) > 0);
	pa.source.data = (uint8_t *)src;
	pa.source.len = strlen(src);
	pa.shadow = true;
	pa.shadow_sample_pct = 25;
	cmd.op_case = AF__COMMAND__OP_POLICY_APPLY;
	cmd.policy_apply = &pa;
	seed(i, propose(i, &cmd, role_tokens[AF_ROLE_AUTHOR]));
	free(src);
}

/* A request whose body is msg, in the oneof slot named field. */
#define ASK_BODY(l, tok, BODY, field, msg)                                     \
	do {                                                                   \
		Af__Request req_ = AF__REQUEST__INIT;                          \
		req_.body_case = AF__REQUEST__BODY_##BODY;                     \
		req_.field = (msg);                                            \
		return ask((l), &req_, (tok));                                 \
	} while (0)

/* A request of body case `body` with the body's message left empty, set
 * through protobuf-c's descriptor (the oneof field's number is the body
 * case). */
static Af__Response *ask_empty(unsigned l, const char *tok,
			       Af__Request__BodyCase body)
{
	const ProtobufCFieldDescriptor *f;
	Af__Request req = AF__REQUEST__INIT;
	Af__Response *r;
	void *msg;

	f = protobuf_c_message_descriptor_get_field(&af__request__descriptor,
						    (unsigned)body);
	cr_assert_not_null(f, "no field for body case %d", (int)body);
	cr_assert_eq(f->type, PROTOBUF_C_TYPE_MESSAGE);
	msg = af_calloc(1, ((const ProtobufCMessageDescriptor *)f->descriptor)
				   ->sizeof_message);
	cr_assert_not_null(msg);
	protobuf_c_message_init(f->descriptor, msg);
	memcpy((char *)&req + f->offset, &msg, sizeof(msg));
	req.body_case = body;
	r = ask(l, &req, tok);
	af_free(msg);
	return r;
}

/* ------------------------------------------------------------- the cases */

static void check_status(const Af__Response *r, unsigned l)
{
	cr_assert_eq(r->cluster_status->node->id, l + 1);
	cr_assert_str_eq(r->cluster_status->node->role, "leader");
	cr_assert_str_eq(r->cluster_status->node->cluster, "test");
}

static void check_members(const Af__Response *r, unsigned l)
{
	cr_assert_eq(r->member_list->n_members, N_SERVERS);
	cr_assert_eq(r->member_list->leader_id, l + 1);
}

static Af__Response *ask_propose(unsigned l, const char *tok)
{
	return policy_apply(l, tok);
}

/* The write applied on every node: revision 1 is every node's stable
 * head, with the hash the leader answered. */
static void check_propose(const Af__Response *r, unsigned l)
{
	cr_assert_eq(r->apply->revision, 1);
	step_until_applied_everywhere(l);
	for (unsigned i = 0; i < N_SERVERS; i++) {
		cr_assert_eq(T.nodes[i].n.fsm.heads.stable, 1, "node %u", i);
		cr_assert_str_eq(T.nodes[i].n.fsm.heads.stable_hash,
				 r->apply->hash);
	}
}

static void check_policy_get(const Af__Response *r, unsigned l)
{
	cr_assert_eq(r->policy_get->revision->revision, 1);
	cr_assert_str_eq(r->policy_get->revision->hash,
			 T.nodes[l].n.fsm.heads.stable_hash);
	cr_assert_eq(r->policy_get->source.len, strlen(pf_example_policy));
}

static void check_history(const Af__Response *r, unsigned l)
{
	(void)l;
	cr_assert_eq(r->policy_history->n_revisions, 1);
	cr_assert_str_eq(r->policy_history->revisions[0]->message, "first");
}

static void check_models(const Af__Response *r, unsigned l)
{
	(void)l;
	cr_assert_eq(r->model_list->registry_revision, 1);
	cr_assert_gt(r->model_list->compiled.len, 0);
}

static void check_audit(const Af__Response *r, unsigned l)
{
	(void)l;
	cr_assert_eq(r->audit->n_records, 1);
	cr_assert_str_eq(r->audit->records[0]->verb, "policy.apply");
	cr_assert_str_eq(r->audit->records[0]->principal, "p-author");
}

/* The snapshot restores into a new store as the same state. */
static void check_snapshot(const Af__Response *r, unsigned l)
{
	struct af_store_opts o = {.cluster = "test", .nosync = true};
	uint8_t want[32], got[32];
	struct af_store *s;
	struct af_txn *t;
	uint64_t applied;
	char dir[64], cmd[96];

	cr_assert_eq(af_store_read_begin(T.nodes[l].n.store, &t, NULL), 0);
	applied = af_txn_applied(t);
	af_store_read_end(t);
	cr_assert_eq(r->snapshot->index, applied);
	cr_assert_gt(applied, 0);
	snprintf(dir, sizeof(dir), "/tmp/af-test-verbs-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(af_store_open(dir, &o, &s, NULL), 0);
	cr_assert_eq(af_store_restore(s, r->snapshot->data.data,
				      r->snapshot->data.len, NULL),
		     0);
	cr_assert_eq(af_store_state_hash(s, got, NULL), 0);
	cr_assert_eq(af_store_state_hash(T.nodes[l].n.store, want, NULL), 0);
	cr_assert_eq(memcmp(want, got, sizeof(want)), 0);
	af_store_close(s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

static Af__Response *ask_transfer(unsigned l, const char *tok)
{
	Af__TransferLeaderReq m = AF__TRANSFER_LEADER_REQ__INIT;

	m.to = (l + 1) % N_SERVERS + 1;
	ASK_BODY(l, tok, TRANSFER_LEADER, transfer_leader, &m);
}

static void check_transfer(const Af__Response *r, unsigned l)
{
	(void)r;
	cr_assert_eq(leader(), (l + 1) % N_SERVERS, "leadership moved");
}

static Af__Response *ask_membership(unsigned l, const char *tok)
{
	Af__MembershipReq m = AF__MEMBERSHIP_REQ__INIT;

	m.remove = true;
	m.id = (l + 1) % N_SERVERS + 1;
	ASK_BODY(l, tok, MEMBERSHIP, membership, &m);
}

static void check_membership(const Af__Response *r, unsigned l)
{
	struct af_consensus_member m[AF_MAX_NODES];
	unsigned n;

	(void)r;
	n = af_consensus_members(&T.nodes[l].n.cons, m, AF_MAX_NODES);
	cr_assert_eq(n, N_SERVERS - 1);
	for (unsigned i = 0; i < n; i++)
		cr_assert_neq(m[i].id, (l + 1) % N_SERVERS + 1, "removed");
}

static Af__Response *ask_sync(unsigned l, const char *tok)
{
	Af__SyncReq m = AF__SYNC_REQ__INIT;

	m.routerd_id = (char *)"r1";
	ASK_BODY(l, tok, SYNC, sync, &m);
}

/* What a new routerd pulls: the stable bundle, the registry, budgets,
 * at the index hints announce. */
static void check_sync(const Af__Response *r, unsigned l)
{
	const struct af_fsm_heads *h = &T.nodes[l].n.fsm.heads;

	cr_assert_eq(r->sync->stable->revision, 1);
	cr_assert_str_eq(r->sync->stable->hash, h->stable_hash);
	cr_assert_gt(r->sync->stable->compiled.len, 0);
	cr_assert_eq(r->sync->registry_revision, h->registry_revision);
	cr_assert_gt(r->sync->registry.len, 0);
	cr_assert_eq(r->sync->distribution_index, h->distribution_index);
}

static void check_fleet(const Af__Response *r, unsigned l)
{
	(void)l;
	cr_assert_eq(r->fleet_status->n_entries, 1);
	cr_assert_str_eq(r->fleet_status->entries[0]->record->last->routerd_id,
			 "r1");
}

static void check_canary(const Af__Response *r, unsigned l)
{
	(void)l;
	cr_assert_eq(r->canary_status->rollout->stable_revision, 1);
	cr_assert_eq(r->canary_status->rollout->canary_revision, 0);
}

static void check_budgets(const Af__Response *r, unsigned l)
{
	(void)l;
	cr_assert_eq(r->budget_list->n_budgets, 1);
	cr_assert_str_eq(r->budget_list->budgets[0]->budget->tenant, "acme");
	cr_assert_eq(r->budget_list->budgets[0]->budget->hard_micro, 5000000);
}

static void check_showback(const Af__Response *r, unsigned l)
{
	(void)l;
	cr_assert_eq(r->showback->n_rows, 1);
	cr_assert_str_eq(r->showback->rows[0]->key, "acme");
	cr_assert_eq(r->showback->rows[0]->cost_nano_usd, 300);
}

/* The empty request: one group of every workflow row. */
static void check_workflows(const Af__Response *r, unsigned l)
{
	const Af__WorkflowRow *t;

	(void)l;
	cr_assert_eq(r->workflow_report->n_rows, 1);
	t = r->workflow_report->rows[0]->totals;
	cr_assert_eq(t->workflows, 2);
	cr_assert_eq(t->succeeded, 1);
	cr_assert_eq(t->abandoned, 1);
	cr_assert_eq(t->inference_micro, 900);
	cr_assert_eq(t->waste_micro, 400);
	cr_assert_eq(t->n_success_hist, 2);
	cr_assert_eq(t->success_hist[0], 100);
	cr_assert_eq(t->success_min_micro, 500);
}

/* The usage seeded is of today: no complete day judged, no anomaly. */
static void check_anomalies(const Af__Response *r, unsigned l)
{
	(void)l;
	cr_assert_eq(r->anomalies->n_rows, 0);
	cr_assert_gt(r->anomalies->day_ms, 0);
}

/* This cluster file has no backup: section: an empty list that says so
 * (tests/cluster/backup_schedule.sh lists real backups). */
static void check_backups(const Af__Response *r, unsigned l)
{
	(void)l;
	cr_assert_str_eq(r->backup_list->dir, "");
	cr_assert_eq(r->backup_list->n_files, 0);
	cr_assert_eq(r->backup_list->last_success_ms, 0);
}

/* The override in the list and in every node's heads (what hints carry),
 * set by the promoter's principal. */
static void check_emergency(const Af__Response *r, unsigned l)
{
	const Af__OverrideSet *s = r->emergency_list->set;

	cr_assert_eq(s->n_overrides, 1);
	cr_assert_str_eq(s->overrides[0]->principal, "p-promoter");
	cr_assert_str_eq(s->overrides[0]->reason, "storm");
	cr_assert_eq(s->overrides[0]->effects, AF_OV_FREEZE_TENANT);
	for (unsigned i = 0; i < N_SERVERS; i++) {
		cr_assert_eq(T.nodes[i].n.fsm.heads.overrides.n, 1, "node %u",
			     i);
		cr_assert_str_eq(T.nodes[i].n.fsm.heads.overrides.ov[0].id,
				 s->overrides[0]->id);
		cr_assert_eq(T.nodes[i].n.fsm.heads.overrides.version,
			     s->version);
	}
	(void)l;
}

/* The shadow as started, on every node's heads (the expiry timer's). */
static void check_shadow(const Af__Response *r, unsigned l)
{
	const Af__Shadow *sh = r->shadow_status->shadow;

	(void)l;
	cr_assert_not_null(sh);
	cr_assert_str_eq(sh->state, "running");
	cr_assert_eq(sh->revision, 2);
	cr_assert_eq(sh->sample_pct, 25);
	cr_assert_str_eq(sh->author, "p-author");
	for (unsigned i = 0; i < N_SERVERS; i++)
		cr_assert_eq(T.nodes[i].n.fsm.heads.shadow, 2, "node %u", i);
}

/* A body case this build does not know (a newer client's). */
static Af__Response *ask_other(unsigned l, const char *tok)
{
	Af__Request req = AF__REQUEST__INIT;

	return ask(l, &req, tok);
}

static void check_other(const Af__Response *r, unsigned l)
{
	(void)l;
	cr_assert_eq(code_of(r), AF__CODE__INVALID);
	cr_assert_str_eq(r->status->message, "unknown request");
}

static void seed_all(unsigned l)
{
	seed_policy(l);
	seed_models(l);
	seed_budget(l);
	seed_fleet(l);
	seed_usage(l);
}

static const struct vcase {
	Af__Request__BodyCase body;
	enum af_role right;	     /* a role the row's permission allows */
	Af__Response__BodyCase want; /* the answer's body case */
	void (*seed)(unsigned leader);
	/* NULL: the body's empty message */
	Af__Response *(*ask)(unsigned leader, const char *token);
	void (*check)(const Af__Response *r, unsigned leader); /* effect */
} cases[] = {
#define CASE(body, role, want, seed, ask, check)                               \
	{                                                                      \
		AF__REQUEST__BODY_##body, AF_ROLE_##role,                      \
			AF__RESPONSE__BODY_##want, seed, ask, check            \
	}
	CASE(CLUSTER_STATUS, VIEWER, CLUSTER_STATUS, NULL, NULL, check_status),
	CASE(MEMBER_LIST, VIEWER, MEMBER_LIST, NULL, NULL, check_members),
	CASE(PROPOSE, AUTHOR, APPLY, NULL, ask_propose, check_propose),
	CASE(POLICY_GET, VIEWER, POLICY_GET, seed_policy, NULL,
	     check_policy_get),
	CASE(POLICY_HISTORY, VIEWER, POLICY_HISTORY, seed_policy, NULL,
	     check_history),
	CASE(MODEL_LIST, VIEWER, MODEL_LIST, seed_models, NULL, check_models),
	CASE(AUDIT, VIEWER, AUDIT, seed_policy, NULL, check_audit),
	CASE(SNAPSHOT, ADMIN, SNAPSHOT, seed_all, NULL, check_snapshot),
	CASE(TRANSFER_LEADER, ADMIN, _NOT_SET, NULL, ask_transfer,
	     check_transfer),
	CASE(MEMBERSHIP, ADMIN, _NOT_SET, NULL, ask_membership,
	     check_membership),
	CASE(SYNC, ROUTERD, SYNC, seed_all, ask_sync, check_sync),
	CASE(FLEET_STATUS, VIEWER, FLEET_STATUS, seed_fleet, NULL, check_fleet),
	CASE(CANARY_STATUS, VIEWER, CANARY_STATUS, seed_policy, NULL,
	     check_canary),
	CASE(BUDGET_LIST, VIEWER, BUDGET_LIST, seed_budget, NULL,
	     check_budgets),
	CASE(SHOWBACK, VIEWER, SHOWBACK, seed_usage, NULL, check_showback),
	CASE(WORKFLOW_REPORT, VIEWER, WORKFLOW_REPORT, seed_usage, NULL,
	     check_workflows),
	CASE(ANOMALIES, VIEWER, ANOMALIES, seed_usage, NULL, check_anomalies),
	CASE(QUOTA_STATUS, VIEWER, QUOTA_STATUS, seed_quota, NULL,
	     check_quotas),
	CASE(BACKUP_LIST, VIEWER, BACKUP_LIST, NULL, NULL, check_backups),
	CASE(EMERGENCY_LIST, VIEWER, EMERGENCY_LIST, seed_emergency, NULL,
	     check_emergency),
	CASE(SHADOW_STATUS, VIEWER, SHADOW_STATUS, seed_shadow, NULL,
	     check_shadow),
	CASE(_NOT_SET, ADMIN, _NOT_SET, NULL, ask_other, check_other),
#undef CASE
};

static const struct vcase *case_of(Af__Request__BodyCase body)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (cases[i].body == body)
			return &cases[i];
	return NULL;
}

/* A role the row's permission refuses. */
static enum af_role wrong_role(const char *need)
{
	if (need != NULL && strcmp(need, "read") == 0)
		return AF_ROLE_ROUTERD;
	if (need != NULL && strcmp(need, "routerd") == 0)
		return AF_ROLE_AUTHOR;
	return AF_ROLE_VIEWER;
}

static void run_row(const struct controld_verb *v, const struct vcase *c)
{
	const char *need = v->need;
	uint64_t before;
	Af__Response *r;
	unsigned l;

	cluster_up();
	l = leader();
	if (c->seed)
		c->seed(l);
	before = raft_last_index(raft_fixture_get(&T.f, l));
	r = c->ask ? c->ask(l, role_tokens[wrong_role(need)])
		   : ask_empty(l, role_tokens[wrong_role(need)], c->body);
	cr_assert_eq(code_of(r), AF__CODE__PERMISSION_DENIED,
		     "verb %s: role %s got code %d", v->name,
		     af_role_name(wrong_role(need)), (int)code_of(r));
	cr_assert_eq(r->body_case, AF__RESPONSE__BODY__NOT_SET);
	af__response__free_unpacked(r, &af_pb_allocator);
	cr_assert_eq(raft_last_index(raft_fixture_get(&T.f, l)), before,
		     "verb %s: a refused request wrote", v->name);
	r = c->ask ? c->ask(l, role_tokens[c->right])
		   : ask_empty(l, role_tokens[c->right], c->body);
	if (c->body != AF__REQUEST__BODY__NOT_SET)
		assert_ok(r);
	cr_assert_eq(r->body_case, c->want, "verb %s: answer body %d", v->name,
		     (int)r->body_case);
	c->check(r, l);
	af__response__free_unpacked(r, &af_pb_allocator);
	/* The verb's counter saw both. */
	cr_assert_geq(
		atomic_load(&T.nodes[l].n.stats.api[v - controld_verb_at(0)]
						   [RES_REFUSED]),
		1);
	cluster_down();
}

Test(verbs, every_row_of_the_verb_table)
{
	size_t n = controld_verb_count();

	cr_assert_gt(n, 1);
	for (size_t i = 0; i < n; i++) {
		const struct controld_verb *v = controld_verb_at(i);
		const struct vcase *c = case_of(v->body);

		cr_assert_not_null(c,
				   "verb row %zu (%s, body case %d) has no "
				   "case in %s: add one",
				   i, v->name, (int)v->body, __FILE__);
		run_row(v, c);
	}
	/* And no case for a row that is gone. */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_assert_eq(controld_verb_of(cases[i].body)->body,
			     cases[i].body, "case for body %d has no row",
			     (int)cases[i].body);
}

/* The Command ops PROPOSE carries need their own roles (auth.c): a
 * routerd may report usage but not apply a policy, an author the
 * reverse. */
Test(verbs, propose_checks_the_role_of_each_op)
{
	Af__Response *r;
	unsigned l;

	cluster_up();
	l = leader();
	r = policy_apply(l, role_tokens[AF_ROLE_ROUTERD]);
	cr_assert_eq(code_of(r), AF__CODE__PERMISSION_DENIED);
	af__response__free_unpacked(r, &af_pb_allocator);
	r = policy_apply(l, role_tokens[AF_ROLE_PROMOTER]);
	cr_assert_eq(code_of(r), AF__CODE__PERMISSION_DENIED);
	af__response__free_unpacked(r, &af_pb_allocator);
	seed_usage(l);
	seed_fleet(l);
	cr_assert_eq(T.nodes[l].n.fsm.heads.stable, 0, "nothing applied");
	cluster_down();
}

/* Emergency writes: an author may not set; a promoter sets and clears,
 * but clearing a freeze needs an admin; bad input is refused by the
 * leader with nothing written; the distribution index moves, so routerds
 * hear of it. */
Test(verbs, emergency_roles_and_freeze)
{
	const struct af_fsm_heads *h;
	Af__Response *r;
	char fan[32], frz[32];
	uint64_t dist;
	unsigned l;

	cluster_up();
	l = leader();
	h = &T.nodes[l].n.fsm.heads;
	r = emergency_set(l, role_tokens[AF_ROLE_AUTHOR], false, 60000);
	cr_assert_eq(code_of(r), AF__CODE__PERMISSION_DENIED);
	af__response__free_unpacked(r, &af_pb_allocator);
	dist = h->distribution_index;
	r = emergency_set(l, role_tokens[AF_ROLE_PROMOTER], false, 60000);
	assert_ok(r);
	snprintf(fan, sizeof(fan), "ov-%llu",
		 (unsigned long long)r->apply->index);
	af__response__free_unpacked(r, &af_pb_allocator);
	step_until_applied_everywhere(l);
	cr_assert_gt(h->distribution_index, dist);
	r = emergency_set(l, role_tokens[AF_ROLE_PROMOTER], true, 60000);
	assert_ok(r);
	snprintf(frz, sizeof(frz), "ov-%llu",
		 (unsigned long long)r->apply->index);
	af__response__free_unpacked(r, &af_pb_allocator);
	step_until_applied_everywhere(l);
	cr_assert_eq(h->overrides.n, 2);
	/* A TTL out of bounds: refused, nothing added. */
	r = emergency_set(l, role_tokens[AF_ROLE_PROMOTER], false, 10);
	cr_assert_eq(code_of(r), AF__CODE__INVALID);
	af__response__free_unpacked(r, &af_pb_allocator);
	r = emergency_clear(l, role_tokens[AF_ROLE_PROMOTER], frz);
	cr_assert_eq(code_of(r), AF__CODE__PERMISSION_DENIED);
	cr_assert(strstr(r->status->message, "admin") != NULL);
	af__response__free_unpacked(r, &af_pb_allocator);
	r = emergency_clear(l, role_tokens[AF_ROLE_PROMOTER], fan);
	assert_ok(r);
	af__response__free_unpacked(r, &af_pb_allocator);
	r = emergency_clear(l, role_tokens[AF_ROLE_ADMIN], frz);
	assert_ok(r);
	af__response__free_unpacked(r, &af_pb_allocator);
	step_until_applied_everywhere(l);
	for (unsigned i = 0; i < N_SERVERS; i++)
		cr_assert_eq(T.nodes[i].n.fsm.heads.overrides.n, 0, "node %u",
			     i);
	cluster_down();
}

/* Read handlers unpack much (bundles, the registry, budgets): with the
 * N-th allocation and all later ones failing, for every N until the read
 * succeeds, each answer is a success or an error that says it ran out of
 * memory; nothing crashes and nothing the project allocates stays
 * allocated (af_alloc_outstanding; the sanitizer build's LeakSanitizer
 * sees the rest, protobuf-c's and LMDB's). */
Test(verbs, reads_fail_cleanly_at_every_allocation)
{
	static const Af__Request__BodyCase bodies[] = {
		AF__REQUEST__BODY_SYNC, AF__REQUEST__BODY_BUDGET_LIST,
		AF__REQUEST__BODY_POLICY_HISTORY, AF__REQUEST__BODY_SHOWBACK};
	Af__Response *r;
	unsigned l;

	cluster_up();
	l = leader();
	seed_all(l);
	for (size_t b = 0; b < sizeof(bodies) / sizeof(bodies[0]); b++) {
		const struct vcase *c = case_of(bodies[b]);
		const char *tok = role_tokens[c->right];
		long outstanding;
		bool ok = false;

		/* Once without failures: lazily made things exist after. */
		r = c->ask ? c->ask(l, tok) : ask_empty(l, tok, c->body);
		assert_ok(r);
		af__response__free_unpacked(r, &af_pb_allocator);
		for (long n = 0; !ok; n++) {
			cr_assert_lt(n, 100000, "never succeeds");
			outstanding = af_alloc_outstanding();
			T.fail_at = n;
			r = c->ask ? c->ask(l, tok)
				   : ask_empty(l, tok, c->body);
			T.fail_at = -1;
			ok = code_of(r) == AF__CODE__OK;
			if (ok)
				cr_assert_eq(r->body_case, c->want);
			if (!ok)
				cr_assert(strstr(r->status->message,
						 "memory") != NULL,
					  "body %d, allocation %ld: code %d "
					  "\"%s\"",
					  (int)c->body, n, (int)code_of(r),
					  r->status->message);
			af__response__free_unpacked(r, &af_pb_allocator);
			cr_assert_eq(af_alloc_outstanding(), outstanding,
				     "body %d, allocation %ld leaked",
				     (int)c->body, n);
		}
	}
	cluster_down();
}
