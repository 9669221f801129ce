/*
 * The commit bench's parts (bench/commit.c): the two targets it drives, a
 * client's connection to one node, and the nodes it launches itself.
 *   bench/lib/commit_nodes.c   launching, stopping and reaping nodes; pause_ms
 *   bench/lib/commit_af.c      controld over NNG req/rep
 *   bench/lib/commit_etcd.c    etcd v3 JSON gateway over HTTP/1.1
 *   bench/lib/commit_target.c  either: write, probe, find the leader
 */
#ifndef BENCH_LIB_COMMIT_H
#define BENCH_LIB_COMMIT_H

#include "common/cluster.h"
#include "common/timeutil.h"

#include <nng/nng.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MAX_NODES AF_MAX_NODES
#define URL_MAX (AF_ADDR_MAX + 16)
#define MAX_CLIENTS 256
#define HTTP_MAX (256u * 1024)
#define RESP_MAX (1u * 1024 * 1024)
#define WRITE_TIMEOUT_MS 2000
/* Per attempt while a leader is being replaced: an etcd follower forwards
 * a put to the dead leader and answers only at its own request timeout, so
 * this bounds the resolution of the etcd figure (af followers answer
 * NOT_LEADER at once). */
#define FAILOVER_ATTEMPT_MS 100
#define PROBE_TIMEOUT_MS 500
#define RETRY_PAUSE_MS 10
#define FAILOVER_PAUSE_MS 2
#define READY_TIMEOUT_MS 60000

enum proto { PROTO_AF, PROTO_ETCD };

struct target {
	enum proto proto;
	const char *label;
	unsigned n;
	char url[MAX_NODES][URL_MAX]; /* af: NNG URL; etcd: http://h:p */
	char host[MAX_NODES][64];     /* etcd */
	uint16_t port[MAX_NODES];     /* etcd */
	struct af_cluster_cfg cfg;    /* af */
};

/* What one node says about itself. */
struct node_state {
	bool leader;
	uint64_t leader_id; /* 0: knows no leader */
	uint64_t applied;
	uint64_t commit; /* af: commit index; etcd: raft index */
};

/* One client's connection to one node. */
struct conn {
	const struct target *t;
	unsigned idx;
	int timeout_ms; /* 0: WRITE_TIMEOUT_MS */
	bool open;
	nng_socket sock; /* af */
	int fd;		 /* etcd */
	char *buf;	 /* etcd: response bytes, HTTP_MAX + 1 */
	size_t blen;
};

enum { WR_OK = 0, WR_REDIRECT = 1, WR_FAIL = -1 };

/* bench/lib/commit_nodes.c. Launched nodes, global only so the signal
 * handler can stop them. */
extern const char *launch_cmd;
extern volatile pid_t node_pid[MAX_NODES];
extern unsigned n_launched;

void pause_ms(unsigned ms);
void on_signal(int sig);
int launch(unsigned i);
void stop_all(void);
void signal_node(unsigned i, int sig);
int reap_node(unsigned i, unsigned timeout_ms);

/* bench/lib/commit_af.c */
int af_write(struct conn *c, uint64_t *ret_index);
int af_probe(const struct target *t, unsigned i, struct node_state *ret);

/* bench/lib/commit_etcd.c */
int etcd_write(struct conn *c, unsigned client, uint64_t seq);
int etcd_probe(const struct target *t, unsigned i, struct node_state *ret);

/* bench/lib/commit_target.c */
void conn_close(struct conn *c);
int conn_write(struct conn *c, unsigned client, uint64_t seq);
int probe(const struct target *t, unsigned i, struct node_state *ret);
int find_leader(const struct target *t, int skip);
int wait_writable(const struct target *t, unsigned timeout_ms, int *ret_leader);

#endif
