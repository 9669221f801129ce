#!/bin/sh
# Commit path of controld next to etcd 3.4, one after the other on this
# machine: 3 nodes on loopback each, heartbeat 100 ms, election timeout
# 1000 ms, pre-vote on. For each: WRITES acknowledged writes with each of
# CLIENTS concurrent clients (leader context switches per commit from
# /proc), FUTEX commits at 1 and 16 clients under `strace -f -c -e futex`
# on the leader, RESTARTS planned restarts of the leader (SIGTERM: both
# transfer leadership first) and ROUNDS crashes (SIGKILL), each timed to
# the next acknowledged write, then the node restarted and caught up. With
# NOSNAP=1 the af load runs once more with snapshots out of the way. The af
# column runs with the cluster file's defaults (a snapshot every 65536
# entries or 64 MiB): a run needs more writes than that to include
# snapshots at their steady rate (WRITES=140000 CLIENTS=16), or SNAP=N sets
# the af column's snapshot_threshold.
# Prints one table. Assumes `make` and `make bench`-built binaries
# (build/bin/controld, build/bench/commit); builds nothing. Ports:
# PORT_BASE..PORT_BASE+59 (default 23000).
#
#   sh bench/commit.sh    WRITES=5000 CLIENTS=1,16,64 RESTARTS=10 ROUNDS=10
#                         FUTEX=2000 NOSNAP=1 PORT_BASE=23000 SNAP=
#
# BEFORE=DIR runs the af load first with DIR/bin/controld (an older
# build), with the same futex count, and prints its commits/s and futex
# calls per commit next to this build's (no failover rounds for it).
# ETCD=0 leaves etcd out (for a before/after comparison alone).
#
# Installs etcd-server with apt-get when it is missing and we are root.
# Every process started here is stopped on exit; only 127.0.0.1 is used.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib/bench.sh"
BUILD=${BUILD:-build}
BENCH=$ROOT/$BUILD/bench/commit
CONTROLD=$ROOT/$BUILD/bin/controld
WRITES=${WRITES:-5000}
CLIENTS=${CLIENTS:-1,16,64}
ROUNDS=${ROUNDS:-10}
RESTARTS=${RESTARTS:-10}
FUTEX=${FUTEX:-2000}
NOSNAP=${NOSNAP:-1}
LIMIT=${LIMIT:-400} # seconds per system, whatever happens

for f in "$BENCH" "$CONTROLD"; do
	if [ ! -x "$f" ]; then
		echo "commit.sh: $f missing: run make && make $BUILD/bench/commit" >&2
		exit 2
	fi
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/af-commit.XXXXXX")
RUNNING=
OK=0
cleanup() {
	# The bench stops its nodes on SIGTERM, and they die with it anyway
	# (PR_SET_PDEATHSIG); this only has to stop the bench.
	if [ -n "$RUNNING" ]; then
		kill "$RUNNING" 2>/dev/null || true
		wait "$RUNNING" 2>/dev/null || true
	fi
	if [ "$OK" -eq 1 ]; then
		rm -rf "$TMP"
	else
		echo "commit.sh: failed; node logs kept in $TMP" >&2
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Ports PORT_BASE..PORT_BASE+59 on loopback, below the kernel's ephemeral
# range (32768-60999), so no outgoing connection can hold one of them.
PORT_BASE=${PORT_BASE:-23000}
check_ports() {
	used=$(ss -Htan exclude time-wait 2>/dev/null | awk '{ n = split($4, a, ":"); print a[n] }')
	for u in $used; do
		if [ "$u" -ge "$PORT_BASE" ] && [ "$u" -lt $((PORT_BASE + 60)) ]; then
			echo "commit.sh: port $u (in PORT_BASE=$PORT_BASE..+59) is in use: stop what holds it or set PORT_BASE" >&2
			exit 2
		fi
	done
}
check_ports

# run_bench LOG ARGS...: the bench in the background so the trap can stop it.
run_bench() {
	log=$1
	shift
	timeout "$LIMIT" "$BENCH" -n "$CLIENTS" -w "$WRITES" "$@" \
		>"$log" 2>"$log.err" &
	RUNNING=$!
	status=0
	wait "$RUNNING" || status=$?
	RUNNING=
	grep -E '^(commit|failover|restart|futex) ' "$log" || true
	if [ $status -ne 0 ]; then
		echo "commit.sh: bench failed ($status):" >&2
		tail -n 20 "$log.err" >&2
		return 1
	fi
}

# ---------------------------------------------------------------- af
if [ -n "${BEFORE:-}" ]; then
	bench_cluster "$TMP/afb/cluster.yaml" "$PORT_BASE" "${SNAP:-}"
	echo "== af before ($BEFORE), 3 nodes, $TMP/afb" >&2
	run_bench "$TMP/afb.out" -c "$TMP/afb/cluster.yaml" --label afb \
		--futex "$FUTEX" --restarts 0 --failover 0 \
		--launch "'$BEFORE/bin/controld' -c '$TMP/afb/cluster.yaml' --id %d 2>>'$TMP/afb/node%d.log'" >&2
fi
bench_cluster "$TMP/af/cluster.yaml" "$PORT_BASE" "${SNAP:-}"
echo "== af (controld), 3 nodes, $TMP/af" >&2
run_bench "$TMP/af.out" -c "$TMP/af/cluster.yaml" --label af \
	--futex "$FUTEX" --restarts "$RESTARTS" --failover "$ROUNDS" \
	--launch "'$CONTROLD' -c '$TMP/af/cluster.yaml' --id %d 2>>'$TMP/af/node%d.log'" >&2
if [ "$NOSNAP" -eq 1 ]; then
	# The same load with snapshots out of the way (threshold above the
	# run's entries): the commit path alone.
	bench_cluster "$TMP/afns/cluster.yaml" $((PORT_BASE + 20)) 100000000
	echo "== af (controld), snapshot_threshold 100000000, $TMP/afns" >&2
	run_bench "$TMP/afns.out" -c "$TMP/afns/cluster.yaml" --label afns \
		--launch "'$CONTROLD' -c '$TMP/afns/cluster.yaml' --id %d 2>>'$TMP/afns/node%d.log'" >&2
fi

# -------------------------------------------------------------- etcd
if [ "${ETCD:-1}" = 0 ]; then
	: >"$TMP/etcd.out"
	ETCD_VERSION=off
else
if ! command -v etcd >/dev/null 2>&1; then
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "== installing etcd-server" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q etcd-server >&2
	else
		echo "commit.sh: etcd missing: apt-get install etcd-server" >&2
		exit 2
	fi
fi
ETCD_VERSION=$(etcd --version 2>/dev/null | sed -n 's/^etcd Version: //p')
base=$((PORT_BASE + 40))
mkdir -p "$TMP/etcd"
cluster=
urls=
for i in 1 2 3; do
	cluster="${cluster:+$cluster,}m$i=http://127.0.0.1:$((base + i * 2 + 1))"
	urls="${urls:+$urls,}http://127.0.0.1:$((base + i * 2))"
done
cat >"$TMP/etcd/member.sh" <<EOF
#!/bin/sh
# etcd member \$1 of 3, on loopback, same Raft timing as the af cluster.
i=\$1
client=http://127.0.0.1:\$(($base + i * 2))
peer=http://127.0.0.1:\$(($base + i * 2 + 1))
exec etcd --name m\$i --data-dir '$TMP/etcd/m'\$i \\
	--listen-client-urls \$client --advertise-client-urls \$client \\
	--listen-peer-urls \$peer --initial-advertise-peer-urls \$peer \\
	--initial-cluster '$cluster' --initial-cluster-token afbench \\
	--initial-cluster-state new \\
	--heartbeat-interval 100 --election-timeout 1000 --pre-vote=true \\
	--logger zap --log-level warn 2>>'$TMP/etcd/m'\$i.log
EOF
echo "== etcd $ETCD_VERSION, 3 members, $TMP/etcd" >&2
run_bench "$TMP/etcd.out" --etcd "$urls" --label etcd \
	--futex "$FUTEX" --restarts "$RESTARTS" --failover "$ROUNDS" \
	--launch "sh '$TMP/etcd/member.sh' %d" >&2
fi

# ------------------------------------------------------------- table
files="$TMP/af.out $TMP/etcd.out"
if [ "$NOSNAP" -eq 1 ]; then
	files="$TMP/af.out $TMP/afns.out $TMP/etcd.out"
fi
[ -n "${BEFORE:-}" ] && files="$files $TMP/afb.out"
# shellcheck disable=SC2086
awk -v ev="$ETCD_VERSION" -v w="$WRITES" -v r="$ROUNDS" -v rs="$RESTARTS" \
	-v fx="$FUTEX" -v before="${BEFORE:-}" '
function field(line, name,    n, i, kv) {
	n = split(line, kv, " ")
	for (i = 3; i <= n; i++)
		if (index(kv[i], name "=") == 1)
			return substr(kv[i], length(name) + 2)
	return "-"
}
function v(a, k) { return (k in a) ? a[k] : "-" }
function ratio(x, y) { return (x + 0 > 0 && y + 0 > 0) ? sprintf("%.2fx", x / y) : "-" }
function row(name, a, k, rat) {
	printf "%-36s %-20s %-20s %-20s %s\n", name, v(a, "af" SUBSEP k),
		v(a, "afns" SUBSEP k), v(a, "etcd" SUBSEP k), rat
}
$1 == "commit" { c = field($0, "clients"); sys = $2
	cps[sys, c] = field($0, "commits_per_s")
	p50[sys, c] = field($0, "p50_ms"); p99[sys, c] = field($0, "p99_ms")
	lat[sys, c] = field($0, "p50_ms") " / " field($0, "p99_ms") " / " field($0, "max_ms")
	cs[sys, c] = field($0, "leader_ctxsw_per_commit")
	if (!(c in seen)) { seen[c] = 1; order[++nc] = c } }
$1 == "futex" { fu[$2, field($0, "clients")] = field($0, "per_commit") }
$1 == "failover" { fo[$2, 0] = field($0, "median_ms") " / " field($0, "max_ms")
	fom[$2] = field($0, "median_ms"); el[$2, 0] = field($0, "leader_median_ms") }
$1 == "restart" { rt[$2, 0] = field($0, "median_ms") " / " field($0, "max_ms")
	rtm[$2] = field($0, "median_ms"); bx[$2, 0] = field($0, "bad_exits") }
END {
	printf "\ncommit path, 3 nodes on 127.0.0.1, %s writes per run\n", w
	printf "(af: Command{noop} over NNG; etcd %s: 16-byte put via the v3 JSON gateway;\n", ev
	printf " af-nosnap: snapshot_threshold 100000000; ratio: af / etcd)\n\n"
	printf "%-36s %-20s %-20s %-20s %s\n", "", "af (controld)", "af-nosnap", "etcd " ev, "ratio"
	for (i = 1; i <= nc; i++) {
		c = order[i]
		row(c " client(s): commits/s", cps, c, ratio(cps["af", c], cps["etcd", c]))
		row(c " client(s): p50 / p99 / max ms", lat, c, "p99/p50 af " ratio(p99["af", c], p50["af", c]) " nosnap " ratio(p99["afns", c], p50["afns", c]) " etcd " ratio(p99["etcd", c], p50["etcd", c]))
		row(c " client(s): leader ctx sw/commit", cs, c, "")
	}
	row("futex calls/commit, 1 client (" fx ")", fu, 1, "")
	row("futex calls/commit, 16 clients", fu, 16, "")
	row("SIGTERM leader (" rs "): median / max ms", rt, 0, ratio(rtm["af"], rtm["etcd"]))
	row("  of which exited non-zero", bx, 0, "")
	row("SIGKILL leader (" r "): median / max ms", fo, 0, ratio(fom["af"], fom["etcd"]))
	row("  of which new leader: median ms", el, 0, "")
	if (before == "")
		exit
	printf "\nbefore (%s) / this build, same run:\n", before
	for (i = 1; i <= nc; i++) {
		c = order[i]
		printf "%-36s %-20s %-20s %s\n", c " client(s): commits/s", v(cps, "afb" SUBSEP c), v(cps, "af" SUBSEP c), ratio(cps["af", c], cps["afb", c])
	}
	for (c = 1; c <= 16; c += 15)
		printf "%-36s %-20s %-20s %s\n", "futex calls/commit, " c " client(s)", v(fu, "afb" SUBSEP c), v(fu, "af" SUBSEP c), ratio(fu["af", c], fu["afb", c])
}' $files
OK=1
