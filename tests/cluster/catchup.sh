#!/bin/sh
# A stopped node catches up when it returns: by log replay for a short
# absence, and by snapshot install once the leader has compacted its log
# (snapshot_threshold 32). Its state then equals the leader's.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init catchup 3 "  snapshot_threshold: 32"
for i in 1 2 3; do cl_start $i; done
leader=$(cl_wait_leader)
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
victim=$(( leader % 3 + 1 ))

apply_n() {
	for k in $(seq "$1" "$2"); do
		sed "s/^name: prod/name: prod-$k/" "$EXAMPLES/policy.yaml" >"$CL_DIR/p.yaml"
		cl_af policy apply -f "$CL_DIR/p.yaml" >/dev/null || fail "apply $k"
	done
}

same_state() {
	a=$("$AF" --stale --endpoints "$(cl_api "$1")" policy history -o json | jq .revisions)
	b=$("$AF" --stale --endpoints "$(cl_api "$2")" policy history -o json | jq .revisions)
	[ "$a" = "$b" ] || fail "node $1 and node $2 differ"
	a=$("$AF" --stale --endpoints "$(cl_api "$1")" model list -o json)
	b=$("$AF" --stale --endpoints "$(cl_api "$2")" model list -o json)
	[ "$a" = "$b" ] || fail "node $1 and node $2 models differ"
}

# Short absence: log replay.
cl_stop "$victim" TERM
apply_n 1 5
cl_start "$victim"
cl_wait_converged 3
same_state "$leader" "$victim"
note "caught up by log"

# Long absence: the leader snapshots and compacts past what the victim has.
cl_stop "$victim" KILL
apply_n 6 90
ls "$CL_DIR/data/node$leader/raft" | grep -q '^snapshot-' ||
	fail "leader took no snapshot"
restored0=$(cl_log_count "$CL_DIR/node$victim.log" event=snapshot_restored)
t0=$(date +%s%N)
cl_start "$victim"
cl_wait_converged 3
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
same_state "$leader" "$victim"
# libraft drops an InstallSnapshot that arrives while the restarted node
# takes its own snapshot; the leader resends after
# install_snapshot_timeout_ms (2 s here, 30 s in libraft by default).
[ $ms -lt 15000 ] || fail "the victim took ${ms} ms to catch up by snapshot"
note "caught up by snapshot in ${ms} ms"
[ "$("$AF" --stale --endpoints "$(cl_api "$victim")" policy history -o json | jq .revisions |
	jq length)" = 90 ] || fail "victim does not have 90 revisions"
# The victim held no snapshot of its own (fewer than 32 entries when it
# stopped), so a restore in its log is the leader's snapshot installed.
restored=$(cl_log_count "$CL_DIR/node$victim.log" event=snapshot_restored)
[ "$restored" -gt "$restored0" ] ||
	fail "victim caught up without installing the leader's snapshot"
note "caught up after compaction (snapshot installed)"

# Restarting a node replays snapshot + log onto its store: same state.
cl_stop "$leader" TERM
cl_start "$leader"
cl_wait_leader >/dev/null
cl_wait_converged 3
same_state "$leader" "$victim"
note ok
