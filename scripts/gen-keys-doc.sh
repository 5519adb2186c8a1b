#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Regenerates docs/bulwarkd-keys.md from the key tables: the hand-written head
# (up to "<!-- generated below -->") stays, the rest is `bulwarkd --config-doc`.
# Usage: scripts/gen-keys-doc.sh [BULWARKD]   (default build/bulwarkd)
set -eu
cd "$(dirname "$0")/.."
bwd=${1:-build/bulwarkd}
doc=docs/bulwarkd-keys.md
gen=$("$bwd" --config-doc)
{ sed -n '1,/<!-- generated below -->/p' "$doc"; printf '%s\n' "$gen"; } > "$doc.tmp"
echo >> "$doc.tmp"
mv "$doc.tmp" "$doc"
