/* routerd's HTTP connections: how many the open-file limit allows, and
 * the reaper that cuts those too slow to send a request (slowloris) or
 * idle too long. */
#include "routerd/http_int.h"
#include "common/timeutil.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

/* Raises the open-file limit to the hard limit and returns how many
 * connections fit under it (leaving room for routerd's other files). */
unsigned http_conn_limit(void)
{
	struct rlimit rl;
	rlim_t n;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 512;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t want = rl.rlim_max;

		if (want == RLIM_INFINITY || want > 1u << 20)
			want = 1u << 20;
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	n = rl.rlim_cur;
	if (n == RLIM_INFINITY || n > HTTP_CONN_MAX + HTTP_FD_RESERVE)
		return HTTP_CONN_MAX;
	if (n < 2 * HTTP_FD_RESERVE)
		return (unsigned)(n / 2);
	return (unsigned)(n - HTTP_FD_RESERVE);
}

/* Cuts every connection that has spent over HTTP_REQUEST_TIMEOUT_S
 * waiting for a request (since it opened or since its last answer) or
 * reading one: shutdown() makes MHD see the end of the stream and close
 * it in its own thread. The socket is still open while it is listed: MHD
 * unlists it (notify CLOSED) before closing it. */
static void reap(struct routerd_http *h, uint64_t now)
{
	uint64_t limit = (uint64_t)HTTP_REQUEST_TIMEOUT_S * 1000;

	/* Close to the connection limit, a connection gets one second:
	 * room is made for new ones instead of refusing them. */
	if ((unsigned)atomic_load(&h->conns) >
	    h->conn_limit - h->conn_limit / 8)
		limit = HTTP_CROWDED_TIMEOUT_MS;

	pthread_mutex_lock(&h->track_mu);
	for (struct track *t = h->tracks; t != NULL; t = t->next) {
		if (t->shut ||
		    atomic_load_explicit(&t->phase, memory_order_relaxed) ==
			    PH_ANSWER)
			continue;
		uint64_t since = atomic_load_explicit(&t->since_ms,
						      memory_order_relaxed);

		/* A phase may start during the walk, after `now`. */
		if (since >= now || now - since <= limit)
			continue;
		shutdown(t->fd, SHUT_RDWR);
		t->shut = true;
		atomic_fetch_add_explicit(&h->stats.shed, 1,
					  memory_order_relaxed);
	}
	pthread_mutex_unlock(&h->track_mu);
}

void *http_reaper_main(void *arg)
{
	struct routerd_http *h = arg;
	struct timespec ts;

	pthread_mutex_lock(&h->track_mu);
	while (!h->reaper_stop) {
		af_deadline_after(CLOCK_REALTIME, 250, &ts);
		pthread_cond_timedwait(&h->reaper_cond, &h->track_mu, &ts);
		if (h->reaper_stop)
			break;
		pthread_mutex_unlock(&h->track_mu);
		reap(h, coarse_ms());
		pthread_mutex_lock(&h->track_mu);
	}
	pthread_mutex_unlock(&h->track_mu);
	return NULL;
}
