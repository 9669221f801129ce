#!/bin/sh
# What the SDKs add per route call, and what OTLP export costs routerd.
#
# 1. Per-call latency of POST /v1/route (deploy/examples/request.json),
#    closed loop, one keep-alive connection, N calls (default 5000) after
#    500 warm-up calls: Python raw http.client vs sdk/python Client.route,
#    then Node raw fetch vs sdk/typescript Client.route; alternated over
#    ROUNDS rounds (default 3). Mean, p50 and p99 per call in microseconds.
# 2. routerd decisions/s with --otlp-endpoint off and on, same run: two
#    routerds of one cluster (one exporting to a local OTLP/HTTP receiver),
#    build/bench/route_rate at RATE (default 20000) req/s for SECS (5) s
#    over 16 connections against each, alternated twice.
#
# Needs `make`, `make build/bench/route_rate`, `npm run build` in
# sdk/typescript. Env: BUILD, N, ROUNDS, RATE, SECS.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
N=${N:-5000}
ROUNDS=${ROUNDS:-3}
RATE=${RATE:-20000}
SECS=${SECS:-5}
. "$ROOT/tests/lib/cluster.sh"
GEN=$ROOT/$BUILD/bench/route_rate
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
for b in "$GEN" "$CONTROLD" "$ROUTERD" "$AF" "$ROOT/sdk/typescript/dist/index.js"; do
	[ -e "$b" ] || { echo "sdk bench: $b missing (see the header)" >&2; exit 1; }
done

cl_init sdk-bench 1
cl_start 1 --log-level warn
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
sed 's/max_inflight: [0-9]*/max_inflight: 1000000000/' "$EXAMPLES/policy.yaml" \
	>"$CL_DIR/policy-bench.yaml"
h=$(cl_af policy apply -f "$CL_DIR/policy-bench.yaml" -o json | jq -r .hash)
P=$((CL_BASE + 901))
PO=$((CL_BASE + 902))
RP=$((CL_BASE + 903))
"$PY" "$ROOT/tests/lib/otlp_receiver.py" $RP >/dev/null 2>&1 &
echo $! >"$CL_DIR/pid-recv"
cl_routerd_start plain $P --log-level warn
cl_routerd_start otlp $PO --log-level warn --otlp-endpoint "http://127.0.0.1:$RP"
cl_wait_route_hash $P "$h" >/dev/null
cl_wait_route_hash $PO "$h" >/dev/null

cat >"$CL_DIR/py.py" <<'PYEOF'
import http.client, json, statistics, sys, time
sys.path.insert(0, sys.argv[4])
from af_sdk import Client
port, n, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
req = json.load(open(sys.argv[5]))
body = json.dumps(req).encode()
fields = {k: v for k, v in req.items() if k not in ("workflow_id", "tenant", "class")}

def raw():
    c = http.client.HTTPConnection("127.0.0.1", port)
    def call():
        c.request("POST", "/v1/route", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        json.loads(r.read())
    return call

def sdk():
    af = Client(f"http://127.0.0.1:{port}")
    return lambda: af.route(req["workflow_id"], req["tenant"], req["class"], **fields)

res = {"raw http.client": [], "af_sdk Client.route": []}
for _ in range(rounds):
    for name, mk in (("raw http.client", raw), ("af_sdk Client.route", sdk)):
        call = mk()
        for _ in range(500):
            call()
        for _ in range(n):
            t = time.perf_counter_ns()
            call()
            res[name].append((time.perf_counter_ns() - t) / 1000)
for name, v in res.items():
    v.sort()
    print(f"| Python {name} | {statistics.fmean(v):.1f} | {v[len(v) // 2]:.1f} | {v[int(len(v) * 0.99)]:.1f} |")
PYEOF
cat >"$CL_DIR/node.mjs" <<'JSEOF'
import { readFileSync } from "node:fs";
const [port, n, rounds, dist, reqFile] = process.argv.slice(2);
const { Client } = await import(dist);
const req = JSON.parse(readFileSync(reqFile, "utf8"));
const url = `http://127.0.0.1:${port}`;
const raw = () => async () => {
  const r = await fetch(url + "/v1/route", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(req) });
  await r.json();
};
const sdk = () => { const af = new Client({ url }); return () => af.route(req); };
const res = { "raw fetch": [], "af-sdk Client.route": [] };
for (let r = 0; r < Number(rounds); r++) {
  for (const [name, mk] of [["raw fetch", raw], ["af-sdk Client.route", sdk]]) {
    const call = mk();
    for (let i = 0; i < 500; i++) await call();
    for (let i = 0; i < Number(n); i++) {
      const t = process.hrtime.bigint();
      await call();
      res[name].push(Number(process.hrtime.bigint() - t) / 1000);
    }
  }
}
for (const [name, v] of Object.entries(res)) {
  v.sort((a, b) => a - b);
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  console.log(`| Node ${name} | ${mean.toFixed(1)} | ${v[v.length >> 1].toFixed(1)} | ${v[Math.floor(v.length * 0.99)].toFixed(1)} |`);
}
JSEOF
echo "# $(nproc) CPUs; $ROUNDS rounds x $N calls each, closed loop, one keep-alive connection; microseconds per call"
echo "| client | mean | p50 | p99 |"
echo "|---|---|---|---|"
"$PY" "$CL_DIR/py.py" $P "$N" "$ROUNDS" "$ROOT/sdk/python/src" "$EXAMPLES/request.json"
node "$CL_DIR/node.mjs" $P "$N" "$ROUNDS" "$ROOT/sdk/typescript/dist/index.js" "$EXAMPLES/request.json"

echo
echo "# route_rate -c16 -r$RATE -d$SECS against each routerd, alternated twice; latency ms"
echo "| routerd | offered req/s | achieved req/s | errors | p50 | p90 | p99 | p99.9 | max |"
echo "|---|---|---|---|---|---|---|---|---|"
for _ in 1 2; do
	for t in "plain:$P:OTLP off" "otlp:$PO:OTLP on"; do
		port=$(echo "$t" | cut -d: -f2)
		"$GEN" -c 16 -r "$RATE" -d 1 -b "$EXAMPLES/request.json" "127.0.0.1:$port" >/dev/null
		"$GEN" -c 16 -r "$RATE" -d "$SECS" -l "$(echo "$t" | cut -d: -f3)" \
			-b "$EXAMPLES/request.json" "127.0.0.1:$port" 2>/dev/null
	done
done
echo "# OTLP routerd: $(curl -s "http://127.0.0.1:$PO/metrics" | grep -E '^af_routerd_otlp_(spans|exports)' | tr '\n' ' ')"
