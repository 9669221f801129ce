#!/bin/sh
# Every command of docs/quickstart.md runs as written against a local
# cluster started by deploy/local.sh (what `make run` runs, without the
# dependency install and the foreground wait), in a copy of deploy/ with
# the ports shifted to free ones. Then a second `up` must keep the policy.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init quickstart 1
T=$CL_DIR/tree
mkdir -p "$T"
cp -r "$ROOT/deploy" "$T/deploy"
ln -s "$ROOT/$BUILD" "$T/build"
export AF_PORT_OFFSET=$((CL_BASE - 7000))
export AF_ROUTERD_PORT=$((CL_BASE + 199))
port_free "$AF_ROUTERD_PORT" || fail "port $AF_ROUTERD_PORT is taken"
CL_ON_EXIT='(cd "$T" && BUILD=build sh deploy/local.sh down >/dev/null 2>&1)'

# The fenced sh blocks, in order; `make run` becomes `local.sh up` and the
# documented ports become the shifted ones.
awk '/^```sh$/ { on = 1; next } /^```$/ { on = 0; next } on' \
	"$ROOT/docs/quickstart.md" |
	sed -e 's|^make run$|sh deploy/local.sh up|' \
		-e "s|127.0.0.1:8080|127.0.0.1:$AF_ROUTERD_PORT|g" >"$CL_DIR/qs.sh"
grep -q 'deploy/local.sh up' "$CL_DIR/qs.sh" || fail "no make run in the quickstart"
note "$(wc -l <"$CL_DIR/qs.sh") lines of commands"
(cd "$T" && BUILD=build sh -ex "$CL_DIR/qs.sh") >"$CL_DIR/qs.log" 2>&1 || {
	tail -40 "$CL_DIR/qs.log"
	fail "a quickstart command failed"
}
grep -q '"decision":"route"' "$CL_DIR/qs.log" || fail "no routerd decision"
# A restart of the local cluster never replaces the stable policy.
export AF_CLUSTER=$T/run/cluster.yaml
before=$("$AF" policy history -o json | jq -c '[.revisions[] | {revision, state}]')
(cd "$T" && BUILD=build sh deploy/local.sh down >/dev/null &&
	BUILD=build sh deploy/local.sh up >"$CL_DIR/up2.log" 2>&1) ||
	{ tail -20 "$CL_DIR/up2.log"; fail "second up"; }
after=$("$AF" policy history -o json | jq -c '[.revisions[] | {revision, state}]')
[ "$before" = "$after" ] || fail "restart changed the policy: $before -> $after"
grep -q "already applied (kept)" "$CL_DIR/up2.log" || fail "up re-applied the example"
note ok
