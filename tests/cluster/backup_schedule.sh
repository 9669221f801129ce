#!/bin/sh
# Scheduled backups (backup: {dir, every: 1s, keep: 2}): the leader writes
# verified files, prunes them to two, its metrics move, af backup list
# shows them (files removed or added by hand too); a backup that cannot be written is counted and shown; two
# members' snapshots at one index hash alike; a damaged
# backup is refused by controld --verify-snapshot; the newest backup,
# restored into a new three-node cluster, holds the same policy history,
# registry, budgets and audit.
. "$(dirname "$0")/../lib/cluster.sh"

BACKUP="backup:
  dir: ./backups
  every: 1s
  keep: 2"
cl_init backup_schedule 3 "$BACKUP"
for i in 1 2 3; do cl_start $i; done
leader=$(cl_wait_leader)
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
cl_af policy apply -f "$EXAMPLES/policy.yaml" -m one >/dev/null
sed 's/max_fallbacks: 3/max_fallbacks: 1/' "$EXAMPLES/policy.yaml" >"$CL_DIR/p2.yaml"
cl_af policy apply -f "$CL_DIR/p2.yaml" -m two >/dev/null
cl_af budget set claims-team --hard 100 --soft 80 >/dev/null
cl_af model disable pico-small >/dev/null
cl_wait_converged 3
leader=$(cl_wait_leader)
applied=$(cl_af cluster status -o json | jq ".nodes[] | select(.id == $leader) | .applied_index")

metric() {
	curl -s "http://$(cl_http "$leader")/metrics" |
		awk -v m="$1" '$1 == m { print $2 }'
}

# Backups of the current state appear, verified, and are pruned to two.
cl_wait_json "\"$AF\" -c \"$CL_FILE\" backup list -o json" \
	"[.backups[] | select(.index == $applied and .verified)] | length >= 2" 20 >/dev/null
success="curl -s http://$(cl_http "$leader")/metrics | awk '\$1 == \"af_backup_success_total\" { print \$2 }'"
cl_wait_json "$success" '. >= 3' >/dev/null
cl_wait_json "ls \"$CL_DIR/backups\" | grep -c '^backup-.*\\.db\$' | jq -n 'input'" \
	'. == 2' >/dev/null
t1=$(metric af_backup_last_success_timestamp_seconds)
ok1=$(metric af_backup_success_total)
[ "$(metric af_backup_failures_total)" = 0 ] || fail "backup failures"
cl_wait_json "$success" ". > $ok1" >/dev/null
t2=$(metric af_backup_last_success_timestamp_seconds)
awk -v a="$t1" -v b="$t2" 'BEGIN { exit !(b > a) }' ||
	fail "last success time did not move ($t1 -> $t2)"
list=$(cl_af backup list -o json)
echo "$list" | jq -e '.keep == 2 and .every_ms == 1000 and .last_error == null' \
	>/dev/null || fail "backup list: $list"
cl_af backup list | grep -q "^$applied .* yes " || fail "table: $(cl_af backup list)"
newest=$(echo "$list" | jq -r '.backups[-1].file')
cp "$newest" "$CL_DIR/newest.db"
line=$("$CONTROLD" --verify-snapshot "$CL_DIR/newest.db")
echo "$line" | grep -q "verified=true cluster=test index=$applied " ||
	fail "verify: $line"
hash=$(echo "$line" | sed 's/.*state_hash=//')

# The list answers from what the node last scanned, and scans again
# when the dir changed: files removed or added by hand show at once.
for k in 1 2; do
	gone=$(ls "$CL_DIR/backups" | grep '^backup-.*\.db$' | head -n 1)
	[ -n "$gone" ] || fail "no backup file to remove"
	rm -f "$CL_DIR/backups/$gone"
	cl_af backup list -o json | jq -e --arg f "$gone" \
		'all(.backups[]; .file | endswith("/" + $f) | not)' >/dev/null ||
		fail "removed $gone still listed: $(cl_af backup list -o json)"
done
cp "$CL_DIR/newest.db" "$CL_DIR/backups/backup-20261202T000000.000Z-999999999.db"
cl_af backup list -o json | jq -e '.backups[-1].index == 999999999
	and .backups[-1].verified' >/dev/null ||
	fail "added file not listed: $(cl_af backup list -o json)"
rm "$CL_DIR/backups/backup-20261202T000000.000Z-999999999.db"
cl_wait_json "ls \"$CL_DIR/backups\" | grep -c '^backup-.*\\.db\$' | jq -n 'input'" \
	'. == 2' >/dev/null

# Every member's own snapshot at this index hashes the same.
for id in 1 2 3; do
	"$AF" --stale --endpoints "$(cl_api $id)" snapshot save "$CL_DIR/m$id.db" >/dev/null
	l=$("$CONTROLD" --verify-snapshot "$CL_DIR/m$id.db")
	echo "$l" | grep -q "index=$applied .*state_hash=$hash\$" ||
		fail "member $id: $l (leader's backup: $hash)"
done

# Damaged backups are refused, naming the cause.
size=$(stat -c %s "$CL_DIR/newest.db")
head -c $((size / 2)) "$CL_DIR/newest.db" >"$CL_DIR/cut.db"
cp "$CL_DIR/newest.db" "$CL_DIR/flip.db"
printf 'XXXX' | dd of="$CL_DIR/flip.db" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
for f in cut flip; do
	set +e
	"$CONTROLD" --verify-snapshot "$CL_DIR/$f.db" >"$CL_DIR/$f.out" 2>&1
	rc=$?
	set -e
	[ $rc = 1 ] || fail "$f.db: exit $rc"
done
grep -q "cut.db: store: snapshot: not a snapshot (no trailer; truncated?)" "$CL_DIR/cut.out" ||
	fail "cut: $(cat "$CL_DIR/cut.out")"
grep -q "flip.db: store: snapshot: checksum mismatch" "$CL_DIR/flip.out" ||
	fail "flip: $(cat "$CL_DIR/flip.out")"

# A backup that cannot be written is counted and shown, then the schedule
# goes on once the dir is back.
fails="curl -s http://$(cl_http "$leader")/metrics | awk '\$1 == \"af_backup_failures_total\" { print \$2 }'"
mv "$CL_DIR/backups" "$CL_DIR/backups.saved"
touch "$CL_DIR/backups"
cl_wait_json "$fails" '. >= 1' >/dev/null
cl_af backup list -o json | jq -e '.backups == [] and
	(.last_error | test("backup: create .*: Not a directory"))' >/dev/null ||
	fail "failure not shown: $(cl_af backup list -o json)"
cl_wait_log "$CL_DIR/node$leader.log" 'event=backup_failed error="backup: create' >/dev/null
rm "$CL_DIR/backups"
mv "$CL_DIR/backups.saved" "$CL_DIR/backups"
ok2=$(metric af_backup_success_total)
cl_wait_json "$success" ". > $ok2" >/dev/null
cl_af backup list -o json | jq -e '.last_error == null and (.backups | length == 2)' \
	>/dev/null || fail "after the dir is back: $(cl_af backup list -o json)"

# The state to find again, then a new cluster from the newest backup.
hist=$(cl_af policy history -o json | jq .revisions)
models=$(cl_af model list -o json)
budgets=$(cl_af budget list -o json)
audit=$(cl_af audit -o json | jq .records)
for i in 1 2 3; do cl_stop $i TERM; done
CL_BASE=$(pick_base)
cl_write_file "$CL_DIR/dr.yaml" 3 "" test drdata
CL_FILE=$CL_DIR/dr.yaml
for i in 1 2 3; do cl_start $i --restore "$CL_DIR/newest.db"; done
cl_wait_leader >/dev/null
[ "$(cl_af policy history -o json | jq .revisions)" = "$hist" ] || fail "history differs"
[ "$(cl_af model list -o json)" = "$models" ] || fail "models differ"
[ "$(cl_af budget list -o json)" = "$budgets" ] || fail "budgets differ"
[ "$(cl_af audit -o json | jq .records)" = "$audit" ] || fail "audit differs"
cl_af policy rollback -o json | jq -e '.revision == 1' >/dev/null ||
	fail "write on the restored cluster"
note ok
