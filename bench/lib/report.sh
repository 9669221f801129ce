# shellcheck shell=sh
# What the `af report` benches (bench/report.sh, bench/workflow_report.sh)
# share: the usage_fill tool, their one-node cluster, and the plain LMDB
# walk they compare with (bench_best_of of bench/lib/bench.sh times the
# queries). Source it after setting ROOT and RUNS:
#   . "$ROOT/bench/lib/report.sh"
# (it sources bench/lib/bench.sh and tests/lib/cluster.sh).
. "$ROOT/bench/lib/bench.sh"
. "$ROOT/tests/lib/cluster.sh"

# report_init NAME: FILL, the usage_fill tool (exits 2 when it is not
# built), and the one-node cluster NAME (bench_cl_init).
report_init() {
	FILL="$ROOT/$BUILD/tests/tools/usage_fill"
	[ -x "$FILL" ] || { echo "build $FILL first" >&2; exit 2; }
	bench_cl_init "$1" 1
}

# report_floor: in ms (at least 1), the fastest of RUNS plain walks of the
# usage table $FILL wrote to $CL_DIR/fill: the floor a full scan cannot
# beat.
report_floor() {
	floor=
	for _ in $(seq 1 "$RUNS"); do
		w=$("$FILL" --scan "$CL_DIR/fill" test | awk '{ printf "%.0f", $3 }')
		[ -z "$floor" ] || [ "$w" -lt "$floor" ] && floor=$w
	done
	[ "$floor" -gt 0 ] || floor=1
	echo "$floor"
}

# report_vs MS FLOOR: MS as a multiple of FLOOR, "5.0x".
report_vs() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", a / b }'
}
