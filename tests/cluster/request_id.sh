#!/bin/sh
# Idempotent writes, client side: af sends one request id per logical
# write (32 hex digits) and the same id on every retry; another write
# gets another id; routerd's writes carry ids too. A stand-in endpoint
# answers UNAVAILABLE, so clients retry.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init request_id 1
TOOL="$ROOT/$BUILD/tests/tools/rid_echo"
url=$(cl_api 1) # the cluster file's only node: the stand-in
"$TOOL" "$url" 30 >"$CL_DIR/ids" 2>"$CL_DIR/tool.err" &
echo $! >"$CL_DIR/pidt"
sleep 0.3
for k in 1 2; do
	"$AF" --endpoints "$url" --timeout 1500ms budget set "t$k" --hard 5 \
		--period day >/dev/null 2>&1 && fail "write $k succeeded against UNAVAILABLE"
	cp "$CL_DIR/ids" "$CL_DIR/ids.$k"
done
n1=$(grep -c '^propose' "$CL_DIR/ids.1")
first=$(grep '^propose' "$CL_DIR/ids.1" | awk '{ print $2 }' | sort -u)
second=$(grep '^propose' "$CL_DIR/ids.2" | tail -n +$((n1 + 1)) | awk '{ print $2 }' | sort -u)
note "write 1: $n1 attempts, ids: $first; write 2 ids: $second"
[ "$n1" -ge 2 ] || fail "af did not retry ($n1 attempts)"
[ "$(echo "$first" | wc -l)" = 1 ] || fail "retries of one write used several ids: $first"
echo "$first" | grep -Eq '^[0-9a-f]{32}$' || fail "request id \"$first\" is not 32 hex digits"
[ "$(echo "$second" | wc -l)" = 1 ] && [ -n "$second" ] || fail "write 2 ids: $second"
[ "$first" != "$second" ] || fail "two writes shared the request id $first"

# routerd: its fleet report is a write with an id.
n0=$(wc -l <"$CL_DIR/ids")
cl_routerd_start r1 $((CL_BASE + 901))
deadline=$(($(date +%s) + 10))
while :; do
	tail -n +$((n0 + 1)) "$CL_DIR/ids" >"$CL_DIR/ids.r"
	grep -Eq '^propose [0-9a-f]{32}$' "$CL_DIR/ids.r" &&
		grep -q '^other' "$CL_DIR/ids.r" && break
	[ "$(date +%s)" -lt "$deadline" ] ||
		fail "routerd wrote no request id: $(tail -3 "$CL_DIR/ids.r")"
	sleep 0.2
done
! grep -q '^propose -$' "$CL_DIR/ids.r" || fail "a routerd write without a request id"
note "routerd: $(grep -c '^propose' "$CL_DIR/ids.r") writes, all with ids"
note ok
