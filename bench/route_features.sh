#!/bin/sh
# What routerd's optional outputs cost in decisions per second: the same
# load against three routerds of one bundle, in turns, in the same run:
#   off    no decision log, no trace export
#   dlog   --decision-log DIR (every decision logged: the example bundle
#          has no decision_log section, so every class samples 1.0)
#   otlp   --otlp-endpoint to a local receiver (tests/lib/otlp_receiver.py),
#          one span per decision
# wrk, keep-alive, CONNS connections, POST /v1/route of the example request
# with the lane caps lifted (no reports are sent). Each round runs the three
# one after another; a round's ratios (dlog/off, otlp/off) are the figures
# that count, since the machine's load moves between rounds. After the
# rounds: records and bytes per decision written by the log, records the
# log dropped (queue full), spans exported and dropped, and each routerd's
# CPU time per decision over all rounds (its own threads included; the
# ratio off/feature is the throughput ratio a machine with cores to spare
# for the load generator would see).
#
# Env: BUILD, DURATION (wrk -d, default 5s), ROUNDS (3), CONNS (16),
# THREADS (wrk, 2), HTTP_THREADS (routerd polling threads, 2). Ports come
# from tests/lib/cluster.sh (AF_PORT_BASE to pin them). Installs wrk with
# apt-get when missing and root.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-16}
THREADS=${THREADS:-2}
. "$ROOT/tests/lib/cluster.sh"
if ! command -v wrk >/dev/null; then
	[ "$(id -u)" = 0 ] || { echo "route_features: install wrk" >&2; exit 1; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends wrk >/dev/null
fi
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

cl_init route-features 3
for id in 1 2 3; do cl_start $id --log-level warn; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
sed 's/max_inflight: [0-9]*/max_inflight: 1000000000/' "$EXAMPLES/policy.yaml" \
	>"$CL_DIR/policy-bench.yaml"
h=$(cl_af policy apply -f "$CL_DIR/policy-bench.yaml" -o json | jq -r .hash)

P_OFF=$((CL_BASE + 901))
P_DLOG=$((CL_BASE + 902))
P_OTLP=$((CL_BASE + 903))
P_RECV=$((CL_BASE + 904))
"$PY" "$ROOT/tests/lib/otlp_receiver.py" $P_RECV "$CL_DIR" >"$CL_DIR/recv.log" 2>&1 &
echo $! >"$CL_DIR/pid-recv"
export AF_ROUTERD_HTTP_THREADS=${HTTP_THREADS:-2}
cl_routerd_start off $P_OFF --log-level warn
cl_routerd_start dlog $P_DLOG --log-level warn --decision-log "$CL_DIR/dlog"
cl_routerd_start otlp $P_OTLP --log-level warn \
	--otlp-endpoint "http://127.0.0.1:$P_RECV"
for p in $P_OFF $P_DLOG $P_OTLP; do cl_wait_route_hash $p "$h" >/dev/null; done

cat >"$CL_DIR/route.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$EXAMPLES/request.json")
wrk.body = f:read("*a")
f:close()
EOF

# cpu_ticks NAME: user + system clock ticks routerd NAME has used.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$(cat "$CL_DIR/pidr-$1")/stat"; }
# rps PORT NAME: requests/s of one wrk run against routerd NAME on PORT;
# adds the run's requests and routerd CPU ticks to $CL_DIR/cpu-NAME.
rps() {
	t0=$(cpu_ticks "$2")
	wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s "$CL_DIR/route.lua" \
		"http://127.0.0.1:$1/v1/route" >"$CL_DIR/wrk.out"
	t1=$(cpu_ticks "$2")
	echo "$(awk '/requests in/ { print $1 }' "$CL_DIR/wrk.out") $((t1 - t0))" \
		>>"$CL_DIR/cpu-$2"
	if grep -q 'Non-2xx' "$CL_DIR/wrk.out"; then
		echo "route_features: non-2xx answers from port $1" >&2
		cat "$CL_DIR/wrk.out" >&2
		curl -s -i -X POST --data-binary "@$EXAMPLES/request.json" "http://127.0.0.1:$1/v1/route" >&2
		exit 1
	fi
	awk '/Requests\/sec/ {print $2}' "$CL_DIR/wrk.out"
}

echo "round  off req/s  dlog req/s  otlp req/s  dlog/off  otlp/off"
r=1
while [ $r -le "$ROUNDS" ]; do
	a=$(rps $P_OFF off)
	b=$(rps $P_DLOG dlog)
	c=$(rps $P_OTLP otlp)
	awk -v r=$r -v a="$a" -v b="$b" -v c="$c" 'BEGIN {
		printf "%5d %10.0f %11.0f %11.0f %8.2fx %8.2fx\n", r, a, b, c, b / a, c / a }' |
		tee -a "$CL_DIR/rounds"
	r=$((r + 1))
done
# median COLUMN: the median over the rounds of that ratio column.
median() {
	sed 's/x//g' "$CL_DIR/rounds" | awk -v c="$1" '{ print $c }' | sort -n |
		awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.2fx", m }'
}
echo "median over $ROUNDS rounds: dlog/off $(median 5), otlp/off $(median 6)"
# us NAME: routerd NAME's CPU microseconds per decision over every round
# (its writer and exporter threads included): steadier than req/s when
# the machine's load moves.
hz=$(getconf CLK_TCK)
us() { awk -v hz="$hz" '{ n += $1; t += $2 } END { printf "%.2f", t * 1e6 / hz / n }' "$CL_DIR/cpu-$1"; }
u_off=$(us off); u_dlog=$(us dlog); u_otlp=$(us otlp)
awk -v a="$u_off" -v b="$u_dlog" -v c="$u_otlp" 'BEGIN {
	printf "routerd CPU per decision: off %.2f us, dlog %.2f us (%.2fx of off), otlp %.2f us (%.2fx)\n",
	    a, b, a / b, c, a / c }'
sleep 1
rec=$(cl_routerd_metric $P_DLOG af_routerd_decision_log_records_total)
byt=$(cl_routerd_metric $P_DLOG af_routerd_decision_log_bytes_total)
drop=$(cl_routerd_metric $P_DLOG af_routerd_decision_log_dropped_total)
dec=$(cl_routerd_metric $P_DLOG af_routerd_decision_seconds_count)
exp=$(cl_routerd_metric $P_OTLP af_routerd_otlp_spans_exported_total)
sdrop=$(cl_routerd_metric $P_OTLP af_routerd_otlp_spans_dropped_total)
odec=$(cl_routerd_metric $P_OTLP af_routerd_decision_seconds_count)
awk -v rec="$rec" -v byt="$byt" -v drop="$drop" -v dec="$dec" 'BEGIN {
	printf "decision log: %d decisions, %d records written (%.0f bytes each), %d dropped\n",
	    dec, rec, (rec > 0 ? byt / rec : 0), drop }'
echo "trace export: $odec decisions, $exp spans exported, $sdrop dropped"
