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
# The cluster scenarios and the short fault suite (kills, pauses,
# partitions, restart-all) run AF_TEST_JOBS at a time (default 2). Each
# worker has its own 1000 ports from AF_TEST_PORT_BASE (default 25000,
# below the kernel's ephemeral range), handed to the scenario as
# AF_PORT_BASE. Workers claim jobs with mkdir, which is atomic, so every
# job runs once; the fault suite goes first as the longest, in a network
# namespace of its own. A scenario whose file holds the line
# "# af-test: alone" runs after the others, by itself.
jobs=${AF_TEST_JOBS:-2}
port0=${AF_TEST_PORT_BASE:-25000}
rundir=$(mktemp -d "${TMPDIR:-/tmp}/af-run.XXXXXX")
shared="faults/short"; alone=""
for s in tests/cluster/*.sh; do
	[ -f "$s" ] || continue
	if grep -qx '# af-test: alone' "$s"; then alone="$alone $s"; else shared="$shared $s"; fi
done
# run_job JOB SLOT: runs one job, records ok or FAIL with its seconds.
run_job() {
	case $1 in
	faults/short) name=faults-short; label=$1 ;;
	*) name=cluster-$(basename "$1" .sh); label=cluster/$(basename "$1" .sh) ;;
	esac
	t0=$(date +%s)
	if [ "$1" = faults/short ]; then
		AF_PORT_BASE=$(($port0 + $2 * 1000)) BUILD=$BUILD timeout 600 \
			sh tests/faults/run.sh short >"$logdir/$name.log" 2>&1
	else
		AF_PORT_BASE=$(($port0 + $2 * 1000)) BUILD=$BUILD timeout 600 \
			sh "$1" >"$logdir/$name.log" 2>&1
	fi
	rc=$?
	secs=$(($(date +%s) - t0))
	if [ $rc -eq 0 ]; then r=ok; else r=FAIL; fi
	echo "$r $label $name $secs" >"$rundir/result.$name"
	echo "$label: $r (${secs}s)"
}
# worker SLOT JOB...: claims and runs jobs until none is left.
worker() {
	slot=$1; shift
	for j in "$@"; do
		mkdir "$rundir/claim.$(echo "$j" | tr / _)" 2>/dev/null || continue
		run_job "$j" "$slot"
	done
}
pids=""
k=0
while [ $k -lt "$jobs" ]; do
	worker $k $shared &
	pids="$pids $!"
	k=$((k + 1))
done
for p in $pids; do wait "$p"; done
worker 0 $alone
for f in "$rundir"/result.*; do
	[ -f "$f" ] || continue
	read -r r label name secs <"$f"
	total_t=$((total_t + 1))
	if [ "$r" = ok ]; then
		total_p=$((total_p + 1))
		[ "$name" = faults-short ] &&
			sed -n '/^== fault run/,$p' "$logdir/$name.log" | sed 's/^/  /'
	else
		total_f=$((total_f + 1)); fail=1
		echo "FAIL $label (log $logdir/$name.log):"; tail -40 "$logdir/$name.log"
	fi
done
n_jobs=$(echo $shared $alone | wc -w)
n_done=$(ls "$rundir" | grep -c '^result\.')
if [ "$n_done" -ne "$n_jobs" ]; then
	echo "FAIL: $n_jobs jobs, $n_done results"; fail=1
fi
rm -rf "$rundir"
[ $fail -ne 0 ] && [ $total_f -eq 0 ] && total_f=1
echo "$total_p passed, $total_f failed"
exit $fail
