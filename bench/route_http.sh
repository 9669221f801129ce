#!/bin/sh
# POST /v1/route throughput and latency of routerd on loopback, next to
# nginx returning a fixed 200 JSON body (the practical HTTP ceiling of this
# machine). wrk, keep-alive, 16 connections, the example request.
#
# Starts a 3-node controld cluster and one routerd (built binaries under
# $BUILD, default build/), applies deploy/examples/models.yaml and a copy
# of policy.yaml, waits until routerd serves it, then runs:
#   1. nginx, fixed body                      (ceiling)
#   2. routerd, route only                    (lane caps lifted in the
#      copy of the policy, so every request takes the full route path:
#      without reports the lane would saturate after 256 decisions)
#   3. routerd, route then report of it       (example policy as is; run
#      first, before the unreported route-only decisions hold lane slots)
# Debian's wrk is wrk 4.x: no fixed-rate mode (-R is wrk2), so no run at
# a fixed 10,000 req/s; the latency percentiles are at full load.
#
# For nginx and routerd route-only, in the same run: requests/s at full
# load, server CPU per request (utime + stime of the server's processes from
# /proc/PID/stat over the run, divided by the requests wrk counted), and
# the latency of one connection sending back to back (wrk -t1 -c1: the
# CPUs stay awake, no idle wake-up in the figure), p50 and p99. Then the
# ratios routerd / nginx.
#
# Env: BUILD, DURATION (default 10s), ROUNDS (2), CONNS (16), THREADS (wrk, 2),
# HTTP_THREADS (routerd polling threads, 2), BASE (port base, random in
# 20000-28990 by default; ports BASE+100 .. BASE+902), PROFILE (a file:
# perf record of routerd during its first load run, flat profile there).
# Installs wrk and nginx-light with apt-get when missing and root.
set -eu
BUILD=${BUILD:-build}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-2}
CONNS=${CONNS:-16}
THREADS=${THREADS:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib/bench.sh"
BIN=$ROOT/$BUILD/bin
EX=$ROOT/deploy/examples

need=""
command -v wrk >/dev/null || need="$need wrk"
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need="$need nginx-light"
if [ -n "$need" ]; then
	[ "$(id -u)" = 0 ] || { echo "route_http: install$need" >&2; exit 1; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends $need >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

DIR=$(mktemp -d /tmp/af-bench-route.XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null || true; done
	[ -f "$DIR/nginx.pid" ] && kill -TERM "$(cat "$DIR/nginx.pid")" 2>/dev/null
	wait 2>/dev/null || true
	[ -n "${KEEP:-}" ] && echo "# kept $DIR" >&2 || rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

base=${BASE:-$((20000 + ($(od -An -N2 -tu2 /dev/urandom) % 900) * 10))}
bench_cluster "$DIR/cluster.yaml" $((base + 101))
for id in 1 2 3; do
	"$BIN/controld" -c "$DIR/cluster.yaml" --id $id --log-level warn \
		>>"$DIR/node$id.log" 2>&1 &
	PIDS="$PIDS $!"
done
af() { "$BIN/af" -c "$DIR/cluster.yaml" "$@"; }
for _ in $(seq 1 100); do
	af --timeout 2s cluster status -o json 2>/dev/null |
		jq -e '.leader != null' >/dev/null 2>&1 && break
	sleep 0.2
done
af model apply -f "$EX/models.yaml" >/dev/null

RPORT=$((base + 901))
NPORT=$((base + 902))
AF_ROUTERD_HTTP_THREADS=${HTTP_THREADS:-2} \
	"$BIN/routerd" -c "$DIR/cluster.yaml" --listen 127.0.0.1:$RPORT \
	--id bench --log-level info >>"$DIR/routerd.log" 2>&1 &
RPID=$!
PIDS="$PIDS $RPID"
R=http://127.0.0.1:$RPORT

# wait_hash HASH: until routerd decides with that bundle.
wait_hash() {
	for _ in $(seq 1 150); do
		h=$(curl -s -X POST --data-binary "@$EX/request.json" "$R/v1/route" |
			jq -r '.policy.hash // empty' 2>/dev/null || true)
		[ "$h" = "$1" ] && return 0
		sleep 0.2
	done
	echo "route_http: routerd never served $1 (is sync working?)" >&2
	tail -5 "$DIR/routerd.log" >&2
	exit 1
}

cat >"$DIR/route.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$EX/request.json")
wrk.body = f:read("*a")
f:close()
EOF
# Route, then report the decision it got (per wrk thread: a queue of ids).
cat >"$DIR/pair.lua" <<EOF
local f = io.open("$EX/request.json")
local route = f:read("*a")
f:close()
local ids = {}
local hdr = { ["Content-Type"] = "application/json" }
request = function()
	local id = table.remove(ids)
	if id then
		return wrk.format("POST", "/v1/report", hdr,
			'{"decision_id":"' .. id .. '","model":"swift-mid",' ..
			'"region":"eu-west-1","ok":true,"latency_ms":900}')
	end
	return wrk.format("POST", "/v1/route", hdr, route)
end
response = function(status, headers, body)
	-- Only routed decisions are kept and reported; a deny is not.
	local id = body:match('^{"decision":"route","decision_id":"([^"]+)"')
	if id then table.insert(ids, id) end
end
EOF

bench_nginx_conf "$DIR/nginx.conf" "$DIR" "$NPORT" "$DIR/nginx.pid"
"$NGINX" -c "$DIR/nginx.conf" -p "$DIR" 2>>"$DIR/nginx.err"

run() {
	echo "== $1"
	shift
	wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$@" |
		grep -E 'Requests/sec|^ +(50|75|90|99)%|Non-2xx|Socket errors|requests in'
}

# ticks PID...: utime + stime of those processes, in clock ticks.
ticks() {
	t=0
	for p in "$@"; do
		t=$((t + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
	done
	echo $t
}

# us VALUE: a wrk duration (850.00us, 1.20ms, 2.00s) in microseconds.
us() {
	echo "$1" | awk '/us$/ {print $1 + 0; next} /ms$/ {print $1 * 1000; next}
		/s$/ {print $1 * 1000000; next} {print $1}'
}

# measure NAME URL PID...: the load run (CONNS connections) with the
# server CPU over it, then the single-connection run. Sets M_RPS, M_CPU
# (us per request), M_P50, M_P99 (us, single connection).
measure() {
	name=$1 url=$2
	shift 2
	echo "== $name"
	t0=$(ticks "$@")
	if [ -n "${PROFILE:-}" ] && [ "$1" = "$RPID" ] && [ ! -e "$PROFILE" ]; then
		perf record -q -g -p "$RPID" -o "$DIR/perf.data" -- \
			sleep "${DURATION%s}" >/dev/null 2>&1 &
		PERF_PID=$!
	fi
	wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$DIR/route.lua" \
		"$url" >"$DIR/wrk.out"
	t1=$(ticks "$@")
	if [ -n "${PERF_PID:-}" ]; then
		wait "$PERF_PID" || true
		PERF_PID=
		perf report -i "$DIR/perf.data" --no-children --percent-limit 1 \
			--stdio 2>/dev/null | grep -E '^ +[0-9.]+%' >"$PROFILE" || true
		cp "$DIR/perf.data" "$PROFILE.data"
	fi
	grep -E 'Requests/sec|^ +(50|99)%|Non-2xx|Socket errors|requests in' \
		"$DIR/wrk.out"
	reqs=$(awk '/requests in/ {print $1}' "$DIR/wrk.out")
	M_RPS=$(awk '/Requests\/sec/ {print $2}' "$DIR/wrk.out")
	M_CPU=$(awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$reqs" \
		'BEGIN {printf "%.2f", t / hz * 1e6 / n}')
	echo "  server CPU per request: $M_CPU us ($((t1 - t0)) ticks, $reqs requests)"
	wrk -t1 -c1 -d"$DURATION" --latency -s "$DIR/route.lua" "$url" \
		>"$DIR/wrk1.out"
	M_P50=$(us "$(awk '$1 == "50%" {print $2}' "$DIR/wrk1.out")")
	M_P99=$(us "$(awk '$1 == "99%" {print $2}' "$DIR/wrk1.out")")
	echo "  one connection, back to back: p50 $M_P50 us, p99 $M_P99 us," \
		"$(awk '/Requests\/sec/ {print $2}' "$DIR/wrk1.out") req/s"
}

# First, with the example policy as is: each routed decision reported
# (a report frees its lane slot). Before the route-only runs, whose
# decisions are never reported and keep their lane slots.
h=$(af policy apply -f "$EX/policy.yaml" -o json | jq -r .hash)
wait_hash "$h"
run "routerd: route + report pairs (requests/s counts both)" \
	-s "$DIR/pair.lua" "$R"

# Lift the lane caps so every request takes the full route path.
sed 's/max_inflight: [0-9]*/max_inflight: 1000000000/' "$EX/policy.yaml" \
	>"$DIR/policy-bench.yaml"
h=$(af policy apply -f "$DIR/policy-bench.yaml" -o json | jq -r .hash)
wait_hash "$h"

echo "# $(nproc) CPUs; wrk -t$THREADS -c$CONNS -d$DURATION, keep-alive," \
	"loopback; $ROUNDS rounds of nginx then routerd"
NPIDS=$(pgrep -P "$(cat "$DIR/nginx.pid")" | tr '\n' ' ')
for round in $(seq 1 "$ROUNDS"); do
	echo "# round $round"
	measure "nginx: fixed 200 JSON body (2 workers)" \
		"http://127.0.0.1:$NPORT/v1/route" $NPIDS
	N_RPS=$M_RPS N_CPU=$M_CPU N_P50=$M_P50 N_P99=$M_P99
	measure "routerd: POST /v1/route (${HTTP_THREADS:-2} HTTP threads)" \
		"$R/v1/route" "$RPID"
	echo "# round $round: routerd / nginx (goals: rate >= 1.0x, CPU per" \
		"request <= 1.2x, one-connection p50 within 5 us)"
	awk -v r="$M_RPS" -v n="$N_RPS" -v rc="$M_CPU" -v nc="$N_CPU" \
		-v rp="$M_P50" -v np="$N_P50" -v r9="$M_P99" -v n9="$N_P99" \
		'BEGIN {
		printf "rate        %.0f / %.0f req/s = %.2fx\n", r, n, r / n
		printf "CPU/request %.2f / %.2f us = %.2fx\n", rc, nc, rc / nc
		printf "p50, 1 conn %.1f / %.1f us = %+.1f us\n", rp, np, rp - np
		printf "p99, 1 conn %.1f / %.1f us = %.2fx\n", r9, n9, r9 / n9
	}'
done
curl -s "$R/metrics" | grep -E '^af_routerd_decisions_total|^af_routerd_decision_seconds_(sum|count)'

echo "# wrk 4.x has no fixed-rate mode: no run at 10,000 req/s"
