#!/bin/sh
# Ten times: SIGKILL the leader, time until the next write is acknowledged,
# restart the killed node. Every acknowledged revision must be in the
# history afterwards, on every node.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init failover
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
acked=""
times=""
for k in $(seq 1 10); do
	leader=$(cl_wait_leader)
	sed "s/^name: prod/name: prod-$k/" "$EXAMPLES/policy.yaml" >"$CL_DIR/p.yaml"
	cl_stop "$leader" KILL
	t0=$(date +%s%N)
	out=$(cl_af --timeout 20s policy apply -f "$CL_DIR/p.yaml" -m "kill $k" -o json) ||
		fail "write after killing leader $leader (round $k)"
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
	times="$times $ms"
	acked="$acked $(echo "$out" | jq -r .hash)"
	note "round $k: killed node $leader, write acknowledged after ${ms} ms"
	cl_start "$leader"
done
cl_wait_leader >/dev/null
cl_wait_converged 3
for h in $acked; do
	for id in 1 2 3; do
		"$AF" --stale --endpoints "$(cl_api $id)" policy history -o json | jq .revisions |
			jq -e --arg h "$h" 'any(.[]; .hash == $h)' >/dev/null ||
			fail "acknowledged $h missing on node $id"
	done
done
median=$(echo $times | tr ' ' '\n' | sort -n | sed -n 5p)
note "failover: median ${median} ms over 10 kills (all: $times)"
[ "$median" -lt 10000 ] || fail "median failover ${median} ms"
note ok
