#!/bin/sh
# `af report` sums equal a brute-force sum of every usage row, for each
# --by (money exactly, as 6-decimal strings), with --since and --until honoured (whole UTC days); more groups
# than the limit (100,000) is refused with a clear error, never a report
# with groups left out. The state is built by tests/tools/usage_fill
# through the usage apply code and served by a real controld restored from
# it.
. "$(dirname "$0")/../lib/cluster.sh"
FILL="$ROOT/$BUILD/tests/tools/usage_fill"
[ -x "$FILL" ] || fail "build $FILL first"

cl_init report 1
if [ -n "${AF_PORT_BASE:-}" ]; then
	# shellcheck disable=SC2034 # read by cl_write_file
	CL_BASE=$AF_PORT_BASE
	cl_write_file "$CL_FILE" 1 ""
fi

# boot BACKUP: a fresh one-node cluster restored from BACKUP
boot() {
	[ -f "$CL_DIR/pid1" ] && cl_stop 1 TERM
	rm -rf "$CL_DIR/data"
	cl_start 1 --restore "$1"
	cl_wait_leader 60 >/dev/null
}

# 4 days x 37 tenants x 3 classes x 5 models x 2 revisions = 4,440 rows
"$FILL" "$CL_DIR/f1" test "$CL_DIR/u1.db" 4 37 3 5 2 2026-11-01 \
	"$CL_DIR/rows.csv" >/dev/null || fail "usage_fill"
boot "$CL_DIR/u1.db"

# brute BY FROM_MS UNTIL_MS: {"key": [ok, failures, spend_usd, waste_usd]},
# money as the report gives it: the 1e-9 USD sum rounded once to the
# micro-USD, 6 decimals
brute() {
	awk -F, -v by="$1" -v lo="$2" -v hi="$3" '
		$1 >= lo && (hi == 0 || $1 < hi) {
			k = $5
			if (by == "tenant") k = $2
			if (by == "class") k = $3
			if (by == "model") k = $4
			ok[k] += $7; bad[k] += $6 - $7; c[k] += $8; f[k] += $9
		}
		function usd(n) {
			n = int((n + 500) / 1000)
			return sprintf("\"%d.%06d\"", int(n / 1000000), n % 1000000)
		}
		END {
			printf "{"; sep = ""
			for (k in ok) {
				printf "%s\"%s\":[%.0f,%.0f,%s,%s]", sep, k, ok[k],
				    bad[k], usd(c[k]), usd(f[k])
				sep = ","
			}
			print "}"
		}' "$CL_DIR/rows.csv"
}

# check BY FROM_MS UNTIL_MS AF_ARGS...
check() {
	by=$1 lo=$2 hi=$3
	shift 3
	want=$(brute "$by" "$lo" "$hi")
	got=$(cl_af report --by "$by" "$@" -o json)
	echo "$got" | jq -e --argjson w "$want" --arg by "$by" '
		length == ($w | length) and
		all(.[]; . as $r | $w[$r[$by]] as $e | $e != null and
		    $r.successes == $e[0] and $r.failures == $e[1] and
		    $r.spend_usd == $e[2] and $r.waste_usd == $e[3])' >/dev/null ||
		fail "report --by $by $*: $(echo "$got" | jq -c '.[0:3]') want $(echo "$want" | cut -c1-300)"
}

day() { echo $(($(date -u -d "$1" +%s) * 1000)); }
d2=$(day 2026-11-02) d3=$(day 2026-11-03) d4=$(day 2026-11-04)
for by in tenant class model revision; do
	check "$by" 0 0
done
check tenant "$d3" 0 --since 2026-11-03
check model "$d2" "$d4" --since 2026-11-02 --until 2026-11-04
check class 0 "$d2" --until 2026-11-02
# a time inside a day starts at the next whole day, as before
check tenant "$d3" 0 --since 2026-11-02T10:00:00Z
[ "$(cl_af report --since 2026-12-01 -o json)" = "[]" ] || fail "days after the data"
set +e
cl_af report --since 2026-11-03 --until 2026-11-02 2>"$CL_DIR/e"
rc=$?
set -e
[ $rc = 1 ] && grep -q "until must come after --since" "$CL_DIR/e" ||
	fail "--until before --since: exit $rc: $(cat "$CL_DIR/e")"
note "sums equal the brute force for every --by, --since and --until"

# 100,001 tenants in one day: refused by tenant, fine by model.
"$FILL" "$CL_DIR/f2" test "$CL_DIR/u2.db" 1 100001 1 1 1 2026-11-01 \
	>/dev/null || fail "usage_fill"
boot "$CL_DIR/u2.db"
set +e
cl_af report --by tenant >"$CL_DIR/o" 2>"$CL_DIR/e"
rc=$?
set -e
[ $rc = 1 ] || fail "over the group limit: exit $rc"
grep -q "TOO_LARGE: report: more than 100000 groups by tenant: narrow it with --since" \
	"$CL_DIR/e" || fail "unclear refusal: $(cat "$CL_DIR/e")"
[ -s "$CL_DIR/o" ] && fail "a partial report was printed"
cl_af report --by model -o json | jq -e 'length == 1 and .[0].successes > 0' \
	>/dev/null || fail "by model over 100,001 rows"
note ok
