#!/bin/sh
# Does a large policy apply hold up other API requests? One controld node
# (the leader compiles what it is sent); build/bench/api_latency sends a
# small read (policy history, limit 1) every 5 ms for DURATION seconds and
# prints p50 / p99 / max: first with nothing else running (the
# reference), then while APPLIERS clients (build/tests/tools/apply_many)
# apply a bundle of RULES rules (about 165 bytes of YAML each) again and
# again, each a new revision the leader compiles (RULES up to about 6,300:
# apply_many reads at most 1 MiB).
#
#   sh bench/apply_compile.sh     DURATION=10 APPLIERS="1 4" RULES=6000
#
# After `make`, `make build/tests/tools/apply_many build/bench/api_latency`;
# AF_PORT_BASE picks the ports as for the cluster scenarios.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib/bench.sh"
. "$ROOT/tests/lib/cluster.sh"
DURATION=${DURATION:-10}
APPLIERS=${APPLIERS:-"1 4"}
RULES=${RULES:-6000}
LAT="$ROOT/$BUILD/bench/api_latency"
APPLY_MANY="$ROOT/$BUILD/tests/tools/apply_many"
for f in "$LAT" "$APPLY_MANY"; do
	[ -x "$f" ] || { echo "apply_compile.sh: build $f first" >&2; exit 2; }
done

cl_init apply_compile 1
cl_start 1
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
# big-I.yaml: the example with RULES rules more, and one of its own, so
# the appliers' revisions differ from each other's (apply_many names them
# gen-1, gen-2, ...).
big() {
	awk -v n="$RULES" -v id="$1" '
	{ print }
	/^rules:$/ { for (k = 0; k < n; k++) {
		printf "  - name: big-rule-%05d\n", k
		printf "    when: { class: research-agent, agent_role: [role%d], latency_slo_ms: { lt: %d } }\n", k, 1000 + k
		printf "    route: { tier: mid, fallback_tiers: [small] }\n" }
		printf "  - name: applier-%d\n    when: { agent_role: [applier%d] }\n", id, id
		printf "    route: { tier: mid, fallback_tiers: [small] }\n" }
	' "$EXAMPLES/policy.yaml" >"$CL_DIR/big-$1.yaml"
}
big 0
t0=$(bench_now_ms)
"$APPLY_MANY" "$CL_FILE" "$CL_DIR/big-0.yaml" 1 >/dev/null
echo "bundle: $(wc -c <"$CL_DIR/big-0.yaml") bytes, $RULES rules more than the example; one apply: $(($(bench_now_ms) - t0)) ms"

echo "reference (no apply): $("$LAT" "$CL_FILE" "$DURATION")"
PIDS=
stop_appliers() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	PIDS=
}
trap 'stop_appliers; cl_cleanup' EXIT INT TERM
for a in $APPLIERS; do
	for i in $(seq 1 "$a"); do
		[ -f "$CL_DIR/big-$i.yaml" ] || big "$i"
		"$APPLY_MANY" "$CL_FILE" "$CL_DIR/big-$i.yaml" 100000 >"$CL_DIR/applier-$i.log" 2>&1 &
		PIDS="$PIDS $!"
	done
	sleep 1
	r0=$(cl_af policy history --limit 1 -o json | jq '.revisions[0].revision')
	out=$("$LAT" "$CL_FILE" "$DURATION")
	r1=$(cl_af policy history --limit 1 -o json | jq '.revisions[0].revision')
	stop_appliers
	echo "$a applier(s): $out applies=$((r1 - r0))"
done
