/* controld's life cycle: open the store, start raft, serve, stop cleanly on
 * SIGINT/SIGTERM. */
#include "common/alloc.h"
#include "common/file.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "controld/auth.h"
#include "controld/backup.h"
#include "controld/controld.h"
#include "controld/node.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* The data dir's lock (one node per process). */
static int lock_fd = -1;

static void stop(struct controld_node *n, const char *why);
static void handoff_check(struct controld_node *n);

static void on_applied(void *arg, uint64_t index)
{
	struct controld_node *n = arg;

	if (n->cons_started)
		controld_pub_hint(n, 0, index);
}

/* Followers' lag as this leader sees it (none on a follower). */
static void follower_stats(struct controld_node *n)
{
	struct controld_stats *s = &n->stats;
	struct af_consensus *c = &n->cons;
	uint64_t commit = af_consensus_commit_index(c), k = 0;
	size_t max = sizeof(c->peers) / sizeof(c->peers[0]);

	for (size_t i = 0; i < max && af_consensus_is_leader(c); i++) {
		if (c->peers[i].id == 0 || c->peers[i].id == n->self->id)
			continue;
		atomic_store(&s->follower_id[k], c->peers[i].id);
		atomic_store(&s->follower_lag[k],
			     commit > c->peers[i].match
				     ? commit - c->peers[i].match
				     : 0);
		k++;
	}
	atomic_store(&s->nfollowers, k);
}

static void update_stats(struct controld_node *n)
{
	struct controld_stats *s = &n->stats;
	uint64_t leader = af_consensus_leader(&n->cons);

	if (leader != 0 && leader != atomic_load(&s->leader_id))
		atomic_fetch_add(&s->leader_changes, 1);
	atomic_store(&s->log_bytes, n->cons.log_bytes);
	follower_stats(n);
	atomic_store(&s->term, af_consensus_term(&n->cons));
	atomic_store(&s->commit, af_consensus_commit_index(&n->cons));
	atomic_store(&s->applied, af_consensus_applied_index(&n->cons));
	atomic_store(&s->leader_id, af_consensus_leader(&n->cons));
	atomic_store(&s->is_leader, af_consensus_is_leader(&n->cons));
	/* Ready: a leader is known and this node applied what is committed
	 * (on the leader: its barrier for the term has applied). */
	atomic_store(&s->ready,
		     af_consensus_leader(&n->cons) != 0 &&
			     (af_consensus_is_leader(&n->cons)
				      ? af_consensus_ready(&n->cons)
				      : af_consensus_applied_index(&n->cons) >=
						af_consensus_commit_index(
							&n->cons)));
}

/* libraft 0.15 can halt a node for good (state "unavailable") after a
 * failed disk write or a log conflict below its commit index. A halted node
 * serves nothing and never recovers in-process: exit non-zero so the
 * supervisor restarts it, which replays the log and lets the leader repair
 * any conflicting suffix. */
static void check_halted(struct controld_node *n, uint64_t now)
{
	if (strcmp(af_consensus_role(&n->cons), "unavailable") != 0) {
		n->halted_since_ms = 0;
		return;
	}
	if (n->halted_since_ms == 0)
		n->halted_since_ms = now;
	if (now - n->halted_since_ms < 3000 || n->stopping)
		return;
	log_error("event=raft_halted msg=\"raft stopped serving (%s); "
		  "exiting so the node restarts and recovers from its log\"",
		  n->cons.raft->errmsg);
	n->exit_code = 1;
	stop(n, "raft-halted");
}

/* libraft 0.15 keeps a node "follower" after a failed disk write and never
 * writes those entries again: it would sit behind for good. A failed raft
 * write stops the node with its cause; a restart (once the disk has room)
 * replays the log and catches up from the leader. */
static void check_io(struct controld_node *n)
{
	const char *msg;

	if (n->stopping || af_consensus_io_error(&n->cons, &msg) == 0)
		return;
	log_error("event=disk_error error=\"%s\" data=%s msg=\"a raft "
		  "disk write failed; exiting so a supervisor restarts the "
		  "node once the disk is fixed (it then catches up from the "
		  "leader)\"",
		  msg, n->self->data);
	n->exit_code = 1;
	stop(n, "disk-error");
}

static void tick_cb(uv_timer_t *t)
{
	struct controld_node *n = t->data;
	uint64_t now = af_mono_ms();
	uint64_t leader = atomic_load(&n->stats.leader_id);
	int was_leader = atomic_load(&n->stats.is_leader);

	update_stats(n);
	af_consensus_check_watches(&n->cons);
	check_io(n);
	check_halted(n, now);
	if (n->stopping)
		return;
	af_consensus_watch_followers(&n->cons, now,
				     5 * (uint64_t)n->cfg->election_timeout_ms);
	if (atomic_load(&n->stats.leader_id) != leader ||
	    atomic_load(&n->stats.is_leader) != was_leader)
		log_info("event=role role=%s term=%llu leader=%llu",
			 af_consensus_role(&n->cons),
			 (unsigned long long)af_consensus_term(&n->cons),
			 (unsigned long long)atomic_load(&n->stats.leader_id));
	/* A fresh leader makes itself ready even with no client traffic. */
	af_consensus_make_ready(&n->cons);
	controld_rollout_tick(n, now);
	controld_backup_tick(n, now);
	controld_emergency_tick(n);
	controld_fleet_sweep_tick(n, now);
	controld_shadow_tick(n);
	controld_state_metrics_tick(n, now);
	if (now - n->last_heartbeat_ms >= 1000) {
		n->last_heartbeat_ms = now;
		controld_pub_hint(n, 1, 0);
	}
}

/* Runs after every loop iteration's I/O: a node that has just won an
 * election issues its readiness barrier before the next heartbeat goes
 * out. libraft 0.15 commits entries of earlier terms by counting replicas
 * (Raft's Figure 8); the barrier travels with those entries and so is
 * what makes them safe. A barrier left to the 100 ms tick could miss the
 * first heartbeat when heartbeat_ms is shorter than the tick. */
static void ready_cb(uv_check_t *h)
{
	struct controld_node *n = h->data;

	if (!n->stopping) {
		af_consensus_make_ready(&n->cons);
		af_consensus_hurry(&n->cons);
	}
	handoff_check(n);
}

static void wakeup_cb(uv_async_t *a)
{
	controld_api_drain(a->data);
}

static void close_handle(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void consensus_closed(void *arg)
{
	struct controld_node *n = arg;

	/* Every pending request has been answered by now. */
	controld_api_stop(n);
	uv_walk(&n->loop, close_handle, NULL);
}

static void stop(struct controld_node *n, const char *why)
{
	if (n->stopping)
		return;
	log_info("event=stop reason=%s", why);
	pthread_mutex_lock(&n->qlock);
	n->stopping = true;
	pthread_mutex_unlock(&n->qlock);
	controld_api_drain(n);
	controld_http_stop(n);
	controld_pub_stop(n);
	uv_timer_stop(&n->tick);
	uv_timer_stop(&n->handoff_timer);
	uv_check_stop(&n->ready);
	af_consensus_close(&n->cons, consensus_closed, n);
}

static void handoff_done(struct controld_node *n, const char *how)
{
	if (!n->handing_off || n->stopping)
		return;
	uv_timer_stop(&n->handoff_timer);
	log_info("event=handoff result=%s leader=%llu role=%s", how,
		 (unsigned long long)af_consensus_leader(&n->cons),
		 af_consensus_role(&n->cons));
	stop(n, n->stop_why);
}

/* Called by libraft while it handles the message that ended the transfer:
 * the stop waits for the next loop iteration (handoff_check). */
static void handoff_cb(void *arg, int status, const struct af_fsm_result *res)
{
	struct controld_node *n = arg;

	(void)res;
	/* The transfer ends when another node's higher term arrives, often
	 * before its leader is known (status then says "unavailable"): what
	 * counts is that this node no longer leads. */
	(void)status;
	n->handoff_status = af_consensus_is_leader(&n->cons) ? -1 : 0;
}

/* Each loop iteration while handing off: stop once the new leader has
 * committed an entry of its own (this node, now its follower, acknowledged
 * it), so the new leader has its majority without us and is ready. */
static void handoff_check(struct controld_node *n)
{
	if (!n->handing_off || n->stopping)
		return;
	if (n->handoff_status < 0) {
		handoff_done(n, "failed");
		return;
	}
	/* The target went away too (the whole cluster is being stopped):
	 * nobody will take over, stop now. */
	if (!af_consensus_peer_connected(&n->cons, n->handoff_to)) {
		handoff_done(n, "target-gone");
		return;
	}
	if (!af_consensus_is_leader(&n->cons) &&
	    af_consensus_leader(&n->cons) != 0 &&
	    af_consensus_commit_index(&n->cons) > n->handoff_index)
		handoff_done(n, "transferred");
}

static void handoff_timeout(uv_timer_t *t)
{
	handoff_done(t->data, "timeout");
}

/* A planned stop of a leader (SIGTERM, SIGINT) hands leadership to the
 * most up-to-date voter before stopping: writes pause for one round trip
 * and an election, not for an election timeout. Requests keep being
 * served meanwhile (libraft refuses new entries during the transfer, so
 * clients are told NOT_LEADER and retry). Bounded: after two election
 * timeouts the node stops anyway. Returns false when there is nothing to
 * hand off (not the leader, no other voter, already stopping). */
static bool handoff(struct controld_node *n, const char *why)
{
	uint64_t to;
	int rc;

	if (n->handing_off || n->stopping || !n->cons_started ||
	    !af_consensus_is_leader(&n->cons))
		return false;
	to = af_consensus_best_voter(&n->cons);
	if (to == 0)
		return false;
	n->handoff_index = af_consensus_last_index(&n->cons);
	n->handoff_to = to;
	n->handoff_status = 1;
	rc = af_consensus_transfer(&n->cons, to, handoff_cb, n);
	if (rc != 0) {
		log_warn("event=handoff result=refused to=%llu error=%d "
			 "msg=\"stopping without a leadership transfer\"",
			 (unsigned long long)to, rc);
		return false;
	}
	n->handing_off = true;
	n->stop_why = why;
	log_info("event=handoff to=%llu reason=%s", (unsigned long long)to,
		 why);
	uv_timer_start(&n->handoff_timer, handoff_timeout,
		       2 * (uint64_t)n->cfg->election_timeout_ms, 0);
	return true;
}

static void signal_cb(uv_signal_t *s, int signum)
{
	struct controld_node *n = s->data;
	const char *why = signum == SIGINT ? "SIGINT" : "SIGTERM";

	if (n->handing_off) {
		/* A second signal: stop now. */
		uv_timer_stop(&n->handoff_timer);
		stop(n, why);
		return;
	}
	if (!handoff(n, why))
		stop(n, why);
}

static bool dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	bool empty = true;

	if (d == NULL)
		return errno == ENOENT;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = false;
	closedir(d);
	return empty;
}

static int reset_applied(struct af_txn *t, void *arg)
{
	(void)arg;
	return af_txn_set_applied(t, 0, 0);
}

/* --restore: the backup becomes the base state of a new cluster (its
 * Raft log starts empty, so the applied index starts at zero). */
static int restore_backup(struct controld_node *n, const char *raft_dir,
			  const char *file, struct af_err *err)
{
	int rc;

	if (!dir_is_empty(raft_dir))
		return af_errf(err, AF_EEXIST,
			       "--restore needs a new node: %s is not empty",
			       raft_dir);
	rc = af_store_restore_file(n->store, file, err);
	if (rc != 0)
		return rc;
	rc = af_store_update(n->store, reset_applied, NULL, err);
	if (rc == 0)
		log_info("event=restored backup=%s", file);
	return rc;
}

/* One controld per data dir: an flock on DATA/lock, which holds the pid of
 * its owner. The lock goes with the process, however it ends. */
static int lock_data_dir(const char *data, struct af_err *err)
{
	char path[PATH_MAX + 8], pid[32] = "";
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "%s/lock", data);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return af_errf(err, AF_EIO, "data dir %s: cannot open %s: %s",
			       data, path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;

		len = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[len > 0 ? len : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		close(fd);
		if (e == EWOULDBLOCK)
			return af_errf(err, AF_EEXIST,
				       "data dir %s in use by pid %s (another "
				       "controld runs on it): stop that "
				       "process first, or give this node its "
				       "own data dir",
				       data, pid[0] ? pid : "unknown");
		return af_errf(err, AF_EIO, "data dir %s: lock %s: %s", data,
			       path, strerror(e));
	}
	len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
		int e = errno;

		close(fd);
		return af_errf(err, AF_EIO, "data dir %s: write %s: %s", data,
			       path, strerror(e));
	}
	lock_fd = fd;
	return 0;
}

static int open_parts(struct controld_node *n, const struct controld_opts *o,
		      struct af_err *err)
{
	char state_dir[PATH_MAX + 8], raft_dir[PATH_MAX + 8];
	struct af_store_opts so = {.cluster = n->cfg->name, .nosync = true};
	int rc;

	snprintf(state_dir, sizeof(state_dir), "%s/state", n->self->data);
	snprintf(raft_dir, sizeof(raft_dir), "%s/raft", n->self->data);
	if (n->cfg->auth &&
	    (rc = af_auth_load(n->cfg->auth_tokens, &n->auth, err)) != 0)
		return rc;
	if ((rc = af_tls_new(n->cfg, &n->tls, err)) != 0)
		return rc;
	for (unsigned i = 0; i < n->cfg->n_trusted_keys; i++, n->nkeys++)
		if ((rc = af_sign_load_pub(n->cfg->trusted_keys[i], &n->keys[i],
					   err)) != 0)
			return rc;
	if ((rc = af_mkdir_p(raft_dir, err)) != 0 ||
	    (rc = lock_data_dir(n->self->data, err)) != 0)
		return rc;
	/* A port clash is said as such before raft tries to listen. */
	if ((rc = af_cluster_probe_listen(
		     "raft", af_cluster_raft_listen(n->self), err)) != 0 ||
	    (rc = af_cluster_probe_listen("http", n->self->http, err)) != 0)
		return rc;
	if (o->restore != NULL && !dir_is_empty(raft_dir))
		return af_errf(err, AF_EEXIST,
			       "--restore needs a new node: %s is not empty",
			       raft_dir);
	if ((rc = af_store_open(state_dir, &so, &n->store, err)) != 0)
		return rc;
	if (o->restore != NULL &&
	    (rc = restore_backup(n, raft_dir, o->restore, err)) != 0)
		return rc;
	if ((rc = af_fsm_init(&n->fsm, n->store)) != 0)
		return af_errf(err, rc, "state %s: reading the heads: %s",
			       state_dir, af_strerror(rc));
	n->fsm.on_applied = on_applied;
	n->fsm.on_applied_arg = n;
	rc = af_consensus_start_uv(&n->cons, &n->loop, n->cfg, n->self->id,
				   raft_dir, o->join, &n->fsm, err);
	if (rc != 0)
		return rc;
	n->cons_started = true;
	if ((rc = controld_pub_start(n, err)) != 0 ||
	    (rc = controld_api_start(n, err)) != 0 ||
	    (rc = controld_backup_start(n, err)) != 0 ||
	    (rc = controld_http_start(n, err)) != 0)
		return rc;
	return 0;
}

int controld_run(const struct af_cluster_cfg *cfg,
		 const struct controld_opts *o)
{
	struct controld_node *n;
	struct af_err err = {{0}};
	char prefix[32];
	int rc, exit_code = 0;

	signal(SIGPIPE, SIG_IGN);
	n = af_calloc(1, sizeof(*n));
	if (n == NULL)
		fatal("event=start error=\"out of memory\"");
	n->cfg = cfg;
	n->self = af_cluster_node(cfg, o->id);
	snprintf(prefix, sizeof(prefix), "node=%llu",
		 (unsigned long long)o->id);
	af_log_set_prefix(prefix);
	pthread_mutex_init(&n->qlock, NULL);
	pthread_mutex_init(&n->state_metrics_mu, NULL);
	uv_loop_init(&n->loop);
	uv_async_init(&n->loop, &n->wakeup, wakeup_cb);
	n->wakeup.data = n;
	if (!cfg->auth)
		log_warn("event=auth_disabled msg=\"no auth section in the "
			 "cluster file: every caller is admin\"");
	uv_timer_init(&n->loop, &n->tick);
	n->tick.data = n;
	uv_check_init(&n->loop, &n->ready);
	n->ready.data = n;
	uv_timer_init(&n->loop, &n->handoff_timer);
	n->handoff_timer.data = n;
	rc = open_parts(n, o, &err);
	if (rc != 0) {
		log_error("event=start error=\"%s\"", err.msg);
		fprintf(stderr, "controld: %s\n", err.msg);
		exit_code = 1;
		/* raft initialized (even if it refused to start) is closed
		 * through consensus so libraft releases everything. */
		if (n->cons.owns_raft) {
			stop(n, "start-failure");
			uv_run(&n->loop, UV_RUN_DEFAULT);
		} else {
			controld_api_stop(n);
			uv_walk(&n->loop, close_handle, NULL);
			uv_run(&n->loop, UV_RUN_DEFAULT);
		}
		goto out;
	}
	uv_signal_init(&n->loop, &n->sigint);
	uv_signal_init(&n->loop, &n->sigterm);
	n->sigint.data = n->sigterm.data = n;
	uv_signal_start(&n->sigint, signal_cb, SIGINT);
	uv_signal_start(&n->sigterm, signal_cb, SIGTERM);
	uv_timer_start(&n->tick, tick_cb, 100, 100);
	uv_check_start(&n->ready, ready_cb);
	log_info("event=start cluster=%s api=%s pub=%s http=%s raft=%s "
		 "data=%s",
		 cfg->name, n->self->api, n->self->pub, n->self->http,
		 n->self->raft, n->self->data);
	uv_run(&n->loop, UV_RUN_DEFAULT);
	exit_code = n->exit_code;
	log_info("event=stopped");
out:
	uv_loop_close(&n->loop);
	controld_backup_free(n);
	af_store_close(n->store);
	af_auth_free(n->auth);
	af_tls_free(n->tls);
	if (lock_fd >= 0) {
		close(lock_fd);
		lock_fd = -1;
	}
	pthread_mutex_destroy(&n->qlock);
	pthread_mutex_destroy(&n->state_metrics_mu);
	af_free(n->state_metrics);
	af_textbuf_free(&n->anomaly_metrics);
	af_free(n);
	return exit_code;
}
