/*
 * The cluster file (docs/cluster-file.md), shared by controld, routerd and af.
 * Parsed whole into a struct, validated, then treated as read-only.
 * Relative paths are resolved against the file's directory.
 */
#ifndef AF_COMMON_CLUSTER_H
#define AF_COMMON_CLUSTER_H

#include "common/err.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#define AF_MAX_NODES 9
#define AF_ADDR_MAX 128
#define AF_NAME_MAX 64
#define AF_MAX_TRUSTED_KEYS 16
#define AF_FLEET_LOST_DEFAULT_S 30 /* fleet.lost_s */
#define AF_CLUSTER_FILE_MAX (256 * 1024)
#define AF_BACKUP_MIN_EVERY_MS 1000u /* backup: every: at least 1s */
#define AF_BACKUP_MAX_KEEP 1000	     /* backup: keep: 1..1000 */
#define AF_BACKUP_DEFAULT_KEEP 7

struct af_node_cfg {
	uint64_t id;
	/* IPv4:port or host:port, as peers dial it (a name is resolved at
	 * every dial). */
	char raft[AF_ADDR_MAX];
	/* IPv4:port or host:port the node listens on for raft (raft_bind:),
	 * or "" for the raft address itself. */
	char raft_bind[AF_ADDR_MAX];
	char api[AF_ADDR_MAX];	/* NNG URL */
	char pub[AF_ADDR_MAX];	/* NNG URL */
	char http[AF_ADDR_MAX]; /* host:port */
	char data[PATH_MAX];	/* resolved */
};

#define AF_SHOWBACK_RETENTION_DEFAULT_DAYS 400
/* history.revisions: the newest this many policy revisions keep their
 * bundles (source and compiled); older ones keep their record only. */
#define AF_HISTORY_DEFAULT_REVISIONS 1000
#define AF_HISTORY_MAX_REVISIONS 1000000

struct af_cluster_cfg {
	char path[PATH_MAX];
	char name[AF_NAME_MAX];
	struct af_node_cfg nodes[AF_MAX_NODES];
	unsigned n_nodes;
	unsigned heartbeat_ms;
	unsigned election_timeout_ms;
	unsigned snapshot_threshold;  /* entries between snapshots */
	unsigned snapshot_max_log_mb; /* or this many MiB of entries */
	unsigned install_snapshot_timeout_ms;
	unsigned fleet_forget_s; /* LOST routerds leave the fleet view after */
	unsigned fleet_lost_s;	 /* a routerd unheard of this long is LOST */
	/* usage and workflow rows (af report) are pruned after this many
	 * UTC days (showback.retention_days) */
	unsigned showback_retention_days;
	/* bundles of policy revisions older than the newest history_revisions
	 * (0: all kept), or than history_days days (0: no limit), are pruned */
	unsigned history_revisions;
	unsigned history_days;
	bool tls;
	char tls_ca[PATH_MAX];
	char tls_cert[PATH_MAX];
	char tls_key[PATH_MAX];
	bool auth;
	char auth_tokens[PATH_MAX];
	char trusted_keys[AF_MAX_TRUSTED_KEYS][PATH_MAX];
	unsigned n_trusted_keys;
	bool require_signed;
	/* backup: scheduled backups by the leader (off without the section) */
	bool backup;
	char backup_dir[PATH_MAX]; /* resolved */
	uint64_t backup_every_ms;
	unsigned backup_keep;
};

/* Parses and validates the cluster file at path into *ret (caller-owned
 * storage). Errors (AF_EIO, AF_EPARSE, AF_ECONFIG) carry "file:line:col:
 * message" in err. Thread-safe. */
int af_cluster_load(const char *path, struct af_cluster_cfg *ret,
		    struct af_err *err);
/* The same from a buffer; `path` names it and anchors relative paths. */
int af_cluster_parse(const char *path, const char *buf, size_t len,
		     struct af_cluster_cfg *ret, struct af_err *err);

/* The node with this id, or NULL. */
const struct af_node_cfg *af_cluster_node(const struct af_cluster_cfg *c,
					  uint64_t id);

/* A StatefulSet pod's node id: the ordinal after the last '-' of the
 * host's first label, plus one ("controld-0" and "controld-0.controld.ns"
 * are node 1). Errors: AF_EINVAL (no "-N", or N + 1 > 65535). */
int af_cluster_id_from_hostname(const char *host, uint64_t *id);

/* The address this node's raft listener binds: raft_bind, or raft. */
const char *af_cluster_raft_listen(const struct af_node_cfg *n);

/* Resolves host:port to IPv4:port into out (a numeric host or a wildcard
 * as is, a name through the resolver, its first IPv4 address). `what`
 * names the key in messages. Errors: AF_ECONFIG (malformed, does not
 * resolve), AF_ETOOBIG. Blocks while the resolver works. */
int af_cluster_resolve(const char *what, const char *hostport, char *out,
		       size_t outlen, struct af_err *err);

/* Checks that this host can listen on `hostport` (IPv4:port, or a name
 * resolved by af_cluster_resolve) now: binds a TCP socket (SO_REUSEADDR, as the
 * daemons do) and closes it. `what` names the key in messages. Errors:
 * AF_EEXIST (the port is in use), AF_ECONFIG (not an address of this host, not
 * numeric), AF_EIO. */
int af_cluster_probe_listen(const char *what, const char *hostport,
			    struct af_err *err);

/* Writes an NNG URL for the cluster's transport: with TLS on, "tcp://" is
 * turned into "tls+tcp://". Returns 0 or AF_ETOOBIG. */
int af_cluster_url(const struct af_cluster_cfg *c, const char *url, char *out,
		   size_t outlen);

#endif
