#!/bin/sh
# Snapshots by size as well as by count: with `snapshot_max_log_mb: 1` and
# the default entry threshold (65536, far above this run), 40 revisions of a
# ~60 KB bundle (2.4 MB of entries) make every node snapshot and compact its
# log by size, with a smaller trailing tail; a restarted node starts from
# that snapshot and its log, and holds every revision.
. "$(dirname "$0")/../lib/cluster.sh"
APPLY_MANY="$ROOT/$BUILD/tests/tools/apply_many"
[ -x "$APPLY_MANY" ] || fail "build $APPLY_MANY first"

cl_init snapsize 3 "  snapshot_max_log_mb: 1"
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null

# The example policy with 60 KB of comment lines (a bundle keeps its
# source, so each revision's entry carries them).
{
	cat "$EXAMPLES/policy.yaml"
	awk 'BEGIN { for (i = 0; i < 800; i++)
		printf "# padding line %04d .............................................................\n", i }'
} >"$CL_DIR/big.yaml"
"$APPLY_MANY" "$CL_FILE" "$CL_DIR/big.yaml" 40 >/dev/null || fail "apply_many"
cl_wait_converged 3

for i in 1 2 3; do
	l=$(cl_wait_log "$CL_DIR/node$i.log" 'event=snapshot_by_size' 20)
	echo "$l" | grep -Eq 'log_bytes=(10[0-9]{5}|1[1-9][0-9]{5}|[2-9][0-9]{6})' ||
		fail "node $i snapshot at an unexpected size: $l"
	ls "$CL_DIR/data/node$i/raft" | grep -q '^snapshot-' ||
		fail "node $i wrote no snapshot file"
done
note "every node snapshotted by size: $(echo "$l" | sed 's/.*event=/event=/')"
# ... and counts it in /metrics: snapshots written, their duration, none
# failed, the log bytes since the snapshot below the 1 MiB limit.
for i in 1 2 3; do
	m=$(curl -s "http://$(cl_http $i)/metrics")
	s=$(echo "$m" | awk '$1 == "af_raft_snapshots_total" { print $2 }')
	c=$(echo "$m" | awk '$1 == "af_raft_snapshot_seconds_count{}" { print $2 }')
	f=$(echo "$m" | awk '$1 == "af_raft_snapshot_failures_total" { print $2 }')
	b=$(echo "$m" | awk '$1 == "af_raft_log_bytes" { print $2 }')
	[ "${s:-0}" -ge 1 ] && [ "$c" = "$s" ] && [ "$f" = 0 ] && [ "$b" -lt 1048576 ] ||
		fail "node $i snapshot metrics: total=$s count=$c failures=$f log_bytes=$b"
done

# A restart loads the snapshot and the log after it: same revisions.
victim=2
[ "$(cl_log_count "$CL_DIR/node$victim.log" event=snapshot_restored)" = 0 ] ||
	fail "node $victim restored a snapshot before its restart"
cl_stop $victim
cl_wait_exit $victim
cl_start $victim
cl_wait_converged 3
cl_wait_log "$CL_DIR/node$victim.log" 'event=snapshot_restored' 20 >/dev/null
n=$("$AF" --endpoints "$(cl_api $victim)" --stale policy history --limit 1000 -o json |
	jq '.revisions | length')
[ "$n" = 40 ] || fail "restarted node holds $n revisions, want 40"
note "node $victim restarted from its size-triggered snapshot with all 40 revisions"
echo "PASS snapshot_size"
