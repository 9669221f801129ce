#!/bin/sh
# Commit path of controld next to etcd 3.4, one after the other on this
# machine: 3 nodes on loopback each, heartbeat 100 ms, election timeout
# 1000 ms, pre-vote on. For each: WRITES acknowledged writes with 1 and with
# 16 concurrent clients, then ROUNDS leader failovers (SIGKILL the leader,
# time to the next acknowledged write, restart it, wait until it caught up).
# Prints one table. Assumes `make` and `make bench`-built binaries
# (build/bin/controld, build/bench/commit); builds nothing.
#
#   sh bench/commit.sh            WRITES=5000 CLIENTS=1,16 ROUNDS=10
#
# Installs etcd-server with apt-get when it is missing and we are root.
# Every process started here is stopped on exit; only 127.0.0.1 is used.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
BENCH=$ROOT/$BUILD/bench/commit
CONTROLD=$ROOT/$BUILD/bin/controld
WRITES=${WRITES:-5000}
CLIENTS=${CLIENTS:-1,16}
ROUNDS=${ROUNDS:-10}
LIMIT=${LIMIT:-240} # seconds per system, whatever happens

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

# A base port with BASE+0..BASE+39 free on loopback.
free_base() {
	used=$(ss -Htan 2>/dev/null | awk '{ n = split($4, a, ":"); print a[n] }')
	for try in 1 2 3 4 5 6 7 8 9 10; do
		base=$(( ($$ * 7919 + try * 104729 + $(date +%N | sed 's/^0*//;s/^$/0/')) % 20000 + 30000 ))
		clash=0
		for u in $used; do
			if [ "$u" -ge "$base" ] && [ "$u" -lt $((base + 40)) ]; then
				clash=1
				break
			fi
		done
		if [ $clash -eq 0 ]; then
			echo "$base"
			return 0
		fi
	done
	echo "commit.sh: no free port range" >&2
	return 1
}

# run_bench LOG ARGS...: the bench in the background so the trap can stop it.
run_bench() {
	log=$1
	shift
	timeout "$LIMIT" "$BENCH" -n "$CLIENTS" -w "$WRITES" \
		--failover "$ROUNDS" "$@" >"$log" 2>"$log.err" &
	RUNNING=$!
	status=0
	wait "$RUNNING" || status=$?
	RUNNING=
	grep -E '^(commit|failover) ' "$log" || true
	if [ $status -ne 0 ]; then
		echo "commit.sh: bench failed ($status):" >&2
		tail -n 20 "$log.err" >&2
		return 1
	fi
}

# ---------------------------------------------------------------- af
base=$(free_base)
mkdir -p "$TMP/af"
{
	echo "cluster: bench"
	echo "nodes:"
	for i in 1 2 3; do
		p=$((base + i * 4))
		echo "  - id: $i"
		echo "    raft: 127.0.0.1:$p"
		echo "    api: tcp://127.0.0.1:$((p + 1))"
		echo "    pub: tcp://127.0.0.1:$((p + 2))"
		echo "    http: 127.0.0.1:$((p + 3))"
		echo "    data: ./node$i"
	done
	echo "raft:"
	echo "  heartbeat_ms: 100"
	echo "  election_timeout_ms: 1000"
} >"$TMP/af/cluster.yaml"
echo "== af (controld), 3 nodes, $TMP/af" >&2
run_bench "$TMP/af.out" -c "$TMP/af/cluster.yaml" --label af \
	--launch "'$CONTROLD' -c '$TMP/af/cluster.yaml' --id %d 2>>'$TMP/af/node%d.log'" >&2

# -------------------------------------------------------------- etcd
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
base=$(free_base)
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
	--launch "sh '$TMP/etcd/member.sh' %d" >&2

# ------------------------------------------------------------- table
awk -v ev="$ETCD_VERSION" -v w="$WRITES" -v r="$ROUNDS" '
function field(line, name,    n, i, kv) {
	n = split(line, kv, " ")
	for (i = 3; i <= n; i++)
		if (index(kv[i], name "=") == 1)
			return substr(kv[i], length(name) + 2)
	return "-"
}
$1 == "commit" { c = field($0, "clients"); sys = $2
	cps[sys, c] = field($0, "commits_per_s")
	lat[sys, c] = field($0, "p50_ms") " / " field($0, "p99_ms") " / " field($0, "max_ms")
	if (!(c in seen)) { seen[c] = 1; order[++nc] = c } }
$1 == "failover" { fo[$2] = field($0, "median_ms") " / " field($0, "max_ms")
	el[$2] = field($0, "leader_median_ms") }
END {
	printf "\ncommit path, 3 nodes on 127.0.0.1, %s writes per run\n", w
	printf "(af: Command{noop} over NNG; etcd %s: 16-byte put via the v3 JSON gateway)\n\n", ev
	printf "%-34s %-22s %-22s\n", "", "af (controld)", "etcd " ev
	for (i = 1; i <= nc; i++) {
		c = order[i]
		printf "%-34s %-22s %-22s\n", c " client(s): commits/s", cps["af", c], cps["etcd", c]
		printf "%-34s %-22s %-22s\n", c " client(s): p50 / p99 / max ms", lat["af", c], lat["etcd", c]
	}
	printf "%-34s %-22s %-22s\n", "failover (" r "): median / max ms", fo["af"], fo["etcd"]
	printf "%-34s %-22s %-22s\n", "  of which new leader: median ms", el["af"], el["etcd"]
}' "$TMP/af.out" "$TMP/etcd.out"
OK=1
