#!/bin/sh
# routerd with 10,000 idle and 100 slow-header (slowloris) connections
# held open: latency of fresh requests meanwhile (GET /healthz, one new
# connection each), routerd's CPU while holding, its resident memory, and
# how long until it has closed every held connection.
#
# Env: BUILD (default build), IDLE (10000), SLOW (100), REQUESTS (1000).
# Needs tests/tools/http_hold (make build/tests/tools/http_hold).
set -eu
BUILD=${BUILD:-build}
IDLE=${IDLE:-10000}
SLOW=${SLOW:-100}
REQUESTS=${REQUESTS:-1000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT=${PORT:-18655}
DIR=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$DIR"' EXIT INT TERM
"$ROOT/$BUILD/bin/routerd" -c "$ROOT/deploy/examples/cluster.yaml" \
	--listen 127.0.0.1:$PORT --id bench >"$DIR/log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
	curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
	sleep 0.05
done
ticks() { awk '{print $14 + $15}' /proc/$pid/stat; }
"$ROOT/$BUILD/tests/tools/http_hold" $PORT "$IDLE" "$SLOW" "$REQUESTS" 30 &
hold=$!
sleep 3
t0=$(ticks)
sleep 5
t1=$(ticks)
echo "routerd rss while holding: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
echo "routerd cpu from 3 s to 8 s of holding: $(( (t1 - t0) * 100 / $(getconf CLK_TCK) / 5 ))% of a core"
wait $hold
