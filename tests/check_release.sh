#!/bin/sh
# A release build carries no test hook: no AF_TEST_ string (the names of the
# environment variables that switch hooks on) in any binary of BUILD
# (default build-release, made by `make TEST_HOOKS=0`). Prints each
# offender and exits 1 if there is one. Run by `make check-release`, part
# of `make test` and `make install`.
set -u
cd "$(dirname "$0")/.."
build=${1:-build-release}
fail=0
for b in controld routerd af; do
	bin="$build/bin/$b"
	if [ ! -x "$bin" ]; then
		echo "check-release: $bin missing (make TEST_HOOKS=0 BUILD=$build all)"
		fail=1
		continue
	fi
	if [ ! -r "$bin" ]; then
		echo "check-release: cannot read $bin"
		fail=1
		continue
	fi
	# grep -a reads the binary itself (no strings(1) in between whose
	# failure would leave an empty answer).
	hooks=$(grep -ao 'AF_TEST_[A-Z0-9_]*' "$bin" | sort -u | tr '\n' ' ')
	if [ -n "$hooks" ]; then
		echo "check-release: $bin holds test hooks: $hooks(build it with TEST_HOOKS=0)"
		fail=1
	fi
done
[ "$fail" = 0 ] && echo "check-release: ok (no AF_TEST_ in $build/bin)"
exit "$fail"
