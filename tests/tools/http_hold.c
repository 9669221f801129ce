/*
 * http_hold: holds many idle and slow (slowloris) connections open to an
 * HTTP server on 127.0.0.1, times fresh requests meanwhile, then waits for
 * the server to close the held connections.
 *
 *   http_hold PORT IDLE SLOW REQUESTS WAIT_S [BODY_FILE]
 *
 * IDLE connections send nothing; SLOW ones send a request line and then
 * one header line a second, never finishing. While they are held,
 * REQUESTS requests (POST /v1/route with BODY_FILE, else GET /healthz),
 * each on a new connection, are timed. Then it waits up to WAIT_S seconds
 * for the server to close the held connections. Prints:
 *   held idle=N slow=N open=N
 *   requests=N answered=N status200=N p50_ms=X p99_ms=X max_ms=X
 *   closed=N of N after_s=X
 * Exit 0 when every held connection opened, every request was answered and
 * (WAIT_S > 0) every held connection was closed by the server; else 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dial(int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One request on a new connection; returns the status or -1. */
static int request(int port, const char *body, size_t blen)
{
	char req[70000], rsp[16384];
	size_t got = 0;
	int fd = dial(port), status = -1, n;
	struct pollfd p;

	if (fd < 0)
		return -1;
	if (body != NULL)
		n = snprintf(req, sizeof(req),
			     "POST /v1/route HTTP/1.1\r\nHost: r\r\n"
			     "Content-Type: application/json\r\n"
			     "Content-Length: %zu\r\nConnection: close\r\n\r\n"
			     "%.*s",
			     blen, (int)blen, body);
	else
		n = snprintf(req, sizeof(req),
			     "GET /healthz HTTP/1.1\r\nHost: r\r\n"
			     "Connection: close\r\n\r\n");
	if (write(fd, req, (size_t)n) != n)
		goto out;
	p.fd = fd;
	p.events = POLLIN;
	/* Read until the server closes (Connection: close), 10 s at most. */
	while (got < sizeof(rsp) - 1 && poll(&p, 1, 10000) == 1) {
		ssize_t r = read(fd, rsp + got, sizeof(rsp) - 1 - got);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	rsp[got] = '\0';
	if (sscanf(rsp, "HTTP/1.%*d %d", &status) != 1)
		status = -1;
out:
	close(fd);
	return status;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(65536);

	if (f == NULL || buf == NULL) {
		fprintf(stderr, "http_hold: cannot read %s\n", path);
		exit(2);
	}
	*len = fread(buf, 1, 65536, f);
	fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	int port, nidle, nslow, nreq, wait_s, nheld, open_ok = 0, answered = 0;
	int ok200 = 0, closed = 0;
	int *fds;
	char *alive;
	double *lat, t0, last_tick;
	char *body = NULL;
	size_t blen = 0;
	static const char start[] = "POST /v1/route HTTP/1.1\r\nHost: r\r\n";

	if (argc < 6) {
		fprintf(stderr, "usage: http_hold PORT IDLE SLOW REQUESTS "
				"WAIT_S [BODY_FILE]\n");
		return 2;
	}
	/* Held connections the server closed are written to: EPIPE, not a
	 * signal. */
	signal(SIGPIPE, SIG_IGN);
	port = atoi(argv[1]);
	nidle = atoi(argv[2]);
	nslow = atoi(argv[3]);
	nreq = atoi(argv[4]);
	wait_s = atoi(argv[5]);
	if (argc > 6)
		body = slurp(argv[6], &blen);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	nheld = nidle + nslow;
	fds = calloc((size_t)nheld + 1, sizeof(*fds));
	alive = calloc((size_t)nheld + 1, 1);
	lat = calloc((size_t)nreq + 1, sizeof(*lat));
	if (fds == NULL || alive == NULL || lat == NULL)
		return 2;
	for (int i = 0; i < nheld; i++) {
		fds[i] = dial(port);
		if (fds[i] < 0)
			continue;
		open_ok++;
		alive[i] = 1;
		if (i >= nidle)
			(void)!write(fds[i], start, sizeof(start) - 1);
	}
	printf("held idle=%d slow=%d open=%d\n", nidle, nslow, open_ok);
	fflush(stdout);
	for (int i = 0; i < nreq; i++) {
		double t = now_s();
		int st = request(port, body, blen);

		lat[i] = (now_s() - t) * 1000;
		answered += st > 0;
		ok200 += st == 200;
		if (i % 10 == 9)
			for (int j = nidle; j < nheld; j++)
				if (alive[j])
					(void)!write(fds[j], "X-a: b\r\n", 8);
	}
	qsort(lat, (size_t)nreq, sizeof(*lat), cmp);
	printf("requests=%d answered=%d status200=%d p50_ms=%.2f p99_ms=%.2f "
	       "max_ms=%.2f\n",
	       nreq, answered, ok200, nreq ? lat[nreq / 2] : 0,
	       nreq ? lat[(nreq * 99) / 100 - (nreq >= 100 ? 1 : 0)] : 0,
	       nreq ? lat[nreq - 1] : 0);
	fflush(stdout);
	t0 = last_tick = now_s();
	while (wait_s > 0 && closed < open_ok && now_s() - t0 < wait_s) {
		struct pollfd *p = calloc((size_t)nheld, sizeof(*p));
		int np = 0;

		for (int i = 0; i < nheld; i++)
			if (alive[i]) {
				p[np].fd = fds[i];
				p[np++].events = POLLIN;
			}
		if (poll(p, (nfds_t)np, 200) > 0)
			for (int k = 0; k < np; k++) {
				char buf[512];

				if (p[k].revents == 0)
					continue;
				if (read(p[k].fd, buf, sizeof(buf)) > 0)
					continue;
				for (int i = 0; i < nheld; i++)
					if (alive[i] && fds[i] == p[k].fd) {
						alive[i] = 0;
						closed++;
					}
			}
		free(p);
		/* The slow ones keep trickling a header line a second. */
		if (now_s() - last_tick >= 1) {
			last_tick = now_s();
			for (int j = nidle; j < nheld; j++)
				if (alive[j])
					(void)!write(fds[j], "X-a: b\r\n", 8);
		}
	}
	printf("closed=%d of %d after_s=%.1f\n", closed, open_ok, now_s() - t0);
	for (int i = 0; i < nheld; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	free(alive);
	free(lat);
	free(body);
	return open_ok == nheld && answered == nreq &&
			       (wait_s == 0 || closed == open_ok)
		       ? 0
		       : 1;
}
