#!/bin/sh
# routerd's HTTP API without any controld: flags, health before a policy
# exists (503 NO_POLICY, /healthz 200, /readyz 503, status degraded),
# request refusals (400, 422, 413, 404, 405), reports, garbage on the
# socket, metrics, clean exit on SIGTERM. (Routing with a policy synced
# from a cluster: tests/cluster/routerd_sync.sh.)
. "$(dirname "$0")/../lib/cluster.sh"

cl_init routerd_http 3
PORT=$((CL_BASE + 80))
port_free $PORT || fail "port $PORT busy"
URL=http://127.0.0.1:$PORT

# Flags: bad ones exit 2 with one line; a bad cluster file exits 1 with
# file:line:col.
set +e
"$ROUTERD" --bogus >"$CL_DIR/out" 2>&1
rc=$?
set -e
[ $rc = 2 ] || fail "bad flag exit $rc"
[ "$(wc -l <"$CL_DIR/out")" = 1 ] || fail "bad flag output: $(cat "$CL_DIR/out")"
set +e
"$ROUTERD" -c "$CL_FILE" >"$CL_DIR/out" 2>&1
rc=$?
set -e
[ $rc = 2 ] || fail "missing --listen exit $rc"
printf 'cluster: x\nnodes:\n  - id: 1\n    bogus: 1\n' >"$CL_DIR/bad.yaml"
set +e
"$ROUTERD" -c "$CL_DIR/bad.yaml" --listen 127.0.0.1:$PORT >"$CL_DIR/out" 2>&1
rc=$?
set -e
[ $rc = 1 ] || fail "bad cluster file exit $rc"
grep -q 'bad.yaml:[0-9]*:[0-9]*:' "$CL_DIR/out" || fail "no position: $(cat "$CL_DIR/out")"
[ "$(wc -l <"$CL_DIR/out")" = 1 ] || fail "bad file output: $(cat "$CL_DIR/out")"
"$ROUTERD" --version | grep -q '^routerd ' || fail "--version"
"$ROUTERD" --help | grep -q -- '--listen' || fail "--help"

# routerd with no controld running (pid file "pidr" so cleanup stops it).
"$ROUTERD" -c "$CL_FILE" --listen 127.0.0.1:$PORT --id rt-1 \
	>>"$CL_DIR/routerd.log" 2>&1 &
echo $! >"$CL_DIR/pidr"
for _ in $(seq 1 100); do
	curl -s -o /dev/null "$URL/healthz" && break
	sleep 0.1
done

# code METHOD PATH [curl args...]: prints the status; the body lands in
# $CL_DIR/body.
code() {
	m=$1
	p=$2
	shift 2
	curl -s -m 5 -o "$CL_DIR/body" -w '%{http_code}' -X "$m" "$URL$p" "$@"
}
errcode() { jq -r .error.code "$CL_DIR/body"; }
errfield() { jq -r '.error.field // ""' "$CL_DIR/body"; }

[ "$(code GET /healthz)" = 200 ] || fail "healthz"
[ "$(code GET /readyz)" = 503 ] || fail "readyz before a policy"
[ "$(code POST /v1/route --data-binary @"$EXAMPLES/request.json")" = 503 ] ||
	fail "route before a policy"
[ "$(errcode)" = NO_POLICY ] || fail "503 body: $(cat "$CL_DIR/body")"
[ "$(code GET /v1/status)" = 200 ] || fail "status"
jq -e '.id == "rt-1" and .state == "degraded" and .ready == false and
	.controld.connected == false' "$CL_DIR/body" >/dev/null ||
	fail "status body: $(cat "$CL_DIR/body")"

# Refusals are checked before the policy: they need none.
[ "$(code POST /v1/route -d '{"workflow_id": ')" = 400 ] || fail "malformed"
[ "$(errcode)" = MALFORMED_JSON ] || fail "malformed body"
[ "$(code POST /v1/route -d '{"tenant":"t","class":"c"}')" = 400 ] ||
	fail "missing field"
[ "$(errcode)" = MISSING_FIELD ] && [ "$(errfield)" = workflow_id ] ||
	fail "missing body: $(cat "$CL_DIR/body")"
[ "$(code POST /v1/route -d '{"workflow_id":"w","tenant":"t","class":"c","fanout":"x"}')" = 422 ] ||
	fail "wrong type"
[ "$(errcode)" = WRONG_TYPE ] && [ "$(errfield)" = fanout ] ||
	fail "wrong type body: $(cat "$CL_DIR/body")"
head -c 70000 /dev/zero | tr '\0' ' ' >"$CL_DIR/big"
[ "$(code POST /v1/route --data-binary @"$CL_DIR/big")" = 413 ] || fail "413"
[ "$(errcode)" = BODY_TOO_LARGE ] || fail "413 body"
[ "$(code GET /v1/route)" = 405 ] || fail "405"
[ "$(code POST /healthz)" = 405 ] || fail "405 healthz"
[ "$(code GET /nope)" = 404 ] || fail "404"

# Reports: a decision routerd does not know is accepted only with tenant,
# class and revision; ok required and a boolean; every number bounded.
[ "$(code POST /v1/report -d '{"decision_id":"rt-1-00","model":"m","region":"r","ok":false,"latency_ms":12}')" = 422 ] ||
	fail "report of an unknown decision accepted"
[ "$(errcode)" = UNKNOWN_DECISION ] && [ "$(errfield)" = decision_id ] ||
	fail "unknown decision body: $(cat "$CL_DIR/body")"
[ "$(code POST /v1/report -d '{"decision_id":"rt-1-00","tenant":"t","class":"c","revision":1,"model":"m","region":"r","ok":false,"latency_ms":12}')" = 202 ] ||
	fail "unmatched report with its attribution: $(cat "$CL_DIR/body")"
[ "$(code POST /v1/report -d '{"model":"m"}')" = 400 ] || fail "report without ok"
[ "$(errfield)" = ok ] || fail "report field"
[ "$(code POST /v1/report -d '{"ok":null,"tenant":"t","class":"c","revision":1}')" = 422 ] ||
	fail "ok null accepted"
[ "$(errcode)" = WRONG_TYPE ] && [ "$(errfield)" = ok ] || fail "ok null body"
[ "$(code POST /v1/report -d '{"ok":true,"latency_ms":"slow"}')" = 422 ] ||
	fail "report wrong type"
for bad in '"cost_usd":1e300' '"cost_usd":-1' '"cost_usd":2000000' \
	'"latency_ms":999999999999' '"input_tokens":99999999999' \
	'"output_tokens":-5'; do
	f=$(echo "$bad" | sed 's/^"\([a-z_]*\)".*/\1/')
	[ "$(code POST /v1/report -d "{\"ok\":true,\"tenant\":\"t\",\"class\":\"c\",\"revision\":1,$bad}")" = 422 ] ||
		fail "report with $bad accepted"
	[ "$(errcode)" = INVALID_FIELD ] && [ "$(errfield)" = "$f" ] ||
		fail "report with $bad: $(cat "$CL_DIR/body")"
done

# A huge Content-Length is refused at once, nothing read; a query string of
# 2,000 parameters is answered (routerd takes none).
t0=$(date +%s%N)
[ "$(code POST /v1/route -H 'Content-Length: 99999999999' -d '')" = 413 ] ||
	fail "huge Content-Length: $(cat "$CL_DIR/body")"
[ "$(errcode)" = BODY_TOO_LARGE ] || fail "huge Content-Length body"
[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 3000 ] || fail "413 not up front"
q=$(awk 'BEGIN { for (i = 0; i < 2000; i++) printf "%sa%d=1", (i ? "&" : ""), i }')
[ "$(code GET "/healthz?$q")" = 200 ] || fail "2,000 query parameters"
[ "$(code GET "/v1/status?a=1&b=2")" = 200 ] || fail "status with a query"

# Garbage on the socket, a half-sent request, then still serving.
# (bash for /dev/tcp; the suite runs scenarios with sh.)
timeout 10 bash -c '
exec 3<>/dev/tcp/127.0.0.1/$1
printf "GARBAGE\r\n\r\n" >&3
cat <&3 >/dev/null
exec 3<>/dev/tcp/127.0.0.1/$1
printf "POST /v1/route HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"wo" >&3
exec 3>&-
exec 3<>/dev/tcp/127.0.0.1/$1
printf "\000\377\001binary\r\n\r\n" >&3
exec 3>&-
' sh $PORT || fail "garbage client"
[ "$(code GET /healthz)" = 200 ] || fail "not serving after garbage"

# Keep-alive: many requests over one connection.
n=$(curl -s -m 10 -o /dev/null -w '%{num_connects}\n' \
	"$URL/healthz" "$URL/healthz" "$URL/healthz" | awk '{s += $1} END {print s}')
[ "$n" = 1 ] || fail "keep-alive: $n connections for 3 requests"

# Metrics count what happened.
curl -s -m 5 "$URL/metrics" >"$CL_DIR/metrics"
grep -q 'af_routerd_decisions_total{outcome="error",code="NO_POLICY",tier="",cohort=""} 1' \
	"$CL_DIR/metrics" || fail "metrics: $(head -20 "$CL_DIR/metrics")"
grep -q '^af_routerd_view_loaded 0$' "$CL_DIR/metrics" || fail "view_loaded"
grep -q '^af_routerd_reports_total 1$' "$CL_DIR/metrics" || fail "reports_total"
grep -q '^af_routerd_reports_unmatched_total 1$' "$CL_DIR/metrics" ||
	fail "reports_unmatched_total"
grep -q '^af_routerd_decision_seconds_count' "$CL_DIR/metrics" ||
	fail "latency histogram"

# Clean exit on SIGTERM.
pid=$(cat "$CL_DIR/pidr")
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ $rc = 0 ] || fail "exit $rc after SIGTERM"
grep -q 'event=stopped' "$CL_DIR/routerd.log" || fail "no stop event logged"
rm -f "$CL_DIR/pidr"
note "routerd_http ok"
