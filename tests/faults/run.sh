#!/bin/sh
# The fault suite: `short` (part of make test) or `long` (make faults).
set -eu
echo "faults: no fault scenarios yet (${1:-short})"
