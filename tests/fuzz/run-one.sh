#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Runs one libFuzzer target for N seconds over its seed corpus
# (tests/fuzz/corpus/<target>/, committed seeds) plus a scratch corpus.
set -e
bin=$1; secs=${2:-10}
n=$(basename "$bin")
seeds="tests/fuzz/corpus/$n"
work=$(mktemp -d /tmp/bw-fuzz-$n.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$seeds"
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
       -print_final_stats=0 "$work" "$seeds" 2>"$work.log" || { tail -50 "$work.log"; rm -f "$work.log"; exit 1; }
rm -f "$work.log"
