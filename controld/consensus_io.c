/* The consensus module's watch on its own I/O: raft_uv's disk writes
 * wrapped so that a failure stops the node (a node that cannot persist must
 * not vote or lead), and the raft transport's inbound connections watched
 * so that a follower notices its leader's process is gone. Part of the only
 * libraft caller (see consensus.h); private to it. */
#include "controld/consensus.h"
#include "controld/consensus_int.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"

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
	uint64_t started_ns;
};

static void append_cb(struct raft_io_append *req, int status)
{
	struct io_append *a = req->data;
	struct raft_io_append *outer = a->outer;
	raft_io_append_cb cb = a->cb;

	if (status != 0 && status != RAFT_CANCELED)
		io_failed(a->c, "append to the raft log", status);
	else if (status == 0)
		af_histogram_observe_ns(&a->c->append_seconds,
					af_mono_ns() - a->started_ns);
	af_free(a);
	outer->cb = cb;
	cb(outer, status);
}

/* libraft keeps every entry since the last snapshot, and `trailing` before
 * it, in memory and replays them at start: once the entries appended since
 * the last snapshot pass the byte limit, the next applied entry takes a
 * snapshot whatever their count, keeping about half the limit's worth of
 * trailing entries. The cluster file's threshold and trailing come back
 * once that snapshot is written (io_snapshot_put, snapshot_put_cb). */
static void count_log_bytes(struct af_consensus *c,
			    const struct raft_entry entries[], unsigned n)
{
	uint64_t avg, keep;

	for (unsigned i = 0; i < n; i++)
		c->log_bytes += entries[i].buf.len;
	c->log_entries += n;
	if (c->log_bytes_max == 0 || c->log_bytes < c->log_bytes_max ||
	    c->snapshot_forced || c->raft == NULL)
		return;
	c->snapshot_forced = true;
	avg = c->log_bytes / (c->log_entries ? c->log_entries : 1);
	keep = c->log_bytes_max / 2 / (avg ? avg : 1);
	if (keep < 16)
		keep = 16;
	if (keep < c->trailing)
		raft_set_snapshot_trailing(c->raft, (unsigned)keep);
	raft_set_snapshot_threshold(c->raft, 1);
	log_info("event=snapshot_by_size log_bytes=%llu entries=%llu "
		 "trailing=%llu",
		 (unsigned long long)c->log_bytes,
		 (unsigned long long)c->log_entries,
		 (unsigned long long)(keep < c->trailing ? keep : c->trailing));
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
	count_log_bytes(c, entries, n);
	a->inner.data = a;
	a->outer = req;
	a->cb = cb;
	a->c = c;
	a->started_ns = af_mono_ns();
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

	struct af_consensus *c = a->c;

	if (status != 0 && status != RAFT_CANCELED)
		io_failed(c, "write a snapshot", status);
	if (status == 0) {
		atomic_fetch_add(&c->snapshots, 1);
		af_histogram_observe_ns(&c->snapshot_seconds,
					af_mono_ns() - c->snapshot_started_ns);
	} else if (status != RAFT_CANCELED) {
		atomic_fetch_add(&c->snapshot_failures, 1);
	}
	af_free(a);
	outer->cb = cb;
	cb(outer, status); /* libraft compacts its log with `trailing` here */
	if (c->snapshot_forced) {
		c->snapshot_forced = false;
		raft_set_snapshot_trailing(c->raft, c->trailing);
	}
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
	c->log_bytes = 0;
	c->log_entries = 0;
	c->snapshot_started_ns = af_mono_ns();
	if (c->snapshot_forced)
		raft_set_snapshot_threshold(c->raft, c->threshold);
	rv = c->uv_snapshot_put(io, trailing, &a->inner, snapshot,
				snapshot_put_cb);
	if (rv != 0) {
		af_free(a);
		atomic_fetch_add(&c->snapshot_failures, 1);
		if (rv != RAFT_NOMEM)
			io_failed(c, "write a snapshot", rv);
	}
	return rv;
}

/* libraft 0.15's convertToCandidate (src/convert.c), when the election
 * cannot start because the term or the vote could not be stored, puts the
 * state back to follower without resetting follower_state. Its
 * current_leader.address then reads the candidate's two flags and the
 * padding after them (0x1 after a leadership transfer), and the conversion
 * to unavailable that follows in the same call frees that address: the
 * process crashed (tests/cluster/disk_full.sh, exit 139). Zeroing the
 * flags and that padding as the store fails makes the address NULL;
 * libraft goes unavailable and the node stops with the disk error at its
 * next tick (check_io). Another libraft version needs this checked: the
 * asserts below hold the layout it relies on. */
_Static_assert(offsetof(struct raft, follower_state.current_leader.address) ==
		       offsetof(struct raft, candidate_state.disrupt_leader),
	       "libraft: a follower's leader address overlays the candidate's "
	       "flags");
_Static_assert(offsetof(struct raft, candidate_state.disrupt_leader) +
			       sizeof(char *) ==
		       offsetof(struct raft, candidate_state) +
			       sizeof(((struct raft *)0)->candidate_state),
	       "libraft: the candidate's flags end its state");

static void store_failed(struct af_consensus *c, const char *op, int rv)
{
	struct raft *r = c->raft;

	io_failed(c, op, rv);
	if (r != NULL && r->state == RAFT_CANDIDATE)
		memset(&r->candidate_state.disrupt_leader, 0, sizeof(char *));
}

static int io_set_term(struct raft_io *io, raft_term term)
{
	struct af_consensus *c = of_io(io);
	int rv = c->uv_set_term(io, term);

	if (rv != 0)
		store_failed(c, "store the term", rv);
	return rv;
}

static int io_set_vote(struct raft_io *io, raft_id server_id)
{
	struct af_consensus *c = of_io(io);
	int rv = c->uv_set_vote(io, server_id);

	if (rv != 0)
		store_failed(c, "store the vote", rv);
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
 * timer. A crashed leader's kernel closes its connections, and raft_uv
 * closes its end when it reads the end of the stream; a follower whose
 * inbound connection from its current leader is gone (checked every
 * controld tick: raft_uv's descriptor no longer is that socket) expires
 * its own election timer: it campaigns (pre-vote first) at its next raft
 * tick. Nothing else watches the socket: no duplicate descriptor, no
 * second poll handle on it (a duplicate polled by the same loop corrupted
 * raft_uv's connections).
 * Only timing changes, never a vote rule: a leader that is in fact alive
 * (a connection closed for another reason) keeps its term, since the other
 * voters reject the pre-vote while they hear from it.
 *
 * Expiring the timer writes election_timer_start of libraft 0.15's public
 * struct raft (raft.h), read against the state's randomized timeout; the
 * library has no call for it. Another libraft version needs this checked
 * (tests/cluster/crash_takeover.sh fails when it stops working). */
struct af_peer_watch {
	struct af_peer_watch *next;
	uint64_t id;
	int orig_fd; /* raft_uv's descriptor of the inbound socket */
	ino_t ino;   /* the socket's inode: tells whether orig_fd is still it */
};

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

static void watch_stream(struct af_consensus *c, uint64_t id,
			 struct uv_stream_s *stream)
{
	struct af_peer_watch *w;
	struct stat st;
	uv_os_fd_t fd;

	if (uv_fileno((uv_handle_t *)stream, &fd) != 0 || fstat(fd, &st) != 0)
		return;
	w = af_calloc(1, sizeof(*w));
	if (w == NULL)
		return;
	w->id = id;
	w->orig_fd = fd;
	w->ino = st.st_ino;
	w->next = c->watches;
	c->watches = w;
}

static void accept_cb(struct raft_uv_transport *t, raft_id id,
		      const char *address, struct uv_stream_s *stream)
{
	struct af_consensus *c = consensus_of_transport(t);

	if (!c->closing)
		watch_stream(c, id, stream);
	c->uv_accept_cb(t, id, address, stream);
}

int consensus_transport_listen(struct raft_uv_transport *t,
			       raft_uv_accept_cb cb)
{
	struct af_consensus *c = consensus_of_transport(t);

	c->uv_accept_cb = cb;
	return c->uv_listen(t, accept_cb);
}

/* Every controld tick: a connection whose descriptor is no longer its
 * socket was closed by raft_uv (the peer went away, or sent what raft_uv
 * refuses); if it came from this follower's leader, the leader is gone. */
void af_consensus_check_watches(struct af_consensus *c)
{
	struct af_peer_watch **p = &c->watches;

	while (*p != NULL) {
		struct af_peer_watch *w = *p;
		struct stat st;

		if (fstat(w->orig_fd, &st) == 0 && st.st_ino == w->ino) {
			p = &w->next;
			continue;
		}
		*p = w->next;
		leader_gone(c, w->id);
		af_free(w);
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
		struct af_peer_watch *w = c->watches;

		c->watches = w->next;
		af_free(w);
	}
}
