#!/bin/sh
# Break glass with no control plane. Every controld is killed; then
# routerd --override-file enforces a written override within a poll,
# rejects a broken file (file:line:col in the log, the previous set still
# enforced), re-reads on SIGHUP. The bundle's staleness section then takes
# over: past degrade_after_s the degraded overlay shapes decisions
# ("stale": {"mode": "degraded"}, the "stale" overlay id), /v1/status and
# /metrics show the mode; past fail_closed_after_s non-critical classes are
# denied POLICY_STALE while a critical class still routes.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init emergency_offline
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cp "$EXAMPLES/policy.yaml" "$CL_DIR/p.yaml"
cat >>"$CL_DIR/p.yaml" <<'EOT'
staleness:
  degrade_after_s: 6
  degraded: { deny_tier: mid }
  fail_closed_after_s: 14
EOT
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
cl_af policy apply -f "$CL_DIR/p.yaml" >/dev/null
P=$((CL_BASE + 901))
OV=$CL_DIR/break-glass.json
cl_routerd_start r1 $P --override-file "$OV"
cl_wait_http "http://127.0.0.1:$P/readyz"

route() {
	curl -s -X POST "http://127.0.0.1:$P/v1/route" -d "{\"workflow_id\":\"wf-1\",
	  \"tenant\":\"claims-team\",\"class\":\"$1\",\"input_tokens\":1000,
	  \"output_tokens\":200,\"fanout\":6}"
}
d=$(route research-agent)
echo "$d" | jq -e '.decision == "route" and .tier == "mid" and
	(has("stale") | not) and (has("overrides") | not)' >/dev/null ||
	fail "before: $d"
curl -s "http://127.0.0.1:$P/v1/status" | jq -e '.staleness.mode == "fresh"' \
	>/dev/null || fail "status: $(curl -s "http://127.0.0.1:$P/v1/status")"

# --- every controld gone ---
for i in 1 2 3; do cl_stop $i KILL; done

# The file: the same JSON as one `af emergency list -o json` item.
exp=$(date -u -d '+10 min' +%Y-%m-%dT%H:%M:%SZ)
cat >"$OV.tmp" <<EOT
{"id": "break-glass-1", "scope": {"tenant": "", "class": "research-agent"},
 "effect": {"max_fanout": 2}, "reason": "storm", "expires": "$exp"}
EOT
mv "$OV.tmp" "$OV"
cl_wait_json "route research-agent" \
	'.code == "FANOUT_CAP" and .overrides == ["break-glass-1"]' 5 >/dev/null
cl_wait_log "$CL_DIR/routerd-r1.log" "event=override_file_loaded" >/dev/null

# A broken file changes nothing.
printf '{"id": "x",\n  "effect": {"max_fanout": -1}, "expires": "%s"}\n' \
	"$exp" >"$OV.tmp"
mv "$OV.tmp" "$OV"
l=$(cl_wait_log "$CL_DIR/routerd-r1.log" "event=override_file_rejected")
echo "$l" | grep -q "break-glass.json:2:14: max_fanout" || fail "no position: $l"
route research-agent | jq -e '.overrides == ["break-glass-1"]' >/dev/null ||
	fail "a rejected file changed the set"
curl -s "http://127.0.0.1:$P/v1/status" | jq -e '.overrides.file_ok == false' \
	>/dev/null || fail "status does not show the rejected file"

# SIGHUP re-reads (here: a fixed file, same name).
cat >"$OV" <<EOT
[{"id": "break-glass-2", "scope": {"class": "research-agent"},
  "effect": {"max_fanout": 1}, "expires": "$exp"}]
EOT
kill -HUP "$(cat "$CL_DIR/pidr-r1")"
cl_wait_log "$CL_DIR/routerd-r1.log" "event=sighup" >/dev/null
cl_wait_json "route research-agent" '.overrides == ["break-glass-2"]' 5 \
	>/dev/null

# --- staleness: degraded, then fail closed ---
rm -f "$OV"
cl_wait_log "$CL_DIR/routerd-r1.log" "event=override_file_removed" >/dev/null
cl_wait_json "route research-agent" '.stale.mode == "degraded"' 15 >/dev/null
d=$(curl -s -X POST "http://127.0.0.1:$P/v1/route" -d '{"workflow_id":"wf-1",
	"tenant":"claims-team","class":"research-agent","input_tokens":1000,
	"output_tokens":200}')
echo "$d" | jq -e '.decision == "route" and .tier != "mid" and
	.overrides == ["stale"] and .stale.since_s >= 6' >/dev/null ||
	fail "degraded: $d"
curl -s "http://127.0.0.1:$P/v1/status" | jq -e '.staleness.mode == "degraded"' \
	>/dev/null || fail "status: $(curl -s "http://127.0.0.1:$P/v1/status")"
curl -s "http://127.0.0.1:$P/metrics" |
	grep -q '^af_routerd_staleness_mode{mode="degraded"} 1' ||
	fail "metrics do not show degraded"
d=$(cl_wait_json "route research-agent" '.code == "POLICY_STALE"' 15)
echo "$d" | jq -e '.stale.mode == "fail_closed" and .retryable == false' \
	>/dev/null || fail "fail closed: $d"
d=$(route underwriting)
echo "$d" | jq -e '.decision == "route" and .stale.mode == "fail_closed"' \
	>/dev/null || fail "a critical class was not served: $d"
note "fail closed: $(route research-agent | jq -c '{code, message}')"
exit 0
