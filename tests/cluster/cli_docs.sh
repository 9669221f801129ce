#!/bin/sh
# Every verb in af's verb table (as `af --help` lists it) has its own
# --help with an example and a section in docs/cli.md; every group answers
# --help (exit 0) and, bare, lists its verbs (exit 2). No cluster needed.
set -eu
BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
AF="$ROOT/$BUILD/bin/af"
DOC="$ROOT/docs/cli.md"
fail() { echo "FAIL: $*" >&2; exit 1; }

verbs=$("$AF" --help | sed -n 's/^  af \([a-z-]*\( [a-z-]*\)\{0,1\}\)  .*/\1/p' |
	sed 's/ *$//')
n=$(echo "$verbs" | wc -l)
[ "$n" -ge 30 ] || fail "af --help lists only $n verbs"
groups=""
for v in $(echo "$verbs" | tr ' ' '_'); do
	v=$(echo "$v" | tr '_' ' ')
	# shellcheck disable=SC2086
	out=$("$AF" $v --help) || fail "af $v --help exits non-zero"
	echo "$out" | grep -q "^usage: af $v" || fail "af $v --help: no usage line"
	echo "$out" | grep -q "^example:" || fail "af $v --help: no example"
	grep -q "^### af $v\b\|^### .*, $(echo "$v" | sed 's/.* //')\b" "$DOC" ||
		grep -q "^### af $(echo "$v" | cut -d' ' -f1) .*\b$(echo "$v" | sed 's/.* //')\b" "$DOC" ||
		fail "docs/cli.md has no section for af $v"
	case "$v" in *" "*) groups="$groups ${v%% *}" ;; esac
done
for g in $(echo "$groups" | tr ' ' '\n' | sort -u); do
	"$AF" "$g" --help | grep -q "^verbs:" || fail "af $g --help"
	set +e
	"$AF" "$g" >/dev/null 2>"/tmp/af-docs-$$"
	rc=$?
	set -e
	[ $rc = 2 ] || fail "bare af $g exits $rc, want 2"
	grep -q "^  af $g " "/tmp/af-docs-$$" || fail "bare af $g does not list its verbs"
	rm -f "/tmp/af-docs-$$"
done
"$AF" route --help | grep -q -- "--revision REV" || fail "route --help lacks --revision"
grep -q -- "--revision REV" "$DOC" || fail "docs/cli.md lacks route --revision"
for f in AF_CLUSTER AF_TOKEN AF_TOKEN_FILE --token-file AF_ENDPOINTS --endpoints --timeout --stale; do
	grep -q -- "$f" "$DOC" || fail "docs/cli.md does not document $f"
done
for c in 0 1 2 3; do
	grep -q "^| $c |" "$DOC" || fail "docs/cli.md lacks exit code $c"
done
grep -qi 'spec\.md\|design\.md\|\bSPEC\b\|\bDESIGN\b' "$DOC" && fail "docs/cli.md refers to files outside the repository"
echo "# $n verbs documented, each with --help and an example"
echo "# ok"
