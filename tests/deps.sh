#!/bin/sh
# Installs every build and test dependency from Debian's packages.
# Idempotent and quiet when everything is present.
set -eu
PKGS="build-essential pkg-config git libraft-dev libuv1-dev liblmdb-dev \
libprotobuf-c-dev protobuf-c-compiler libnng-dev libcriterion-dev libyaml-dev \
libjansson-dev libxxhash-dev libsodium-dev libmicrohttpd-dev clang \
clang-format libclang-rt-14-dev lmdb-utils curl procps jq diffutils openssl \
iptables util-linux iproute2 binutils \
libcurl4-openssl-dev python3-jsonschema python3-yaml python3-pytest python3-venv \
python3-setuptools prometheus systemd"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
# The console's browser tests only (tests/cluster/console*.sh): Debian's
# chromium, driven by playwright-core from tests/browser/package-lock.json.
# Node and npm are taken from Debian unless a node with npm is installed
# already (another packaging of node may ship npm itself).
dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed" ||
	missing="$missing chromium"
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages and not root; run: sudo apt-get install$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends $missing >/dev/null
