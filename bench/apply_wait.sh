#!/bin/sh
# apply --wait: the time from `af policy apply --wait` starting to its
# return, when it returns because every one of N live routerds (default
# 50) reports serving the new hash. Real processes on 127.0.0.1: a 3-node
# controld cluster and N routerds. The anchor, in the same run: a plain
# `af policy apply` (start to return), so the difference is what waiting
# for the fleet costs (distribution, N fleet reports through Raft, the
# polling of the fleet view). After each return the script checks, from
# the routerd logs, that all N had activated the hash by then.
# Prints p50/p99/max over APPLIES applies of each.
# Usage: sh bench/apply_wait.sh [APPLIES] [N]   (after `make`)
set -eu
APPLIES=${1:-20}
N=${2:-50}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib/bench.sh"
. "$ROOT/tests/lib/cluster.sh"
cl_init apply_wait

for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
h0=$(cl_af policy apply -f "$EXAMPLES/policy.yaml" -o json | jq -r .hash)
for k in $(seq 1 "$N"); do cl_routerd_start "r$k" $((CL_BASE + 1000 + k)); done
for k in $(seq 1 "$N"); do
	cl_wait_http "http://127.0.0.1:$((CL_BASE + 1000 + k))/readyz" 200 60
done
cl_wait_json "cl_af fleet status -o json" \
	"[.[] | select(.state == \"SYNCED\" and .hash == \"$h0\")] | length == $N" 60 >/dev/null
sleep 2

: >"$CL_DIR/plain"
: >"$CL_DIR/wait"
late=0
for a in $(seq 1 "$APPLIES"); do
	# The anchor: a plain apply; then let the fleet settle.
	sed "s/^name: prod/name: plain-$a/" "$EXAMPLES/policy.yaml" >"$CL_DIR/p.yaml"
	t0=$(bench_now_ms)
	h=$(cl_af policy apply -f "$CL_DIR/p.yaml" -o json | jq -r .hash)
	echo $(($(bench_now_ms) - t0)) >>"$CL_DIR/plain"
	cl_wait_json "cl_af fleet status -o json" \
		"[.[] | select(.hash == \"$h\")] | length == $N" 30 >/dev/null
	sed "s/^name: prod/name: wait-$a/" "$EXAMPLES/policy.yaml" >"$CL_DIR/w.yaml"
	t0=$(bench_now_ms)
	out=$(cl_af policy apply -f "$CL_DIR/w.yaml" --wait --timeout 30s -o json)
	t1=$(bench_now_ms)
	echo $((t1 - t0)) >>"$CL_DIR/wait"
	h=$(echo "$out" | jq -r .hash)
	echo "$out" | jq -e ".wait.done and .wait.serving == $N and .wait.live == $N" >/dev/null ||
		fail "apply --wait: $out"
	logs=''
	for k in $(seq 1 "$N"); do logs="$logs $CL_DIR/routerd-r$k.log"; done
	# shellcheck disable=SC2086 # a list of files
	while read -r t _; do
		[ "$t" -le "$t1" ] || late=$((late + 1))
	done <<-EOF2
		$(bench_logs_ms "event=view_activated.*hash=$h" $logs)
	EOF2
done
read -r p50 p99 max <<-EOF2
	$(pct "$CL_DIR/plain")
EOF2
printf '%-34s %-9s %-8s %s\n' what routerds applies "p50/p99/max ms"
printf '%-34s %-9d %-8d %s\n' "policy apply (anchor)" "$N" "$APPLIES" "$p50/$p99/$max"
read -r p50 p99 max <<-EOF2
	$(pct "$CL_DIR/wait")
EOF2
printf '%-34s %-9d %-8d %s\n' "policy apply --wait (all serve)" "$N" "$APPLIES" "$p50/$p99/$max"
echo "activations logged after apply --wait returned: $late (want 0)"
[ "$late" = 0 ] || fail "apply --wait returned before every routerd served"
