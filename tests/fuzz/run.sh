#!/bin/sh
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for
# a bounded time. Run `make` first: the generated protobuf-c code must
# exist. FUZZ_TIME (seconds per target, default 30) bounds each run.
set -eu
BUILD=${BUILD:-build}
TIME=${FUZZ_TIME:-30}
OUT=$BUILD/fuzz
CC=${FUZZ_CC:-clang}
mkdir -p "$OUT"
if [ ! -f "$BUILD/gen/proto/policy.pb-c.c" ]; then
	echo "fuzz: run make first ($BUILD/gen/proto/policy.pb-c.c missing)" >&2
	exit 1
fi
PKGS="libprotobuf-c yaml-0.1 jansson libxxhash libsodium"
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-omit-frame-pointer -I. -I$BUILD/gen $(pkg-config --cflags $PKGS)"
LIBS="$(pkg-config --libs $PKGS)"
SRCS="common/alloc.c common/err.c common/hash.c common/name.c common/yamldoc.c \
	$(ls policy/*.c) $BUILD/gen/proto/policy.pb-c.c \
	tests/lib/policy_fixture.c"
for t in bundle request; do
	echo "== fuzz_$t"
	# shellcheck disable=SC2086
	$CC $CFLAGS -o "$OUT/fuzz_$t" tests/fuzz/fuzz_$t.c $SRCS $LIBS
	mkdir -p "$OUT/corpus-$t"
	"$OUT/fuzz_$t" -max_total_time="$TIME" -max_len=65536 \
		-rss_limit_mb=2048 -print_final_stats=0 \
		"$OUT/corpus-$t" "tests/fuzz/corpus/$t"
done
