/*
 * Commit path figures: C concurrent clients doing W acknowledged writes (or
 * writing for D seconds) against a 3-node cluster, then optionally leader
 * failover: SIGKILL the leader, time until the next write is acknowledged,
 * restart the killed node, wait until it has caught up; R rounds.
 *
 * Two targets, so the same load runs against both:
 *   -c CLUSTER.yaml   controld: Request{propose=Command{noop}} over NNG
 *                     req/rep, one req socket per client, following
 *                     NOT_LEADER to the leader.
 *   --etcd URL,...    etcd v3 JSON gateway: POST /v3/kv/put over a kept-alive
 *                     HTTP/1.1 connection per client, sent to the leader.
 *
 * With --launch CMD the bench starts the nodes itself (`sh -c "exec CMD"`,
 * every %d replaced by the node's position 1..N in the cluster file or URL
 * list), which it needs to kill and restart them; it stops them at exit.
 * Without arguments (as `make bench` runs it) it prints how to run it.
 *
 * Prints one parsable line per figure:
 *   commit <label> clients=C writes=W secs=S commits_per_s=X p50_ms=..
 *   failover <label> rounds=R median_ms=.. max_ms=..   (SIGKILL)
 *   restart <label> rounds=R median_ms=.. max_ms=..    (SIGTERM)
 * Asserts nothing. COMMIT_DEBUG=1 traces every failover attempt on stderr.
 */
#include "bench/lib/commit.h"

#include <dirent.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---------------------------------------------------------------- load */

struct run {
	const struct target *t;
	unsigned leader;
	uint64_t writes; /* 0: until deadline */
	uint64_t deadline_ns;
	atomic_uint_fast64_t next;
	atomic_uint_fast64_t errors;
};

struct client {
	struct run *run;
	unsigned id;
	uint64_t *lat; /* ns */
	size_t n, cap;
	int rc;
};

static void *client_main(void *arg)
{
	struct client *cl = arg;
	struct run *r = cl->run;
	struct conn c = {.t = r->t, .idx = r->leader};

	if (r->t->proto == PROTO_ETCD &&
	    (c.buf = malloc(HTTP_MAX + 1)) == NULL) {
		cl->rc = -1;
		return NULL;
	}
	for (;;) {
		uint64_t seq, t0;
		unsigned tries = 0;
		int rv;

		if (r->writes != 0) {
			seq = atomic_fetch_add(&r->next, 1);
			if (seq >= r->writes)
				break;
		} else {
			if (af_mono_ns() >= r->deadline_ns)
				break;
			seq = atomic_fetch_add(&r->next, 1);
		}
		t0 = af_mono_ns();
		while ((rv = conn_write(&c, cl->id, seq)) != WR_OK) {
			if (rv == WR_FAIL)
				atomic_fetch_add(&r->errors, 1);
			if (++tries > 100) {
				fprintf(stderr,
					"commit: client %u: write "
					"keeps failing\n",
					cl->id);
				cl->rc = -1;
				goto out;
			}
			if (rv == WR_FAIL) {
				int l = find_leader(r->t, -1);

				pause_ms(RETRY_PAUSE_MS);
				if (l >= 0 && (unsigned)l != c.idx) {
					conn_close(&c);
					c.idx = (unsigned)l;
				}
			}
		}
		if (cl->n == cl->cap) {
			size_t cap = cl->cap ? cl->cap * 2 : 4096;
			uint64_t *p = realloc(cl->lat, cap * sizeof(*p));

			if (p == NULL) {
				cl->rc = -1;
				goto out;
			}
			cl->lat = p;
			cl->cap = cap;
		}
		cl->lat[cl->n++] = af_mono_ns() - t0;
	}
out:
	conn_close(&c);
	free(c.buf);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v. */
static double pct_ms(const uint64_t *v, size_t n, unsigned p)
{
	size_t rank = (n * p + 99) / 100;

	if (n == 0)
		return 0;
	return (double)v[rank ? rank - 1 : 0] / 1e6;
}

/* Context switches of every thread of pid so far (-1: unreadable). */
static long long ctx_switches(pid_t pid)
{
	char path[64], line[256];
	long long sum = 0;
	DIR *d;
	struct dirent *e;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		char f[128];
		FILE *fp;

		if (e->d_name[0] == '.')
			continue;
		snprintf(f, sizeof(f), "%s/%.32s/status", path, e->d_name);
		if ((fp = fopen(f, "r")) == NULL)
			continue;
		while (fgets(line, sizeof(line), fp) != NULL) {
			long long v;

			if (sscanf(line, "voluntary_ctxt_switches: %lld", &v) ==
				    1 ||
			    sscanf(line, "nonvoluntary_ctxt_switches: %lld",
				   &v) == 1)
				sum += v;
		}
		fclose(fp);
	}
	closedir(d);
	return sum;
}

static int load(const struct target *t, unsigned clients, uint64_t writes,
		unsigned seconds, const char *what)
{
	long long cs0 = -1, cs1 = -1;
	struct run r = {.t = t, .writes = writes};
	struct client *cl = calloc(clients, sizeof(*cl));
	pthread_t *th = calloc(clients, sizeof(*th));
	uint64_t *all = NULL, t0, dt;
	size_t n = 0, k = 0;
	int leader, rc = -1;
	unsigned started = 0;

	if (cl == NULL || th == NULL)
		goto out;
	if (wait_writable(t, READY_TIMEOUT_MS, &leader) != 0) {
		fprintf(stderr, "commit: %s: no writable leader\n", t->label);
		goto out;
	}
	r.leader = (unsigned)leader;
	if (n_launched > 0)
		cs0 = ctx_switches(node_pid[leader]);
	t0 = af_mono_ns();
	r.deadline_ns = t0 + (uint64_t)seconds * 1000000000u;
	for (; started < clients; started++) {
		cl[started].run = &r;
		cl[started].id = started;
		if (pthread_create(&th[started], NULL, client_main,
				   &cl[started]) != 0)
			break;
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	dt = af_mono_ns() - t0;
	if (cs0 >= 0)
		cs1 = ctx_switches(node_pid[leader]);
	for (unsigned i = 0; i < started; i++)
		n += cl[i].n;
	if (started < clients || n == 0 || (all = malloc(n * 8)) == NULL)
		goto out;
	rc = 0;
	for (unsigned i = 0; i < started; i++) {
		memcpy(all + k, cl[i].lat, cl[i].n * 8);
		k += cl[i].n;
		if (cl[i].rc != 0)
			rc = -1;
	}
	qsort(all, n, sizeof(*all), cmp_u64);
	printf("%s %s clients=%u writes=%zu secs=%.2f commits_per_s=%.0f "
	       "p50_ms=%.2f p99_ms=%.2f max_ms=%.2f errors=%llu "
	       "leader_ctxsw_per_commit=%.1f\n",
	       what, t->label, clients, n, (double)dt / 1e9,
	       (double)n / ((double)dt / 1e9), pct_ms(all, n, 50),
	       pct_ms(all, n, 99), (double)all[n - 1] / 1e6,
	       (unsigned long long)atomic_load(&r.errors),
	       cs1 >= cs0 && cs0 >= 0 ? (double)(cs1 - cs0) / (double)n : -1.0);
	fflush(stdout);
out:
	for (unsigned i = 0; i < clients && cl != NULL; i++)
		free(cl[i].lat);
	free(all);
	free(cl);
	free(th);
	return rc;
}

/* ------------------------------------------------------------- futexes */

/* `strace -f -c -e trace=futex` attached to the leader (every thread) while
 * `clients` clients make `writes` commits; prints the futex calls per
 * commit. Needs --launch (the bench knows the pids) and strace. */
static int futex_run(const struct target *t, unsigned clients, uint64_t writes)
{
	char out[] = "/tmp/af-commit-strace.XXXXXX", pidstr[32], line[512];
	unsigned long long calls = 0;
	int leader, fd, status;
	pid_t st;
	FILE *fp;

	if (wait_writable(t, READY_TIMEOUT_MS, &leader) != 0 ||
	    node_pid[leader] <= 0)
		return -1;
	if ((fd = mkstemp(out)) < 0)
		return -1;
	close(fd);
	snprintf(pidstr, sizeof(pidstr), "%ld", (long)node_pid[leader]);
	st = fork();
	if (st < 0) {
		unlink(out);
		return -1;
	}
	if (st == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execlp("strace", "strace", "-q", "-f", "-c", "-e",
		       "trace=futex", "-o", out, "-p", pidstr, (char *)NULL);
		_exit(127);
	}
	pause_ms(1000); /* strace attaches to every thread */
	if (load(t, clients, writes, 0, "traced") != 0) {
		kill(st, SIGKILL);
		waitpid(st, NULL, 0);
		unlink(out);
		return -1;
	}
	kill(st, SIGINT);
	waitpid(st, &status, 0);
	if ((fp = fopen(out, "r")) != NULL) {
		while (fgets(line, sizeof(line), fp) != NULL) {
			double pct, secs;
			unsigned long long usecs, n;
			char name[64];

			/* % time seconds usecs/call calls [errors] syscall */
			if (sscanf(line, "%lf %lf %llu %llu %*s %63s", &pct,
				   &secs, &usecs, &n, name) == 5 ||
			    sscanf(line, "%lf %lf %llu %llu %63s", &pct, &secs,
				   &usecs, &n, name) == 5)
				if (strcmp(name, "futex") == 0)
					calls = n;
		}
		fclose(fp);
	}
	unlink(out);
	printf("futex %s clients=%u commits=%llu calls=%llu "
	       "per_commit=%.1f\n",
	       t->label, clients, (unsigned long long)writes, calls,
	       (double)calls / (double)writes);
	fflush(stdout);
	return 0;
}

/* ------------------------------------------------------------ failover */

/* Writes through any live node until one is acknowledged (the dead node is
 * skipped). Returns the index of the node that acknowledged; *ret_elected
 * is when a live node first said it leads (at the latest, the ack). */
static int write_any(const struct target *t, int dead, uint64_t deadline,
		     uint64_t *ret_elected)
{
	char buf[HTTP_MAX + 1];
	struct conn c = {.t = t, .buf = buf, .timeout_ms = FAILOVER_ATTEMPT_MS};
	unsigned next = 1;
	uint64_t elected = 0;

	while (af_mono_ms() < deadline) {
		int rv;

		if ((int)c.idx == dead) {
			c.idx = next++ % t->n;
			continue;
		}
		rv = conn_write(&c, 0, 0);
		if (getenv("COMMIT_DEBUG"))
			fprintf(stderr,
				"commit: debug: %llu ms node %u rv %d\n",
				(unsigned long long)af_mono_ms(), c.idx + 1,
				rv);
		if (rv == WR_OK) {
			conn_close(&c);
			*ret_elected = elected ? elected : af_mono_ns();
			return (int)c.idx;
		}
		if (elected == 0 && find_leader(t, dead) >= 0)
			elected = af_mono_ns();
		if (rv == WR_FAIL) {
			conn_close(&c);
			c.idx = next++ % t->n;
		}
		/* Also when a follower still points at the dead leader. A
		 * short pause: it is the resolution of the figure. */
		if (rv == WR_FAIL || (int)c.idx == dead)
			pause_ms(FAILOVER_PAUSE_MS);
	}
	return -1;
}

/* Node i answers, knows a leader and has applied what the leader had
 * committed when we asked. */
static int wait_caught_up(const struct target *t, unsigned i, uint64_t deadline)
{
	while (af_mono_ms() < deadline) {
		int l = find_leader(t, -1);
		struct node_state ls, s;

		if (l >= 0 && probe(t, (unsigned)l, &ls) == 0 &&
		    probe(t, i, &s) == 0 && s.leader_id != 0 &&
		    s.applied >= ls.commit)
			return 0;
		pause_ms(50);
	}
	return -1;
}

static uint64_t median(const uint64_t *v, unsigned n)
{
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int failover(const struct target *t, unsigned rounds, int sig,
		    const char *what)
{
	uint64_t ms[64], el[64];
	unsigned done = 0, bad_exit = 0;

	for (unsigned r = 0; r < rounds && r < 64; r++) {
		uint64_t t0, t1, te;
		int leader, next, code = 0;

		if (wait_writable(t, READY_TIMEOUT_MS, &leader) != 0) {
			fprintf(stderr,
				"commit: %s: no leader before round "
				"%u\n",
				t->label, r + 1);
			return -1;
		}
		t0 = af_mono_ns();
		if (getenv("COMMIT_DEBUG"))
			fprintf(stderr, "commit: debug: %llu ms stop node %d\n",
				(unsigned long long)af_mono_ms(), leader + 1);
		signal_node((unsigned)leader, sig);
		next = write_any(t, leader, af_mono_ms() + READY_TIMEOUT_MS,
				 &te);
		t1 = af_mono_ns();
		if (next < 0) {
			fprintf(stderr,
				"commit: %s: no write acknowledged "
				"within %u ms of stopping node %d\n",
				t->label, READY_TIMEOUT_MS, leader + 1);
			return -1;
		}
		code = reap_node((unsigned)leader, 30000);
		if (sig != SIGKILL && code != 0 && code != -3)
			bad_exit++;
		el[done] = (te - t0) / 1000000u;
		ms[done++] = (t1 - t0) / 1000000u;
		fprintf(stderr,
			"commit: %s: %s round %u: stopped node %d (%s, exit "
			"%d); node %d acknowledged a write after %llu ms (a "
			"leader after %llu ms)\n",
			t->label, what, r + 1, leader + 1,
			sig == SIGKILL ? "SIGKILL" : "SIGTERM", code, next + 1,
			(unsigned long long)ms[done - 1],
			(unsigned long long)el[done - 1]);
		if (launch((unsigned)leader) != 0 ||
		    wait_caught_up(t, (unsigned)leader,
				   af_mono_ms() + READY_TIMEOUT_MS) != 0) {
			fprintf(stderr,
				"commit: %s: node %d did not catch up "
				"after restart\n",
				t->label, leader + 1);
			return -1;
		}
	}
	if (done == 0)
		return 0;
	qsort(ms, done, sizeof(ms[0]), cmp_u64);
	qsort(el, done, sizeof(el[0]), cmp_u64);
	printf("%s %s rounds=%u median_ms=%llu min_ms=%llu max_ms=%llu "
	       "leader_median_ms=%llu bad_exits=%u\n",
	       what, t->label, done, (unsigned long long)median(ms, done),
	       (unsigned long long)ms[0], (unsigned long long)ms[done - 1],
	       (unsigned long long)median(el, done), bad_exit);
	fflush(stdout);
	return 0;
}

/* ----------------------------------------------------------------- CLI */

static int parse_etcd(struct target *t, const char *list)
{
	const char *p = list;

	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		unsigned port;
		char host[64];

		if (t->n == MAX_NODES || len >= URL_MAX)
			return -1;
		memcpy(t->url[t->n], p, len);
		t->url[t->n][len] = '\0';
		if (sscanf(t->url[t->n], "http://%63[0-9.]:%u", host, &port) !=
			    2 ||
		    port == 0 || port > 65535)
			return -1;
		snprintf(t->host[t->n], sizeof(t->host[0]), "%s", host);
		t->port[t->n] = (uint16_t)port;
		t->n++;
		p = comma ? comma + 1 : p + len;
	}
	return t->n ? 0 : -1;
}

static int parse_af(struct target *t, const char *file)
{
	struct af_err err = {{0}};

	if (af_cluster_load(file, &t->cfg, &err) != 0) {
		fprintf(stderr, "commit: %s\n", err.msg);
		return -1;
	}
	t->n = t->cfg.n_nodes;
	for (unsigned i = 0; i < t->n; i++)
		af_cluster_url(&t->cfg, t->cfg.nodes[i].api, t->url[i],
			       sizeof(t->url[i]));
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: commit (-c CLUSTER.yaml | --etcd URL,URL,...) "
		"[options]\n"
		"  -n, --clients LIST   concurrent clients per run (1,16; "
		"default 1)\n"
		"  -w, --writes W       writes per run (default 2000)\n"
		"  -d, --seconds D      write for D seconds instead\n"
		"      --launch CMD     start node i as `sh -c \"exec CMD\"`, "
		"%%d -> i (1..N);\n"
		"                       stopped with SIGTERM at exit\n"
		"      --failover R     then R rounds: SIGKILL the leader, "
		"time "
		"the next\n"
		"                       acknowledged write, restart, wait for "
		"catch-up\n"
		"                       (needs --launch)\n"
		"      --futex N        then N commits at 1 and at 16 clients "
		"under\n"
		"                       strace -f -c -e futex on the leader "
		"(needs --launch)\n"
		"      --restarts R     then R rounds of the same with "
		"SIGTERM (a planned\n"
		"                       restart; prints `restart ...`)\n"
		"      --label NAME     name printed in results (default af "
		"or etcd)\n"
		"af writes are Command{noop}; etcd writes are 16-byte puts.\n"
		"The side-by-side comparison: sh bench/commit.sh\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"cluster", required_argument, NULL, 'c'},
		{"etcd", required_argument, NULL, 'e'},
		{"clients", required_argument, NULL, 'n'},
		{"writes", required_argument, NULL, 'w'},
		{"seconds", required_argument, NULL, 'd'},
		{"launch", required_argument, NULL, 'L'},
		{"failover", required_argument, NULL, 'F'},
		{"restarts", required_argument, NULL, 'R'},
		{"futex", required_argument, NULL, 'f'},
		{"label", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static struct target t;
	const char *clients = "1", *cluster = NULL, *etcd = NULL;
	unsigned long writes = 2000, seconds = 0, rounds = 0, restarts = 0;
	unsigned long futex_writes = 0;
	int ch, rc = 0;

	if (argc == 1) {
		printf("commit: needs a cluster; the controld vs etcd figures "
		       "come from `sh bench/commit.sh` (commit --help)\n");
		return 0;
	}
	while ((ch = getopt_long(argc, argv, "c:n:w:d:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cluster = optarg;
			break;
		case 'e':
			etcd = optarg;
			break;
		case 'n':
			clients = optarg;
			break;
		case 'w':
			writes = strtoul(optarg, NULL, 10);
			break;
		case 'd':
			seconds = strtoul(optarg, NULL, 10);
			break;
		case 'L':
			launch_cmd = optarg;
			break;
		case 'F':
			rounds = strtoul(optarg, NULL, 10);
			break;
		case 'f':
			futex_writes = strtoul(optarg, NULL, 10);
			break;
		case 'R':
			restarts = strtoul(optarg, NULL, 10);
			break;
		case 'l':
			t.label = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if ((cluster == NULL) == (etcd == NULL) || optind != argc ||
	    ((rounds > 0 || restarts > 0) && launch_cmd == NULL) ||
	    rounds > 64 || restarts > 64 || futex_writes > 1000000 ||
	    (futex_writes > 0 && launch_cmd == NULL) ||
	    (seconds == 0 && writes == 0) || seconds > 3600) {
		usage(stderr);
		return 2;
	}
	t.proto = cluster ? PROTO_AF : PROTO_ETCD;
	if (t.label == NULL)
		t.label = cluster ? "af" : "etcd";
	if (cluster ? parse_af(&t, cluster) != 0 : parse_etcd(&t, etcd) != 0) {
		fprintf(stderr, "commit: bad cluster file or endpoint list\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (launch_cmd != NULL) {
		n_launched = t.n;
		for (unsigned i = 0; i < t.n; i++)
			if (launch(i) != 0)
				rc = 1;
	}
	for (const char *p = clients; rc == 0 && *p;) {
		char *end;
		unsigned long c = strtoul(p, &end, 10);

		if (c == 0 || c > MAX_CLIENTS || (*end != ',' && *end)) {
			fprintf(stderr, "commit: bad --clients\n");
			rc = 2;
			break;
		}
		if (load(&t, (unsigned)c, seconds ? 0 : writes,
			 (unsigned)seconds, "commit") != 0)
			rc = 1;
		p = *end ? end + 1 : end;
	}
	if (rc == 0 && futex_writes > 0 &&
	    (futex_run(&t, 1, futex_writes) != 0 ||
	     futex_run(&t, 16, futex_writes) != 0))
		rc = 1;
	if (rc == 0 && restarts > 0 &&
	    failover(&t, (unsigned)restarts, SIGTERM, "restart") != 0)
		rc = 1;
	if (rc == 0 && rounds > 0 &&
	    failover(&t, (unsigned)rounds, SIGKILL, "failover") != 0)
		rc = 1;
	if (launch_cmd != NULL)
		stop_all();
	return rc;
}
