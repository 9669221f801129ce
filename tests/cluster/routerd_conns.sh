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

# Past the connection limit: a routerd allowed 1,200 files (limit 944) and
# 1,100 held connections still answers a new client within a few seconds
# (close to its limit it gives each connection 1 s, not 10 s).
P2=$((CL_BASE + 902))
(ulimit -n 1200 && exec "$ROUTERD" -c "$CL_FILE" --listen "127.0.0.1:$P2" --id r2 \
	>>"$CL_DIR/routerd-r2.log" 2>&1) &
echo $! >"$CL_DIR/pidr-r2"
cl_wait_http "http://127.0.0.1:$P2/healthz"
curl -s "http://127.0.0.1:$P2/metrics" | grep -q '^af_routerd_http_connection_limit 944$' ||
	fail "r2 limit: $(curl -s "http://127.0.0.1:$P2/metrics" | grep connection_limit)"
"$HOLD" $P2 1100 0 0 30 >"$CL_DIR/hold2.out" 2>&1 &
hold=$!
deadline=$(($(date +%s) + 5))
until grep -q '^requests=' "$CL_DIR/hold2.out"; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "http_hold did not start"
	sleep 0.05
done
deadline=$(($(date +%s) + 4))
until [ "$(curl -s -m 1 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P2/healthz")" = 200 ]; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "no answer past the connection limit"
	sleep 0.1
done
wait $hold || fail "held connections past the limit: $(cat "$CL_DIR/hold2.out")"
note ok
