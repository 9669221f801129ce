/* The latency of a small API request (PolicyHistory, limit 1: a read the
 * leader's loop thread answers) sent one after the other for SECONDS
 * seconds, one every INTERVAL ms: p50 / p99 / max and the count. Run it
 * while something else loads the node (bench/apply_compile.sh: large
 * policy applies). usage: api_latency CLUSTER.yaml SECONDS [INTERVAL] */
#include "bench/lib/util.h"
#include "cli/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SAMPLES 100000

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct af_cli cli = {.timeout_ms = 30000};
	struct af_client c;
	static double lat[MAX_SAMPLES];
	double secs, end;
	long interval = 5;
	size_t n = 0;

	if (argc < 3 || argc > 4 || (secs = strtod(argv[2], NULL)) <= 0 ||
	    secs > 3600 ||
	    (argc == 4 && ((interval = strtol(argv[3], NULL, 10)) < 0 ||
			   interval > 10000))) {
		fprintf(stderr, "usage: api_latency CLUSTER.yaml SECONDS "
				"[INTERVAL_MS]\n");
		return 2;
	}
	cli.cluster_file = argv[1];
	if (af_client_open(&c, &cli) != 0)
		return 1;
	end = bench_now_s() + secs;
	while (bench_now_s() < end && n < MAX_SAMPLES) {
		Af__Request req = AF__REQUEST__INIT;
		Af__PolicyHistoryReq ph = AF__POLICY_HISTORY_REQ__INIT;
		Af__Response *resp = NULL;
		struct timespec ts = {0, interval * 1000000L};
		double t0 = bench_now_s();

		ph.limit = 1;
		req.body_case = AF__REQUEST__BODY_POLICY_HISTORY;
		req.policy_history = &ph;
		if (af_client_call(&c, &req, -1, &resp) != 0 ||
		    (resp->status != NULL &&
		     resp->status->code != AF__CODE__OK)) {
			fprintf(stderr, "api_latency: request failed\n");
			if (resp)
				af__response__free_unpacked(resp, NULL);
			af_client_close(&c);
			return 1;
		}
		lat[n++] = (bench_now_s() - t0) * 1e3;
		af__response__free_unpacked(resp, NULL);
		nanosleep(&ts, NULL);
	}
	af_client_close(&c);
	if (n == 0)
		return 1;
	qsort(lat, n, sizeof(double), cmp_double);
	printf("requests=%zu p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n", n,
	       lat[n / 2], lat[(size_t)((double)n * 0.99)], lat[n - 1]);
	return 0;
}
