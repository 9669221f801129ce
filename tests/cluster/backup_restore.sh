#!/bin/sh
# DR drill: back up a running cluster with `af snapshot save`, bootstrap a
# new cluster (other ports, other data dirs) from it with
# `controld --restore`, and find the same state there; the new cluster
# takes writes. A damaged backup is refused and the node does not start.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init backup
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
cl_af policy apply -f "$EXAMPLES/policy.yaml" -m one >/dev/null
sed 's/max_fallbacks: 3/max_fallbacks: 1/' "$EXAMPLES/policy.yaml" >"$CL_DIR/p2.yaml"
cl_af policy apply -f "$CL_DIR/p2.yaml" -m two >/dev/null
cl_af model disable pico-small >/dev/null
cl_af snapshot save "$CL_DIR/backup.db" | grep -q "saved" || fail "save"
[ -s "$CL_DIR/backup.db" ] || fail "empty backup"
hist=$(cl_af policy history -o json | jq .revisions)
models=$(cl_af model list -o json)
src=$(cl_af policy get)
for i in 1 2 3; do cl_stop $i TERM; done

# A damaged backup: refused with a clear error, exit non-zero.
OLD_FILE=$CL_FILE
CL_BASE=$(pick_base)
cl_write_file "$CL_DIR/dr.yaml" 3 "" dr drdata
CL_FILE=$CL_DIR/dr.yaml
head -c 5000 "$CL_DIR/backup.db" >"$CL_DIR/broken.db"
set +e
"$CONTROLD" -c "$CL_FILE" --id 1 --restore "$CL_DIR/broken.db" \
	>"$CL_DIR/broken.log" 2>&1
rc=$?
set -e
[ $rc != 0 ] || fail "damaged backup accepted"
grep -q "controld: " "$CL_DIR/broken.log" || fail "no error line"
rm -rf "$CL_DIR/drdata"

# The new cluster "dr" restores a backup of cluster "test": refused.
set +e
"$CONTROLD" -c "$CL_FILE" --id 1 --restore "$CL_DIR/backup.db" \
	>"$CL_DIR/other.log" 2>&1
rc=$?
set -e
rm -rf "$CL_DIR/drdata"
if [ $rc != 0 ]; then
	grep -qi "cluster" "$CL_DIR/other.log" || fail "no cluster error"
	note "restoring another cluster's backup is refused"
	# Same cluster name, new ports and dirs: the DR drill proper.
	cl_write_file "$CL_DIR/dr.yaml" 3 "" test drdata
fi
for i in 1 2 3; do cl_start $i --restore "$CL_DIR/backup.db"; done
cl_wait_leader >/dev/null
[ "$(cl_af policy history -o json | jq .revisions)" = "$hist" ] || fail "history differs"
[ "$(cl_af model list -o json)" = "$models" ] || fail "models differ"
[ "$(cl_af policy get)" = "$src" ] || fail "policy source differs"
cl_af policy rollback -o json | jq -e '.revision == 1' >/dev/null ||
	fail "write on the restored cluster"
cl_wait_converged 3
for id in 1 2 3; do
	"$AF" --stale --endpoints "$(cl_api $id)" policy history -o json | jq .revisions |
		jq -e '.[] | select(.revision == 1) | .state == "stable"' \
			>/dev/null || fail "node $id did not apply the rollback"
done
# A node that already has data refuses --restore.
cl_stop 3 TERM
set +e
"$CONTROLD" -c "$CL_FILE" --id 3 --restore "$CL_DIR/backup.db" \
	>"$CL_DIR/again.log" 2>&1
rc=$?
set -e
[ $rc != 0 ] || fail "--restore over existing data accepted"
grep -q "not empty" "$CL_DIR/again.log" || fail "unclear refusal"
note ok
