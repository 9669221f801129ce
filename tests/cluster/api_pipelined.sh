#!/bin/sh
# Replies that queue behind one another on one connection: a client with
# 32 contexts on one socket (as routerd keeps several calls out on one
# connection) sends reads and writes all at once. Every request is
# answered and ok, some replies did wait behind another
# (af_api_replies_queued_total), the node serves other clients meanwhile
# and afterwards, and a node stopped with replies queued exits cleanly
# (no leak, no use after free under SANITIZE=1).
. "$(dirname "$0")/../lib/cluster.sh"

RAW="$ROOT/$BUILD/tests/tools/afraw"
[ -x "$RAW" ] || fail "$RAW missing: make $BUILD/tests/tools/afraw"

cl_init api-pipelined
for i in 1 2 3; do cl_start $i; done
leader=$(cl_wait_leader)
api=$(cl_api "$leader")
queued() {
	curl -s "http://$(cl_http "$1")/metrics" |
		awk '/^af_api_replies_queued_total/ { print $2 }'
}
[ "$(queued "$leader")" = 0 ] || fail "replies queued before any load"

# --- reads: 32 contexts x 300 status requests on one connection
out=$("$RAW" "$api" pipeline 32 300 status) || fail "pipelined reads: $out"
[ "$out" = "replies=9600 ok=9600" ] || fail "pipelined reads: $out"
q=$(queued "$leader")
note "reads: $out, $q replies queued behind another"
[ "$q" -gt 0 ] || fail "no reply queued behind another: the path is untested"

# --- writes: 16 contexts x 40 usage reports (each a Raft entry), while
# another client reads
"$RAW" "$api" pipeline 16 40 usage 1 1000 >"$CL_DIR/w.out" &
wpid=$!
for _ in 1 2 3 4 5; do
	cl_af cluster status >/dev/null || fail "status during the pipelined writes"
done
wait $wpid || fail "pipelined writes: $(cat "$CL_DIR/w.out")"
[ "$(cat "$CL_DIR/w.out")" = "replies=640 ok=640" ] ||
	fail "pipelined writes: $(cat "$CL_DIR/w.out")"
out=$("$RAW" "$api" status)
echo "$out" | grep -q 'role=leader' || fail "after the load: $out"

# --- a node stopped while replies are queued exits 0 and restarts
f=$(((leader % 3) + 1))
"$RAW" "$(cl_api "$f")" pipeline 64 100000 status >/dev/null 2>&1 &
lpid=$!
cl_wait_json "queued $f" ". > 0" 30 >/dev/null ||
	fail "node $f: no reply queued under load"
cl_stop "$f"
rc=0
cl_wait_exit "$f" || rc=$?
kill $lpid 2>/dev/null || true
wait $lpid 2>/dev/null || true
[ $rc = 0 ] || fail "node $f exited $rc when stopped with replies queued"
cl_start "$f"
cl_wait_converged >/dev/null || fail "node $f did not rejoin"
note "api_pipelined: ok (all answered, the queued path taken, a clean stop)"
