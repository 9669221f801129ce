/* Cluster file parser: accepted forms and every error with its position. */
#include "tests/lib/alloc_check.h"
#include "common/alloc.h"
#include "common/cluster.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define NODE1                                                                  \
	"  - id: 1\n"                                                          \
	"    raft: 127.0.0.1:7101\n"                                           \
	"    api: tcp://127.0.0.1:7102\n"                                      \
	"    pub: tcp://127.0.0.1:7103\n"                                      \
	"    http: 127.0.0.1:7104\n"                                           \
	"    data: ./run/node1\n"
#define NODE2                                                                  \
	"  - id: 2\n"                                                          \
	"    raft: 127.0.0.1:7201\n"                                           \
	"    api: tcp://127.0.0.1:7202\n"                                      \
	"    pub: tcp://127.0.0.1:7203\n"                                      \
	"    http: 127.0.0.1:7204\n"                                           \
	"    data: ./run/node2\n"

static int parse(const char *text, struct af_cluster_cfg *c, struct af_err *e)
{
	memset(e, 0, sizeof(*e));
	return af_cluster_parse("/etc/af/cluster.yaml", text, strlen(text), c,
				e);
}

static void expect_error(const char *text, const char *msg)
{
	struct af_cluster_cfg c;
	struct af_err e;
	int rc = parse(text, &c, &e);

	cr_assert_neq(rc, 0, "accepted: %s", text);
	cr_assert_str_eq(e.msg, msg);
}

/* The fixture in the repo (tests run from the repository root). */
TestSuite(cluster_file, .init = af_test_alloc_begin, .fini = af_test_alloc_end);

Test(cluster_file, example_file)
{
	struct af_cluster_cfg c;
	struct af_err e;
	int rc = af_cluster_load("tests/unit/fixtures/cluster.yaml", &c, &e);

	cr_assert_eq(rc, 0, "%s", e.msg);
	cr_assert_str_eq(c.name, "local");
	cr_assert_eq(c.n_nodes, 3);
	cr_assert_eq(c.nodes[2].id, 3);
	cr_assert_str_eq(c.nodes[1].api, "tcp://127.0.0.1:7202");
	cr_assert_str_eq(c.nodes[0].data, "tests/unit/fixtures/./run/node1");
	cr_assert_eq(c.heartbeat_ms, 100);
	cr_assert_eq(c.election_timeout_ms, 1000);
	cr_assert_eq(c.snapshot_threshold, 65536);
	cr_assert_eq(c.snapshot_max_log_mb, 64);
	cr_assert_not(c.tls);
	cr_assert_not(c.auth);
	cr_assert_not_null(af_cluster_node(&c, 2));
	cr_assert_null(af_cluster_node(&c, 4));
}

Test(cluster_file, optional_sections_and_relative_paths)
{
	struct af_cluster_cfg c;
	struct af_err e;
	char url[128];
	int rc = parse("cluster: prod\nnodes:\n" NODE1 "raft:\n"
		       "  heartbeat_ms: 50\n  election_timeout_ms: 500\n"
		       "  snapshot_threshold: 64\n"
		       "  snapshot_max_log_mb: 8\n"
		       "tls: {ca: pki/ca.pem, cert: /abs/n.pem, key: k.key}\n"
		       "auth: {tokens: ./tokens}\n"
		       "signing:\n  trusted_keys: [./keys/a.pub]\n"
		       "  require_signed: true\n",
		       &c, &e);

	cr_assert_eq(rc, 0, "%s", e.msg);
	cr_assert_eq(c.heartbeat_ms, 50);
	cr_assert_eq(c.snapshot_threshold, 64);
	cr_assert_eq(c.snapshot_max_log_mb, 8);
	cr_assert(c.tls);
	cr_assert_str_eq(c.tls_ca, "/etc/af/pki/ca.pem");
	cr_assert_str_eq(c.tls_cert, "/abs/n.pem");
	cr_assert_str_eq(c.auth_tokens, "/etc/af/./tokens");
	cr_assert_eq(c.n_trusted_keys, 1);
	cr_assert(c.require_signed);
	cr_assert_str_eq(c.nodes[0].data, "/etc/af/./run/node1");
	cr_assert_eq(af_cluster_url(&c, c.nodes[0].api, url, sizeof(url)), 0);
	cr_assert_str_eq(url, "tls+tcp://127.0.0.1:7102");
}

Test(cluster_file, errors_with_positions)
{
	expect_error("", "/etc/af/cluster.yaml:1:1: empty document");
	expect_error("cluster: [a\n",
		     "/etc/af/cluster.yaml:2:1: YAML syntax: did not find "
		     "expected ',' or ']'");
	expect_error("cluster: x\nnodes:\n" NODE1 "bogus: 1\n",
		     "/etc/af/cluster.yaml:9:1: unknown key \"bogus\"");
	expect_error("cluster: x\nnodes:\n" NODE1 "    colour: red\n",
		     "/etc/af/cluster.yaml:9:5: unknown key \"colour\"");
	expect_error("nodes:\n" NODE1,
		     "/etc/af/cluster.yaml:1:1: cluster file: missing "
		     "\"cluster\"");
	expect_error("cluster: x\nnodes: {}\n",
		     "/etc/af/cluster.yaml:2:8: nodes: expected a list, got "
		     "a mapping");
	expect_error("cluster: x\nnodes: []\n",
		     "/etc/af/cluster.yaml:2:8: nodes: at least one node is "
		     "needed");
	expect_error("cluster: x\nnodes:\n  - id: one\n",
		     "/etc/af/cluster.yaml:3:9: id: expected an integer, got "
		     "\"one\"");
	expect_error("cluster: x\nnodes:\n  - id: 70000\n",
		     "/etc/af/cluster.yaml:3:9: id: 70000 is out of range [1, "
		     "65535]");
	expect_error("cluster: x\nnodes:\n  - id: \"1\"\n",
		     "/etc/af/cluster.yaml:3:9: id: expected an integer");
	expect_error("cluster: x\nnodes:\n  - id: 1\n    raft: nope\n",
		     "/etc/af/cluster.yaml:4:11: raft: expected host:port, "
		     "got \"nope\"");
	expect_error("cluster: x\nnodes:\n  - id: 1\n    raft: h:99999\n",
		     "/etc/af/cluster.yaml:4:11: raft: bad port in "
		     "\"h:99999\" (1-65535)");
	expect_error("cluster: x\nnodes:\n  - id: 1\n    raft: 10.0.0.1:1\n"
		     "    api: http://x:1\n",
		     "/etc/af/cluster.yaml:5:10: api: expected a tcp:// or "
		     "ipc:// URL, got \"http://x:1\"");
	expect_error("cluster: x\nraft: {heartbeat_ms: 100, "
		     "election_timeout_ms: 150}\nnodes:\n" NODE1,
		     "/etc/af/cluster.yaml:2:7: raft: election_timeout_ms "
		     "must be at least twice heartbeat_ms");
	expect_error("cluster: x\nnodes:\n" NODE1 "tls: {ca: a}\n",
		     "/etc/af/cluster.yaml:9:6: tls: missing \"cert\"");
	expect_error("cluster: x\nnodes:\n" NODE1
		     "signing: {require_signed: yes}\n",
		     "/etc/af/cluster.yaml:9:27: require_signed: expected "
		     "true or false, got \"yes\"");
	expect_error("cluster: &a x\nnodes:\n" NODE1,
		     "/etc/af/cluster.yaml:1:10: anchors are not supported");
	expect_error("cluster: x\n---\ncluster: y\n",
		     "/etc/af/cluster.yaml:2:1: more than one YAML document");
}

Test(cluster_file, duplicates)
{
	expect_error("cluster: x\nnodes:\n" NODE1 NODE1,
		     "/etc/af/cluster.yaml:9:9: duplicate node id 1");
	expect_error("cluster: x\nnodes:\n" NODE1
		     "  - id: 2\n    raft: 127.0.0.1:7101\n"
		     "    api: tcp://127.0.0.1:7202\n"
		     "    pub: tcp://127.0.0.1:7203\n"
		     "    http: 127.0.0.1:7204\n    data: ./run/node2\n",
		     "/etc/af/cluster.yaml:10:11: raft: address "
		     "127.0.0.1:7101 is already used by node 1");
	expect_error("cluster: x\nnodes:\n" NODE1
		     "  - id: 2\n    raft: 127.0.0.1:7201\n"
		     "    api: tcp://127.0.0.1:7202\n"
		     "    pub: tcp://127.0.0.1:7203\n"
		     "    http: 127.0.0.1:7204\n    data: ./run/node1\n",
		     "/etc/af/cluster.yaml:14:11: data: node 1 on the same "
		     "host uses the same directory");
	expect_error("cluster: x\nnodes:\n" NODE1 NODE2 "cluster: y\n",
		     "/etc/af/cluster.yaml:15:1: duplicate key \"cluster\"");
}

Test(cluster_file, bounds)
{
	static char big[8192];
	size_t n = 0;

	n += (size_t)snprintf(big, sizeof(big), "cluster: ");
	memset(big + n, 'a', 100);
	n += 100;
	snprintf(big + n, sizeof(big) - n, "\nnodes:\n" NODE1);
	expect_error(big, "/etc/af/cluster.yaml:1:10: cluster: longer than 63 "
			  "bytes");
}

Test(cluster_file, allocation_failures_do_not_leak_or_crash)
{
	const char *text = "cluster: x\nnodes:\n" NODE1 NODE2;
	struct af_cluster_cfg c;
	struct af_err e;

	for (long i = 0; i < 8; i++) {
		af_alloc_fail_after(i, 0);
		int rc = parse(text, &c, &e);
		af_alloc_fail_after(-1, 0);
		cr_assert(rc == 0 || rc == AF_ENOMEM, "rc=%d", rc);
	}
	cr_assert_eq(parse(text, &c, &e), 0);
}

Test(cluster_file, missing_file)
{
	struct af_cluster_cfg c;
	struct af_err e;

	cr_assert_eq(af_cluster_load("/nonexistent/c.yaml", &c, &e), AF_EIO);
	cr_assert_str_eq(e.msg,
			 "/nonexistent/c.yaml: No such file or directory");
}

/* Raft addresses may be names (resolved by controld at each dial); what
 * is neither an IPv4 address nor a host name is refused where it stands. */
Test(cluster_file, raft_addresses_may_be_names)
{
	struct af_cluster_cfg c;
	struct af_err e;

	cr_assert_eq(parse("cluster: x\nnodes:\n"
			   "  - id: 1\n"
			   "    raft: controld-0.controld.af.svc:7101\n"
			   "    raft_bind: 0.0.0.0:7101\n"
			   "    api: tcp://127.0.0.1:7102\n"
			   "    pub: tcp://127.0.0.1:7103\n"
			   "    http: 127.0.0.1:7104\n"
			   "    data: ./run/node1\n",
			   &c, &e),
		     0, "%s", e.msg);
	cr_assert_str_eq(c.nodes[0].raft, "controld-0.controld.af.svc:7101");
	expect_error("cluster: x\nnodes:\n  - id: 1\n"
		     "    raft: bad_name:7101\n",
		     "/etc/af/cluster.yaml:4:11: raft: \"bad_name\" is neither "
		     "an IPv4 address nor a host name");
	expect_error(
		"cluster: x\nnodes:\n  - id: 1\n"
		"    raft: 10.0.0.1:7101\n    raft_bind: -any:7101\n",
		"/etc/af/cluster.yaml:5:16: raft_bind: \"-any\" is neither "
		"an IPv4 address nor a host name");
	expect_error("cluster: x\nnodes:\n  - id: 1\n"
		     "    raft: a..b:7101\n",
		     "/etc/af/cluster.yaml:4:11: raft: \"a..b\" is neither an "
		     "IPv4 address nor a host name");
}

/* Names resolve to IPv4:port; numeric and wildcard hosts pass as they
 * are; a name that does not resolve says so. */
Test(cluster_file, resolve)
{
	char out[AF_ADDR_MAX];
	struct af_err e = {{0}};

	cr_assert_eq(af_cluster_resolve("raft", "localhost:7101", out,
					sizeof(out), &e),
		     0, "%s", e.msg);
	cr_assert_str_eq(out, "127.0.0.1:7101");
	cr_assert_eq(
		af_cluster_resolve("raft", "10.1.2.3:9", out, sizeof(out), &e),
		0);
	cr_assert_str_eq(out, "10.1.2.3:9");
	cr_assert_eq(
		af_cluster_resolve("raft_bind", "*:9", out, sizeof(out), &e),
		0);
	cr_assert_str_eq(out, "0.0.0.0:9");
	cr_assert_eq(af_cluster_resolve("raft", "no-such-host.invalid:9", out,
					sizeof(out), &e),
		     AF_ECONFIG);
	cr_assert(strstr(e.msg,
			 "raft: cannot resolve \"no-such-host.invalid\"") ==
			  e.msg,
		  "%s", e.msg);
}

/* A StatefulSet pod NAME-N is node N+1. */
Test(cluster_file, id_from_hostname)
{
	uint64_t id = 0;

	cr_assert_eq(af_cluster_id_from_hostname("controld-0", &id), 0);
	cr_assert_eq(id, 1);
	cr_assert_eq(af_cluster_id_from_hostname("af-controld-12", &id), 0);
	cr_assert_eq(id, 13);
	cr_assert_eq(af_cluster_id_from_hostname("controld-2.controld.af", &id),
		     0);
	cr_assert_eq(id, 3);
	cr_assert_eq(af_cluster_id_from_hostname("controld", &id), AF_EINVAL);
	cr_assert_eq(af_cluster_id_from_hostname("controld-", &id), AF_EINVAL);
	cr_assert_eq(af_cluster_id_from_hostname("controld-x1", &id),
		     AF_EINVAL);
	cr_assert_eq(af_cluster_id_from_hostname("a.b-1", &id), AF_EINVAL);
	cr_assert_eq(af_cluster_id_from_hostname("c-65535", &id), AF_EINVAL);
	cr_assert_eq(af_cluster_id_from_hostname("c-65534", &id), 0);
	cr_assert_eq(id, 65535);
}

#define POD(n)                                                                 \
	"  - id: " #n "\n"                                                     \
	"    raft: 10.0.0." #n ":7101\n"                                       \
	"    raft_bind: 0.0.0.0:7101\n"                                        \
	"    api: tcp://controld-" #n ":7102\n"                                \
	"    pub: tcp://controld-" #n ":7103\n"                                \
	"    http: 0.0.0.0:7104\n"                                             \
	"    data: /var/lib/af\n"

/* One file for every pod: nodes on different hosts share a data path and
 * a wildcard http bind; the same on one host collides. */
Test(cluster_file, shared_paths_on_different_hosts)
{
	const char *text = "cluster: x\nnodes:\n" POD(1) POD(2) POD(3);
	struct af_cluster_cfg c;
	struct af_err e;

	cr_assert_eq(parse(text, &c, &e), 0, "%s", e.msg);
	cr_assert_str_eq(c.nodes[2].data, "/var/lib/af");
	cr_assert_str_eq(af_cluster_raft_listen(&c.nodes[0]), "0.0.0.0:7101");
	cr_assert_str_eq(af_cluster_raft_listen(&c.nodes[0]),
			 c.nodes[0].raft_bind);
	cr_assert_eq(c.install_snapshot_timeout_ms, 2000);
	/* Same host (every loopback address is one host). */
	expect_error("cluster: x\nnodes:\n" NODE1
		     "  - id: 2\n    raft: 127.0.0.2:7201\n"
		     "    api: tcp://127.0.0.1:7202\n"
		     "    pub: tcp://127.0.0.1:7203\n"
		     "    http: 0.0.0.0:7104\n    data: ./run/node2\n",
		     "/etc/af/cluster.yaml:13:11: http: 0.0.0.0:7104 collides "
		     "with node 1's 127.0.0.1:7104 on the same host");
	expect_error("cluster: x\nnodes:\n" NODE1
		     "  - id: 2\n    raft: 127.0.0.1:7201\n"
		     "    raft_bind: 0.0.0.0:7101\n"
		     "    api: tcp://127.0.0.1:7202\n"
		     "    pub: tcp://127.0.0.1:7203\n"
		     "    http: 127.0.0.1:7204\n    data: ./run/node2\n",
		     "/etc/af/cluster.yaml:10:11: raft: node 1 listens on the "
		     "same port on the same host");
	/* What peers and clients dial stays unique everywhere. */
	expect_error(
		"cluster: x\nnodes:\n" POD(
			1) "  - id: 2\n    raft: 10.0.0.2:7101\n"
			   "    api: tcp://controld-1:7102\n"
			   "    pub: tcp://controld-2:7103\n"
			   "    http: 0.0.0.0:7104\n    data: /var/lib/af\n",
		"/etc/af/cluster.yaml:12:10: api: address "
		"tcp://controld-1:7102 is already used by node 1");
	expect_error("cluster: x\nraft: {install_snapshot_timeout_ms: 5}\n"
		     "nodes:\n" NODE1,
		     "/etc/af/cluster.yaml:2:37: install_snapshot_timeout_ms: "
		     "5 is out of range [100, 600000]");
}

Test(cluster_file, fleet_forget)
{
	struct af_cluster_cfg c;
	struct af_err e = {{0}};

	cr_assert_eq(parse("cluster: x\nnodes:\n" NODE1, &c, &e), 0, "%s",
		     e.msg);
	cr_expect_eq(c.fleet_forget_s, 86400);
	cr_assert_eq(parse("cluster: x\nfleet: {forget_s: 40}\nnodes:\n" NODE1,
			   &c, &e),
		     0, "%s", e.msg);
	cr_expect_eq(c.fleet_forget_s, 40);
	expect_error("cluster: x\nfleet: {forget_s: 5}\nnodes:\n" NODE1,
		     "/etc/af/cluster.yaml:2:19: forget_s: 5 is out of range "
		     "[10, 315360000]");
	cr_expect_eq(c.fleet_lost_s, 30);
	cr_assert_eq(parse("cluster: x\nfleet: {forget_s: 40, lost_s: 25}\n"
			   "nodes:\n" NODE1,
			   &c, &e),
		     0, "%s", e.msg);
	cr_expect_eq(c.fleet_lost_s, 25);
	expect_error("cluster: x\nfleet: {lost_s: 5}\nnodes:\n" NODE1,
		     "/etc/af/cluster.yaml:2:17: lost_s: 5 is out of range "
		     "[20, 86400]");
	expect_error(
		"cluster: x\nfleet: {forget_s: 40, lost_s: 40}\nnodes:\n" NODE1,
		"/etc/af/cluster.yaml:2:8: fleet: lost_s (40) must be "
		"less than forget_s (40): a routerd is LOST before it is "
		"forgotten");
	expect_error("cluster: x\nfleet: {forget: 5}\nnodes:\n" NODE1,
		     "/etc/af/cluster.yaml:2:9: unknown key \"forget\"");
}

Test(cluster_file, history_retention)
{
	struct af_cluster_cfg c;
	struct af_err e = {{0}};

	cr_assert_eq(parse("cluster: x\nnodes:\n" NODE1, &c, &e), 0, "%s",
		     e.msg);
	cr_expect_eq(c.history_revisions, 1000);
	cr_expect_eq(c.history_days, 0);
	cr_assert_eq(parse("cluster: x\nhistory: {revisions: 0, days: 90}\n"
			   "nodes:\n" NODE1,
			   &c, &e),
		     0, "%s", e.msg);
	cr_expect_eq(c.history_revisions, 0);
	cr_expect_eq(c.history_days, 90);
	expect_error(
		"cluster: x\nhistory: {revisions: 2000000}\nnodes:\n" NODE1,
		"/etc/af/cluster.yaml:2:22: revisions: 2000000 is out of "
		"range [0, 1000000]");
	expect_error("cluster: x\nhistory: {keep: 5}\nnodes:\n" NODE1,
		     "/etc/af/cluster.yaml:2:11: unknown key \"keep\"");
}

/* ---- backup: (scheduled backups) ------------------------------------- */

#define BACKUP_HEAD "cluster: local\nnodes:\n" NODE1

Test(cluster_file, backup_accepted)
{
	struct af_cluster_cfg c;
	struct af_err e;
	int rc = parse(BACKUP_HEAD "backup:\n  dir: ./backups\n  every: 1h\n"
				   "  keep: 3\n",
		       &c, &e);

	cr_assert_eq(rc, 0, "%s", e.msg);
	cr_assert(c.backup);
	cr_assert_str_eq(c.backup_dir, "/etc/af/./backups");
	cr_assert_eq(c.backup_every_ms, 3600000);
	cr_assert_eq(c.backup_keep, 3);
}

Test(cluster_file, backup_defaults_and_absent)
{
	struct af_cluster_cfg c;
	struct af_err e;
	int rc =
		parse(BACKUP_HEAD "backup: {dir: /var/backups/af, every: 1s}\n",
		      &c, &e);

	cr_assert_eq(rc, 0, "%s", e.msg);
	cr_assert_str_eq(c.backup_dir, "/var/backups/af");
	cr_assert_eq(c.backup_every_ms, 1000);
	cr_assert_eq(c.backup_keep, AF_BACKUP_DEFAULT_KEEP);
	rc = parse(BACKUP_HEAD, &c, &e);
	cr_assert_eq(rc, 0, "%s", e.msg);
	cr_assert_not(c.backup);
}

Test(cluster_file, backup_errors_with_position)
{
	expect_error(BACKUP_HEAD "backup:\n  every: 1h\n",
		     "/etc/af/cluster.yaml:10:3: backup: missing \"dir\"");
	expect_error(BACKUP_HEAD "backup:\n  dir: ./b\n",
		     "/etc/af/cluster.yaml:10:3: backup: missing \"every\"");
	expect_error(BACKUP_HEAD "backup:\n  dir: ./b\n  every: 500ms\n",
		     "/etc/af/cluster.yaml:11:10: backup: every: expected a "
		     "duration from 1s to 720h (e.g. 1h), got \"500ms\"");
	expect_error(BACKUP_HEAD "backup:\n  dir: ./b\n  every: 1d\n",
		     "/etc/af/cluster.yaml:11:10: backup: every: expected a "
		     "duration from 1s to 720h (e.g. 1h), got \"1d\"");
	expect_error(BACKUP_HEAD "backup:\n  dir: ./b\n  every: 721h\n",
		     "/etc/af/cluster.yaml:11:10: backup: every: expected a "
		     "duration from 1s to 720h (e.g. 1h), got \"721h\"");
	expect_error(BACKUP_HEAD "backup:\n  dir: ./b\n  every: soon\n",
		     "/etc/af/cluster.yaml:11:10: backup: every: expected a "
		     "duration from 1s to 720h (e.g. 1h), got \"soon\"");
	expect_error(BACKUP_HEAD
		     "backup:\n  dir: ./b\n  every: 1h\n  keep: 0\n",
		     "/etc/af/cluster.yaml:12:9: keep: 0 is out of range [1, "
		     "1000]");
	expect_error(BACKUP_HEAD
		     "backup:\n  dir: ./b\n  every: 1h\n  keep: 1001\n",
		     "/etc/af/cluster.yaml:12:9: keep: 1001 is out of range "
		     "[1, 1000]");
	expect_error(BACKUP_HEAD
		     "backup:\n  dir: ./b\n  every: 1h\n  kept: 2\n",
		     "/etc/af/cluster.yaml:12:3: unknown key \"kept\"");
	expect_error(BACKUP_HEAD "backup: ./b\n",
		     "/etc/af/cluster.yaml:9:9: backup: expected a mapping, "
		     "got a scalar");
}
