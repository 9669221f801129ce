#!/bin/sh
# The Dockerfile, checked without building an image: two stages, the
# runtime one run by a non-root user; its runtime packages are exactly the
# Debian packages (dpkg -S) of the libraries that ldd resolves for what
# controld, routerd and af link directly (readelf NEEDED), plus the probe
# tools it declares; the build stage installs a package for every
# pkg-config module the Makefile uses.
set -eu
BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DF=$ROOT/Dockerfile
fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "# $*"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

[ "$(grep -c '^FROM ' "$DF")" = 2 ] || fail "expected two stages"
grep -q '^FROM debian:12 AS build$' "$DF" || fail "no build stage on debian:12"
grep -q '^COPY --from=build ' "$DF" || fail "the runtime stage copies nothing from the build"
user=$(sed -n 's/^USER \([^: ]*\).*/\1/p' "$DF" | tail -1)
[ -n "$user" ] && [ "$user" != root ] && [ "$user" != 0 ] || fail "runtime user: '$user'"

# The packages an apt-get install of stage $1 names.
stage_packages() {
	awk -v st="$1" '
		/^FROM / { on = ($NF == st) ; next }
		on && /apt-get install/ { inst = 1 }
		on && inst {
			line = $0; sub(/#.*/, "", line)
			n = split(line, w, /[ \t\\]+/)
			for (i = 1; i <= n; i++)
				if (w[i] ~ /^[a-z0-9][a-z0-9.+-]+$/ && w[i] != "apt-get" &&
				    w[i] != "install" && w[i] != "rm" && w[i] != "-rf")
					print w[i]
			if (line ~ /&&[ \t]*rm /) inst = 0
		}' "$DF" | grep -v '^-' | sort -u
}
stage_packages runtime >"$tmp/listed"
stage_packages build >"$tmp/build"
[ -s "$tmp/listed" ] || fail "no runtime packages found"
printf 'curl\n' >"$tmp/tools"

# Direct needs of the binaries, resolved by ldd, owned per dpkg -S.
for b in controld routerd af; do
	bin=$ROOT/$BUILD/bin/$b
	[ -x "$bin" ] || fail "$bin missing: make all first"
	# A sanitizer build (make SANITIZE=1) also links the sanitizer
	# runtimes, which no release image ships.
	readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' |
		grep -Ev '^lib(a|ub|l|t)san\.so' >"$tmp/needed" || true
	ldd "$bin" >"$tmp/ldd"
	while read -r so; do
		path=$(awk -v s="$so" '$1 == s && $2 == "=>" { print $3 }' "$tmp/ldd")
		[ -n "$path" ] || fail "$b: ldd does not resolve $so"
		pkg=""
		for p in "$path" "$(realpath "$path")" "/usr$path" "${path#/usr}"; do
			pkg=$(dpkg -S "$p" 2>/dev/null | head -1 | cut -d: -f1) && [ -n "$pkg" ] && break
		done
		[ -n "$pkg" ] || fail "$b: no package owns $path"
		echo "$pkg"
	done <"$tmp/needed"
done | sort -u >"$tmp/needed_pkgs"
sort -u "$tmp/needed_pkgs" "$tmp/tools" >"$tmp/want"
if ! cmp -s "$tmp/want" "$tmp/listed"; then
	echo "missing from the runtime stage: $(comm -23 "$tmp/want" "$tmp/listed" | tr '\n' ' ')" >&2
	echo "listed but not linked: $(comm -13 "$tmp/want" "$tmp/listed" | tr '\n' ' ')" >&2
	fail "runtime packages differ from what the binaries link"
fi
note "runtime packages: $(tr '\n' ' ' <"$tmp/listed")"

# Every pkg-config module of the Makefile comes from a build-stage package.
mods=$(sed -n 's/^PKGS *:= *//p' "$ROOT/Makefile")
for m in $mods libcurl; do
	pc=$(pkg-config --variable=pcfiledir "$m")/$m.pc
	pkg=$(dpkg -S "$pc" 2>/dev/null | head -1 | cut -d: -f1)
	[ -n "$pkg" ] || fail "no package owns $pc"
	grep -qx "$pkg" "$tmp/build" || fail "build stage lacks $pkg (for $m)"
done
# NNG has no .pc file in Debian 12: its headers' package.
pkg=$(dpkg -S /usr/include/nng/nng.h | head -1 | cut -d: -f1)
grep -qx "$pkg" "$tmp/build" || fail "build stage lacks $pkg"
note ok
