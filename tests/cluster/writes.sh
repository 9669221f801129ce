#!/bin/sh
# The leader's write path against requests the CLI never sends: empty
# sources (NULL bytes) refused and the leader keeps serving; dry runs
# change nothing; a Propose resent with the same request id is applied
# once and answers the stored result; rollback to revisions 6 and 7 (the
# values of two rollout actions) works.
. "$(dirname "$0")/../lib/cluster.sh"

RAW="$ROOT/$BUILD/tests/tools/afraw"
[ -x "$RAW" ] || fail "$RAW missing: make $BUILD/tests/tools/afraw"

cl_init writes
for i in 1 2 3; do cl_start $i; done
leader=$(cl_wait_leader)
api=$(cl_api "$leader")
term=$("$RAW" "$api" status | sed -n 's/.* term=\([0-9]*\).*/\1/p')
note "leader is node $leader, term $term"

policy() { # policy N FILE: a distinct bundle per N
	sed "s/latency_slo_ms: 1500/latency_slo_ms: $((1500 + $1))/" \
		"$EXAMPLES/policy.yaml" >"$2"
}
history_len() { cl_af policy history -o json | jq ".revisions | length"; }

# --- empty sources: protobuf-c hands empty bytes over as NULL
out=$("$RAW" "$api" hex 08015a025a00)
echo "$out" | grep -q '^code=INVALID msg="empty bundle source' ||
	fail "empty bundle source: $out"
out=$("$RAW" "$api" hex 08015a026a00)
echo "$out" | grep -q '^code=INVALID msg="empty model file source' ||
	fail "empty model source: $out"
cl_alive "$leader" || fail "the leader died on an empty source"
out=$("$RAW" "$api" status)
echo "$out" | grep -q "term=$term role=leader" ||
	fail "the leader must still lead in term $term: $out"

cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null || fail "models"

# --- dry run: what would happen, nothing proposed
policy 1 "$CL_DIR/p1.yaml"
out=$("$RAW" "$api" policy "$CL_DIR/p1.yaml" - dry)
echo "$out" | grep -q '^code=OK .* revision=1 .*unchanged=0 replayed=0 dry_run=1 state=stable' ||
	fail "dry run: $out"
[ "$(history_len)" = 0 ] || fail "a dry run created a revision"

# --- idempotent writes: the same id twice is one revision
out1=$("$RAW" "$api" policy "$CL_DIR/p1.yaml" req-0001)
echo "$out1" | grep -q '^code=OK .* revision=1 .*replayed=0' ||
	fail "first apply: $out1"
idx1=$(echo "$out1" | sed -n 's/.* index=\([0-9]*\).*/\1/p')
out2=$("$RAW" "$api" policy "$CL_DIR/p1.yaml" req-0001)
echo "$out2" | grep -q "^code=OK .* revision=1 index=$idx1 .*replayed=1" ||
	fail "resent apply must replay the stored result: $out2"
# Even other content under a used id is the stored result, not a write.
policy 2 "$CL_DIR/p2.yaml"
out=$("$RAW" "$api" policy "$CL_DIR/p2.yaml" req-0001)
echo "$out" | grep -q "revision=1 index=$idx1 .*replayed=1" ||
	fail "a used id must not write again: $out"
[ "$(history_len)" = 1 ] || fail "duplicates created revisions"
n=$(cl_af audit -o json | jq '[.records[] | select(.verb == "policy.apply")] | length')
[ "$n" = 1 ] || fail "one audit record expected, got $n"
long=$(printf '%065d' 0)
out=$("$RAW" "$api" policy "$CL_DIR/p2.yaml" "$long")
echo "$out" | grep -q '^code=INVALID msg="request id longer than 64' ||
	fail "65-byte request id: $out"
# A dry run of the stable content says unchanged.
out=$("$RAW" "$api" policy "$CL_DIR/p1.yaml" - dry)
echo "$out" | grep -q 'revision=1 .*unchanged=1 replayed=0 dry_run=1' ||
	fail "dry run of the stable bundle: $out"

# --- rollback --to 6 and --to 7 (ADVANCE and AUTO_ABORT as numbers)
for r in 2 3 4 5 6 7 8; do
	policy "$r" "$CL_DIR/p$r.yaml"
	cl_af policy apply -f "$CL_DIR/p$r.yaml" -o json |
		jq -e ".revision == $r" >/dev/null || fail "apply revision $r"
done
for to in 6 7; do
	out=$(cl_af policy rollback --to $to -o json) ||
		fail "rollback --to $to refused: $out"
	echo "$out" | jq -e ".revision == $to" >/dev/null ||
		fail "rollback --to $to: $out"
done
out=$("$RAW" "$api" rollback 6 rb-1)
echo "$out" | grep -q '^code=OK .* revision=6 .*replayed=0' || fail "rb: $out"
out=$("$RAW" "$api" rollback 6 rb-1)
echo "$out" | grep -q 'revision=6 .*replayed=1' || fail "rb replay: $out"

# --- bounded usage reports and names in writes, refused at the leader
out=$("$RAW" "$api" usage 1 9223372036854775807)
echo "$out" | grep -q '^code=INVALID msg="usage report row 0: cost_nano_usd' ||
	fail "huge cost: $out"
out=$("$RAW" "$api" usage 18446744073709551615 0)
echo "$out" | grep -q '^code=INVALID msg="usage report row 0: count' ||
	fail "huge count: $out"
out=$("$RAW" "$api" usage 10 5000)
echo "$out" | grep -q '^code=OK' || fail "a sane usage report: $out"
out=$("$RAW" "$api" budget "../etc")
echo "$out" | grep -q '^code=INVALID msg="budget tenant: the name contains a "." or ".." path segment' ||
	fail "tenant ../etc: $out"
out=$("$RAW" "$api" budget "$(printf 'a\033b')")
echo "$out" | grep -q 'control character (0x1b)' || fail "tenant ESC: $out"
cl_af budget list -o json | jq -e 'length == 0' >/dev/null ||
	fail "a refused budget was stored"

out=$("$RAW" "$api" status)
echo "$out" | grep -q "term=$term role=leader" ||
	fail "no election expected during the scenario: $out"
cl_wait_converged 3
note "writes: ok"
