#!/bin/sh
# The big red switch. Three routerds; one of them (r3) runs from its cache
# with a token the cluster refuses, so every Sync it makes fails, and drops
# every change hint (AF_TEST_DROP_HINTS): it still enforces each override,
# from the heartbeats alone. A fourth (r4) hears no hint nor heartbeat at
# all (AF_TEST_DROP_HINTS=all) and enforces them from its Sync answers,
# which carry the set too. Each effect
# (max fan-out, tool calls, cost per hop, tier denial, lane drain, tenant
# freeze) is enforced on all three with its code and the override's id in
# the decision; af fleet status shows the set each routerd enforces; roles
# (author may not set, promoter may not clear a freeze, admin may); a 2 s
# TTL expires by an audited entry of the leader; a running canary keeps
# its weight and step through set and clear.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init emergency
cl_tokens author promoter admin routerd
export AF_TOKEN=$T_admin
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
cl_af policy apply -f "$EXAMPLES/policy.yaml" >/dev/null
sed 's/^name: prod/name: prod-c/' "$EXAMPLES/policy.yaml" >"$CL_DIR/c.yaml"
cl_af canary start -f "$CL_DIR/c.yaml" --steps 20,50 --interval 1h \
	>/dev/null
canary_state() {
	cl_af canary status -o json | jq -c '[.state, .weight, .step_index]'
}
before=$(canary_state)
note "canary before: $before"

P1=$((CL_BASE + 901)) P2=$((CL_BASE + 902)) P3=$((CL_BASE + 903))
for k in 1 2 3; do
	AF_TOKEN=$T_routerd cl_routerd_start r$k $((CL_BASE + 900 + k)) \
		--cache "$CL_DIR/cache$k"
	cl_wait_http "http://127.0.0.1:$((CL_BASE + 900 + k))/readyz"
done
# r3 again from its cache, with a token nobody knows: its Syncs fail.
cl_routerd_stop r3
AF_TEST_DROP_HINTS=1 AF_TOKEN=bad-token cl_routerd_start r3 $P3 \
	--cache "$CL_DIR/cache3"
cl_wait_http "http://127.0.0.1:$P3/readyz"
cl_wait_log "$CL_DIR/routerd-r3.log" "event=test_hook name=AF_TEST_DROP_HINTS" \
	>/dev/null
cl_wait_log "$CL_DIR/routerd-r3.log" "event=controld_call_failed call=sync" \
	>/dev/null
P4=$((CL_BASE + 904))
AF_TEST_DROP_HINTS=all AF_TOKEN=$T_routerd cl_routerd_start r4 $P4
cl_wait_http "http://127.0.0.1:$P4/readyz"
cl_wait_log "$CL_DIR/routerd-r4.log" "event=test_hook name=AF_TEST_DROP_HINTS" \
	>/dev/null

# route PORT TENANT CLASS [extra JSON members]
route() {
	curl -s -X POST "http://127.0.0.1:$1/v1/route" -d "{\"workflow_id\":\"wf-1\",
	  \"tenant\":\"$2\",\"class\":\"$3\",\"input_tokens\":1000,
	  \"output_tokens\":200${4:+,$4}}"
}
# on_all TENANT CLASS EXTRA JQ: every routerd's decision satisfies JQ
# (within 3 s: r3 hears of a change at its next heartbeat).
on_all() {
	for p in $P1 $P2 $P3; do
		cl_wait_json "route $p '$1' '$2' '$3'" "$4" 3 >/dev/null
	done
}

# --- roles ---
AF_TOKEN=$T_author cl_af emergency set --max-fanout 1 --ttl 1m -m x \
	2>"$CL_DIR/err" && fail "an author set an override"
grep -q PERMISSION_DENIED "$CL_DIR/err" || fail "author: $(cat "$CL_DIR/err")"
cl_af emergency set --max-fanout 1 -m x 2>"$CL_DIR/err" &&
	fail "set without --ttl"
grep -q -- "--ttl" "$CL_DIR/err" || fail "no ttl: $(cat "$CL_DIR/err")"
cl_af emergency set --freeze-tenant --ttl 1m -m x 2>"$CL_DIR/err" &&
	fail "a freeze of every tenant"
cl_af emergency set --ttl 1m -m x 2>"$CL_DIR/err" && fail "no effect"

# --- every effect, all at once on different scopes ---
set_ov() { AF_TOKEN=$T_promoter cl_af emergency set "$@"; }
fan=$(set_ov --class research-agent --max-fanout 2 --ttl 10m -m "fan-out storm")
tools=$(set_ov --class underwriting --max-tool-calls 1 --ttl 10m -m tools)
cost=$(set_ov --tenant cost-team --max-cost-usd 0.000001 --ttl 10m -m cost)
tier=$(set_ov --class interactive-copilot --deny-tier mid --ttl 10m -m "mid regressed")
lane=$(set_ov --drain-lane batch-offline --ttl 10m -m "drain batch")
frz=$(set_ov --tenant frozen-team --freeze-tenant --ttl 10m -m "cost runaway")
note "set $fan $tools $cost $tier $lane $frz"
ver=$(cl_af emergency list -o json | jq length)
[ "$ver" = 6 ] || fail "list: $ver overrides"
cl_af emergency list -o json | jq -e --arg id "$frz" '.[] | select(.id == $id) |
	.scope.tenant == "frozen-team" and .effect.freeze_tenant == true and
	.principal == "promoter-user" and .reason == "cost runaway" and
	(.expires | test("Z$"))' >/dev/null || fail "list item: $(cl_af emergency list -o json)"
cl_af emergency list -o yaml | grep -q "reason: fan-out storm" || fail "yaml"

# Enforced everywhere, r3 included (its Sync fails, it gets heartbeats).
on_all claims-team research-agent '"fanout":6' \
	".code == \"FANOUT_CAP\" and .overrides == [\"$fan\"]"
on_all claims-team research-agent '"fanout":2' '.decision == "route"'
on_all claims-team underwriting '"tool_calls":5' \
	".code == \"TOOL_CALL_CAP\" and .overrides == [\"$tools\"]"
on_all cost-team research-agent '' \
	".code == \"COST_LIMIT\" and .overrides == [\"$cost\"]"
on_all claims-team interactive-copilot '' \
	".decision == \"route\" and .tier != \"mid\" and .overrides == [\"$tier\"]"
on_all claims-team marketing '' \
	".code == \"LANE_DRAINED\" and .overrides == [\"$lane\"]"
on_all frozen-team research-agent '' \
	".code == \"TENANT_FROZEN\" and .overrides == [\"$frz\"]"
# r4 hears of the set only by its silence probes' Syncs (one every 2.5 s).
cl_wait_json "route $P4 claims-team research-agent '\"fanout\":6'" \
	".code == \"FANOUT_CAP\" and .overrides == [\"$fan\"]" 10 >/dev/null ||
	fail "r4 does not enforce $fan: $(route $P4 claims-team research-agent '"fanout":6')"
[ "$(cl_routerd_metric $P4 af_routerd_hints_received_total)" = 0 ] ||
	fail "r4 heard a hint or heartbeat"
# Unscoped traffic is untouched and carries no override.
on_all claims-team research-agent '' '.decision == "route" and (has("overrides") | not)'
[ "$(awk '/event=started/ { n = 0 } /event=sync_connected/ { n++ }
	END { print n + 0 }' "$CL_DIR/routerd-r3.log")" = 0 ] ||
	fail "r3 synced: the test needs its Syncs to fail"

# af fleet status: the set each routerd enforces.
# (r3 cannot report: the cluster refuses its token.)
cl_wait_json "cl_af fleet status -o json" \
	'[.[] | select(.id == "r1" or .id == "r2") |
	  select(.overrides.version > 0 and .overrides.file == null)] | length == 2' \
	10 >/dev/null

# --- a freeze needs an admin to clear ---
AF_TOKEN=$T_promoter cl_af emergency clear "$frz" 2>"$CL_DIR/err" &&
	fail "a promoter cleared a freeze"
grep -q "needs role admin" "$CL_DIR/err" || fail "freeze: $(cat "$CL_DIR/err")"
AF_TOKEN=$T_promoter cl_af emergency clear "$fan" >/dev/null
cl_af emergency clear "$frz" >/dev/null
for p in $P1 $P2 $P3; do
	cl_wait_json "route $p frozen-team research-agent '\"fanout\":6'" \
		'.decision == "route" and (has("overrides") | not)' 5 >/dev/null
done
cl_af emergency clear nope 2>"$CL_DIR/err" && fail "cleared an unknown id"
grep -q NOT_FOUND "$CL_DIR/err" || fail "unknown id: $(cat "$CL_DIR/err")"

# --- TTL: the leader's expiry entry, audited ---
ttl=$(set_ov --class research-agent --max-fanout 0 --ttl 2s -m "short")
on_all claims-team research-agent '"fanout":1' ".code == \"FANOUT_CAP\""
cl_wait_json "cl_af emergency list -o json" \
	"[.[] | select(.id == \"$ttl\")] | length == 0" 10 >/dev/null
cl_af audit -o json --limit 20 >"$CL_DIR/audit.json"
jq -e --arg id "$ttl" '[.. | objects | select(.verb? == "emergency.expire" and
	(.target | contains($id)) and .principal == "emergency-expiry")] |
	length == 1' "$CL_DIR/audit.json" >/dev/null ||
	fail "no expiry record: $(cat "$CL_DIR/audit.json")"
jq -e '[.. | objects | select(.verb? == "emergency.set")] | length >= 1' \
	"$CL_DIR/audit.json" >/dev/null || fail "no set record"
on_all claims-team research-agent '"fanout":1' '.decision == "route"'

# --- the canary is untouched by set and clear ---
cl_af emergency clear --all >/dev/null
[ "$(cl_af emergency list -o json | jq length)" = 0 ] || fail "clear --all"
after=$(canary_state)
[ "$after" = "$before" ] || fail "canary moved: $before -> $after"
note "canary after: $after"
exit 0
