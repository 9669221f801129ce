#!/bin/sh
# The af output contract on a real cluster with tokens: every verb's -o json
# is exactly one JSON document, its -o yaml is YAML holding the same
# document (parsed by libyaml in tests/tools/yaml2json), and the exit code
# never depends on -o. cluster status says PERMISSION_DENIED (exit 1) to a
# caller without a token; policy apply --dry-run changes nothing; member
# list and cluster status follow the Raft configuration after a remove.
. "$(dirname "$0")/../lib/cluster.sh"

Y2J="$ROOT/$BUILD/tests/tools/yaml2json"
[ -x "$Y2J" ] || fail "build $Y2J first (make $BUILD/tests/tools/yaml2json)"

cl_init cli_output
cl_tokens viewer admin
export AF_TOKEN=$T_admin
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cd "$CL_DIR"
cp "$EXAMPLES/policy.yaml" "$EXAMPLES/models.yaml" "$EXAMPLES/request.json" .
sed 's/max_fallbacks: 3/max_fallbacks: 2/' policy.yaml >p2.yaml
sed 's/^name: prod/name: prod-c/' policy.yaml >c.yaml

# run FORMAT ARGS...: af's stdout in out.FORMAT, its exit code in rc.FORMAT
run() {
	f=$1
	shift
	set +e
	# shellcheck disable=SC2068
	"$AF" -c "$CL_FILE" --timeout 10s -o "$f" "$@" >"out.$f" 2>"err.$f"
	echo $? >"rc.$f"
	set -e
	# a SANITIZE=1 build of af reports leaks and errors on stderr
	if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "err.$f"; then
		fail "af $* (-o $f): $(grep -A12 -E 'Sanitizer|runtime error' "err.$f" | head -30)"
	fi
	return 0
}

# one_doc: out.json is exactly one JSON document, out.yaml is YAML
one_doc() {
	jq -s 'length' out.json >n.json 2>/dev/null || fail "$*: -o json is not JSON: $(head -c 300 out.json)"
	[ "$(cat n.json)" = 1 ] || fail "$*: -o json printed $(cat n.json) documents"
	"$Y2J" <out.yaml >yaml.json || fail "$*: -o yaml is not YAML: $(head -c 300 out.yaml)"
	grep -q "^[^'\"]*: ! " out.yaml && fail "$*: -o yaml has tags: $(grep ': ! ' out.yaml)"
	# block style, not JSON's flow form (an empty {} or [] excepted)
	if [ "$(wc -c <out.yaml)" -gt 4 ] && grep -q '^[{[]' out.yaml; then
		fail "$*: -o yaml printed JSON: $(head -c 200 out.yaml)"
	fi
	return 0
}

# read ARGS...: a read verb. Same document in json and yaml, same exit
# code for table, json and yaml.
checked=0
read_verb() {
	run table "$@"
	run json "$@"
	run yaml "$@"
	[ "$(cat rc.json)" = "$(cat rc.table)" ] && [ "$(cat rc.yaml)" = "$(cat rc.table)" ] ||
		fail "$*: exit codes differ: table $(cat rc.table) json $(cat rc.json) yaml $(cat rc.yaml)"
	[ "$(cat rc.json)" = "${EXPECT:-0}" ] || fail "$*: exit $(cat rc.json), want ${EXPECT:-0}: $(cat err.json)"
	if [ "$(cat rc.json)" = 0 ]; then
		# The state may move between the two reads (a routerd's fleet
		# report is a write): read both again, a few times, before
		# calling a difference a defect.
		tries=0
		while :; do
			one_doc "$@"
			jq -S . out.json >a.json
			jq -S . yaml.json >b.json
			cmp -s a.json b.json && break
			tries=$((tries + 1))
			[ $tries -lt 5 ] || fail "$*: yaml and json differ: $(diff a.json b.json | head -10)"
			run json "$@"
			run yaml "$@"
		done
	fi
	checked=$((checked + 1))
}

# write JSON_ARGS -- YAML_ARGS: one write with -o json, an equivalent one
# with -o yaml; both one document with the same keys, same exit code.
write_verb() {
	a=""
	while [ "$1" != "--" ]; do a="$a $1"; shift; done
	shift
	# shellcheck disable=SC2086
	run json $a
	# shellcheck disable=SC2086
	[ -n "${BETWEEN:-}" ] && cl_af $BETWEEN >/dev/null
	run yaml "$@"
	[ "$(cat rc.json)" = "$(cat rc.yaml)" ] ||
		fail "$a: exit codes differ: json $(cat rc.json) yaml $(cat rc.yaml)"
	[ "$(cat rc.json)" = "${EXPECT:-0}" ] || fail "$a: exit $(cat rc.json), want ${EXPECT:-0}: $(cat err.json)"
	one_doc $a
	ka=$(jq -c 'keys' out.json)
	kb=$(jq -c 'keys' yaml.json)
	[ "$ka" = "$kb" ] || fail "$a: keys differ: $ka vs $kb"
	checked=$((checked + 1))
}

write_verb model apply -f models.yaml -- model apply -f models.yaml
write_verb policy apply -f policy.yaml -m one -- policy apply -f policy.yaml
jq -e '.unchanged == true and .revision == 1' yaml.json >/dev/null ||
	fail "re-apply is not unchanged: $(cat yaml.json)"
write_verb budget set t1 --hard 5 -- budget set t2 --hard 5 --soft 4 --period day
jq -e '.ok == true and .tenant == "t1"' out.json >/dev/null || fail "budget set: $(cat out.json)"
write_verb budget delete t1 -- budget delete t2
write_verb model disable open-mid -- model enable open-mid
jq -e '.ok == true and .status == "active"' yaml.json >/dev/null || fail "model enable: $(cat yaml.json)"
write_verb model deprecate pico-small -- model deprecate pico-small
write_verb keygen --out k1 -- keygen --out k2
jq -e '.ok == true and (.key_id | length) > 0' out.json >/dev/null || fail "keygen: $(cat out.json)"
write_verb policy sign -f policy.yaml --key k1.key --out s1 -- \
	policy sign -f policy.yaml --key k2.key --out s2
write_verb snapshot save snap1 -- snapshot save snap2
write_verb cluster transfer-leader -- cluster transfer-leader
cl_wait_leader >/dev/null
write_verb policy apply -f p2.yaml -- policy rollback
EXPECT=1 write_verb policy diff 1 -f p2.yaml -- policy diff 1 -f p2.yaml
jq -e '.identical == false and (.diff | test("max_fallbacks"))' out.json >/dev/null ||
	fail "policy diff: $(cat out.json)"
write_verb policy diff 1 -f policy.yaml -- policy diff 1 -f policy.yaml
BETWEEN="canary abort" write_verb canary start -f c.yaml --weight 5 -- \
	canary start -f c.yaml --weight 5
write_verb canary pause -- canary resume
write_verb canary set-weight 7 -- canary set-weight 8
write_verb emergency set --max-fanout 2 --ttl 1m -m a -- \
	emergency set --class x --max-tool-calls 1 --ttl 1m -m b
jq -e '.ok == true and (.id | startswith("ov-"))' out.json >/dev/null ||
	fail "emergency set: $(cat out.json)"
read_verb emergency list
jq -e 'length == 2 and .[0].effect.max_fanout == 2' out.json >/dev/null ||
	fail "emergency list: $(cat out.json)"
write_verb emergency clear --all -- emergency clear --all
exp=$(date -u -d '+10 min' +%Y-%m-%dT%H:%M:%SZ)
printf '{"effect": {"max_fanout": 1}, "expires": "%s"}\n' "$exp" >ov.json
write_verb emergency sign -f ov.json --key k1.key -- \
	emergency sign -f ov.json --key k2.key
# The client config's verbs, on a config of this test's own.
export AF_CONFIG="$CL_DIR/afconfig"
write_verb config set-context a --endpoints "$(cl_api 1)" -- \
	config set-context b --endpoints "$(cl_api 2)"
write_verb config use-context a -- config use-context b
read_verb config get-contexts
read_verb config current-context
write_verb config delete-context a -- config delete-context b
unset AF_CONFIG

for v in "cluster status" "member list" "policy history" "policy get" \
	"policy get 1" "model list" "model get swift-mid" "budget list" \
	"audit --limit 5" "fleet status" "canary status" "report --by model" \
	"backup list" \
	"policy lint -f policy.yaml" "route -f request.json" \
	"route -f request.json --revision 1 --explain" \
	"route -f request.json --policy policy.yaml --models models.yaml"; do
	# shellcheck disable=SC2086
	read_verb $v
done
# refusals and usage errors: the same exit code whatever -o says
EXPECT=1 read_verb model get no-such-model
EXPECT=1 read_verb policy get 99
EXPECT=2 read_verb policy history extra
EXPECT=2 read_verb policy apply --no-such-flag
EXPECT=2 read_verb policy
BETWEEN="canary start -f c.yaml --weight 5" write_verb canary abort -- canary abort
note "output contract: $checked verbs"

# --dry-run: the leader answers what would happen and stores nothing.
n0=$(cl_af policy history -o json | jq ".revisions | length")
run json policy apply -f c.yaml --dry-run
[ "$(cat rc.json)" = 0 ] || fail "dry run: exit $(cat rc.json): $(cat err.json)"
jq -e '.dry_run == true and .unchanged == false and .revision > 0 and
	(.hash | startswith("sha256:")) and .state == "stable"' out.json \
	>/dev/null || fail "dry run answer: $(cat out.json)"
run yaml policy apply -f policy.yaml --dry-run
"$Y2J" <out.yaml | jq -e '.dry_run == true and .unchanged == true' \
	>/dev/null || fail "dry run of the stable content: $(cat out.yaml)"
n1=$(cl_af policy history -o json | jq ".revisions | length")
[ "$n0" = "$n1" ] || fail "dry run changed the history: $n0 -> $n1 revisions"

# Auth: no token is PERMISSION_DENIED (exit 1), never unreachable/no leader.
for f in table json yaml; do
	set +e
	AF_TOKEN= "$AF" -c "$CL_FILE" -o $f cluster status >out.$f 2>err.$f
	rc=$?
	set -e
	[ $rc = 1 ] || fail "status without token (-o $f): exit $rc, want 1"
	grep -q PERMISSION_DENIED err.$f || fail "status without token: $(cat err.$f)"
	grep -q unreachable out.$f && fail "status without token shows unreachable"
done
AF_TOKEN=$T_viewer cl_af cluster status -o json | jq -e '.leader != null and
	.auth == "tokens" and all(.nodes[]; .role != "unreachable")' >/dev/null ||
	fail "viewer cannot read the status"
"$AF" --endpoints "$(cl_api 1)" cluster status -o json |
	jq -e '.auth | startswith("disabled") | not' >/dev/null ||
	fail "with --endpoints the status claims auth is disabled"

AF_TOKEN=$T_viewer cl_af member list -o json | jq -e '(.members | length) == 3' \
	>/dev/null || fail "viewer cannot list members"
set +e
AF_TOKEN= cl_af member list >/dev/null 2>err.json
rc=$?
set -e
[ $rc = 1 ] && grep -q PERMISSION_DENIED err.json ||
	fail "member list without token: exit $rc: $(cat err.json)"

# Members follow the Raft configuration.
leader=$(cl_wait_leader)
victim=$((leader % 3 + 1))
cl_af cluster remove $victim -o json | jq -e ".removed == true and .id == $victim" \
	>/dev/null || fail "remove $victim"
cl_stop $victim
cl_af member list -o json | jq -e "(.members | length) == 2 and
	all(.members[]; .id != $victim and .role == \"voter\") and .leader != null" \
	>/dev/null || fail "member list after remove: $(cl_af member list -o json)"
cl_af cluster status -o json | jq -e "(.nodes | length) == 2 and
	all(.nodes[]; .id != $victim and .role != \"unreachable\") and
	.not_members == [$victim]" >/dev/null ||
	fail "status after remove: $(cl_af cluster status -o json)"
cl_af member list | grep -q voter || fail "member list table"

# Without a leader: exit 3 whatever -o says (the document still prints).
other=$(for i in 1 2 3; do [ $i != $victim ] && [ $i != "$(cl_wait_leader)" ] && echo $i; done | head -1)
cl_stop "$(cl_wait_leader)"
# A leader that stops hands leadership to the survivor first, which stays
# leader until it misses its majority (an election timeout or so).
t=0
until "$AF" -c "$CL_FILE" cluster status >/dev/null 2>&1; [ $? = 3 ]; do
	t=$((t + 1))
	[ $t -lt 150 ] || fail "the survivor still leads 15 s after the other voter stopped"
	sleep 0.1
done
for f in table json yaml; do
	set +e
	"$AF" -c "$CL_FILE" -o $f cluster status >out.$f 2>err.$f
	rc=$?
	set -e
	[ $rc = 3 ] || fail "status without leader (-o $f): exit $rc, want 3"
done
jq -e '.leader == null' out.json >/dev/null || fail "no-leader document: $(cat out.json)"
"$Y2J" <out.yaml | jq -e '.leader == null' >/dev/null || fail "no-leader yaml"
note "survivor $other, no leader: exit 3 for every -o"
note ok
