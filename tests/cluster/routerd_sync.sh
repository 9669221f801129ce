#!/bin/sh
# routerd follows the cluster: an apply reaches it; with every change hint
# lost it still converges on the next heartbeat; af fleet status shows it
# SYNCED; with every controld gone it keeps deciding; restarted with its
# cache and no controld it is ready at once with the last revision; a
# damaged cache is not served.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init routerd_sync
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
h1=$(cl_af policy apply -f "$EXAMPLES/policy.yaml" -o json | jq -r .hash)
P1=$((CL_BASE + 901))
P2=$((CL_BASE + 902))
cl_routerd_start r1 $P1 --cache "$CL_DIR/cache1"
AF_TEST_DROP_HINTS=1 cl_routerd_start r2 $P2
# The hook exists in test builds only (make TEST_HOOKS=1, the default).
cl_wait_log "$CL_DIR/routerd-r2.log" "event=test_hook name=AF_TEST_DROP_HINTS" >/dev/null
cl_wait_http "http://127.0.0.1:$P1/readyz"
cl_wait_http "http://127.0.0.1:$P2/readyz"
ms=$(cl_wait_route_hash $P1 "$h1")
d=$(curl -s -X POST --data-binary "@$EXAMPLES/request.json" "http://127.0.0.1:$P1/v1/route")
echo "$d" | jq -e '.decision == "route" and .model == "swift-mid" and
	.region == "eu-west-1" and .est_cost_usd == 0.06624 and
	.policy.revision == 1 and .registry_revision == 1' >/dev/null ||
	fail "decision: $d"

# A change reaches both: r1 by its hint, r2 (hints dropped) by the next
# heartbeat, so within two heartbeat periods.
sed 's/^name: prod/name: prod-2/' "$EXAMPLES/policy.yaml" >"$CL_DIR/p2.yaml"
h2=$(cl_af policy apply -f "$CL_DIR/p2.yaml" -o json | jq -r .hash)
ms1=$(cl_wait_route_hash $P1 "$h2")
ms2=$(cl_wait_route_hash $P2 "$h2")
note "revision 2 served after ${ms1} ms (hints) and ${ms2} ms (heartbeats only)"
[ "$ms2" -le 2500 ] || fail "heartbeat-only routerd took ${ms2} ms"

# Fleet: both report what they applied.
deadline=$(($(date +%s) + 15))
while :; do
	f=$(cl_af fleet status -o json)
	[ "$(echo "$f" | jq --arg h "$h2" '[.[] | select(.state == "SYNCED" and .hash == $h)] | length')" = 2 ] && break
	[ "$(date +%s)" -lt "$deadline" ] || fail "fleet: $f"
	sleep 0.2
done
echo "$f" | jq -e 'any(.[]; .id == "r1" and .revision == 2)' >/dev/null ||
	fail "fleet ids: $f"

# A rollback is a lower revision number but a newer state: it is applied.
cl_af policy rollback >/dev/null
cl_wait_route_hash $P1 "$h1" >/dev/null

# The whole control plane gone: routerd keeps deciding from its view.
for i in 1 2 3; do cl_stop $i KILL; done
for k in $(seq 1 20); do
	[ "$(cl_route_hash $P1)" = "$h1" ] || fail "no decision without controld ($k)"
done
cl_wait_json "curl -s http://127.0.0.1:$P1/v1/status" \
	'.controld == "disconnected" or .controld_connected == false' 15 >/dev/null

# Restart with the cache and no controld: ready at once, last revision.
cl_routerd_stop r1 TERM
cl_routerd_start r1 $P1 --cache "$CL_DIR/cache1"
cl_wait_http "http://127.0.0.1:$P1/readyz" 200 5
[ "$(cl_route_hash $P1)" = "$h1" ] || fail "cache did not serve revision 1"
grep -q "event=cache_loaded" "$CL_DIR/routerd-r1.log" || fail "no cache_loaded"

# A damaged cache is not served: not ready until a controld answers.
cl_routerd_stop r1 TERM
printf 'garbage' | dd of="$CL_DIR/cache1/view.pb" bs=1 seek=100 conv=notrunc 2>/dev/null
cl_routerd_start r1 $P1 --cache "$CL_DIR/cache1"
cl_wait_http "http://127.0.0.1:$P1/healthz" 200 5
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P1/readyz")
[ "$code" = 503 ] || fail "damaged cache served (readyz $code)"
grep -q "event=cache_ignored" "$CL_DIR/routerd-r1.log" || fail "no cache_ignored"
cl_start 1
cl_start 2
cl_wait_http "http://127.0.0.1:$P1/readyz" 200 20
note ok
