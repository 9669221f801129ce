#!/bin/sh
# `af policy history` and `af audit` are paged: --limit N (default 100, at
# most 1000) newest first, --after CURSOR for the next page, the cursor in
# -o json/-o yaml as next_after (null on the last page) and as a hint line
# under a table. 250 revisions: the pages cover every revision once, in
# order, and end; bad cursors and limits are refused with a clear error.
. "$(dirname "$0")/../lib/cluster.sh"
APPLY_MANY="$ROOT/$BUILD/tests/tools/apply_many"
[ -x "$APPLY_MANY" ] || fail "build $APPLY_MANY first"

cl_init history 3
if [ -n "${AF_PORT_BASE:-}" ]; then
	# shellcheck disable=SC2034 # read by cl_write_file
	CL_BASE=$AF_PORT_BASE
	cl_write_file "$CL_FILE" 3 ""
fi
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
"$APPLY_MANY" "$CL_FILE" "$EXAMPLES/policy.yaml" 250 || fail "apply_many"

# Default page: the newest 100, then the cursor.
p=$(cl_af policy history -o json)
echo "$p" | jq -e '(.revisions | length) == 100 and
	.revisions[0].revision == 250 and .revisions[99].revision == 151 and
	.next_after == 151' >/dev/null || fail "first page: $(echo "$p" | jq -c '[.revisions[0].revision, (.revisions | length), .next_after]')"
echo "$p" | jq -e '.revisions[0] | has("hash") and has("author") and
	has("time") and has("message") and has("state")' >/dev/null ||
	fail "a revision lost a field: $(echo "$p" | jq -c '.revisions[0]')"

# Following the cursor: every revision once, newest first, then the end.
after=
: >"$CL_DIR/revs"
pages=0
while :; do
	p=$(cl_af policy history --limit 70 ${after:+--after "$after"} -o json)
	echo "$p" | jq -r '.revisions[].revision' >>"$CL_DIR/revs"
	pages=$((pages + 1))
	after=$(echo "$p" | jq -r '.next_after // empty')
	[ -n "$after" ] || break
	[ $pages -lt 10 ] || fail "pages do not end"
done
[ $pages = 4 ] || fail "250 revisions in pages of 70: $pages pages"
seq 250 -1 1 | cmp -s - "$CL_DIR/revs" || fail "pages do not cover 250..1 once in order"

# A last page that is exactly full: no cursor after it.
cl_af policy history --limit 50 --after 51 -o json | jq -e \
	'(.revisions | length) == 50 and .revisions[49].revision == 1 and
	 .next_after == null' >/dev/null || fail "exact last page"
cl_af policy history --limit 1 --after 2 -o yaml | grep -q '^next_after: null' ||
	fail "yaml: no next_after"

# Tables: the rows, then the command for the next page.
cl_af policy history --limit 10 >"$CL_DIR/t"
[ "$(grep -c '^[0-9]' "$CL_DIR/t")" = 10 ] || fail "table rows: $(cat "$CL_DIR/t")"
tail -1 "$CL_DIR/t" | grep -q "af policy history --limit 10 --after 241" ||
	fail "no hint line: $(tail -1 "$CL_DIR/t")"
cl_af policy history --after 5 >"$CL_DIR/t"
grep -q -- "--after" "$CL_DIR/t" && fail "a hint on the last page"

# Bad cursors and limits: a clear error, the right exit code.
expect() { # expect EXIT PATTERN ARGS...
	want=$1 pat=$2
	shift 2
	set +e
	cl_af "$@" >"$CL_DIR/o" 2>"$CL_DIR/e"
	got=$?
	set -e
	[ "$got" = "$want" ] || fail "$*: exit $got, want $want: $(cat "$CL_DIR/e")"
	grep -q -- "$pat" "$CL_DIR/e" || fail "$*: unclear error: $(cat "$CL_DIR/e")"
}
expect 1 "no revision 999: --after takes the next_after" policy history --after 999
expect 2 "--after takes" policy history --after abc
expect 2 "--after takes" policy history --after 0
expect 2 "--limit takes 1 to 1000" policy history --limit 0
expect 2 "--limit takes 1 to 1000" policy history --limit 1001
expect 1 "no audit record 999999" audit --after 999999
expect 2 "--limit takes 1 to 1000" audit --limit x

# Audit: pages by index, newest first, the same records as one big page.
all=$(cl_af audit --limit 1000 -o json)
n=$(echo "$all" | jq '.records | length')
[ "$n" -ge 251 ] || fail "audit: $n records for 251 writes"
echo "$all" | jq -e '.next_after == null' >/dev/null || fail "audit: one page"
echo "$all" | jq -r '.records[].index' >"$CL_DIR/all"
after=
: >"$CL_DIR/paged"
while :; do
	p=$(cl_af audit --limit 100 ${after:+--after "$after"} -o json)
	echo "$p" | jq -r '.records[].index' >>"$CL_DIR/paged"
	after=$(echo "$p" | jq -r '.next_after // empty')
	[ -n "$after" ] || break
done
cmp -s "$CL_DIR/all" "$CL_DIR/paged" || fail "audit pages differ from the whole"
sort -rn "$CL_DIR/all" | cmp -s - "$CL_DIR/all" || fail "audit not newest first"
note ok
