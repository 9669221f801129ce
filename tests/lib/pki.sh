# A test CA and certificates signed by it (openssl), for scenarios that
# run a cluster with tls:. Source it after tests/lib/cluster.sh.

# pki_ca DIR: DIR/ca.key and DIR/ca.pem.
pki_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1/ca.key" -out "$1/ca.pem" -days 2 -subj "/CN=af test CA" \
		2>/dev/null
}

# pki_cert DIR NAME CA-KEY CA-CERT: DIR/NAME.key and DIR/NAME.pem, valid
# for 127.0.0.1 and localhost.
pki_cert() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1/$2.key" -out "$1/$2.csr" -subj "/CN=$2" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$1/ext"
	openssl x509 -req -in "$1/$2.csr" -CA "$4" -CAkey "$3" \
		-CAcreateserial -days 2 -out "$1/$2.pem" -extfile "$1/ext" 2>/dev/null
}
