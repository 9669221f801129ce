#!/bin/sh
# Mutual TLS on every NNG socket: a cluster whose api and pub speak
# tls+tcp with certificates made here (openssl, a test CA) works end to end
# for af and routerd; a plaintext client, and a client whose certificate
# another CA signed, get nothing.
. "$(dirname "$0")/../lib/cluster.sh"
. "$(dirname "$0")/../lib/pki.sh"

cl_init tls
pki=$CL_DIR/pki
mkdir -p "$pki"
mkcert() { pki_cert "$@"; }
mkca() { pki_ca "$@"; }
mkca "$pki"
mkcert "$pki" node "$pki/ca.key" "$pki/ca.pem"
printf 'tls:\n  ca: ./pki/ca.pem\n  cert: ./pki/node.pem\n  key: ./pki/node.key\n' \
	>>"$CL_DIR/cluster.yaml"
for i in 1 2 3; do cl_start $i; done
cl_wait_leader >/dev/null
cl_af model apply -f "$EXAMPLES/models.yaml" >/dev/null || fail "model apply over TLS"
h=$(cl_af policy apply -f "$EXAMPLES/policy.yaml" -o json | jq -r .hash)
P=$((CL_BASE + 901))
cl_routerd_start r1 $P
cl_wait_http "http://127.0.0.1:$P/readyz" 200 15
[ "$(cl_route_hash $P)" = "$h" ] || fail "routerd over TLS serves another hash"
note "af and routerd work over mutual TLS"

# Plaintext to a TLS endpoint: no answer.
set +e
"$AF" --endpoints "tcp://127.0.0.1:$((CL_BASE + 102))" --timeout 2s \
	policy history >/dev/null 2>&1
rc=$?
set -e
[ $rc = 3 ] || fail "plaintext client exit $rc, want 3 (unavailable)"

# A certificate from another CA: refused.
mkdir -p "$CL_DIR/evil"
mkca "$CL_DIR/evil"
mkcert "$CL_DIR/evil" intruder "$CL_DIR/evil/ca.key" "$CL_DIR/evil/ca.pem"
sed -e 's|ca: ./pki/ca.pem|ca: ./evil/ca.pem|' \
	-e 's|cert: ./pki/node.pem|cert: ./evil/intruder.pem|' \
	-e 's|key: ./pki/node.key|key: ./evil/intruder.key|' \
	"$CL_DIR/cluster.yaml" >"$CL_DIR/evil.yaml"
set +e
"$AF" -c "$CL_DIR/evil.yaml" --timeout 3s policy history >/dev/null 2>&1
rc=$?
set -e
[ $rc = 3 ] || fail "client with a foreign certificate exit $rc, want 3"
# Trusting our CA is not enough without a certificate it signed.
sed -e 's|cert: ./pki/node.pem|cert: ./evil/intruder.pem|' \
	-e 's|key: ./pki/node.key|key: ./evil/intruder.key|' \
	"$CL_DIR/cluster.yaml" >"$CL_DIR/half.yaml"
set +e
"$AF" -c "$CL_DIR/half.yaml" --timeout 3s policy history >/dev/null 2>&1
rc=$?
set -e
[ $rc = 3 ] || fail "client certificate of another CA accepted (exit $rc)"
note "plaintext and foreign certificates refused"
note ok
