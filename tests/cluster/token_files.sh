#!/bin/sh
# Tokens never on a command line: routerd reads its token from the file
# AF_TOKEN_FILE names (a systemd credential) and syncs with it; af takes
# --token-file and AF_TOKEN_FILE; AF_ENDPOINTS stands in for a cluster
# file. A missing, empty or multi-line token file is a usage error that
# names the file. The shipped systemd units install with their paths under
# PREFIX, pass systemd-analyze verify, and rate an exposure of at most 4.0
# in systemd-analyze security.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init token_files
cl_token_files admin routerd viewer
for i in 1 2 3; do cl_start $i; done
AF_TOKEN_FILE="$CL_DIR/admin.token" cl_wait_leader >/dev/null
unset AF_TOKEN AF_TOKEN_FILE AF_ENDPOINTS

# af: no token is refused; --token-file and AF_TOKEN_FILE are accepted.
out=$(cl_af cluster status 2>&1) && fail "no token accepted: $out"
echo "$out" | grep -q 'a token is required (--token-file, AF_TOKEN_FILE' ||
	fail "no-token message: $out"
cl_af --token-file "$CL_DIR/admin.token" model apply -f "$EXAMPLES/models.yaml" >/dev/null ||
	fail "--token-file"
AF_TOKEN_FILE="$CL_DIR/admin.token" cl_af policy apply -f "$EXAMPLES/policy.yaml" >/dev/null ||
	fail "AF_TOKEN_FILE"
# The flag wins over the environment: a viewer's file may not write.
out=$(AF_TOKEN_FILE="$CL_DIR/admin.token" cl_af --token-file "$CL_DIR/viewer.token" \
	budget set t1 --hard 5 2>&1) && fail "viewer wrote"
echo "$out" | grep -q PERMISSION_DENIED || fail "viewer: $out"
# Bad files: exit 2, the file named, nothing sent.
: >"$CL_DIR/empty.token"
printf 'a\nb\n' >"$CL_DIR/two.token"
for f in "$CL_DIR/none.token" "$CL_DIR/empty.token" "$CL_DIR/two.token"; do
	rc=0
	out=$(cl_af --token-file "$f" cluster status 2>&1) || rc=$?
	[ $rc = 2 ] || fail "bad token file $f: exit not 2: $out"
	echo "$out" | grep -qF "$f" || fail "bad token file not named: $out"
done
note "$(cl_af --token-file "$CL_DIR/two.token" cluster status 2>&1 || true)"
# AF_ENDPOINTS instead of a cluster file.
eps="$(cl_api 1),$(cl_api 2),$(cl_api 3)"
AF_ENDPOINTS=$eps AF_TOKEN_FILE="$CL_DIR/viewer.token" "$AF" member list -o json |
	jq -e 'length == 3 or (.members | length) == 3' >/dev/null || fail "AF_ENDPOINTS"

# af version: its own and each node's; a stopped node is unreachable.
v=$("$AF" --version | awk '{ print $2 }')
cl_af --token-file "$CL_DIR/viewer.token" version -o json >"$CL_DIR/v.json" || fail "version"
jq -e --arg v "$v" '.version == $v and (.servers | length) == 3 and
	all(.servers[]; .version == $v and (.id | type) == "number")' "$CL_DIR/v.json" >/dev/null ||
	fail "version: $(cat "$CL_DIR/v.json")"
rc=0
cl_af version >"$CL_DIR/v.txt" 2>&1 || rc=$?
[ $rc = 1 ] || fail "version without a token: exit $rc: $(cat "$CL_DIR/v.txt")"
grep -q "a token is required" "$CL_DIR/v.txt" || fail "version without a token: $(cat "$CL_DIR/v.txt")"
cl_stop 3
cl_wait_exit 3
cl_af --token-file "$CL_DIR/viewer.token" version >"$CL_DIR/v.txt" || fail "version, node 3 down"
note "$(cat "$CL_DIR/v.txt")"
grep -q "^client: af $v$" "$CL_DIR/v.txt" || fail "client line"
grep -q "^node 1: controld $v (tcp://" "$CL_DIR/v.txt" || fail "node 1 line"
grep -q "^$(cl_api 3): unreachable$" "$CL_DIR/v.txt" || fail "node 3 line: $(cat "$CL_DIR/v.txt")"
cl_start 3
AF_TOKEN_FILE="$CL_DIR/admin.token" cl_wait_leader >/dev/null

# routerd: its token from a file, as systemd's LoadCredential= hands it.
P=$((CL_BASE + 901))
AF_TOKEN_FILE="$CL_DIR/routerd.token" cl_routerd_start r1 $P
cl_wait_http "http://127.0.0.1:$P/readyz"
cl_wait_json "curl -s http://127.0.0.1:$P/v1/status" '.controld.connected == true' 10 >/dev/null
rc=0
AF_TOKEN_FILE="$CL_DIR/none.token" "$ROUTERD" -c "$CL_FILE" --listen 127.0.0.1:$((P + 1)) \
	>"$CL_DIR/bad.out" 2>&1 || rc=$?
[ $rc = 2 ] || fail "routerd with a missing token file: $(cat "$CL_DIR/bad.out")"
grep -q "AF_TOKEN_FILE: token file: .*none.token" "$CL_DIR/bad.out" ||
	fail "routerd message: $(cat "$CL_DIR/bad.out")"

# systemd units: installed under PREFIX, verified, rated.
make -s -C "$ROOT" install-data DESTDIR="$CL_DIR/inst" PREFIX="$ROOT/$BUILD" >/dev/null ||
	fail "make install-data"
U="$CL_DIR/inst$ROOT/$BUILD/lib/systemd/system"
for f in "$U/controld.service" "$U/controld@.service" "$U/routerd.service" \
	"$CL_DIR/inst$ROOT/$BUILD/share/doc/af/operations.md" \
	"$CL_DIR/inst$ROOT/$BUILD/share/af/prometheus/af-rules.yaml" \
	"$CL_DIR/inst$ROOT/$BUILD/share/af/grafana/af.json"; do
	[ -s "$f" ] || fail "not installed: $f"
done
grep -q "^ExecStart=$ROOT/$BUILD/bin/routerd " "$U/routerd.service" || fail "routerd ExecStart"
grep -q '^LoadCredential=routerd-token:' "$U/routerd.service" || fail "credential"
grep -q '^Environment=AF_TOKEN_FILE=%d/routerd-token$' "$U/routerd.service" || fail "AF_TOKEN_FILE"
if command -v systemd-analyze >/dev/null; then
	for u in controld.service routerd.service; do
		systemd-analyze verify "$U/$u" >"$CL_DIR/verify" 2>&1 ||
			fail "verify $u: $(cat "$CL_DIR/verify")"
		[ ! -s "$CL_DIR/verify" ] || fail "verify $u warns: $(cat "$CL_DIR/verify")"
		systemd-analyze security --offline=yes "$U/$u" >"$CL_DIR/sec" 2>&1 || true
		e=$(sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p' "$CL_DIR/sec")
		note "$u exposure $e"
		awk -v e="$e" 'BEGIN { exit !(e != "" && e <= 4.0) }' ||
			fail "$u exposure $e > 4.0: $(grep '✗' "$CL_DIR/sec")"
	done
else
	note "systemd-analyze not installed: units not rated"
fi
echo "PASS token_files"
