#!/bin/sh
# Runs every Criterion test binary given, then the cluster scenarios
# (unless UNIT_ONLY=1).
# Criterion does not count sanitizer leak reports or crashes in setup and
# teardown as failures, so each binary's output is scanned for them too.
set -u
BUILD=${BUILD:-build}
fail=0
total_t=0; total_p=0; total_f=0
logdir=$BUILD/test-logs
mkdir -p "$logdir"
for t in "$@"; do
	name=$(basename "$t")
	log=$logdir/$name.log
	ASAN_OPTIONS=detect_leaks=1 \
		LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0 \
		"$t" --jobs 2 >"$log" 2>&1
	rc=$?
	syn=$(grep 'Synthesis:' "$log" | tail -1)
	echo "$name: $syn"
	if [ $rc -ne 0 ]; then
		echo "FAIL $name (exit $rc)"; fail=1; sed -n '1,80p' "$log"
	elif grep -Eq 'ERROR: (Leak|Address)Sanitizer|runtime error:|Warning! The test .* crashed|^af-alloc: ' "$log"; then
		echo "FAIL $name: sanitizer report or crash outside a test"; fail=1
		grep -E -A20 'Sanitizer|runtime error|crashed|^af-alloc: ' "$log" | head -60
	fi
	n=$(echo "$syn" | sed -n 's/.*Tested: \([0-9]*\).*/\1/p'); total_t=$((total_t + ${n:-0}))
	n=$(echo "$syn" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p'); total_p=$((total_p + ${n:-0}))
	n=$(echo "$syn" | sed -n 's/.*Failing: \([0-9]*\).*/\1/p'); total_f=$((total_f + ${n:-0}))
done
# UNIT_ONLY=1: the Criterion binaries only (a second compiler's build).
if [ "${UNIT_ONLY:-0}" = 1 ]; then
	[ $fail -ne 0 ] && [ $total_f -eq 0 ] && total_f=1
	echo "$total_p passed, $total_f failed (unit tests only)"
	exit $fail
fi
for s in tests/cluster/*.sh; do
	[ -f "$s" ] || continue
	name=$(basename "$s" .sh)
	log=$logdir/cluster-$name.log
	if BUILD=$BUILD timeout 600 sh "$s" >"$log" 2>&1; then
		echo "cluster/$name: ok"; total_t=$((total_t + 1)); total_p=$((total_p + 1))
	else
		echo "FAIL cluster/$name"; tail -40 "$log"; fail=1
		total_t=$((total_t + 1)); total_f=$((total_f + 1))
	fi
done
# The short fault suite (kills, pauses, partitions, restart-all).
log=$logdir/faults-short.log
if BUILD=$BUILD timeout 600 sh tests/faults/run.sh short >"$log" 2>&1; then
	echo "faults/short: ok"; sed -n '/^== fault run/,$p' "$log" | sed 's/^/  /'
	total_t=$((total_t + 1)); total_p=$((total_p + 1))
else
	echo "FAIL faults/short"; tail -40 "$log"; fail=1
	total_t=$((total_t + 1)); total_f=$((total_f + 1))
fi
[ $fail -ne 0 ] && [ $total_f -eq 0 ] && total_f=1
echo "$total_p passed, $total_f failed"
exit $fail
