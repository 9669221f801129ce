#!/bin/sh
# Membership and leadership: transfer leadership to a chosen node, add a
# fourth node (started with --join) that catches up and votes, move the
# leadership to it, then remove an old node; writes work throughout.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init membership 3
for i in 1 2 3; do cl_start $i; done
leader=$(cl_wait_leader)
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
cl_af policy apply -f "$EXAMPLES/policy.yaml" >/dev/null

target=$(( leader % 3 + 1 ))
cl_af cluster transfer-leader --to $target | grep -q "transferred" ||
	fail "transfer-leader"
[ "$(cl_wait_leader)" = $target ] || fail "leader is not node $target"
note "leadership moved from $leader to $target"

# The cluster file grows a fourth node; existing nodes keep their config.
cl_write_file "$CL_DIR/cluster4.yaml" 4 ""
CL_FILE=$CL_DIR/cluster4.yaml
cl_start 4 --join
p=$((CL_BASE + 400))
cl_af cluster add 4 --raft 127.0.0.1:$((p + 1)) --api "$(cl_api 4)" \
	--pub tcp://127.0.0.1:$((p + 3)) | grep -q "added" || fail "add"
cl_wait_converged 4
"$AF" --stale --endpoints "$(cl_api 4)" policy history -o json | jq .revisions |
	jq -e 'length == 1' >/dev/null || fail "node 4 did not catch up"
cl_af cluster transfer-leader --to 4 >/dev/null || fail "transfer to 4"
[ "$(cl_wait_leader)" = 4 ] || fail "node 4 did not become leader"
note "node 4 joined and leads"

cl_af cluster remove 1 | grep -q "removed" || fail "remove"
cl_stop 1 TERM
sed 's/max_fallbacks: 3/max_fallbacks: 2/' "$EXAMPLES/policy.yaml" >"$CL_DIR/p2.yaml"
cl_af policy apply -f "$CL_DIR/p2.yaml" -o json | jq -e '.revision == 2' \
	>/dev/null || fail "write after remove"
# With node 1 gone for good, the remaining three still have a majority
# when one more fails.
cl_stop 2 KILL
cl_af --timeout 20s policy rollback -o json | jq -e '.revision == 1' \
	>/dev/null || fail "write with 2 of 3 voters"
note ok
