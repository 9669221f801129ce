#!/bin/sh
# The fault suite: a 3-node controld cluster under writers, a linearizable
# reader and a nemesis (kill, pause, partition, restart-all), then a checker
# (tests/faults/check.sh) for lost, duplicated and reordered writes, stale
# and phantom reads, divergence and halted nodes.
#
#   sh tests/faults/run.sh short    # >= 40 faults, part of make test
#   sh tests/faults/run.sh long     # 300 faults, make faults
#
# Environment: FAULTS=N overrides the fault count, SEED=N the random seed,
# KEEP=1 keeps the run's directory, FAULTS_DUP_FATAL=0|1 whether duplicated
# writes fail the run (default 1; see docs/reliability.md).
#
# Partitions need root, unshare(1) and iptables(8): the suite re-executes
# itself in a network namespace of its own (only a loopback, so its rules
# touch nothing else) and runs each node as its own uid so rules can match
# `-m owner --uid-owner`. Without them partitions are skipped (said so) and
# their slots go to pauses.
set -eu
MODE=${1:-short}
case $MODE in
short | long) ;;
*)
	echo "usage: sh tests/faults/run.sh short|long" >&2
	exit 2
	;;
esac
HERE=$(cd "$(dirname "$0")" && pwd)

# Enter a network namespace of our own when we can.
if [ -z "${AF_FAULTS_NS:-}" ]; then
	why=""
	if [ "$(id -u)" != 0 ]; then
		why="not root"
	elif ! command -v unshare >/dev/null || ! command -v iptables >/dev/null ||
		! command -v setpriv >/dev/null; then
		why="unshare, iptables or setpriv missing"
	elif ! unshare -n true 2>/dev/null; then
		why="unshare -n not permitted"
	fi
	if [ -z "$why" ]; then
		AF_FAULTS_NS=1 exec unshare -n sh "$0" "$@"
	fi
	echo "# faults: partitions skipped ($why): their slots go to pauses"
	PART=0
else
	PART=1
	if ! ip link set lo up 2>/dev/null ||
		! iptables -A OUTPUT -o lo -p tcp --dport 1 -j DROP 2>/dev/null ||
		! iptables -F OUTPUT 2>/dev/null; then
		echo "# faults: partitions skipped (iptables refused in the" \
			"namespace): their slots go to pauses"
		ip link set lo up 2>/dev/null || true
		PART=0
	fi
fi

. "$HERE/../lib/cluster.sh"

if [ "$MODE" = short ]; then
	NF=${FAULTS:-40}
	PAUSE_MIN=2 PAUSE_MAX=3
	PART_MIN=2 PART_MAX=3
	MAXW=100000
	WSLEEP=0.05
else
	NF=${FAULTS:-300}
	PAUSE_MIN=2 PAUSE_MAX=5
	PART_MIN=2 PART_MAX=5
	MAXW=4500 # per writer: the audit trail lists at most 10,000
	WSLEEP=0.1
fi
KEYS=400 # per writer
SEED=${SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
NWRITERS=2
UID0=4100 # node N runs as uid UID0+N when partitions are on

now() { date +%s%N; }

# rnd N: a pseudo-random integer in [0, N), from SEED and a counter.
RN=0
rnd() {
	RN=$((RN + 1))
	awk -v s="$SEED" -v k="$RN" -v n="$1" \
		'BEGIN { srand(s * 7919 + k); print int(rand() * n) }'
}

cl_init faults 3 "  snapshot_threshold: 1024"
chmod 755 "$CL_DIR"
mkdir -p "$CL_DIR/data"
chmod 755 "$CL_DIR/data"

# fl_start ID: starts node ID (as its own uid when partitions are on).
fl_start() {
	if [ "$PART" = 1 ]; then
		u=$((UID0 + $1))
		mkdir -p "$CL_DIR/data/node$1"
		chown -R "$u:$u" "$CL_DIR/data/node$1"
		setpriv --reuid="$u" --regid="$u" --clear-groups -- \
			"$CONTROLD" -c "$CL_FILE" --id "$1" \
			>>"$CL_DIR/node$1.log" 2>&1 &
		echo $! >"$CL_DIR/pid$1"
	else
		cl_start "$1"
	fi
}

raft_port() { echo $((CL_BASE + $1 * 100 + 1)); }

# Isolates node $1 from the other nodes' raft traffic (clients still reach
# its api): nothing to its raft port from another uid, nothing from its uid
# to any raft port.
partition() {
	iptables -A OUTPUT -o lo -p tcp --dport "$(raft_port "$1")" \
		-m owner ! --uid-owner $((UID0 + $1)) -j DROP
	iptables -A OUTPUT -o lo -p tcp -m owner --uid-owner $((UID0 + $1)) \
		-m multiport --dports "$(raft_port 1),$(raft_port 2),$(raft_port 3)" \
		-j DROP
}

heal() { [ "$PART" = 1 ] && iptables -F OUTPUT || true; }

BG=""
fl_cleanup() {
	rc=$?
	: >"$CL_DIR/stop"
	for p in $BG; do kill "$p" 2>/dev/null || true; done
	heal
	for id in 1 2 3; do
		[ -f "$CL_DIR/pid$id" ] && kill -CONT "$(cl_pid $id)" 2>/dev/null || true
	done
	(exit $rc)
	cl_cleanup
}
trap fl_cleanup EXIT INT TERM

leader_now() {
	cl_af --timeout 1s cluster status -o json 2>/dev/null |
		jq -r '.leader // empty' 2>/dev/null || true
}

# Waits (up to $1 s) for a leader and every node reachable; prints the ms
# it took, or "stuck".
wait_healthy() {
	t0=$(now)
	end=$(($(date +%s) + $1))
	while [ "$(date +%s)" -lt "$end" ]; do
		s=$(cl_af --timeout 1s cluster status -o json 2>/dev/null || true)
		ok=$(echo "$s" | jq -r 'if .leader != null and .leader != 0 and
			([.nodes[] | select(.role == "unreachable")] | length) == 0
			then "y" else "n" end' 2>/dev/null || echo n)
		if [ "$ok" = y ]; then
			echo $((($(now) - t0) / 1000000))
			return 0
		fi
		sleep 0.1
	done
	echo stuck
}

# writer W: for N = 1, 2, ... sets `budget set tenant-wW-(N mod KEYS)
# --hard N`: one distinct payload (the value N) per logical write, on a
# bounded set of keys (controld keeps at most 1024 budgets); a key's value
# only grows. One line per write: W writer n t_invoke t_done
# ok|fail|unknown exit-code.
writer() {
	w=$1
	n=0
	while [ ! -f "$CL_DIR/stop" ] && [ $n -lt $MAXW ]; do
		n=$((n + 1))
		t0=$(now)
		rc=0
		timeout -s KILL 30 "$AF" -c "$CL_FILE" --timeout 8s budget set \
			"tenant-w$w-$((n % KEYS))" --hard "$n" >/dev/null \
			2>>"$CL_DIR/w$w.err" || rc=$?
		t1=$(now)
		case $rc in
		0) st=ok ;;
		1 | 2) st=fail ;; # refused: af says it was not applied
		*) st=unknown ;;  # unavailable, timed out or killed
		esac
		echo "W $w $n $t0 $t1 $st $rc" >>"$CL_DIR/w$w.log"
		sleep $WSLEEP
	done
}

# reader: linearizable reads of single keys. Picks a writer and reads the
# key of its last acknowledged write (the value must be at least that
# write's: acked before the read began) and the key of a write three ahead
# of its last completed one (any value must be one a write invoked before
# the read ended). One line per read: R key expect t_start t_end
# found|absent|error value.
reader() {
	while [ ! -f "$CL_DIR/stop" ]; do
		w=$(($(rnd $NWRITERS) + 1))
		f=$CL_DIR/w$w.log
		if [ ! -s "$f" ]; then
			sleep 0.1
			continue
		fi
		last=$(tail -n 200 "$f" | awk 'NF == 7 && $6 == "ok" { a = $3 }
			NF == 7 { l = $3 } END { print (a + 0) " " (l + 0) }')
		acked=${last% *}
		done_n=${last#* }
		for nn in "$acked" "-$((done_n + 3))"; do
			[ "$nn" = 0 ] && continue
			expect=$nn
			[ "$nn" -lt 0 ] && { nn=$((-nn)); expect=0; }
			key="tenant-w$w-$((nn % KEYS))"
			t0=$(now)
			rc=0
			out=$(timeout -s KILL 30 "$AF" -c "$CL_FILE" --timeout 8s \
				budget get "$key" -o json 2>&1) || rc=$?
			t1=$(now)
			v=0
			if [ $rc = 0 ]; then
				res=found
				v=$(echo "$out" | jq -r '.hard_usd | floor' 2>/dev/null || echo 0)
			elif echo "$out" | grep -q NOT_FOUND; then
				res=absent
			else
				res=error
			fi
			echo "R $w $key $expect $t0 $t1 $res $v" >>"$CL_DIR/r.log"
		done
		sleep 0.1
	done
}

note "faults: $MODE, $NF faults, seed $SEED, partitions $([ $PART = 1 ] && echo on || echo off)"
for i in 1 2 3; do fl_start $i; done
cl_wait_leader 30 >/dev/null
T_START=$(now)
for w in $(seq 1 $NWRITERS); do
	writer "$w" &
	BG="$BG $!"
done
reader &
BG="$BG $!"
sleep 1

# The nemesis: one fault at a time, a fixed mix in a cycle of ten.
CYCLE="kill pause kill partition kill pause restart-all kill partition pause"
: >"$CL_DIR/f.log"
k=0
while [ $k -lt "$NF" ]; do
	kind=$(echo $CYCLE | cut -d' ' -f$((k % 10 + 1)))
	[ "$kind" = partition ] && [ "$PART" = 0 ] && kind=pause
	# Half the faults hit the leader, the others a random node.
	target=""
	[ "$(rnd 2)" = 0 ] && target=$(leader_now)
	[ -z "$target" ] && target=$(($(rnd 3) + 1))
	t0=$(now)
	case $kind in
	kill)
		kill -KILL "$(cl_pid "$target")" 2>/dev/null || true
		wait "$(cl_pid "$target")" 2>/dev/null || true
		sleep "0.$((3 + $(rnd 7)))"
		fl_start "$target"
		;;
	pause)
		kill -STOP "$(cl_pid "$target")" 2>/dev/null || true
		sleep $((PAUSE_MIN + $(rnd $((PAUSE_MAX - PAUSE_MIN + 1)))))
		kill -CONT "$(cl_pid "$target")" 2>/dev/null || true
		;;
	partition)
		partition "$target"
		sleep $((PART_MIN + $(rnd $((PART_MAX - PART_MIN + 1)))))
		heal
		;;
	restart-all)
		target=all
		sig=KILL
		[ "$(rnd 2)" = 0 ] && sig=TERM
		for id in 1 2 3; do kill -$sig "$(cl_pid $id)" 2>/dev/null || true; done
		for id in 1 2 3; do cl_stop $id KILL; done
		for id in 1 2 3; do wait "$(cl_pid $id)" 2>/dev/null || true; done
		sleep 0.3
		for id in 1 2 3; do fl_start $id; done
		;;
	esac
	t1=$(now)
	# A node that exited by itself (not by the nemesis) is a finding.
	for id in 1 2 3; do
		if ! cl_alive $id; then
			echo "X $id $(now)" >>"$CL_DIR/f.log"
			note "node $id exited by itself (log: node$id.log); restarting it"
			fl_start $id
		fi
	done
	rec=$(wait_healthy 30)
	echo "F $kind $target $t0 $t1 $rec" >>"$CL_DIR/f.log"
	k=$((k + 1))
	[ $((k % 10)) = 0 ] && note "$k faults done"
	sleep 0.3
done

# Stop the load, heal, wait for every node to apply the leader's commit.
sleep 1
: >"$CL_DIR/stop"
for p in $BG; do wait "$p" 2>/dev/null || true; done
BG=""
T_END=$(now)
cl_wait_leader 30 >/dev/null
: >"$CL_DIR/halted"
end=$(($(date +%s) + 60))
while :; do
	s=$(cl_af --timeout 2s cluster status -o json 2>/dev/null || true)
	behind=$(echo "$s" | jq -r '([.nodes[].commit_index] | max) as $c |
		[.nodes[] | select(.role == "unreachable" or
		.applied_index < $c) | .id] | join(" ")' 2>/dev/null || echo "?")
	[ -z "$behind" ] && break
	if [ "$(date +%s)" -ge "$end" ]; then
		echo "$behind" >"$CL_DIR/halted"
		echo "$s" >"$CL_DIR/status.final"
		break
	fi
	sleep 0.2
done
for id in 1 2 3; do
	"$AF" --stale --endpoints "$(cl_api $id)" --timeout 10s budget list \
		-o json >"$CL_DIR/b$id.json" 2>/dev/null || echo '"unreadable"' >"$CL_DIR/b$id.json"
	"$AF" --stale --endpoints "$(cl_api $id)" --timeout 10s audit \
		--limit 10000 -o json >"$CL_DIR/a$id.json" 2>/dev/null || echo '"unreadable"' >"$CL_DIR/a$id.json"
done
dup_fatal=${FAULTS_DUP_FATAL:-1}
KEYS=$KEYS sh "$HERE/check.sh" "$CL_DIR" "$T_START" "$T_END" "$dup_fatal" ||
	fail "fault checker (run kept in $CL_DIR with KEEP=1)"
