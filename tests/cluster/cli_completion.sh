#!/bin/sh
# af completion bash: sourced in bash, it completes verbs, a group's verbs,
# a verb's flags (after global flags and their values) and -o's formats;
# every verb of `af --help` is offered. zsh loads the same script through
# bashcompinit (checked when zsh is installed). No cluster needed.
set -eu
BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
AF="$ROOT/$BUILD/bin/af"
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v bash >/dev/null || fail "bash missing"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$AF" completion bash >"$tmp/af.bash"
# complete WORDS...: what _af offers for the last word
complete_words() {
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_af; printf "%s\n" "${COMPREPLY[@]}"' _ "$tmp/af.bash" "$@"
}
got=$(complete_words af po)
[ "$got" = policy ] || fail "af po: $got"
got=$(complete_words af policy ap | tr '\n' ' ')
[ "$got" = "apply " ] || fail "af policy ap: $got"
got=$(complete_words af -c x.yaml canary status --w)
[ "$got" = --watch ] || fail "af -c x.yaml canary status --w: $got"
got=$(complete_words af -o "" | tr '\n' ' ')
[ "$got" = "table json yaml csv " ] || fail "af -o: $got"
got=$(complete_words af report --by x --s | tr '\n' ' ')
[ "$got" = "--stale --since " ] || fail "af report --s: $got"
got=$(complete_words af --token-f)
[ "$got" = --token-file ] || fail "af --token-f: $got"
got=$(complete_words af completion "" | tr '\n' ' ')
[ "$got" = "bash zsh " ] || fail "af completion: $got"
# Every verb af --help lists is offered.
all=$(complete_words af "")
"$AF" --help | sed -n 's/^  af \([a-z-]*\).*/\1/p' | sort -u >"$tmp/top"
for w in $(cat "$tmp/top"); do
	echo "$all" | grep -qx "$w" || fail "af <TAB> lacks $w"
done
for g in $(sed -n 's/^  af \([a-z-]*\) \([a-z-]\{1,\}\)  .*/\1/p' <<EOT | sort -u
$("$AF" --help)
EOT
); do
	for v in $("$AF" --help | sed -n "s/^  af $g \\([a-z-]*\\)  .*/\\1/p"); do
		complete_words af "$g" "" | grep -qx "$v" || fail "af $g <TAB> lacks $v"
	done
done
"$AF" completion fish >/dev/null 2>"$tmp/err" && fail "fish accepted"
grep -q "usage: af completion bash|zsh" "$tmp/err" || fail "fish: $(cat "$tmp/err")"
if command -v zsh >/dev/null; then
	zsh -c "source <('$AF' completion zsh); whence -w _af" | grep -q function ||
		fail "zsh: _af not defined"
else
	echo "# zsh not installed: zsh script not loaded"
fi
echo "# ok"
