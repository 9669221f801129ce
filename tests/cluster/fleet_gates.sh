#!/bin/sh
# Rollouts that wait for the fleet:
# - `af policy apply --wait` returns once every live routerd serves the new
#   hash (each answers with it at once), and with one routerd paused
#   (SIGSTOP) exits 3 after --timeout naming it and what it serves;
# - a canary step with --require-fleet 100 holds its interval while that
#   routerd stays paused (no step advances however healthy the traffic),
#   and starts it once the routerd resumes (SIGCONT) and serves the step;
#   the controller records each start as canary.fleet_ready.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init fleet_gates
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
cp "$EXAMPLES/policy.yaml" "$CL_DIR/base.yaml"
variant() { sed "s/^name: prod/name: prod-$1/" "$CL_DIR/base.yaml" >"$CL_DIR/$1.yaml"; }
h1=$(cl_af policy apply -f "$CL_DIR/base.yaml" -o json | jq -r .hash)
P1=$((CL_BASE + 901))
P2=$((CL_BASE + 902))
P3=$((CL_BASE + 903))
for r in 1 2 3; do cl_routerd_start r$r $((CL_BASE + 900 + r)); done
for p in $P1 $P2 $P3; do cl_wait_route_hash $p "$h1" >/dev/null; done
cl_wait_json "cl_af fleet status -o json" \
	'[.[] | select(.state == "SYNCED")] | length == 3' 20 >/dev/null

# --- apply --wait: every routerd serves the hash when it returns ---------
variant v2
out=$(cl_af policy apply -f "$CL_DIR/v2.yaml" --wait -o json)
h2=$(echo "$out" | jq -r .hash)
for p in $P1 $P2 $P3; do
	[ "$(cl_route_hash $p)" = "$h2" ] || fail "apply --wait returned before :$p served $h2: $out"
done
echo "$out" | jq -e '.wait.done and .wait.live == 3 and .wait.serving == 3 and
	.wait.laggards == []' >/dev/null || fail "wait result: $out"
note "apply --wait: 3 of 3 serve after $(echo "$out" | jq .wait.elapsed_ms) ms"

# --- one routerd paused: exit 3, the laggard named -----------------------
kill -STOP "$(cat "$CL_DIR/pidr-r3")"
t_stop=$(date +%s)
variant v3
set +e
out=$(cl_af policy apply -f "$CL_DIR/v3.yaml" --wait --timeout 3s -o json 2>"$CL_DIR/err")
rc=$?
set -e
h3=$(echo "$out" | jq -r .hash)
[ $rc = 3 ] || fail "apply --wait with r3 paused: exit $rc, want 3: $out $(cat "$CL_DIR/err")"
grep -q "TIMEOUT: 2 of 3 live routerds serve" "$CL_DIR/err" || fail "error line: $(cat "$CL_DIR/err")"
grep -q "r3 serves revision 2 $(echo "$h2" | cut -c1-27)" "$CL_DIR/err" ||
	fail "laggard not named with what it serves: $(cat "$CL_DIR/err")"
echo "$out" | jq -e --arg h "$h2" '(.wait.done | not) and .wait.serving == 2 and
	.wait.live == 3 and (.wait.laggards | length) == 1 and
	.wait.laggards[0].id == "r3" and .wait.laggards[0].hash == $h' >/dev/null ||
	fail "wait result with r3 paused: $out"
note "apply --wait with r3 paused: $(cat "$CL_DIR/err")"

# --- a canary step waits for the paused routerd --------------------------
variant v4
rev=$(cl_af canary start -f "$CL_DIR/v4.yaml" --steps 20,50 --interval 1s \
	--max-error-delta 0.05 --min-samples 10 --require-fleet 100 -o json | jq -r .revision)
k=0
drive() { # one chunk of healthy traffic on r1
	k=$((k + 1))
	cl_traffic $P1 $((k * 1000)) $((k * 1000 + 199)) "$CL_DIR/dh" true true 40
}
until [ $(($(date +%s) - t_stop)) -ge 12 ]; do drive; sleep 0.3; done
st=$(cl_af canary status -o json)
echo "$st" | jq -e '.step_index == 0 and .weight == 20 and .fleet.waiting and
	.fleet.live == 3 and .fleet.serving == 2' >/dev/null ||
	fail "the step did not wait for the paused routerd: $st"
echo "$st" | jq -e '.canary.requests >= 10' >/dev/null || fail "no canary traffic: $st"
n=$(cl_af audit -o json | jq '[.records[] | select(.verb == "canary.advance" or .verb == "canary.fleet_ready")] | length')
[ "$n" = 0 ] || fail "the rollout moved while r3 was paused ($n records)"
cl_af canary status >"$CL_DIR/status-waiting.txt"
grep -q "2 of 3 live routerds serve the step" "$CL_DIR/status-waiting.txt" ||
	fail "status: $(cat "$CL_DIR/status-waiting.txt")"
deadline=$(($(date +%s) + 10))
until curl -s "http://$(cl_http 1)/metrics" | grep -qx 'af_rollout_fleet_waiting 1'; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "af_rollout_fleet_waiting is not 1"
	sleep 0.5
done
note "step 1 held $(($(date +%s) - t_stop)) s with r3 paused"

kill -CONT "$(cat "$CL_DIR/pidr-r3")"
t_cont=$(date +%s)
deadline=$((t_cont + 60))
while :; do
	s=$(cl_af policy history -o json | jq -r --argjson r "$rev" '.revisions[] | select(.revision == $r) | .state')
	[ "$s" = stable ] && break
	[ "$(date +%s)" -lt "$deadline" ] || { cl_af canary status; fail "not promoted after SIGCONT ($s)"; }
	drive
	sleep 0.3
done
audit=$(cl_af audit -o json)
ready=$(echo "$audit" | jq --arg t "revision $rev" '[.records[] | select(.verb == "canary.fleet_ready" and
	.target == $t and .outcome == "OK" and .principal == "rollout-controller")] | length')
[ "$ready" = 2 ] || fail "fleet_ready $ready times, want 2 (one per step)"
first=$(echo "$audit" | jq -r --arg t "revision $rev" '[.records[] | select(.verb == "canary.fleet_ready" and
	.target == $t)] | min_by(.index) | .time' | sed 's/\.[0-9]*Z$/Z/')
[ "$(date -d "$first" +%s)" -ge "$t_cont" ] || fail "the fleet was ready at $first, before SIGCONT"
adv=$(echo "$audit" | jq --arg t "revision $rev" '[.records[] | select(.verb == "canary.advance" and .target == $t and .outcome == "OK")] | length')
[ "$adv" = 2 ] || fail "advanced $adv times, want 2"
deadline=$(($(date +%s) + 10))
until curl -s "http://$(cl_http 1)/metrics" | grep -qx 'af_rollout_fleet_waiting 0'; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "af_rollout_fleet_waiting is not 0 after the promotion"
	sleep 0.5
done
note "r3 resumed: canary $rev walked both steps and was promoted in $(($(date +%s) - t_cont)) s"
note ok
