#!/bin/sh
# Budgets across replicas. A burst of 120 back-to-back hops from one
# client for a tenant with budget left is served (at most 1% denied
# BUDGET_LEASE_PENDING) up to the hard limit, then denied BUDGET_EXCEEDED
# (not retryable, retry_after_ms = time to the next period). Three routerds route one tenant with a small
# hard budget at the same time; the estimated spend they route stays within
# the limit and denials appear. A tenant over its soft limit is stepped
# down. A killed routerd's lease returns after expiry. (A new period
# restoring the budget is tested in tests/unit/test_budget.c.)
. "$(dirname "$0")/../lib/cluster.sh"

cl_init budgets
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
cl_af policy apply -f "$EXAMPLES/policy.yaml" >/dev/null
cl_af budget set hard-team --hard 2 --period day >/dev/null
cl_af budget set soft-team --hard 100 --soft 0.05 --period day >/dev/null
cl_af budget set lost-team --hard 1 --period day >/dev/null
cl_af budget set marketing-team --hard 5 --period day >/dev/null
# One routerd first: the burst below is one client on one routerd.
cl_routerd_start r1 $((CL_BASE + 901))
cl_wait_http "http://127.0.0.1:$((CL_BASE + 901))/readyz"
# Budgets arrive with the first Sync (defined before its view activates,
# so before readyz); the routerd then asks for a lease at once.
cl_wait_json "cl_af budget get marketing-team -o json" '.leased_usd > 0' 15 \
	>/dev/null

# tenant $1, workflows $2..$3, on routerd port $4, into $5 (with reports)
traffic() {
	awk -v port="$4" -v a="$2" -v b="$3" -v tenant="$1" -v extra="$6" 'BEGIN {
		for (i = a; i <= b; i++) {
			if (i > a) print "next"
			printf "url = \"http://127.0.0.1:%s/v1/route\"\n", port
			printf "data = \"{\\\"workflow_id\\\":\\\"wf-%d\\\",\\\"tenant\\\":\\\"%s\\\",\\\"class\\\":\\\"research-agent\\\",%s}\"\n", i, tenant, extra
			print "write-out = \"\\n\""
		}
	}' >"$CL_DIR/b$4.cfg"
	curl -s -K "$CL_DIR/b$4.cfg" | grep -v '^$' >"$5"
	cl_report_batch "$4" "$5" true true 40 >/dev/null || true
}
BIG='\\\"input_tokens\\\":18240,\\\"output_tokens\\\":960,\\\"needs\\\":[\\\"tools\\\"]'
SMALL='\\\"input_tokens\\\":1000,\\\"output_tokens\\\":200'

# --- a burst from one client: 120 hops at 0.06624 USD against 5 USD ---
P1=$((CL_BASE + 901))
traffic marketing-team 1 120 $P1 "$CL_DIR/m" "$BIG"
n=$(jq -s length "$CL_DIR/m")
[ "$n" = 120 ] || fail "burst: $n answers of 120"
routed=$(jq -s '[.[] | select(.decision == "route")] | length' "$CL_DIR/m")
pending=$(jq -s '[.[] | select(.code == "BUDGET_LEASE_PENDING")] | length' "$CL_DIR/m")
exceeded=$(jq -s '[.[] | select(.code == "BUDGET_EXCEEDED")] | length' "$CL_DIR/m")
spent=$(jq -s '[.[] | select(.decision == "route") | .est_cost_usd] | add // 0' "$CL_DIR/m")
note "burst: routed $routed for $spent USD of 5, $pending BUDGET_LEASE_PENDING, $exceeded BUDGET_EXCEEDED"
[ "$pending" -le 1 ] || fail "burst: $pending of 120 denied BUDGET_LEASE_PENDING (> 1%)"
awk -v s="$spent" 'BEGIN { exit !(s <= 5.0) }' || fail "burst routed $spent USD over 5"
# 75 hops fit in 5 USD (75 * 0.06624 = 4.968)
[ "$routed" -ge 74 ] || fail "burst: only $routed routed with budget left"
[ $((routed + pending + exceeded)) = 120 ] || fail "burst: other answers"
jq -s -e 'all(.[] | select(.decision == "deny"); has("retryable"))' \
	"$CL_DIR/m" >/dev/null || fail "a denial without retryable"
jq -s -e 'all(.[] | select(.code == "BUDGET_EXCEEDED");
	.retryable == false and .retry_after_ms > 0 and
	.retry_after_ms <= 86400000)' "$CL_DIR/m" >/dev/null ||
	fail "BUDGET_EXCEEDED: $(jq -c 'select(.code == "BUDGET_EXCEEDED")' "$CL_DIR/m" | head -1)"
jq -s -e 'all(.[] | select(.code == "BUDGET_LEASE_PENDING");
	.retryable == true and .retry_after_ms <= 1000)' "$CL_DIR/m" >/dev/null ||
	fail "BUDGET_LEASE_PENDING not retryable"
b=$(cl_af budget get marketing-team -o json)
echo "$b" | jq -e '.spent_usd + .leased_usd <= 5' >/dev/null || fail "over: $b"
# The spend over the period: points in time order, the last one what is
# spent now (one point per hour the spend moved).
echo "$b" | jq -e '(.history | length) >= 1 and .history[-1].spent_usd == .spent_usd and
	((.history | map(.at)) as $a | $a == ($a | sort))' >/dev/null ||
	fail "history: $b"
cl_af budget get marketing-team | grep -q '^SPENT BY (HOUR)' ||
	fail "af budget get prints no history: $(cl_af budget get marketing-team)"
for k in 2 3; do
	cl_routerd_start r$k $((CL_BASE + 900 + k))
	cl_wait_http "http://127.0.0.1:$((CL_BASE + 900 + k))/readyz"
done

# A routerd asks for a lease as soon as it learns of a budget (and gives
# it back after 2 s if no hop came), so a first hop is usually served; one
# that is not is denied BUDGET_LEASE_PENDING (retryable, retry_after_ms at
# most 1 s: another routerd may hold what is left until its renewal). Warm
# each routerd up as a client would: retry after retry_after_ms.
warm() {
	deadline=$(($(date +%s) + 15))
	while :; do
		traffic "$1" 90000 90000 "$2" "$CL_DIR/warm" "$SMALL"
		jq -e '.decision == "route"' "$CL_DIR/warm" >/dev/null && break
		jq -e '.code == "BUDGET_LEASE_PENDING" and .retryable and
			.retry_after_ms <= 1000' "$CL_DIR/warm" >/dev/null ||
			fail "first hop: $(cat "$CL_DIR/warm")"
		[ "$(date +%s)" -lt "$deadline" ] || fail "never served: $(cat "$CL_DIR/warm")"
		sleep "$(jq -r '.retry_after_ms / 1000' "$CL_DIR/warm")"
	done
}
for k in 1 2 3; do warm hard-team $((CL_BASE + 900 + k)); done

# Three routerds at once, 40 decisions each, estimate 0.06624 USD a hop:
# 120 hops would cost 7.95 USD against a 2 USD limit.
pids=""
for k in 1 2 3; do
	traffic hard-team $((k * 100)) $((k * 100 + 39)) $((CL_BASE + 900 + k)) \
		"$CL_DIR/h$k" "$BIG" &
	pids="$pids $!"
done
for p in $pids; do wait "$p"; done
cat "$CL_DIR"/h1 "$CL_DIR"/h2 "$CL_DIR"/h3 >"$CL_DIR/h"
routed=$(jq -s '[.[] | select(.decision == "route")] | length' "$CL_DIR/h")
spent=$(jq -s '[.[] | select(.decision == "route") | .est_cost_usd] | add // 0' "$CL_DIR/h")
denied=$(jq -s '[.[] | select(.code == "BUDGET_EXCEEDED" or .code == "BUDGET_LEASE_PENDING")] | length' "$CL_DIR/h")
note "routed $routed hops for $spent USD of 2, $denied denied BUDGET_EXCEEDED or BUDGET_LEASE_PENDING"
awk -v s="$spent" 'BEGIN { exit !(s <= 2.0) }' || fail "routed $spent USD over a 2 USD budget"
[ "$denied" -gt 0 ] || fail "no budget denial"
[ "$routed" -gt 0 ] || fail "nothing routed"
jq -s -e '[.[] | select(.decision == "deny")] | all(.retry_after_ms >= 0)' \
	"$CL_DIR/h" >/dev/null || fail "denials lack retry_after_ms"
for k in 1 2 3; do cl_routerd_stop r$k TERM; done # leases go back
deadline=$(($(date +%s) + 10))
while :; do
	b=$(cl_af budget get hard-team -o json)
	[ "$(echo "$b" | jq .leased_usd)" = 0 ] && break
	[ "$(date +%s)" -lt "$deadline" ] || fail "leases not returned: $b"
	sleep 0.2
done
echo "$b" | jq -e '.spent_usd <= 2 and .spent_usd > 0' >/dev/null ||
	fail "spent: $b"
note "after shutdown: $(echo "$b" | jq -c '{spent_usd, leased_usd, remaining_usd}')"

# Soft limit: after spending past it, hops are stepped down (degraded).
for k in 1 2 3; do cl_routerd_start r$k $((CL_BASE + 900 + k)); done
P=$((CL_BASE + 901))
cl_wait_http "http://127.0.0.1:$P/readyz"
warm soft-team $P
traffic soft-team 1 20 $P "$CL_DIR/s1" "$SMALL"
jq -s -e 'all(.[]; .decision == "route" and .degraded == false)' "$CL_DIR/s1" \
	>/dev/null || fail "degraded before the soft limit"
deadline=$(($(date +%s) + 15))
while :; do
	traffic soft-team 100 109 $P "$CL_DIR/s2" "$SMALL"
	jq -s -e 'any(.[]; .degraded == true and .tier == "small")' \
		"$CL_DIR/s2" >/dev/null && break
	[ "$(date +%s)" -lt "$deadline" ] ||
		fail "never degraded: $(cl_af budget get soft-team -o json)"
	sleep 0.5
done
note "over the soft limit: stepped down to the small tier"

# A killed routerd's lease returns after the lease TTL.
P3=$((CL_BASE + 903))
warm lost-team $P3
traffic lost-team 1 2 $P3 "$CL_DIR/l1" "$SMALL"
cl_wait_json "cl_af budget get lost-team -o json" '.leased_usd > 0' 15 \
	>/dev/null
cl_routerd_stop r3 KILL
t0=$(date +%s)
while :; do
	l=$(cl_af budget get lost-team -o json | jq .leased_usd)
	[ "$l" = 0 ] && break
	[ $(($(date +%s) - t0)) -lt 30 ] || fail "lease of a killed routerd still out"
	sleep 0.5
done
note "killed routerd's lease returned after $(($(date +%s) - t0)) s"
note ok
