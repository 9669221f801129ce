#!/bin/sh
# controld's HTTP API over HTTPS (tls: in the cluster file): every
# /api/v1 resource equals the matching `af ... -o json` (after canonical
# key order), on the leader and on a follower; bearer tokens and roles
# (401 without or with a bad token, 403 for the routerd role, 200 for a
# viewer); every parameter checked (400 bodies name the cause); 404 for
# what this controld does not have; the console's files are served from
# the binary and name no outside URL.
. "$(dirname "$0")/../lib/cluster.sh"
. "$(dirname "$0")/../lib/pki.sh"

cl_init api
pki=$CL_DIR/pki
mkdir -p "$pki"
pki_ca "$pki"
pki_cert "$pki" node "$pki/ca.key" "$pki/ca.pem"
for r in viewer admin routerd; do
	tok="tok-$r-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
	eval "T_$r=$tok"
	printf '%s %s %s-user\n' "$(printf '%s' "$tok" | sha256sum | cut -d' ' -f1)" \
		"$r" "$r" >>"$CL_DIR/tokens"
done
printf 'tls:\n  ca: ./pki/ca.pem\n  cert: ./pki/node.pem\n  key: ./pki/node.key\n' \
	>>"$CL_FILE"
printf 'auth:\n  tokens: ./tokens\n' >>"$CL_FILE"
export AF_TOKEN=$T_admin
for i in 1 2 3; do cl_start $i; done
leader=$(cl_wait_leader)
follower=$((leader % 3 + 1))

# State to look at: two revisions, a canary, a budget, a routerd with
# traffic (fleet, showback, cohorts).
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
cl_af policy apply -f "$EXAMPLES/policy.yaml" -m first >/dev/null
sed 's/^name: prod/name: prod-2/' "$EXAMPLES/policy.yaml" >"$CL_DIR/p2.yaml"
cl_af policy apply -f "$CL_DIR/p2.yaml" -m second >/dev/null
sed 's/^name: prod/name: prod-c/' "$EXAMPLES/policy.yaml" >"$CL_DIR/c.yaml"
crev=$(cl_af canary start -f "$CL_DIR/c.yaml" --steps 20,50 --interval 1h \
	--max-error-delta 0.05 --min-samples 10 -o json | jq -r .revision)
cl_af budget set claims-team --hard 100 --soft 80 >/dev/null
cl_af emergency set --tenant api-test --max-fanout 2 --ttl 1h -m "api check" >/dev/null
P=$((CL_BASE + 901))
AF_TOKEN=$T_routerd cl_routerd_start r1 $P
cl_wait_http "http://127.0.0.1:$P/readyz" 200 15
cl_wait_json "curl -s http://127.0.0.1:$P/v1/route -d '{\"workflow_id\":\"wf-1\",\"tenant\":\"claims-team\",\"class\":\"research-agent\",\"input_tokens\":10,\"output_tokens\":10,\"needs\":[\"tools\"]}'" \
	".decision == \"route\"" 15 >/dev/null
cl_traffic $P 1 400 "$CL_DIR/d" true true 40
cl_wait_json "cl_af canary status -o json" ".canary.requests > 0 and .stable.requests > 0" 15 >/dev/null
cl_wait_json "cl_af fleet status -o json" "length == 1 and .[0].state == \"SYNCED\"" 15 >/dev/null
curl -s "http://127.0.0.1:$P/v1/outcome" -d '{"workflow_id":"wf-1","tenant":"claims-team","class":"research-agent","outcome":"success","tool_cost_usd":0.01}' >/dev/null
cl_wait_json "cl_af report --unit workflow -o json" "length == 1 and .[0].succeeded == 1" 15 >/dev/null
note "state: 3 revisions, canary $crev, a budget, a routerd with 400 decisions"

CA="--cacert $pki/ca.pem"
url() { echo "https://127.0.0.1:$((CL_BASE + $1 * 100 + 4))/api/v1$2"; }
# get NODE PATH [TOKEN]: the body; the status goes to $CL_DIR/code.
get() {
	# shellcheck disable=SC2086
	curl -s $CA -o "$CL_DIR/body" -w '%{http_code}' \
		${3+-H "Authorization: Bearer $3"} "$(url "$1" "$2")" >"$CL_DIR/code"
	cat "$CL_DIR/body"
}
# same NODE PATH AF-ARGS...: the resource equals af's JSON; the state may
# move between the two reads (times, counters), so up to 5 tries.
same() {
	node=$1
	path=$2
	shift 2
	for _ in 1 2 3 4 5; do
		a=$(cl_af "$@" -o json | jq -S .) || true
		b=$(get "$node" "$path" "$T_viewer" | jq -S .) || true
		[ "$(cat "$CL_DIR/code")" = 200 ] ||
			fail "GET $path on node $node: $(cat "$CL_DIR/code") $(cat "$CL_DIR/body")"
		[ -n "$a" ] && [ "$a" = "$b" ] && return 0
		sleep 0.2
	done
	echo "$a" >"$CL_DIR/a.json"
	echo "$b" >"$CL_DIR/b.json"
	diff "$CL_DIR/a.json" "$CL_DIR/b.json" >&2 || true
	fail "GET $path on node $node differs from af $*"
}
rev1=$(cl_af policy history -o json | jq '.revisions[-1].revision')
hist_after=$(cl_af policy history --limit 1 -o json | jq .next_after)
audit_after=$(cl_af audit --limit 2 -o json | jq .next_after)
for node in $leader $follower; do
	same $node /cluster cluster status
	same $node /policy/history policy history
	same $node "/policy/history?limit=1" policy history --limit 1
	same $node "/policy/history?limit=1&after=$hist_after" policy history --limit 1 --after "$hist_after"
	same $node "/policy/revisions/$rev1" policy get "$rev1"
	same $node /policy/revisions/stable policy get
	same $node /rollout canary status
	same $node /fleet fleet status
	same $node /budgets budget list
	same $node /budgets/claims-team budget get claims-team
	same $node /models model list
	same $node /report report
	same $node "/report?by=model&since=2026-01-01" report --by model --since 2026-01-01
	same $node "/report?by=revision&until=2099-01-01T00:00:00Z" report --by revision --until 2099-01-01T00:00:00Z
	same $node "/report?unit=workflow" report --unit workflow
	same $node "/report?unit=workflow&by=class,day&since=2026-01-01" report --unit workflow --by class,day --since 2026-01-01
	same $node /shadow shadow status
	same $node /emergency emergency list
	same $node "/audit?limit=2" audit --limit 2
	same $node "/audit?limit=2&after=$audit_after" audit --limit 2 --after "$audit_after"
done
note "18 resources equal af's JSON on the leader ($leader) and a follower ($follower)"
get $follower /cluster "$T_viewer" | jq -e --argjson l "$leader" \
	'.leader == $l and (.nodes | length) == 3 and .auth == "tokens"' >/dev/null ||
	fail "cluster on the follower: $(cat "$CL_DIR/body")"

# expect STATUS CODE NODE PATH [TOKEN]: the error body names the code.
expect() {
	want=$1
	code=$2
	shift 2
	get "$@" >/dev/null
	[ "$(cat "$CL_DIR/code")" = "$want" ] ||
		fail "GET $2 (token ${3-none}): $(cat "$CL_DIR/code"), want $want: $(cat "$CL_DIR/body")"
	jq -e --arg c "$code" '.error.code == $c and (.error.message | length) > 10' \
		"$CL_DIR/body" >/dev/null || fail "GET $2: body $(cat "$CL_DIR/body")"
}
expect 401 UNAUTHENTICATED $leader /budgets
jq -e '.error.message | test("token is required.*Authorization: Bearer")' \
	"$CL_DIR/body" >/dev/null || fail "401 body: $(cat "$CL_DIR/body")"
expect 401 UNAUTHENTICATED $leader /budgets not-a-token
jq -e '.error.message | test("unknown token")' "$CL_DIR/body" >/dev/null ||
	fail "401 body: $(cat "$CL_DIR/body")"
expect 401 UNAUTHENTICATED $follower /cluster not-a-token
expect 403 PERMISSION_DENIED $leader /budgets "$T_routerd"
jq -e '.error.message | test("routerd.*needs read.*viewer")' "$CL_DIR/body" \
	>/dev/null || fail "403 body: $(cat "$CL_DIR/body")"
expect 403 PERMISSION_DENIED $follower /cluster "$T_routerd"
code=$(curl -s $CA -o "$CL_DIR/body" -w '%{http_code}' -H "Authorization: Basic eDp5" "$(url $leader /fleet)")
[ "$code" = 401 ] || fail "Basic auth: $code"
note "401 without a token, with an unknown one, with a malformed header; 403 for routerd"

expect 400 INVALID $leader "/audit?limit=0" "$T_viewer"
jq -e '.error.field == "limit" and (.error.message | test("limit takes 1 to 1000"))' \
	"$CL_DIR/body" >/dev/null || fail "limit=0: $(cat "$CL_DIR/body")"
expect 400 INVALID $leader "/audit?limit=1001" "$T_viewer"
expect 400 INVALID $leader "/policy/history?after=-3" "$T_viewer"
jq -e '.error.field == "after"' "$CL_DIR/body" >/dev/null || fail "after: $(cat "$CL_DIR/body")"
expect 400 INVALID $leader "/policy/history?limit=5&limit=6" "$T_viewer"
expect 400 INVALID $leader "/audit?limt=5" "$T_viewer"
jq -e '.error.message | test("unknown parameter \"limt\"")' "$CL_DIR/body" \
	>/dev/null || fail "unknown parameter: $(cat "$CL_DIR/body")"
expect 400 INVALID $leader "/audit?limit=$(printf '%070d' 1)" "$T_viewer"
expect 400 INVALID $leader "/report?since=yesterday" "$T_viewer"
jq -e '.error.field == "since" and (.error.message | test("YYYY-MM-DD"))' \
	"$CL_DIR/body" >/dev/null || fail "since: $(cat "$CL_DIR/body")"
expect 400 INVALID $leader "/report?by=colour" "$T_viewer"
jq -e '.error.field == "by"' "$CL_DIR/body" >/dev/null || fail "by: $(cat "$CL_DIR/body")"
expect 400 INVALID $leader "/report?since=2026-02-01&until=2026-01-01" "$T_viewer"
jq -e '.error.field == "until" and (.error.message | test("^until must come after --since"))' \
	"$CL_DIR/body" >/dev/null || fail "until before since: $(cat "$CL_DIR/body")"
expect 400 INVALID $leader "/report?unit=workflows" "$T_viewer"
jq -e '.error.field == "unit"' "$CL_DIR/body" >/dev/null || fail "unit: $(cat "$CL_DIR/body")"
expect 400 INVALID $leader "/report?unit=workflow&by=model" "$T_viewer"
jq -e '.error.message | test("labels.KEY")' "$CL_DIR/body" >/dev/null || fail "unit=workflow by=model: $(cat "$CL_DIR/body")"
expect 400 INVALID $leader "/policy/revisions/abc" "$T_viewer"
expect 400 INVALID $leader "/fleet?x=1" "$T_viewer"
expect 404 NOT_FOUND $leader "/policy/revisions/999" "$T_viewer"
expect 404 NOT_FOUND $leader /budgets/nobody "$T_viewer"
expect 404 NOT_FOUND $leader /nothing "$T_viewer"
code=$(curl -s $CA -o /dev/null -w '%{http_code}' -X POST "$(url $leader /budgets)")
[ "$code" = 405 ] || fail "POST: $code, want 405"
get $leader / "$T_viewer" | jq -e '.resources | index("/api/v1/cluster") != null' \
	>/dev/null || fail "index: $(cat "$CL_DIR/body")"
note "400 for each bad parameter, 404 for unknown and absent resources, 405 for POST"

# HTTPS only: plain HTTP to the same port gets no answer; the CA is needed.
if curl -s -m 3 -o /dev/null "http://127.0.0.1:$((CL_BASE + leader * 100 + 4))/healthz"; then
	fail "plain HTTP answered on a tls: cluster"
fi
if curl -s -m 3 -o /dev/null "https://127.0.0.1:$((CL_BASE + leader * 100 + 4))/healthz"; then
	fail "HTTPS verified without the cluster's CA"
fi
[ "$(curl -s $CA "https://127.0.0.1:$((CL_BASE + leader * 100 + 4))/healthz")" = ok ] ||
	fail "healthz over HTTPS"
note "HTTPS with the node's certificate; plain HTTP refused"

# The console: served from the binary, no outside URL in any file.
base="https://127.0.0.1:$((CL_BASE + leader * 100 + 4))"
code=$(curl -s $CA -o /dev/null -w '%{http_code} %{redirect_url}' "$base/")
[ "$code" = "302 $base/ui/" ] || fail "/ redirect: $code"
curl -s $CA -D "$CL_DIR/h" "$base/ui/" >"$CL_DIR/index.html"
grep -qi "^content-security-policy: default-src 'none'" "$CL_DIR/h" ||
	fail "no CSP on /ui/"
files=$(grep -o '\(src\|href\)="[^"]*"' "$CL_DIR/index.html" | sed 's/.*="\(.*\)"/\1/')
[ -n "$files" ] || fail "index.html loads nothing"
for f in $files; do
	case $f in
	http:* | https:* | //*) fail "index.html loads $f from outside" ;;
	data:* | "#"*) continue ;; # inline, or a view of the page
	esac
	[ "$(curl -s $CA -o "$CL_DIR/asset" -w '%{http_code}' "$base/ui/$f")" = 200 ] ||
		fail "/ui/$f not served"
	# The SVG namespace is a name, never fetched; nothing else may appear.
	! sed 's|http://www.w3.org/2000/svg||g' "$CL_DIR/asset" | grep -q 'https\?://' ||
		fail "/ui/$f names an outside URL"
done
! grep -q 'https\?://' "$CL_DIR/index.html" || fail "index.html names an outside URL"
note "console: $(echo "$files" | grep -vc '^data:\|^#') files from the binary, none from outside"

# Reads that wait (a member that does not answer costs /cluster its probe
# timeout) never hold /healthz: each connection has its own thread.
kill -STOP "$(cl_pid $follower)"
pids=
start=$(date +%s%N)
for i in $(seq 1 16); do
	curl -s $CA -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $T_viewer" \
		"$(url $leader /cluster)" >"$CL_DIR/slow$i" &
	pids="$pids $!"
done
sleep 0.3 # the reads are in (that they were still waiting is checked below)
t0=$(date +%s%N)
[ "$(curl -s -m 5 $CA "$base/healthz")" = ok ] || fail "healthz while reads wait"
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
kill -CONT "$(cl_pid $follower)"
# shellcheck disable=SC2086
wait $pids
[ $ms -lt 800 ] || fail "healthz took $ms ms behind 16 waiting reads"
# Reads still unanswered when healthz answered: their time exceeds it.
at=$(((t1 - start) / 1000000))
waited=$(cat "$CL_DIR"/slow* | awk -v at="$at" '$1 * 1000 > at { n++ } END { print n + 0 }')
[ "$waited" -ge 8 ] || fail "only $waited of 16 reads were still waiting when healthz answered at $at ms: $(cat "$CL_DIR"/slow* | tr '\n' ' ')"
note "healthz in $ms ms while 16 /cluster reads waited for a stopped member"

# tls: without auth: the API refuses (HTTPS asks for no client
# certificate, so anyone reaching the port would read as admin).
cl_stop $follower
cl_wait_exit $follower
grep -v '^auth:\|^  tokens:' "$CL_FILE" >"$CL_DIR/noauth.yaml"
"$CONTROLD" -c "$CL_DIR/noauth.yaml" --id $follower >>"$CL_DIR/node$follower.log" 2>&1 &
echo $! >"$CL_DIR/pid$follower"
cl_wait_json "curl -s $CA -H 'Authorization: Bearer x' $(url $follower /budgets)" \
	'.error.code == "PERMISSION_DENIED"' 15 >/dev/null
expect 403 PERMISSION_DENIED $follower /budgets
jq -e '.error.message | test("tls: but no auth:.*add an auth:")' "$CL_DIR/body" \
	>/dev/null || fail "tls without auth: $(cat "$CL_DIR/body")"
note "tls: without auth: /api/v1 refused with 403"
note ok
