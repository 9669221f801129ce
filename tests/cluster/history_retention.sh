#!/bin/sh
# History retention: with `history: {revisions: 20}`, 30 revisions leave
# the bundles of the newest 20 (every node the same); the older revisions
# keep their record and show as pruned in `af policy history` (JSON
# `pruned`, a table marks the message); `af policy get` and `af policy
# rollback --to` of a pruned revision fail with an error naming the
# setting; an identical bundle applied again is a new revision sharing
# the stored body; a restarted node holds the same.
. "$(dirname "$0")/../lib/cluster.sh"
APPLY_MANY="$ROOT/$BUILD/tests/tools/apply_many"
[ -x "$APPLY_MANY" ] || fail "build $APPLY_MANY first"

cl_init histret 3 "history:
  revisions: 20"
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
"$APPLY_MANY" "$CL_FILE" "$EXAMPLES/policy.yaml" 30 >/dev/null || fail "apply_many"
cl_wait_converged 3

# Every node: revisions 1..10 pruned, 11..30 kept.
for i in 1 2 3; do
	h=$("$AF" --endpoints "$(cl_api $i)" --stale policy history --limit 1000 -o json)
	p=$(echo "$h" | jq -c '[.revisions[] | select(.pruned) | .revision] | sort')
	k=$(echo "$h" | jq -c '[.revisions[] | select(.pruned | not) | .revision] | length')
	[ "$p" = "[1,2,3,4,5,6,7,8,9,10]" ] && [ "$k" = 20 ] ||
		fail "node $i: pruned $p, kept $k"
done
note "every node pruned revisions 1-10 and kept 11-30"
cl_af policy history --limit 30 | grep '^5 ' | grep -q '(bundle pruned)' ||
	fail "table: no mark on a pruned revision: $(cl_af policy history --limit 30 | grep '^5 ')"

expect_fail() { # expect_fail PATTERN ARGS...
	pat=$1
	shift
	set +e
	cl_af "$@" >"$CL_DIR/o" 2>"$CL_DIR/e"
	got=$?
	set -e
	[ "$got" != 0 ] || fail "$*: succeeded"
	grep -q -- "$pat" "$CL_DIR/e" || fail "$*: unclear error: $(cat "$CL_DIR/e")"
}
expect_fail "revision 5: its bundle was pruned by the history retention (cluster file: history.revisions 20" \
	policy get 5
expect_fail "history.revisions" policy rollback --to 5
cl_af policy get 11 | grep -q '^name: gen-11' || fail "revision 11 has no source"

# The bundle of revision 12 applied again: a new revision (31) with the
# same hash, stored once; it keeps revision 12's body in the window.
sed 's/^name: .*/name: gen-12/' "$EXAMPLES/policy.yaml" >"$CL_DIR/gen12.yaml"
h12=$(cl_af policy history --limit 1000 -o json | jq -r '.revisions[] | select(.revision == 12) | .hash')
r=$(cl_af policy apply -f "$CL_DIR/gen12.yaml" -o json)
echo "$r" | jq -e --arg h "$h12" '.revision == 31 and .hash == $h' >/dev/null ||
	fail "re-apply of revision 12's bundle: $r"
h=$(cl_af policy history --limit 1000 -o json)
# Window 12..31: 11 pruned now; 12 shares the body of 31.
echo "$h" | jq -e '(.revisions[] | select(.revision == 11) | .pruned) == true and
	(.revisions[] | select(.revision == 12) | .pruned) == false' >/dev/null ||
	fail "after the re-apply: $(echo "$h" | jq -c '[.revisions[] | select(.revision <= 13) | [.revision, .pruned]]')"

# A restarted node comes back with the same history.
cl_stop 2
cl_wait_exit 2
cl_start 2
cl_wait_converged 3
a=$("$AF" --endpoints "$(cl_api 1)" --stale policy history --limit 1000 -o json | jq -c '[.revisions[] | [.revision, .pruned]]')
b=$("$AF" --endpoints "$(cl_api 2)" --stale policy history --limit 1000 -o json | jq -c '[.revisions[] | [.revision, .pruned]]')
[ "$a" = "$b" ] || fail "node 2 after its restart differs"
echo "PASS history_retention"
