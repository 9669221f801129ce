#!/bin/sh
# af's --timeout bounds the whole call, and a paused leader costs about one
# election, not the whole timeout:
# - against a paused (SIGSTOP) node, which accepts TCP and never answers,
#   `af --timeout 300ms` returns (exit 3) within a generous bound;
# - right after the leader is SIGKILLed, every `af --timeout 300ms` write
#   returns within a generous bound;
# - with the leader paused for 6 s, a write issued meanwhile is
#   acknowledged by the new leader well before the pause ends.
. "$(dirname "$0")/../lib/cluster.sh"

ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

cl_init rpc_deadline
for i in 1 2 3; do cl_start $i; done
leader=$(cl_wait_leader)
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
cl_af policy apply -f "$EXAMPLES/policy.yaml" >/dev/null

# A paused node: the kernel completes the TCP handshake, nobody answers.
f=$((leader % 3 + 1))
kill -STOP "$(cl_pid $f)"
t0=$(date +%s%N)
rc=0
"$AF" --endpoints "$(cl_api $f)" --timeout 300ms policy apply \
	-f "$EXAMPLES/policy.yaml" >/dev/null 2>"$CL_DIR/err" || rc=$?
ms=$(ms_since "$t0")
kill -CONT "$(cl_pid $f)"
note "paused node: af --timeout 300ms returned $rc after ${ms} ms"
[ "$rc" = 3 ] || fail "exit $rc against a paused node: $(cat "$CL_DIR/err")"
[ "$ms" -lt 2000 ] || fail "af --timeout 300ms took ${ms} ms on a paused node"
cl_wait_converged 3

# The leader killed: short-timeout writes right after, each bounded.
cl_stop "$leader" KILL
worst=0
for k in $(seq 1 15); do
	sed "s/^name: prod/name: prod-k$k/" "$EXAMPLES/policy.yaml" >"$CL_DIR/p.yaml"
	t0=$(date +%s%N)
	cl_af --timeout 300ms policy apply -f "$CL_DIR/p.yaml" >/dev/null 2>&1 || true
	ms=$(ms_since "$t0")
	[ "$ms" -gt "$worst" ] && worst=$ms
	[ "$ms" -lt 2000 ] || fail "write $k after killing the leader took ${ms} ms"
done
note "after killing leader $leader: 15 writes with --timeout 300ms, slowest ${worst} ms"
cl_start "$leader"
cl_wait_converged 3

# The leader paused for 6 s: a write goes through the new leader.
leader=$(cl_wait_leader)
lpid=$(cl_pid "$leader")
kill -STOP "$lpid"
t0=$(date +%s%N)
sed "s/^name: prod/name: prod-paused/" "$EXAMPLES/policy.yaml" >"$CL_DIR/p.yaml"
rc=0
cl_af --timeout 20s policy apply -f "$CL_DIR/p.yaml" -o json \
	>"$CL_DIR/out" 2>"$CL_DIR/err" || rc=$?
ms=$(ms_since "$t0")
paused_ms=$ms
# Resume only after 6 s, whatever happened.
[ "$ms" -lt 6000 ] && sleep "$(echo "scale=3; (6000 - $ms) / 1000" | bc)"
kill -CONT "$lpid"
note "leader $leader paused: write acknowledged after ${paused_ms} ms (rc $rc)"
[ "$rc" = 0 ] || fail "write during the pause failed: $(cat "$CL_DIR/err")"
[ "$paused_ms" -lt 5000 ] ||
	fail "write during a 6 s pause took ${paused_ms} ms (waited for the paused leader)"
jq -e '.revision > 0' "$CL_DIR/out" >/dev/null || fail "answer: $(cat "$CL_DIR/out")"
cl_wait_converged 3
note ok
