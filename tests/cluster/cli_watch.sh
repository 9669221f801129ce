#!/bin/sh
# --watch on af fleet status and af cluster status: piped, each refresh is
# appended (tables under "--- TIME", JSON documents one after another, YAML
# documents separated by ---), --watch-count bounds it; on a terminal the
# table redraws in place; Ctrl-C ends a watch with exit 0; a bad interval is
# a usage error.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init cli_watch
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
cl_af policy apply -f "$EXAMPLES/policy.yaml" >/dev/null
P=$((CL_BASE + 901))
cl_routerd_start r1 $P
cl_wait_http "http://127.0.0.1:$P/readyz"

cl_af fleet status --watch --watch-interval 200ms --watch-count 3 >"$CL_DIR/t" ||
	fail "fleet watch exit"
[ "$(grep -c '^--- 20[0-9-]*T[0-9:]*Z$' "$CL_DIR/t")" = 3 ] || fail "3 refreshes: $(cat "$CL_DIR/t")"
[ "$(grep -c '^ID  ' "$CL_DIR/t")" = 3 ] || fail "3 tables: $(cat "$CL_DIR/t")"
! grep -q "$(printf '\033')" "$CL_DIR/t" || fail "escape codes in a pipe"
cl_af fleet status -o json --watch-count 2 --watch-interval 200ms | jq -s -e 'length == 2 and all(.[]; type == "array")' >/dev/null ||
	fail "json stream"
n=$(cl_af cluster status -o yaml --watch --watch-interval 200ms --watch-count 3 | grep -c '^---$')
[ "$n" = 2 ] || fail "yaml separators: $n"

# A terminal redraws: the screen is cleared before each refresh.
script -qec "$AF -c $CL_FILE cluster status --watch --watch-interval 200ms --watch-count 2" /dev/null >"$CL_DIR/tty"
[ "$(grep -o "$(printf '\033')\[H$(printf '\033')\[2J" "$CL_DIR/tty" | wc -l)" = 2 ] ||
	fail "no redraw on a terminal: $(od -c "$CL_DIR/tty" | head -5)"
! grep -q '^--- ' "$CL_DIR/tty" || fail "separator lines on a terminal"

# Ctrl-C: exit 0 after the refresh in progress.
"$AF" -c "$CL_FILE" cluster status --watch --watch-interval 1s >"$CL_DIR/w" 2>&1 &
pid=$!
deadline=$(($(date +%s) + 10))
until grep -q '^auth:' "$CL_DIR/w"; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "no first refresh: $(cat "$CL_DIR/w")"
	sleep 0.1
done
kill -INT $pid
rc=0
wait $pid || rc=$?
[ $rc = 0 ] || fail "Ctrl-C: exit $rc"

rc=0
cl_af fleet status --watch-interval 10ms >"$CL_DIR/e" 2>&1 || rc=$?
[ $rc = 2 ] && grep -q 'give a duration from 200ms to 1h' "$CL_DIR/e" || fail "bad interval: $rc $(cat "$CL_DIR/e")"
echo "PASS cli_watch"
