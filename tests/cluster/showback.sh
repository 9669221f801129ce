#!/bin/sh
# Workflow showback on a real cluster and two real routerds: ten
# workflows with known hop costs, tool and human review costs and
# outcomes (one abandoned by going idle, with no outcome) give every
# column of `af report --unit workflow` exactly (money as 6-decimal
# strings; p50/p95 within the 4.4% of the cost buckets), grouped by
# tenant, by declared label dimensions and by day, with --since/--until,
# and the same rows as RFC 4180 CSV; a model price version takes effect
# at its date (reports priced from the registry, cached input tokens at
# their own price, af model history). POST /v1/outcome errors answer as
# the other endpoints do. Then, on 29 days of synthetic usage history
# (tests/tools/usage_fill through the apply code, restored into the
# node), `af report --anomalies` and the leader's af_spend_anomaly_z equal
# a brute-force z-score of every tenant's last complete day against the
# 28 days before it.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init showback 1
cl_start 1
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
awk '{ print }
/^  marketing:$/ { print "    workflow_idle_s: 2" }' "$EXAMPLES/policy.yaml" >"$CL_DIR/p.yaml"
printf 'showback:\n  dimensions: [labels.product, labels.cost_center]\n' >>"$CL_DIR/p.yaml"
h=$(cl_af policy apply -f "$CL_DIR/p.yaml" -o json | jq -r .hash)
P1=$((CL_BASE + 901)) P2=$((CL_BASE + 902))
for r in 1 2; do
	eval "p=\$P$r"
	cl_routerd_start r$r "$p"
	cl_wait_http "http://127.0.0.1:$p/readyz"
	cl_wait_route_hash "$p" "$h" >/dev/null
done

# hop PORT WF TENANT CLASS COST [LABELS]: one hop routed and reported
# (the report names the workflow for wf1 only: the others are found from
# their decision, as the SDKs report).
hop() {
	d=$(curl -s -X POST "http://127.0.0.1:$1/v1/route" \
		-d "{\"workflow_id\":\"$2\",\"tenant\":\"$3\",\"class\":\"$4\",\"labels\":{${6:-}}}")
	id=$(echo "$d" | jq -r '.decision_id // empty')
	[ -n "$id" ] || fail "route $2: $d"
	code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$1/v1/report" \
		-d "{\"decision_id\":\"$id\",$([ "$2" = wf1 ] && echo "\"workflow_id\":\"$2\",")\"ok\":true,\"cost_usd\":$5}")
	[ "$code" = 202 ] || fail "report $2: $code"
}
# outcome PORT BODY: POST /v1/outcome; prints the status and the answer.
outcome() {
	curl -s -w ' %{http_code}' -X POST "http://127.0.0.1:$1/v1/outcome" -d "$2"
}
# done_ PORT WF TENANT OUTCOME TOOL HUMAN [LABELS]
done_() {
	a=$(outcome "$1" "{\"workflow_id\":\"$2\",\"tenant\":\"$3\",\"class\":\"research-agent\",\"outcome\":\"$4\",\"tool_cost_usd\":$5,\"human_review_usd\":$6${7:+,\"labels\":{$7\}}}")
	[ "$a" = '{"accepted":true} 202' ] || fail "outcome $2: $a"
}

CA='"cost_center":"A"' CB='"cost_center":"B"'
T=claims-team
hop $P1 wf1 $T research-agent 0.10 "$CA,\"product\":\"claims\""
hop $P1 wf1 $T research-agent 0.10
done_ $P1 wf1 $T success 0.05 0
hop $P1 wf2 $T research-agent 0.30 "$CA"
done_ $P1 wf2 $T success 0 0.20
for i in 1 2 3; do hop $P1 wf3 $T research-agent 0.10 "$CB"; done
done_ $P1 wf3 $T failed 0.10 0
hop $P2 wf4 $T research-agent 0.20
done_ $P2 wf4 $T success 0 0 "$CB"
hop $P2 wf5 $T research-agent 0.25 "$CA"
hop $P2 wf5 $T research-agent 0.25 "$CA"
done_ $P2 wf5 $T success 0 0.50
hop $P2 wf6 $T research-agent 0.05 "$CB"
done_ $P2 wf6 $T abandoned 0 0
hop $P2 wf7 $T research-agent 0.15 "$CA"
done_ $P2 wf7 $T success 0.05 0
hop $P1 wf8 $T research-agent 0.10
done_ $P1 wf8 $T success 0 0
hop $P1 wf9 $T marketing 0.07 "$CB"  # no outcome: abandoned when idle (2 s)
hop $P2 wf10 growth-team research-agent 0.33 "$CB"
done_ $P2 wf10 growth-team failed 0 0

# Bad outcomes: refused like the other endpoints, nothing recorded.
a=$(outcome $P1 '{"workflow_id":"x","tenant":"t","class":"c"}')
echo "$a" | grep -q '"code":"MISSING_FIELD".*"field":"outcome".* 400$' || fail "no outcome: $a"
a=$(outcome $P1 '{"workflow_id":"x","tenant":"t","class":"c","outcome":"won"}')
echo "$a" | grep -q '"code":"INVALID_FIELD".*"field":"outcome".* 422$' || fail "bad outcome: $a"
a=$(outcome $P1 '{"tenant":"t","class":"c","outcome":"success"}')
echo "$a" | grep -q '"field":"workflow_id".* 400$' || fail "no workflow_id: $a"
a=$(outcome $P1 '{"workflow_id":"x","tenant":"t","class":"c","outcome":"success","tool_cost_usd":-1}')
echo "$a" | grep -q '"field":"tool_cost_usd".* 422$' || fail "negative tool cost: $a"
a=$(outcome $P1 '{"workflow_id":"x","tenant":"t","class":"c","outcome":"success","labels":{"a":1}}')
echo "$a" | grep -q '"field":"labels".* 422$' || fail "bad labels: $a"
a=$(outcome $P1 '{"workflow_id":')
echo "$a" | grep -q '"code":"MALFORMED_JSON".* 400$' || fail "malformed: $a"
a=$(curl -s -w ' %{http_code}' "http://127.0.0.1:$P1/v1/outcome")
echo "$a" | grep -q ' 405$' || fail "GET /v1/outcome: $a"

# Every workflow is in once the routerds flushed (wf9 after its idle
# timeout and the next sweep).
deadline=$(($(date +%s) + 30))
until [ "$(cl_af report --unit workflow --by tenant -o json | jq '[.[].workflows] | add // 0')" = 10 ]; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "workflows never all reported: $(cl_af report --unit workflow -o json)"
	sleep 0.2
done
[ "$(cl_routerd_metric $P1 af_routerd_workflows_abandoned_total)" -eq 1 ] ||
	fail "abandoned metric: $(curl -s "http://127.0.0.1:$P1/metrics" | grep abandoned)"

cl_af report --unit workflow --by tenant -o json >"$CL_DIR/by_tenant"
# within PCT VALUE WANT: |VALUE - WANT| <= 4.4% of WANT
jq -e '
	def near($v; $w): (($v | tonumber) - $w | fabs) <= $w * 0.044 + 0.0000005;
	(map({key: .tenant, value: .}) | from_entries) as $t |
	length == 2 and
	($t["claims-team"] | .workflows == 9 and .succeeded == 6 and .failed == 1 and
	  .abandoned == 2 and .success_rate == 0.666667 and .cost_usd == "2.770000" and
	  .inference_usd == "1.870000" and .tool_usd == "0.200000" and
	  .human_review_usd == "0.700000" and .usd_per_success == "0.461667" and
	  near(.p50_success_usd; 0.20) and near(.p95_success_usd; 1.00) and
	  (.p95_success_usd | tonumber) <= 1 and .waste_usd == "0.520000" and .hops == 13) and
	($t["growth-team"] | .workflows == 1 and .succeeded == 0 and .failed == 1 and
	  .abandoned == 0 and .success_rate == 0 and .cost_usd == "0.330000" and
	  .usd_per_success == null and .p50_success_usd == null and
	  .p95_success_usd == null and .waste_usd == "0.330000")' "$CL_DIR/by_tenant" >/dev/null ||
	fail "by tenant: $(cat "$CL_DIR/by_tenant")"

# Label dimensions: the outcome's labels, else the first hop's.
cl_af report --unit workflow --by labels.cost_center -o json >"$CL_DIR/by_cc"
jq -e '(map({key: .["labels.cost_center"], value: .}) | from_entries) as $c |
	length == 3 and
	($c.A | .workflows == 4 and .succeeded == 4 and .cost_usd == "1.950000" and
	  .waste_usd == "0.000000" and .usd_per_success == "0.487500") and
	($c.B | .workflows == 5 and .succeeded == 1 and .failed == 2 and .abandoned == 2 and
	  .cost_usd == "1.050000" and .waste_usd == "0.850000" and .usd_per_success == "1.050000" and
	  .p50_success_usd == "0.200000") and
	($c["(none)"] | .workflows == 1 and .succeeded == 1 and .cost_usd == "0.100000")' \
	"$CL_DIR/by_cc" >/dev/null || fail "by cost_center: $(cat "$CL_DIR/by_cc")"
cl_af report --unit workflow --by labels.product,labels.cost_center,tenant -o json >"$CL_DIR/by3"
jq -e 'map(select(.["labels.product"] == "claims")) | length == 1 and
	.[0]["labels.cost_center"] == "A" and .[0].workflows == 1 and .[0].cost_usd == "0.250000"' \
	"$CL_DIR/by3" >/dev/null || fail "by product,cost_center,tenant: $(cat "$CL_DIR/by3")"

# Days: today's rows; --since tomorrow has none, --until tomorrow all.
today=$(date -u +%F) tomorrow=$(date -u -d tomorrow +%F)
cl_af report --unit workflow --by day -o json | jq -e --arg d "$today" \
	'length == 1 and .[0].day == $d and .[0].workflows == 10 and .[0].cost_usd == "3.100000"' >/dev/null ||
	fail "by day: $(cl_af report --unit workflow --by day -o json)"
[ "$(cl_af report --unit workflow --since "$tomorrow" -o json)" = "[]" ] || fail "--since tomorrow"
cl_af report --unit workflow --by class --since "$today" --until "$tomorrow" -o json |
	jq -e 'map({key: .class, value: .workflows}) | from_entries == {"research-agent": 9, "marketing": 1}' \
	>/dev/null || fail "--since/--until by class: $(cl_af report --unit workflow --by class -o json)"

# CSV: RFC 4180, a header row of the JSON keys, money as in JSON.
cl_af report --unit workflow --by tenant -o csv >"$CL_DIR/csv"
head -1 "$CL_DIR/csv" | od -c | grep -q '\\r  \\n' || fail "CSV lines do not end in CRLF"
tr -d '\r' <"$CL_DIR/csv" >"$CL_DIR/csv.lf"
[ "$(head -1 "$CL_DIR/csv.lf")" = "tenant,$(jq -r '.[0] | del(.tenant) | keys_unsorted | join(",")' "$CL_DIR/by_tenant")" ] ||
	fail "CSV header: $(head -1 "$CL_DIR/csv.lf")"
p50=$(jq -r '.[] | select(.tenant == "claims-team") | .p50_success_usd' "$CL_DIR/by_tenant")
p95=$(jq -r '.[] | select(.tenant == "claims-team") | .p95_success_usd' "$CL_DIR/by_tenant")
grep -qx "claims-team,9,6,1,2,0.666667,2.770000,1.870000,0.200000,0.700000,0.461667,$p50,$p95,0.520000,13" \
	"$CL_DIR/csv.lf" || fail "CSV claims-team row: $(cat "$CL_DIR/csv.lf")"
grep -qx "growth-team,1,0,1,0,0,0.330000,0.330000,0.000000,0.000000,,,,0.330000,1" "$CL_DIR/csv.lf" ||
	fail "CSV growth-team row: $(cat "$CL_DIR/csv.lf")"
[ "$(wc -l <"$CL_DIR/csv.lf")" -eq 3 ] || fail "CSV rows: $(cat "$CL_DIR/csv.lf")"
# the per-hop report's CSV: money exact too
cl_af report --by tenant -o csv | tr -d '\r' >"$CL_DIR/hopcsv"
[ "$(cat "$CL_DIR/hopcsv")" = "tenant,successes,failures,spend_usd,usd_per_success,waste_usd
claims-team,13,0,1.870000,0.143846,0.000000
growth-team,1,0,0.330000,0.330000,0.000000" ] || fail "hop CSV: $(cat "$CL_DIR/hopcsv")"
# the per-hop JSON and YAML: money as the same exact strings, and the
# rows of a finer --by sum exactly (in whole micro-USD) to the coarser
# rows and to the day's total
cl_af report --by tenant -o json | jq -e '. == [
	{"tenant": "claims-team", "successes": 13, "failures": 0, "spend_usd": "1.870000",
	 "usd_per_success": "0.143846", "waste_usd": "0.000000"},
	{"tenant": "growth-team", "successes": 1, "failures": 0, "spend_usd": "0.330000",
	 "usd_per_success": "0.330000", "waste_usd": "0.000000"}]' >/dev/null ||
	fail "hop JSON: $(cl_af report --by tenant -o json)"
cl_af report --by tenant -o yaml | grep -qx '  spend_usd: "1.870000"' ||
	fail "hop YAML: $(cl_af report --by tenant -o yaml)"
cl_af report --by tenant | grep -q '^claims-team  *13  *0  *1.870000  *0.143846  *0.000000$' ||
	fail "hop table: $(cl_af report --by tenant)"
# micro: a 6-decimal string as integer micro-USD, parsed without floats
MICRO='def micro: split(".") | (.[0] | tonumber) * 1000000 + (.[1] | tonumber);'
cl_af report --by day -o json >"$CL_DIR/hday"
cl_af report --by tenant,class,model -o json >"$CL_DIR/hfine"
jq -e -n "$MICRO"' input as $day | input as $fine |
	($fine | length) > 2 and
	($fine | map(.spend_usd | micro) | add) == ($day[0].spend_usd | micro) and
	($day[0].spend_usd == "2.200000") and
	([$fine[] | select(.tenant == "claims-team") | .spend_usd | micro] | add) == 1870000' \
	"$CL_DIR/hday" "$CL_DIR/hfine" >/dev/null ||
	fail "hop rows do not sum to the total: $(cat "$CL_DIR/hday" "$CL_DIR/hfine")"
# the per-hop report by declared label dimensions: each hop's own labels
# (a hop without the key under "(none)")
cl_af report --by labels.cost_center -o json >"$CL_DIR/hcc"
jq -e 'sort_by(.["labels.cost_center"]) == [
	{"labels.cost_center": "(none)", "successes": 3, "failures": 0, "spend_usd": "0.400000",
	 "usd_per_success": "0.133333", "waste_usd": "0.000000"},
	{"labels.cost_center": "A", "successes": 5, "failures": 0, "spend_usd": "1.050000",
	 "usd_per_success": "0.210000", "waste_usd": "0.000000"},
	{"labels.cost_center": "B", "successes": 6, "failures": 0, "spend_usd": "0.750000",
	 "usd_per_success": "0.125000", "waste_usd": "0.000000"}]' "$CL_DIR/hcc" >/dev/null ||
	fail "hop --by labels.cost_center: $(cat "$CL_DIR/hcc")"
cl_af report --by tenant,labels.product -o json | jq -e 'map(select(.["labels.product"] == "claims")) ==
	[{"tenant": "claims-team", "labels.product": "claims", "successes": 1, "failures": 0,
	  "spend_usd": "0.100000", "usd_per_success": "0.100000", "waste_usd": "0.000000"}]' >/dev/null ||
	fail "hop --by tenant,labels.product: $(cl_af report --by tenant,labels.product -o json)"
cl_af report --by labels.cost_center,class | grep -q '^B/marketing  *1  *0  *0.070000 ' ||
	fail "hop table by labels.cost_center,class: $(cl_af report --by labels.cost_center,class)"
# the per-hop report by several keys, day among them
cl_af report --by tenant,day -o json | jq -e --arg d "$today" 'length == 2 and all(.[]; .day == $d) and
	(map({key: .tenant, value: .successes}) | from_entries) == {"claims-team": 13, "growth-team": 1}' >/dev/null ||
	fail "hop --by tenant,day: $(cl_af report --by tenant,day -o json)"
cl_af report --by day,tenant | grep -q "^$today/claims-team  *13 " || fail "hop table by day,tenant: $(cl_af report --by day,tenant)"
set +e
cl_af report --by tenant,colour 2>"$CL_DIR/e"
rc=$?
set -e
[ $rc -ne 0 ] && grep -q 'up to 3 of tenant, class, model, revision, day and labels.KEY' "$CL_DIR/e" || fail "--by tenant,colour: $(cat "$CL_DIR/e")"
# a quoted field: a label value with a comma
hop $P1 wf11 $T research-agent 0.01 '"cost_center":"C, \"east\""'
done_ $P1 wf11 $T success 0 0
deadline=$(($(date +%s) + 15))
until cl_af report --unit workflow --by labels.cost_center -o csv | tr -d '\r' |
	grep -q '^"C, ""east""",1,1,'; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "CSV quoting: $(cl_af report --unit workflow --by labels.cost_center -o csv)"
	sleep 0.2
done

# A workflow through both routerds is one workflow: the parts each saw
# (hops, cost; the outcome where it was received) merge by workflow_id,
# abandoned only if no routerd received an outcome. Class marketing goes
# idle in 2 s, so the parts without an outcome arrive within seconds.
S=split-team
hop $P1 wf-s1 $S marketing 0.10 "$CA"
hop $P2 wf-s1 $S marketing 0.20
a=$(outcome $P2 "{\"workflow_id\":\"wf-s1\",\"tenant\":\"$S\",\"class\":\"marketing\",\"outcome\":\"success\",\"tool_cost_usd\":0.01}")
[ "$a" = '{"accepted":true} 202' ] || fail "outcome wf-s1: $a"
hop $P1 wf-s2 $S marketing 0.05
hop $P2 wf-s2 $S marketing 0.05
hop $P2 wf-s3 $S marketing 0.30
a=$(outcome $P1 "{\"workflow_id\":\"wf-s3\",\"tenant\":\"$S\",\"class\":\"marketing\",\"outcome\":\"failed\",\"human_review_usd\":0.02}")
[ "$a" = '{"accepted":true} 202' ] || fail "outcome wf-s3: $a"
deadline=$(($(date +%s) + 20))
until cl_af report --unit workflow --by tenant -o json | jq -e --arg s $S '.[] | select(.tenant == $s) | .hops == 5' >/dev/null; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "split workflows never all reported: $(cl_af report --unit workflow --by tenant -o json)"
	sleep 0.2
done
cl_af report --unit workflow --by tenant -o json | jq -e --arg s $S '[.[] | select(.tenant == $s)] == [{
	"tenant": $s, "workflows": 3, "succeeded": 1, "failed": 1, "abandoned": 1, "success_rate": 0.333333,
	"cost_usd": "0.730000", "inference_usd": "0.700000", "tool_usd": "0.010000",
	"human_review_usd": "0.020000", "usd_per_success": "0.730000", "p50_success_usd": "0.310000",
	"p95_success_usd": "0.310000", "waste_usd": "0.420000", "hops": 5}]' >/dev/null ||
	fail "split workflows: $(cl_af report --unit workflow --by tenant -o json)"
# the labels: the outcome's, else the hops' (wf-s1's first hop, at r1)
cl_af report --unit workflow --by tenant,labels.cost_center -o json | jq -e --arg s $S '
	[.[] | select(.tenant == $s) | {key: .["labels.cost_center"], value: [.workflows, .cost_usd]}] | from_entries ==
	{"A": [1, "0.310000"], "(none)": [2, "0.420000"]}' >/dev/null ||
	fail "split workflows by cost_center: $(cl_af report --unit workflow --by tenant,labels.cost_center -o json)"

# A price version takes effect at its date: swift-mid costs 10x from
# EFF (10 s ahead) on, its cached input at the old input price; reports
# priced from the registry (no cost_usd) follow it.
eff=$(date -u -d "@$(($(date +%s) + 10))" +%Y-%m-%dT%H:%M:%SZ)
awk -v eff="$eff" '/^  - id: / { mid = ($3 == "swift-mid") }
	mid && /usd_per_1k_input/ {
		print "    prices:"
		print "      - { effective: 2020-01-01T00:00:00Z, usd_per_1k_input: 0.003, usd_per_1k_output: 0.012 }"
		print "      - { effective: " eff ", usd_per_1k_input: 0.030, usd_per_1k_output: 0.120, usd_per_1k_cached_input: 0.003 }"
		next
	}
	mid && /usd_per_1k_output/ { next }
	{ print }' "$EXAMPLES/models.yaml" >"$CL_DIR/models2.yaml"
reg=$(cl_af model apply -f "$CL_DIR/models2.yaml" -o json | jq -r .registry_revision)
[ -n "$reg" ] && [ "$reg" != null ] || fail "model apply: $reg"
deadline=$(($(date +%s) + 10))
until curl -s -X POST "http://127.0.0.1:$P1/v1/route" -d '{"workflow_id":"wf-reg","tenant":"x","class":"research-agent"}' |
	jq -e --argjson r "$reg" '.registry_revision == $r' >/dev/null; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "r1 never served registry $reg"
	sleep 0.1
done
cl_af model history swift-mid -o json | jq -e --arg e "$eff" 'length == 2 and .[0].in_force and
	(.[1] | .effective == $e and (.in_force | not) and .usd_per_1k_input == 0.03 and
	 .usd_per_1k_cached_input == 0.003)' >/dev/null ||
	fail "model history before $eff: $(cl_af model history swift-mid -o json)"
# priced hop PORT WF: routed, reported as 1,000 input (500 cached) and
# 1,000 output tokens on swift-mid, priced by routerd; then a success.
priced() {
	id=$(curl -s -X POST "http://127.0.0.1:$1/v1/route" \
		-d "{\"workflow_id\":\"$2\",\"tenant\":\"price-team\",\"class\":\"research-agent\"}" | jq -r .decision_id)
	code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$1/v1/report" \
		-d "{\"decision_id\":\"$id\",\"ok\":true,\"model\":\"swift-mid\",\"region\":\"eu-west-1\",\"input_tokens\":1000,\"cached_input_tokens\":500,\"output_tokens\":1000}")
	[ "$code" = 202 ] || fail "priced report $2: $code"
	a=$(outcome "$1" "{\"workflow_id\":\"$2\",\"tenant\":\"price-team\",\"class\":\"research-agent\",\"outcome\":\"success\"}")
	[ "$a" = '{"accepted":true} 202' ] || fail "outcome $2: $a"
}
priced $P1 wf-before
[ "$(date -u +%s)" -lt "$(date -u -d "$eff" +%s)" ] || fail "the price changed before the first hop: the machine is too slow for this test"
until [ "$(date -u +%s)" -ge $(($(date -u -d "$eff" +%s) + 2)) ]; do sleep 0.2; done
grep -q 'event=price_version_in_force' "$CL_DIR/routerd-r1.log" || fail "r1 did not reprice at $eff"
priced $P1 wf-after
cl_af model history swift-mid -o json | jq -e '(.[0].in_force | not) and .[1].in_force' >/dev/null ||
	fail "model history after $eff: $(cl_af model history swift-mid -o json)"
# before: 1 x 0.003 + 1 x 0.012 (cached at the input price) = 0.015;
# after: 0.5 x 0.030 + 0.5 x 0.003 + 1 x 0.120 = 0.1365
deadline=$(($(date +%s) + 15))
until cl_af report --unit workflow --by tenant -o json | jq -e '.[] | select(.tenant == "price-team") |
	.workflows == 2 and .inference_usd == "0.151500" and .cost_usd == "0.151500"' >/dev/null; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "priced workflows: $(cl_af report --unit workflow --by tenant -o json)"
	sleep 0.2
done
cl_af report --unit workflow --by tenant -o json | jq -e '.[] | select(.tenant == "price-team") |
	(.p50_success_usd | tonumber) < 0.02 and (.p95_success_usd | tonumber) > 0.13' >/dev/null ||
	fail "priced percentiles: $(cl_af report --unit workflow --by tenant -o json)"

# Bad report requests are refused with the cause.
set +e
cl_af report --unit workflow --by model 2>"$CL_DIR/e"
rc=$?
set -e
[ $rc -ne 0 ] && grep -q 'tenant, class, day or labels.KEY' "$CL_DIR/e" || fail "--by model: $rc $(cat "$CL_DIR/e")"
set +e
cl_af report --unit workflow --by tenant,class,day,labels.a 2>"$CL_DIR/e"
rc=$?
set -e
[ $rc -ne 0 ] && grep -q 'at most 3' "$CL_DIR/e" || fail "4 keys: $rc $(cat "$CL_DIR/e")"
set +e
cl_af cluster status -o csv >/dev/null 2>"$CL_DIR/e"
rc=$?
set -e
[ $rc -ne 0 ] && grep -q 'not a table' "$CL_DIR/e" || fail "-o csv of a document: $rc $(cat "$CL_DIR/e")"

# Anomalies on synthetic history: days today-42 .. yesterday, 12 tenants
# (the fill's costs saw-tooth: six tenants peak yesterday).
FILL="$ROOT/$BUILD/tests/tools/usage_fill"
[ -x "$FILL" ] || fail "build $FILL first"
first=$(date -u -d '42 days ago' +%F)
"$FILL" "$CL_DIR/hist" test "$CL_DIR/hist.db" 42 12 2 3 1 "$first" "$CL_DIR/hist.csv" >/dev/null ||
	fail "usage_fill"
cl_routerd_stop r1
cl_routerd_stop r2
cl_stop 1 TERM
rm -rf "$CL_DIR/data"
cl_start 1 --restore "$CL_DIR/hist.db"
cl_wait_leader 60 >/dev/null
# want Z: "tenant spend_micro mean_micro stddev_micro z" of every tenant
# with z > Z, sorted
last=$((($(date -u -d "$(date -u +%F)" +%s) - 86400) * 1000))
want() {
	awk -F, -v last="$last" -v zmin="$1" '
		{ d = int((last - $1) / 86400000); c[$2, d] += $8; t[$2] = 1 }
		END {
			for (k in t) {
				s = 0; q = 0
				for (d = 1; d <= 28; d++) { x = int(c[k, d] / 1000 + 0.5); s += x }
				m = s / 28
				for (d = 1; d <= 28; d++) { x = int(c[k, d] / 1000 + 0.5) - m; q += x * x }
				sd = sqrt(q / 28); y = int(c[k, 0] / 1000 + 0.5)
				z = (y - m) / (sd < 1 ? 1 : sd)
				if (z > zmin) printf "%s %d %.0f %.0f %.3f\n", k, y, m, sd, z
			}
		}' "$CL_DIR/hist.csv" | sort
}
for zmin in 3 1 0.5 -10; do
	cl_af report --anomalies --z "$zmin" -o json >"$CL_DIR/anom" 2>&1 ||
		{ [ "$zmin" = -10 ] && grep -q 'above 0' "$CL_DIR/anom" && continue; fail "anomalies --z $zmin: $(cat "$CL_DIR/anom")"; }
	got=$(jq -r --arg d "$(date -u -d @$((last / 1000)) +%F)" '.[] | select(.day == $d) |
		"\(.tenant) \((.spend_usd | tonumber) * 1e6 | round) \((.mean_usd | tonumber) * 1e6 | round) \((.stddev_usd | tonumber) * 1e6 | round) \(.z)"' \
		"$CL_DIR/anom" | awk '{ printf "%s %s %s %s %.3f\n", $1, $2, $3, $4, $5 }' | sort)
	jq -e 'map(.z) as $z | $z == ($z | sort | reverse)' "$CL_DIR/anom" >/dev/null ||
		fail "anomalies not highest z first: $(cat "$CL_DIR/anom")"
	[ "$(jq length "$CL_DIR/anom")" -eq "$(echo "$got" | grep -c .)" ] || fail "anomalies: a row of another day: $(cat "$CL_DIR/anom")"
	[ "$got" = "$(want "$zmin")" ] || fail "anomalies --z $zmin: got
$got
want
$(want "$zmin")"
done
[ "$(want 0.5 | grep -c .)" -gt 0 ] || fail "the synthetic history has no anomaly above 0.5: not a test"
# the leader exports every tenant's z
curl -s "http://$(cl_http 1)/metrics" | grep '^af_spend_anomaly_z{' | sort >"$CL_DIR/zmetric"
[ "$(grep -c . "$CL_DIR/zmetric")" -eq 12 ] || fail "af_spend_anomaly_z: $(cat "$CL_DIR/zmetric")"
want -1000000000 | while read -r tn _ _ _ z; do
	grep -qx "af_spend_anomaly_z{tenant=\"$tn\"} $z" "$CL_DIR/zmetric" || fail "af_spend_anomaly_z of $tn: want $z: $(cat "$CL_DIR/zmetric")"
done
echo "ok showback"
