#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# group-bench.sh: builds and runs the policy group-matching micro-benchmark
# (bench/group-bench.c) and prints its figures.  Run from anywhere:
#
#   bench/group-bench.sh [GROUPS [URL_PATTERNS [CIDRS [SECONDS_PER_MIX]]]]
#
# Defaults: 300 groups, 3000 URL patterns, 3000 address ranges, 1 s per mix.
# It compiles only what it needs, with the same flags as `make` (-O2):
#   cc -std=gnu11 -O2 -D_GNU_SOURCE -Iinclude -Isrc $(pkg-config --cflags libhs inih) \
#      bench/group-bench.c src/core/*.c src/policy/groups.c -o bench/work/group-bench \
#      $(pkg-config --libs libhs inih libarchive libcrypto zlib) -pthread -lm
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/work
CC=${CC:-cc}
# shellcheck disable=SC2046  # pkg-config output is meant to be split
$CC -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -D_GNU_SOURCE \
    -Iinclude -Isrc $(pkg-config --cflags libhs inih) \
    bench/group-bench.c src/core/*.c src/policy/groups.c -o bench/work/group-bench \
    $(pkg-config --libs libhs inih libarchive libcrypto zlib) -pthread -lm
echo "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
exec bench/work/group-bench "$@"
