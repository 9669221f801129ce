#!/bin/sh
# The console in chromium against `make run`'s cluster: deploy/local.sh
# starts its three controld nodes and routerd (no auth, as make run does),
# here with its data and logs under $BUILD/console-local/ and its ports
# shifted into this run's range; then the same state, traffic and checks
# as console.sh (tests/lib/console.sh), the console opening without a
# token. Screenshots go to $BUILD/console-local/shots/.
. "$(dirname "$0")/../lib/cluster.sh"
. "$(dirname "$0")/../lib/console.sh"

console_deps
RUN_DIR=$ROOT/$BUILD/console-local
rm -rf "$RUN_DIR"
mkdir -p "$RUN_DIR"
# local.sh's controld ports are 7101..7304 plus the offset: those
# pick_base found free (base + 100 * node + 1..4); routerd's as in the
# other scenarios.
base=$(pick_base) || fail "no free ports"
export AF_RUN_DIR=$RUN_DIR AF_PORT_OFFSET=$((base - 7000)) \
	AF_ROUTERD_PORT=$((base + 901))
local_down() {
	rc=$?
	BUILD=$BUILD sh "$ROOT/deploy/local.sh" down >/dev/null 2>&1 || true
	exit $rc
}
trap local_down EXIT INT TERM
BUILD=$BUILD sh "$ROOT/deploy/local.sh" up >"$RUN_DIR/up.log" 2>&1 ||
	fail "deploy/local.sh up: $(tail -5 "$RUN_DIR/up.log")"
CL_DIR=$RUN_DIR
CL_FILE=$RUN_DIR/cluster.yaml
console_state
console_traffic $AF_ROUTERD_PORT
console_check "http://127.0.0.1:$((7104 + AF_PORT_OFFSET))" - "$RUN_DIR/shots"
note ok
