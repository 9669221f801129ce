#!/bin/sh
# af policy simulate over a generated decision log: build/bench/dlog_gen
# writes N records (default 1,000,000) the way routerd logs them (the
# example policy and registry, six request shapes, varying lane fill,
# cooldowns and latency), then the replay runs on one core (taskset -c 0)
# twice, offline: against the same bundle (0 changed, every record
# reproduced) and against a candidate whose default rule routes to
# frontier. Prints records/s of each run and the log's bytes per decision.
#
# Needs `make` and `make build/bench/dlog_gen`. Env: BUILD, N (1000000),
# DIR (a temporary directory, removed afterwards).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
N=${N:-1000000}
E=$ROOT/deploy/examples
AF=$ROOT/$BUILD/bin/af
T=$(mktemp -d /tmp/af-simulate.XXXXXX)
trap 'rm -rf "$T"' EXIT
sed 's/^    route: { tier: mid, fallback_tiers: \[small\] }$/    route: { tier: frontier, fallback_tiers: [mid] }/' \
	"$E/policy.yaml" >"$T/cand.yaml"
"$ROOT/$BUILD/bench/dlog_gen" "$E/policy.yaml" "$E/models.yaml" "$T/log" "$N"
bytes=$(cat "$T"/log/*.jsonl | wc -c)
echo "log: $N records, $bytes bytes, $((bytes / N)) bytes per decision"

run() {
	t0=$(date +%s%N)
	taskset -c 0 "$AF" policy simulate -f "$1" --baseline-file "$E/policy.yaml" \
		--models "$E/models.yaml" --log "$T/log" -o json >"$T/out"
	ms=$((($(date +%s%N) - t0) / 1000000))
	jq -r --arg name "$2" --argjson ms "$ms" '"\($name): \(.requests) records in \($ms) ms, \((.requests * 1000 / $ms) | floor) records/s; changed \(.changed), reproduced \(.baseline_reproduced)"' "$T/out"
}
run "$E/policy.yaml" "same bundle"
run "$T/cand.yaml" "candidate"
