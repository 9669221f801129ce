#!/bin/sh
# The console in a real browser: Debian's chromium, headless, driven by
# playwright-core (tests/browser/), against a 3-node cluster with tokens,
# two revisions, a canary, a budget and a routerd with traffic. The page
# asks for a token, then every view shows what af prints for the same
# cluster, draws its SVG charts and logs no error; a screenshot of each
# view is written to $BUILD/console/.
. "$(dirname "$0")/../lib/cluster.sh"

command -v chromium >/dev/null 2>&1 || fail "no chromium (make deps installs it)"
if [ ! -d "$ROOT/tests/browser/node_modules/playwright-core" ]; then
	(cd "$ROOT/tests/browser" && npm ci --no-audit --no-fund --silent) ||
		fail "npm ci in tests/browser"
fi

cl_init console
for r in viewer admin routerd; do
	tok="tok-$r-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
	eval "T_$r=$tok"
	printf '%s %s %s-user\n' "$(printf '%s' "$tok" | sha256sum | cut -d' ' -f1)" \
		"$r" "$r" >>"$CL_DIR/tokens"
done
printf 'auth:\n  tokens: ./tokens\n' >>"$CL_FILE"
export AF_TOKEN=$T_admin
for i in 1 2 3; do cl_start $i; done
leader=$(cl_wait_leader)
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
cl_af policy apply -f "$EXAMPLES/policy.yaml" -m first >/dev/null
sed -e 's/^name: prod/name: prod-2/' "$EXAMPLES/policy.yaml" >"$CL_DIR/p2.yaml"
cl_af policy apply -f "$CL_DIR/p2.yaml" -m "second name" >/dev/null
sed 's/^name: prod/name: prod-c/' "$EXAMPLES/policy.yaml" >"$CL_DIR/c.yaml"
cl_af canary start -f "$CL_DIR/c.yaml" --steps 10,30,60 --interval 1h \
	--max-error-delta 0.05 --max-latency-ratio 1.5 --max-cost-ratio 1.2 \
	--min-samples 50 >/dev/null
cl_af budget set claims-team --hard 100 --soft 80 >/dev/null
cl_af budget set ops-team --hard 20 --period day >/dev/null
P=$((CL_BASE + 901))
AF_TOKEN=$T_routerd cl_routerd_start r1 $P
cl_wait_http "http://127.0.0.1:$P/readyz" 200 15
cl_wait_json "cl_af fleet status -o json" 'length == 1 and .[0].state == "SYNCED" and .[0].canary_revision > 0' 15 >/dev/null
cl_traffic $P 1 400 "$CL_DIR/d" true true 40
cl_wait_json "cl_af canary status -o json" '.canary.requests > 0 and .stable.requests > 0' 15 >/dev/null
cl_af emergency set --class marketing --drain-lane batch-offline --ttl 1h \
	-m "batch lane drained for the console" >/dev/null

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
	printf ',"audit":'
	cl_af audit --limit 5 -o json
	printf '}\n'
} >"$CL_DIR/expect.json"
jq -e . "$CL_DIR/expect.json" >/dev/null || fail "expectations are not JSON"
[ "$(jq .cluster.leader "$CL_DIR/expect.json")" = "$leader" ] || fail "leader moved"

node "$ROOT/tests/browser/console.mjs" "http://$(cl_http "$leader")" "$T_viewer" \
	"$CL_DIR/expect.json" "$ROOT/$BUILD/console" || fail "the console in chromium"
note ok
