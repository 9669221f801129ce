#!/bin/sh
# A canary whose hash a routerd NACKs is aborted by the controller: one
# of three routerds trusts a signing key (the cluster requires none) and
# refuses the unsigned candidate; with --max-nack 30 its NACK (33% of the
# live fleet) aborts the rollout, audited as canary.auto_abort by
# rollout-controller with the reason, and that routerd, offered its
# current view again, stops NACKing. `apply --wait` of an unsigned stable
# exits 3 naming that routerd as NACKing it, with its reason.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init fleet_nack
mkdir -p "$CL_DIR/keys"
"$AF" keygen --out "$CL_DIR/keys/release" >/dev/null
cp "$CL_FILE" "$CL_DIR/trusting.yaml"
printf 'signing:\n  trusted_keys: [./keys/release.pub]\n' >>"$CL_DIR/trusting.yaml"
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
cp "$EXAMPLES/policy.yaml" "$CL_DIR/base.yaml"
"$AF" policy sign -f "$CL_DIR/base.yaml" --key "$CL_DIR/keys/release.key" --serial 1 >/dev/null
h1=$(cl_af policy apply -f "$CL_DIR/base.yaml" -o json | jq -r .hash)
P1=$((CL_BASE + 901))
P2=$((CL_BASE + 902))
P3=$((CL_BASE + 903))
cl_routerd_start r1 $P1
cl_routerd_start r2 $P2
"$ROUTERD" -c "$CL_DIR/trusting.yaml" --listen "127.0.0.1:$P3" --id r3 \
	>>"$CL_DIR/routerd-r3.log" 2>&1 &
echo $! >"$CL_DIR/pidr-r3"
for p in $P1 $P2 $P3; do cl_wait_route_hash $p "$h1" >/dev/null; done
cl_wait_json "cl_af fleet status -o json" \
	'[.[] | select(.state == "SYNCED")] | length == 3' 20 >/dev/null

# An unsigned candidate: r1 and r2 serve it, r3 NACKs it.
sed "s/^name: prod/name: prod-unsigned/" "$CL_DIR/base.yaml" >"$CL_DIR/cand.yaml"
rev=$(cl_af canary start -f "$CL_DIR/cand.yaml" --steps 20,50 --interval 30s \
	--max-nack 30 -o json | jq -r .revision)
deadline=$(($(date +%s) + 20))
while :; do
	st=$(cl_af policy history -o json | jq -r --argjson r "$rev" '.revisions[] | select(.revision == $r) | .state')
	[ "$st" = aborted ] && break
	[ "$(date +%s)" -lt "$deadline" ] || { cl_af canary status; cl_af fleet status; fail "not aborted ($st)"; }
	sleep 0.2
done
rec=$(cl_af audit -o json | jq -c --arg t "revision $rev" '[.records[] |
	select(.verb == "canary.auto_abort" and .target == $t)] | last')
echo "$rec" | jq -e '.principal == "rollout-controller" and .outcome == "OK"' >/dev/null ||
	fail "no auto_abort audit record: $rec"
cl_af canary status -o json | jq -e '.state == "none" and
	(.last_action | test("1 of 3 live routerds NACK the canary hash \\(33%\\): at or over --max-nack 30%"))' \
	>/dev/null || fail "last action: $(cl_af canary status -o json | jq .last_action)"
grep -q "unsigned bundle: trusted keys are configured" "$CL_DIR/routerd-r3.log" ||
	fail "r3 did not NACK: $(tail -3 "$CL_DIR/routerd-r3.log")"
note "canary $rev aborted: $(cl_af canary status -o json | jq -r .last_action)"

# Every routerd serves the stable revision alone; r3 no longer NACKs.
cl_wait_json "cl_af fleet status -o json" \
	'[.[] | select(.state == "SYNCED" and .canary_hash == "")] | length == 3' 20 >/dev/null
for p in $P1 $P2 $P3; do
	curl -s -X POST --data-binary "@$EXAMPLES/request.json" "http://127.0.0.1:$p/v1/route" |
		jq -e --arg h "$h1" '.policy.hash == $h and .policy.cohort == "stable"' >/dev/null ||
		fail "routerd :$p after the abort"
done

# apply --wait of an unsigned stable: r3 NACKs it, named as such.
sed "s/^name: prod/name: prod-unsigned-stable/" "$CL_DIR/base.yaml" >"$CL_DIR/st.yaml"
set +e
cl_af policy apply -f "$CL_DIR/st.yaml" --wait --timeout 3s >/dev/null 2>"$CL_DIR/err"
rc=$?
set -e
[ $rc = 3 ] || fail "apply --wait with r3 NACKing: exit $rc: $(cat "$CL_DIR/err")"
grep -q "2 of 3 live routerds serve .*laggards: r3 NACKED it, serves revision 1 .*(unsigned bundle: trusted keys are configured)" \
	"$CL_DIR/err" || fail "laggard line: $(cat "$CL_DIR/err")"
note "apply --wait: $(cat "$CL_DIR/err")"
note ok
