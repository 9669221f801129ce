#!/bin/sh
# The quality gate: reports carry quality (0 to 1); canary status shows the
# mean per cohort; a canary whose mean falls more than --max-quality-drop
# below stable's, once both cohorts have --min-samples, is aborted by the
# controller (audited), while a canary of equal quality is not. Reports
# with a quality outside 0..1 are refused and change nothing.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init canary_quality
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
cp "$EXAMPLES/policy.yaml" "$CL_DIR/base.yaml"
variant() { sed "s/^name: prod/name: prod-$1/" "$CL_DIR/base.yaml" >"$CL_DIR/$1.yaml"; }
cl_af policy apply -f "$CL_DIR/base.yaml" >/dev/null
P1=$((CL_BASE + 901))
cl_routerd_start r1 $P1
cl_wait_http "http://127.0.0.1:$P1/readyz"

# Out of range or of the wrong type: 422, naming the field.
for q in 1.5 -0.1 '"high"'; do
	body=$(jq -nc --argjson q "$q" '{ok: true, tenant: "claims-team",
		class: "research-agent", revision: 1, quality: $q}')
	code=$(curl -s -o "$CL_DIR/out" -w '%{http_code}' -X POST --data "$body" \
		"http://127.0.0.1:$P1/v1/report")
	[ "$code" = 422 ] && jq -e '.error.field == "quality"' "$CL_DIR/out" >/dev/null ||
		fail "quality $q: $code $(cat "$CL_DIR/out")"
done

# Equal quality: gates pass, the quality is shown per cohort.
variant good
rev=$(cl_af canary start -f "$CL_DIR/good.yaml" --weight 50 --interval 1s \
	--min-samples 30 --max-quality-drop 0.1 -o json | jq -r .revision)
cl_wait_json "curl -s http://127.0.0.1:$P1/v1/status" ".policy.canary.revision == $rev" >/dev/null
cl_traffic $P1 1 400 "$CL_DIR/d1" true true 40 0.9 0.88
st=$(cl_wait_json "cl_af canary status -o json" \
	'.canary.quality_samples >= 30 and .stable.quality_samples >= 30 and
	 (.verdict | startswith("gates pass"))' 20)
echo "$st" | jq -e '(.stable.quality - 0.9 | fabs) < 0.001 and
	(.canary.quality - 0.88 | fabs) < 0.001 and .gates.max_quality_drop == 0.1' \
	>/dev/null || fail "quality per cohort: $st"
cl_af canary status >"$CL_DIR/status.txt"
grep -Eq "^canary .* 0\.880$" "$CL_DIR/status.txt" || fail "status table: $(cat "$CL_DIR/status.txt")"
[ "$(cl_af canary status -o json | jq -r .state)" = progressing ] || fail "good canary stopped"
cl_af canary abort >/dev/null

# A drop of 0.3: aborted once both cohorts have 30 samples.
variant bad
rev=$(cl_af canary start -f "$CL_DIR/bad.yaml" --weight 50 --interval 1s \
	--min-samples 30 --max-quality-drop 0.1 -o json | jq -r .revision)
cl_wait_json "curl -s http://127.0.0.1:$P1/v1/status" ".policy.canary.revision == $rev" >/dev/null
cl_traffic $P1 1001 1400 "$CL_DIR/d2" true true 40 0.9 0.6
deadline=$(($(date +%s) + 20))
while :; do
	s=$(cl_af policy history -o json | jq -r --argjson r "$rev" '.revisions[] | select(.revision == $r) | .state')
	[ "$s" = aborted ] && break
	[ "$(date +%s)" -lt "$deadline" ] || { cl_af canary status; fail "not aborted ($s)"; }
	sleep 0.2
done
cl_af audit -o json | jq -e --arg t "revision $rev" '.records[] | select(.verb == "canary.auto_abort" and
	.target == $t and .principal == "rollout-controller" and .outcome == "OK")' >/dev/null ||
	fail "no auto_abort audit record"
last=$(cl_af canary status -o json | jq -r .last_action)
echo "$last" | grep -q "mean quality 0.6000 vs stable 0.9000: drop above 0.1000" || fail "last action: $last"
note "bad canary $rev: $last"
note ok
