#!/bin/sh
# Shadow evaluation end to end: a shadow of a bundle that changes one rule
# (planners on tier mid instead of frontier) shows half the sampled
# requests changed (the planners), by tier, while the live decisions are
# byte for byte those made without the shadow; a canary start requiring
# more agreement than the shadow reached is refused (exit 1, naming the
# agreement and the samples) and accepted at a lower requirement; a
# shadow with --duration expires by itself; a canary abort leaves the
# shadow alone; a routerd restarted from its --cache while every controld
# is down still evaluates the shadow.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init shadow
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
cp "$EXAMPLES/policy.yaml" "$CL_DIR/base.yaml"
cl_af policy apply -f "$CL_DIR/base.yaml" >/dev/null
P1=$((CL_BASE + 901))
cl_routerd_start r1 $P1
cl_wait_http "http://127.0.0.1:$P1/readyz"

# The candidate: one rule changed.
sed 's/^name: prod/name: prod-cand/' "$CL_DIR/base.yaml" |
	awk '/name: planners-frontier/ { p = 1 }
		p && /route:/ { sub(/tier: frontier, fallback_tiers: \[mid\]/, "tier: mid, fallback_tiers: [small]"); p = 0 }
		{ print }' >"$CL_DIR/cand.yaml"
grep -A2 'planners-frontier' "$CL_DIR/cand.yaml" | grep -q 'tier: mid' ||
	fail "candidate not written"

# batch PREFIX LAST OUT: workflows PREFIX-1..LAST (new ones each batch,
# so no workflow state carries over); even ones are planners. Not
# reported: no health or latency changes between two batches, and their
# lane slots (at most 200 of 256) stay below the degrade watermark.
batch() {
	awk -v port="$P1" -v p="$1" -v b="$2" 'BEGIN {
		a = 1
		for (i = a; i <= b; i++) {
			if (i > a) print "next"
			role = i % 2 == 0 ? ",\\\"agent_role\\\":\\\"planner\\\"" : ""
			printf "url = \"http://127.0.0.1:%s/v1/route\"\n", port
			printf "data = \"{\\\"workflow_id\\\":\\\"%s-%d\\\",\\\"tenant\\\":\\\"claims-team\\\",\\\"class\\\":\\\"research-agent\\\",\\\"input_tokens\\\":1000,\\\"output_tokens\\\":100%s}\"\n", p, i, role
			print "write-out = \"\\n\""
		}
	}' >"$CL_DIR/b.cfg"
	curl -s -K "$CL_DIR/b.cfg" | grep -v '^$' >"$3"
}
live() { jq -c 'del(.decision_id)' "$1"; }

# The baseline, without a shadow.
batch a 100 "$CL_DIR/d0"

# --- the shadow ------------------------------------------------------------
out=$(cl_af shadow start -f "$CL_DIR/cand.yaml" -m "planners on mid" -o json)
srev=$(echo "$out" | jq -r .revision)
shash=$(echo "$out" | jq -r .hash)
[ "$(echo "$out" | jq -r .state)" = shadow ] || fail "start: $out"
# At most one shadow.
cl_af shadow start -f "$CL_DIR/cand.yaml" >/dev/null 2>"$CL_DIR/err" &&
	fail "a second shadow was accepted"
grep -q "is running" "$CL_DIR/err" || fail "second shadow: $(cat "$CL_DIR/err")"
cl_wait_json "curl -s http://127.0.0.1:$P1/v1/status" \
	".policy.shadow.hash == \"$shash\"" >/dev/null
batch b 100 "$CL_DIR/d1"
[ "$(live "$CL_DIR/d0" | md5sum)" = "$(live "$CL_DIR/d1" | md5sum)" ] ||
	fail "live decisions changed with the shadow on"
cl_report_batch $P1 "$CL_DIR/d0" true true 40 >/dev/null
cl_report_batch $P1 "$CL_DIR/d1" true true 40 >/dev/null
# Every decision shadowed, counted once flushed to controld.
st=$(cl_wait_json "cl_af shadow status -o json" '.total.sampled == 100')
note "shadow: $(echo "$st" | jq -c .total)"
echo "$st" | jq -e --argjson r "$srev" --arg h "$shash" '
	.revision == $r and .hash == $h and .sample_pct == 100 and
	.state == "running" and .total.same == 50 and
	.total.changed.tier == 50 and .total.changed.route_to_deny == 0 and
	(.classes | length) == 1 and .classes[0].class == "research-agent" and
	.classes[0].sampled == 100 and
	.total.cost_micro_usd.stable > .total.cost_micro_usd.shadow' \
	>/dev/null || fail "shadow status: $st"
[ "$(cl_routerd_metric $P1 af_routerd_shadow_dropped_total)" = 0 ] ||
	fail "shadow jobs dropped"
# Another node answers the same once it applied the flush (a --stale read
# of a follower may come before its apply).
cl_wait_json "\"$AF\" --endpoints \"$(cl_api 2)\" --stale shadow status -o json" \
	'.total.sampled == 100' >/dev/null
# The revision is in state shadow; the stable one is untouched.
cl_af policy history -o json | jq -e --argjson r "$srev" \
	'.revisions[] | select(.revision == $r) | .state == "shadow"' >/dev/null ||
	fail "revision $srev not in state shadow"

# --- canaries gated on the shadow's agreement (50%) ----------------------
if cl_af canary start -f "$CL_DIR/cand.yaml" --weight 10 \
	--require-shadow 90 >"$CL_DIR/out" 2>"$CL_DIR/err"; then
	fail "canary accepted with 50% agreement under --require-shadow 90"
else
	rc=$?
fi
[ $rc = 1 ] || fail "refusal exit $rc, not 1"
grep -q "50.00% over 100 sampled" "$CL_DIR/err" || fail "refusal: $(cat "$CL_DIR/err")"
cl_af canary start -f "$CL_DIR/cand.yaml" --weight 10 --require-shadow 40 \
	--min-shadow-samples 1000 >/dev/null 2>"$CL_DIR/err" &&
	fail "canary accepted with 100 of 1000 samples"
cl_af canary start -f "$CL_DIR/base.yaml" --weight 10 --require-shadow 0 \
	>/dev/null 2>&1 && fail "canary of a never-shadowed bundle accepted"
crev=$(cl_af canary start -f "$CL_DIR/cand.yaml" --weight 10 \
	--require-shadow 40 --min-shadow-samples 100 -o json | jq -r .revision) ||
	fail "canary refused at --require-shadow 40"
# The canary and the shadow are independent: aborting one leaves the other.
cl_af canary abort >/dev/null
[ "$(cl_af shadow status -o json | jq -r .state)" = running ] ||
	fail "canary abort touched the shadow"
note "canary $crev accepted at 40% and aborted; shadow still running"

# --- stop, and a shadow that expires by itself ----------------------------
cl_af shadow stop >/dev/null
[ "$(cl_af shadow status -o json | jq -r .state)" = stopped ] || fail "stop"
cl_wait_json "curl -s http://127.0.0.1:$P1/v1/status" '.policy.shadow == null' >/dev/null
cl_af shadow stop >/dev/null 2>&1 && fail "stop without a shadow accepted"
cl_af shadow start -f "$CL_DIR/cand.yaml" --sample 50 --duration 2s >/dev/null
cl_wait_json "cl_af shadow status -o json" '.state == "expired"' 20 >/dev/null
cl_af audit -o json | jq -e '[.records[] | select(.verb == "shadow.expire" and
	.principal == "shadow-expiry")] | length == 1' >/dev/null || fail "expiry not audited"

# --- the shadow survives a restart with --cache and no control plane -----
cl_af shadow start -f "$CL_DIR/cand.yaml" >/dev/null
P9=$((CL_BASE + 909))
cl_routerd_start r9 $P9 --cache "$CL_DIR/cache9"
cl_wait_json "curl -s http://127.0.0.1:$P9/v1/status" ".policy.shadow.hash == \"$shash\"" >/dev/null
cl_routerd_stop r9
for i in 1 2 3; do cl_stop $i; done
cl_routerd_start r9 $P9 --cache "$CL_DIR/cache9"
cl_wait_http "http://127.0.0.1:$P9/readyz"
curl -s "http://127.0.0.1:$P9/v1/status" | jq -e ".policy.shadow.hash == \"$shash\"" >/dev/null ||
	fail "restarted from its cache without the shadow: $(curl -s "http://127.0.0.1:$P9/v1/status")"
cl_route_batch $P9 1 10 "$CL_DIR/d9"
deadline=$(($(date +%s) + 10))
until [ "$(cl_routerd_metric $P9 af_routerd_shadow_evaluated_total)" -ge 10 ]; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "the cached shadow evaluated $(cl_routerd_metric $P9 af_routerd_shadow_evaluated_total) of 10"
	sleep 0.1
done
note "ok"
