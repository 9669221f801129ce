#!/bin/sh
# Trace context and OTLP export: a trace id sent in `traceparent` comes
# back in the decision (trace_id), is in the decision log record and in
# the span routerd exports to a local OTLP/HTTP receiver (parent span,
# tracestate, tenant/class/model/tier/region/rule/cohort/deny code/cost
# attributes); a bad traceparent is ignored. A collector that fails or
# hangs costs decisions nothing: spans are dropped and counted.
. "$(dirname "$0")/../lib/cluster.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
cl_init otlp 1
cl_start 1
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
h=$(cl_af policy apply -f "$EXAMPLES/policy.yaml" -o json | jq -r .hash)
P=$((CL_BASE + 901))
RP=$((CL_BASE + 902))
U=http://127.0.0.1:$P

# The receiver: one line per export request in spans.jsonl; answers 500
# while $CL_DIR/fail exists, hangs 8 s while $CL_DIR/hang exists.
"$PY" "$ROOT/tests/lib/otlp_receiver.py" $RP "$CL_DIR" >"$CL_DIR/recv.log" 2>&1 &
echo $! >"$CL_DIR/pid-recv"
# A bad endpoint is a bad flag: exit 2, saying what is expected.
rc=0
"$ROUTERD" -c "$CL_FILE" --listen 127.0.0.1:$P --otlp-endpoint ftp://x 2>"$CL_DIR/bad" || rc=$?
[ $rc = 2 ] && grep -q 'expected http://HOST:PORT' "$CL_DIR/bad" || fail "bad endpoint: exit $rc, $(cat "$CL_DIR/bad")"
cl_routerd_start r1 $P --otlp-endpoint "http://127.0.0.1:$RP" \
	--decision-log "$CL_DIR/dlog"
cl_wait_http "$U/readyz"
cl_wait_route_hash $P "$h" >/dev/null

TID=4bf92f3577b34da6a3ce929d0e0e4736
TID2=0af7651916cd43dd8448eb211c80319c
route() { # TRACEPARENT BODY
	curl -s -m 5 -X POST -H "traceparent: $1" -H 'tracestate: congo=t61rcWkgMzE' \
		--data-binary "$2" "$U/v1/route"
}
d1=$(route "00-$TID-00f067aa0ba902b7-01" "@$EXAMPLES/request.json")
echo "$d1" | jq -e --arg t $TID '.decision == "route" and .trace_id == $t' >/dev/null ||
	fail "no trace_id in the decision: $d1"
id1=$(echo "$d1" | jq -r .decision_id)
d2=$(route "00-$TID2-b7ad6b7169203331-00" '{"workflow_id":"w","tenant":"t","class":"research-agent","fanout":99}')
echo "$d2" | jq -e --arg t $TID2 '.code == "FANOUT_CAP" and .trace_id == $t' >/dev/null ||
	fail "no trace_id in the deny: $d2"
d3=$(route "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01" "@$EXAMPLES/request.json")
echo "$d3" | jq -e 'has("trace_id") | not' >/dev/null || fail "bad traceparent taken: $d3"
d4=$(curl -s -X POST --data-binary "@$EXAMPLES/request.json" "$U/v1/route")
echo "$d4" | jq -e 'has("trace_id") | not' >/dev/null || fail "trace_id without traceparent: $d4"
note "decision: $(echo "$d1" | jq -c '{decision_id, model, trace_id}')"

# The decision log record and GET /v1/decisions/ID carry it too.
cl_wait_log "$(ls "$CL_DIR"/dlog/decisions-*.jsonl | head -1)" "$TID" 10 >/dev/null
curl -s "$U/v1/decisions/$id1" | jq -e --arg t $TID '.trace_id == $t and .decision.trace_id == $t' >/dev/null ||
	fail "decision record: $(curl -s "$U/v1/decisions/$id1")"
id3=$(echo "$d3" | jq -r .decision_id) # the invalid traceparent: none logged either
cl_wait_json "curl -s $U/v1/decisions/$id3" '.decision_id' >/dev/null
curl -s "$U/v1/decisions/$id3" | jq -e 'has("trace_id") | not' >/dev/null ||
	fail "invalid traceparent logged: $(curl -s "$U/v1/decisions/$id3")"

# The spans: one per decision, batched within a second.
cl_wait_log "$CL_DIR/spans.jsonl" "$TID2" 10 >/dev/null
deadline=$(($(date +%s) + 10))
until [ "$(jq -s '[.[].resourceSpans[].scopeSpans[].spans[]] | length' "$CL_DIR/spans.jsonl")" -ge 4 ]; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "not 4 spans: $(cat "$CL_DIR/spans.jsonl")"
	sleep 0.1
done
grep -q '^/v1/traces application/json$' "$CL_DIR/paths" || fail "posted to: $(cat "$CL_DIR/paths")"
jq -s '[.[].resourceSpans[] | .resource as $r | .scopeSpans[].spans[] |
	{r: $r, s: ., a: ([.attributes[] | {(.key): (.value | to_entries[0].value)}] | add)}]' \
	"$CL_DIR/spans.jsonl" >"$CL_DIR/spans.json"
jq -e --arg t $TID --arg id "$id1" '[.[] | select(.s.traceId == $t)] | length == 1 and
	(.[0] | .s.parentSpanId == "00f067aa0ba902b7" and .s.traceState == "congo=t61rcWkgMzE" and
	 (.s.spanId | test("^[0-9a-f]{16}$")) and .s.name == "af.route" and .s.kind == 2 and
	 ((.s.endTimeUnixNano | tonumber) >= (.s.startTimeUnixNano | tonumber)) and
	 .a["af.decision_id"] == $id and .a["af.decision"] == "route" and
	 .a["af.tenant"] == "claims-team" and .a["af.class"] == "research-agent" and
	 .a["gen_ai.request.model"] == "swift-mid" and .a["gen_ai.provider.name"] == "acme" and
	 .a["af.tier"] == "mid" and (.a["af.region"] | test("-")) and .a["af.rule"] == "default" and
	 .a["af.cohort"] == "stable" and .a["af.est_cost_usd"] > 0.06 and
	 .a["gen_ai.conversation.id"] == "wf-claim-88421" and
	 (.r.attributes | any(.key == "service.instance.id" and .value.stringValue == "r1")))' \
	"$CL_DIR/spans.json" >/dev/null || fail "route span: $(jq -c --arg t $TID '.[] | select(.s.traceId == $t)' "$CL_DIR/spans.json")"
jq -e --arg t $TID2 '[.[] | select(.s.traceId == $t)][0] | .a["af.deny.code"] == "FANOUT_CAP" and
	.a["af.decision"] == "deny" and .s.parentSpanId == "b7ad6b7169203331"' "$CL_DIR/spans.json" >/dev/null ||
	fail "deny span: $(jq -c --arg t $TID2 '.[] | select(.s.traceId == $t)' "$CL_DIR/spans.json")"
# Without a trace context: a new trace, no parent.
jq -e '[.[] | select(.s.parentSpanId == null)] | length >= 2 and
	all(.s.traceId | test("^[0-9a-f]{32}$"))' "$CL_DIR/spans.json" >/dev/null ||
	fail "spans without trace context: $(jq -c '.[] | select(.s.parentSpanId == null) | .s' "$CL_DIR/spans.json")"
note "span: $(jq -c --arg t $TID '.[] | select(.s.traceId == $t) | {traceId: .s.traceId, parentSpanId: .s.parentSpanId, model: .a["gen_ai.request.model"], tenant: .a["af.tenant"]}' "$CL_DIR/spans.json")"
[ "$(cl_routerd_metric $P af_routerd_otlp_spans_exported_total)" -ge 4 ] || fail "exported not counted"

# A failing collector: the spans are dropped and counted, decisions go on.
touch "$CL_DIR/fail"
cl_route_batch $P 1 20 "$CL_DIR/d20"
[ "$(jq -s 'map(select(.decision == "route")) | length' "$CL_DIR/d20")" = 20 ] || fail "routes failed"
deadline=$(($(date +%s) + 10))
until curl -s "$U/metrics" | grep -Eq '^af_routerd_otlp_spans_dropped_total\{reason="export_failed"\} [1-9]'; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "failed exports not counted: $(curl -s "$U/metrics" | grep otlp)"
	sleep 0.1
done
cl_wait_log "$CL_DIR/routerd-r1.log" "event=otlp_export_failed" 5 >/dev/null
# A hanging collector: the queue fills, spans beyond it are dropped,
# every request still gets its decision.
rm "$CL_DIR/fail"
touch "$CL_DIR/hang"
t0=$(date +%s%N)
cl_route_batch $P 1 8000 "$CL_DIR/d8000"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$(grep -c '"decision":' "$CL_DIR/d8000")" = 8000 ] || fail "requests unanswered while the collector hung"
full=$(curl -s "$U/metrics" | awk '/^af_routerd_otlp_spans_dropped_total\{reason="queue_full"\}/ { print $2 }')
# at most the queue and two batches left it within the hang
[ "${full:-0}" -ge 2800 ] || fail "queue_full drops: ${full:-0} ($(curl -s "$U/metrics" | grep otlp))"
note "8000 decisions in $ms ms with a hung collector; $full spans dropped (queue full)"
rm "$CL_DIR/hang"
echo "ok: otlp"
