/* SPDX-License-Identifier: Apache-2.0 */
/* Default limits and verdict ownership (status names: core/status.c). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bulwark/bulwark.h"

/* clamd's defaults (PROTOCOL-NOTES.md), plus a compression-ratio bound. */
void bw_limits_default(bw_limits_t *l)
{
    memset(l, 0, sizeof *l);
    l->max_depth = 17;
    l->max_files = 10000;
    l->max_scan_bytes = 400ull << 20;
    l->max_file_size = 100ull << 20;
    l->max_scan_ms = 120000;
    l->max_ratio = 250;
    l->scan_archives = 1;
    l->all_match = 0;
    /* 7z/xz at -mx9 need a 64 MiB dictionary, `zstd --long` a 128 MiB
     * window; 512 MiB holds two such streams nested (a .tar.zst inside a
     * .tar.zst) with room for libarchive's own buffers. */
    l->max_unpack_mem = 512ull << 20;
}

void bw_verdict_free(bw_verdict_t *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->nthreats; i++) {
        free(v->threats[i].name);
        free(v->threats[i].path);
    }
    free(v->threats);
    free(v->cured);
    memset(v, 0, sizeof *v);
}

const char *bw_verdict_name(const bw_verdict_t *v)
{
    for (size_t i = 0; i < v->nthreats; i++)
        if (v->threats[i].status == v->status)
            return v->threats[i].name;
    return v->nthreats ? v->threats[0].name : "";
}
