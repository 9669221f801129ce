#!/bin/sh
# af's client config: named contexts (af config set-context, use-context,
# get-contexts, current-context, delete-context) in the file AF_CONFIG
# names. A context gives the cluster and the token file; the environment
# wins over it and flags win over both. A broken file is refused with its
# position, and nothing runs.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init cli_contexts
cl_token_files admin viewer
for i in 1 2 3; do cl_start $i; done
AF_TOKEN_FILE="$CL_DIR/admin.token" cl_wait_leader >/dev/null
unset AF_TOKEN AF_TOKEN_FILE AF_ENDPOINTS AF_CLUSTER AF_CONTEXT
export AF_CONFIG="$CL_DIR/home/af/config"
dead="tcp://127.0.0.1:$((CL_BASE + 999))"

# No file yet: no contexts, and af without a target says so as before.
"$AF" config get-contexts -o json | jq -e '.contexts == []' >/dev/null ||
	fail "contexts before any file"
# Relative paths are stored absolute: the context works from anywhere.
(cd "$CL_DIR" && "$AF" config set-context prod -c cluster.yaml --token-file admin.token) |
	grep -q 'created context "prod"' || fail "set-context prod"
"$AF" config set-context ro --endpoints "$(cl_api 1),$(cl_api 2),$(cl_api 3)" \
	--token-file "$CL_DIR/viewer.token" >/dev/null || fail "set-context ro"
"$AF" config set-context down --endpoints "$dead" >/dev/null || fail "set-context down"
[ "$("$AF" config current-context)" = prod ] || fail "the first context is not current"
grep -q "cluster: \"$CL_DIR/cluster.yaml\"" "$AF_CONFIG" || fail "path not absolute: $(cat "$AF_CONFIG")"
"$AF" config get-contexts >"$CL_DIR/ctx.txt"
note "$(cat "$CL_DIR/ctx.txt")"
grep -q '^\*  *prod ' "$CL_DIR/ctx.txt" || fail "get-contexts marks no current"

# The current context: cluster and token from the file, from any directory.
(cd / && "$AF" budget set t1 --hard 5 >/dev/null) || fail "write through context prod"
"$AF" config use-context ro >/dev/null || fail "use-context ro"
out=$("$AF" budget set t1 --hard 6 2>&1) && fail "viewer context wrote"
echo "$out" | grep -q PERMISSION_DENIED || fail "ro: $out"
"$AF" budget get t1 -o json | jq -e '.hard_usd == 5' >/dev/null ||
	fail "read through context ro: $("$AF" budget get t1 -o json)"
# --context and AF_CONTEXT pick another one for one command.
"$AF" --context prod budget set t1 --hard 7 >/dev/null || fail "--context prod"
rc=0
AF_CONTEXT=down "$AF" --timeout 2s budget get t1 >/dev/null 2>&1 || rc=$?
[ $rc = 3 ] || fail "AF_CONTEXT=down exited $rc, not 3"
# The environment wins over the context, flags over both.
rc=0
AF_ENDPOINTS=$dead "$AF" --timeout 2s budget get t1 >/dev/null 2>&1 || rc=$?
[ $rc = 3 ] || fail "AF_ENDPOINTS did not win over the context (exit $rc)"
AF_ENDPOINTS=$dead "$AF" --endpoints "$(cl_api 2)" --stale budget get t1 >/dev/null ||
	fail "--endpoints did not win over AF_ENDPOINTS"
out=$(AF_TOKEN_FILE="$CL_DIR/viewer.token" "$AF" --context prod budget set t1 --hard 8 2>&1) &&
	fail "AF_TOKEN_FILE did not win over the context's token file"
AF_TOKEN_FILE="$CL_DIR/viewer.token" "$AF" --context prod --token-file "$CL_DIR/admin.token" \
	budget set t1 --hard 9 >/dev/null || fail "--token-file did not win"
"$AF" --context prod budget get t1 -o json | jq -e '.hard_usd == 9' >/dev/null ||
	fail "hard limit not 9"

# Mistakes: an unknown context, a token on the line, a broken file.
rc=0
"$AF" config use-context nope 2>"$CL_DIR/err" || rc=$?
[ $rc = 1 ] && grep -q 'no context "nope"' "$CL_DIR/err" || fail "use-context nope: $rc $(cat "$CL_DIR/err")"
rc=0
"$AF" --context nope budget list 2>"$CL_DIR/err" || rc=$?
[ $rc = 2 ] && grep -q 'no context "nope"' "$CL_DIR/err" || fail "--context nope: $rc"
rc=0
"$AF" config set-context x --token secret 2>"$CL_DIR/err" || rc=$?
[ $rc = 2 ] && grep -q 'not a token' "$CL_DIR/err" || fail "set-context --token: $rc"
"$AF" config delete-context down >/dev/null || fail "delete-context"
"$AF" config get-contexts -o json | jq -e '[.contexts[].name] == ["prod", "ro"]' >/dev/null ||
	fail "after delete: $("$AF" config get-contexts -o json)"
cp "$AF_CONFIG" "$CL_DIR/config.good"
printf 'current-context: prod\ncontexts:\n  - name: prod\n    colour: red\n' >"$AF_CONFIG"
rc=0
"$AF" budget list 2>"$CL_DIR/err" || rc=$?
[ $rc = 2 ] && grep -q "$AF_CONFIG:4:5: unknown key \"colour\"" "$CL_DIR/err" ||
	fail "broken config: $rc $(cat "$CL_DIR/err")"
# ... but flags alone need no context, so a broken file does not block them.
cl_af --token-file "$CL_DIR/admin.token" budget list >/dev/null ||
	fail "flags blocked by a broken config"
note ok
