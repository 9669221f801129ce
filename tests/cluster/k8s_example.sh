#!/bin/sh
# The Kubernetes example works as shipped: every manifest passes the
# schema check of its objects (tests/schema_check.py; a misspelt field is
# refused), and the Grafana dashboard its model's; the objects hold
# together (tests/k8s_example.py: headless Service publishing not-ready
# addresses, Parallel pods, ids from pod names, raft port for controld
# pods only, a quorum kept through disruptions, the sidecar's token among
# the hashed ones); and the cluster file of the ConfigMap passes
# `controld --check` on each pod's host name with --id-from-hostname (in
# namespaces of its own, so ports in use on this host do not matter).
. "$(dirname "$0")/../lib/cluster.sh"

cl_init k8s 1
K=$ROOT/deploy/k8s
python3 "$ROOT/tests/schema_check.py" k8s "$K"/*.yaml || fail "manifest schema"
python3 "$ROOT/tests/schema_check.py" grafana "$ROOT/deploy/grafana/af.json" ||
	fail "dashboard schema"
# The check can fail: a misspelt field, a bad enum value.
sed 's/publishNotReadyAddresses/publishNotReadyAddress/' "$K/controld.yaml" >"$CL_DIR/typo.yaml"
out=$(python3 "$ROOT/tests/schema_check.py" k8s "$CL_DIR/typo.yaml" 2>&1) &&
	fail "a misspelt field passed"
echo "$out" | grep -q "publishNotReadyAddress' was unexpected" || fail "typo: $out"
sed 's/podManagementPolicy: Parallel/podManagementPolicy: parallel/' "$K/controld.yaml" >"$CL_DIR/enum.yaml"
python3 "$ROOT/tests/schema_check.py" k8s "$CL_DIR/enum.yaml" >/dev/null 2>&1 &&
	fail "a bad podManagementPolicy passed"
jq '.panels[0].gridPos.w = 30' "$ROOT/deploy/grafana/af.json" >"$CL_DIR/dash.json"
python3 "$ROOT/tests/schema_check.py" grafana "$CL_DIR/dash.json" >/dev/null 2>&1 &&
	fail "a 30-column panel passed"

n=$(python3 "$ROOT/tests/k8s_example.py" "$K/controld.yaml" "$K/routerd-sidecar.yaml" "$CL_DIR") ||
	fail "the example's objects do not hold together"
sed 's/publishNotReadyAddresses: true/publishNotReadyAddresses: false/' "$K/controld.yaml" >"$CL_DIR/nr.yaml"
python3 "$ROOT/tests/k8s_example.py" "$CL_DIR/nr.yaml" "$K/routerd-sidecar.yaml" "$CL_DIR" >/dev/null 2>&1 &&
	fail "a Service hiding not-ready pods passed"

in_ns=""
if unshare -n -u true 2>/dev/null; then
	in_ns=1
else
	note "unshare -n -u not permitted: checking with --id in this host's namespace"
fi
for i in $(seq 0 $((n - 1))); do
	if [ -n "$in_ns" ]; then
		# shellcheck disable=SC2016
		unshare -n -u sh -c 'hostname "$1" && shift && exec "$@"' sh "controld-$i" \
			"$CONTROLD" -c "$CL_DIR/cluster.yaml" --id-from-hostname --check \
			>"$CL_DIR/check$i.log" 2>&1
	else
		"$CONTROLD" -c "$CL_DIR/cluster.yaml" --id $((i + 1)) --check >"$CL_DIR/check$i.log" 2>&1
	fi || {
		cat "$CL_DIR/check$i.log"
		fail "controld --check refuses pod controld-$i of the Kubernetes example"
	}
	grep -q "node $((i + 1)))" "$CL_DIR/check$i.log" ||
		fail "pod controld-$i is not node $((i + 1)): $(cat "$CL_DIR/check$i.log")"
done
note "$(cat "$CL_DIR/check0.log")"
note ok
