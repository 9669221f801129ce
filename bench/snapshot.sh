#!/bin/sh
# Snapshots of a large state and the commit path: build/bench/snapshot
# applies REVISIONS policy revisions (distinct bundles) through the state
# machine, each stamped with history.revisions KEEP (0: every bundle kept,
# the state before history retention; with UPGRADE=N, the REVISIONS are
# applied without retention and N more with KEEP: a store upgraded after
# its history grew), prints the store-level figures (snapshot size, bytes per
# revision, time on the applying thread, per-entry apply time with
# snapshots) and writes a backup. Then, one after the other, 3-node
# clusters on loopback start from that backup (`controld --restore`) and
# take CLIENTS-client Command{noop} writes (build/bench/commit):
#   - snapshots on: snapshot_threshold THRESHOLD, so a snapshot of the whole
#     state every THRESHOLD entries;
#   - snapshots off: threshold 100000, the reference in the same run;
#   - with BASE_CONTROLD=path, that binary with snapshots on (before/after).
# Prints p50 / p99 / max commit latency, the ratios to the reference, the
# nodes' highest RSS and the size of a snapshot file on disk.
#
#   sh bench/snapshot.sh     REVISIONS=10000 KEEP=1000 UPGRADE=0 THRESHOLD=256
#                            WRITES=8000 CLIENTS=16 PORT_BASE=26000
#
# Assumes `make` and `make bench`-built binaries (build/bin/controld,
# build/bench/commit, build/bench/snapshot); builds nothing. Every process
# started here is stopped on exit; only 127.0.0.1 is used.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib/bench.sh"
BUILD=${BUILD:-build}
SNAP=$ROOT/$BUILD/bench/snapshot
COMMIT=$ROOT/$BUILD/bench/commit
CONTROLD=$ROOT/$BUILD/bin/controld
BASE_CONTROLD=${BASE_CONTROLD:-}
REVISIONS=${REVISIONS:-10000}
KEEP=${KEEP:-1000}
UPGRADE=${UPGRADE:-0}
THRESHOLD=${THRESHOLD:-256}
WRITES=${WRITES:-8000}
CLIENTS=${CLIENTS:-16}
PORT_BASE=${PORT_BASE:-26000}
LIMIT=${LIMIT:-300} # seconds per cluster, whatever happens

for f in "$SNAP" "$COMMIT" "$CONTROLD" ${BASE_CONTROLD:+"$BASE_CONTROLD"}; do
	if [ ! -x "$f" ]; then
		echo "snapshot.sh: $f missing: run make && make bench" >&2
		exit 2
	fi
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/af-snapshot.XXXXXX")
RUNNING=
SAMPLER=
OK=0
cleanup() {
	for p in $RUNNING $SAMPLER; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	if [ "$OK" -eq 1 ]; then
		rm -rf "$TMP"
	else
		echo "snapshot.sh: failed; logs kept in $TMP" >&2
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

echo "== state: $REVISIONS policy revisions, history.revisions $KEEP" >&2
"$SNAP" -r "$REVISIONS" -k "$KEEP" -u "$UPGRADE" -t "$THRESHOLD" -o "$TMP/backup.db" \
	>"$TMP/store.out"
cat "$TMP/store.out"

# Highest VmRSS / VmHWM (kB) of the pids in the files DIR/node*.pid, every
# 0.2 s, into DIR/rss, until killed.
sample_rss() {
	dir=$1
	rss=0
	hwm=0
	while :; do
		for f in "$dir"/node*.pid; do
			[ -f "$f" ] || continue
			st=/proc/$(cat "$f")/status
			r=$(awk '/^VmRSS:/ { print $2 }' "$st" 2>/dev/null || echo 0)
			h=$(awk '/^VmHWM:/ { print $2 }' "$st" 2>/dev/null || echo 0)
			[ "${r:-0}" -gt "$rss" ] && rss=$r
			[ "${h:-0}" -gt "$hwm" ] && hwm=$h
		done
		echo "$rss $hwm" >"$dir/rss"
		sleep 0.2
	done
}

# run NAME BINARY THRESHOLD BASE: one cluster, restored from the backup.
run() {
	name=$1
	bin=$2
	thr=$3
	base=$4
	dir=$TMP/$name
	bench_cluster "$dir/cluster.yaml" $((base + 4)) "$thr"
	cat >"$dir/node.sh" <<EOF
#!/bin/sh
echo \$\$ >'$dir'/node\$1.pid
exec '$bin' -c '$dir/cluster.yaml' --id \$1 --restore '$TMP/backup.db' \\
	2>>'$dir'/node\$1.log
EOF
	echo "== $name: $bin, snapshot_threshold $thr" >&2
	sample_rss "$dir" &
	SAMPLER=$!
	status=0
	timeout "$LIMIT" "$COMMIT" -c "$dir/cluster.yaml" -n "$CLIENTS" \
		-w "$WRITES" --label "$name" --launch "sh '$dir/node.sh' %d" \
		>"$dir/out" 2>"$dir/err" &
	RUNNING=$!
	wait "$RUNNING" || status=$?
	RUNNING=
	kill "$SAMPLER" 2>/dev/null || true
	wait "$SAMPLER" 2>/dev/null || true
	SAMPLER=
	if [ $status -ne 0 ]; then
		echo "snapshot.sh: $name: bench failed ($status):" >&2
		tail -n 20 "$dir/err" >&2
		return 1
	fi
	snap=$(ls -S "$dir"/node*/raft/snapshot-* 2>/dev/null |
		grep -v '\.meta$' | head -1 || true)
	size=$([ -n "$snap" ] && stat -c %s "$snap" || echo 0)
	echo "$(grep '^commit ' "$dir/out") rss_kb=$(cut -d' ' -f1 "$dir/rss") hwm_kb=$(cut -d' ' -f2 "$dir/rss") snapshot_file_bytes=$size" \
		>>"$TMP/cluster.out"
}

run on "$CONTROLD" "$THRESHOLD" "$PORT_BASE"
run off "$CONTROLD" 100000 $((PORT_BASE + 40))
if [ -n "$BASE_CONTROLD" ]; then
	run base "$BASE_CONTROLD" "$THRESHOLD" $((PORT_BASE + 80))
fi

awk -v thr="$THRESHOLD" -v w="$WRITES" -v c="$CLIENTS" '
function field(line, name,    n, i, kv) {
	n = split(line, kv, " ")
	for (i = 3; i <= n; i++)
		if (index(kv[i], name "=") == 1)
			return substr(kv[i], length(name) + 2)
	return "-"
}
{ sys = $2; order[++n] = sys
	cps[sys] = field($0, "commits_per_s"); p50[sys] = field($0, "p50_ms")
	p99[sys] = field($0, "p99_ms"); mx[sys] = field($0, "max_ms")
	rss[sys] = field($0, "rss_kb"); hwm[sys] = field($0, "hwm_kb")
	sz[sys] = field($0, "snapshot_file_bytes") }
END {
	printf "\ncommit path with snapshots: 3 nodes on 127.0.0.1, %s clients, %s writes,\n", c, w
	printf "started from the state above; \"on\": a snapshot every %s entries,\n", thr
	printf "\"off\": none (the reference), \"base\": BASE_CONTROLD with snapshots on\n\n"
	printf "%-6s %-10s %-26s %-12s %-12s %-16s %s\n", "run", "commits/s", "p50 / p99 / max ms", "p99/p50", "max/off max", "max RSS / HWM MB", "snapshot file MB"
	for (i = 1; i <= n; i++) {
		s = order[i]
		printf "%-6s %-10s %-26s %-12.1f %-12.1f %-16s %.1f\n", s, cps[s],
			p50[s] " / " p99[s] " / " mx[s], p99[s] / p50[s],
			mx[s] / mx["off"], sprintf("%.0f / %.0f", rss[s] / 1024, hwm[s] / 1024),
			sz[s] / 1e6
	}
}' "$TMP/cluster.out"
OK=1
