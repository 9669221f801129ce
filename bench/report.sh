#!/bin/sh
# Growth: `af report` over ROWS usage rows (default 1,000,000) served by a
# real controld. tests/tools/usage_fill builds the state through the usage
# apply code (10 days x 2,000 tenants x 5 classes x 10 models by default)
# and writes it as a backup; a one-node cluster starts from it with
# `controld --restore`, and each `af report` is timed end to end (af
# process, linearizable read, the scan, the answer, JSON out), best of
# RUNS. The anchor, in the same run: one plain walk of the same usage table
# straight from LMDB, unpacking every row and nothing else (the floor a full
# scan cannot beat). With BASELINE_BIN=DIR (a directory holding an earlier
# build's controld and af), the same reports are timed on it too.
# Usage: sh bench/report.sh [ROWS_PER_DAY_TENANTS] (after `make` and
#        `make build/tests/tools/usage_fill`); AF_PORT_BASE=N picks ports.
set -eu
TENANTS=${1:-2000}
DAYS=${DAYS:-10}
CLASSES=${CLASSES:-5}
MODELS=${MODELS:-10}
RUNS=${RUNS:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib/report.sh"
report_init report
rows=$((DAYS * TENANTS * CLASSES * MODELS))
"$FILL" "$CL_DIR/fill" test "$CL_DIR/usage.db" "$DAYS" "$TENANTS" \
	"$CLASSES" "$MODELS" 1 2026-11-01 >/dev/null
since=$(date -u -d "2026-11-01 +$((DAYS - 2)) days" +%Y-%m-%d)

# run_set LABEL CONTROLD AF
run_set() {
	rm -rf "$CL_DIR/data"
	"$2" -c "$CL_FILE" --id 1 --restore "$CL_DIR/usage.db" \
		>>"$CL_DIR/node1.log" 2>&1 &
	echo $! >"$CL_DIR/pid1"
	deadline=$(($(date +%s) + 60))
	until "$3" -c "$CL_FILE" --timeout 2s cluster status -o json 2>/dev/null |
		jq -e '.leader' >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$deadline" ] || fail "$1: no leader"
		sleep 0.1
	done
	for q in "--by tenant" "--by model" "--by class" "--by tenant --since $since"; do
		# shellcheck disable=SC2086
		ms=$(bench_best_of "$3" report $q)
		printf '%-10s %-36s %8s %8s %9s\n' "$1" "report $q" \
			"$(jq length "$CL_DIR/out.json")" "$ms" \
			"$(report_vs "$ms" "$floor")"
	done
	cl_stop 1 TERM
}

floor=$(report_floor)
echo "# $rows usage rows ($DAYS days x $TENANTS tenants x $CLASSES classes x $MODELS models)"
echo "# anchor: plain walk of the usage table from LMDB (best of $RUNS): $floor ms"
printf '%-10s %-36s %8s %8s %9s\n' build query groups best_ms vs_walk
run_set this "$CONTROLD" "$AF"
if [ -n "${BASELINE_BIN:-}" ]; then
	run_set baseline "$BASELINE_BIN/controld" "$BASELINE_BIN/af"
fi
