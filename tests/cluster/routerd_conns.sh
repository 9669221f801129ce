#!/bin/sh
# routerd under thousands of idle connections and slow-header (slowloris)
# clients: it keeps answering /v1/route on fresh connections meanwhile,
# then closes every idle and slow connection once its request deadline
# (10 s) passes, and its connection gauge comes back down.
. "$(dirname "$0")/../lib/cluster.sh"

HOLD=$BUILD/tests/tools/http_hold
[ -x "$HOLD" ] || fail "$HOLD not built (make $HOLD)"
cl_init routerd_conns
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
h=$(cl_af policy apply -f "$EXAMPLES/policy.yaml" -o json | jq -r .hash)
P=$((CL_BASE + 901))
cl_routerd_start r1 $P
cl_wait_http "http://127.0.0.1:$P/readyz"
cl_wait_route_hash $P "$h" >/dev/null

# As many as the file limit allows this test, up to 3,000 idle + 50 slow.
hard=$(ulimit -Hn)
idle=3000
[ "$hard" = unlimited ] || [ "$hard" -gt 3400 ] || idle=$((hard - 400))
[ "$idle" -ge 1000 ] || fail "file limit $hard too low for this test"
"$HOLD" $P $idle 50 200 40 "$EXAMPLES/request.json" >"$CL_DIR/hold.out" 2>&1 ||
	fail "http_hold: $(cat "$CL_DIR/hold.out")"
note "$(tr '\n' ' ' <"$CL_DIR/hold.out")"
grep -q "^held idle=$idle slow=50 open=$((idle + 50))\$" "$CL_DIR/hold.out" ||
	fail "not every connection opened: $(cat "$CL_DIR/hold.out")"
grep -q '^requests=200 answered=200 status200=200 ' "$CL_DIR/hold.out" ||
	fail "routes not answered while held: $(cat "$CL_DIR/hold.out")"
grep -q "^closed=$((idle + 50)) of $((idle + 50)) " "$CL_DIR/hold.out" ||
	fail "idle or slow connections not closed: $(cat "$CL_DIR/hold.out")"

# Routing still works and the gauge is back down.
d=$(curl -s -m 5 -X POST --data-binary "@$EXAMPLES/request.json" "http://127.0.0.1:$P/v1/route")
echo "$d" | jq -e '.decision == "route"' >/dev/null || fail "after: $d"
m=$(curl -s -m 5 "http://127.0.0.1:$P/metrics")
n=$(echo "$m" | awk '$1 == "af_routerd_http_connections" {print $2}')
[ "$n" -le 5 ] || fail "still $n connections open"
s=$(echo "$m" | awk '$1 == "af_routerd_http_connections_shed_total" {print $2}')
[ "$s" -ge 50 ] || fail "slow clients not shed by the deadline ($s)"
note ok
