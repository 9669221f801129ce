#!/bin/sh
# Break glass with no control plane, with signing configured. Every
# controld is killed; then routerd --override-file refuses an unsigned
# file, enforces one signed with `af emergency sign` within a poll, keeps
# the previous set when a file is refused (af emergency sign refuses a
# broken one with file:line:col), re-reads on SIGHUP. The bundle's staleness section then takes
# over: past degrade_after_s the degraded overlay shapes decisions
# ("stale": {"mode": "degraded"}, the "stale" overlay id), /v1/status and
# /metrics show the mode; past fail_closed_after_s non-critical classes are
# denied POLICY_STALE while a critical class still routes.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init emergency_offline
mkdir -p "$CL_DIR/keys"
"$AF" keygen --out "$CL_DIR/keys/ops" >/dev/null
printf 'signing:\n  trusted_keys: [./keys/ops.pub]\n' >>"$CL_FILE"
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
"$AF" policy sign -f "$CL_DIR/p.yaml" --key "$CL_DIR/keys/ops.key" \
	--serial 1 >/dev/null
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

# The file: the same JSON as one `af emergency list -o json` item. With
# trusted keys it must be signed: refused without FILE.sig.
exp=$(date -u -d '+10 min' +%Y-%m-%dT%H:%M:%SZ)
cat >"$CL_DIR/s.json" <<EOT
{"id": "break-glass-1", "scope": {"tenant": "", "class": "research-agent"},
 "effect": {"max_fanout": 2}, "reason": "storm", "expires": "$exp"}
EOT
cp "$CL_DIR/s.json" "$OV"
l=$(cl_wait_log "$CL_DIR/routerd-r1.log" "event=override_file_rejected")
echo "$l" | grep -q "must be signed" || fail "unsigned file: $l"
route research-agent | jq -e '.decision == "route"' >/dev/null ||
	fail "an unsigned file was enforced"
# Signed: FILE.sig first, then the file (its change triggers the read).
"$AF" emergency sign -f "$CL_DIR/s.json" --key "$CL_DIR/keys/ops.key" >/dev/null
mv "$CL_DIR/s.json.sig" "$OV.sig"
mv "$CL_DIR/s.json" "$OV"
cl_wait_json "route research-agent" \
	'.code == "FANOUT_CAP" and .overrides == ["break-glass-1"]' 5 >/dev/null
cl_wait_log "$CL_DIR/routerd-r1.log" "event=override_file_loaded" >/dev/null

# A broken file: af emergency sign refuses it with its position; routerd
# refuses it (the signature does not match) and keeps the set.
printf '{"id": "x",\n  "effect": {"max_fanout": -1}, "expires": "%s"}\n' \
	"$exp" >"$CL_DIR/bad.json"
"$AF" emergency sign -f "$CL_DIR/bad.json" --key "$CL_DIR/keys/ops.key" \
	2>"$CL_DIR/err" && fail "signed a broken file"
grep -q "bad.json:2:14: max_fanout" "$CL_DIR/err" ||
	fail "no position: $(cat "$CL_DIR/err")"
mv "$CL_DIR/bad.json" "$OV"
cl_wait_log "$CL_DIR/routerd-r1.log" "event=override_file_rejected" 15 2 \
	>/dev/null
route research-agent | jq -e '.overrides == ["break-glass-1"]' >/dev/null ||
	fail "a rejected file changed the set"
curl -s "http://127.0.0.1:$P/v1/status" | jq -e '.overrides.file_ok == false' \
	>/dev/null || fail "status does not show the rejected file"

# SIGHUP re-reads.
cat >"$CL_DIR/s.json" <<EOT
[{"id": "break-glass-2", "scope": {"class": "research-agent"},
  "effect": {"max_fanout": 1}, "expires": "$exp"}]
EOT
"$AF" emergency sign -f "$CL_DIR/s.json" --key "$CL_DIR/keys/ops.key" >/dev/null
mv "$CL_DIR/s.json.sig" "$OV.sig"
mv "$CL_DIR/s.json" "$OV"
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

# An override of the file past its expiry is no longer in force (status and
# decisions), though the file still holds it.
exp=$(date -u -d '+5 sec' +%Y-%m-%dT%H:%M:%SZ)
cat >"$CL_DIR/s.json" <<EOT
{"id": "brief", "scope": {"class": "underwriting"},
 "effect": {"max_fanout": 2}, "expires": "$exp"}
EOT
"$AF" emergency sign -f "$CL_DIR/s.json" --key "$CL_DIR/keys/ops.key" >/dev/null
mv "$CL_DIR/s.json.sig" "$OV.sig"
mv "$CL_DIR/s.json" "$OV"
cl_wait_json "route underwriting" '.code == "FANOUT_CAP" and .overrides == ["brief"]' 5 \
	>/dev/null || fail "override brief not enforced: $(route underwriting)"
curl -s "http://127.0.0.1:$P/v1/status" | jq -e '.overrides.in_force == 1' >/dev/null ||
	fail "status: $(curl -s "http://127.0.0.1:$P/v1/status")"
cl_wait_json "curl -s http://127.0.0.1:$P/v1/status" '.overrides.in_force == 0' 10 \
	>/dev/null || fail "expired override still in force: $(curl -s "http://127.0.0.1:$P/v1/status")"
route underwriting | jq -e '.decision == "route" and ((.overrides // []) | index("brief")) == null' \
	>/dev/null || fail "expired override still applied: $(route underwriting)"
exit 0
