#!/bin/sh
# `af report --unit workflow` over the aggregates of HOPS hops (default
# 10,000,000: 1,000,000 workflows of 10 hops) served by a real controld.
# tests/tools/usage_fill --workflows builds the rows through their apply
# code, one per (day, tenant, class, labels.cost_center value): 30 days x
# 200 tenants x 5 classes x 10 cost centers = 300,000 rows by default, and
# writes them as a backup a one-node cluster starts from. Each report is
# timed end to end (af process, linearizable read, the scan, the grouping,
# the answer, JSON out), best of RUNS. The anchor, in the same run: one
# plain walk of the same usage table from LMDB, unpacking every row.
# Usage: sh bench/workflow_report.sh (after `make` and
#        `make build/tests/tools/usage_fill`); AF_PORT_BASE=N picks ports.
set -eu
DAYS=${DAYS:-30}
TENANTS=${TENANTS:-200}
CLASSES=${CLASSES:-5}
LABELS=${LABELS:-10}
HOPS=${HOPS:-10000000}
RUNS=${RUNS:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib/report.sh"
report_init wfreport
rows=$((DAYS * TENANTS * CLASSES * LABELS))
"$FILL" --workflows "$CL_DIR/fill" test "$CL_DIR/usage.db" "$DAYS" "$TENANTS" \
	"$CLASSES" "$LABELS" 2026-11-01 "$HOPS" >/dev/null
since=$(date -u -d "2026-11-01 +$((DAYS - 7)) days" +%Y-%m-%d)

floor=$(report_floor)

cl_start 1 --restore "$CL_DIR/usage.db"
cl_wait_leader 60 >/dev/null
echo "# $rows workflow rows ($DAYS days x $TENANTS tenants x $CLASSES classes x $LABELS cost centers), $HOPS hops"
echo "# anchor: plain walk of the usage table from LMDB (best of $RUNS): $floor ms"
printf '%-58s %8s %8s %9s\n' query groups best_ms vs_walk
for q in "--by tenant" "--by class" "--by labels.cost_center" "--by day" \
	"--by tenant,class,labels.cost_center" "--by tenant --since $since"; do
	# shellcheck disable=SC2086
	best=$(bench_best_of "$AF" report --unit workflow $q)
	printf '%-58s %8s %8s %9s\n' "report --unit workflow $q" "$(jq length "$CL_DIR/out.json")" \
		"$best" "$(report_vs "$best" "$floor")"
done
"$AF" -c "$CL_FILE" report --unit workflow --by class -o json |
	jq -e --argjson h "$HOPS" '[.[].hops] | add == $h' >/dev/null ||
	fail "the rows do not hold $HOPS hops"
cl_stop 1 TERM
