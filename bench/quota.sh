#!/bin/sh
# Fleet-wide quota under a load it bottlenecks: one tenant's quota of
# LIMIT hops in flight (default 50), shared by a fleet of 3 routerds and
# then of 10 (FLEETS). CLIENTS closed-loop clients (default 100) each send
# a hop to a routerd picked at random, hold a routed hop HOLD_MS (200) and
# report it; a QUOTA_EXCEEDED hop is retried after its retry_after_ms
# (bench/lib/quota_load.py, which says how the client side counts).
#
# Per fleet, three runs of DURATION seconds (20) each:
#   idle     no traffic (the routerds' own fleet reports)
#   noquota  the same clients on a tenant no quota names, held to LIMIT in
#            flight by the clients themselves (same admissions and reports,
#            so the same usage batches, and no lease traffic)
#   quota    the clients on the tenant of the quota
# and prints per run: requests, hops admitted (and per second; util = the
# share of the limit's capacity used: admitted x hold / (limit x seconds)),
# (a) max_inflight, the highest fleet-wide count of hops admitted and not
# yet reported, sampled at every admission (never above LIMIT), (b) the
# denials while the fleet had a unit free (and the share of requests they
# are; "first" = those on a routerd before its first route of the run),
# and (c) Raft commits per second (commit index delta of controld over the
# run). Then the commits/s the leases cost: quota - noquota.
#
# Usage: sh bench/quota.sh (after `make`); AF_PORT_BASE=N picks the ports
# (N..N+999), BUILD the build directory. Benchmarks print figures; they do
# not pass or fail on them.
set -eu
LIMIT=${LIMIT:-50}
CLIENTS=${CLIENTS:-100}
HOLD_MS=${HOLD_MS:-200}
DURATION=${DURATION:-20}
FLEETS=${FLEETS:-"3 10"}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib/bench.sh"
. "$ROOT/tests/lib/cluster.sh"
bench_cl_init quota 3
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
cp "$EXAMPLES/policy.yaml" "$CL_DIR/policy.yaml"
cat >>"$CL_DIR/policy.yaml" <<EOF
quotas:
  - name: bench-inflight
    tenant: bench
    max_inflight: $LIMIT
EOF
cl_af policy apply -f "$CL_DIR/policy.yaml" >/dev/null

# commit_index: the highest af_raft_commit_index the three nodes export
commit_index() {
	for i in 1 2 3; do
		curl -s "http://$(cl_http $i)/metrics" 2>/dev/null |
			awk '$1 == "af_raft_commit_index" { print $2 }'
	done | sort -n | tail -1
}

# run N NAME TENANT [client args]: one run; prints its row, and its
# commits/s into $CL_DIR/cps-NAME
run() {
	n=$1
	name=$2
	tenant=$3
	shift 3
	c0=$(commit_index)
	t0=$(bench_now_ms)
	if [ "$name" = idle ]; then
		sleep "$DURATION"
		out='{"requests":0,"admitted":0,"admitted_per_s":0,"utilization":0,
			"max_inflight":0,"denied":0,"denied_while_free":0,
			"denied_while_free_before_first_route":0,
			"denied_while_free_share":0}'
	else
		out=$(python3 "$ROOT/bench/lib/quota_load.py" --ports "$ports" \
			--tenant "$tenant" --limit "$LIMIT" --clients "$CLIENTS" \
			--hold-ms "$HOLD_MS" --duration "$DURATION" "$@")
	fi
	c1=$(commit_index)
	t1=$(bench_now_ms)
	cps=$(awk -v c="$((c1 - c0))" -v t="$((t1 - t0))" \
		'BEGIN { printf "%.1f", c * 1000 / t }')
	echo "$cps" >"$CL_DIR/cps-$name"
	echo "$out" | jq -r --arg n "$n" --arg r "$name" --arg c "$cps" \
		--arg l "$LIMIT" '[$n, $r, .requests, .admitted, .admitted_per_s,
		.utilization, "\(.max_inflight)/\($l)", .denied,
		.denied_while_free, .denied_while_free_before_first_route,
		"\(.denied_while_free_share * 100 | . * 100 | round / 100)%", $c] |
		@tsv' | awk -F'\t' '{ printf "%-8s %-8s %8s %8s %7s %5s %9s %7s %7s %6s %7s %9s\n",
		$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 }'
}

echo "# quota max_inflight $LIMIT, $CLIENTS clients, hops held $HOLD_MS ms, runs of $DURATION s"
printf '%-8s %-8s %8s %8s %7s %5s %9s %7s %7s %6s %7s %9s\n' routerds run \
	requests admitted adm/s util max_infl denied d_free first d_free% commits/s
for n in $FLEETS; do
	ports=
	for k in $(seq 1 "$n"); do
		cl_routerd_start "r$k" $((CL_BASE + 900 + k)) --log-level warn
		ports="$ports${ports:+,}$((CL_BASE + 900 + k))"
	done
	for k in $(seq 1 "$n"); do
		cl_wait_http "http://127.0.0.1:$((CL_BASE + 900 + k))/readyz"
	done
	sleep 2 # every routerd has registered
	run "$n" idle -
	run "$n" noquota free --semaphore "$LIMIT"
	run "$n" quota bench
	awk -v q="$(cat "$CL_DIR/cps-quota")" -v b="$(cat "$CL_DIR/cps-noquota")" \
		-v n="$n" 'BEGIN { printf "# %d routerds: leases cost %.1f commits/s (quota - noquota)\n", n, q - b }'
	for k in $(seq 1 "$n"); do cl_routerd_stop "r$k" TERM; done
	for k in $(seq 1 "$n"); do
		while kill -0 "$(cat "$CL_DIR/pidr-r$k")" 2>/dev/null; do sleep 0.1; done
	done
done
