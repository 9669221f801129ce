/* The consensus module's watch on its own I/O: raft_uv's disk writes
 * wrapped so that a failure stops the node (a node that cannot persist must
 * not vote or lead), and the raft transport's inbound connections watched
 * so that a follower notices its leader's process is gone. Part of the only
 * libraft caller (see consensus.h); private to it. */
#include "controld/consensus.h"
#include "controld/consensus_int.h"
#include "common/alloc.h"
#include "common/log.h"

#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

void consensus_wrap_io(struct af_consensus *c)
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
 * voters reject the pre-vote while they hear from it.
 *
 * Expiring the timer writes election_timer_start of libraft 0.15's public
 * struct raft (raft.h), read against the state's randomized timeout; the
 * library has no call for it. Another libraft version needs this checked
 * (tests/cluster/crash_takeover.sh fails when it stops working). */
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

int consensus_transport_listen(struct raft_uv_transport *t,
			       raft_uv_accept_cb cb)
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

void consensus_unwatch_all(struct af_consensus *c)
{
	while (c->watches != NULL) {
		uv_poll_stop(&c->watches->poll);
		watch_unlink(c->watches);
	}
}
