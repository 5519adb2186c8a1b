/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the clamd command parser and the INSTREAM chunk parser as the
 * connection drives them: commands are parsed one after another from the
 * input (each in an exact-size allocation, so ASan sees a read past it); an
 * INSTREAM hands the rest to the chunk parser, fed once whole and once in
 * pieces whose size the first byte picks, and both runs must agree on every
 * data byte and on the final event.  The parsers must never read outside
 * their input, consume more than given, or return a slice outside it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/bulwark.h"
#include "clamd/clamd-parse.h"

typedef struct res {
    bw_clamd_chunk_ev_t ev;
    uint64_t ndata, hash, at;
} res_t;

static void run_stream(const uint8_t *p, size_t n, size_t piece, uint64_t limit, res_t *r)
{
    bw_clamd_stream_t st;
    bw_clamd_stream_init(&st, limit);
    memset(r, 0, sizeof *r);
    r->hash = 1469598103934665603ull;
    size_t off = 0;
    while (off <= n) {
        size_t len = n - off < piece ? n - off : piece;
        char *b = malloc(len ? len : 1);
        if (len)
            memcpy(b, p + off, len);
        size_t pos = 0;
        bw_clamd_chunk_ev_t ev;
        for (;;) {
            size_t used = 0, dn = 0;
            const char *d = NULL;
            ev = bw_clamd_stream_feed(&st, b + pos, len - pos, &used, &d, &dn);
            if (used > len - pos)
                abort();
            if (ev == BW_CHUNK_BYTES) {
                if (!dn || d < b + pos || d + dn > b + len)
                    abort();
                for (size_t i = 0; i < dn; i++)
                    r->hash = (r->hash ^ (unsigned char)d[i]) * 1099511628211ull;
                r->ndata += dn;
            }
            pos += used;
            if (ev != BW_CHUNK_BYTES)
                break;
        }
        free(b);
        if (ev == BW_CHUNK_LAST || ev == BW_CHUNK_OVER) {
            r->ev = ev;
            r->at = off + pos;
            return;
        }
        if (pos != len)
            abort(); /* MORE means everything was taken */
        if (off == n)
            break;
        off += len;
    }
    r->ev = BW_CHUNK_MORE;
    r->at = n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t piece = (size_t)(data[0] % 17) + 1;
    uint64_t limit = (uint64_t)(data[1] % 64) * 16 + 1;
    const uint8_t *p = data + 2;
    size_t n = size - 2, off = 0;
    while (off < n) {
        size_t len = n - off;
        char *b = malloc(len);
        memcpy(b, p + off, len);
        bw_clamd_req_t req;
        int r = bw_clamd_parse_cmd(b, len, (int)(data[0] & 1), 64, &req);
        if (r > 0) {
            if ((size_t)r > len)
                abort();
            if (req.arg && (req.arg < b || req.arg + req.arg_len > b + len))
                abort();
            if (req.cmd >= BW_CLAMD_CMD_COUNT || (req.term != '\0' && req.term != '\n'))
                abort();
        }
        free(b);
        if (r <= 0)
            break;
        off += (size_t)r;
        if (req.cmd == BW_CLAMD_INSTREAM) {
            res_t whole, pieces;
            run_stream(p + off, n - off, n - off + 1, limit, &whole);
            run_stream(p + off, n - off, piece, limit, &pieces);
            if (whole.ev != pieces.ev || whole.ndata != pieces.ndata ||
                whole.hash != pieces.hash || whole.at != pieces.at)
                abort();
            if (whole.ev == BW_CHUNK_MORE || whole.ev == BW_CHUNK_OVER)
                break;
            off += whole.at;
        }
    }
    return 0;
}
