#!/bin/sh
# /metrics on both daemons, as Prometheus scrapes them: every scrape passes
# `promtool check metrics`; af_build_info carries the version the binary
# prints; process metrics come from /proc; the leader shows one lag series
# per follower; routerd shows a last-sync timestamp, per (model, region)
# cooldown, latency and report outcomes. Every metric named in the shipped
# alert rules and dashboard exists in these scrapes (tests/metric_names.sh).
. "$(dirname "$0")/../lib/cluster.sh"

command -v promtool >/dev/null || fail "promtool missing: sh tests/deps.sh"
# Backups scheduled, so their series (named in the rules) are exported.
cl_init metrics 3 "backup:
  dir: ./backups
  every: 1h
  keep: 2"
for i in 1 2 3; do cl_start $i; done
leader=$(cl_wait_leader)
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
h=$(cl_af policy apply -f "$EXAMPLES/policy.yaml" -o json | jq -r .hash)
cl_af budget set claims-team --hard 100 --soft 80 >/dev/null
P=$((CL_BASE + 901))
cl_routerd_start r1 $P
cl_wait_http "http://127.0.0.1:$P/readyz"
cl_wait_route_hash $P "$h" >/dev/null
cl_route_batch $P 1 20 "$CL_DIR/d"
n=$(cl_report_batch $P "$CL_DIR/d" false false 120)
[ "$n" -ge 1 ] || fail "no report accepted"

wait_for() { # wait_for SECONDS CONDITION: polls a shell condition
	deadline=$(($(date +%s) + $1))
	until eval "$2"; do
		[ "$(date +%s)" -lt "$deadline" ] || fail "never true in $1 s: $2"
		sleep 0.1
	done
}
check() { # check FILE: promtool's lint passes on a scrape
	promtool check metrics <"$1" >"$1.lint" 2>&1 ||
		fail "promtool check metrics $1: $(cat "$1.lint")"
}
# The leader knows its followers' lag once both replicated (tick: 100 ms).
wait_for 10 "[ \$(curl -s http://$(cl_http "$leader")/metrics | grep -c '^af_raft_follower_lag_entries{') = 2 ]"
# State-derived series are rebuilt every 2 s: wait for the fleet to show r1.
wait_for 15 "curl -s http://$(cl_http "$leader")/metrics | grep -qx 'af_fleet_routerd{state=\"SYNCED\"} 1'"
for i in 1 2 3; do curl -fsS "http://$(cl_http $i)/metrics" >"$CL_DIR/c$i.prom"; done
curl -fsS "http://127.0.0.1:$P/metrics" >"$CL_DIR/r.prom"
for f in "$CL_DIR"/c1.prom "$CL_DIR"/c2.prom "$CL_DIR"/c3.prom "$CL_DIR"/r.prom; do check "$f"; done
L="$CL_DIR/c$leader.prom"
R="$CL_DIR/r.prom"

v=$("$CONTROLD" --version | awk '{ print $2 }')
grep -q "^af_build_info{daemon=\"controld\",version=\"$v\"} 1$" "$L" || fail "controld build_info: $(grep build_info "$L")"
grep -q "^af_build_info{daemon=\"routerd\",version=\"$v\"} 1$" "$R" || fail "routerd build_info: $(grep build_info "$R")"
pid=$(cl_pid "$leader")
fds=$(ls /proc/"$pid"/fd | wc -l)
got=$(awk '$1 == "process_open_fds" { print $2 }' "$L")
[ "$((got - fds))" -le 3 ] && [ "$((fds - got))" -le 3 ] || fail "open fds $got, /proc says $fds"
rss=$(awk '$1 == "process_resident_memory_bytes" { printf "%d", $2 }' "$L")
[ "$rss" -gt 1000000 ] || fail "rss $rss"
st=$(awk '$1 == "process_start_time_seconds" { printf "%d", $2 }' "$L")
now=$(date +%s)
[ "$st" -le "$now" ] && [ "$st" -gt $((now - 120)) ] || fail "start time $st, now $now"
grep -q '^process_cpu_seconds_total ' "$L" || fail "cpu seconds"
for m in af_raft_leader_changes_total af_raft_proposals_failed_total \
	af_raft_proposals_pending af_raft_snapshots_total \
	af_raft_snapshot_failures_total af_raft_snapshot_seconds_count \
	af_raft_log_bytes af_store_lmdb_file_bytes af_raft_log_append_seconds_count \
	af_raft_resolve_failures_total; do
	grep -qE "^$m(\{\})? " "$L" || fail "leader lacks $m"
done
# Three writes at least went through the leader's log, each synced.
[ "$(sed -n "s/^af_raft_log_append_seconds_count[{}]* //p" "$L")" -ge 3 ] ||
	fail "log appends: $(grep log_append_seconds_count "$L")"
# Leader changes seen: at least the first election.
[ "$(awk '$1 == "af_raft_leader_changes_total" { print $2 }' "$L")" -ge 1 ] || fail "leader changes"
# Two writes committed: the log holds bytes. Nothing stays pending: r1's
# telemetry rounds are proposals too, so one may be in flight at a given
# scrape, but the gauge must come back to 0.
[ "$(awk '$1 == "af_raft_log_bytes" { print $2 }' "$L")" -gt 0 ] || fail "log bytes"
wait_for 5 "[ \"\$(curl -s http://$(cl_http "$leader")/metrics | awk '\$1 == \"af_raft_proposals_pending\" { print \$2 }')\" = 0 ]"
# Budgets, rollout and fleet from the replicated state.
grep -q '^af_budget_hard_usd{tenant="claims-team"} 100.000000$' "$L" || fail "hard: $(grep budget_ "$L")"
grep -q '^af_budget_soft_usd{tenant="claims-team"} 80.000000$' "$L" || fail "soft"
grep -q '^af_budget_spent_usd{tenant="claims-team"} ' "$L" || fail "spent"
grep -q '^af_budget_leased_usd{tenant="claims-team"} ' "$L" || fail "leased"
grep -q '^af_rollout_state{state="none"} 1$' "$L" || fail "rollout: $(grep rollout_ "$L")"
grep -q '^af_rollout_canary_weight_ratio 0.00$' "$L" || fail "canary weight"
# Followers show no lag series.
f=$(( leader % 3 + 1 ))
! grep -q '^af_raft_follower_lag_entries{' "$CL_DIR/c$f.prom" || fail "follower $f shows lag series"

# routerd: a report naming the decision's first fallback is one fallback
# activation; one naming its primary is none.
grep -q '^af_routerd_canary_weight_ratio 0.00$' "$R" || fail "routerd canary weight"
grep -q '^af_routerd_fallbacks_total{cohort="stable"} 0$' "$R" || fail "fallbacks before: $(grep fallbacks_total "$R")"
d1=$(jq -c 'select(.decision == "route" and (.fallback | length) > 0 and
	(.fallback[0].model != .model or .fallback[0].region != .region))' "$CL_DIR/d" | head -1)
[ -n "$d1" ] || fail "no routed decision with a distinct fallback"
echo "$d1" | jq -c '{decision_id, model: .fallback[0].model, region: .fallback[0].region,
	ok: true, latency_ms: 100}' >"$CL_DIR/fb.json"
curl -fsS -o /dev/null -d @"$CL_DIR/fb.json" "http://127.0.0.1:$P/v1/report" || fail "fallback report"
wait_for 5 "curl -s http://127.0.0.1:$P/metrics | grep -qx 'af_routerd_fallbacks_total{cohort=\"stable\"} 1'"

# routerd: the sync timestamp is a recent Unix time, not a sentinel.
ts=$(awk '$1 == "af_routerd_last_sync_timestamp_seconds" { printf "%d", $2 }' "$R")
[ "$ts" -gt $((now - 60)) ] && [ "$ts" -le $((now + 1)) ] || fail "last sync $ts, now $now"
# Each lane's limit from the policy next to its in-flight count.
grep -q '^af_routerd_lane_limit{lane="online-interactive"} 64$' "$R" || fail "lane limit: $(grep lane_ "$R")"
grep -q '^af_routerd_lane_limit{lane="batch-offline"} 1024$' "$R" || fail "lane limit batch"
grep -q '^af_routerd_lane_inflight{lane="online-interactive"} ' "$R" || fail "lane inflight"
model=$(jq -r 'select(.decision == "route") | .model' "$CL_DIR/d" | head -1)
region=$(jq -r 'select(.decision == "route") | .region' "$CL_DIR/d" | head -1)
fails=$(awk -v k="af_routerd_model_reports_total{model=\"$model\",region=\"$region\",ok=\"false\"}" '$1 == k { print $2 }' "$R")
[ "${fails:-0}" -ge 1 ] || fail "reports by model: $(grep model_reports "$R")"
lat=$(awk -v k="af_routerd_model_latency_seconds{model=\"$model\",region=\"$region\"}" '$1 == k { print $2 }' "$R")
[ "$lat" = 0.120 ] || fail "latency of $model: $lat"
# Twenty failures cool the model down for the stable cohort.
cool=$(awk -v k="af_routerd_cooldown_remaining_seconds{model=\"$model\",region=\"$region\",cohort=\"stable\"}" '$1 == k { print $2 }' "$R")
awk -v c="$cool" 'BEGIN { exit !(c > 0) }' || fail "cooldown of $model: $cool ($(grep cooldown_remaining "$R"))"

# The rules and the dashboard name only metrics these scrapes hold.
promtool check rules "$ROOT/deploy/prometheus/af-rules.yaml" >/dev/null ||
	fail "promtool check rules"
cat "$CL_DIR"/c*.prom "$R" >"$CL_DIR/all.prom"
sh "$ROOT/tests/metric_names.sh" "$CL_DIR/all.prom" \
	"$ROOT/deploy/prometheus/af-rules.yaml" "$ROOT/deploy/grafana/af.json" ||
	fail "rules or dashboard name a metric no daemon exports"
# Every metric family is documented: controld's in operations.md, routerd's
# in routerd.md (whose table may shorten af_routerd_x to `_x`).
for fam in $(awk '$1 == "#" && $2 == "TYPE" { print $3 }' "$L"); do
	grep -q "\`$fam[\`{]" "$ROOT/docs/operations.md" || fail "$fam not in docs/operations.md"
done
for fam in $(awk '$1 == "#" && $2 == "TYPE" { print $3 }' "$R"); do
	grep -q "\`$fam[\`{]" "$ROOT/docs/routerd.md" ||
		grep -q "\`_${fam#af_routerd_}[\`{]" "$ROOT/docs/routerd.md" ||
		fail "$fam not in docs/routerd.md"
done
# The dashboard is Grafana dashboard JSON: unique panel ids, a 24-column
# grid, every query a Prometheus target with a refId.
jq -e '(.title | type == "string") and (.uid | type == "string") and
	(.schemaVersion | type == "number") and
	([.panels[].id] | length == (unique | length)) and
	all(.panels[]; .gridPos.x + .gridPos.w <= 24 and .gridPos.h > 0) and
	all(.panels[] | select(.type != "row") | .targets[];
	    (.refId | type == "string") and (.expr | length > 0) and
	    .datasource.type == "prometheus")' \
	"$ROOT/deploy/grafana/af.json" >/dev/null || fail "dashboard structure"
note "scrapes: $(wc -l <"$L") lines leader, $(wc -l <"$R") routerd"
echo "PASS metrics"
