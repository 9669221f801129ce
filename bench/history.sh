#!/bin/sh
# Growth: `af policy history` and `af audit` at REVS revisions (default
# 10,000), applied through the real write path by tests/tools/apply_many on
# a NODES-node cluster (default 3). Times each read end to end (af process,
# linearizable read, answer, JSON out), best of RUNS, and prints the bytes
# of its JSON: the first page, a page deep in the history (--after 101, a
# cursor seek), the last page. The comparison in the same run: the whole
# history in one answer (--limit 1000 pages walked to the end, the most a
# script can ask for now), and with BASELINE_BIN=DIR (an earlier build's
# controld and af) that build's `af policy history`, which returns every
# revision at once, on the same data.
# Usage: sh bench/history.sh [REVS]  (after `make` and
#        `make build/tests/tools/apply_many`); AF_PORT_BASE=N picks ports.
set -eu
REVS=${1:-10000}
NODES=${NODES:-3}
RUNS=${RUNS:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib/bench.sh"
. "$ROOT/tests/lib/cluster.sh"
APPLY_MANY="$ROOT/$BUILD/tests/tools/apply_many"
[ -x "$APPLY_MANY" ] || { echo "build $APPLY_MANY first" >&2; exit 2; }
bench_cl_init history "$NODES"
for i in $(seq 1 "$NODES"); do cl_start "$i"; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
t0=$(date +%s)
"$APPLY_MANY" "$CL_FILE" "$EXAMPLES/policy.yaml" "$REVS" || fail "apply_many"
echo "# $REVS revisions applied in $(($(date +%s) - t0)) s ($NODES nodes)"

# timed AF ARGS...: "best_ms bytes" over RUNS runs
timed() {
	best=$(bench_best_of "$@")
	echo "$best $(wc -c <"$CL_DIR/out.json")"
}

row() { printf '%-9s %-44s %8s %10s\n' "$@"; }
row build query best_ms bytes
for q in "policy history" "policy history --after 101" \
	"policy history --limit 1000" "audit" "audit --limit 1000"; do
	# shellcheck disable=SC2046,SC2086 # "ms bytes" into $1 $2
	set -- $(timed "$AF" $q)
	row this "$q" "$1" "$2"
done
[ -n "${FIRST:-}" ] || FIRST=$(timed "$AF" policy history | cut -d' ' -f1)

# The whole history, page by page with --limit 1000 (af time only).
after='' bytes=0 pages=0 ms=0 worst=0
while :; do
	a=$(bench_now_ms)
	"$AF" -c "$CL_FILE" policy history --limit 1000 ${after:+--after "$after"} \
		-o json >"$CL_DIR/p.json"
	d=$(($(bench_now_ms) - a))
	ms=$((ms + d))
	[ "$d" -gt "$worst" ] && worst=$d
	bytes=$((bytes + $(wc -c <"$CL_DIR/p.json")))
	pages=$((pages + 1))
	after=$(jq -r '.next_after // empty' "$CL_DIR/p.json")
	[ -n "$after" ] || break
done
row this "whole history, $pages pages of 1000" "$ms" "$bytes"
row this "  (slowest of those pages)" "$worst" ""

if [ -n "${BASELINE_BIN:-}" ]; then
	for i in $(seq 1 "$NODES"); do cl_stop "$i" TERM; done
	for i in $(seq 1 "$NODES"); do
		"$BASELINE_BIN/controld" -c "$CL_FILE" --id "$i" \
			>>"$CL_DIR/node$i.log" 2>&1 &
		echo $! >"$CL_DIR/pid$i"
	done
	deadline=$(($(date +%s) + 60))
	until "$BASELINE_BIN/af" -c "$CL_FILE" --timeout 2s cluster status \
		-o json 2>/dev/null | jq -e '.leader' >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$deadline" ] || fail "baseline: no leader"
		sleep 0.1
	done
	# shellcheck disable=SC2046 # "ms bytes" into $1 $2
	set -- $(timed "$BASELINE_BIN/af" policy history)
	row baseline "policy history (every revision)" "$1" "$2"
	awk -v a="$1" -v b="$FIRST" 'BEGIN { printf "# first page vs baseline: %.1fx faster\n", a / b }'
	# shellcheck disable=SC2046 # "ms bytes" into $1 $2
	set -- $(timed "$BASELINE_BIN/af" audit)
	row baseline "audit (newest 100)" "$1" "$2"
fi
