#!/bin/sh
# A follower whose disk fills up says so and exits (libraft 0.15 would keep
# it "follower", silently behind, for good), so a supervisor restarts it;
# once the disk has room again it starts and catches up. A candidate that
# cannot store its term stops with the disk error (no crash).
# Needs root for a small tmpfs; skipped with a message otherwise.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init diskfull 3
victim=3
mnt=$CL_DIR/data/node$victim
mkdir -p "$mnt"
if ! mount -t tmpfs -o size=3m tmpfs "$mnt" 2>/dev/null; then
	note "SKIP: mount -t tmpfs not permitted here (needs root)"
	exit 0
fi
CL_ON_EXIT='umount -l "$mnt" 2>/dev/null'
cl_start 1
cl_start 2
leader=$(cl_wait_leader)
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
cl_start $victim

# Writes (a long policy name each) until the victim exits; libraft
# preallocates 8 MiB log segments, so on 3 MiB that is the first append.
pad=$(head -c 200 /dev/zero | tr '\0' 'x')
k=0
while cl_alive $victim; do
	k=$((k + 1))
	[ $k -le 2000 ] || fail "node $victim still running after 2000 writes on a full disk"
	sed "s/^name: prod/name: prod-$k-$pad/" "$EXAMPLES/policy.yaml" >"$CL_DIR/p.yaml"
	cl_af policy apply -f "$CL_DIR/p.yaml" >/dev/null 2>&1 ||
		fail "apply $k failed (the leader $leader has room)"
done
note "node $victim exited after $k writes"
set +e
cl_wait_exit $victim
rc=$?
set -e
[ $rc != 0 ] || fail "node $victim exited with 0 on a full disk"
grep 'event=disk_error' "$CL_DIR/node$victim.log" | grep -qi 'space' || {
	tail -20 "$CL_DIR/node$victim.log"
	fail "no disk_error line naming the cause"
}
note "logged: $(grep -m1 'event=disk_error' "$CL_DIR/node$victim.log" | cut -c1-240)"

# The leader says that node 3 stores nothing while its commit moves.
cl_af policy apply -f "$EXAMPLES/policy.yaml" >/dev/null
for _ in $(seq 1 200); do
	grep -q "event=follower_stalled id=$victim " "$CL_DIR/node$leader.log" && break
	sleep 0.1
done
grep -q "event=follower_stalled id=$victim " "$CL_DIR/node$leader.log" ||
	fail "the leader never logged that node $victim is stalled"
note "leader: $(grep -m1 'event=follower_stalled' "$CL_DIR/node$leader.log" | cut -c1-160)"

# The disk grows; the supervisor's restart catches up.
mount -o remount,size=256m "$mnt" || fail "cannot grow the tmpfs"
cl_start $victim
cl_wait_converged 3
a=$("$AF" --stale --endpoints "$(cl_api "$leader")" policy history -o json | jq ".revisions | length")
b=$("$AF" --stale --endpoints "$(cl_api $victim)" policy history -o json | jq ".revisions | length")
[ "$a" = "$b" ] || fail "victim has $b revisions, leader $a"
note "caught up: $b revisions"
for _ in $(seq 1 100); do
	grep -q "event=follower_progress id=$victim " "$CL_DIR/node$leader.log" && break
	sleep 0.1
done
grep -q "event=follower_progress id=$victim " "$CL_DIR/node$leader.log" ||
	fail "the leader never logged that node $victim replicates again"

# The victim's data directory goes away (its open files stay), the third
# node stops, and the leader's SIGTERM hands leadership to the victim,
# which cannot store its new term. libraft 0.15 then reads a bogus leader
# address and crashed freeing it; the node must instead say so and exit 1.
leader=$(cl_wait_leader)
if [ "$leader" = $victim ]; then
	cl_af cluster transfer-leader >/dev/null ||
		fail "cannot move the leadership off node $victim"
	for _ in $(seq 1 50); do
		leader=$(cl_wait_leader)
		[ "$leader" != $victim ] && break
		sleep 0.1
	done
	[ "$leader" != $victim ] || fail "node $victim still leads"
fi
for third in 1 2 3; do
	[ $third != "$leader" ] && [ $third != $victim ] && break
done
cl_stop $third
umount -l "$mnt" || fail "cannot unmount the victim's data directory"
rmdir "$mnt" || fail "cannot remove the victim's data directory"
cl_stop "$leader"
for _ in $(seq 1 100); do
	cl_alive $victim || break
	sleep 0.1
done
cl_alive $victim && fail "node $victim still runs without its data directory"
set +e
cl_wait_exit $victim
rc=$?
set -e
[ $rc = 1 ] || {
	tail -20 "$CL_DIR/node$victim.log"
	fail "node $victim exited $rc (want 1: the disk error, not a crash)"
}
grep 'event=disk_error' "$CL_DIR/node$victim.log" | grep -q 'store the term' ||
	fail "no disk_error line for the term the victim could not store"
note "no term stored: $(grep 'event=disk_error' "$CL_DIR/node$victim.log" | tail -1 | cut -c1-200)"
note ok
