#!/bin/sh
# Propagation: from `af policy apply` returning until N routerds (1, 10, 50)
# all serve the new hash. Real processes on 127.0.0.1: a 3-node controld
# cluster and N routerds. Each routerd logs event=view_activated (with a
# millisecond timestamp) right after it swapped the view in, so the
# measurement adds no polling load. Prints p50/p99/max over APPLIES applies,
# measured from `af policy apply` returning (the figure the acceptance
# names; 0 when routerd activated before af even exited) and from its start
# (includes the af process, the Raft commit and the apply).
# Usage: sh bench/propagation.sh [APPLIES]   (after `make`)
set -eu
APPLIES=${1:-20}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/lib/cluster.sh"
cl_init propagation

ts_ms() { # "ts=2026-11-22T11:36:39.436Z" -> epoch ms
	s=$(echo "$1" | sed 's/^ts=\(.*\)\.\([0-9]*\)Z$/\1Z \2/')
	date -d "${s% *}" +%s | awk -v ms="${s#* }" '{ printf "%.0f\n", $1 * 1000 + ms }'
}

for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
cl_af policy apply -f "$EXAMPLES/policy.yaml" >/dev/null
printf '%-10s %-8s %-14s %-8s %-8s %-8s\n' routerds applies measured_from p50_ms p99_ms max_ms
started=0
for n in 1 10 50; do
	while [ $started -lt $n ]; do
		started=$((started + 1))
		cl_routerd_start "r$started" $((CL_BASE + 1000 + started))
	done
	for k in $(seq 1 $started); do
		cl_wait_http "http://127.0.0.1:$((CL_BASE + 1000 + k))/readyz" 200 30
	done
	sleep 1
	: >"$CL_DIR/lat-$n"
	for a in $(seq 1 "$APPLIES"); do
		sed "s/^name: prod/name: prop-$n-$a/" "$EXAMPLES/policy.yaml" >"$CL_DIR/p.yaml"
		ts=$(($(date +%s%N) / 1000000))
		h=$(cl_af policy apply -f "$CL_DIR/p.yaml" -o json | jq -r .hash)
		t0=$(($(date +%s%N) / 1000000))
		worst=0
		worst_start=0
		for k in $(seq 1 $started); do
			log=$CL_DIR/routerd-r$k.log
			line=""
			for _ in $(seq 1 500); do
				line=$(grep "event=view_activated.*hash=$h" "$log" | head -1)
				[ -n "$line" ] && break
				sleep 0.01
			done
			[ -n "$line" ] || fail "r$k never activated $h"
			t=$(ts_ms "$(echo "$line" | cut -d' ' -f1)")
			d=$((t - t0))
			[ $d -lt 0 ] && d=0
			[ $d -gt $worst ] && worst=$d
			d=$((t - ts))
			[ $d -gt $worst_start ] && worst_start=$d
		done
		echo $worst >>"$CL_DIR/lat-$n"
		echo $worst_start >>"$CL_DIR/start-$n"
	done
	for from in return start; do
		f=$CL_DIR/lat-$n
		[ $from = start ] && f=$CL_DIR/start-$n
		sort -n "$f" | awk -v n="$started" -v a="$APPLIES" -v from="apply $from" '
			{ v[NR] = $1 }
			END {
				p50 = v[int((NR + 1) / 2)]; i = int(NR * 0.99 + 0.999);
				if (i < 1) i = 1; if (i > NR) i = NR;
				printf "%-10d %-8d %-14s %-8d %-8d %-8d\n", n, a, from, p50, v[i], v[NR]
			}'
	done
done
