#!/bin/sh
# The decision log and its replay, on a real cluster and a real routerd:
# traffic through /v1/route is logged (masked, sampled, rotated, kept),
# GET /v1/decisions/ID serves a record, `af policy simulate` of the log
# against its own revision reproduces every decision byte for byte (the
# log holds every live input that decided, lane fill and an emergency
# override included) and
# against a candidate that moves the default rule up a tier reports
# exactly the changes `af route` gives offline; --fail-if sets the exit
# code; `af policy test` passes and fails against the cluster.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init decision_log
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
# The example policy with a decision_log section: mask the customer label,
# log no claims-reconciliation decisions.
awk '/^degrade:/ { print "decision_log:\n  mask: [labels.customer]\n  sample: { claims-reconciliation: 0 }" } { print }' \
	"$EXAMPLES/policy.yaml" >"$CL_DIR/p.yaml"
sed 's/^    route: { tier: mid, fallback_tiers: \[small\] }$/    route: { tier: frontier, fallback_tiers: [mid] }/' \
	"$CL_DIR/p.yaml" >"$CL_DIR/cand.yaml"
! cmp -s "$CL_DIR/p.yaml" "$CL_DIR/cand.yaml" || fail "candidate equals the baseline"
out=$(cl_af policy apply -f "$CL_DIR/p.yaml" -o json)
h=$(echo "$out" | jq -r .hash)
rev=$(echo "$out" | jq -r .revision)
P=$((CL_BASE + 901))
U=http://127.0.0.1:$P
D=$CL_DIR/dlog
cl_routerd_start r1 $P --decision-log "$D" --decision-log-max-mb 1 --decision-log-keep 2
cl_wait_http "$U/readyz"
cl_wait_route_hash $P "$h" >/dev/null
# Decisions made so far (waiting for the hash), all logged.
before=$(cl_routerd_metric $P af_routerd_decisions_total)

# traffic FIRST LAST OUT: six request shapes by workflow number, one
# keep-alive connection; then every routed hop is reported (its lane slot
# released, as an orchestrator would).
traffic() {
	awk -v port="$P" -v a="$1" -v b="$2" 'BEGIN {
		s[0] = "\"class\":\"research-agent\",\"input_tokens\":18240,\"output_tokens\":960,\"needs\":[\"tools\"]"
		s[1] = "\"class\":\"research-agent\",\"agent_role\":\"planner\""
		s[2] = "\"class\":\"interactive-copilot\",\"labels\":{\"customer\":\"northwind-mutual\"}"
		s[3] = "\"class\":\"marketing\",\"sensitivity\":\"restricted\""
		s[4] = "\"class\":\"claims-reconciliation\""
		s[5] = "\"class\":\"underwriting\",\"sensitivity\":\"restricted\",\"input_tokens\":4000"
		for (i = a; i <= b; i++) {
			if (i > a) print "next"
			printf "url = \"http://127.0.0.1:%s/v1/route\"\n", port
			body = sprintf("{\"workflow_id\":\"wf-%d\",\"tenant\":\"claims-team\",%s}", i, s[i % 6])
			gsub(/"/, "\\\"", body)
			printf "data = \"%s\"\n", body
			print "write-out = \"\\n\""
		}
	}' >"$CL_DIR/t.cfg"
	curl -s -K "$CL_DIR/t.cfg" | grep -v '^$' >"$3"
}
: >"$CL_DIR/all"
i=1
while [ $i -le 2400 ]; do
	# From the middle on, an emergency override denies restricted
	# underwriting its only tier: those decisions are shaped by it, and a
	# replay must apply it again (the candidate leaves that rule alone).
	if [ $i = 1201 ]; then
		ov=$(cl_af emergency set --class underwriting --deny-tier frontier \
			--ttl 10m -m "frontier regressed")
		cl_wait_json "curl -s $U/v1/status" '.overrides.in_force == 1' >/dev/null ||
			fail "routerd does not enforce override $ov"
	fi
	traffic $i $((i + 99)) "$CL_DIR/chunk"
	cl_report_batch $P "$CL_DIR/chunk" true true 40 >/dev/null
	cat "$CL_DIR/chunk" >>"$CL_DIR/all"
	i=$((i + 100))
done
cl_af emergency clear "$ov" >/dev/null
cl_wait_json "curl -s $U/v1/status" '.overrides.in_force == 0' >/dev/null ||
	fail "routerd still enforces override $ov"
jq -e -s --arg ov "$ov" '(map(select(.code == "TIER_DENIED" and .overrides == [$ov])) |
	length) == 200' "$CL_DIR/all" >/dev/null || fail "override $ov did not deny 200 hops"
# A burst of interactive hops with no reports: the lane fills past its
# watermark (degraded) and then to its limit (LANE_SATURATED).
awk -v port="$P" 'BEGIN { for (i = 0; i < 70; i++) { if (i) print "next";
	printf "url = \"http://127.0.0.1:%s/v1/route\"\n", port
	printf "data = \"{\\\"workflow_id\\\":\\\"burst-%d\\\",\\\"tenant\\\":\\\"claims-team\\\",\\\"class\\\":\\\"interactive-copilot\\\"}\"\n", i
	print "write-out = \"\\n\"" } }' >"$CL_DIR/b.cfg"
curl -s -K "$CL_DIR/b.cfg" | grep -v '^$' >>"$CL_DIR/all"
total=$(wc -l <"$CL_DIR/all")
[ "$total" -eq 2470 ] || fail "$total answers of 2470"
jq -e -s '(map(select(.degraded == true)) | length) > 0 and
	(map(select(.code == "LANE_SATURATED")) | length) > 0' "$CL_DIR/all" >/dev/null ||
	fail "the burst neither degraded nor saturated the lane"
# Every decision but claims-reconciliation's (sample 0) is logged.
logged=$((total - 400 + before))
deadline=$(($(date +%s) + 15))
until [ "$(cl_routerd_metric $P af_routerd_decision_log_records_total)" -eq $logged ]; do
	[ "$(date +%s)" -lt "$deadline" ] ||
		fail "records written: $(cl_routerd_metric $P af_routerd_decision_log_records_total) of $logged"
	sleep 0.1
done
[ "$(cl_routerd_metric $P af_routerd_decision_log_dropped_total)" -eq 0 ] || fail "records dropped"

# Rotation at 1 MB (about 2 MB were written), two files kept.
ls "$D" | grep -Eq '^decisions-[0-9]{8}T[0-9]{6}-[0-9]+\.jsonl$' || fail "file names: $(ls "$D")"
[ "$(ls "$D" | wc -l)" -eq 2 ] || fail "files kept: $(ls "$D")"
[ "$(cl_routerd_metric $P af_routerd_decision_log_rotations_total)" -ge 3 ] || fail "no rotation"
for f in "$D"/*.jsonl; do
	[ "$(stat -c %s "$f")" -le 1048576 ] || fail "$f over 1 MB"
done
cat "$D"/*.jsonl >"$CL_DIR/log"
n=$(wc -l <"$CL_DIR/log")
[ "$n" -gt 10 ] && [ "$n" -lt $logged ] || fail "$n records kept of $logged"

# A record the override shaped carries it among its live inputs.
jq -e -s --arg ov "$ov" 'map(select(.decision.overrides == [$ov])) |
	length > 0 and all(.[]; .live.overrides[0].id == $ov and
	.live.overrides[0].effect == {"deny_tier": "frontier"})' "$CL_DIR/log" >/dev/null ||
	fail "no record holds override $ov"

# Record fields, masking, sampling.
jq -e -s 'all(.[]; .routerd == "r1" and .revision == '"$rev"' and .registry_revision == 1 and
	(.ts | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$")) and
	.decision.decision_id == .decision_id and (.live.lanes | type) == "object" and
	(.live.budget | has("soft_over") and has("hard_over"))) and
	all(.[]; .request.class != "claims-reconciliation")' "$CL_DIR/log" >/dev/null ||
	fail "record fields: $(head -1 "$CL_DIR/log")"
m="sha256:$(printf northwind-mutual | sha256sum | cut -c1-16)"
jq -e -s --arg m "$m" '[.[] | select(.request.class == "interactive-copilot" and .request.labels)] |
	length > 0 and all(.[]; .request.labels.customer == $m)' "$CL_DIR/log" >/dev/null ||
	fail "labels.customer not masked as $m"
! grep -q northwind "$CL_DIR/log" || fail "the customer's name is in the log"
jq -e -s 'any(.[]; .request.agent_role == "planner")' "$CL_DIR/log" >/dev/null ||
	fail "agent_role masked though not listed"

# GET /v1/decisions/ID: the record as written; 404 for an unknown id.
id=$(tail -1 "$CL_DIR/log" | jq -r .decision_id)
curl -s "$U/v1/decisions/$id" | jq -S . >"$CL_DIR/got"
tail -1 "$CL_DIR/log" | jq -S . | cmp -s - "$CL_DIR/got" || fail "GET /v1/decisions/$id: $(cat "$CL_DIR/got")"
code=$(curl -s -o "$CL_DIR/body" -w '%{http_code}' "$U/v1/decisions/r1-00000000000000ff")
[ "$code" = 404 ] && jq -e '.error.code == "NOT_FOUND"' "$CL_DIR/body" >/dev/null ||
	fail "unknown decision: $code $(cat "$CL_DIR/body")"

# Without --decision-log the endpoint says how to turn the log on.
cl_routerd_start r2 $((P + 1))
cl_wait_http "http://127.0.0.1:$((P + 1))/readyz"
code=$(curl -s -o "$CL_DIR/body" -w '%{http_code}' "http://127.0.0.1:$((P + 1))/v1/decisions/$id")
[ "$code" = 404 ] && jq -e '.error.code == "DECISION_LOG_OFF" and
	(.error.message | test("--decision-log DIR"))' "$CL_DIR/body" >/dev/null ||
	fail "log off: $code $(cat "$CL_DIR/body")"

# The replay against the record's own revision (fetched from the
# cluster): nothing changes and every logged body is reproduced exactly,
# the degraded and saturated burst included.
cl_af policy simulate -f "$CL_DIR/p.yaml" --log "$D" -o json >"$CL_DIR/same"
jq -e --argjson n "$n" '.requests == $n and .changed == 0 and .changed_pct == 0 and
	.baseline_reproduced == $n and .skipped == 0 and .samples == []' "$CL_DIR/same" >/dev/null ||
	fail "replay against its own revision: $(jq -c 'del(.samples)' "$CL_DIR/same")"
# Offline, the same.
"$AF" policy simulate -f "$CL_DIR/p.yaml" --baseline-file "$CL_DIR/p.yaml" \
	--models "$EXAMPLES/models.yaml" --log "$D" -o json |
	jq -e --argjson n "$n" '.changed == 0 and .baseline_reproduced == $n' >/dev/null ||
	fail "offline replay against the same bundle"

# The candidate routes the default rule to frontier. What changes, by
# `af route` offline for each distinct logged request (the workflow id
# aside), must be what simulate counts for the traffic; in the burst the
# lane decided (offline has no lanes): its degraded hops step down from
# either tier, so every routed hop changes (its degraded ones small ->
# mid), the saturated ones do not.
cl_af policy simulate -f "$CL_DIR/cand.yaml" --log "$D" -o json >"$CL_DIR/cand"
jq -c 'select(.request.workflow_id | startswith("burst-") | not) | .request | del(.workflow_id)' "$CL_DIR/log" |
	sort | uniq -c >"$CL_DIR/shapes"
expect=0
while read -r cnt req; do
	echo "$req" | jq '. + {workflow_id: "w"}' >"$CL_DIR/req.json"
	a=$("$AF" route -f "$CL_DIR/req.json" --policy "$CL_DIR/p.yaml" --models "$EXAMPLES/models.yaml" -o json |
		jq -c '[.decision, .model, .tier, .region, .code]')
	b=$("$AF" route -f "$CL_DIR/req.json" --policy "$CL_DIR/cand.yaml" --models "$EXAMPLES/models.yaml" -o json |
		jq -c '[.decision, .model, .tier, .region, .code]')
	[ "$a" = "$b" ] || expect=$((expect + cnt))
done <"$CL_DIR/shapes"
burst=$(jq -s '[.[] | select((.request.workflow_id | startswith("burst-")) and
	.decision.decision == "route")] | length' "$CL_DIR/log")
deg=$(jq -s '[.[] | select((.request.workflow_id | startswith("burst-")) and
	.decision.degraded == true)] | length' "$CL_DIR/log")
[ "$expect" -gt 0 ] || fail "the candidate changes nothing offline"
jq -e --argjson e $((expect + burst)) --argjson d "$deg" --argjson n "$n" '
	.requests == $n and .changed == $e and .by_kind.tier == $e and
	.by_kind.route_to_deny == 0 and .by_kind.deny_to_route == 0 and
	.tiers["mid->frontier"] == ($e - $d) and (.tiers["small->mid"] // 0) == $d and
	.rules == [{"baseline": "default", "candidate": "default", "n": $e}] and
	.cost_usd.candidate > .cost_usd.baseline and
	(.samples | length) == ([$e, 20] | min) and .baseline_reproduced == $n' \
	"$CL_DIR/cand" >/dev/null ||
	fail "candidate: expected $expect + $burst changes: $(jq -c 'del(.samples)' "$CL_DIR/cand")"

# --baseline REV names the revision instead of each record's; --since
# and --until select by ts.
cl_af policy simulate -f "$CL_DIR/cand.yaml" --baseline "$rev" --log "$D" -o json |
	jq -e --slurpfile c "$CL_DIR/cand" '.changed == $c[0].changed and
	.baseline_reproduced == $c[0].baseline_reproduced' >/dev/null || fail "--baseline $rev"
t=$(sed -n 2p "$CL_DIR/log" | jq -r .ts)
late=$(jq -s --arg t "$t" '[.[] | select(.ts >= $t)] | length' "$CL_DIR/log")
cl_af policy simulate -f "$CL_DIR/cand.yaml" --log "$D" --since "$t" -o json |
	jq -e --argjson l "$late" '.requests == $l' >/dev/null || fail "--since $t: want $late"
cl_af policy simulate -f "$CL_DIR/cand.yaml" --log "$D" --until 2000-01-01 -o json |
	jq -e '.requests == 0 and .changed_pct == 0' >/dev/null || fail "--until 2000-01-01"

# --fail-if: exit 1 when a condition holds, 0 when none does.
set +e
cl_af policy simulate -f "$CL_DIR/cand.yaml" --log "$D" --fail-if changed_pct\>1 >/dev/null 2>"$CL_DIR/err"
rc1=$?
cl_af policy simulate -f "$CL_DIR/cand.yaml" --log "$D" --fail-if changed_pct\>99,new_denials\>0 -o json >/dev/null 2>&1
rc0=$?
cl_af policy simulate -f "$CL_DIR/cand.yaml" --log "$D" --fail-if changed_pt\>1 >/dev/null 2>&1
rc2=$?
set -e
[ $rc1 = 1 ] && grep -q 'FAIL_IF: changed_pct' "$CL_DIR/err" || fail "--fail-if changed_pct>1: exit $rc1 $(cat "$CL_DIR/err")"
[ $rc0 = 0 ] || fail "--fail-if that holds for nothing: exit $rc0"
[ $rc2 = 2 ] || fail "bad --fail-if: exit $rc2"

# af policy test against the cluster's stable revision and registry.
cat >"$CL_DIR/pass.yaml" <<'T'
apiVersion: af/v1
kind: PolicyTest
cases:
  - name: research agents route to mid
    request: { workflow_id: w1, tenant: claims-team, class: research-agent, input_tokens: 18240, output_tokens: 960, needs: [tools] }
    expect: { decision: route, tier: mid, model: swift-mid, rule: default }
  - name: a full lane steps down
    request: { workflow_id: w2, tenant: claims-team, class: interactive-copilot }
    live: { lanes: { online-interactive: 60 } }
    expect: { tier: small, degraded: true }
  - name: restricted marketing is denied
    request: { workflow_id: w3, tenant: claims-team, class: marketing, sensitivity: restricted }
    expect: { decision: deny, code: POLICY_DENIED }
T
cl_af policy test "$CL_DIR/pass.yaml" >"$CL_DIR/out" || fail "passing tests: $(cat "$CL_DIR/out")"
grep -q '^3 passed, 0 failed$' "$CL_DIR/out" || fail "pass output: $(cat "$CL_DIR/out")"
sed 's/expect: { tier: small, degraded: true }/expect: { tier: frontier, degraded: true }/' \
	"$CL_DIR/pass.yaml" >"$CL_DIR/fail.yaml"
set +e
cl_af policy test "$CL_DIR/fail.yaml" -o junit >"$CL_DIR/junit" 2>/dev/null
rc=$?
set -e
[ $rc = 1 ] || fail "failing test: exit $rc"
grep -q "<failure message=\"tier: expected &quot;frontier&quot;, got &quot;small&quot;\">$CL_DIR/fail.yaml:7: " "$CL_DIR/junit" ||
	fail "junit: $(cat "$CL_DIR/junit")"
# What-if: eu-west-1 down. Every hop routed there loses its primary;
# restricted underwriting may only use eu-west-1, so it is denied rather
# than sent elsewhere: no hop leaves its residency.
cl_af policy simulate --log "$D" --down eu-west-1 -o json >"$CL_DIR/down"
lost=$(jq -s '[.[] | select(.decision.decision == "route" and .decision.region == "eu-west-1")] | length' "$CL_DIR/log")
den=$(jq -s '[.[] | select(.decision.decision == "route" and .request.sensitivity == "restricted")] | length' "$CL_DIR/log")
[ "$lost" -gt 0 ] && [ "$den" -gt 0 ] || fail "no traffic in eu-west-1 ($lost) or restricted ($den)"
jq -e --argjson l "$lost" --argjson d "$den" '.outage.down == ["eu-west-1"] and
	.outage.lost_primary == $l and .outage.denied == $d and .by_kind.route_to_deny == $d and
	.denials.candidate.MODELS_COOLING_DOWN == $d and .outage.residency_violations == 0' \
	"$CL_DIR/down" >/dev/null ||
	fail "--down eu-west-1: want $lost lost, $den denied: $(jq -c 'del(.samples)' "$CL_DIR/down")"

# A canary: its cohort's records name the canary revision, and the replay
# decides each record with the bundle of its own cohort.
crev=$(cl_af canary start -f "$CL_DIR/cand.yaml" --weight 50 --interval 1s \
	--min-samples 100000 -o json | jq -r .revision)
deadline=$(($(date +%s) + 10))
until [ "$(curl -s "$U/v1/status" | jq -r '.policy.canary.revision // 0')" = "$crev" ]; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "canary $crev not served"
	sleep 0.05
done
before=$(cl_routerd_metric $P af_routerd_decision_log_records_total)
traffic 3001 3060 "$CL_DIR/chunk"
cl_report_batch $P "$CL_DIR/chunk" true true 40 >/dev/null
want=$((before + 50)) # 60 but claims-reconciliation's 10
deadline=$(($(date +%s) + 15))
until [ "$(cl_routerd_metric $P af_routerd_decision_log_records_total)" -eq $want ]; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "canary records not written"
	sleep 0.1
done
cat "$D"/*.jsonl >"$CL_DIR/log"
jq -e -s --argjson r "$crev" 'any(.[]; .decision.policy.cohort == "canary" and .revision == $r)' \
	"$CL_DIR/log" >/dev/null || fail "no canary record"
cl_af policy simulate -f "$CL_DIR/cand.yaml" --log "$D" -o json >"$CL_DIR/mixed"
n=$(wc -l <"$CL_DIR/log")
e=$(jq -s '[.[] | select(.decision.policy.cohort == "stable" and
	.decision.decision == "route" and .decision.rule == "default")] | length' "$CL_DIR/log")
jq -e --argjson n "$n" --argjson e "$e" '.requests == $n and .baseline_reproduced == $n and
	.changed == $e' "$CL_DIR/mixed" >/dev/null ||
	fail "replay with a canary: want $e changed of $n: $(jq -c 'del(.samples)' "$CL_DIR/mixed")"

# The example PolicyTest file passes against the example policy, offline.
"$AF" policy test "$EXAMPLES/policy.test.yaml" --policy "$EXAMPLES/policy.yaml" \
	--models "$EXAMPLES/models.yaml" >"$CL_DIR/out" || fail "example tests: $(cat "$CL_DIR/out")"

# -o junit belongs to af policy test; elsewhere it is a usage error that
# says so.
set +e
err=$("$AF" -c "$CL_FILE" cluster status -o junit 2>&1 >/dev/null)
rc=$?
set -e
[ $rc = 2 ] && echo "$err" | grep -q 'junit is for af policy test only' ||
	fail "cluster status -o junit: exit $rc, $err"
note "decision log: $logged logged, $n kept in 2 files, $((expect + burst)) changed by the candidate"
