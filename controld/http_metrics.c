/* /metrics series about the process and the node's Raft log, snapshots,
 * proposals and followers. Every value is an atomic the loop's 100 ms tick
 * or the consensus code keeps (no work on the loop thread per scrape); the
 * LMDB size is one stat() of the data file on the HTTP thread. Label
 * cardinality: af_raft_follower_lag_entries has at most one series per
 * other voter of the configuration (AF_MAX_NODES * 2 - 1). */
#include "controld/http_int.h"

#include <stdio.h>
#include <sys/stat.h>

static void one(struct af_textbuf *b, const char *name, const char *type,
		const char *help, unsigned long long v)
{
	af_textbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name,
			  help, name, type, name, v);
}

static void lmdb_size(struct controld_node *n, struct af_textbuf *b)
{
	char path[PATH_MAX + 32];
	struct stat st;

	snprintf(path, sizeof(path), "%s/state/data.mdb", n->self->data);
	if (stat(path, &st) != 0)
		return;
	one(b, "af_store_lmdb_file_bytes", "gauge",
	    "Size of the state machine's LMDB file (the map may be larger "
	    "than the pages in use).",
	    (unsigned long long)st.st_size);
	one(b, "af_store_lmdb_disk_bytes", "gauge",
	    "Disk space the state machine's LMDB file takes.",
	    (unsigned long long)st.st_blocks * 512ull);
}

static void followers(struct controld_node *n, struct af_textbuf *b)
{
	struct controld_stats *s = &n->stats;
	uint64_t k = atomic_load(&s->nfollowers);

	af_textbuf_printf(
		b, "# HELP af_raft_follower_lag_entries Entries a follower "
		   "lacks below the commit index, as the leader sees it "
		   "(leader only).\n"
		   "# TYPE af_raft_follower_lag_entries gauge\n");
	for (uint64_t i = 0; i < k && i < AF_MAX_NODES * 2; i++)
		af_textbuf_printf(
			b,
			"af_raft_follower_lag_entries{follower=\"%llu\"} "
			"%llu\n",
			(unsigned long long)atomic_load(&s->follower_id[i]),
			(unsigned long long)atomic_load(&s->follower_lag[i]));
}

void controld_ops_metrics(struct controld_node *n, struct af_textbuf *b)
{
	struct controld_stats *s = &n->stats;
	struct af_consensus *c = &n->cons;

	af_process_metrics(b, "controld", AF_VERSION);
	one(b, "af_raft_leader_changes_total", "counter",
	    "Times this node saw a new leader.",
	    (unsigned long long)atomic_load(&s->leader_changes));
	one(b, "af_raft_proposals_failed_total", "counter",
	    "Writes proposed on this node that did not commit (lost "
	    "leadership, I/O error, shutdown).",
	    (unsigned long long)atomic_load(&c->proposals_failed));
	one(b, "af_raft_proposals_pending", "gauge",
	    "Writes proposed on this node and not yet applied or failed.",
	    (unsigned long long)atomic_load(&c->proposals_pending));
	one(b, "af_raft_snapshots_total", "counter",
	    "Raft snapshots written to disk.",
	    (unsigned long long)atomic_load(&c->snapshots));
	one(b, "af_raft_snapshot_failures_total", "counter",
	    "Raft snapshots that could not be written.",
	    (unsigned long long)atomic_load(&c->snapshot_failures));
	af_histogram_format(b, "af_raft_snapshot_seconds",
			    "Time to write one Raft snapshot.", "",
			    &c->snapshot_seconds);
	af_histogram_format(b, "af_raft_log_append_seconds",
			    "Time for a batch of entries appended to the Raft "
			    "log to be written and synced to disk (the log's "
			    "fsync latency).",
			    "", &c->append_seconds);
	one(b, "af_raft_resolve_failures_total", "counter",
	    "Raft peer addresses (host names) that did not resolve when "
	    "dialled.",
	    (unsigned long long)atomic_load(&c->dns_failures));
	one(b, "af_raft_log_bytes", "gauge",
	    "Bytes of log entries appended since the last snapshot.",
	    (unsigned long long)atomic_load(&s->log_bytes));
	followers(n, b);
	lmdb_size(n, b);
	controld_state_metrics_copy(n, b);
}
