#!/bin/sh
# The TypeScript SDK (sdk/typescript) builds with its pinned typescript
# (npm ci from the committed package-lock.json), its node --test suite
# passes against a real controld and routerd, and the package installs
# from its folder into another project (npm pack, npm install) and
# imports there.
. "$(dirname "$0")/../lib/cluster.sh"

cl_init sdk_typescript 1
cd "$ROOT/sdk/typescript"
npm ci --no-audit --no-fund --silent >"$CL_DIR/npm.log" 2>&1 ||
	{ cat "$CL_DIR/npm.log"; fail "npm ci in sdk/typescript"; }
npm run --silent build || fail "tsc build of sdk/typescript"
BUILD=$BUILD AF_ROOT="$ROOT" AF_BIN="$ROOT/$BUILD/bin" node --test test/client.test.mjs \
	>"$CL_DIR/test.log" 2>&1 || { cat "$CL_DIR/test.log"; fail "sdk/typescript tests"; }
grep -E '^# (pass|fail)' "$CL_DIR/test.log"
grep -q '^# fail 0$' "$CL_DIR/test.log" || fail "sdk/typescript: failures"

tgz=$(npm pack --silent --pack-destination "$CL_DIR" 2>/dev/null | tail -1)
[ -f "$CL_DIR/$tgz" ] || fail "npm pack: no tarball"
mkdir "$CL_DIR/app"
cd "$CL_DIR/app"
echo '{"name":"app","private":true,"type":"module"}' >package.json
npm install --no-audit --no-fund --silent --offline "$CL_DIR/$tgz" >"$CL_DIR/install.log" 2>&1 ||
	{ cat "$CL_DIR/install.log"; fail "npm install of the packed SDK"; }
node -e 'import("af-sdk").then((m) => { if (typeof m.Client !== "function" || typeof m.LaneSaturated !== "function") process.exit(1); console.log("# installed af-sdk: Client, LaneSaturated"); })' ||
	fail "import af-sdk from an installed package"
[ -f node_modules/af-sdk/dist/index.d.ts ] || fail "installed package has no types"
echo "ok: sdk_typescript"
