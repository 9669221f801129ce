#!/bin/sh
# controld names the real cause when it cannot start, and `controld --check`
# refuses the same things: a raft port another process holds, a raft host
# name that does not resolve, a data dir that a running controld holds, a
# host name without the ordinal --id-from-hostname needs. None of them is
# called a damaged log.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init starterr 1
raft_port=$((CL_BASE + 101))

# expect_refused LOG PATTERN CMD...: CMD exits non-zero within 10 s, its
# output matches PATTERN and never blames the log.
expect_refused() {
	log=$1
	pat=$2
	shift 2
	set +e
	timeout 10 "$@" >"$log" 2>&1
	rc=$?
	set -e
	[ $rc != 0 ] && [ $rc != 124 ] || { cat "$log"; fail "$* exited $rc"; }
	grep -q -- "$pat" "$log" || { cat "$log"; fail "$*: no \"$pat\""; }
	if grep -qi "damaged\|unreadable" "$log"; then
		cat "$log"
		fail "$*: blames the log"
	fi
	note "refused: $(grep -m1 "$pat" "$log")"
}

# 1. Another program listens on the raft port.
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
open(sys.argv[2], "w").write("x"); time.sleep(60)' "$raft_port" "$CL_DIR/held" &
echo $! >"$CL_DIR/pidholder"
for _ in $(seq 1 50); do [ -f "$CL_DIR/held" ] && break; sleep 0.1; done
expect_refused "$CL_DIR/check-port.log" "port $raft_port on 127.0.0.1 is already in use" \
	"$CONTROLD" -c "$CL_FILE" --id 1 --check
expect_refused "$CL_DIR/start-port.log" "port $raft_port on 127.0.0.1 is already in use" \
	"$CONTROLD" -c "$CL_FILE" --id 1
stop_pid "$(cat "$CL_DIR/pidholder")" KILL
# The data dir was not touched: the node starts once the port is free.
"$CONTROLD" -c "$CL_FILE" --id 1 --check >/dev/null || fail "check after the port was freed"

# 2. A raft name that does not resolve is refused (check and start);
# one that does passes --check.
sed "s|raft: 127.0.0.1:$raft_port|raft: no-such-host.invalid:$raft_port|" "$CL_FILE" >"$CL_DIR/named.yaml"
expect_refused "$CL_DIR/check-name.log" 'cannot resolve "no-such-host.invalid"' \
	"$CONTROLD" -c "$CL_DIR/named.yaml" --id 1 --check
expect_refused "$CL_DIR/start-name.log" 'cannot resolve "no-such-host.invalid"' \
	"$CONTROLD" -c "$CL_DIR/named.yaml" --id 1
sed "s|raft: 127.0.0.1:$raft_port|raft: localhost:$raft_port|" "$CL_FILE" >"$CL_DIR/local.yaml"
"$CONTROLD" -c "$CL_DIR/local.yaml" --id 1 --check >/dev/null || fail "localhost raft refused by --check"

# 3. A second controld on a data dir in use is told the owner's pid.
cl_start 1
cl_wait_leader >/dev/null
pid=$(cl_pid 1)
expect_refused "$CL_DIR/second.log" "data dir .* in use by pid $pid" \
	"$CONTROLD" -c "$CL_FILE" --id 1
# ... and --check on a running node says its ports are taken.
expect_refused "$CL_DIR/check-running.log" "already in use" \
	"$CONTROLD" -c "$CL_FILE" --id 1 --check
cl_alive 1 || fail "the running node died"
cl_af policy history >/dev/null || fail "the running node stopped serving"

# 4. --id-from-hostname: pod NAME-N is node N+1; a name without -N is
# refused with the way out. (Needs a UTS namespace of its own.)
if unshare -u true 2>/dev/null; then
	# shellcheck disable=SC2016
	out=$(unshare -u sh -c 'hostname controld-2 && exec "$@"' sh \
		"$CONTROLD" -c "$CL_FILE" --id-from-hostname --check 2>&1) ||
		true
	echo "$out" | grep -q "no node with id 3" ||
		fail "controld-2 is not node 3: $out"
	expect_refused "$CL_DIR/host-noid.log" 'does not end in -N' \
		unshare -u sh -c 'hostname controld && exec "$@"' sh \
		"$CONTROLD" -c "$CL_FILE" --id-from-hostname --check
	out=$(unshare -u sh -c 'hostname controld-0 && exec "$@"' sh \
		"$CONTROLD" -c "$CL_DIR/named.yaml" --id-from-hostname --check 2>&1) ||
		true
	echo "$out" | grep -q 'cannot resolve' || fail "controld-0 is not node 1: $out"
else
	note "unshare -u not permitted: --id-from-hostname checked by unit tests only"
fi
note ok
