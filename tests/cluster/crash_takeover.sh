#!/bin/sh
# A crashed leader (SIGKILL: the kernel closes its connections) is replaced
# before any election timeout runs out: the followers see its raft
# connection close (event=leader_gone) and campaign at their next tick.
# Five rounds; the median time from the kill to the next acknowledged write
# must stay under the election timeout (1000 ms), which followers that wait
# for their timers can never reach. Every acknowledged write survives.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init crash_takeover
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null || fail "models"
acked=""
times=""
for k in 1 2 3 4 5; do
	leader=$(cl_wait_leader)
	sed "s/latency_slo_ms: 1500/latency_slo_ms: $((1500 + k))/" \
		"$EXAMPLES/policy.yaml" >"$CL_DIR/p.yaml"
	gone=$(cat "$CL_DIR"/node*.log | grep -c "event=leader_gone leader=$leader" || true)
	t0=$(date +%s%N)
	kill -KILL "$(cl_pid "$leader")"
	out=$(cl_af --timeout 20s policy apply -f "$CL_DIR/p.yaml" -m "kill $k" \
		-o json) || fail "write after killing leader $leader (round $k)"
	ms=$((($(date +%s%N) - t0) / 1000000))
	wait "$(cl_pid "$leader")" 2>/dev/null || true
	times="$times $ms"
	acked="$acked $(echo "$out" | jq -r .hash)"
	now=$(cat "$CL_DIR"/node*.log | grep -c "event=leader_gone leader=$leader" || true)
	[ "$now" -gt "$gone" ] ||
		fail "round $k: no follower saw leader $leader's connection close"
	note "round $k: killed node $leader, write acknowledged after ${ms} ms"
	cl_start "$leader"
done
cl_wait_leader >/dev/null
cl_wait_converged 3
for h in $acked; do
	for id in 1 2 3; do
		"$AF" --stale --endpoints "$(cl_api $id)" policy history --limit 1000 -o json |
			jq -e --arg h "$h" 'any(.revisions[]; .hash == $h)' >/dev/null ||
			fail "acknowledged $h missing on node $id"
	done
done
median=$(echo $times | tr ' ' '\n' | sort -n | sed -n 3p)
note "takeover: median ${median} ms over 5 kills (all:$times)"
[ "$median" -lt 1000 ] ||
	fail "median ${median} ms: the followers waited for their election timers"
note ok
