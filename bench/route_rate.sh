#!/bin/sh
# routerd's latency at a fixed offered load (default 10,000 req/s for 10 s),
# open loop: build/bench/route_rate sends the POST of
# deploy/examples/request.json on a fixed schedule over 16 keep-alive
# connections (one request outstanding on each) and takes every latency
# from the request's scheduled start, so queueing behind a stall counts.
# For comparison, the same load against nginx returning a fixed 200 JSON
# body (as in bench/route_http.sh).
#
# Starts a 3-node controld cluster and one routerd on 127.0.0.1 (helpers of
# tests/lib/cluster.sh), applies deploy/examples/models.yaml and a copy of
# policy.yaml with the lane caps lifted (no outcome reports are sent, so
# the 256-slot lane would saturate and the rest would be cheap
# LANE_SATURATED denies), waits until routerd serves that bundle, then per
# target: a 2 s warm-up at the same rate (not shown), then the measured run.
#
# Needs `make` and `make build/bench/route_rate`. Env: BUILD, RATE (10000),
# SECS (10), CONNS (16), THREADS (route_rate threads, 1), HTTP_THREADS
# (routerd polling threads, 2), WARMUP (seconds, 2; 0 skips it).
# Installs nginx-light with apt-get when missing and root.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib/bench.sh"
BUILD=${BUILD:-build}
RATE=${RATE:-10000}
SECS=${SECS:-10}
CONNS=${CONNS:-16}
THREADS=${THREADS:-1}
WARMUP=${WARMUP:-2}
. "$ROOT/tests/lib/cluster.sh"
GEN=$ROOT/$BUILD/bench/route_rate
for b in "$GEN" "$CONTROLD" "$ROUTERD" "$AF"; do
	[ -x "$b" ] || {
		echo "route_rate: $b missing (make && make $BUILD/bench/route_rate)" >&2
		exit 1
	}
done
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
	[ "$(id -u)" = 0 ] || { echo "route_rate: install nginx-light" >&2; exit 1; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends nginx-light >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

cl_init route-rate 3
for id in 1 2 3; do cl_start $id --log-level warn; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
sed 's/max_inflight: [0-9]*/max_inflight: 1000000000/' "$EXAMPLES/policy.yaml" \
	>"$CL_DIR/policy-bench.yaml"
h=$(cl_af policy apply -f "$CL_DIR/policy-bench.yaml" -o json | jq -r .hash)

RPORT=$((CL_BASE + 901))
NPORT=$((CL_BASE + 902))
export AF_ROUTERD_HTTP_THREADS=${HTTP_THREADS:-2}
cl_routerd_start bench $RPORT --log-level info
cl_wait_route_hash $RPORT "$h" >/dev/null

# nginx writes its master's pid to pidnginx: cl_cleanup stops it with the rest.
bench_nginx_conf "$CL_DIR/nginx.conf" "$CL_DIR" "$NPORT" "$CL_DIR/pidnginx"
"$NGINX" -c "$CL_DIR/nginx.conf" -p "$CL_DIR" 2>>"$CL_DIR/nginx.err"
cl_wait_http "http://127.0.0.1:$NPORT/"

# run LABEL PORT: warm-up, then the measured run; its table row on stdout,
# its details in $CL_DIR/detail.
run() {
	if [ "$WARMUP" -gt 0 ]; then
		"$GEN" -c "$CONNS" -t "$THREADS" -r "$RATE" -d "$WARMUP" \
			-b "$EXAMPLES/request.json" "127.0.0.1:$2" >/dev/null
	fi
	"$GEN" -c "$CONNS" -t "$THREADS" -r "$RATE" -d "$SECS" -l "$1" \
		-b "$EXAMPLES/request.json" "127.0.0.1:$2" 2>>"$CL_DIR/detail"
}

# decision_us: mean server-side parse + decide + render so far, in us.
decision_us() {
	curl -s "http://127.0.0.1:$RPORT/metrics" | awk '
		/^af_routerd_decision_seconds_sum/ { s = $2 }
		/^af_routerd_decision_seconds_count/ { n = $2 }
		END { if (n > 0) printf "%.1f us over %d decisions", s / n * 1e6, n }'
}

echo "# $(nproc) CPUs; route_rate -c$CONNS -t$THREADS -r$RATE -d$SECS, open loop," \
	"keep-alive, loopback; latency from the scheduled start, ms"
echo "| target | offered req/s | achieved req/s | errors | p50 | p90 | p99 | p99.9 | max |"
echo "|---|---|---|---|---|---|---|---|---|"
run "nginx, fixed 200 JSON body (2 workers)" $NPORT
run "routerd POST /v1/route ($AF_ROUTERD_HTTP_THREADS MHD threads)" $RPORT
sed 's/^/# /' "$CL_DIR/detail"
echo "# routerd decision time (mean, server side): $(decision_us)"
