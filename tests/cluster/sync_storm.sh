#!/bin/sh
# Telemetry never makes a routerd Sync. Four routerds follow a 3-node
# cluster; one of them routes and reports traffic of a budgeted tenant for
# a while (usage flushes, lease top-ups and fleet reports: dozens of Raft
# entries). Every routerd's Sync answers (af_routerd_syncs_total, pulled,
# plus af_routerd_pushes_total, carried by a change hint) must grow by
# exactly the number of configuration changes meanwhile (one budget set),
# not by the number of entries; a policy apply then reaches all four at
# once, carried by its hint (one more push each, no Sync). A bundle too
# large for a hint is pulled (one more Sync each). Each routerd keeps one
# connection per controld. Fleet reports after a change are spread by the
# size of the fleet: with 2,000 more routerds known, over 1 s.
. "$(dirname "$0")/../lib/cluster.sh"
RAW="$ROOT/$BUILD/tests/tools/afraw"
[ -x "$RAW" ] || fail "$RAW missing: make $BUILD/tests/tools/afraw"

metric() { # metric PORT NAME: its value on routerd's /metrics
	curl -s "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n { print $2 }'
}
applied() { # the leader's applied index
	curl -s "http://$(cl_http "$leader")/metrics" |
		awk '$1 == "af_raft_applied_index" { print $2 }'
}
pulls() { metric "$1" af_routerd_syncs_total; }
pushes() { metric "$1" af_routerd_pushes_total; }
syncs() { echo $(($(pulls "$1") + $(pushes "$1"))); }
# Waits until every routerd's answer count stays put for 1.5 s (no Sync
# under way); prints them, space separated.
settled() {
	prev=""
	deadline=$(($(date +%s) + 20))
	while :; do
		cur=""
		for k in 1 2 3 4; do cur="$cur $(syncs $((P + k)))"; done
		[ "$cur" = "$prev" ] && { echo $cur; return 0; }
		[ "$(date +%s)" -lt "$deadline" ] || fail "Syncs never settled: $cur"
		prev=$cur
		sleep 1.5
	done
}

cl_init sync_storm
for i in 1 2 3; do cl_start $i; done
leader=$(cl_wait_leader)
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
h1=$(cl_af policy apply -f "$EXAMPLES/policy.yaml" -o json | jq -r .hash)
P=$((CL_BASE + 900))
for k in 1 2 3 4; do cl_routerd_start "r$k" $((P + k)); done
for k in 1 2 3 4; do
	cl_wait_http "http://127.0.0.1:$((P + k))/readyz"
	cl_wait_route_hash $((P + k)) "$h1" >/dev/null
done
# Start-up: a Sync or two each (a second when the first node asked had
# not applied the policy yet); the baseline for what follows.
set -- $(settled)
for k in 1 2 3 4; do
	eval "s$k=\$$k"
	[ "$(eval echo \$s$k)" -le 2 ] || fail "r$k: $(eval echo \$s$k) Syncs at start-up"
done
note "start-up Syncs: $*"

# One configuration change, then telemetry on r1 only.
cl_af budget set claims-team --hard 1000 --period day >/dev/null
a0=$(applied)
end=$(($(date +%s) + 6))
n=0
while [ "$(date +%s)" -lt "$end" ]; do
	cl_traffic $((P + 1)) $((n + 1)) $((n + 100)) "$CL_DIR/d" true true 20
	n=$((n + 100))
	sleep 0.3
done
leases=$(metric $((P + 1)) af_routerd_budget_leases_total || true)
note "r1 routed and reported $n decisions"
# Usage flushes (one a second) and fleet reports of r1 must have been
# applied: the scenario would prove nothing without telemetry entries.
deadline=$(($(date +%s) + 10))
while [ $(($(applied) - a0)) -lt 6 ]; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "only $(($(applied) - a0)) entries applied during telemetry"
	sleep 0.2
done
a1=$(applied)
set -- $(settled)
for k in 1 2 3 4; do
	got=$(eval echo \$$k)
	want=$(($(eval echo \$s$k) + 1))
	[ "$got" = "$want" ] ||
		fail "r$k: $got Syncs after 1 configuration change and $((a1 - a0)) entries, want $want"
done
note "$((a1 - a0)) entries applied during telemetry; each routerd Synced once (the budget)"

# A policy apply still reaches all four quickly, with one answer each,
# and the hint carries it: no Sync.
for k in 1 2 3 4; do
	eval "pl$k=$(pulls $((P + k)))"
	eval "pu$k=$(pushes $((P + k)))"
done
sed 's/^name: prod/name: prod-2/' "$EXAMPLES/policy.yaml" >"$CL_DIR/p2.yaml"
h2=$(cl_af policy apply -f "$CL_DIR/p2.yaml" -o json | jq -r .hash)
worst=0
for k in 1 2 3 4; do
	ms=$(cl_wait_route_hash $((P + k)) "$h2")
	[ "$ms" -gt $worst ] && worst=$ms
done
note "policy apply served by all 4 routerds within ${worst} ms"
[ "$worst" -lt 2000 ] || fail "policy apply took ${worst} ms to reach every routerd"
set -- $(settled)
for k in 1 2 3 4; do
	got=$(eval echo \$$k)
	want=$(($(eval echo \$s$k) + 2))
	[ "$got" = "$want" ] || fail "r$k: $got Syncs, want $want"
	[ "$(pulls $((P + k)))" = "$(eval echo \$pl$k)" ] ||
		fail "r$k pulled the apply ($(pulls $((P + k))) Syncs, $(eval echo \$pl$k) before); its hint carried it"
	[ "$(pushes $((P + k)))" = "$(($(eval echo \$pu$k) + 1))" ] ||
		fail "r$k: $(pushes $((P + k))) pushes taken, want $(($(eval echo \$pu$k) + 1))"
done
note "the apply's hint carried it to all 4 (no Sync)"

# A bundle whose hint would pass 16 KB is not carried: each routerd
# pulls it (one Sync each), and controld counts the hint as too large.
big0=$(curl -s "http://$(cl_http "$leader")/metrics" |
	awk '$1 == "af_pub_pushes_total{result=\"too_large\"}" { print $2 }')
{
	sed 's/^name: prod/name: prod-big/; /^rules:/q' "$EXAMPLES/policy.yaml"
	for r in $(seq 1 300); do
		printf '  - name: padding-rule-%03d-with-a-long-name-for-size\n' "$r"
		printf '    when: { class: marketing, agent_role: [role-%03d] }\n' "$r"
		printf '    route: { tier: small, fallback_tiers: [mid] }\n'
	done
	sed -n '/^rules:/,$p' "$EXAMPLES/policy.yaml" | sed 1d
} >"$CL_DIR/big.yaml"
for k in 1 2 3 4; do eval "pl$k=$(pulls $((P + k)))"; done
h3=$(cl_af policy apply -f "$CL_DIR/big.yaml" -o json | jq -r .hash)
for k in 1 2 3 4; do cl_wait_route_hash $((P + k)) "$h3" >/dev/null; done
set -- $(settled)
for k in 1 2 3 4; do
	[ "$(pulls $((P + k)))" = "$(($(eval echo \$pl$k) + 1))" ] ||
		fail "r$k: $(pulls $((P + k))) Syncs after the large bundle, want $(($(eval echo \$pl$k) + 1))"
done
big1=$(curl -s "http://$(cl_http "$leader")/metrics" |
	awk '$1 == "af_pub_pushes_total{result=\"too_large\"}" { print $2 }')
[ "$big1" -gt "$big0" ] || fail "the large bundle's hint was not counted too large ($big0 -> $big1)"
note "a bundle too large for its hint was pulled (one Sync each)"

# Spread reports: 2,000 more routerds in the fleet view (recorded, serving
# nothing) make the next change's hint ask for a spread of 1,000 ms. Each
# routerd logs when its report is due (within the spread, and not all at
# once), and the fleet view has every real routerd SYNCED after it.
out=$("$RAW" "$(cl_api "$leader")" fleet ghost 2000) || fail "ghost reports: $out"
sed 's/^name: prod/name: prod-4/' "$EXAMPLES/policy.yaml" >"$CL_DIR/p4.yaml"
h4=$(cl_af policy apply -f "$CL_DIR/p4.yaml" -o json | jq -r .hash)
for k in 1 2 3 4; do cl_wait_route_hash $((P + k)) "$h4" >/dev/null; done
sleep 0.2
ins=''
for k in 1 2 3 4; do
	line=$(grep 'event=fleet_report_due' "$CL_DIR/routerd-r$k.log" | tail -1)
	case $line in *spread_ms=1002*) ;; *) fail "r$k: no report spread over 1002 ms (4 + 2,000 routerds known): '$line'" ;; esac
	in=${line#*in_ms=}
	in=${in%% *}
	[ "$in" -le 1002 ] || fail "r$k: report due in $in ms, past the spread"
	ins="$ins $in"
done
[ "$(echo $ins | tr ' ' '\n' | sort -u | wc -l)" -gt 1 ] || fail "every routerd's report was due at the same moment:$ins"
deadline=$(($(date +%s) + 5))
while [ "$(cl_af fleet status -o json | jq --arg h "$h4" '[.[] | select(.id | startswith("ghost") | not) | select(.state == "SYNCED" and .hash == $h)] | length')" != 4 ]; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "the 4 routerds' reports of $h4 never arrived: $(cl_af fleet status)"
	sleep 0.2
done
note "reports spread over 1002 ms: due in$ins ms; all 4 SYNCED"

# Kept connections: one per controld, not one per call.
for k in 1 2 3 4; do
	c=$(metric $((P + k)) af_routerd_controld_connects_total)
	[ "$c" -le 3 ] || fail "r$k opened $c connections to 3 controlds"
done
note ok
