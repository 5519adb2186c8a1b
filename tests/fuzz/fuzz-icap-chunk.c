/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the resumable chunked decoder against itself: the input is decoded
 * in one piece and again in pieces whose sizes the input's first byte picks
 * (down to one byte at a time), each piece in its own exact-size allocation so
 * ASan catches a read past it.  Both runs must agree on every body byte, the
 * END position and flags, or the error offset and reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/bulwark.h"
#include "icap/icap-parse.h"

typedef struct res {
    bw_chunk_ev_t ev;
    uint64_t end, ndata, hash, uob, err_off;
    int ieof, has_uob;
    const char *reason;
} res_t;

static void feed_piece(bw_icap_chunk_t *st, const uint8_t *p, size_t n, uint64_t base, res_t *r)
{
    char *b = malloc(n ? n : 1);
    if (n)
        memcpy(b, p, n);
    size_t off = 0;
    for (;;) {
        size_t used;
        bw_icap_str_t d;
        bw_chunk_ev_t ev = bw_icap_chunk_feed(st, b + off, n - off, &used, &d);
        if (used > n - off)
            abort();
        off += used;
        if (ev == BW_CHUNK_DATA) {
            if (d.n == 0 || d.p < b || d.p + d.n > b + n)
                abort();
            for (size_t i = 0; i < d.n; i++)
                r->hash = (r->hash ^ (unsigned char)d.p[i]) * 1099511628211ull;
            r->ndata += d.n;
            continue;
        }
        if (ev == BW_CHUNK_END) {
            r->ev = ev;
            r->end = base + off;
            r->ieof = st->ieof;
            r->has_uob = st->has_use_original_body;
            r->uob = st->use_original_body;
            if (st->total != r->ndata || st->offset != r->end)
                abort();
        } else if (ev == BW_CHUNK_ERROR) {
            r->ev = ev;
            r->err_off = st->err.offset;
            r->reason = st->err.reason;
            if (!r->reason || st->err.status != 400 || r->err_off < base ||
                r->err_off >= base + n)
                abort();
        } else if (off != n) {
            abort();
        }
        break;
    }
    free(b);
}

/* seed < 0: one piece.  seed 0: one byte at a time.  Otherwise piece sizes
 * 1..17 from a small LCG. */
static void run(const uint8_t *data, size_t size, int seed, res_t *r)
{
    bw_icap_chunk_t st;
    memset(&st, 0, sizeof st);
    memset(r, 0, sizeof *r);
    r->ev = BW_CHUNK_NEED_MORE;
    r->hash = 14695981039346656037ull;
    uint32_t x = (uint32_t)seed;
    size_t pos = 0;
    while (pos < size && r->ev == BW_CHUNK_NEED_MORE) {
        x = x * 1103515245u + 12345u;
        size_t n = seed < 0 ? size - pos : seed == 0 ? 1 : (size_t)(x >> 16) % 17 + 1;
        if (n > size - pos)
            n = size - pos;
        feed_piece(&st, data + pos, n, pos, r);
        pos += n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    /* The first byte picks the split pattern; the rest is the body stream. */
    res_t a, b;
    run(data + 1, size - 1, -1, &a);
    run(data + 1, size - 1, data[0], &b);
    if (a.ev != b.ev)
        abort();
    if (a.ev == BW_CHUNK_ERROR && (a.err_off != b.err_off || a.reason != b.reason))
        abort();
    if (a.ev == BW_CHUNK_END &&
        (a.end != b.end || a.ieof != b.ieof || a.has_uob != b.has_uob || a.uob != b.uob))
        abort();
    if (a.ev != BW_CHUNK_ERROR && (a.ndata != b.ndata || a.hash != b.hash))
        abort();
    return 0;
}
