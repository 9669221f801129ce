#!/bin/sh
# A planned restart of the leader: SIGTERM hands leadership to the most
# up-to-date voter before the node stops. Three rounds, each while a writer
# runs: the node logs the hand-off, exits 0, the writer's next write is
# acknowledged well within one election timeout (1000 ms; without the
# hand-off the survivors wait at least that long), and afterwards every
# acknowledged write is in the history of every node. Then the whole
# cluster stops at once: no leader waits for a target that is stopping.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init graceful_stop
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null || fail "models"

# The writer: distinct policies one after the other, through any node;
# logs "END_NS HASH" per acknowledged write until $CL_DIR/stop exists.
writer() {
	k=0
	while [ ! -f "$CL_DIR/stop" ]; do
		k=$((k + 1))
		sed "s/latency_slo_ms: 1500/latency_slo_ms: $((1500 + k))/" \
			"$EXAMPLES/policy.yaml" >"$CL_DIR/w.yaml"
		if out=$(cl_af --timeout 20s policy apply -f "$CL_DIR/w.yaml" \
			-m "w $k" -o json 2>>"$CL_DIR/writer.err"); then
			echo "$(date +%s%N) $(echo "$out" | jq -r .hash)" \
				>>"$CL_DIR/acked"
		fi
	done
}
# caught_up ID: node ID has applied what the leader had committed when
# asked (the writer keeps writing, so the nodes never stand still).
caught_up() {
	deadline=$(($(date +%s) + 30))
	c=0
	while [ "$(date +%s)" -lt "$deadline" ]; do
		s=$(cl_af --timeout 2s cluster status -o json 2>/dev/null || true)
		if [ "$c" -eq 0 ]; then
			c=$(echo "$s" | jq '[.nodes[] | select(.role == "leader")
				| .commit_index] | max // 0' 2>/dev/null || echo 0)
		fi
		a=$(echo "$s" | jq --argjson id "$1" '[.nodes[] |
			select(.id == $id) | .applied_index] | max // 0' \
			2>/dev/null || echo 0)
		[ "$c" -gt 0 ] && [ "$a" -ge "$c" ] && return 0
		sleep 0.2
	done
	fail "node $1 did not catch up to $c: $s"
}

# first_after T0_NS: when the first write after T0_NS was acknowledged.
first_after() {
	deadline=$(($(date +%s) + 30))
	while [ "$(date +%s)" -lt "$deadline" ]; do
		f=$(awk -v t0="$1" '$1 > t0 { print $1; exit }' "$CL_DIR/acked")
		[ -n "$f" ] && { echo "$f"; return 0; }
		sleep 0.05
	done
	fail "no write acknowledged within 30 s of the SIGTERM"
}
acked() { wc -l <"$CL_DIR/acked" 2>/dev/null || echo 0; }

# wait_acked N: until the writer has N acknowledged writes.
wait_acked() {
	deadline=$(($(date +%s) + 30))
	while [ "$(acked)" -lt "$1" ]; do
		[ "$(date +%s)" -lt "$deadline" ] ||
			fail "the writer has $(acked) of $1 writes"
		sleep 0.05
	done
}

: >"$CL_DIR/acked"
writer &
WRITER=$!
# On any exit, the writer stops too (cl_cleanup waits for children); the
# exit status goes through to cl_cleanup.
stop_writer() {
	rc=$?
	touch "$CL_DIR/stop"
	kill "$WRITER" 2>/dev/null || true
	(exit $rc) || cl_cleanup
	cl_cleanup
}
trap stop_writer EXIT INT TERM
for round in 1 2 3; do
	leader=$(cl_wait_leader)
	wait_acked $(($(acked) + 3))
	pid=$(cl_pid "$leader")
	t0=$(date +%s%N)
	kill -TERM "$pid"
	code=0
	wait "$pid" || code=$?
	[ "$code" -eq 0 ] || fail "round $round: node $leader exited $code"
	grep -q "event=handoff result=transferred" "$CL_DIR/node$leader.log" ||
		fail "round $round: node $leader stopped without a hand-off"
	first=$(first_after "$t0")
	ms=$(((first - t0) / 1000000))
	note "round $round: SIGTERM to node $leader; next write acknowledged after ${ms} ms"
	[ "$ms" -lt 1000 ] ||
		fail "round $round: the next write took ${ms} ms (election timeout 1000)"
	# The next round looks for this round's line only.
	mv "$CL_DIR/node$leader.log" "$CL_DIR/node$leader.log.$round"
	cl_start "$leader"
	caught_up "$leader"
done
touch "$CL_DIR/stop"
wait "$WRITER" || true

cl_wait_converged 3
n=0
while read -r _ h; do
	n=$((n + 1))
	for id in 1 2 3; do
		"$AF" --stale --endpoints "$(cl_api $id)" policy history --limit 1000 -o json |
			jq -e --arg h "$h" 'any(.revisions[]; .hash == $h)' >/dev/null ||
			fail "acknowledged $h missing on node $id"
	done
done <"$CL_DIR/acked"
note "$n acknowledged writes, all on every node"

# The whole cluster at once: the leader's target stops too, so it must
# not wait out the transfer (two election timeouts).
t0=$(date +%s%N)
for id in 1 2 3; do kill -TERM "$(cl_pid $id)"; done
for id in 1 2 3; do
	code=0
	wait "$(cl_pid $id)" || code=$?
	[ "$code" -eq 0 ] || fail "node $id exited $code on a cluster stop"
done
ms=$(((($(date +%s%N)) - t0) / 1000000))
note "cluster stop: all three exited 0 after ${ms} ms"
[ "$ms" -lt 1500 ] || fail "the cluster stop took ${ms} ms"
note ok
