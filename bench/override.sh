#!/bin/sh
# Emergency override propagation: from `af emergency set` returning until
# every one of N routerds enforces the new set. Real processes on
# 127.0.0.1: a 3-node controld cluster (with tokens) and N routerds
# (default 50). Each routerd logs event=overrides_enforced version=V (with
# a millisecond timestamp) right after it published the set to its
# deciding threads, so the measurement adds no polling load. Three modes,
# SETS overrides each (default 20), printing p50/p99/max of the slowest
# routerd per set, in ms, from `af emergency set` returning (0 when every
# routerd enforced it before af exited) and from its start (includes the
# af process and the commit):
# - sync_ok: routerds Sync normally;
# - sync_failing: every routerd restarted from its cache with a token the
#   cluster refuses, so every Sync fails; the set still arrives in hints;
# - sync_failing_heartbeats_only: the same, and every change hint dropped
#   (AF_TEST_DROP_HINTS, a test build): heartbeats alone (one a second per
#   controld) deliver it.
# Usage: sh bench/override.sh [SETS] [N]   (after `make`)
set -eu
SETS=${1:-20}
N=${2:-50}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib/bench.sh"
. "$ROOT/tests/lib/cluster.sh"
bench_cl_init override 3
cl_tokens admin routerd
export AF_TOKEN=$T_admin
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
cl_af policy apply -f "$EXAMPLES/policy.yaml" >/dev/null

# start_all TOKEN [ENV...]: (re)starts r1..rN from their caches.
start_all() {
	tok=$1
	shift
	for k in $(seq 1 "$N"); do
		env AF_TOKEN="$tok" "$@" "$ROUTERD" -c "$CL_FILE" \
			--listen "127.0.0.1:$((CL_BASE + 1000 + k))" --id "r$k" \
			--cache "$CL_DIR/cache$k" >>"$CL_DIR/routerd-r$k.log" 2>&1 &
		echo $! >"$CL_DIR/pidr-r$k"
	done
	for k in $(seq 1 "$N"); do
		cl_wait_http "http://127.0.0.1:$((CL_BASE + 1000 + k))/readyz" 200 60
	done
}
stop_all() {
	for k in $(seq 1 "$N"); do cl_routerd_stop "r$k"; done
}

# measure MODE: SETS overrides, the slowest routerd's delay for each.
measure() {
	logs=''
	for k in $(seq 1 "$N"); do logs="$logs $CL_DIR/routerd-r$k.log"; done
	: >"$CL_DIR/lat-$1"
	: >"$CL_DIR/start-$1"
	missed=0
	for a in $(seq 1 "$SETS"); do
		ts=$(bench_now_ms)
		id=$(cl_af emergency set --class "bench-$a" --max-fanout 1 \
			--ttl 10m -m "bench $1 $a")
		t0=$(bench_now_ms)
		v=${id#ov-}
		worst=0 worst_start=0
		# shellcheck disable=SC2086 # a list of files
		while read -r t m; do
			missed=$((missed + m))
			d=$((t - t0))
			[ $d -lt 0 ] && d=0
			[ $d -gt $worst ] && worst=$d
			d=$((t - ts))
			[ $d -gt $worst_start ] && worst_start=$d
		done <<-EOF2
			$(bench_logs_ms "event=overrides_enforced version=$v " $logs)
		EOF2
		echo $worst >>"$CL_DIR/lat-$1"
		echo $worst_start >>"$CL_DIR/start-$1"
		cl_af emergency clear "$id" >/dev/null
	done
	set -- "$1" $(pct "$CL_DIR/lat-$1") $(pct "$CL_DIR/start-$1")
	echo "$1 routerds=$N sets=$SETS after_return p50_ms=$2 p99_ms=$3" \
		"max_ms=$4 from_start p50_ms=$5 p99_ms=$6 max_ms=$7 missed=$missed"
}

start_all "$T_routerd"
measure sync_ok
stop_all
start_all bad-token
for k in $(seq 1 "$N"); do
	cl_wait_log "$CL_DIR/routerd-r$k.log" "event=controld_call_failed call=sync" \
		>/dev/null
done
measure sync_failing
stop_all
start_all bad-token AF_TEST_DROP_HINTS=1
cl_wait_log "$CL_DIR/routerd-r$N.log" "name=AF_TEST_DROP_HINTS" >/dev/null
measure sync_failing_heartbeats_only
