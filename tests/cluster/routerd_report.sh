#!/bin/sh
# Reports are attributed from the decision they name: a report with only
# decision_id, ok and latency_ms shows up in `af report --by tenant` and in
# canary analysis; a report claiming another tenant is billed to the
# decision's tenant; an unknown decision_id without tenant, class and
# revision is refused 422 UNKNOWN_DECISION, with them it is accepted and
# counted unmatched.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init routerd_report
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
h=$(cl_af policy apply -f "$EXAMPLES/policy.yaml" -o json | jq -r .hash)
P=$((CL_BASE + 901))
U=http://127.0.0.1:$P
cl_routerd_start r1 $P
cl_wait_http "$U/readyz"
cl_wait_route_hash $P "$h" >/dev/null

route() { curl -s -m 5 -X POST --data-binary "@$EXAMPLES/request.json" "$U/v1/route"; }
# report BODY: prints the status; the body lands in $CL_DIR/body.
report() { curl -s -m 5 -o "$CL_DIR/body" -w '%{http_code}' -X POST "$U/v1/report" -d "$1"; }

# Only decision_id, ok and latency_ms (what docs/routerd.md shows).
id1=$(route | jq -r .decision_id)
[ "$(report "{\"decision_id\":\"$id1\",\"ok\":true,\"latency_ms\":2140}")" = 202 ] ||
	fail "minimal report: $(cat "$CL_DIR/body")"
# Claiming another tenant, class and revision: the decision's win.
id2=$(route | jq -r .decision_id)
[ "$(report "{\"decision_id\":\"$id2\",\"tenant\":\"marketing-team\",\"class\":\"batch\",\"revision\":99,\"ok\":false,\"latency_ms\":10}")" = 202 ] ||
	fail "report claiming another tenant: $(cat "$CL_DIR/body")"
# Unknown decision without its attribution: refused, and says what to do.
[ "$(report '{"decision_id":"r1-00000000000000ff","ok":true}')" = 422 ] ||
	fail "unknown decision accepted: $(cat "$CL_DIR/body")"
jq -e '.error.code == "UNKNOWN_DECISION" and .error.field == "decision_id" and
	(.error.message | test("tenant, class and revision"))' "$CL_DIR/body" >/dev/null ||
	fail "unknown decision body: $(cat "$CL_DIR/body")"
[ "$(report '{"ok":true}')" = 422 ] || fail "report without decision_id accepted"
# With them it is accepted and counted.
[ "$(report '{"decision_id":"elsewhere-1","tenant":"ops-team","class":"research-agent","revision":1,"ok":true}')" = 202 ] ||
	fail "unmatched report with attribution: $(cat "$CL_DIR/body")"
curl -s "$U/metrics" | grep -q '^af_routerd_reports_unmatched_total 1$' ||
	fail "unmatched not counted"

# Showback: both hops on claims-team, nothing on marketing-team.
deadline=$(($(date +%s) + 20))
while :; do
	r=$(cl_af report --by tenant -o json)
	echo "$r" | jq -e 'any(.[]; .tenant == "claims-team" and .successes == 1 and
		.failures == 1) and any(.[]; .tenant == "ops-team")' >/dev/null && break
	[ "$(date +%s)" -lt "$deadline" ] || fail "showback: $r"
	sleep 0.2
done
echo "$r" | jq -e 'all(.[]; .tenant != "marketing-team")' >/dev/null ||
	fail "billed to the tenant the client claimed: $r"

# Canary analysis counts reports that carry only decision_id.
sed 's/^name: prod/name: prod-c/' "$EXAMPLES/policy.yaml" >"$CL_DIR/c.yaml"
rev=$(cl_af canary start -f "$CL_DIR/c.yaml" --weight 50 --interval 1s \
	--min-samples 100000 -o json | jq -r .revision)
deadline=$(($(date +%s) + 10))
until [ "$(curl -s "$U/v1/status" | jq -r '.policy.canary.revision // 0')" = "$rev" ]; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "canary $rev not served"
	sleep 0.05
done
cl_route_batch $P 1 60 "$CL_DIR/d"
nc=$(jq -s '[.[] | select(.decision == "route" and .policy.cohort == "canary")] | length' "$CL_DIR/d")
[ "$nc" -ge 10 ] || fail "only $nc canary routes of 60"
jq -c 'select(.decision == "route") | {decision_id, ok: true, latency_ms: 40}' "$CL_DIR/d" |
	while read -r b; do
		[ "$(report "$b")" = 202 ] || fail "report $b: $(cat "$CL_DIR/body")"
	done
deadline=$(($(date +%s) + 20))
while :; do
	c=$(cl_af canary status -o json | jq -r '.canary.requests')
	[ "$c" = "$nc" ] && break
	[ "$(date +%s)" -lt "$deadline" ] || fail "canary analysis saw $c of $nc reports"
	sleep 0.2
done
note "canary analysis counted $c of $nc canary reports carrying only decision_id"
note ok
