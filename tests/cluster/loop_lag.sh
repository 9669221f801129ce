#!/bin/sh
# The worst bundles a caller can send (4 MiB: nested 4 million deep, the
# 62 KB source nested 30,000 deep that once froze a leader, block nesting,
# 200,000 list items) are refused with a clear error while the leader keeps
# answering other requests and stays leader in the same term: compiling
# runs off the loop thread, and nesting is bounded before libyaml parses.
# Figures: af_controld_loop_lag_seconds on the leader.
. "$(dirname "$0")/../lib/cluster.sh"

RAW="$ROOT/$BUILD/tests/tools/afraw"
[ -x "$RAW" ] || fail "$RAW missing: make $BUILD/tests/tools/afraw"

cl_init looplag
for i in 1 2 3; do cl_start $i; done
leader=$(cl_wait_leader)
api=$(cl_api "$leader")
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null || fail "models"
cl_af policy apply -f "$EXAMPLES/policy.yaml" >/dev/null || fail "policy"
term=$("$RAW" "$api" status | sed -n 's/.* term=\([0-9]*\).*/\1/p')
note "leader is node $leader, term $term"

# lag_over SECONDS: observations of the loop lag above that bound so far
lag_over() {
	m=$(curl -fsS "http://$(cl_http "$leader")/metrics") || fail "metrics"
	total=$(echo "$m" | sed -n 's/^af_controld_loop_lag_seconds_count{} \([0-9]*\)$/\1/p')
	below=$(echo "$m" | sed -n "s/^af_controld_loop_lag_seconds_bucket{le=\"$1\"} \([0-9]*\)$/\1/p")
	[ -n "$total" ] && [ -n "$below" ] || fail "no loop lag metric"
	echo $((total - below))
}

big=$CL_DIR/big
python3 - "$big" <<'PY'
import sys
d = sys.argv[1]
m = 4 * 1024 * 1024
open(d + '-flow.yaml', 'w').write('[' * m)
open(d + '-62k.yaml', 'w').write('tiers: ' + '[' * 30000 + ']' * 30000)
open(d + '-block.yaml', 'w').write(
    ''.join(' ' * i + 'k%d:\n' % i for i in range(2800))[:m])
items = ', '.join('t%d' % i for i in range(199000))
head = 'apiVersion: af/v1\nkind: Policy\nname: big\n'
open(d + '-items.yaml', 'w').write((head + 'tiers: [' + items + ']\n')[:m])
PY

before1=$(lag_over 1)
before05=$(lag_over 0.5)
before01=$(lag_over 0.1)
# Other requests meanwhile: a status call every 0.1 s, each timed.
(
	while [ ! -f "$CL_DIR/stop" ]; do
		t0=$(date +%s%N)
		"$RAW" "$api" status >/dev/null 2>&1 && echo $((($(date +%s%N) - t0) / 1000000))
		sleep 0.1
	done
) >"$CL_DIR/status_ms" &
echo $! >"$CL_DIR/pid-status"
sleep 0.5
for round in 1 2; do
	for f in flow 62k block items; do
		t0=$(date +%s%N)
		out=$("$RAW" "$api" policy "$big-$f.yaml" "lag-$round-$f")
		note "$f ($((($(date +%s%N) - t0) / 1000000)) ms): $out"
		case $f in
		items) echo "$out" | grep -q '^code=INVALID msg="bundle:4:[0-9]*: tiers: ' ||
			fail "$f: $out" ;;
		*) echo "$out" | grep -q '^code=INVALID msg="bundle:[0-9]*:[0-9]*: nested deeper than 64 levels' ||
			fail "$f: $out" ;;
		esac
	done
done
sleep 0.5
touch "$CL_DIR/stop"
wait "$(cat "$CL_DIR/pid-status")" 2>/dev/null || true
rm -f "$CL_DIR/pid-status"

n=$(wc -l <"$CL_DIR/status_ms")
max=$(sort -n "$CL_DIR/status_ms" | tail -1)
note "status answered $n times meanwhile, slowest ${max} ms"
[ "$n" -ge 5 ] || fail "too few status answers: $n"
[ "$max" -lt 2000 ] || fail "a status call took $max ms"
over1=$(($(lag_over 1) - before1))
over05=$(($(lag_over 0.5) - before05))
over01=$(($(lag_over 0.1) - before01))
note "loop lag observations above 0.1 s: $over01, 0.5 s: $over05, 1 s: $over1"
[ "$over1" = 0 ] || fail "the loop stalled for more than 1 s"
out=$("$RAW" "$api" status)
echo "$out" | grep -q "term=$term role=leader" ||
	fail "an election happened: $out (term was $term)"
for i in 1 2 3; do cl_alive $i || fail "node $i exited"; done
[ "$(cl_af policy history -o json | jq ".revisions | length")" = 1 ] || fail "a revision appeared"
note "loop_lag: ok"
