#!/bin/sh
# The console in a real browser: Debian's chromium, headless, driven by
# playwright-core (tests/browser/), against a 3-node cluster with tokens,
# two revisions, a canary, a shadow, two budgets and a routerd with
# traffic and ended workflows (tests/lib/console.sh). The page asks for a
# token, then every view shows what af prints for the same cluster, draws
# its SVG charts and logs no error; a screenshot of each view is written
# to $BUILD/console/. console_local.sh does the same against make run's
# cluster.
. "$(dirname "$0")/../lib/cluster.sh"
. "$(dirname "$0")/../lib/console.sh"

console_deps
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
console_state
P=$((CL_BASE + 901))
AF_TOKEN=$T_routerd cl_routerd_start r1 $P
cl_wait_http "http://127.0.0.1:$P/readyz" 200 15
console_traffic $P
console_check "http://$(cl_http "$leader")" "$T_viewer" "$ROOT/$BUILD/console"
note ok
