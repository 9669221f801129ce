/* The only caller of libraft: see consensus.h. */
#include "controld/consensus.h"
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
		return 0;
	}
	if ((rc = af_consensus_make_ready(c)) != 0)
		goto out_free;
	/* Keep arrival order: proposals apply in the order they came. */
	{
		struct af_consensus_wait **tail = &c->waiting;

		while (*tail != NULL)
			tail = &(*tail)->next;
		*tail = w;
	}
	return 0;
out_free:
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

/* ------------------------------------------------- disk I/O failures */

static struct af_consensus *of_io(struct raft_io *io)
{
	return (struct af_consensus *)(void *)((char *)io -
					       offsetof(struct af_consensus,
							io));
}

static void io_failed(struct af_consensus *c, const char *op, int status)
{
	if (c->io_status != 0)
		return;
	c->io_status = status;
	snprintf(c->io_error, sizeof(c->io_error), "%s: %.256s (raft error %d)",
		 op, c->io.errmsg[0] != '\0' ? c->io.errmsg : "failed", status);
}

int af_consensus_io_error(struct af_consensus *c, const char **ret_msg)
{
	*ret_msg = c->io_error;
	return c->io_status;
}

struct io_append {
	struct raft_io_append inner;
	struct raft_io_append *outer;
	raft_io_append_cb cb;
	struct af_consensus *c;
};

static void append_cb(struct raft_io_append *req, int status)
{
	struct io_append *a = req->data;
	struct raft_io_append *outer = a->outer;
	raft_io_append_cb cb = a->cb;

	if (status != 0 && status != RAFT_CANCELED)
		io_failed(a->c, "append to the raft log", status);
	af_free(a);
	outer->cb = cb;
	cb(outer, status);
}

static int io_append(struct raft_io *io, struct raft_io_append *req,
		     const struct raft_entry entries[], unsigned n,
		     raft_io_append_cb cb)
{
	struct af_consensus *c = of_io(io);
	struct io_append *a = af_calloc(1, sizeof(*a));
	int rv;

	if (a == NULL)
		return RAFT_NOMEM;
	a->inner.data = a;
	a->outer = req;
	a->cb = cb;
	a->c = c;
	rv = c->uv_append(io, &a->inner, entries, n, append_cb);
	if (rv != 0) {
		af_free(a);
		if (rv != RAFT_NOMEM)
			io_failed(c, "append to the raft log", rv);
	}
	return rv;
}

struct io_snap {
	struct raft_io_snapshot_put inner;
	struct raft_io_snapshot_put *outer;
	raft_io_snapshot_put_cb cb;
	struct af_consensus *c;
};

static void snapshot_put_cb(struct raft_io_snapshot_put *req, int status)
{
	struct io_snap *a = req->data;
	struct raft_io_snapshot_put *outer = a->outer;
	raft_io_snapshot_put_cb cb = a->cb;

	if (status != 0 && status != RAFT_CANCELED)
		io_failed(a->c, "write a snapshot", status);
	af_free(a);
	outer->cb = cb;
	cb(outer, status);
}

static int io_snapshot_put(struct raft_io *io, unsigned trailing,
			   struct raft_io_snapshot_put *req,
			   const struct raft_snapshot *snapshot,
			   raft_io_snapshot_put_cb cb)
{
	struct af_consensus *c = of_io(io);
	struct io_snap *a = af_calloc(1, sizeof(*a));
	int rv;

	if (a == NULL)
		return RAFT_NOMEM;
	a->inner.data = a;
	a->outer = req;
	a->cb = cb;
	a->c = c;
	rv = c->uv_snapshot_put(io, trailing, &a->inner, snapshot,
				snapshot_put_cb);
	if (rv != 0) {
		af_free(a);
		if (rv != RAFT_NOMEM)
			io_failed(c, "write a snapshot", rv);
	}
	return rv;
}

static int io_set_term(struct raft_io *io, raft_term term)
{
	struct af_consensus *c = of_io(io);
	int rv = c->uv_set_term(io, term);

	if (rv != 0)
		io_failed(c, "store the term", rv);
	return rv;
}

static int io_set_vote(struct raft_io *io, raft_id server_id)
{
	struct af_consensus *c = of_io(io);
	int rv = c->uv_set_vote(io, server_id);

	if (rv != 0)
		io_failed(c, "store the vote", rv);
	return rv;
}

static int io_truncate(struct raft_io *io, raft_index index)
{
	struct af_consensus *c = of_io(io);
	int rv = c->uv_truncate(io, index);

	if (rv != 0)
		io_failed(c, "truncate the raft log", rv);
	return rv;
}

static void wrap_io(struct af_consensus *c)
{
	c->uv_append = c->io.append;
	c->uv_snapshot_put = c->io.snapshot_put;
	c->uv_set_term = c->io.set_term;
	c->uv_set_vote = c->io.set_vote;
	c->uv_truncate = c->io.truncate;
	c->io.append = io_append;
	c->io.snapshot_put = io_snapshot_put;
	c->io.set_term = io_set_term;
	c->io.set_vote = io_set_vote;
	c->io.truncate = io_truncate;
}

/* ------------------------------------------------- leader connection */

/* libraft 0.15 followers that still have a leader reject every (pre-)vote,
 * however long ago its last message came (src/recv_request_vote.c): after a
 * leader crash the election waits for the slower survivor's randomized
 * timer. A crashed leader's kernel closes its connections, so a follower
 * that sees the inbound connection of its current leader close expires its
 * own election timer: it campaigns (pre-vote first) at its next raft tick.
 * Only timing changes, never a vote rule: a leader that is in fact alive
 * (a connection closed for another reason) keeps its term, since the other
 * voters reject the pre-vote while they hear from it. */
struct af_peer_watch {
	uv_poll_t poll;
	struct af_peer_watch *next;
	struct af_consensus *c;
	uint64_t id;
	int fd; /* a dup of the stream's socket, watched for the peer's close */
	int orig_fd; /* raft_uv's own descriptor of that socket */
	ino_t ino;   /* the socket's inode: tells whether orig_fd is still it */
};

static void watch_closed(uv_handle_t *h)
{
	struct af_peer_watch *w = h->data;

	close(w->fd);
	af_free(w);
}

static void watch_unlink(struct af_peer_watch *w)
{
	struct af_peer_watch **p = &w->c->watches;

	while (*p != NULL && *p != w)
		p = &(*p)->next;
	if (*p == w)
		*p = w->next;
	uv_close((uv_handle_t *)&w->poll, watch_closed);
}

/* The election timer expires at the next raft tick. */
static void expire_timer(struct raft *r, raft_time now, unsigned timeout)
{
	if (now >= timeout)
		r->election_timer_start = now - timeout;
}

static void leader_gone(struct af_consensus *c, uint64_t id)
{
	struct raft *r = c->raft;
	raft_time now;

	if (c->closing || r->state != RAFT_FOLLOWER ||
	    r->follower_state.current_leader.id != id)
		return;
	now = c->io.time(&c->io);
	expire_timer(r, now, r->follower_state.randomized_election_timeout);
	c->gone_id = id;
	c->hurry_until = now + 2 * (uint64_t)r->election_timeout;
	c->leader_gone++;
	log_info("event=leader_gone leader=%llu msg=\"the leader's raft "
		 "connection closed: campaigning at the next tick\"",
		 (unsigned long long)id);
}

/* The survivor whose tick comes first asks for pre-votes while the other
 * still "has" the dead leader and refuses; libraft would retry only after a
 * whole randomized election timeout. Until a new leader is known (at most
 * two election timeouts after the old one went), a pre-vote candidate asks
 * again at every tick. A pre-vote changes no term and no vote, so asking
 * again is harmless; real elections keep libraft's randomized timers. */
void af_consensus_hurry(struct af_consensus *c)
{
	struct raft *r = c->raft;
	raft_time now;

	if (c->hurry_until == 0 || c->closing)
		return;
	now = c->io.time(&c->io);
	if (now >= c->hurry_until || r->state == RAFT_LEADER ||
	    r->state == RAFT_UNAVAILABLE ||
	    (r->state == RAFT_FOLLOWER &&
	     r->follower_state.current_leader.id != 0 &&
	     r->follower_state.current_leader.id != c->gone_id)) {
		c->hurry_until = 0;
		return;
	}
	if (r->state == RAFT_CANDIDATE && r->candidate_state.in_pre_vote)
		expire_timer(r, now,
			     r->candidate_state.randomized_election_timeout);
}

static void watch_cb(uv_poll_t *p, int status, int events)
{
	struct af_peer_watch *w = p->data;

	(void)status;
	(void)events;
	uv_poll_stop(p);
	leader_gone(w->c, w->id);
	watch_unlink(w);
}

static void watch_stream(struct af_consensus *c, uint64_t id,
			 struct uv_stream_s *stream)
{
	struct af_peer_watch *w;
	struct stat st;
	uv_os_fd_t fd;

	if (uv_fileno((uv_handle_t *)stream, &fd) != 0)
		return;
	w = af_calloc(1, sizeof(*w));
	if (w == NULL)
		return;
	w->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (w->fd < 0) {
		af_free(w);
		return;
	}
	w->c = c;
	w->id = id;
	w->orig_fd = fd;
	if (fstat(fd, &st) != 0 ||
	    uv_poll_init(c->loop, &w->poll, w->fd) != 0) {
		close(w->fd);
		af_free(w);
		return;
	}
	w->ino = st.st_ino;
	w->poll.data = w;
	w->next = c->watches;
	c->watches = w;
	if (uv_poll_start(&w->poll, UV_DISCONNECT, watch_cb) != 0)
		watch_unlink(w);
}

static void accept_cb(struct raft_uv_transport *t, raft_id id,
		      const char *address, struct uv_stream_s *stream)
{
	struct af_consensus *c =
		(struct af_consensus *)(void *)((char *)t -
						offsetof(struct af_consensus,
							 transport));

	if (!c->closing)
		watch_stream(c, id, stream);
	c->uv_accept_cb(t, id, address, stream);
}

static int transport_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
	struct af_consensus *c =
		(struct af_consensus *)(void *)((char *)t -
						offsetof(struct af_consensus,
							 transport));

	c->uv_accept_cb = cb;
	return c->uv_listen(t, accept_cb);
}

/* raft_uv may close an inbound connection itself (a message it refuses):
 * our duplicate must not keep that socket open, or the peer would write
 * into it forever. Once raft_uv's descriptor is no longer that socket, the
 * watch goes (without calling the leader gone). */
void af_consensus_check_watches(struct af_consensus *c)
{
	struct af_peer_watch *w = c->watches, *next;

	for (; w != NULL; w = next) {
		struct stat st;

		next = w->next;
		if (fstat(w->orig_fd, &st) == 0 && st.st_ino == w->ino)
			continue;
		uv_poll_stop(&w->poll);
		watch_unlink(w);
	}
}

bool af_consensus_peer_connected(struct af_consensus *c, uint64_t id)
{
	if (!c->owns_raft)
		return true; /* no transport to watch (fixture) */
	for (struct af_peer_watch *w = c->watches; w != NULL; w = w->next)
		if (w->id == id)
			return true;
	return false;
}

static void unwatch_all(struct af_consensus *c)
{
	while (c->watches != NULL) {
		uv_poll_stop(&c->watches->poll);
		watch_unlink(c->watches);
	}
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
	c->transport.listen = transport_listen;
	if (node->raft_bind[0] != '\0' &&
	    (rv = raft_uv_tcp_set_bind_address(&c->transport,
					       node->raft_bind)) != 0) {
		raft_uv_tcp_close(&c->transport);
		return af_errf(err, AF_ECONFIG, "raft_bind: %s: %s",
			       node->raft_bind, raft_strerror(rv));
	}
	rv = raft_uv_init(&c->io, loop, dir, &c->transport);
	if (rv != 0) {
		af_errf(err, translate(rv), "raft: log in %s: %s", dir,
			c->io.errmsg);
		raft_uv_tcp_close(&c->transport);
		return translate(rv);
	}
	wrap_io(c);
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
	unwatch_all(c);
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
