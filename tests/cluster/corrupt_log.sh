#!/bin/sh
# A node whose Raft log is damaged refuses to start with a clear error
# (auto-recovery is off: it must not silently drop entries), and the
# cluster keeps serving with the other two.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init corrupt
for i in 1 2 3; do cl_start $i; done
leader=$(cl_wait_leader)
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
cl_af policy apply -f "$EXAMPLES/policy.yaml" >/dev/null
victim=$(( leader % 3 + 1 ))
cl_wait_converged 3
cl_stop "$victim" TERM
# Restart once so its open segment is finalized into a closed one, stop.
cl_start "$victim"
cl_wait_converged 3
cl_stop "$victim" TERM
dir=$CL_DIR/data/node$victim/raft
seg=$(ls "$dir" | grep -E '^[0-9]+-[0-9]+$' | head -1)
[ -n "$seg" ] || { ls -la "$dir"; fail "no closed segment"; }
size=$(stat -c %s "$dir/$seg")
# Flip bytes in the middle of the first batch's data.
printf '\377\377\377\377\377\377\377\377' |
	dd of="$dir/$seg" bs=1 seek=40 count=8 conv=notrunc 2>/dev/null
set +e
"$CONTROLD" -c "$CL_FILE" --id "$victim" >"$CL_DIR/refuse.log" 2>&1 &
pid=$!
for _ in $(seq 1 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $pid 2>/dev/null; then
	kill -9 $pid
	fail "node with a damaged log ($seg, $size bytes) is running"
fi
wait $pid
rc=$?
set -e
[ $rc != 0 ] || fail "exit code 0 with a damaged log"
grep -q "refusing to start" "$CL_DIR/refuse.log" || {
	cat "$CL_DIR/refuse.log"
	fail "unclear error"
}
note "refused: $(grep -m1 'controld:' "$CL_DIR/refuse.log")"
cl_af policy apply -f "$EXAMPLES/policy.yaml" -o json | jq -e .unchanged \
	>/dev/null || fail "the two healthy nodes stopped serving"
note ok
