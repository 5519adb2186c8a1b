/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the multipart splitter.  Input: byte 0 = boundary length (1..16),
 * byte 1 = a cut step, then the boundary, then the body.  The body is split
 * once whole and once in pieces of varying size; both runs must give the
 * same event stream (data hashed byte by byte, so slicing does not show),
 * every DATA slice must equal the body at its offset, slices come in order,
 * BEGIN/END pair up and END comes exactly once.  The body also goes through
 * the base64 and quoted-printable part decoders, whole and in the same
 * pieces: the outputs must agree and stay within their bound. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/bulwark.h"
#include "icap/multipart.h"

typedef struct st {
    const uint8_t *body;
    size_t len;
    uint64_t hash, last_end;
    int open, ends;
} st_t;

static void mix(st_t *s, uint64_t v) { s->hash = (s->hash ^ v) * 1099511628211ull; }

static int cb(void *ud, const bw_mp_event_t *ev)
{
    st_t *s = ud;
    if (s->ends)
        abort(); /* nothing after END */
    if (ev->type != BW_MP_PART_DATA) /* data is hashed bytewise: slicing must not show */
        mix(s, 1000 + ev->type);
    switch (ev->type) {
    case BW_MP_PART_BEGIN:
        if (s->open)
            abort();
        s->open = 1;
        mix(s, ev->part->kind);
        mix(s, ev->part->index);
        for (const char *p = ev->part->filename; *p; p++)
            mix(s, (uint8_t)*p);
        if (strlen(ev->part->name) >= sizeof(ev->part->name) ||
            strlen(ev->part->ctype) >= sizeof(ev->part->ctype))
            abort();
        break;
    case BW_MP_PART_DATA:
        if (!s->open || !ev->len || ev->offset < s->last_end || ev->offset + ev->len > s->len ||
            memcmp(ev->data, s->body + ev->offset, ev->len))
            abort();
        s->last_end = ev->offset + ev->len;
        for (size_t i = 0; i < ev->len; i++)
            mix(s, (uint8_t)ev->data[i]);
        break;
    case BW_MP_PART_END:
        if (!s->open)
            abort();
        s->open = 0;
        mix(s, ev->truncated);
        mix(s, ev->part->size);
        break;
    case BW_MP_END:
        if (s->open)
            abort();
        s->ends++;
        mix(s, ev->truncated * 2 + ev->error);
        mix(s, ev->nparts);
        break;
    case BW_MP_ERROR:
        mix(s, ev->offset);
        break;
    }
    return 0;
}

static uint64_t run(const uint8_t *bnd, size_t bl, const uint8_t *body, size_t len, size_t step)
{
    static bw_mp_t m;
    st_t s = {body, len, 14695981039346656037ull, 0, 0, 0};
    if (bw_mp_init(&m, (const char *)bnd, bl) != BW_OK)
        return 0;
    size_t at = 0, k = 0;
    while (at < len) {
        size_t n = step ? 1 + (k++ * 7919 + step) % step : len - at;
        if (n > len - at)
            n = len - at;
        if (bw_mp_feed(&m, (const char *)body + at, n, cb, &s) != BW_OK)
            abort();
        at += n;
    }
    if (bw_mp_finish(&m, cb, &s) != BW_OK || s.ends != 1)
        abort();
    return s.hash;
}

/* Decodes body with kind in pieces of step (0: whole); returns a hash. */
static uint64_t cte(bw_cte_t kind, const uint8_t *body, size_t len, size_t step)
{
    bw_cte_dec_t d;
    static char out[65536 + 8];
    uint64_t h = 14695981039346656037ull;
    bw_cte_init(&d, kind);
    size_t at = 0, k = 0;
    while (at < len) {
        size_t n = step ? 1 + (k++ * 7919 + step) % step : len - at;
        if (n > len - at)
            n = len - at;
        if (n > 65536)
            n = 65536;
        size_t o = bw_cte_feed(&d, (const char *)body + at, n, out);
        if (o > n + 3)
            abort();
        for (size_t i = 0; i < o; i++)
            h = (h ^ (uint8_t)out[i]) * 1099511628211ull;
        at += n;
    }
    size_t o = bw_cte_end(&d, out);
    if (o > 3)
        abort();
    for (size_t i = 0; i < o; i++)
        h = (h ^ (uint8_t)out[i]) * 1099511628211ull;
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t bl = 1 + data[0] % 16, step = 1 + data[1] % 32;
    if (size < 2 + bl)
        return 0;
    const uint8_t *bnd = data + 2, *body = data + 2 + bl;
    size_t len = size - 2 - bl;
    uint64_t a = run(bnd, bl, body, len, 0);
    uint64_t b = run(bnd, bl, body, len, step);
    if (a != b)
        abort();
    if (cte(BW_CTE_BASE64, body, len, 0) != cte(BW_CTE_BASE64, body, len, step) ||
        cte(BW_CTE_QP, body, len, 0) != cte(BW_CTE_QP, body, len, step))
        abort();
    return 0;
}
