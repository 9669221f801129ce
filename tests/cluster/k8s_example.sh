#!/bin/sh
# The Kubernetes example works as shipped: the cluster file of its
# ConfigMap passes `controld --check` for every node (in a network
# namespace of its own, so ports in use on this host do not matter), and
# no prometheus.io annotation points at routerd's loopback-only port.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init k8s 1
manifest=$ROOT/deploy/k8s/routerd-sidecar.yaml
# The block scalar after "cluster.yaml: |", its 4-space indent removed.
awk '/^  cluster.yaml: \|$/ { on = 1; next }
	on && /^    / { sub(/^    /, ""); print; next }
	on { exit }' "$manifest" >"$CL_DIR/k8s-cluster.yaml"
grep -q '^nodes:' "$CL_DIR/k8s-cluster.yaml" || fail "no cluster file in the ConfigMap"
if unshare -n true 2>/dev/null; then
	in_ns="unshare -n"
else
	note "unshare -n not permitted: checking in this host's namespace"
	in_ns=""
fi
for id in 1 2 3; do
	$in_ns "$CONTROLD" -c "$CL_DIR/k8s-cluster.yaml" --id $id --check \
		>"$CL_DIR/check$id.log" 2>&1 || {
		cat "$CL_DIR/check$id.log"
		fail "controld --check refuses node $id of the Kubernetes example"
	}
done
note "$(cat "$CL_DIR/check1.log")"
# routerd's --listen in the manifest and every prometheus.io/port.
listen=$(grep -A1 -- '- --listen' "$manifest" | tail -1 | sed 's/.*- //')
lport=${listen##*:}
for p in $(sed -n 's/.*prometheus.io\/port: "\([0-9]*\)".*/\1/p' "$manifest"); do
	if [ "$p" = "$lport" ] && [ "${listen%%:*}" = 127.0.0.1 ]; then
		fail "prometheus.io/port $p is routerd's loopback-only $listen"
	fi
done
note ok
