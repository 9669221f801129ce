#!/bin/sh
# House size rules: no function over 80 lines outside a main(), no source
# file over 800 lines outside tests/ and build output (build*/: generated
# protobuf-c code). Prints each offender with file:line and exits 1 if
# there is one. Run by `make check-size`, part of `make test`.
set -u
cd "$(dirname "$0")/.."
fail=0
for f in $(git ls-files '*.c' '*.h' 2>/dev/null | grep -v -e '^tests/' -e '^build[^/]*/'); do
	n=$(wc -l <"$f")
	if [ "$n" -gt 800 ]; then
		echo "check-size: $f: $n lines (at most 800: split it by concern)"
		fail=1
	fi
	# A function starts at a line that begins with a type at column 0 and
	# has a '(' but no ';', and ends at the next '}' at column 0.
	awk -v f="$f" '
	/^[A-Za-z_].*\(/ && !/;[ \t]*$/ && !/^(typedef|struct [a-z_]+ \{|#)/ {
		name = $0; start = NR
	}
	/^}/ && start {
		len = NR - start
		if (len > 80 && name !~ /(^| )main\(/)
			printf "check-size: %s:%d: %d lines: %s (at most 80)\n",
			    f, start, len, name
		start = 0
	}' "$f"
done >"${TMPDIR:-/tmp}/check-size.$$"
cat "${TMPDIR:-/tmp}/check-size.$$"
[ -s "${TMPDIR:-/tmp}/check-size.$$" ] && fail=1
rm -f "${TMPDIR:-/tmp}/check-size.$$"
[ $fail -eq 0 ] && echo "check-size: ok"
exit $fail
