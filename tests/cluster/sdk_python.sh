#!/bin/sh
# The Python SDK (sdk/python) installs with pip into a fresh virtual
# environment (no network: --no-build-isolation --no-index) and its pytest
# suite passes against a real controld and routerd, with the installed
# package (not the source tree) on the path.
. "$(dirname "$0")/../lib/cluster.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
cl_init sdk_python 1
cp -r "$ROOT/sdk/python" "$CL_DIR/src"
"$PY" -m venv --system-site-packages "$CL_DIR/venv" || fail "python3 -m venv"
"$CL_DIR/venv/bin/pip" install -q --no-build-isolation --no-index "$CL_DIR/src" \
	>"$CL_DIR/pip.log" 2>&1 || { cat "$CL_DIR/pip.log"; fail "pip install ./sdk/python"; }
cd "$CL_DIR/src"
rm -rf src # the tests must import the installed package
"$CL_DIR/venv/bin/python" -c 'import af_sdk, sys; print("# installed", af_sdk.__version__, af_sdk.__file__)'
BUILD=$BUILD AF_ROOT="$ROOT" AF_BIN="$ROOT/$BUILD/bin" "$CL_DIR/venv/bin/python" -m pytest -q \
	-p no:cacheprovider tests || fail "sdk/python tests"
echo "ok: sdk_python"
