#!/bin/sh
# The fault suite's checker: reads the history a run of tests/faults/run.sh
# left in DIR and prints its figures; exits 1 on any lost write, divergence,
# halted node, stale, phantom or reordered read/write (and on duplicated
# writes when DUP_FATAL is 1).
#
#   sh tests/faults/check.sh DIR T_START_NS T_END_NS DUP_FATAL
#
# DIR holds: wN.log (writer N: "W w n t_invoke t_done ok|fail|unknown rc"),
# r.log ("R writer key expected_n t_start t_end found|absent|error value"),
# f.log ("F kind target t_fault t_heal ms_to_healthy|stuck", "X id t": a
# node that exited by itself), bN.json / aN.json (node N's budget list and audit trail, read
# with --stale after the run), halted (ids of nodes that never caught up).
set -eu
D=$1
KEYS=${KEYS:-400}
T0=$2
T1=$3
DUP_FATAL=${4:-1}
bad=0

cat "$D"/w*.log 2>/dev/null | awk 'NF == 7' >"$D/writes"
touch "$D/r.log" "$D/f.log"

# --- divergence: every node's state and audit trail, normalized ---------
for id in 1 2 3; do
	jq -S '.' "$D/b$id.json" 2>/dev/null | sha256sum | cut -c1-16 >"$D/hb$id"
	jq -S '.' "$D/a$id.json" 2>/dev/null | sha256sum | cut -c1-16 >"$D/ha$id"
done
ref=1 # a node whose state a majority shares
if ! cmp -s "$D/hb1" "$D/hb2" && ! cmp -s "$D/hb1" "$D/hb3"; then
	ref=2
fi
diverged=""
for id in 1 2 3; do
	if ! cmp -s "$D/hb$id" "$D/hb$ref" || ! cmp -s "$D/ha$id" "$D/ha$ref"; then
		diverged="$diverged $id"
	fi
done
jq -r 'if type == "array" then .[] | "\(.tenant) \(.hard_usd | floor)"
	else empty end' "$D/b$ref.json" >"$D/present"
jq -r 'if type == "array" then .[] | select(.verb == "budget.set" and
	.outcome == "OK") | "\(.target) \(.index)" else empty end' \
	"$D/a$ref.json" >"$D/applied"
naudit=$(jq 'if type == "array" then length else 0 end' "$D/a$ref.json")

# --- writes: lost, duplicated, reordered ---------------------------------
# Write N of writer W sets tenant-wW-(N mod KEYS) to N; a key's writes
# carry growing values. Lost: acknowledged, and the key's final value is
# below it (absent or not superseded). Duplicated: a key applied more often
# than writes to it were invoked (the audit trail has one record per
# applied command). Reordered: a writer's acknowledged first write to a key
# applied before a first write it acknowledged earlier.
awk -v present="$D/present" -v applied="$D/applied" -v K="$KEYS" \
	-v out="$D/wsum" '
BEGIN {
	while ((getline l < present) > 0) { split(l, a, " "); val[a[1]] = a[2] + 0 }
	while ((getline l < applied) > 0) {
		split(l, a, " ")
		napp[a[1]]++
		if (!(a[1] in first) || a[2] + 0 < first[a[1]]) first[a[1]] = a[2] + 0
	}
}
{
	key = "tenant-w" $2 "-" ($3 % K)
	st[$6]++
	ninv[key]++
	if ($6 == "ok" && (!(key in val) || val[key] < $3 + 0)) {
		lost++; lostk = lostk " " key "=" $3
	}
	if ($6 == "ok" && $3 + 0 <= K) {
		if ((key in first) && ($2 in prev) && first[key] < prev[$2]) {
			reord++; reordk = reordk " " key
		}
		if (key in first) prev[$2] = first[key]
	}
}
END {
	for (k in napp)
		if (napp[k] > ninv[k]) { dup += napp[k] - ninv[k]; dupk = dupk " " k }
	printf "acked=%d failed=%d unknown=%d lost=%d dup=%d reord=%d\n",
		st["ok"], st["fail"], st["unknown"], lost, dup, reord > out
	printf "lostk=%s\ndupk=%s\nreordk=%s\n", lostk, dupk, reordk > out
}' "$D/writes"

# --- reads: stale and phantom --------------------------------------------
# Stale: the key of a write acknowledged before the read began, read as
# absent or with an older value. Phantom: a value no write of that writer
# and key had been invoked with before the read ended.
awk -v writes="$D/writes" -v K="$KEYS" -v out="$D/rsum" '
BEGIN {
	while ((getline l < writes) > 0) {
		split(l, a, " ")
		inv[a[2] " " a[3]] = a[4] + 0
		if (a[6] == "ok") ack[a[2] " " a[3]] = a[5] + 0
	}
}
NF == 8 {
	n++
	res[$7]++
	e = $2 " " $4
	if ($4 + 0 > 0 && (e in ack) && ack[e] < $5 + 0 &&
	    ($7 == "absent" || ($7 == "found" && $8 + 0 < $4 + 0))) {
		stale++; stalek = stalek " " $3 "@" $8 "<" $4
	}
	f = $2 " " $8
	if ($7 == "found" && (!(f in inv) || inv[f] > $6 + 0 ||
	    "tenant-w" $2 "-" ($8 % K) != $3)) {
		phantom++; phantomk = phantomk " " $3 "=" $8
	}
}
END {
	printf "reads=%d found=%d absent=%d errors=%d stale=%d phantom=%d\n",
		n, res["found"], res["absent"], res["error"], stale, phantom > out
	printf "stalek=%s\nphantomk=%s\n", stalek, phantomk > out
}' "$D/r.log"

# --- faults and recovery --------------------------------------------------
# Time to recover: from the end of a fault to the next acknowledged write.
sort -n -k5 "$D/writes" | awk '$6 == "ok" { print $5 }' >"$D/acks"
awk -v acks="$D/acks" -v out="$D/fsum" '
BEGIN { while ((getline l < acks) > 0) t[na++] = l + 0 }
$1 == "X" { exited++ }
$1 == "F" {
	nf++; kind[$2]++
	if ($6 == "stuck") stuck++
	heal = $5 + 0
	while (i < na && t[i] <= heal) i++
	if (i < na) r[nr++] = (t[i] - heal) / 1e6
}
END {
	for (a = 0; a < nr; a++)
		for (b = a + 1; b < nr; b++)
			if (r[b] < r[a]) { x = r[a]; r[a] = r[b]; r[b] = x }
	gap = 0
	for (a = 1; a < na; a++) if (t[a] - t[a - 1] > gap) gap = t[a] - t[a - 1]
	printf "faults=%d kill=%d pause=%d partition=%d restart_all=%d " \
		"stuck=%d exited=%d rec_med=%d rec_p95=%d rec_max=%d gap=%d\n",
		nf, kind["kill"], kind["pause"], kind["partition"],
		kind["restart-all"], stuck, exited,
		nr ? r[int(nr / 2)] : -1, nr ? r[int(nr * 0.95)] : -1,
		nr ? r[nr - 1] : -1, gap / 1e6 > out
}' "$D/f.log"

# shellcheck disable=SC2046
eval $(head -1 "$D/wsum") $(head -1 "$D/rsum") $(head -1 "$D/fsum")
halted=$(cat "$D/halted" 2>/dev/null || true)
secs=$(((T1 - T0) / 1000000000))

echo "== fault run: $secs s"
echo "faults:      $faults (kill $kill, pause $pause, partition $partition," \
	"restart-all $restart_all)"
echo "writes:      $acked acked, $failed failed, $unknown unknown"
if [ "$failed" != 0 ] || [ "$unknown" != 0 ]; then
	echo "write errors (most frequent, af's words):"
	cat "$D"/w*.err 2>/dev/null | sed 's/tenant-w[0-9]*-[0-9]*/TENANT/g' |
		sort | uniq -c | sort -rn | head -3
fi
echo "lost:        $lost"
echo "duplicated:  $dup"
echo "reordered:   $reord"
echo "reads:       $reads ($found found, $absent absent, $errors errors)"
echo "stale reads: $stale   phantom reads: $phantom"
echo "divergence:  $(echo $diverged | wc -w) node(s)${diverged:+ (nodes$diverged)}"
echo "halted:      $(echo $halted | wc -w) node(s)${halted:+ (nodes $halted)}," \
	"$exited exit(s) by itself, $stuck fault(s) not healthy within 30 s"
echo "recovery:    median $rec_med ms, p95 $rec_p95 ms, max $rec_max ms" \
	"(fault end to next acknowledged write); longest write gap $gap ms"

[ "$lost" = 0 ] || { echo "FAIL: lost:$(sed -n 's/^lostk=//p' "$D/wsum")"; bad=1; }
[ "$reord" = 0 ] || { echo "FAIL: reordered:$(sed -n 's/^reordk=//p' "$D/wsum")"; bad=1; }
[ "$stale" = 0 ] || { echo "FAIL: stale:$(sed -n 's/^stalek=//p' "$D/rsum")"; bad=1; }
[ "$phantom" = 0 ] || { echo "FAIL: phantom:$(sed -n 's/^phantomk=//p' "$D/rsum")"; bad=1; }
[ -z "$diverged" ] || { echo "FAIL: divergence: nodes$diverged differ"; bad=1; }
[ -z "$halted" ] || { echo "FAIL: halted: nodes $halted never applied the commit index"; bad=1; }
[ "$exited" = 0 ] || { echo "FAIL: $exited node exit(s) not caused by the nemesis"; bad=1; }
[ "$stuck" = 0 ] || { echo "FAIL: $stuck fault(s) left no healthy cluster for 30 s"; bad=1; }
[ "$acked" -gt 0 ] || { echo "FAIL: no write acknowledged"; bad=1; }
[ "$faults" -gt 0 ] || { echo "FAIL: no fault injected"; bad=1; }
[ "$naudit" -lt 10000 ] || { echo "FAIL: audit trail truncated (10,000 records): duplicates unchecked"; bad=1; }
if [ "$dup" != 0 ]; then
	echo "duplicates:$(sed -n 's/^dupk=//p' "$D/wsum")"
	if [ "$DUP_FATAL" = 1 ]; then
		echo "FAIL: $dup write(s) applied more than once"
		bad=1
	else
		echo "KNOWN DEFECT: $dup write(s) applied more than once (a retry" \
			"after a leader died between commit and answer); not fatal" \
			"in this mode, FAULTS_DUP_FATAL=1 makes it fatal"
	fi
fi
[ $bad = 0 ] && echo "faults: ok"
exit $bad
