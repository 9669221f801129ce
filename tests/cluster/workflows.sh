#!/bin/sh
# Workflows as the unit, on a real cluster and a real routerd: every
# decision carries the workflow's state so far ("workflow": hops, in
# flight, cost); the class caps deny WORKFLOW_BUDGET on hops, tokens and
# cost (the reported cost replacing the estimate) and FANOUT_CAP on hops
# measured in flight (retryable; a report frees a slot); --max-workflows
# is checked and shown by --check; `af policy simulate` of the decision
# log reproduces every workflow denial, and a candidate without the caps
# turns exactly those denials into routes.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init workflows
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
awk '{ print }
/^  research-agent:$/ { print "    max_workflow_hops: 4\n    max_inflight_per_workflow: 2\n    max_workflow_cost_usd: 1.00\n    workflow_idle_s: 600" }
/^  interactive-copilot:$/ { print "    max_workflow_tokens: 3000" }' \
	"$EXAMPLES/policy.yaml" >"$CL_DIR/p.yaml"
grep -v 'workflow' "$CL_DIR/p.yaml" >"$CL_DIR/nocaps.yaml"
h=$(cl_af policy apply -f "$CL_DIR/p.yaml" -o json | jq -r .hash)
P=$((CL_BASE + 901))
U=http://127.0.0.1:$P
D=$CL_DIR/dlog

# --max-workflows: bounds checked, the value shown by --check.
set +e
"$ROUTERD" -c "$CL_FILE" --listen 127.0.0.1:$P --max-workflows 0 >/dev/null 2>"$CL_DIR/err"
rc=$?
set -e
[ $rc -ne 0 ] && grep -q -- '--max-workflows: "0" is not a number from 1 to 10000000' "$CL_DIR/err" ||
	fail "--max-workflows 0: exit $rc $(cat "$CL_DIR/err")"
"$ROUTERD" -c "$CL_FILE" --listen 127.0.0.1:$P --max-workflows 1000 --check |
	grep -qx 'max-workflows=1000 (flag)' || fail "--check does not show max-workflows"

cl_routerd_start r1 $P --decision-log "$D" --max-workflows 1000
cl_wait_http "$U/readyz"
cl_wait_route_hash $P "$h" >/dev/null

# route WF CLASS [EXTRA]: one decision, printed.
route() {
	curl -s -X POST "$U/v1/route" -d "{\"workflow_id\":\"$1\",\"tenant\":\"claims-team\",\"class\":\"$2\"${3:-}}"
}
# report DECISION WF CLASS COST: the hop's report, with its cost.
report() {
	code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$U/v1/report" -d "{\"decision_id\":\"$(echo "$1" | jq -r .decision_id)\",\"workflow_id\":\"$2\",\"tenant\":\"claims-team\",\"class\":\"$3\",\"ok\":true,\"input_tokens\":100,\"output_tokens\":20,\"cost_usd\":$4}")
	[ "$code" = 202 ] || fail "report: $code"
}

# Hops: four routed and reported at 0.01 USD each, the fifth denied.
for i in 0 1 2 3; do
	d=$(route wf-hops research-agent)
	echo "$d" | jq -e --argjson i $i '.decision == "route" and
		.workflow == {"hops": $i, "inflight": 0, "cost_usd": ($i * 0.01)}' >/dev/null ||
		fail "hop $i: $d"
	report "$d" wf-hops research-agent 0.01
done
d=$(route wf-hops research-agent)
echo "$d" | jq -e '.decision == "deny" and .code == "WORKFLOW_BUDGET" and .retryable == false and
	(has("retry_after_ms") | not) and .workflow == {"hops": 4, "inflight": 0, "cost_usd": 0.04} and
	(.message | test("has made 4 hops, max_workflow_hops 4 of class research-agent"))' >/dev/null ||
	fail "fifth hop: $d"

# Measured fan-out: two hops in flight, the third refused (retryable);
# the report of one frees its slot.
a=$(route wf-fan research-agent)
b=$(route wf-fan research-agent ',"fanout":1')
echo "$b" | jq -e '.decision == "route" and .workflow.inflight == 1' >/dev/null || fail "second: $b"
c=$(route wf-fan research-agent ',"fanout":1')
echo "$c" | jq -e '.decision == "deny" and .code == "FANOUT_CAP" and .retryable == true and
	.retry_after_ms == 1000 and .workflow.inflight == 2 and
	(.message | test("has 2 hops in flight, max_inflight_per_workflow 2"))' >/dev/null ||
	fail "third in flight: $c"
report "$a" wf-fan research-agent 0.02
c=$(route wf-fan research-agent)
echo "$c" | jq -e '.decision == "route" and .workflow.hops == 2 and .workflow.inflight == 1' >/dev/null ||
	fail "after a report: $c"

# Cost: reported costs over max_workflow_cost_usd (1.00).
d=$(route wf-cost research-agent)
report "$d" wf-cost research-agent 0.75
d=$(route wf-cost research-agent)
echo "$d" | jq -e '.decision == "route" and .workflow.cost_usd == 0.75' >/dev/null || fail "cost 0.75: $d"
report "$d" wf-cost research-agent 0.25
d=$(route wf-cost research-agent)
echo "$d" | jq -e '.code == "WORKFLOW_BUDGET" and .workflow.cost_usd == 1 and
	(.message | test("has cost 1 USD, max_workflow_cost_usd 1 of class research-agent"))' >/dev/null ||
	fail "cost 1.00: $d"

# Tokens (estimated from the requests until reported): 2000 per hop
# against max_workflow_tokens 3000.
for want in route route deny; do
	d=$(route wf-tok interactive-copilot ',"input_tokens":1500,"output_tokens":500')
	echo "$d" | jq -e --arg w $want '.decision == $w' >/dev/null || fail "tokens, want $want: $d"
done
echo "$d" | jq -e '.code == "WORKFLOW_BUDGET" and (.message | test("has used 4000 tokens, max_workflow_tokens 3000"))' >/dev/null ||
	fail "tokens: $d"
# A class without workflow keys is never capped.
for i in 1 2 3 4 5 6; do
	d=$(route wf-free marketing)
done
echo "$d" | jq -e '.decision == "route" and .workflow.hops == 5' >/dev/null || fail "uncapped class: $d"

# The table's metrics: the five workflows above and the one the wait for
# the policy hash routed.
[ "$(cl_routerd_metric $P af_routerd_workflows)" -eq 6 ] &&
	[ "$(cl_routerd_metric $P af_routerd_workflows_max)" -eq 1000 ] &&
	[ "$(cl_routerd_metric $P af_routerd_workflows_evicted_total)" -eq 0 ] ||
	fail "metrics: $(curl -s "$U/metrics" | grep '^af_routerd_workflow')"

# The decision log holds the workflow state; simulate reproduces it.
n_deny=4
deadline=$(($(date +%s) + 15))
until [ "$(cat "$D"/*.jsonl 2>/dev/null | jq -s '[.[] | select(.request.workflow_id | test("^wf-(hops|fan|cost|tok|free)$"))] | length')" -eq 21 ]; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "decision records not written"
	sleep 0.1
done
cat "$D"/*.jsonl >"$CL_DIR/log"
jq -e -s '[.[] | select(.request.workflow_id == "wf-hops")] | length == 5 and
	(last | .live.workflow == {"hops": 4, "inflight": 0, "tokens": 480, "cost_nano_usd": 40000000})' \
	"$CL_DIR/log" >/dev/null || fail "record live.workflow: $(grep wf-hops "$CL_DIR/log" | tail -1)"
n=$(wc -l <"$CL_DIR/log")
cl_af policy simulate -f "$CL_DIR/p.yaml" --log "$D" -o json >"$CL_DIR/same"
jq -e --argjson n "$n" '.requests == $n and .changed == 0 and .baseline_reproduced == $n' "$CL_DIR/same" >/dev/null ||
	fail "replay: $(jq -c 'del(.samples)' "$CL_DIR/same")"
# Without the caps, the workflow denials (and only those) route.
denials=$(jq -s '[.[] | select(.decision.code == "WORKFLOW_BUDGET" or
	(.decision.code == "FANOUT_CAP" and .decision.retryable))] | length' "$CL_DIR/log")
[ "$denials" -ge $n_deny ] || fail "$denials workflow denials logged"
cl_af policy simulate -f "$CL_DIR/nocaps.yaml" --log "$D" -o json >"$CL_DIR/cand"
jq -e --argjson d "$denials" '.by_kind.deny_to_route == $d and .changed == $d' "$CL_DIR/cand" >/dev/null ||
	fail "candidate without caps, want $denials: $(jq -c 'del(.samples)' "$CL_DIR/cand")"
echo "ok workflows"
