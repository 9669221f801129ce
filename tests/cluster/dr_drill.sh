#!/bin/sh
# af dr drill against a live 3-node cluster and one routerd: leadership
# moves, RPO is 0 (every acknowledged write is in every member's audit),
# the routerd answered decisions throughout with no errors, the snapshot
# verifies; --fail-if rto_ms>0 exits 1; a step that fails after writes
# landed still removes the drill's budget; a routerd that does not answer,
# or one whose decisions leave the residency of the request, fails the
# drill (a canary's decisions judged by the canary's residency); a member that does not answer is named, not counted as lost
# writes.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init dr_drill 3
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
cl_af policy apply -f "$EXAMPLES/policy.yaml" -m one >/dev/null
RP=$((CL_BASE + 901))
cl_routerd_start r1 $RP
cl_wait_http "http://127.0.0.1:$RP/readyz"
before=$(cl_wait_leader)

out=$(cl_af dr drill --routerd "http://127.0.0.1:$RP" --writes 150 \
	--request "$EXAMPLES/request.json" -o json) || fail "drill failed: $out"
echo "$out" | jq -e '.rpo_entries == 0 and .writes >= 150 and .rto_ms > 0
	and .routerd.decisions > 0 and .routerd.errors == 0
	and .routerd.residency_violations == 0
	and .snapshot.verified and .snapshot.bytes > 0 and .snapshot.index > 0
	and .passed and (.members | length == 3)
	and ([.members[] | select(.missing == 0 and .reached)] | length == 3)
	and .old_leader != .new_leader' >/dev/null || fail "drill: $out"
[ "$(echo "$out" | jq .old_leader)" = "$before" ] || fail "moved from $before? $out"
# Leadership really moved, and the drill's budget is gone again.
now=$(cl_wait_leader)
[ "$now" != "$before" ] || fail "leader still $before"
cl_af budget list -o json | jq -e 'all(.[]; .tenant != "af-dr-drill")' >/dev/null ||
	fail "drill budget left behind"
# Its writes are in the audit of every member.
for id in 1 2 3; do
	n=$("$AF" --stale --endpoints "$(cl_api $id)" audit --limit 1000 -o json |
		jq '[.records[] | select(.target == "af-dr-drill" and .verb == "budget.set")] | length')
	[ "$n" -ge 150 ] || fail "node $id audit holds $n drill writes"
done

# The table, and --fail-if: a condition that holds exits 1.
cl_af dr drill --routerd "http://127.0.0.1:$RP" --writes 20 >"$CL_DIR/table.txt" ||
	fail "table drill: $(cat "$CL_DIR/table.txt")"
grep -q "^RTO  *[0-9]* ms" "$CL_DIR/table.txt" || fail "table: $(cat "$CL_DIR/table.txt")"
grep -q "^result  *PASS" "$CL_DIR/table.txt" || fail "table: $(cat "$CL_DIR/table.txt")"
set +e
out=$(cl_af dr drill --routerd "http://127.0.0.1:$RP" --writes 20 \
	--fail-if 'rto_ms>0' -o json)
rc=$?
set -e
[ $rc = 1 ] || fail "--fail-if rto_ms>0: exit $rc"
echo "$out" | jq -e '.passed == false and (.failures[0] | startswith("rto_ms>0 ("))
	and .rpo_entries == 0' >/dev/null || fail "fail-if: $out"

# -o yaml: the same document.
cl_af dr drill --writes 10 -o yaml >"$CL_DIR/drill.yaml" || fail "yaml drill"
grep -q '^rpo_entries: 0$' "$CL_DIR/drill.yaml" || fail "yaml: $(cat "$CL_DIR/drill.yaml")"
grep -q '^  verified: true$' "$CL_DIR/drill.yaml" || fail "yaml: $(cat "$CL_DIR/drill.yaml")"

# A step that fails after writes landed (the snapshot cannot be written)
# still removes the drill's budget.
set +e
cl_af dr drill --writes 10 --snapshot "$CL_DIR/no/such/dir/s.db" \
	>"$CL_DIR/snapfail.out" 2>"$CL_DIR/snapfail.err"
rc=$?
set -e
[ $rc = 3 ] || fail "snapshot failure: exit $rc: $(cat "$CL_DIR/snapfail.err")"
grep -q "dr drill: snapshot: " "$CL_DIR/snapfail.err" ||
	fail "snapshot failure: $(cat "$CL_DIR/snapfail.err")"
cl_af budget list -o json | jq -e 'all(.[]; .tenant != "af-dr-drill")' >/dev/null ||
	fail "drill budget left behind after a failed step: $(cl_af budget list -o json)"

# A routerd that does not answer: errors counted, the drill fails.
DEAD=$((CL_BASE + 902))
port_free $DEAD || fail "port $DEAD busy"
set +e
out=$(cl_af dr drill --routerd "http://127.0.0.1:$DEAD" --writes 10 -o json)
rc=$?
set -e
[ $rc = 1 ] || fail "dead routerd: exit $rc"
echo "$out" | jq -e '.routerd.errors > 0 and .routerd.decisions == 0
	and (.failures | index("routerd errors"))' >/dev/null || fail "dead: $out"
# A routerd serving a stale view (its controlds gone, a cached policy that
# let internal data go to us-east-1) while the stable policy keeps it in
# eu-west-1: every us-east-1 hop is a residency violation.
RP2=$((CL_BASE + 903))
cl_routerd_start r2 $RP2 --cache "$CL_DIR/cache2"
cl_wait_http "http://127.0.0.1:$RP2/readyz"
hash=$(cl_af policy history -o json | jq -r '.revisions[0].hash')
cl_wait_route_hash $RP2 "$hash" >/dev/null
cl_routerd_stop r2
sed 's/internal: \[eu-west-1, us-east-1\]/internal: [eu-west-1]/' \
	"$EXAMPLES/policy.yaml" >"$CL_DIR/eu.yaml"
cl_af policy apply -f "$CL_DIR/eu.yaml" -m eu-only >/dev/null
OLD_BASE=$CL_BASE
# Addresses where no controld listens: another base than the live one's.
CL_BASE=$OLD_BASE
while [ "$CL_BASE" = "$OLD_BASE" ]; do CL_BASE=$(pick_base); done
cl_write_file "$CL_DIR/gone.yaml" 3 ""
CL_BASE=$OLD_BASE
"$ROUTERD" -c "$CL_DIR/gone.yaml" --listen "127.0.0.1:$RP2" --id r2 \
	--cache "$CL_DIR/cache2" >>"$CL_DIR/routerd-r2.log" 2>&1 &
echo $! >"$CL_DIR/pidr-r2"
cl_wait_http "http://127.0.0.1:$RP2/readyz"
[ "$(cl_route_hash $RP2)" = "$hash" ] || fail "r2 does not serve the cached view"
set +e
out=$(cl_af dr drill --routerd "http://127.0.0.1:$RP2" --writes 10 \
	--request "$EXAMPLES/request.json" -o json)
rc=$?
set -e
[ $rc = 1 ] || fail "stale routerd: exit $rc: $out"
echo "$out" | jq -e '.routerd.decisions > 0 and .routerd.errors == 0
	and .routerd.residency_violations >= .routerd.decisions
	and (.failures | index("regions outside residency"))' >/dev/null ||
	fail "residency: $out"
cl_routerd_stop r2

# A canary that lets internal data go to us-east-1 again: its decisions
# are judged by the canary's residency, not the stable policy's.
sed 's/max_fallbacks: 3/max_fallbacks: 2/' "$EXAMPLES/policy.yaml" >"$CL_DIR/canary.yaml"
cl_af policy apply -f "$CL_DIR/canary.yaml" -m wide --canary 100 >/dev/null
cl_wait_json "curl -s -X POST --data-binary @$EXAMPLES/request.json http://127.0.0.1:$RP/v1/route" \
	'.policy.cohort == "canary" and
	([.region, .fallback[]?.region] | index("us-east-1"))' >/dev/null
out=$(cl_af dr drill --routerd "http://127.0.0.1:$RP" --writes 10 \
	--request "$EXAMPLES/request.json" -o json) || fail "canary drill: $out"
echo "$out" | jq -e '.routerd.decisions > 0 and .routerd.errors == 0
	and .routerd.residency_violations == 0 and .passed' >/dev/null ||
	fail "canary residency: $out"

# A member that does not answer (a stopped follower) is named as such;
# the writes the others hold are not counted as lost.
leader=$(cl_wait_leader)
# (not node 1: the first endpoint af tries)
down=3
[ "$leader" != 3 ] || down=2
kill -STOP "$(cl_pid $down)"
# Two writes it misses: the transfer goes to the member that has them.
cl_af budget set dr-lag --hard 1 >/dev/null
cl_af budget delete dr-lag >/dev/null
set +e
out=$(cl_af --timeout 3s dr drill --writes 10 -o json 2>"$CL_DIR/down.err")
rc=$?
set -e
kill -CONT "$(cl_pid $down)"
[ $rc = 1 ] || fail "stopped member: exit $rc: $out $(cat "$CL_DIR/down.err")"
echo "$out" | jq -e --argjson d "$down" --arg e "$(cl_api $down)" '
	.rpo_entries == 0 and .passed == false and .unanswered_members == [$d]
	and .failures == ["member \($d) (\($e)) did not answer"]
	and ([.members[] | select(.reached | not)] | length == 1)
	and ([.members[] | select(.reached and .missing == 0)] | length == 2)' \
	>/dev/null || fail "stopped member $down: $out"
cl_wait_converged 3
cl_af budget list -o json | jq -e 'all(.[]; .tenant != "af-dr-drill")' >/dev/null ||
	fail "drill budget left behind after a member did not answer"

# Bad flags are usage errors.
set +e
cl_af dr drill --fail-if 'latency>3' 2>"$CL_DIR/usage.err"
rc=$?
set -e
[ $rc = 2 ] || fail "bad --fail-if: exit $rc"
grep -q "fail-if: expected KEY>N" "$CL_DIR/usage.err" || fail "$(cat "$CL_DIR/usage.err")"
note ok
