#!/bin/sh
# make check-deps: every #include of a part's sources must be allowed by the
# table below (the one place the boundaries are written down; the Makefile's
# LINK_* and PKGS_* lists say the same for the link). Fails, naming the file,
# the line and the rule, on:
#   - an include of a sibling folder the part may not use ("store/..." in
#     routerd/),
#   - an external library header the part may not use (<lmdb.h> in cli/),
#   - a header that is neither libc/POSIX nor a known library (add it here),
#   - a call into libraft outside the consensus module (controld/consensus*.[ch]).
# Usage: sh tests/check_deps.sh [root]   (tests/ and bench/ may use anything)
set -u
cd "${1:-.}" || exit 2

# part: folders it may include (besides itself) | libraries it may include
TABLE='
common   :                               |
net      : common                        | nng sodium
store    : common proto                  | lmdb protobuf-c sodium
policy   : common proto                  | jansson xxhash protobuf-c
render   : common policy proto           | jansson protobuf-c
controld : common net store policy render proto | raft uv nng microhttpd sodium xxhash jansson protobuf-c
routerd  : common net policy proto       | nng microhttpd jansson xxhash sodium protobuf-c curl
cli      : common net policy render proto | nng jansson yaml sodium protobuf-c
proto    : common                        | protobuf-c
'
# Single files allowed a library their folder is not (file | libraries).
# common/ is libc plus these: content hashes and signatures need libsodium,
# the YAML document helpers wrap libyaml for policy/ and the cluster file.
FILES='
common/hash.c     | sodium
common/sign.c     | sodium
common/yamldoc.h  | yaml
controld/fsm.h    | raft
'
# Files allowed to call libraft outside the consensus module (none).
RAFT_CALLERS=''

# header -> library; anything else in <> must be libc or POSIX.
LIBMAP='
sodium.h sodium
nng/ nng
yaml.h yaml
jansson.h jansson
xxhash.h xxhash
raft.h raft
raft/ raft
uv.h uv
uv/ uv
lmdb.h lmdb
protobuf-c/ protobuf-c
microhttpd.h microhttpd
curl/ curl
criterion/ criterion
'
LIBC='assert.h ctype.h dirent.h errno.h fcntl.h float.h ftw.h getopt.h
inttypes.h limits.h locale.h math.h netdb.h poll.h pthread.h sched.h signal.h
spawn.h
stdarg.h stdatomic.h stdbool.h stddef.h stdint.h stdio.h stdlib.h
stdnoreturn.h string.h strings.h time.h unistd.h arpa/ netinet/ sys/'

parts=$(echo "$TABLE" | awk -F: 'NF > 1 { gsub(/ /, "", $1); print $1 }')
files=$(for p in $parts; do
	[ -d "$p" ] && find "$p" -name '*.[ch]'
done | sort)
[ -n "$files" ] || { echo "check-deps: no sources under $(pwd)"; exit 2; }

# shellcheck disable=SC2086
awk -v table="$TABLE" -v ftable="$FILES" -v libmap="$LIBMAP" \
    -v libc="$LIBC" -v raftcallers="$RAFT_CALLERS" '
function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
BEGIN {
	n = split(table, rows, "\n")
	for (i = 1; i <= n; i++) {
		if (rows[i] !~ /:/) continue
		split(rows[i], a, "[:|]")
		p = trim(a[1]); dirs[p] = " " p " " trim(a[2]) " "
		libs[p] = " " trim(a[3]) " "
	}
	n = split(ftable, rows, "\n")
	for (i = 1; i <= n; i++) {
		if (rows[i] !~ /\|/) continue
		split(rows[i], a, "|"); flibs[trim(a[1])] = " " trim(a[2]) " "
	}
	n = split(libmap, rows, "\n")
	for (i = 1; i <= n; i++) {
		if (split(rows[i], a, " ") == 2) { hdr[++nh] = a[1]; lib[nh] = a[2] }
	}
	nl = split(libc, lc, /[ \n]+/)
	split(raftcallers, rc, " ")
	for (i in rc) raftok[rc[i]] = 1
	bad = 0
}
function libof(h,   i) {
	for (i = 1; i <= nh; i++)
		if (h == hdr[i] || (hdr[i] ~ /\/$/ && index(h, hdr[i]) == 1))
			return lib[i]
	return ""
}
function islibc(h,   i) {
	for (i = 1; i <= nl; i++)
		if (lc[i] != "" && (h == lc[i] || (lc[i] ~ /\/$/ && index(h, lc[i]) == 1)))
			return 1
	return 0
}
function fail(msg) {
	printf "check-deps: %s:%d: %s\n", FILENAME, FNR, msg
	bad = 1
}
FNR == 1 { part = FILENAME; sub(/\/.*/, "", part) }
/^[ \t]*#[ \t]*include[ \t]*"/ {
	h = $0; sub(/^[^"]*"/, "", h); sub(/".*/, "", h)
	if (h !~ /\//) {
		fail("include \"" h "\" without its folder (write \"" part "/" h "\")")
		next
	}
	d = h; sub(/\/.*/, "", d)
	if (index(dirs[part], " " d " ") == 0)
		fail(part "/ may not include " d "/ (\"" h "\"); allowed: " trim(dirs[part]) \
		     "; see tests/check_deps.sh and docs/architecture.md")
	next
}
/^[ \t]*#[ \t]*include[ \t]*</ {
	h = $0; sub(/^[^<]*</, "", h); sub(/>.*/, "", h)
	l = libof(h)
	if (l == "") {
		if (!islibc(h))
			fail("<" h "> is neither libc/POSIX nor a library in the table of tests/check_deps.sh")
		next
	}
	if (index(libs[part], " " l " ") == 0 && index(flibs[FILENAME], " " l " ") == 0)
		fail(part "/ may not use " l " (<" h ">); allowed: " \
		     (trim(libs[part]) == "" ? "libc only" : trim(libs[part])) \
		     "; see tests/check_deps.sh and docs/architecture.md")
	next
}
part == "controld" && FILENAME !~ /^controld\/consensus(_io|_int|_dns)?\.[ch]$/ && !(FILENAME in raftok) &&
    /(^|[^a-z_])raft_[a-z_]+\(|RAFT_[A-Z]+/ && !/^[ \t]*(\/\*|\*)/ {
	fail("libraft is called only from the consensus module (controld/consensus.c, consensus_io.c, consensus_dns.c)")
}
END { exit bad }
' $files || {
	echo "check-deps: FAILED (fix the include, or change the table in tests/check_deps.sh and say why in docs/architecture.md)"
	exit 1
}
echo "check-deps: ok ($(echo "$files" | wc -l) files)"
