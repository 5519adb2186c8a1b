/* Statuses, default limits and verdict ownership. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bulwark/bulwark.h"

static const char *const status_names[BW_STATUS_COUNT] = {
    [BW_CLEAN] = "CLEAN",         [BW_CURED] = "CURED",         [BW_ERROR] = "ERROR",
    [BW_CORRUPTED] = "CORRUPTED", [BW_PROTECTED] = "PROTECTED", [BW_TIMEOUT] = "TIMEOUT",
    [BW_TOO_LARGE] = "TOO_LARGE", [BW_SUSPICIOUS] = "SUSPICIOUS", [BW_WARNING] = "WARNING",
    [BW_INFECTED] = "INFECTED",
};

const char *bw_status_name(bw_status_t s)
{
    return (unsigned)s < BW_STATUS_COUNT ? status_names[s] : "UNKNOWN";
}

int bw_status_from_name(const char *name, bw_status_t *out)
{
    for (int i = 0; i < BW_STATUS_COUNT; i++) {
        if (!strcasecmp(name, status_names[i])) {
            *out = (bw_status_t)i;
            return BW_OK;
        }
    }
    return BW_ERR;
}

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
    /* 7z/xz at -mx9 need a 64 MiB dictionary; 256 MiB leaves room for
     * nesting and for the largest dictionaries common tools write. */
    l->max_unpack_mem = 256ull << 20;
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
