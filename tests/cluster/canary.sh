#!/bin/sh
# Canary rollouts end to end: cohort share within 5 points of the weight
# over 2,000 workflows and sticky across routerds; a canary with a worse
# error rate is aborted by the controller, and a 100%-failing canary is
# aborted with the example policy's cooldown_s: 30 while the stable cohort
# is served throughout (cooldowns are per cohort); a healthy canary walks its steps
# and is promoted; killing the leader mid-rollout loses or repeats no step.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init canary
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
# The example policy as shipped (cooldown_s: 30): a bad canary's failures
# cool its models down for the canary cohort only, and the next canary
# starts with clean health.
grep -q 'cooldown_s: 30' "$EXAMPLES/policy.yaml" || fail "example policy changed"
cp "$EXAMPLES/policy.yaml" "$CL_DIR/base.yaml"
cl_af policy apply -f "$CL_DIR/base.yaml" >/dev/null
P1=$((CL_BASE + 901))
P2=$((CL_BASE + 902))
cl_routerd_start r1 $P1
cl_routerd_start r2 $P2
cl_wait_http "http://127.0.0.1:$P1/readyz"
cl_wait_http "http://127.0.0.1:$P2/readyz"

variant() { sed "s/^name: prod/name: prod-$1/" "$CL_DIR/base.yaml" >"$CL_DIR/$1.yaml"; }

# Waits until routerd on $1 serves canary revision $2 (0: none).
wait_canary() {
	deadline=$(($(date +%s) + 10))
	while :; do
		c=$(curl -s "http://127.0.0.1:$1/v1/status" | jq -r '.policy.canary.revision // 0')
		[ "$c" = "$2" ] && return 0
		[ "$(date +%s)" -lt "$deadline" ] || fail "routerd :$1 canary is $c, not $2"
		sleep 0.05
	done
}

# --- share and stickiness ------------------------------------------------
variant a
rev=$(cl_af canary start -f "$CL_DIR/a.yaml" --weight 20 -o json | jq -r .revision)
wait_canary $P1 "$rev"
wait_canary $P2 "$rev"
cl_traffic $P1 1 2000 "$CL_DIR/d1" true true 40
cl_traffic $P2 1 2000 "$CL_DIR/d2" true true 40
n=$(jq -s 'length' "$CL_DIR/d1")
[ "$n" = 2000 ] || fail "routed $n of 2000"
share=$(jq -s '[.[] | select(.policy.cohort == "canary")] | length' "$CL_DIR/d1")
note "canary share at weight 20: $share of 2000"
[ "$share" -ge 300 ] && [ "$share" -le 500 ] || fail "share $share not 20% +- 5"
jq -s -e --argjson r "$rev" 'all(.[] | select(.policy.cohort == "canary");
	.policy.revision == $r)' "$CL_DIR/d1" >/dev/null || fail "canary revision"
a=$(jq -c '.policy.cohort' "$CL_DIR/d1" | md5sum)
b=$(jq -c '.policy.cohort' "$CL_DIR/d2" | md5sum)
[ "$a" = "$b" ] || fail "cohorts differ between routerds"
cl_traffic $P1 1 2000 "$CL_DIR/d3" true true 40
[ "$(jq -c '.policy.cohort' "$CL_DIR/d3" | md5sum)" = "$a" ] || fail "not sticky"
cl_af canary abort >/dev/null
wait_canary $P1 0

# --- a worse error rate is aborted by the controller ----------------------
variant b
rev=$(cl_af canary start -f "$CL_DIR/b.yaml" --weight 50 --interval 1s \
	--max-error-delta 0.1 --min-samples 50 -o json | jq -r .revision)
wait_canary $P1 "$rev"
# Reported in chunks of 10, as an orchestrator reports each hop soon: the
# canary's models cool down for its cohort after a few failures, well
# before --min-samples reports; its MODELS_COOLING_DOWN denials count as
# its failures, so the controller still sees it failing.
: >"$CL_DIR/d4"
i=1
while [ $i -le 600 ]; do
	cl_route_batch $P1 $i $((i + 9)) "$CL_DIR/chunk"
	cl_report_batch $P1 "$CL_DIR/chunk" true false 40 >/dev/null
	cat "$CL_DIR/chunk" >>"$CL_DIR/d4"
	i=$((i + 10))
done
# Stable: every request served. Canary: routed until its models cool down
# for the canary cohort, then denied MODELS_COOLING_DOWN (retryable).
jq -s -e 'all(.[] | select(.policy.cohort == "stable"); .decision == "route")' \
	"$CL_DIR/d4" >/dev/null ||
	fail "stable denied: $(jq -c 'select(.policy.cohort == "stable" and .decision == "deny")' "$CL_DIR/d4" | head -1)"
jq -s -e 'all(.[] | select(.decision == "deny"); .code == "MODELS_COOLING_DOWN"
	and .retryable and .retry_after_ms > 0 and .retry_after_ms <= 30000
	and .policy.cohort == "canary")' "$CL_DIR/d4" >/dev/null ||
	fail "denials: $(jq -c 'select(.decision == "deny")' "$CL_DIR/d4" | sort -u | head -2)"
note "bad canary: $(jq -s -c '{stable: [.[] | select(.policy.cohort == "stable")] | length,
	canary_routed: [.[] | select(.policy.cohort == "canary" and .decision == "route")] | length,
	canary_cooling: [.[] | select(.code == "MODELS_COOLING_DOWN")] | length}' "$CL_DIR/d4")"
deadline=$(($(date +%s) + 30))
while :; do
	st=$(cl_af policy history -o json | jq -r --argjson r "$rev" '.revisions[] | select(.revision == $r) | .state')
	[ "$st" = aborted ] && break
	[ "$(date +%s)" -lt "$deadline" ] || { cl_af canary status; fail "not aborted ($st)"; }
	sleep 0.2
done
cl_af audit -o json | jq -e '.records[] | select(.verb == "canary.auto_abort") |
	select(.principal == "rollout-controller" and .outcome == "OK")' >/dev/null ||
	fail "no auto_abort audit record"
wait_canary $P1 0
note "bad canary $rev aborted by the controller"
# Stable traffic right after: served by its first choices.
cl_traffic $P1 5001 5200 "$CL_DIR/d5" true true 40
jq -s -e 'all(.[]; .decision == "route" and .policy.cohort == "stable")' \
	"$CL_DIR/d5" >/dev/null || fail "stable after the abort"

# --- a healthy canary walks its steps and is promoted ----------------------
healthy() { # drive traffic until revision $1 is stable or $2 seconds pass
	deadline=$(($(date +%s) + $2))
	k=0
	while :; do
		st=$(cl_af policy history -o json | jq -r --argjson r "$1" '.revisions[] | select(.revision == $r) | .state')
		[ "$st" = stable ] && return 0
		[ "$(date +%s)" -lt "$deadline" ] || { cl_af canary status; fail "not promoted ($st)"; }
		k=$((k + 1))
		cl_traffic $P1 $((k * 1000)) $((k * 1000 + 199)) "$CL_DIR/dh" true true 40
		[ -n "${3:-}" ] && "$3"
		sleep 0.3
	done
}
variant c
rev=$(cl_af canary start -f "$CL_DIR/c.yaml" --steps 20,50 --interval 1s \
	--max-error-delta 0.05 --max-latency-ratio 2 --min-samples 20 -o json | jq -r .revision)
healthy "$rev" 40
adv=$(cl_af audit -o json | jq --arg t "revision $rev" '[.records[] | select(.verb == "canary.advance" and .target == $t and .outcome == "OK")] | length')
[ "$adv" = 2 ] || fail "healthy canary advanced $adv times, want 2 (20->50->stable)"
note "healthy canary $rev promoted after 2 steps"

# --- leader killed mid-rollout ---------------------------------------------
variant d
rev=$(cl_af canary start -f "$CL_DIR/d.yaml" --steps 10,30,60 --interval 2s \
	--min-samples 20 --max-error-delta 0.05 -o json | jq -r .revision)
killed=""
kill_at_step1() {
	[ -n "$killed" ] && return 0
	s=$(cl_af canary status -o json | jq -r .step_index)
	[ "$s" = 1 ] || return 0
	killed=$(cl_wait_leader)
	cl_stop "$killed" KILL
	note "killed leader $killed at step 1"
	cl_start "$killed"
}
healthy "$rev" 60 kill_at_step1
[ -n "$killed" ] || fail "the rollout never reached step 1 while running"
adv=$(cl_af audit -o json | jq --arg t "revision $rev" '[.records[] | select(.verb == "canary.advance" and .target == $t and .outcome == "OK")] | length')
[ "$adv" = 3 ] || fail "advanced $adv times across the leader kill, want 3"
note ok
