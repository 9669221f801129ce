#!/bin/sh
# Tokens and roles: a table of every af verb by every role (and no token,
# and an unknown token): PERMISSION_DENIED exactly where the matrix says;
# the audit trail names the token's principal, one record per committed
# mutation; denials are counted in /metrics.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init auth
for r in viewer author promoter admin routerd; do
	tok="tok-$r-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
	eval "T_$r=$tok"
	printf '%s %s %s-user\n' "$(printf '%s' "$tok" | sha256sum | cut -d' ' -f1)" \
		"$r" "$r" >>"$CL_DIR/tokens"
done
printf '# comment\n\n' >>"$CL_DIR/tokens"
printf 'auth:\n  tokens: ./tokens\n' >>"$CL_DIR/cluster.yaml"
export AF_TOKEN=$T_admin
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
cl_af policy apply -f "$EXAMPLES/policy.yaml" >/dev/null
sed 's/^name: prod/name: prod-c/' "$EXAMPLES/policy.yaml" >"$CL_DIR/c.yaml"
sed 's/^name: prod/name: prod-2/' "$EXAMPLES/policy.yaml" >"$CL_DIR/p2.yaml"

# verb | permission it needs
cat >"$CL_DIR/matrix" <<EOT
cluster status|read
policy history|read
policy get|read
model list|read
audit|read
fleet status|read
canary status|read
budget list|read
report|read
emergency list|read
policy apply -f $CL_DIR/p2.yaml|author
model apply -f $EXAMPLES/models.yaml|author
model deprecate open-mid|author
budget set t1 --hard 5|author
canary start -f $CL_DIR/c.yaml --weight 5|author
canary set-weight 7|promote
canary pause|promote
canary resume|promote
canary abort|promote
policy rollback|promote
emergency set --class auth-x --max-fanout 1 --ttl 1m -m matrix|promote
snapshot save $CL_DIR/snap.db|admin
cluster transfer-leader|admin
EOT

allowed() { # role permission
	[ "$1" = admin ] && return 0
	case "$2" in
	read) [ "$1" != routerd ] ;;
	author) [ "$1" = author ] ;;
	promote) [ "$1" = promoter ] ;;
	*) return 1 ;;
	esac
}

checked=0
for role in none unknown viewer author promoter routerd admin; do
	case $role in
	none) tok="" ;;
	unknown) tok="not-a-token" ;;
	*) eval "tok=\$T_$role" ;;
	esac
	while IFS='|' read -r verb perm; do
		# promoter verbs need a running canary: start one as admin
		case "$verb" in canary\ set-weight* | canary\ pause*)
			AF_TOKEN=$T_admin cl_af canary start -f "$CL_DIR/c.yaml" \
				--weight 5 >/dev/null 2>&1 || true ;;
		esac
		set +e
		# shellcheck disable=SC2086
		err=$(AF_TOKEN=$tok "$AF" -c "$CL_FILE" --timeout 5s $verb 2>&1 >/dev/null)
		set -e
		denied=0
		echo "$err" | grep -q "PERMISSION_DENIED" && denied=1
		if [ "$verb" = "cluster status" ]; then
			# per-node status: a refused node shows as unreachable
			out=$(AF_TOKEN=$tok "$AF" -c "$CL_FILE" cluster status -o json 2>/dev/null || true)
			echo "$out" | jq -e '.leader == null' >/dev/null && denied=1
		fi
		if [ $role = none ] || [ $role = unknown ] || ! allowed $role "$perm"; then
			[ $denied = 1 ] || fail "$role may not '$verb' but was let through: $err"
		else
			[ $denied = 0 ] || fail "$role may '$verb' but was denied: $err"
		fi
		checked=$((checked + 1))
		# keep the state usable: no canary left between verbs
		AF_TOKEN=$T_admin cl_af canary abort >/dev/null 2>&1 || true
	done <"$CL_DIR/matrix"
done
note "permission matrix: $checked checks"

# routerd's own verbs: only routerd (and admin) may sync and report.
P=$((CL_BASE + 901))
AF_TOKEN=$T_viewer cl_routerd_start rv $P
# Its first Sync was answered (refused), then it is still not ready.
why=$(cl_wait_log "$CL_DIR/routerd-rv.log" 'event=controld_call_failed call=sync')
echo "$why" | grep -qi 'permission\|denied\|role' ||
	fail "the viewer's sync failed for another reason: $why"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P/readyz")
[ "$code" = 503 ] || fail "a routerd with a viewer token got a policy"
cl_routerd_stop rv
AF_TOKEN=$T_routerd cl_routerd_start rr $P
cl_wait_http "http://127.0.0.1:$P/readyz" 200 10
# Its fleet report follows the sync that made it ready, asynchronously.
reported=0
for _ in $(seq 1 50); do
	AF_TOKEN=$T_admin cl_af fleet status -o json |
		jq -e 'any(.[]; .id == "rr")' >/dev/null && { reported=1; break; }
	sleep 0.2
done
[ $reported = 1 ] || fail "routerd with its token did not report within 10 s"

# Audit: principals from tokens, one record per committed mutation.
a=$(AF_TOKEN=$T_admin cl_af audit --limit 1000 -o json | jq .records)
echo "$a" | jq -e 'any(.[]; .principal == "author-user" and .verb == "policy.apply")' \
	>/dev/null || fail "no audit record by author-user"
echo "$a" | jq -e 'any(.[]; .principal == "promoter-user" and .verb == "canary.pause")' \
	>/dev/null || fail "no audit record by promoter-user"
echo "$a" | jq -e 'all(.[]; .principal != "viewer-user" and .principal != "routerd-user")' \
	>/dev/null || fail "a denied or telemetry request left an audit record"
n_idx=$(echo "$a" | jq '[.[].index] | unique | length')
n_all=$(echo "$a" | jq 'length')
[ "$n_idx" = "$n_all" ] || fail "two audit records for one entry"
m=$(curl -s "http://$(cl_http 1)/metrics"; curl -s "http://$(cl_http 2)/metrics"; curl -s "http://$(cl_http 3)/metrics")
total=$(echo "$m" | awk '/^af_auth_denied_total/ { s += $2 } END { print s + 0 }')
[ "$total" -gt 0 ] || fail "denials not counted"
note "denials counted: $total"
note ok
