#!/bin/sh
# metric_names.sh SCRAPE RULES.yaml DASHBOARD.json: fails, naming them,
# when a PromQL expression of the alert rules or of the Grafana dashboard
# names a metric that SCRAPE (Prometheus text, several scrapes
# concatenated) does not hold. Names are what remains of an expression once
# strings, label matchers, ranges, grouping clauses, functions and keywords
# are taken out.
set -eu
scrape=$1 rules=$2 dash=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
grep -E '^[[:space:]]*expr:' "$rules" | sed 's/^[[:space:]]*expr:[[:space:]]*//' >"$tmp/exprs"
nr=$(wc -l <"$tmp/exprs")
jq -r '.. | objects | select(has("expr")) | .expr' "$dash" >>"$tmp/exprs"
nd=$(($(wc -l <"$tmp/exprs") - nr))
[ "$nr" -gt 0 ] && [ "$nd" -gt 0 ] || {
	echo "metric_names: $nr rule and $nd dashboard expressions found" >&2
	exit 1
}
sed -e 's/"[^"]*"//g' -e "s/'[^']*'//g" -e 's/{[^}]*}//g' -e 's/\[[^]]*\]//g' \
	-e 's/\(by\|without\|on\|ignoring\|group_left\|group_right\)[[:space:]]*([^)]*)//g' \
	"$tmp/exprs" |
	grep -oE '[a-zA-Z_:][a-zA-Z0-9_:]*[[:space:]]*\(?' |
	grep -v '($' | tr -d ' \t' |
	grep -vxE 'and|or|unless|bool|offset|by|without|inf|nan|le' |
	sort -u >"$tmp/used"
awk '!/^#/ && NF { sub(/[{ ].*/, ""); print }' "$scrape" | sort -u >"$tmp/have"
missing=$(comm -23 "$tmp/used" "$tmp/have")
echo "metric_names: $nr rule and $nd dashboard expressions, $(wc -l <"$tmp/used") metrics named"
if [ -n "$missing" ]; then
	echo "metric_names: not in the scrape: $(echo $missing)" >&2
	exit 1
fi
