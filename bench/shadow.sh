#!/bin/sh
# routerd decisions/s with a shadow at 100% sampling next to none, in the
# same run: wrk (keep-alive, the example request, route only) against one
# routerd, rounds alternating no shadow / a shadow of a bundle with one rule
# changed, so drift of the machine hits both alike. Per round: requests/s,
# and for shadow rounds the decisions queued, evaluated and dropped (the
# bounded queue full) and skipped for a new view. Then the ratio of the
# means, shadow / none (target: at least 0.8), and routerd's CPU time per
# decision in each mode (none / shadow is the throughput ratio a machine
# with cores to spare for wrk would see).
#
# Starts a 3-node controld cluster and one routerd on 127.0.0.1 (helpers of
# tests/lib/cluster.sh); the policy is deploy/examples/policy.yaml with the
# lane caps lifted (no reports are sent: the lane would saturate).
# Env: BUILD, DURATION (10s), ROUNDS (3 of each), CONNS (16), THREADS (wrk,
# 1), HTTP_THREADS (routerd polling threads, 2).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-16}
THREADS=${THREADS:-1}
. "$ROOT/tests/lib/cluster.sh"
command -v wrk >/dev/null || { echo "shadow: install wrk" >&2; exit 1; }

cl_init bench-shadow 3
for id in 1 2 3; do cl_start $id --log-level warn; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
sed 's/max_inflight: [0-9]*/max_inflight: 1000000000/' "$EXAMPLES/policy.yaml" \
	>"$CL_DIR/base.yaml"
sed 's/^name: prod/name: prod-cand/; s/route: { tier: mid, fallback_tiers: \[small\] }/route: { tier: frontier, fallback_tiers: [mid] }/' \
	"$CL_DIR/base.yaml" >"$CL_DIR/cand.yaml"
h=$(cl_af policy apply -f "$CL_DIR/base.yaml" -o json | jq -r .hash)
P=$((CL_BASE + 901))
export AF_ROUTERD_HTTP_THREADS=${HTTP_THREADS:-2}
cl_routerd_start bench $P --log-level warn
cl_wait_route_hash $P "$h" >/dev/null
cat >"$CL_DIR/route.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$EXAMPLES/request.json")
wrk.body = f:read("*a")
f:close()
LUA

m() { cl_routerd_metric $P "$1"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$(cat "$CL_DIR/pidr-bench")/stat"; }
# round [LABEL]: one wrk run; prints its requests/s. With LABEL, adds the
# run's requests and routerd's CPU ticks to $CL_DIR/cpu-LABEL.
round() {
	t0=$(ticks)
	wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s "$CL_DIR/route.lua" \
		"http://127.0.0.1:$P/v1/route" >"$CL_DIR/wrk.out"
	t1=$(ticks)
	[ -z "${1:-}" ] ||
		echo "$(awk '/requests in/ { print $1 }' "$CL_DIR/wrk.out") $((t1 - t0))" >>"$CL_DIR/cpu-$1"
	awk '/Requests\/sec/ { print $2 }' "$CL_DIR/wrk.out"
}
shadow_on() {
	cl_af shadow start -f "$CL_DIR/cand.yaml" -m bench >/dev/null
	cl_wait_json "curl -s http://127.0.0.1:$P/v1/status" '.policy.shadow != null' >/dev/null
}
shadow_off() {
	cl_af shadow stop >/dev/null
	cl_wait_json "curl -s http://127.0.0.1:$P/v1/status" '.policy.shadow == null' >/dev/null
}

echo "# $(nproc) CPUs; wrk -t$THREADS -c$CONNS -d$DURATION, keep-alive, loopback," \
	"POST /v1/route; routerd $AF_ROUTERD_HTTP_THREADS MHD threads + 1 shadow worker"
echo "| round | shadow | req/s | queued | evaluated | dropped | stale |"
echo "|---|---|---|---|---|---|---|"
round >/dev/null # warm-up
sum0=0
sum1=0
i=1
while [ $i -le "$ROUNDS" ]; do
	r=$(round none)
	sum0=$(echo "$sum0 + $r" | bc)
	echo "| $i | none | $r | - | - | - | - |"
	shadow_on
	q0=$(m af_routerd_shadow_queued_total) e0=$(m af_routerd_shadow_evaluated_total)
	d0=$(m af_routerd_shadow_dropped_total) s0=$(m af_routerd_shadow_stale_total)
	r=$(round shadow)
	sleep 0.5 # the worker drains its queue
	sum1=$(echo "$sum1 + $r" | bc)
	echo "| $i | 100% | $r | $(($(m af_routerd_shadow_queued_total) - q0)) |" \
		"$(($(m af_routerd_shadow_evaluated_total) - e0)) |" \
		"$(($(m af_routerd_shadow_dropped_total) - d0)) |" \
		"$(($(m af_routerd_shadow_stale_total) - s0)) |"
	shadow_off
	i=$((i + 1))
done
echo "# mean req/s: none $(echo "scale=0; $sum0 / $ROUNDS" | bc)," \
	"shadow at 100% $(echo "scale=0; $sum1 / $ROUNDS" | bc);" \
	"ratio shadow/none $(echo "scale=3; $sum1 / $sum0" | bc)"
# routerd's CPU microseconds per decision over the rounds, its shadow
# worker included: steadier than req/s when the machine's load moves.
hz=$(getconf CLK_TCK)
us() { awk -v hz="$hz" '{ n += $1; t += $2 } END { printf "%.2f", t * 1e6 / hz / n }' "$CL_DIR/cpu-$1"; }
u0=$(us none) u1=$(us shadow)
echo "# routerd CPU per decision: none $u0 us, shadow at 100% $u1 us;" \
	"ratio none/shadow $(echo "scale=3; $u0 / $u1" | bc)"
st=$(cl_af shadow status -o json)
echo "# last shadow, as controld has it: sampled $(echo "$st" | jq .total.sampled)," \
	"same $(echo "$st" | jq .total.same), changed $(echo "$st" | jq -c .total.changed)"
