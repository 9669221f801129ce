#!/bin/sh
# Signed bundles: with require_signed, controld accepts a bundle signed by
# a trusted key and refuses unsigned, tampered, untrusted-key and replayed
# (older serial) bundles, the previous bundle staying active everywhere.
# A routerd with trusted keys refuses to activate an unsigned bundle that
# a cluster without signing accepted (NACK, previous view kept).
. "$(dirname "$0")/../lib/cluster.sh"

cl_init signing
mkdir -p "$CL_DIR/keys"
"$AF" keygen --out "$CL_DIR/keys/release" >/dev/null
"$AF" keygen --out "$CL_DIR/keys/other" >/dev/null
cp "$CL_FILE" "$CL_DIR/plain.yaml"
printf 'signing:\n  trusted_keys: [./keys/release.pub]\n  require_signed: true\n' \
	>>"$CL_FILE"
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
cp "$EXAMPLES/policy.yaml" "$CL_DIR/v1.yaml"
sed "s/max_fallbacks: 3/max_fallbacks: 2/" \
	"$EXAMPLES/policy.yaml" >"$CL_DIR/v2.yaml"

refused() { # expected-code af-args...
	code=$1
	shift
	set +e
	err=$(cl_af "$@" 2>&1 >/dev/null)
	rc=$?
	set -e
	[ $rc = 1 ] || fail "'$*' exit $rc, want 1 (refused): $err"
	echo "$err" | grep -q "$code" || fail "'$*': want $code, got: $err"
}

# Unsigned: refused.
refused PERMISSION_DENIED policy apply -f "$CL_DIR/v1.yaml"
# Signed by the trusted key: accepted (FILE.sig is picked up).
"$AF" policy sign -f "$CL_DIR/v1.yaml" --key "$CL_DIR/keys/release.key" --serial 10 >/dev/null
h1=$(cl_af policy apply -f "$CL_DIR/v1.yaml" -o json | jq -r .hash)
P=$((CL_BASE + 901))
cp "$CL_FILE" "$CL_DIR/routerd.yaml"
cl_routerd_start r1 $P
cl_wait_http "http://127.0.0.1:$P/readyz"
[ "$(cl_route_hash $P)" = "$h1" ] || fail "routerd does not serve the signed bundle"
note "signed bundle accepted and served"

# Tampered after signing: the signature no longer covers the content.
cp "$CL_DIR/v1.yaml.sig" "$CL_DIR/v2.yaml.sig"
refused PERMISSION_DENIED policy apply -f "$CL_DIR/v2.yaml"
# Signed by a key the cluster does not trust.
"$AF" policy sign -f "$CL_DIR/v2.yaml" --key "$CL_DIR/keys/other.key" --serial 20 >/dev/null
refused PERMISSION_DENIED policy apply -f "$CL_DIR/v2.yaml"
# v2 properly signed (serial 20), then v1 replayed with its old serial 10.
"$AF" policy sign -f "$CL_DIR/v2.yaml" --key "$CL_DIR/keys/release.key" --serial 20 >/dev/null
h2=$(cl_af policy apply -f "$CL_DIR/v2.yaml" -o json | jq -r .hash)
cl_wait_route_hash $P "$h2" >/dev/null
refused CONFLICT policy apply -f "$CL_DIR/v1.yaml"
[ "$(cl_af policy history -o json | jq -r '.revisions[] | select(.state == "stable") | .hash')" = "$h2" ] ||
	fail "a refused bundle changed the stable revision"
# routerd has acted on two heartbeats from every node sent after the
# refusal (hints are taken in order, each batch's Sync before the next).
h0=$(cl_routerd_metric $P af_routerd_hints_received_total)
cl_wait_json "cl_routerd_metric $P af_routerd_hints_received_total" \
	". >= $h0 + 6" 20 >/dev/null
[ "$(cl_route_hash $P)" = "$h2" ] || fail "routerd moved off the last good bundle"
note "unsigned, tampered, untrusted and replayed bundles refused; $h2 still served"

# A routerd with trusted keys beside a cluster that does not require them:
# an unsigned bundle is NACKed and the signed one stays active.
for i in 1 2 3; do cl_stop $i TERM; done
cl_routerd_stop r1
rm -rf "$CL_DIR/data"
CL_FILE=$CL_DIR/plain.yaml
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null
hs=$(cl_af policy apply -f "$CL_DIR/v2.yaml" -o json | jq -r .hash)
"$ROUTERD" -c "$CL_DIR/routerd.yaml" --listen "127.0.0.1:$P" --id r2 \
	>>"$CL_DIR/routerd-r2.log" 2>&1 &
echo $! >"$CL_DIR/pidr-r2"
cl_wait_http "http://127.0.0.1:$P/readyz"
[ "$(cl_route_hash $P)" = "$hs" ] || fail "signed bundle not served by r2"
rm -f "$CL_DIR/v1.yaml.sig"
hu=$(cl_af policy apply -f "$CL_DIR/v1.yaml" -o json | jq -r .hash)
deadline=$(($(date +%s) + 10))
while :; do
	st=$(cl_af fleet status -o json | jq -r '.[] | select(.id == "r2") | .state')
	[ "$st" = NACKED ] && break
	[ "$(date +%s)" -lt "$deadline" ] || fail "r2 did not NACK the unsigned bundle ($st)"
	sleep 0.2
done
[ "$(cl_route_hash $P)" = "$hs" ] || fail "r2 activated an unsigned bundle"
[ "$hu" != "$hs" ] || fail "test bundles are equal"
cl_af fleet status -o json | jq -e '.[] | select(.id == "r2") | .reason | test("unsigned")' \
	>/dev/null || fail "NACK reason missing"
note "routerd NACKed the unsigned bundle and kept the signed one"
note ok
