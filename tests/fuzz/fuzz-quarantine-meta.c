/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the quarantine record parser (quarantine-meta.c).  The input is
 * parsed from an exact-size allocation, so ASan catches a read past it.  A
 * failure must come with a message and a line inside the input; a success
 * must hold only values the record can say, and must survive a round trip:
 * format the parsed record, parse that again, and get the same record. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quarantine/quarantine.h"

static int same(const bw_quar_meta_t *a, const bw_quar_meta_t *b)
{
    if (strcmp(a->sha256, b->sha256) || a->size != b->size || a->partial != b->partial ||
        a->time != b->time || strcmp(a->status, b->status) || a->nthreats != b->nthreats ||
        strcmp(a->origin, b->origin) || strcmp(a->client, b->client) ||
        strcmp(a->user, b->user) || strcmp(a->group, b->group) || strcmp(a->method, b->method))
        return 0;
    for (size_t i = 0; i < a->nthreats; i++)
        if (strcmp(a->threats[i], b->threats[i]))
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bw_quar_meta_t m, again;
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    if (size)
        memcpy(buf, data, size);
    unsigned line = 0;
    bw_err_t err;
    err.msg[0] = '\0';
    int rc = bw_quar_meta_parse(buf, size, &m, &line, &err);
    free(buf);
    if (rc != BW_OK) {
        size_t lines = 1;
        for (size_t i = 0; i < size; i++)
            lines += data[i] == '\n';
        if (rc != BW_ERR || !err.msg[0] || !memchr(err.msg, '\0', sizeof err.msg) ||
            (size <= BW_QUAR_MAX_RECORD && (line == 0 || line > lines)))
            abort();
        return 0;
    }
    if (strlen(m.sha256) != BW_QUAR_ID_LEN || m.nthreats > BW_QUAR_MAX_THREATS ||
        strlen(m.origin) > BW_QUAR_MAX_ORIGIN)
        abort();
    bw_buf_t out = {0};
    bw_quar_meta_format(&m, &out);
    if (out.oom)
        abort();
    if (bw_quar_meta_parse(out.p, out.len, &again, &line, &err) != BW_OK || !same(&m, &again))
        abort();
    bw_buf_free(&out);
    return 0;
}
