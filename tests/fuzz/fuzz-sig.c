/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the hex-signature compiler, the part verifier and the .ldb logic
 * compiler/evaluator.  Input: HEX [NUL or ';' LOGIC].  The hex is compiled
 * plain and ::w (flags from the last byte); when it compiles, the layout is
 * checked for consistency and every part is verified on a fixed buffer
 * (with the part's own anchor planted in it, so verification goes deep) at a
 * few anchor positions and window shapes.  The logic text is compiled for
 * 1..64 subsigs and evaluated on counts drawn from the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ldb-logic.h"
#include "engine/sig-hex.h"

#define BUF 512

static void check_layout(const bw_sigdb_t *db, uint32_t bi)
{
    const bw_bsig_t *b = &db->bsigs.v[bi];
    if (b->part_count == 0 || b->part_first + b->part_count != db->parts.n)
        abort();
    for (uint32_t k = 0; k < b->part_count; k++) {
        const bw_part_t *p = &db->parts.v[b->part_first + k];
        if (p->bsig != bi || p->index != k || p->tok_count == 0 ||
            p->tok_first + p->tok_count > db->toks.n || p->anchor_tok < p->tok_first ||
            p->anchor_tok >= p->tok_first + p->tok_count)
            abort();
        const bw_tok_t *a = &db->toks.v[p->anchor_tok];
        if (a->kind != BW_TOK_BYTES || a->b < BW_ANCHOR_MIN || a->a + a->b > db->bytes.n)
            abort();
        if (p->min_before > p->max_before || p->min_after > p->max_after ||
            (uint64_t)p->max_before + a->b + p->max_after > db->max_part_extent)
            abort();
        if (k == 0 ? (p->gap_min || p->gap_max) : p->gap_min > p->gap_max)
            abort();
        for (uint32_t t = p->tok_first; t < p->tok_first + p->tok_count; t++) {
            const bw_tok_t *x = &db->toks.v[t];
            if (x->kind < BW_TOK_BYTES || x->kind > BW_TOK_BOUNDARY)
                abort();
            if (x->kind == BW_TOK_GAP && (x->a > x->b || x->b == BW_GAP_INF))
                abort();
            if (x->kind == BW_TOK_ALT && (x->b == 0 || x->a + x->b > db->alts.n))
                abort();
        }
    }
}

static void run_parts(const bw_sigdb_t *db, uint32_t bi, const uint8_t *seed, size_t seedlen)
{
    static uint8_t buf[BUF];
    const bw_bsig_t *b = &db->bsigs.v[bi];
    for (uint32_t k = 0; k < b->part_count; k++) {
        const bw_part_t *p = &db->parts.v[b->part_first + k];
        const bw_tok_t *a = &db->toks.v[p->anchor_tok];
        for (size_t i = 0; i < BUF; i++)
            buf[i] = seedlen ? seed[i % seedlen] : (uint8_t)(i * 37);
        uint64_t pos[4] = {0, BUF / 2, BUF - a->b, 7};
        for (int j = 0; j < 4; j++) {
            if (a->b > BUF || pos[j] + a->b > BUF)
                continue;
            memcpy(buf + pos[j], db->bytes.v + a->a, a->b);
        }
        for (int j = 0; j < 4; j++) {
            uint64_t s, e;
            for (int eof = 0; eof < 2; eof++) {
                if (bw_part_verify(db, p, buf, 0, BUF, pos[j], eof, &s, &e) &&
                    (s > pos[j] || e < pos[j] + a->b || e > BUF))
                    abort();
                /* a window that starts late, at a far stream offset */
                uint64_t off = ((uint64_t)1 << 33) - 64;
                if (bw_part_verify(db, p, buf + 64, off + 64, BUF - 64, off + pos[j], eof, &s,
                                   &e) &&
                    (s < off + 64 || e > off + BUF))
                    abort();
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cut = 0;
    while (cut < size && data[cut] != 0 && data[cut] != ';')
        cut++;
    const char *hex = (const char *)data;
    const uint8_t *rest = cut < size ? data + cut + 1 : data + size;
    size_t restlen = (size_t)(data + size - rest);
    uint32_t flags = size ? (data[size - 1] & 3) : 0;
    bw_sigdb_t db;
    memset(&db, 0, sizeof db);
    bw_err_t err;
    for (int wide = 0; wide < 2; wide++) {
        uint32_t bi;
        size_t nt = db.toks.n, nb = db.bsigs.n, np = db.parts.n;
        int rc = bw_hex_compile(&db, hex, cut, flags, wide, &bi, &err);
        if (rc == BW_OK) {
            if (bi != nb || db.bsigs.n != nb + 1)
                abort();
            check_layout(&db, bi);
            run_parts(&db, bi, rest, restlen);
        } else if (db.toks.n != nt || db.bsigs.n != nb || db.parts.n != np ||
                   (rc != BW_ERR && rc != BW_DECLINED) || !memchr(err.msg, 0, sizeof err.msg)) {
            abort();
        }
    }
    uint32_t first, count;
    unsigned nsub = restlen ? (unsigned)(rest[restlen - 1] % 64) + 1 : 64;
    const char *expr = (const char *)rest;
    size_t elen = restlen;
    if (bw_logic_compile(&db, expr, elen, nsub, &first, &count, &err) == BW_OK) {
        uint32_t counts[64];
        for (unsigned i = 0; i < 64; i++)
            counts[i] = i < size ? data[i] % 4 : 0;
        (void)bw_logic_eval(&db.logic.v[first], count, counts);
        memset(counts, 0, sizeof counts);
        (void)bw_logic_eval(&db.logic.v[first], count, counts);
    }
    free(db.toks.v);
    free(db.alts.v);
    free(db.bytes.v);
    free(db.parts.v);
    free(db.bsigs.v);
    free(db.logic.v);
    return 0;
}
