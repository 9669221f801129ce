/* The only caller of libraft: see consensus.h. */
#include "controld/consensus.h"
#include "controld/consensus_int.h"
#include "common/alloc.h"

#include "common/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum wait_kind { WAIT_PROPOSE, WAIT_BARRIER };

struct af_consensus_wait {
	struct af_consensus_wait *next;
	enum wait_kind kind;
	struct af_consensus *c;
	void *buf; /* encoded entry (raft_malloc), for proposals */
	size_t len;
	af_consensus_cb cb;
	void *arg;
	union {
		struct raft_apply apply;
		struct raft_barrier barrier;
		struct raft_transfer transfer;
		struct raft_change change;
	} req;
	uint64_t term; /* term the barrier was issued in */
	uint64_t id;   /* membership target */
	char addr[AF_ADDR_MAX];
};

static int translate(int rv)
{
	switch (rv) {
	case 0:
		return 0;
	case RAFT_NOTLEADER:
		return AF_ENOTLEADER;
	case RAFT_NOMEM:
		return AF_ENOMEM;
	case RAFT_LEADERSHIPLOST:
	case RAFT_SHUTDOWN:
	case RAFT_NOCONNECTION:
	case RAFT_CANCELED:
		return AF_EUNAVAIL;
	case RAFT_TOOBIG:
		return AF_ETOOBIG;
	case RAFT_CORRUPT:
		return AF_ECORRUPT;
	case RAFT_BADID:
	case RAFT_DUPLICATEID:
	case RAFT_DUPLICATEADDRESS:
	case RAFT_BADROLE:
	case RAFT_NOTFOUND:
		return AF_EINVAL;
	case RAFT_CANTCHANGE:
		return AF_ECONFLICT;
	default:
		return AF_EIO;
	}
}

static struct af_consensus_wait *wait_new(struct af_consensus *c,
					  enum wait_kind kind,
					  af_consensus_cb cb, void *arg)
{
	struct af_consensus_wait *w = af_calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->kind = kind;
	w->c = c;
	w->cb = cb;
	w->arg = arg;
	return w;
}

static void wait_free(struct af_consensus_wait *w)
{
	if (w->buf != NULL)
		raft_free(w->buf);
	af_free(w);
}

/* On the leader only: a request record for a leader-side operation. */
static int leader_wait(struct af_consensus *c, af_consensus_cb cb, void *arg,
		       struct af_consensus_wait **ret)
{
	if (!af_consensus_is_leader(c))
		return AF_ENOTLEADER;
	*ret = wait_new(c, WAIT_BARRIER, cb, arg);
	return *ret ? 0 : AF_ENOMEM;
}

void af_consensus_attach(struct af_consensus *c, struct raft *r,
			 struct af_fsm *fsm)
{
	memset(c, 0, sizeof(*c));
	c->raft = r;
	c->fsm = fsm;
	fsm->raft = r;
}

bool af_consensus_is_leader(struct af_consensus *c)
{
	return raft_state(c->raft) == RAFT_LEADER;
}

uint64_t af_consensus_leader(struct af_consensus *c)
{
	raft_id id = 0;
	const char *addr = NULL;

	raft_leader(c->raft, &id, &addr);
	return id;
}

const char *af_consensus_role(struct af_consensus *c)
{
	switch (raft_state(c->raft)) {
	case RAFT_LEADER:
		return "leader";
	case RAFT_FOLLOWER:
		return "follower";
	case RAFT_CANDIDATE:
		return "candidate";
	default:
		return "unavailable";
	}
}

uint64_t af_consensus_term(struct af_consensus *c)
{
	return c->raft->current_term;
}

uint64_t af_consensus_commit_index(struct af_consensus *c)
{
	return c->raft->commit_index;
}

uint64_t af_consensus_last_index(struct af_consensus *c)
{
	return raft_last_index(c->raft);
}

uint64_t af_consensus_applied_index(struct af_consensus *c)
{
	return raft_last_applied(c->raft);
}

bool af_consensus_ready(struct af_consensus *c)
{
	return af_consensus_is_leader(c) &&
	       c->ready_term == c->raft->current_term;
}

unsigned af_consensus_voters(struct af_consensus *c, uint64_t *ret,
			     unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < c->raft->configuration.n && n < max; i++)
		if (c->raft->configuration.servers[i].role == RAFT_VOTER)
			ret[n++] = c->raft->configuration.servers[i].id;
	return n;
}

unsigned af_consensus_members(struct af_consensus *c,
			      struct af_consensus_member *ret, unsigned max)
{
	const struct raft_configuration *cf = &c->raft->configuration;
	unsigned n = 0;

	for (unsigned i = 0; i < cf->n && n < max; i++, n++) {
		ret[n].id = cf->servers[i].id;
		ret[n].raft = cf->servers[i].address;
		ret[n].role = cf->servers[i].role == RAFT_VOTER	    ? "voter"
			      : cf->servers[i].role == RAFT_STANDBY ? "standby"
								    : "spare";
	}
	return n;
}

/* ---------------------------------------------------------- proposals */

static void apply_cb(struct raft_apply *req, int status, void *result)
{
	struct af_consensus_wait *w = req->data;

	w->buf = NULL; /* raft owned the entry since raft_apply() */
	atomic_fetch_sub(&w->c->proposals_pending, 1);
	if (status != 0)
		atomic_fetch_add(&w->c->proposals_failed, 1);
	w->cb(w->arg, translate(status),
	      status == 0 ? (const struct af_fsm_result *)result : NULL);
	wait_free(w);
}

static int submit(struct af_consensus_wait *w)
{
	struct raft_buffer b = {.base = w->buf, .len = w->len};
	int rv;

	w->req.apply.data = w;
	rv = raft_apply(w->c->raft, &w->req.apply, &b, 1, apply_cb);
	return translate(rv);
}

static void flush_waiting(struct af_consensus *c, int status)
{
	struct af_consensus_wait *w = c->waiting, *next;

	c->waiting = NULL;
	for (; w != NULL; w = next) {
		int rc = status;

		next = w->next;
		if (rc == 0 && (rc = submit(w)) == 0)
			continue;
		atomic_fetch_sub(&c->proposals_pending, 1);
		atomic_fetch_add(&c->proposals_failed, 1);
		w->cb(w->arg, rc, NULL);
		wait_free(w);
	}
}

static void barrier_cb(struct raft_barrier *req, int status)
{
	struct af_consensus_wait *w = req->data;
	struct af_consensus *c = w->c;
	int rc = translate(status);

	if (w->kind == WAIT_PROPOSE) {
		/* The readiness barrier of a new leader. */
		c->barrier_inflight = false;
		if (rc == 0 && w->term == c->raft->current_term &&
		    af_consensus_is_leader(c))
			c->ready_term = w->term;
		else if (rc == 0)
			rc = AF_ENOTLEADER;
		af_free(w);
		if (!c->closing)
			flush_waiting(c, rc);
		return;
	}
	if (rc == 0 && af_consensus_is_leader(c) &&
	    w->term == c->raft->current_term)
		c->ready_term = w->term;
	w->cb(w->arg, rc, NULL);
	wait_free(w);
}

static int issue_barrier(struct af_consensus *c, struct af_consensus_wait *w)
{
	w->term = c->raft->current_term;
	w->req.barrier.data = w;
	return translate(raft_barrier(c->raft, &w->req.barrier, barrier_cb));
}

int af_consensus_make_ready(struct af_consensus *c)
{
	struct af_consensus_wait *b;
	int rc;

	if (!af_consensus_is_leader(c) || af_consensus_ready(c) ||
	    c->barrier_inflight || c->closing)
		return 0;
	b = wait_new(c, WAIT_PROPOSE, NULL, NULL);
	if (b == NULL)
		return AF_ENOMEM;
	rc = issue_barrier(c, b);
	if (rc != 0) {
		af_free(b);
		return rc;
	}
	c->barrier_inflight = true;
	return 0;
}

int af_consensus_propose(struct af_consensus *c, const void *cmd,
			 af_consensus_cb cb, void *arg)
{
	struct af_consensus_wait *w;
	int rc;

	if (!af_consensus_is_leader(c))
		return AF_ENOTLEADER;
	w = wait_new(c, WAIT_PROPOSE, cb, arg);
	if (w == NULL)
		return AF_ENOMEM;
	rc = af_fsm_encode_entry(cmd, &w->buf, &w->len);
	if (rc != 0)
		goto out_free;
	if (af_consensus_ready(c)) {
		rc = submit(w);
		if (rc != 0)
			goto out_free;
		atomic_fetch_add(&c->proposals_pending, 1);
		return 0;
	}
	if ((rc = af_consensus_make_ready(c)) != 0)
		goto out_free;
	atomic_fetch_add(&c->proposals_pending, 1);
	/* Keep arrival order: proposals apply in the order they came. */
	{
		struct af_consensus_wait **tail = &c->waiting;

		while (*tail != NULL)
			tail = &(*tail)->next;
		*tail = w;
	}
	return 0;
out_free:
	atomic_fetch_add(&c->proposals_failed, 1);
	wait_free(w);
	return rc;
}

int af_consensus_read_barrier(struct af_consensus *c, af_consensus_cb cb,
			      void *arg)
{
	struct af_consensus_wait *w;
	int rc;

	if ((rc = leader_wait(c, cb, arg, &w)) != 0)
		return rc;
	rc = issue_barrier(c, w);
	if (rc != 0)
		wait_free(w);
	return rc;
}

/* --------------------------------------------------------- membership */

uint64_t af_consensus_best_voter(struct af_consensus *c)
{
	const struct raft_configuration *conf = &c->raft->configuration;
	uint64_t best = 0, best_match = 0;

	if (!af_consensus_is_leader(c) ||
	    c->raft->leader_state.progress == NULL)
		return 0;
	for (unsigned i = 0; i < conf->n; i++) {
		uint64_t match = c->raft->leader_state.progress[i].match_index;

		if (conf->servers[i].id == c->raft->id ||
		    conf->servers[i].role != RAFT_VOTER ||
		    !af_consensus_peer_connected(c, conf->servers[i].id))
			continue;
		if (best == 0 || match > best_match) {
			best = conf->servers[i].id;
			best_match = match;
		}
	}
	return best;
}

static void transfer_cb(struct raft_transfer *req)
{
	struct af_consensus_wait *w = req->data;
	uint64_t leader = af_consensus_leader(w->c);

	w->cb(w->arg,
	      leader != 0 && (w->id == 0 || leader == w->id) &&
			      !af_consensus_is_leader(w->c)
		      ? 0
		      : AF_EUNAVAIL,
	      NULL);
	wait_free(w);
}

int af_consensus_transfer(struct af_consensus *c, uint64_t to,
			  af_consensus_cb cb, void *arg)
{
	struct af_consensus_wait *w;
	int rv, rc;

	if ((rc = leader_wait(c, cb, arg, &w)) != 0)
		return rc;
	w->id = to;
	w->req.transfer.data = w;
	rv = raft_transfer(c->raft, &w->req.transfer, to, transfer_cb);
	if (rv != 0) {
		wait_free(w);
		return translate(rv);
	}
	return 0;
}

static void change_done_cb(struct raft_change *req, int status)
{
	struct af_consensus_wait *w = req->data;

	w->cb(w->arg, translate(status), NULL);
	wait_free(w);
}

static void add_cb(struct raft_change *req, int status)
{
	struct af_consensus_wait *w = req->data;
	int rv;

	if (status == 0) {
		/* Step two: promote the new spare to voter (it catches up
		 * first). */
		w->req.change.data = w;
		rv = raft_assign(w->c->raft, &w->req.change, w->id, RAFT_VOTER,
				 change_done_cb);
		if (rv == 0)
			return;
		status = rv;
	}
	w->cb(w->arg, translate(status), NULL);
	wait_free(w);
}

int af_consensus_add(struct af_consensus *c, uint64_t id, const char *addr,
		     af_consensus_cb cb, void *arg)
{
	struct af_consensus_wait *w;
	int rv, rc;

	if ((rc = leader_wait(c, cb, arg, &w)) != 0)
		return rc;
	w->id = id;
	snprintf(w->addr, sizeof(w->addr), "%s", addr);
	w->req.change.data = w;
	rv = raft_add(c->raft, &w->req.change, id, w->addr, add_cb);
	if (rv != 0) {
		wait_free(w);
		return translate(rv);
	}
	return 0;
}

int af_consensus_remove(struct af_consensus *c, uint64_t id, af_consensus_cb cb,
			void *arg)
{
	struct af_consensus_wait *w;
	int rv, rc;

	if ((rc = leader_wait(c, cb, arg, &w)) != 0)
		return rc;
	w->req.change.data = w;
	rv = raft_remove(c->raft, &w->req.change, id, change_done_cb);
	if (rv != 0) {
		wait_free(w);
		return translate(rv);
	}
	return 0;
}

/* ------------------------------------------------------------ raft_uv */

static int bootstrap(struct af_consensus *c, const struct af_cluster_cfg *cfg,
		     struct af_err *err)
{
	struct raft_configuration conf;
	int rv = 0;

	raft_configuration_init(&conf);
	for (unsigned i = 0; i < cfg->n_nodes && rv == 0; i++)
		rv = raft_configuration_add(&conf, cfg->nodes[i].id,
					    cfg->nodes[i].raft, RAFT_VOTER);
	if (rv == 0)
		rv = raft_bootstrap(c->raft, &conf);
	raft_configuration_close(&conf);
	if (rv == 0 || rv == RAFT_CANTBOOTSTRAP)
		return 0; /* CANTBOOTSTRAP: the normal restart case */
	return af_errf(err, translate(rv), "raft: bootstrap: %s",
		       raft_errmsg(c->raft));
}

/* ---------------------------------------------- follower replication */

void af_consensus_watch_followers(struct af_consensus *c, uint64_t now_ms,
				  uint64_t stall_ms)
{
	const struct raft_configuration *conf = &c->raft->configuration;
	uint64_t commit = c->raft->commit_index;
	unsigned n = conf->n;

	if (!af_consensus_is_leader(c) ||
	    c->raft->leader_state.progress == NULL)
		return;
	if (n > sizeof(c->peers) / sizeof(c->peers[0]))
		n = sizeof(c->peers) / sizeof(c->peers[0]);
	for (unsigned i = 0; i < n; i++) {
		uint64_t id = conf->servers[i].id;
		uint64_t match = c->raft->leader_state.progress[i].match_index;

		if (id == c->raft->id)
			continue;
		if (c->peers[i].id != id || match != c->peers[i].match ||
		    match >= commit) {
			if (c->peers[i].stalled && c->peers[i].id == id)
				log_info("event=follower_progress id=%llu "
					 "match=%llu commit=%llu msg=\"the "
					 "follower replicates again\"",
					 (unsigned long long)id,
					 (unsigned long long)match,
					 (unsigned long long)commit);
			c->peers[i].id = id;
			c->peers[i].match = match;
			c->peers[i].since_ms = now_ms;
			c->peers[i].stalled = false;
			continue;
		}
		if (c->peers[i].stalled ||
		    now_ms - c->peers[i].since_ms < stall_ms)
			continue;
		c->peers[i].stalled = true;
		log_warn("event=follower_stalled id=%llu match=%llu "
			 "commit=%llu behind=%llu for_ms=%llu msg=\"the "
			 "follower stores nothing new while the commit index "
			 "moves: see its log (disk full or failing, down, "
			 "or installing a snapshot)\"",
			 (unsigned long long)id, (unsigned long long)match,
			 (unsigned long long)commit,
			 (unsigned long long)(commit - match),
			 (unsigned long long)(now_ms - c->peers[i].since_ms));
	}
}

/* ------------------------------------------------------------ start */

/* raft_start() failed: say why. Only a log that libraft found corrupt is
 * "damaged"; anything else (no space, permissions, a port) names its own
 * cause, so nobody moves a good data dir aside. */
static int start_error(struct af_consensus *c, int rv, const char *dir,
		       struct af_err *err)
{
	const char *msg = raft_errmsg(c->raft);

	if (msg == NULL || msg[0] == '\0')
		msg = c->io.errmsg;
	if (msg[0] == '\0')
		msg = raft_strerror(rv);
	if (rv == RAFT_CORRUPT)
		return af_errf(err, AF_ECORRUPT,
			       "raft: refusing to start: the log in %s is "
			       "damaged: %s",
			       dir, msg);
	return af_errf(err, translate(rv), "raft: cannot start on %s: %s (%s)",
		       dir, msg, raft_strerror(rv));
}

int af_consensus_start_uv(struct af_consensus *c, uv_loop_t *loop,
			  const struct af_cluster_cfg *cfg, uint64_t id,
			  const char *dir, bool join, struct af_fsm *fsm,
			  struct af_err *err)
{
	const struct af_node_cfg *node = af_cluster_node(cfg, id);
	unsigned trailing;
	int rv;

	memset(c, 0, sizeof(*c));
	if (node == NULL)
		return af_errf(err, AF_ECONFIG, "no node %llu",
			       (unsigned long long)id);
	c->fsm = fsm;
	c->loop = loop;
	rv = raft_uv_tcp_init(&c->transport, loop);
	if (rv != 0)
		return af_errf(err, translate(rv), "raft: tcp transport: %s",
			       raft_strerror(rv));
	c->uv_listen = c->transport.listen;
	c->transport.listen = consensus_transport_listen;
	consensus_dns_wrap(c);
	if ((rv = consensus_dns_bind(c, node, err)) != 0) {
		raft_uv_tcp_close(&c->transport);
		return rv;
	}
	rv = raft_uv_init(&c->io, loop, dir, &c->transport);
	if (rv != 0) {
		af_errf(err, translate(rv), "raft: log in %s: %s", dir,
			c->io.errmsg);
		raft_uv_tcp_close(&c->transport);
		return translate(rv);
	}
	consensus_wrap_io(c);
	/* A damaged log must stop the node, not be silently truncated. */
	raft_uv_set_auto_recovery(&c->io, false);
	rv = raft_init(&c->raft_storage, &c->io, &fsm->raft_fsm, id,
		       node->raft);
	if (rv != 0) {
		af_errf(err, translate(rv), "raft: init: %s",
			raft_strerror(rv));
		raft_uv_close(&c->io);
		raft_uv_tcp_close(&c->transport);
		return translate(rv);
	}
	c->raft = &c->raft_storage;
	c->owns_raft = true;
	fsm->raft = c->raft;
	raft_set_heartbeat_timeout(c->raft, cfg->heartbeat_ms);
	raft_set_election_timeout(c->raft, cfg->election_timeout_ms);
	raft_set_snapshot_threshold(c->raft, cfg->snapshot_threshold);
	trailing = cfg->snapshot_threshold / 2;
	raft_set_snapshot_trailing(c->raft, trailing < 16 ? 16 : trailing);
	c->threshold = cfg->snapshot_threshold;
	c->trailing = trailing < 16 ? 16 : trailing;
	c->log_bytes_max = (uint64_t)cfg->snapshot_max_log_mb << 20;
	/* libraft 0.15 drops an InstallSnapshot that arrives while the
	 * follower takes its own snapshot, without an answer: the leader
	 * retries only after this timeout (libraft's default is 30 s). */
	raft_set_install_snapshot_timeout(c->raft,
					  cfg->install_snapshot_timeout_ms);
	raft_set_pre_vote(c->raft, true);
	if (!join && (rv = bootstrap(c, cfg, err)) != 0)
		return rv; /* caller closes */
	rv = raft_start(c->raft);
	if (rv != 0)
		return start_error(c, rv, dir, err);
	return 0;
}

struct close_ctx {
	struct af_consensus *c;
	void (*cb)(void *);
	void *arg;
};

static void raft_closed(struct raft *r)
{
	struct close_ctx *cc = r->data;
	struct af_consensus *c = cc->c;

	raft_uv_close(&c->io);
	raft_uv_tcp_close(&c->transport);
	if (cc->cb)
		cc->cb(cc->arg);
	af_free(cc);
}

void af_consensus_close(struct af_consensus *c, void (*cb)(void *), void *arg)
{
	struct close_ctx *cc;

	c->closing = true;
	consensus_unwatch_all(c);
	flush_waiting(c, AF_ESHUTDOWN);
	if (!c->owns_raft) {
		if (cb)
			cb(arg);
		return;
	}
	cc = af_calloc(1, sizeof(*cc));
	if (cc == NULL)
		abort();
	cc->c = c;
	cc->cb = cb;
	cc->arg = arg;
	c->raft->data = cc;
	raft_close(c->raft, raft_closed);
}
