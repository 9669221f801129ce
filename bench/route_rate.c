/* Open-loop HTTP/1.1 load at a fixed rate: request k of the run is due at
 * t0 + k/R whatever happened to the earlier ones, and its latency is taken
 * from that due time, so a stalled server is charged for the requests that
 * queued up behind the stall (no coordinated omission).
 *
 * N keep-alive connections, at most one request outstanding on each (no
 * pipelining): a due request goes to the connection that has been idle
 * longest; when every connection is busy it waits, and that wait counts in
 * its latency. Responses must carry Content-Length. One or two threads, each
 * with its own epoll set, a timerfd for the schedule, half the connections
 * and every other request of the schedule. Latencies go to a fixed histogram:
 * 1 us buckets up to 100 ms, 1 ms buckets up to 100 s. Prints figures;
 * asserts nothing. Run without arguments it prints its usage. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S 1000000000ull
#define HIST_US 100000u	 /* 1 us buckets: [0, 100 ms) */
#define HIST_MS 100000u	 /* 1 ms buckets: [100 ms, 100.1 s) */
#define RBUF (64 * 1024) /* one response, headers and body */
#define DRAIN_NS (5 * NS_PER_S)
#define MAX_THREADS 2

struct hist {
	uint64_t n, max_ns;
	uint64_t us[HIST_US];
	uint64_t ms[HIST_MS];
};

struct conn {
	int fd;
	bool busy;	  /* a request is outstanding */
	bool want_out;	  /* EPOLLOUT registered: request partly written */
	size_t wr;	  /* bytes of the request written */
	size_t len;	  /* bytes of the response read */
	uint64_t due_ns;  /* scheduled start of the outstanding request */
	uint64_t sent_ns; /* when its first byte went out */
	char *buf;	  /* RBUF bytes */
};

struct worker {
	int id, ep, tfd;
	pthread_t th;
	struct conn *conns;
	size_t nconns;
	size_t *idle; /* ring of indices into conns, oldest idle first */
	size_t idle_head, idle_n;
	uint64_t total, sent; /* requests of this worker's schedule */
	uint64_t armed_ns;    /* timerfd expiry, 0 when disarmed */
	uint64_t done, non2xx, errors, reconnects, last_ns;
	struct hist *lat, *lag, *svc;
};

static struct {
	const char *host, *port, *path, *body_file, *label;
	unsigned long conns, rate, secs, threads;
	struct addrinfo *ai;
	char *req;
	size_t req_len;
	uint64_t t0;
} cfg = {.path = "/v1/route",
	 .conns = 16,
	 .rate = 10000,
	 .secs = 10,
	 .threads = 1};

static void usage(FILE *f)
{
	fprintf(f, "usage: route_rate [-c CONNS] [-r RATE] [-d SECONDS] "
		   "[-t THREADS] [-p PATH] [-l LABEL] -b BODY_FILE HOST:PORT\n"
		   "Open-loop HTTP/1.1 POST load at a fixed rate; latency from "
		   "each request's scheduled start.\n"
		   "  -c  keep-alive connections, one request outstanding on "
		   "each (16)\n"
		   "  -r  requests per second (10000)\n"
		   "  -d  duration in seconds (10)\n"
		   "  -t  threads, 1 or 2 (1)\n"
		   "  -p  request path (/v1/route)\n"
		   "  -b  file whose contents are the request body "
		   "(Content-Type: application/json)\n"
		   "  -l  print one markdown table row named LABEL on stdout, "
		   "the details on stderr\n");
}

static void die_usage(const char *what, const char *arg)
{
	fprintf(stderr, "route_rate: %s: %s (see route_rate -h)\n", what, arg);
	exit(2);
}

static unsigned long num_arg(const char *s, unsigned long lo, unsigned long hi,
			     const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	if (*s < '0' || *s > '9')
		die_usage(what, s);
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		die_usage(what, s);
	return v;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* Due time of request k of the whole schedule, without overflowing. */
static uint64_t due_of(uint64_t k)
{
	uint64_t r = cfg.rate;

	return cfg.t0 + (k / r) * NS_PER_S + (k % r) * NS_PER_S / r;
}

static void hist_add(struct hist *h, uint64_t ns)
{
	uint64_t us = ns / 1000;

	h->n++;
	if (ns > h->max_ns)
		h->max_ns = ns;
	if (us < HIST_US) {
		h->us[us]++;
	} else {
		uint64_t ms = (us - HIST_US) / 1000;
		h->ms[ms < HIST_MS ? ms : HIST_MS - 1]++;
	}
}

static void hist_merge(struct hist *into, const struct hist *h)
{
	into->n += h->n;
	if (h->max_ns > into->max_ns)
		into->max_ns = h->max_ns;
	for (size_t i = 0; i < HIST_US; i++)
		into->us[i] += h->us[i];
	for (size_t i = 0; i < HIST_MS; i++)
		into->ms[i] += h->ms[i];
}

/* Lower bound of the bucket holding the q-quantile, in microseconds; the
 * maximum itself is exact. */
static double hist_q(const struct hist *h, double q)
{
	uint64_t rank, seen = 0;

	if (h->n == 0)
		return 0;
	rank = (uint64_t)(q * (double)h->n + 0.999999);
	if (rank == 0)
		rank = 1;
	if (rank >= h->n)
		return (double)h->max_ns / 1000.0;
	for (size_t i = 0; i < HIST_US; i++) {
		seen += h->us[i];
		if (seen >= rank)
			return (double)i;
	}
	for (size_t i = 0; i < HIST_MS; i++) {
		seen += h->ms[i];
		if (seen >= rank)
			return (double)HIST_US + (double)i * 1000.0;
	}
	return (double)h->max_ns / 1000.0;
}

static int conn_open(void)
{
	int fd, one = 1;

	fd = socket(cfg.ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, cfg.ai->ai_addr, cfg.ai->ai_addrlen) != 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void idle_push(struct worker *w, size_t i)
{
	w->idle[(w->idle_head + w->idle_n) % w->nconns] = i;
	w->idle_n++;
}

static size_t idle_pop(struct worker *w)
{
	size_t i = w->idle[w->idle_head];

	w->idle_head = (w->idle_head + 1) % w->nconns;
	w->idle_n--;
	return i;
}

static int conn_watch(struct worker *w, size_t i, int op)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = i};

	if (w->conns[i].want_out)
		ev.events |= EPOLLOUT;
	return epoll_ctl(w->ep, op, w->conns[i].fd, &ev);
}

/* Replaces a connection the server closed or broke; it joins the idle ring
 * again when the new one is up. A connection that cannot be reopened stays
 * out of the ring. */
static void conn_reset(struct worker *w, size_t i)
{
	struct conn *c = &w->conns[i];

	epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->busy = c->want_out = false;
	c->wr = c->len = 0;
	c->fd = conn_open();
	w->reconnects++;
	if (c->fd < 0 || conn_watch(w, i, EPOLL_CTL_ADD) != 0) {
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		return;
	}
	idle_push(w, i);
}

static void conn_fail(struct worker *w, size_t i)
{
	if (w->conns[i].busy)
		w->errors++;
	conn_reset(w, i);
}

/* Writes what is left of the request; registers EPOLLOUT while partial. */
static void conn_write(struct worker *w, size_t i)
{
	struct conn *c = &w->conns[i];

	while (c->wr < cfg.req_len) {
		ssize_t n = send(c->fd, cfg.req + c->wr, cfg.req_len - c->wr,
				 MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!c->want_out) {
				c->want_out = true;
				if (conn_watch(w, i, EPOLL_CTL_MOD) != 0)
					conn_fail(w, i);
			}
			return;
		}
		if (n <= 0) {
			conn_fail(w, i);
			return;
		}
		c->wr += (size_t)n;
	}
	if (c->want_out) {
		c->want_out = false;
		if (conn_watch(w, i, EPOLL_CTL_MOD) != 0)
			conn_fail(w, i);
	}
}

/* Sends every due request an idle connection can take; arms the timer for
 * the next one. */
static void dispatch(struct worker *w, uint64_t now)
{
	uint64_t next = 0;

	while (w->sent < w->total && w->idle_n > 0) {
		uint64_t k = (uint64_t)w->id + w->sent * cfg.threads;
		uint64_t due = due_of(k);
		size_t i;

		if (due > now) {
			now = now_ns();
			if (due > now) {
				next = due;
				break;
			}
		}
		i = idle_pop(w);
		w->conns[i].busy = true;
		w->conns[i].due_ns = due;
		w->conns[i].sent_ns = now;
		w->conns[i].wr = w->conns[i].len = 0;
		w->sent++;
		now = now_ns();
		hist_add(w->lag, now - due);
		conn_write(w, i);
	}
	if (next != w->armed_ns) {
		struct itimerspec its = {{0, 0}, {0, 0}};

		its.it_value.tv_sec = (time_t)(next / NS_PER_S);
		its.it_value.tv_nsec = (long)(next % NS_PER_S);
		timerfd_settime(w->tfd, TFD_TIMER_ABSTIME, &its, NULL);
		w->armed_ns = next;
	}
}

/* Parses the response in c->buf: 1 complete (status in *status, connection
 * to be closed in *close_after), 0 incomplete, -1 malformed. */
static int parse_response(const struct conn *c, int *status, bool *close_after)
{
	const char *p = c->buf, *end, *line;
	size_t hdr, clen = 0;
	bool have_len = false;

	end = memmem(p, c->len, "\r\n\r\n", 4);
	if (end == NULL)
		return c->len >= RBUF ? -1 : 0;
	hdr = (size_t)(end - p) + 4;
	if (c->len < 12 || strncmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ')
		return -1;
	*status = atoi(p + 9);
	*close_after = strncmp(p, "HTTP/1.0", 8) == 0;
	line = (const char *)memchr(p, '\n', hdr) + 1;
	while (line < end) {
		const char *eol = memchr(line, '\n', (size_t)(end + 2 - line));
		if (eol == NULL)
			return -1;
		if (strncasecmp(line, "content-length:", 15) == 0) {
			char *e;
			clen = strtoul(line + 15, &e, 10);
			if (e == line + 15)
				return -1;
			have_len = true;
		} else if (strncasecmp(line, "transfer-encoding:", 18) == 0) {
			return -1;
		} else if (strncasecmp(line, "connection:", 11) == 0) {
			const char *v = line + 11;
			while (*v == ' ')
				v++;
			*close_after = strncasecmp(v, "close", 5) == 0;
		}
		line = eol + 1;
	}
	if (!have_len)
		clen = 0;
	if (hdr + clen > RBUF)
		return -1;
	if (c->len < hdr + clen)
		return 0;
	/* Nothing was pipelined, so nothing may follow the response. */
	return c->len == hdr + clen ? 1 : -1;
}

static void conn_read(struct worker *w, size_t i)
{
	struct conn *c = &w->conns[i];
	ssize_t n;
	int status = 0, rc;
	bool close_after = false;
	uint64_t now;

	n = recv(c->fd, c->buf + c->len, RBUF - c->len, 0);
	if (n < 0 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		conn_fail(w, i);
		return;
	}
	if (!c->busy) {
		/* Bytes nobody asked for. */
		w->errors++;
		conn_reset(w, i);
		return;
	}
	c->len += (size_t)n;
	rc = parse_response(c, &status, &close_after);
	if (rc == 0)
		return;
	if (rc < 0) {
		conn_fail(w, i);
		return;
	}
	now = now_ns();
	hist_add(w->lat, now - c->due_ns);
	hist_add(w->svc, now - c->sent_ns);
	w->done++;
	w->last_ns = now;
	if (status < 200 || status > 299)
		w->non2xx++;
	c->busy = false;
	c->len = 0;
	if (close_after)
		conn_reset(w, i);
	else
		idle_push(w, i);
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[64];
	uint64_t end = cfg.t0 + cfg.secs * NS_PER_S + DRAIN_NS;

	/* Wake at the due time, not up to 50 us after it. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	dispatch(w, now_ns());
	for (;;) {
		uint64_t now = now_ns();
		size_t live = 0;
		bool busy = false;
		int n;

		for (size_t i = 0; i < w->nconns; i++) {
			live += w->conns[i].fd >= 0;
			busy = busy || w->conns[i].busy;
		}
		if ((w->sent == w->total && !busy) || live == 0 || now >= end)
			break;
		n = epoll_wait(w->ep, evs, 64, 100);
		if (n < 0 && errno != EINTR) {
			perror("route_rate: epoll_wait");
			break;
		}
		for (int e = 0; e < n; e++) {
			uint64_t tag = evs[e].data.u64;
			if (tag == UINT64_MAX) {
				uint64_t ticks;
				if (read(w->tfd, &ticks, sizeof(ticks)) < 0 &&
				    errno != EAGAIN)
					perror("route_rate: timerfd");
				w->armed_ns = 0;
				continue;
			}
			size_t i = (size_t)tag;
			if (w->conns[i].fd < 0)
				continue;
			if (evs[e].events & (EPOLLERR | EPOLLHUP) &&
			    !(evs[e].events & EPOLLIN)) {
				conn_fail(w, i);
				continue;
			}
			if ((evs[e].events & EPOLLOUT) && w->conns[i].busy)
				conn_write(w, i);
			if (evs[e].events & EPOLLIN && w->conns[i].fd >= 0)
				conn_read(w, i);
		}
		dispatch(w, now_ns());
	}
	return NULL;
}

static void load_body(void)
{
	FILE *f = fopen(cfg.body_file, "rb");
	char *body;
	long sz = -1;
	int hl;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 ||
	    sz > 1024 * 1024 || fseek(f, 0, SEEK_SET) != 0)
		die_usage("cannot read body file (at most 1 MiB)",
			  cfg.body_file);
	body = malloc((size_t)sz + 1);
	if (body == NULL || fread(body, 1, (size_t)sz, f) != (size_t)sz)
		die_usage("cannot read body file", cfg.body_file);
	fclose(f);
	cfg.req =
		malloc((size_t)sz + 1024 + strlen(cfg.path) + strlen(cfg.host));
	if (cfg.req == NULL)
		exit(1);
	hl = sprintf(cfg.req,
		     "POST %s HTTP/1.1\r\nHost: %s:%s\r\n"
		     "Content-Type: application/json\r\n"
		     "Content-Length: %ld\r\n\r\n",
		     cfg.path, cfg.host, cfg.port, sz);
	memcpy(cfg.req + hl, body, (size_t)sz);
	cfg.req_len = (size_t)hl + (size_t)sz;
	free(body);
}

static void parse_args(int argc, char **argv)
{
	static char hostbuf[256];
	char *colon;
	int opt;

	opterr = 0;
	while ((opt = getopt(argc, argv, ":c:r:d:t:p:b:l:h")) != -1) {
		switch (opt) {
		case 'c':
			cfg.conns = num_arg(optarg, 1, 10000, "bad -c");
			break;
		case 'r':
			cfg.rate = num_arg(optarg, 1, 10000000, "bad -r");
			break;
		case 'd':
			cfg.secs = num_arg(optarg, 1, 3600, "bad -d");
			break;
		case 't':
			cfg.threads = num_arg(optarg, 1, MAX_THREADS, "bad -t");
			break;
		case 'p':
			if (optarg[0] != '/' || strlen(optarg) > 512 ||
			    strpbrk(optarg, " \r\n") != NULL)
				die_usage("bad -p", optarg);
			cfg.path = optarg;
			break;
		case 'b':
			cfg.body_file = optarg;
			break;
		case 'l':
			cfg.label = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case ':':
			fprintf(stderr, "route_rate: -%c needs a value\n",
				optopt);
			exit(2);
		default:
			fprintf(stderr, "route_rate: unknown flag -%c\n",
				optopt);
			exit(2);
		}
	}
	if (optind != argc - 1)
		die_usage("want exactly one HOST:PORT",
			  optind < argc ? argv[argc - 1] : "none");
	if (cfg.body_file == NULL)
		die_usage("missing -b BODY_FILE", argv[optind]);
	if (strlen(argv[optind]) >= sizeof(hostbuf))
		die_usage("bad HOST:PORT", argv[optind]);
	strcpy(hostbuf, argv[optind]);
	colon = strrchr(hostbuf, ':');
	if (colon == NULL || colon == hostbuf || colon[1] == '\0')
		die_usage("bad HOST:PORT", argv[optind]);
	*colon = '\0';
	cfg.host = hostbuf;
	cfg.port = colon + 1;
	num_arg(cfg.port, 1, 65535, "bad port");
	if (cfg.conns < cfg.threads)
		die_usage("need at least one connection per thread", "-c");
}

static void fmt_ms(char *out, size_t n, double us)
{
	snprintf(out, n, "%.3f", us / 1000.0);
}

int main(int argc, char **argv)
{
	struct worker w[MAX_THREADS];
	struct hist *lat, *lag, *svc;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
	uint64_t total, done = 0, non2xx = 0, errors = 0, reconnects = 0;
	uint64_t last = 0;
	double elapsed, rate, q[5];
	char qs[5][32];
	static const double qv[5] = {0.50, 0.90, 0.99, 0.999, 1.0};
	int rc;

	if (argc == 1) {
		usage(stdout);
		return 0;
	}
	parse_args(argc, argv);
	load_body();
	rc = getaddrinfo(cfg.host, cfg.port, &hints, &cfg.ai);
	if (rc != 0) {
		fprintf(stderr, "route_rate: %s: %s\n", cfg.host,
			gai_strerror(rc));
		return 1;
	}
	total = (uint64_t)cfg.rate * cfg.secs;

	memset(w, 0, sizeof(w));
	for (unsigned long t = 0; t < cfg.threads; t++) {
		struct worker *x = &w[t];
		struct epoll_event ev = {.events = EPOLLIN,
					 .data.u64 = UINT64_MAX};

		x->id = (int)t;
		x->nconns = cfg.conns / cfg.threads +
			    (t < cfg.conns % cfg.threads ? 1 : 0);
		x->total =
			total / cfg.threads + (t < total % cfg.threads ? 1 : 0);
		x->conns = calloc(x->nconns, sizeof(*x->conns));
		x->idle = calloc(x->nconns, sizeof(*x->idle));
		x->lat = calloc(1, sizeof(*x->lat));
		x->lag = calloc(1, sizeof(*x->lag));
		x->svc = calloc(1, sizeof(*x->svc));
		x->ep = epoll_create1(EPOLL_CLOEXEC);
		x->tfd = timerfd_create(CLOCK_MONOTONIC,
					TFD_NONBLOCK | TFD_CLOEXEC);
		if (x->conns == NULL || x->idle == NULL || x->lat == NULL ||
		    x->lag == NULL || x->svc == NULL || x->ep < 0 ||
		    x->tfd < 0 ||
		    epoll_ctl(x->ep, EPOLL_CTL_ADD, x->tfd, &ev) != 0) {
			perror("route_rate: setup");
			return 1;
		}
		for (size_t i = 0; i < x->nconns; i++) {
			struct conn *c = &x->conns[i];
			c->buf = malloc(RBUF);
			c->fd = conn_open();
			if (c->buf == NULL || c->fd < 0 ||
			    conn_watch(x, i, EPOLL_CTL_ADD) != 0) {
				fprintf(stderr,
					"route_rate: connect %s:%s: %s\n",
					cfg.host, cfg.port, strerror(errno));
				return 1;
			}
			idle_push(x, i);
		}
	}

	/* Every connection is up; the schedule starts a little later. */
	cfg.t0 = now_ns() + 20 * 1000 * 1000;
	for (unsigned long t = 0; t < cfg.threads; t++) {
		if (pthread_create(&w[t].th, NULL, worker_run, &w[t]) != 0) {
			perror("route_rate: pthread_create");
			return 1;
		}
	}
	lat = calloc(1, sizeof(*lat));
	lag = calloc(1, sizeof(*lag));
	svc = calloc(1, sizeof(*svc));
	if (lat == NULL || lag == NULL || svc == NULL)
		return 1;
	for (unsigned long t = 0; t < cfg.threads; t++) {
		pthread_join(w[t].th, NULL);
		hist_merge(lat, w[t].lat);
		hist_merge(lag, w[t].lag);
		hist_merge(svc, w[t].svc);
		done += w[t].done;
		non2xx += w[t].non2xx;
		errors += w[t].errors;
		reconnects += w[t].reconnects;
		if (w[t].last_ns > last)
			last = w[t].last_ns;
	}

	/* Achieved rate: responses over the time from the first due time to
	 * the last response (the duration when the server keeps up). */
	elapsed = last > cfg.t0 ? (double)(last - cfg.t0) / 1e9 : 0;
	if (elapsed < (double)cfg.secs)
		elapsed = (double)cfg.secs;
	rate = (double)done / elapsed;
	for (int i = 0; i < 5; i++) {
		q[i] = hist_q(lat, qv[i]);
		fmt_ms(qs[i], sizeof(qs[i]), q[i]);
	}

	FILE *out = cfg.label ? stderr : stdout;
	fprintf(out,
		"route_rate: POST http://%s:%s%s, %lu connections (one "
		"request outstanding each), %lu thread(s), target %lu req/s "
		"for %lu s\n",
		cfg.host, cfg.port, cfg.path, cfg.conns, cfg.threads, cfg.rate,
		cfg.secs);
	fprintf(out,
		"requests: %llu scheduled, %llu completed (%.1f req/s), "
		"%llu non-2xx, %llu errors, %llu unanswered, %llu "
		"reconnects\n",
		(unsigned long long)total, (unsigned long long)done, rate,
		(unsigned long long)non2xx, (unsigned long long)errors,
		(unsigned long long)(total - done - errors),
		(unsigned long long)reconnects);
	fprintf(out,
		"latency from scheduled start, ms: p50 %s  p90 %s  p99 %s  "
		"p99.9 %s  max %s\n",
		qs[0], qs[1], qs[2], qs[3], qs[4]);
	fprintf(out,
		"send lag (due to written: timer wake-up, waiting for a free "
		"connection), ms: p50 %.3f  p99 %.3f  max "
		"%.3f\n",
		hist_q(lag, 0.5) / 1000.0, hist_q(lag, 0.99) / 1000.0,
		(double)lag->max_ns / 1e6);
	fprintf(out,
		"from written to response (what a closed-loop client sees), "
		"ms: p50 %.3f  p99 %.3f  max %.3f\n",
		hist_q(svc, 0.5) / 1000.0, hist_q(svc, 0.99) / 1000.0,
		(double)svc->max_ns / 1e6);
	if (cfg.label)
		printf("| %s | %lu | %.0f | %llu | %s | %s | %s | %s | %s |\n",
		       cfg.label, cfg.rate, rate,
		       (unsigned long long)(non2xx + total - done), qs[0],
		       qs[1], qs[2], qs[3], qs[4]);
	return 0;
}
