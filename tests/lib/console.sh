# The console's browser test, shared by console.sh (its own cluster, with
# tokens) and console_local.sh (deploy/local.sh's cluster, as `make run`
# starts it). Needs tests/lib/cluster.sh: cl_af, CL_DIR, fail.

# console_deps: chromium and playwright-core (npm ci when missing).
console_deps() {
	command -v chromium >/dev/null 2>&1 || fail "no chromium (make deps installs it)"
	if [ ! -d "$ROOT/tests/browser/node_modules/playwright-core" ]; then
		(cd "$ROOT/tests/browser" && npm ci --no-audit --no-fund --silent) ||
			fail "npm ci in tests/browser"
	fi
}

# console_state: two more revisions, a canary with gates, a shadow, two
# budgets (before the routerd serves the canary).
console_state() {
	cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
	cl_af policy apply -f "$EXAMPLES/policy.yaml" -m first >/dev/null
	sed -e 's/^name: prod/name: prod-2/' "$EXAMPLES/policy.yaml" >"$CL_DIR/p2.yaml"
	cl_af policy apply -f "$CL_DIR/p2.yaml" -m "second name" >/dev/null
	sed 's/^name: prod/name: prod-c/' "$EXAMPLES/policy.yaml" >"$CL_DIR/c.yaml"
	cl_af canary start -f "$CL_DIR/c.yaml" --steps 10,30,60 --interval 1h \
		--max-error-delta 0.05 --max-latency-ratio 1.5 --max-cost-ratio 1.2 \
		--min-samples 50 >/dev/null
	# A shadow of a candidate that routes planners on the mid tier.
	awk '/name: planners-frontier/ { p = 1 }
		p && /route:/ { sub(/tier: frontier, fallback_tiers: \[mid\]/, "tier: mid, fallback_tiers: [small]"); p = 0 }
		{ sub(/^name: prod-2/, "name: prod-s"); print }' "$CL_DIR/p2.yaml" >"$CL_DIR/s.yaml"
	grep -A2 'planners-frontier' "$CL_DIR/s.yaml" | grep -q 'tier: mid' || fail "no candidate"
	cl_af shadow start -f "$CL_DIR/s.yaml" --sample 50 -m "planners on mid" >/dev/null
	cl_af budget set claims-team --hard 100 --soft 80 >/dev/null
	cl_af budget set ops-team --hard 20 --period day >/dev/null
}

# console_traffic PORT: traffic through the routerd at PORT once it serves
# the canary, planners for the shadow, 30 ended workflows, an override.
console_traffic() {
	P=$1
	cl_wait_json "cl_af fleet status -o json" 'length == 1 and .[0].state == "SYNCED" and .[0].canary_revision > 0' 15 >/dev/null
	# In two halves 3 s apart, the second in the canary's next step:
	# controld's rollout history (a point at most every 2 s of reports)
	# has points of both steps.
	cl_traffic $P 1 200 "$CL_DIR/d" true true 40
	cl_wait_json "cl_af canary status -o json" '.history[-1].canary.requests > 0' 15 >/dev/null
	cl_af canary promote >/dev/null
	cl_wait_json "cl_af fleet status -o json" '.[0].canary_weight == 30' 15 >/dev/null
	sleep 3
	cl_traffic $P 201 400 "$CL_DIR/d2" true true 40
	cl_wait_json "cl_af canary status -o json" '.canary.requests > 0 and .stable.requests > 0' 15 >/dev/null
	# Planners (the shadow changes their tier), and 30 workflows ended:
	# 20 succeeded, 6 failed, 4 abandoned.
	awk -v port="$P" 'BEGIN {
		for (i = 1; i <= 60; i++) {
			if (i > 1) print "next"
			printf "url = \"http://127.0.0.1:%s/v1/route\"\n", port
			printf "data = \"{\\\"workflow_id\\\":\\\"pl-%d\\\",\\\"tenant\\\":\\\"claims-team\\\",\\\"class\\\":\\\"research-agent\\\",\\\"agent_role\\\":\\\"planner\\\",\\\"input_tokens\\\":1000,\\\"output_tokens\\\":100}\"\n", i
			print "output = \"/dev/null\""
		}
		for (i = 1; i <= 30; i++) {
			o = i <= 20 ? "success" : i <= 26 ? "failed" : "abandoned"
			print "next"
			printf "url = \"http://127.0.0.1:%s/v1/outcome\"\n", port
			printf "data = \"{\\\"workflow_id\\\":\\\"wf-%d\\\",\\\"tenant\\\":\\\"claims-team\\\",\\\"class\\\":\\\"research-agent\\\",\\\"outcome\\\":\\\"%s\\\",\\\"tool_cost_usd\\\":0.01}\"\n", i, o
			print "output = \"/dev/null\""
		}
	}' >"$CL_DIR/more.cfg"
	curl -s -K "$CL_DIR/more.cfg" >/dev/null
	cl_wait_json "cl_af report --unit workflow -o json" 'length == 1 and .[0].workflows == 30' 15 >/dev/null
	cl_wait_json "cl_af shadow status -o json" '.total.sampled > 0 and .total.changed.total > 0' 15 >/dev/null
	cl_wait_json "cl_af canary status -o json" '(.history | length) >= 2' 20 >/dev/null
	cl_af emergency set --class marketing --drain-lane batch-offline --ttl 1h \
		-m "batch lane drained for the console" >/dev/null

}

# console_check URL TOKEN SHOTS: what af says, then the pages in chromium
# (TOKEN "-": the cluster has no auth, the console opens directly).
console_check() {
	# What af says, for the page to show.
	{
		printf '{"cluster":'
		cl_af cluster status -o json
		printf ',"fleet":'
		cl_af fleet status -o json
		printf ',"history":'
		cl_af policy history -o json
		printf ',"canary":'
		cl_af canary status -o json
		printf ',"budgets":'
		cl_af budget list -o json
		printf ',"claims_team":'
		cl_af budget get claims-team -o json
		printf ',"emergency":'
		cl_af emergency list -o json
		printf ',"report":'
		cl_af report -o json
		printf ',"workflows":'
		cl_af report --unit workflow -o json
		printf ',"shadow":'
		cl_af shadow status -o json
		printf ',"audit":'
		cl_af audit --limit 5 -o json
		printf '}\n'
	} >"$CL_DIR/expect.json"
	jq -e . "$CL_DIR/expect.json" >/dev/null || fail "expectations are not JSON"
	[ -z "${leader:-}" ] || [ "$(jq .cluster.leader "$CL_DIR/expect.json")" = "$leader" ] ||
		fail "leader moved"

	node "$ROOT/tests/browser/console.mjs" "$1" "$2" "$CL_DIR/expect.json" "$3" ||
		fail "the console in chromium"
}
