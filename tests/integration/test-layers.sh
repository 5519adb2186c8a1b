#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The layers of docs/ARCHITECTURE.md hold: no file includes a header of a
# higher layer, of a sibling module, or a module's private header
# (scripts/check-layers.sh reads the table from that page).  A second case
# proves the check can fail: a planted upward include is caught.
. "$(dirname "$0")/lib.sh"
out=$("$ROOT/scripts/check-layers.sh" "$ROOT" 2>&1); rc=$?
expect_eq "the tree keeps its layers ($(echo "$out" | tail -1))" "$rc" 0
[ "$rc" = 0 ] || echo "$out" | sed 's/^/    /'

# A copy of the tree with one core file reaching up into the daemon.
mkdir -p "$TMP/t"
cp -r "$ROOT/src" "$ROOT/include" "$ROOT/docs" "$TMP/t/"
printf '#include "daemon/daemon.h"\n' >> "$TMP/t/src/core/buf.c"
printf '#include "engine/sigdb-t.h"\n' >> "$TMP/t/src/icap/icap-parse.c"
printf '#include "clamd/clamd.h"\n' >> "$TMP/t/src/icap/icap-conf.c"
out=$("$ROOT/scripts/check-layers.sh" "$TMP/t" 2>&1); rc=$?
expect_eq "a planted violation fails the check" "$rc" 1
expect_match "... an upward include is named with file:line" "$out" \
    "src/core/buf.c:[0-9]+: includes src/daemon/daemon.h \(layer 6, daemon\) from layer 0 \(core\)"
expect_match "... an engine-private header is named" "$out" \
    "src/icap/icap-parse.c:[0-9]+: includes src/engine/sigdb-t.h, private to engine, from icap"
expect_match "... a sibling module is named" "$out" \
    "src/icap/icap-conf.c:[0-9]+: includes src/clamd/clamd.h \(layer 3, clamd\) from layer 3 \(icap\)"
