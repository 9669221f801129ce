#!/bin/sh
# Raft addresses that are host names: three controld whose raft addresses
# are localhost:PORT elect a leader, fail over when it is killed, and the
# killed node catches up when it comes back. A peer whose name does not
# resolve leaves the other two working and stopping cleanly. Then, where this host lets a
# process have its own /etc/hosts (unshare -m), node 3's name moves to
# another address while it is down, as a Kubernetes pod's IP does: the
# others reach it at the new address without a restart.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init dns_raft
sed -i "s/raft: 127.0.0.1:/raft: localhost:/" "$CL_FILE"
grep -c "raft: localhost:" "$CL_FILE" | grep -qx 3 || fail "cluster file not rewritten"
for i in 1 2 3; do cl_start $i; done
leader=$(cl_wait_leader 30)
members=$(cl_af member list -o json) || fail "af member list"
echo "$members" | jq -e '[.members[].raft | test("^localhost:[0-9]+$")] |
	all and length == 3' >/dev/null ||
	fail "members do not carry the names: $members"
cl_af policy apply -f "$EXAMPLES/policy.yaml" -m "first" >/dev/null || fail "first write"
note "leader $leader over localhost raft addresses"

acked=""
for k in 1 2; do
	leader=$(cl_wait_leader 30)
	cl_stop "$leader" KILL
	sed "s/^name: prod/name: prod-$k/" "$EXAMPLES/policy.yaml" >"$CL_DIR/p.yaml"
	out=$(cl_af --timeout 30s policy apply -f "$CL_DIR/p.yaml" -m "kill $k" -o json) ||
		fail "no write after killing leader $leader (round $k)"
	acked="$acked $(echo "$out" | jq -r .hash)"
	now=$(cl_wait_leader 30)
	[ "$now" != "$leader" ] || fail "leader still $leader after its kill"
	note "round $k: killed $leader, node $now leads"
	cl_start "$leader"
done
cl_wait_converged 3
for h in $acked; do
	for id in 1 2 3; do
		"$AF" --stale --endpoints "$(cl_api $id)" policy history -o json |
			jq -e --arg h "$h" 'any(.revisions[]; .hash == $h)' >/dev/null ||
			fail "acknowledged $h missing on node $id"
	done
done
note "failover over names: ok"

# A peer whose name does not resolve: the other two keep a quorum, the
# leader logs the failure once (raft retries every second) and counts
# each, and both stop cleanly with a resolution under way.
for i in 1 2 3; do cl_stop $i; done
rm -rf "$CL_DIR/data"
p3=$((CL_BASE + 301))
sed -i "s/raft: localhost:$p3/raft: no-such-peer.invalid:$p3/" "$CL_FILE"
cl_start 1
cl_start 2
leader=$(cl_wait_leader 30)
cl_af policy apply -f "$EXAMPLES/policy.yaml" -m "two of three" >/dev/null ||
	fail "no write with node 3 unresolvable"
cl_wait_log "$CL_DIR/node$leader.log" \
	"event=raft_resolve_failed id=3 host=no-such-peer.invalid" 20 >/dev/null
sleep 3
[ "$(cl_log_count "$CL_DIR/node$leader.log" raft_resolve_failed)" = 1 ] ||
	fail "resolution failures logged more than once"
f=$(curl -s "http://$(cl_http "$leader")/metrics" |
	sed -n 's/^af_raft_resolve_failures_total //p')
[ "${f:-0}" -ge 2 ] || fail "af_raft_resolve_failures_total $f"
for i in 1 2; do
	cl_stop $i
	rc=0
	cl_wait_exit $i || rc=$?
	[ $rc = 0 ] || fail "node $i exited $rc while a peer did not resolve"
done
note "unresolvable peer: logged once, $f failures counted, clean stops"
sed -i "s/raft: no-such-peer.invalid:$p3/raft: localhost:$p3/" "$CL_FILE"

# A name that moves. Every node gets a private /etc/hosts in which
# af-N.test stands for node N; node 3 starts at 127.0.0.3, then comes back
# at 127.0.0.4 under the same name.
if ! unshare -m sh -c 'mount --bind /dev/null /etc/hosts' 2>/dev/null; then
	note "unshare -m with a bind mount not permitted here: moving name skipped"
	note ok
	exit 0
fi
for i in 1 2 3; do cl_stop $i; done
rm -rf "$CL_DIR/data"
hosts=$CL_DIR/hosts
printf '127.0.0.1 localhost\n127.0.0.1 af-1.test\n127.0.0.2 af-2.test\n127.0.0.3 af-3.test\n' >"$hosts"
for i in 1 2 3; do
	p=$((CL_BASE + i * 100 + 1))
	sed -i "s/raft: localhost:$p/raft: af-$i.test:$p/" "$CL_FILE"
done
start_ns() {
	id=$1
	unshare -m sh -c 'mount --bind "$1" /etc/hosts && shift && exec "$@"' sh \
		"$hosts" "$CONTROLD" -c "$CL_FILE" --id "$id" >>"$CL_DIR/node$id.log" 2>&1 &
	echo $! >"$CL_DIR/pid$id"
}
for i in 1 2 3; do start_ns $i; done
cl_wait_leader 30 >/dev/null
cl_wait_converged 3
# Node 3 must not lead while it moves.
if [ "$(cl_wait_leader 30)" = 3 ]; then
	cl_af --timeout 20s cluster transfer-leader >/dev/null || fail "transfer from node 3"
fi
cl_stop 3 KILL
# Rewrite in place: every bind mount shares this inode.
sed 's/^127.0.0.3 af-3.test$/127.0.0.4 af-3.test/' "$hosts" >"$hosts.new"
cat "$hosts.new" >"$hosts"
start_ns 3
cl_af policy apply -f "$EXAMPLES/policy.yaml" -m "after the move" >/dev/null ||
	fail "write after node 3 moved"
cl_wait_converged 3
cl_wait_log "$CL_DIR/node$(cl_wait_leader 30).log" \
	"event=raft_resolved id=3 host=af-3.test address=127.0.0.4" 30 ||
	fail "the leader did not dial node 3 at its new address"
note "node 3 moved from 127.0.0.3 to 127.0.0.4 under af-3.test: followed"
note ok
