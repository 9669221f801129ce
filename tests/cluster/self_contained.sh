#!/bin/sh
# The repository stands alone: no tracked file reads a folder beside it or
# refers to documents that are not in the repository.
set -eu
cd "$(dirname "$0")/../.."
self=tests/cluster/self_contained.sh
hits=$(git ls-files | grep -v "^$self\$" |
	xargs grep -nE '\.\./shared|\b(SPEC|DESIGN)(\.md)?\b|spec\.md|design\.md' 2>/dev/null || true)
if [ -n "$hits" ]; then
	echo "FAIL: files refer to documents outside the repository:" >&2
	echo "$hits" >&2
	exit 1
fi
echo "# every tracked file stands alone"
