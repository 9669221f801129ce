#!/bin/sh
# A 3-node cluster: leader election, models and policy applied, history,
# unchanged re-apply, rollback, audit, bad input refused with positions and
# nothing changed, follower endpoints redirect writes, health endpoints,
# clean shutdown on SIGTERM.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init basic
for i in 1 2 3; do cl_start $i; done
leader=$(cl_wait_leader)
note "leader is node $leader"

cl_af model apply -f "$EXAMPLES/models.yaml" | grep -q "5 models applied" ||
	fail "model apply"
cl_af model apply -f "$EXAMPLES/models.yaml" -o json |
	jq -e '.unchanged == true and .registry_revision == 1' >/dev/null ||
	fail "identical model apply must be a no-op"
out=$(cl_af policy apply -f "$EXAMPLES/policy.yaml" -m first -o json)
rev=$(echo "$out" | jq -r .revision)
hash=$(echo "$out" | jq -r .hash)
[ "$rev" = 1 ] || fail "first revision is $rev"
[ "$(echo "$out" | jq -r .state)" = stable ] || fail "state: $out"
[ "$(echo "$out" | jq -r .unchanged)" = false ] || fail "unchanged: $out"
case $hash in sha256:????????????????????????????????????????????????????????????????) ;;
*) fail "hash $hash" ;; esac

# Re-applying the stable content is a no-op that says unchanged.
out=$(cl_af policy apply -f "$EXAMPLES/policy.yaml" -o json)
[ "$(echo "$out" | jq -r .unchanged)" = true ] || fail "re-apply: $out"
cl_af policy apply -f "$EXAMPLES/policy.yaml" | grep -q "(unchanged)" ||
	fail "table output does not say unchanged"

# A second revision, then rollback to the first.
sed 's/max_fallbacks: 3/max_fallbacks: 2/' "$EXAMPLES/policy.yaml" >"$CL_DIR/p2.yaml"
out=$(cl_af policy apply -f "$CL_DIR/p2.yaml" -m second -o json)
[ "$(echo "$out" | jq -r .revision)" = 2 ] || fail "second: $out"
h=$(cl_af policy history -o json | jq .revisions)
[ "$(echo "$h" | jq length)" = 2 ] || fail "history: $h"
[ "$(echo "$h" | jq '[.[] | select(.state == "stable")] | length')" = 1 ] ||
	fail "exactly one stable: $h"
[ "$(echo "$h" | jq -r '.[0].revision')" = 2 ] || fail "newest first: $h"
[ "$(echo "$h" | jq -r '.[1].state')" = superseded ] || fail "superseded: $h"
[ "$(echo "$h" | jq -r '.[0].message')" = second ] || fail "message: $h"
cl_af policy rollback -o json | jq -e '.revision == 1' >/dev/null ||
	fail "rollback"
h=$(cl_af policy history -o json | jq .revisions)
[ "$(echo "$h" | jq -r '.[] | select(.revision == 1) | .state')" = stable ] ||
	fail "rollback did not make 1 stable: $h"
cl_af policy get | grep -q "max_fallbacks: 3" || fail "policy get"

# Diff of canonical forms: one line per changed field; exit 1 on change.
set +e
d=$(cl_af policy diff 1 2)
rc=$?
set -e
[ $rc = 1 ] || fail "diff exit $rc"
echo "$d" | grep -q '^-defaults.max_fallbacks: 3$' || fail "diff: $d"
echo "$d" | grep -q '^+defaults.max_fallbacks: 2$' || fail "diff: $d"
cl_af policy diff 1 -f "$EXAMPLES/policy.yaml" >/dev/null || fail "diff equal"

# af route against the cluster: same engine, the cluster's revision.
r=$(cl_af route -f "$EXAMPLES/request.json" -o json)
echo "$r" | jq -e '.model == "swift-mid" and .region == "eu-west-1" and
	.est_cost_usd == 0.06624 and .policy.revision == 1 and
	.policy.cohort == "stable"' >/dev/null || fail "route: $r"
cl_af route -f "$EXAMPLES/request.json" --revision 2 -o json |
	jq -e '.policy.revision == 2' >/dev/null || fail "route --revision"
cl_af policy get 2 | grep -q "max_fallbacks: 2" || fail "policy get 2"

# Bad input: exit 1, file:line:col, and the cluster state is unchanged.
before=$(cl_af policy history -o json | jq .revisions)
printf 'apiVersion: af/v1\nkind: Policy\nname: x\ntiers: [a]\nbogus: 1\n' >"$CL_DIR/bad.yaml"
set +e
err=$(cl_af policy apply -f "$CL_DIR/bad.yaml" 2>&1 >/dev/null)
rc=$?
set -e
[ $rc = 1 ] || fail "bad policy exit $rc"
echo "$err" | grep -q "bad.yaml:5:1:" || fail "no position in: $err"
[ "$(cl_af policy history -o json | jq .revisions)" = "$before" ] || fail "bad apply changed state"
set +e
cl_af model disable no-such-model 2>/dev/null
rc=$?
set -e
[ $rc = 1 ] || fail "disable unknown model exit $rc"

# Model verbs.
cl_af model deprecate open-mid >/dev/null
[ "$(cl_af model get open-mid -o json | jq -r .status)" = deprecated ] ||
	fail "deprecate"
[ "$(cl_af model list -o json | jq length)" = 5 ] || fail "model list"
cl_af model delete open-mid >/dev/null
[ "$(cl_af model list -o json | jq length)" = 4 ] || fail "model delete"

# Audit: one record per committed mutation, newest first.
a=$(cl_af audit -o json | jq .records)
[ "$(echo "$a" | jq '[.[] | select(.verb == "policy.apply")] | length')" = 4 ] ||
	fail "audit policy.apply count: $a"
[ "$(echo "$a" | jq -r '.[0].verb')" = model.delete ] || fail "audit order"
echo "$a" | jq -e '[.[] | select(.outcome == "NOT_FOUND")] | length == 1' \
	>/dev/null || fail "refused command not audited"

# A client that knows only a follower is redirected to the leader.
follower=$(( leader % 3 + 1 ))
"$AF" --endpoints "$(cl_api $follower)" policy history -o json | jq .revisions |
	jq -e 'length == 2' >/dev/null || fail "follower redirect (read)"
"$AF" --endpoints "$(cl_api $follower)" policy apply -f "$EXAMPLES/policy.yaml" \
	-o json | jq -e .unchanged >/dev/null || fail "follower redirect (write)"

# Health endpoints.
curl -sf "http://$(cl_http 1)/healthz" | grep -q ok || fail healthz
cl_wait_converged 3
curl -sf "http://$(cl_http $follower)/readyz" | grep -q ready || fail readyz
m=$(curl -sf "http://$(cl_http $leader)/metrics")
echo "$m" | grep -q '^af_raft_leader 1' || fail "metrics leader flag"
echo "$m" | grep -q 'af_api_requests_total{verb="write",result="ok"}' ||
	fail "metrics api counter"
echo "$m" | grep -q '^af_apply_latency_seconds_count' || fail "metrics hist"

# Clean shutdown: exit 0 on SIGTERM.
cl_stop $follower TERM
set +e
cl_wait_exit $follower
rc=$?
set -e
[ $rc = 0 ] || fail "SIGTERM exit code $rc"
note "ok"
