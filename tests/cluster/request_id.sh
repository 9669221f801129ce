#!/bin/sh
# Idempotent writes, client side: af sends one request id per logical
# write (32 hex digits) and the same id on every retry; another write
# gets another id. A stand-in endpoint answers UNAVAILABLE, so af retries.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init request_id 1
TOOL="$ROOT/$BUILD/tests/tools/rid_echo"
url="tcp://127.0.0.1:$((CL_BASE + 902))"
"$TOOL" "$url" 20 >"$CL_DIR/ids" 2>"$CL_DIR/tool.err" &
echo $! >"$CL_DIR/pidt"
sleep 0.3
for k in 1 2; do
	"$AF" --endpoints "$url" --timeout 1500ms budget set "t$k" --hard 5 \
		--period day >/dev/null 2>&1 && fail "write $k succeeded against UNAVAILABLE"
	cp "$CL_DIR/ids" "$CL_DIR/ids.$k"
done
kill "$(cat "$CL_DIR/pidt")" 2>/dev/null || true
n1=$(grep -c '^propose' "$CL_DIR/ids.1")
first=$(grep '^propose' "$CL_DIR/ids.1" | awk '{ print $2 }' | sort -u)
second=$(grep '^propose' "$CL_DIR/ids.2" | tail -n +$((n1 + 1)) | awk '{ print $2 }' | sort -u)
note "write 1: $n1 attempts, ids: $first; write 2 ids: $second"
[ "$n1" -ge 2 ] || fail "af did not retry ($n1 attempts)"
[ "$(echo "$first" | wc -l)" = 1 ] || fail "retries of one write used several ids: $first"
echo "$first" | grep -Eq '^[0-9a-f]{32}$' || fail "request id \"$first\" is not 32 hex digits"
[ "$(echo "$second" | wc -l)" = 1 ] && [ -n "$second" ] || fail "write 2 ids: $second"
[ "$first" != "$second" ] || fail "two writes shared the request id $first"
note ok
