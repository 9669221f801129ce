#!/bin/sh
# api/openapi.yaml describes what routerd and controld really answer: a
# 3-node cluster and two routerds answer routes, denials of nine codes
# (rule, caps, cost, context, capability, residency, a saturated lane),
# bad input (400, 413, 422), reports, outcomes (202, 400, 422),
# status, 503 before any policy, and every /api/v1 resource with its errors;
# every body is validated against the document. Then mutated bodies (a
# field of the wrong type, a missing field, an unknown error code, an extra
# key, a retryable deny without retry_after_ms) must fail the validation.
. "$(dirname "$0")/../lib/cluster.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
CHECK="$PY $ROOT/tests/lib/openapi_check.py $ROOT/api/openapi.yaml"

cl_init openapi
for i in 1 2 3; do cl_start $i; done
leader=$(cl_wait_leader)
P0=$((CL_BASE + 900))
P=$((CL_BASE + 901))
U=http://127.0.0.1:$P
H=http://$(cl_http "$leader")
M=$CL_DIR/manifest
O=$CL_DIR/bodies
mkdir -p "$O"
: >"$M"
n=0

# call METHOD DOC_PATH URL [BODY]: records the answer in the manifest.
call() {
	n=$((n + 1))
	f=$O/$n.json
	if [ -n "${4:-}" ]; then
		code=$(curl -s -m 5 -o "$f" -w '%{http_code}' -X "$1" \
			-H 'Content-Type: application/json' --data-binary "$4" "$3")
	else
		code=$(curl -s -m 5 -o "$f" -w '%{http_code}' -X "$1" "$3")
	fi
	echo "$1 $2 $code $f" >>"$M"
	LAST=$f
	LAST_CODE=$code
}
expect() { # STATUS JQ: the last answer has that status and satisfies JQ
	[ "$LAST_CODE" = "$1" ] && jq -e "$2" "$LAST" >/dev/null ||
		fail "want $1 and $2, got $LAST_CODE $(cat "$LAST")"
}
route() { call POST /v1/route "$U/v1/route" "$1"; }
req() { # extra fields on a minimal request
	echo "{\"workflow_id\":\"wf-oa\",\"tenant\":\"claims-team\",\"class\":\"research-agent\"$1}"
}

# Before any policy: 503 NO_POLICY.
cl_routerd_start r0 $P0
cl_wait_http "http://127.0.0.1:$P0/healthz"
call POST /v1/route "http://127.0.0.1:$P0/v1/route" "$(req '')"
expect 503 '.error.code == "NO_POLICY"'

# The example bundle plus a one-slot lane and a class limited to us-east-1.
sed -e 's/^lanes:$/lanes:\n  one-slot: { max_inflight: 1 }/' \
	-e 's/^classes:$/classes:\n  single-lane:\n    lane: one-slot\n    latency_slo_ms: 200\n  us-only:\n    lane: online-standard\n    regions: [us-east-1]/' \
	"$EXAMPLES/policy.yaml" >"$CL_DIR/policy.yaml"
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
h=$(cl_af policy apply -f "$CL_DIR/policy.yaml" -o json | jq -r .hash)
cl_af budget set ops-team --hard 50 --soft 40 >/dev/null
cl_routerd_start r1 $P --decision-log "$CL_DIR/dlog"
cl_wait_http "$U/readyz"
cl_wait_route_hash $P "$h" >/dev/null

# Routes and denials.
call POST /v1/route "$U/v1/route" "$(cat "$EXAMPLES/request.json")"
expect 200 '.decision == "route"'
id=$(jq -r .decision_id "$LAST")
n=$((n + 1)) # with a trace context: trace_id in the decision
curl -s -m 5 -o "$O/$n.json" -X POST --data-binary @"$EXAMPLES/request.json" \
	-H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' "$U/v1/route"
echo "POST /v1/route 200 $O/$n.json" >>"$M"
jq -e '.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"' "$O/$n.json" >/dev/null ||
	fail "no trace_id: $(cat "$O/$n.json")"
route "$(req ',"agent_role":"planner","needs":["vision"]')"
expect 200 '.decision == "route" and .tier == "frontier"'
route '{"workflow_id":"w","tenant":"t","class":"marketing","sensitivity":"restricted"}'
expect 200 '.code == "POLICY_DENIED" and .rule == "no-restricted-marketing"'
route "$(req ',"fanout":99')"
expect 200 '.code == "FANOUT_CAP"'
route "$(req ',"tool_calls":99')"
expect 200 '.code == "TOOL_CALL_CAP"'
route "$(req ',"attempt":9')"
expect 200 '.code == "RETRY_LIMIT"'
route "$(req ',"max_cost_usd":0.0000001,"input_tokens":10000')"
expect 200 '.code == "COST_LIMIT"'
route "$(req ',"input_tokens":900000')"
expect 200 '.code == "CONTEXT_TOO_LARGE"'
route "$(req ',"needs":["telepathy"]')"
expect 200 '.code == "NO_ELIGIBLE_MODEL"'
route '{"workflow_id":"w","tenant":"t","class":"us-only","sensitivity":"restricted"}'
expect 200 '.code == "RESIDENCY_DENIED"'
route '{"workflow_id":"w1","tenant":"t","class":"single-lane"}'
expect 200 '.decision == "route"'
route '{"workflow_id":"w2","tenant":"t","class":"single-lane"}'
expect 200 '.code == "LANE_SATURATED" and .retryable and .retry_after_ms > 0'

# Bad input.
route '{"workflow_id":'
expect 400 '.error.code == "MALFORMED_JSON"'
route '{"tenant":"t","class":"research-agent"}'
expect 400 '.error.code == "MISSING_FIELD" and .error.field == "workflow_id"'
route "$(req ',"fanout":"six"')"
expect 422 '.error.code == "WRONG_TYPE" and .error.field == "fanout"'
route "$(req ',"max_cost_usd":-1')"
expect 422 '.error.code == "INVALID_FIELD" and .error.field == "max_cost_usd"'
route '{"workflow_id":"w","tenant":"t","class":"nope"}'
expect 422 '.error.code == "UNKNOWN_CLASS"'
head -c 70000 /dev/zero | tr '\0' ' ' >"$CL_DIR/big"
route "$(cat "$CL_DIR/big")"
expect 413 '.error.code == "BODY_TOO_LARGE"'
call GET /v1/route "$U/v1/route"
expect 405 '.error.code == "METHOD_NOT_ALLOWED"'
sed -i '$s/^GET/POST/' "$M" # documented as the 405 of POST /v1/route

# Reports, outcome, status, decisions.
call POST /v1/report "$U/v1/report" "{\"decision_id\":\"$id\",\"ok\":true,\"latency_ms\":2140}"
expect 202 '.accepted'
call POST /v1/report "$U/v1/report" '{"decision_id":"r1-00000000000000ff","ok":true}'
expect 422 '.error.code == "UNKNOWN_DECISION"'
call POST /v1/report "$U/v1/report" "{\"decision_id\":\"$id\",\"ok\":null}"
expect 422 '.error.code == "WRONG_TYPE" and .error.field == "ok"'
call POST /v1/outcome "$U/v1/outcome" '{"workflow_id":"wf-oa","tenant":"claims-team","class":"research-agent","outcome":"success"}'
[ "$LAST_CODE" = 202 ] || fail "outcome: $LAST_CODE"
call POST /v1/outcome "$U/v1/outcome" '{"workflow_id":"wf-oa","tenant":"claims-team","class":"research-agent","outcome":"won"}'
[ "$LAST_CODE" = 422 ] || fail "bad outcome: $LAST_CODE"
call POST /v1/outcome "$U/v1/outcome" '{"workflow_id":"wf-oa","tenant":"claims-team","class":"research-agent"}'
[ "$LAST_CODE" = 400 ] || fail "outcome missing: $LAST_CODE"
cl_wait_json "curl -s $U/v1/decisions/$id" '.decision_id' >/dev/null
call GET "/v1/decisions/{id}" "$U/v1/decisions/$id"
expect 200 '.decision.decision_id == "'"$id"'"'
call GET "/v1/decisions/{id}" "$U/v1/decisions/r1-00000000000000ff"
expect 404 '.error.code == "NOT_FOUND"'
call GET "/v1/decisions/{id}" "http://127.0.0.1:$P0/v1/decisions/r0-00000000000000ff"
expect 404 '.error.code == "DECISION_LOG_OFF"'
call GET /v1/status "$U/v1/status"
expect 200 '.state == "healthy"'
call GET /v1/status "http://127.0.0.1:$P0/v1/status"
expect 200 '.ready'
call GET /v1/nothing "$U/v1/nothing"
[ "$LAST_CODE" = 404 ] || fail "unknown path: $LAST_CODE"
sed -i '$d' "$M" # /v1/nothing is not in the document: checked below
n=$((n - 1))

# controld: wait for the report to reach showback, then every resource.
cl_wait_json "curl -s $H/api/v1/report" 'length > 0' >/dev/null
for r in "" cluster policy/history rollout fleet budgets models report \
	"report?by=model" audit "audit?limit=1"; do
	doc=/api/v1/${r%%\?*}
	call GET "$doc" "$H/api/v1/$r"
	expect 200 'true'
done
cl_wait_json "curl -s '$H/api/v1/report?unit=workflow'" 'length > 0' >/dev/null
call GET /api/v1/report "$H/api/v1/report?unit=workflow&by=tenant,day"
expect 200 'length > 0 and (.[0].cost_usd | test("^[0-9]+[.][0-9]{6}$")) and (.[0].day | length) == 10'
call GET /api/v1/report "$H/api/v1/report?unit=week"
expect 400 '.error.field == "unit"'
call GET "/api/v1/policy/revisions/{rev}" "$H/api/v1/policy/revisions/1"
expect 200 '.revision == 1'
call GET "/api/v1/policy/revisions/{rev}" "$H/api/v1/policy/revisions/stable"
expect 200 '.state == "stable"'
call GET "/api/v1/policy/revisions/{rev}" "$H/api/v1/policy/revisions/99"
expect 404 '.error.code == "NOT_FOUND"'
call GET /api/v1/audit "$H/api/v1/audit?limit=5000"
expect 400 '.error.code == "INVALID" and .error.field == "limit"'
call GET /api/v1/shadow "$H/api/v1/shadow"
expect 200 '.state == "none"'
sed 's/^name: .*/name: openapi-shadow/' "$CL_DIR/policy.yaml" >"$CL_DIR/shadow.yaml"
cl_af shadow start -f "$CL_DIR/shadow.yaml" --duration 1h >/dev/null
call GET /api/v1/shadow "$H/api/v1/shadow"
expect 200 '.state == "running" and .total.sampled >= 0 and (.classes | type) == "array"'
"$AF" -c "$CL_FILE" emergency set --tenant api-test --class research-agent \
	--max-fanout 2 --deny-tier frontier --ttl 1h -m "openapi check" >/dev/null
call GET /api/v1/emergency "$H/api/v1/emergency"
expect 200 'length == 1 and .[0].reason == "openapi check"'
call GET /api/v1/budgets "$H/api/v1/budgets"
expect 200 'length == 1 and .[0].tenant == "ops-team"'
call GET "/api/v1/budgets/{tenant}" "$H/api/v1/budgets/ops-team"
expect 200 '.tenant == "ops-team" and (.history | type) == "array"'
call GET "/api/v1/budgets/{tenant}" "$H/api/v1/budgets/nobody"
expect 404 '.error.code == "NOT_FOUND"'

$CHECK "$M" >"$CL_DIR/check.out" 2>&1 || { cat "$CL_DIR/check.out"; fail "responses do not match api/openapi.yaml"; }
tail -1 "$CL_DIR/check.out"
[ "$(grep -c '^ok ' "$CL_DIR/check.out")" = "$n" ] || fail "not every response checked: $(tail -1 "$CL_DIR/check.out")"

# An undocumented path fails.
echo "GET /v1/nothing 404 $O/1.json" >"$CL_DIR/m1"
$CHECK "$CL_DIR/m1" >/dev/null 2>&1 && fail "undocumented path passed"

# Drift: each mutation of a real body must fail.
route_f=$(awk '$2 == "/v1/route" && $3 == 200 { print $4; exit }' "$M")
sat_f=$(grep -l LANE_SATURATED "$O"/*.json | head -1)
err_f=$(awk '$2 == "/v1/route" && $3 == 422 { print $4; exit }' "$M")
status_f=$(awk '$2 == "/v1/status" { print $4; exit }' "$M")
fleet_f=$(awk '$2 == "/api/v1/fleet" { print $4; exit }' "$M")
drift() { # NAME STATUS DOC_PATH FILE JQ
	jq "$5" "$4" >"$CL_DIR/drift-$1.json"
	echo "X $3 $2 $CL_DIR/drift-$1.json" | sed "s/^X/${6:-POST}/" >"$CL_DIR/m-$1"
	if $CHECK "$CL_DIR/m-$1" >"$CL_DIR/drift-$1.out" 2>&1; then
		fail "drifted body ($1: $5) passed the check"
	fi
	note "drift $1 caught: $(sed -n 2p "$CL_DIR/drift-$1.out" | sed 's/^ *//')"
}
drift cost-string 200 /v1/route "$route_f" '.est_cost_usd |= tostring'
drift no-id 200 /v1/route "$route_f" 'del(.decision_id)'
drift extra-key 200 /v1/route "$route_f" '. + {"score": 1}'
drift no-retry-after 200 /v1/route "$sat_f" 'del(.retry_after_ms)'
drift error-code 422 /v1/route "$err_f" '.error.code = "BAD_CLASS"'
drift status-state 200 /v1/status "$status_f" '.state = "ok"' GET
drift fleet-revision 200 /api/v1/fleet "$fleet_f" '.[0].revision = "1"' GET
echo "ok: openapi ($n responses)"
