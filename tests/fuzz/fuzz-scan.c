/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: arbitrary bytes scanned as one file through the public
 * streaming API, with containers on, so every unpacker and the file-type
 * detector see hostile input.  The bundled test database is loaded once.
 *
 * The input is fed in two chunks split at a position taken from its first
 * byte, so chunk boundaries (the 36 KiB detection head, the spool) vary too.
 * Limits are tightened so that one input cannot eat the -timeout: what we
 * want to find here is crashes and hangs, not slow-but-bounded bombs.
 *
 * libarchive sizes allocations from header fields (a cpio name length of
 * 3 GB grows its read-ahead buffer to 3 GB; a 100-byte 7z declares 3.9 GB
 * of substream tables).  The engine bounds what libarchive may hold
 * (max_unpack_mem, src/engine/unpack-mem.c), so libFuzzer's default
 * -malloc_limit_mb (= -rss_limit_mb) stays in force: any larger request
 * that gets past the bound is a finding.  Regression seeds:
 * corpus/fuzz-scan/7z-streams-bomb (tests/data/containers/craft.py).
 */
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bulwark/bulwark.h"

static bw_engine_t *engine;
static bw_limits_t limits;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[512] = "";
    char alt[4096] = "";
    const char *db = getenv("BW_FUZZ_DB");
    if (!db) {
        /* run from the repository root (tests/fuzz/run-one.sh), or find the
         * root from the binary's place: build-fuzz/fuzz/fuzz-scan */
        db = "db/test";
        if (access(db, R_OK) != 0 && *argc > 0) {
            char self[4096];
            snprintf(self, sizeof self, "%s", (*argv)[0]);
            snprintf(alt, sizeof alt, "%s/../../db/test", dirname(self));
            db = alt;
        }
    }
    const char *paths[] = {db};
    if (bw_engine_load(paths, 1, NULL, &engine, err, sizeof err) != BW_OK) {
        fprintf(stderr, "fuzz-scan: cannot load %s: %s\n", db, err);
        abort();
    }
    bw_limits_default(&limits);
    limits.scan_archives = 1;
    limits.all_match = 1;
    limits.max_scan_bytes = 32u << 20;
    limits.max_file_size = 16u << 20;
    limits.max_scan_ms = 3000;
    limits.max_files = 1000;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bw_scan_t *s = bw_scan_begin(engine, &limits, "fuzz");
    if (!s)
        return 0;
    size_t cut = size ? (size_t)data[0] * size / 256 : 0;
    if (bw_scan_feed(s, data, cut) == BW_OK)
        bw_scan_feed(s, data + cut, size - cut);
    bw_verdict_t v;
    if (bw_scan_end(s, &v) == BW_OK) {
        /* touch every string the verdict owns */
        size_t n = 0;
        for (size_t i = 0; i < v.nthreats; i++)
            n += strlen(v.threats[i].name ? v.threats[i].name : "") +
                 strlen(v.threats[i].path ? v.threats[i].path : "");
        if (v.status >= BW_STATUS_COUNT || n == (size_t)-1)
            abort();
        bw_verdict_free(&v);
    }
    return 0;
}
