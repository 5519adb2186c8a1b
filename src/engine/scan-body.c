/* SPDX-License-Identifier: Apache-2.0 */
/* Body-signature matching over a stream.
 *
 * The design in one paragraph: Hyperscan scans each chunk once, in streaming
 * mode, for the anchors of all signature parts.  A hit names a part and the
 * end of its anchor.  We keep a window of the most recent bytes, at least as
 * long as the longest part, so the whole part can be verified around the
 * anchor without ever holding the whole object; a hit whose part reaches
 * past the bytes seen so far waits in `pending` until they arrive.  A
 * verified part either completes its signature (one part, offset satisfied)
 * or is stored, and the parts of a multi-part signature are chained in order
 * with the gaps between them checked.  EOF-anchored signatures and file-type
 * gated ones are settled when the size or the type is known.
 *
 * Memory per scan: the window (max part extent + one chunk), the pending
 * hits, and the stored part matches, each capped.
 */
#include <stdlib.h>
#include <string.h>

#include "db-load.h"
#include "ldb-logic.h"
#include "scan-t.h"
#include "sig-hex.h"

#define PM_MAX 8192      /* stored part matches per object */
#define PM_PER_PART 64   /* stored matches per part */
#define PENDING_MAX 65536

static int ftype_satisfies(uint8_t target, bw_ftype_t t)
{
    switch (target) {
    case BW_TARGET_ANY: return 1;
    case BW_TARGET_PE: return t == BW_FT_PE;
    case BW_TARGET_ELF: return t == BW_FT_ELF;
    case BW_TARGET_MACHO: return t == BW_FT_MACHO;
    case BW_TARGET_PDF: return t == BW_FT_PDF;
    case BW_TARGET_OLE2: return t == BW_FT_OLE2;
    default: return 0;
    }
}

static uint32_t *count_slot(bw_scan_t *s, uint32_t bsig)
{
    for (size_t i = 0; i < s->counts.n; i++)
        if (s->counts.v[i].key == bsig)
            return &s->counts.v[i].val;
    if (bw_vec_push(&s->counts, (bw_kv_t){bsig, 0})) {
        s->failed = 1;
        return NULL;
    }
    return &s->counts.v[s->counts.n - 1].val;
}

/* A signature matched once; for .ndb that is a detection, for an .ldb
 * subsignature one more count for the logical expression. */
static void bsig_event(bw_scan_t *s, uint32_t bsig)
{
    const bw_sigdb_t *db = &s->e->db;
    const bw_bsig_t *b = &db->bsigs.v[bsig];
    if (b->target != BW_TARGET_ANY && !b->is_ldb) {
        if (!s->type_known) {
            if (bw_vec_push(&s->deferred, bsig))
                s->failed = 1;
            return;
        }
        if (!ftype_satisfies(b->target, s->type))
            return;
    }
    if (b->is_ldb) {
        uint32_t *c = count_slot(s, bsig);
        if (c && *c < UINT32_MAX)
            (*c)++;
        return;
    }
    bw_scan_bsig_matched(s, bsig);
}

static int offset_ok(const bw_bsig_t *b, uint64_t start, uint64_t size, int size_known)
{
    switch (b->off_kind) {
    case BW_OFF_ABS:
        return start >= b->off && start - b->off <= b->shift;
    case BW_OFF_EOF:
        if (!size_known || size < b->off)
            return 0;
        return start >= size - b->off && start - (size - b->off) <= b->shift;
    default:
        return 1;
    }
}

/* Chains the stored part matches of one signature.  ends[] holds, for the
 * current part, the ends of matches reachable through a valid chain. */
static void chain_eval(bw_scan_t *s, uint32_t bsig, int size_known)
{
    const bw_sigdb_t *db = &s->e->db;
    const bw_bsig_t *b = &db->bsigs.v[bsig];
    if (b->off_kind == BW_OFF_EOF && !size_known)
        return;
    uint64_t prev[PM_PER_PART], cur[PM_PER_PART];
    size_t nprev = 0, ncur = 0;
    for (size_t i = 0; i < s->pm.n && nprev < PM_PER_PART; i++) {
        const bw_pmatch_t *m = &s->pm.v[i];
        if (m->part == b->part_first && offset_ok(b, m->start, s->size, size_known))
            prev[nprev++] = m->end;
    }
    for (uint32_t k = 1; k < b->part_count && nprev; k++) {
        const bw_part_t *p = &db->parts.v[b->part_first + k];
        ncur = 0;
        int last = k + 1 == b->part_count;
        for (size_t i = 0; i < s->pm.n && ncur < PM_PER_PART; i++) {
            bw_pmatch_t *m = &s->pm.v[i];
            if (m->part != b->part_first + k)
                continue;
            int ok = 0;
            for (size_t j = 0; j < nprev && !ok; j++)
                ok = m->start >= prev[j] + p->gap_min &&
                     (p->gap_max == BW_GAP_INF || m->start - prev[j] <= p->gap_max);
            if (!ok)
                continue;
            if (last) {
                if (!m->counted) {
                    m->counted = 1;
                    bsig_event(s, bsig);
                }
            } else {
                cur[ncur++] = m->end;
            }
        }
        memcpy(prev, cur, ncur * sizeof *cur);
        nprev = ncur;
    }
    if (b->part_count == 1) {
        for (size_t i = 0; i < s->pm.n; i++) {
            bw_pmatch_t *m = &s->pm.v[i];
            if (m->part == b->part_first && !m->counted && offset_ok(b, m->start, s->size, 1)) {
                m->counted = 1;
                bsig_event(s, bsig);
            }
        }
    }
}

static void store_pmatch(bw_scan_t *s, uint32_t part, uint64_t start, uint64_t end)
{
    size_t same = 0;
    for (size_t i = 0; i < s->pm.n; i++) {
        if (s->pm.v[i].part != part)
            continue;
        if (s->pm.v[i].start == start && s->pm.v[i].end == end)
            return;
        same++;
    }
    /* Past the caps the earliest matches are kept: for `*` chains the
     * earliest end of a part is the one that admits the most successors. */
    if (same >= PM_PER_PART || s->pm.n >= PM_MAX)
        return;
    if (bw_vec_push(&s->pm, (bw_pmatch_t){part, 0, start, end}))
        s->failed = 1;
}

static void part_matched(bw_scan_t *s, uint32_t part, uint64_t start, uint64_t end)
{
    const bw_sigdb_t *db = &s->e->db;
    const bw_part_t *p = &db->parts.v[part];
    const bw_bsig_t *b = &db->bsigs.v[p->bsig];
    if (b->part_count == 1 && b->off_kind != BW_OFF_EOF) {
        if (offset_ok(b, start, 0, 0))
            bsig_event(s, p->bsig);
        return;
    }
    store_pmatch(s, part, start, end);
    if (b->off_kind == BW_OFF_EOF) {
        for (size_t i = 0; i < s->eofsigs.n; i++)
            if (s->eofsigs.v[i] == p->bsig)
                return;
        if (bw_vec_push(&s->eofsigs, p->bsig))
            s->failed = 1;
        return;
    }
    chain_eval(s, p->bsig, 0);
}

static void verify(bw_scan_t *s, uint32_t part, uint64_t astart, int at_eof)
{
    const bw_part_t *p = &s->e->db.parts.v[part];
    uint64_t ms, me;
    if (bw_part_verify(&s->e->db, p, s->win, s->win_off, s->win_len, astart, at_eof, &ms, &me))
        part_matched(s, part, ms, me);
}

static int on_anchor(unsigned id, unsigned long long from, unsigned long long to,
                     unsigned flags, void *ctx)
{
    (void)from;
    (void)flags;
    bw_scan_t *s = ctx;
    const bw_sigdb_t *db = &s->e->db;
    const bw_part_t *p = &db->parts.v[id];
    uint32_t alen = db->toks.v[p->anchor_tok].b;
    if (to < alen)
        return 0;
    uint64_t astart = to - alen;
    if (p->index == 0) {
        /* Cheap rejections before any byte is compared. */
        const bw_bsig_t *b = &db->bsigs.v[p->bsig];
        if (b->off_kind == BW_OFF_ABS &&
            (astart < (uint64_t)b->off + p->min_before ||
             astart - p->max_before > (uint64_t)b->off + b->shift))
            return 0;
        if (astart < p->min_before)
            return 0;
    }
    uint64_t ready = (uint64_t)to + p->max_after;
    if (ready <= s->win_off + s->win_len) {
        verify(s, id, astart, 0);
    } else if (s->pending.n < PENDING_MAX) {
        if (bw_vec_push(&s->pending, (bw_cand_t){id, astart, ready}))
            s->failed = 1;
    } else {
        s->failed = 1; /* said as ERROR in the verdict, never a silent miss */
    }
    return (s->root->stop && !s->lim.all_match) ? 1 : 0;
}

int bw_body_begin(bw_scan_t *s)
{
    if (!s->e->hs)
        return BW_OK;
    if (s->parent && s->root->scratch) {
        s->scratch = s->root->scratch; /* children run on the root's thread */
    } else {
        s->scratch = bw_engine_scratch_get(s->e);
        s->own_scratch = 1;
    }
    if (!s->scratch || hs_open_stream(s->e->hs, 0, &s->stream) != HS_SUCCESS)
        return BW_ERR;
    return BW_OK;
}

static void run_pending(bw_scan_t *s, int at_eof)
{
    uint64_t have = s->win_off + s->win_len;
    size_t keep = 0;
    for (size_t i = 0; i < s->pending.n; i++) {
        bw_cand_t c = s->pending.v[i];
        if (at_eof || c.ready <= have)
            verify(s, c.part, c.astart, at_eof);
        else
            s->pending.v[keep++] = c;
    }
    s->pending.n = keep;
}

/* Drops window bytes that no present or future candidate can reach. */
static void trim_window(bw_scan_t *s)
{
    const bw_sigdb_t *db = &s->e->db;
    uint64_t end = s->win_off + s->win_len;
    uint64_t keep_from = end > db->max_part_extent ? end - db->max_part_extent : 0;
    for (size_t i = 0; i < s->pending.n; i++) {
        const bw_part_t *p = &db->parts.v[s->pending.v[i].part];
        uint64_t lo = s->pending.v[i].astart > p->max_before ? s->pending.v[i].astart - p->max_before : 0;
        if (lo < keep_from)
            keep_from = lo;
    }
    /* boundary tokens look one byte before a part */
    keep_from = keep_from ? keep_from - 1 : 0;
    if (keep_from <= s->win_off)
        return;
    size_t drop = (size_t)(keep_from - s->win_off);
    if (drop < s->win_len / 2 && drop < (1u << 20))
        return; /* compact rarely: memmove cost stays proportional */
    memmove(s->win, s->win + drop, s->win_len - drop);
    s->win_len -= drop;
    s->win_off += drop;
}

int bw_body_feed(bw_scan_t *s, const uint8_t *buf, size_t len)
{
    if (!s->stream || s->hs_stopped)
        return BW_OK;
    trim_window(s);
    if (s->win_len + len > s->win_cap) {
        size_t c = s->win_cap ? s->win_cap : 65536;
        while (c < s->win_len + len)
            c *= 2;
        uint8_t *nw = realloc(s->win, c);
        if (!nw) {
            s->failed = 1;
            return BW_ERR;
        }
        s->win = nw;
        s->win_cap = c;
    }
    memcpy(s->win + s->win_len, buf, len);
    s->win_len += len;
    hs_error_t rc = hs_scan_stream(s->stream, (const char *)buf, (unsigned)len, 0, s->scratch,
                                   on_anchor, s);
    if (rc == HS_SCAN_TERMINATED) {
        s->hs_stopped = 1;
        return BW_OK;
    }
    if (rc != HS_SUCCESS) {
        s->failed = 1;
        return BW_ERR;
    }
    if (s->pending.n)
        run_pending(s, 0);
    return BW_OK;
}

static void eval_ldbs(bw_scan_t *s)
{
    const bw_sigdb_t *db = &s->e->db;
    /* Each touched .ldb once: mark by walking counts (few entries). */
    for (size_t i = 0; i < s->counts.n; i++) {
        const bw_bsig_t *b = &db->bsigs.v[s->counts.v[i].key];
        uint32_t li = b->owner;
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = db->bsigs.v[s->counts.v[j].key].owner == li;
        if (seen)
            continue;
        const bw_ldb_t *l = &db->ldbs.v[li];
        if (!ftype_satisfies(l->target, s->type))
            continue;
        if (s->size < l->fsize_min || s->size > l->fsize_max)
            continue;
        uint32_t counts[64] = {0};
        for (size_t j = 0; j < s->counts.n; j++) {
            const bw_bsig_t *bj = &db->bsigs.v[s->counts.v[j].key];
            if (bj->owner == li && bj->subsig < 64)
                counts[bj->subsig] = s->counts.v[j].val;
        }
        if (bw_logic_eval(&db->logic.v[l->logic_first], l->logic_count, counts)) {
            const bw_sigmeta_t *m = &db->metas.v[l->meta];
            bw_scan_add_finding(s, (bw_status_t)m->status, l->meta,
                                bw_sigdb_string(db, m->name_off), NULL);
        }
    }
}

void bw_body_type_known(bw_scan_t *s)
{
    size_t n = s->deferred.n;
    s->deferred.n = 0;
    for (size_t i = 0; i < n; i++)
        bsig_event(s, s->deferred.v[i]);
}

void bw_body_end(bw_scan_t *s)
{
    if (s->stream) {
        if (!s->hs_stopped)
            hs_close_stream(s->stream, s->scratch, on_anchor, s);
        else
            hs_close_stream(s->stream, NULL, NULL, NULL);
        s->stream = NULL;
        if (!s->hs_stopped || s->lim.all_match)
            run_pending(s, 1);
    }
    for (size_t i = 0; i < s->eofsigs.n; i++)
        chain_eval(s, s->eofsigs.v[i], 1);
    bw_body_type_known(s);
    eval_ldbs(s);
}

void bw_body_free(bw_scan_t *s)
{
    if (s->stream)
        hs_close_stream(s->stream, NULL, NULL, NULL);
    s->stream = NULL;
    if (s->own_scratch)
        bw_engine_scratch_put(s->e, s->scratch);
    s->scratch = NULL;
    free(s->win);
    s->win = NULL;
    bw_vec_free(&s->pending);
    bw_vec_free(&s->pm);
    bw_vec_free(&s->counts);
    bw_vec_free(&s->deferred);
    bw_vec_free(&s->eofsigs);
}
