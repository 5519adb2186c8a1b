/* SPDX-License-Identifier: Apache-2.0 */
/* The part verifier: does a whole part match around an anchor hit?
 *
 * It runs at every prefilter hit, so it allocates nothing and does the
 * common case (fixed-width tokens) as a straight loop.  The anchor splits a
 * part into two independent sides: the tokens before it are matched
 * backward from the anchor's start, the tokens after it forward from its
 * end.  Only range gaps and alternatives of differing lengths ("choices")
 * can make a side ambiguous; the search backtracks over them with an
 * explicit stack of at most BW_PART_CHOICES_MAX frames (the compiler
 * declines parts with more), never with recursion.
 *
 * Which match is reported: the latest start, then the earliest end (the
 * most permissive one for chaining parts).  Choices are tried smallest
 * first, which usually finds the best match at once, and the search goes on
 * as branch-and-bound: a state that cannot beat the best found so far, given
 * the minimum length still to match, is cut.  A small failure memo
 * (direct-mapped, switched on only once a search gets long) makes repeated
 * gap/alternative combinations linear in practice.
 *
 * Work bound: each side may spend BW_VERIFY_STEPS_MAX / 2 steps (a step is
 * one token attempt or one gap candidate).  When a side runs out, it keeps
 * the best match found so far; if it has none, the part does not match.
 * This can only miss a match on signatures built to explode (many nested
 * ranges over data full of near-misses), and it keeps a hostile signature
 * from stalling a scan.
 *
 * BOUNDARY tokens are zero-width: with BW_TOKF_LEFT they test the byte
 * before their position, else the byte at it (the compiler has already
 * turned boundaries between two bytes into consuming classes).  Outside the
 * window a byte is unknown and the part does not match, except at the
 * stream's start and, with at_eof, its end: those are edges, which satisfy a
 * boundary and fail a negated one.  ::f (FULLWORD) checks the byte before
 * the signature's first part and after its last part the same way.
 */
#include <string.h>

#include "sig-hex.h"

#define MEMO_BITS 9
#define MEMO_N (1u << MEMO_BITS)
#define MEMO_AFTER 256 /* steps before the memo is worth clearing */

typedef struct frame {
    uint32_t k, choice;
    uint64_t pos, minrem; /* minrem: least bytes tokens k.. still need */
} frame_t;

typedef struct vctx {
    const bw_sigdb_t *db;
    const bw_tok_t *t;
    uint32_t ntok, anchor;
    const uint8_t *win;
    uint64_t lo, hi;
    int at_eof, nocase, fw_left, fw_right;
    uint32_t steps, budget;
    int memo_on;
    uint64_t memo[MEMO_N];
} vctx_t;

static inline uint8_t lc(uint8_t c)
{
    return (uint8_t)((uint8_t)(c - 'A') < 26 ? c + 32 : c);
}

static inline int is_alnum(uint8_t c)
{
    return (uint8_t)(c - '0') < 10 || (uint8_t)((c | 0x20) - 'a') < 26;
}

static inline uint8_t at(const vctx_t *c, uint64_t pos)
{
    return c->win[pos - c->lo];
}

/* Exact bytes [start, start+len) against pattern pat (folded under ::i). */
static int cmp_exact(const vctx_t *c, const uint8_t *pat, uint32_t len, uint64_t start)
{
    const uint8_t *d = c->win + (start - c->lo);
    if (!c->nocase)
        return memcmp(d, pat, len) == 0;
    for (uint32_t i = 0; i < len; i++)
        if (lc(d[i]) != lc(pat[i]))
            return 0;
    return 1;
}

static int cmp_masked(const vctx_t *c, const uint8_t *val, const uint8_t *mask, uint32_t len,
                      uint64_t start)
{
    const uint8_t *d = c->win + (start - c->lo);
    for (uint32_t i = 0; i < len; i++) {
        if (c->nocase && mask[i] == 0xff) {
            if (lc(d[i]) != lc(val[i]))
                return 0;
        } else if ((d[i] & mask[i]) != val[i]) {
            return 0;
        }
    }
    return 1;
}

/* Are bytes [start, start+len) all in the window? */
static inline int avail(const vctx_t *c, uint64_t start, uint64_t len)
{
    return start >= c->lo && start <= c->hi && len <= c->hi - start;
}

static int alt_match(const vctx_t *c, const bw_alt_t *a, uint64_t start)
{
    const uint8_t *v = c->db->bytes.v + a->off;
    return cmp_masked(c, v, v + a->len, a->len, start);
}

static void alt_span(const vctx_t *c, const bw_tok_t *t, uint32_t *mn, uint32_t *mx)
{
    const bw_alt_t *a = c->db->alts.v + t->a;
    uint32_t lo = UINT32_MAX, hi = 0;
    for (uint32_t i = 0; i < t->b; i++) {
        lo = a[i].len < lo ? a[i].len : lo;
        hi = a[i].len > hi ? a[i].len : hi;
    }
    *mn = t->b ? lo : 0;
    *mx = hi;
}

static uint32_t tok_min(const vctx_t *c, const bw_tok_t *t)
{
    uint32_t mn, mx;
    switch (t->kind) {
    case BW_TOK_BYTES:
    case BW_TOK_MASKED: return t->b;
    case BW_TOK_GAP: return t->a;
    case BW_TOK_ALT: alt_span(c, t, &mn, &mx); return mn;
    default: return 0;
    }
}

static int is_choice(const vctx_t *c, const bw_tok_t *t)
{
    if (t->kind == BW_TOK_GAP)
        return t->a != t->b;
    if (t->kind == BW_TOK_ALT && !(t->flags & BW_TOKF_NEGATE)) {
        uint32_t mn, mx;
        alt_span(c, t, &mn, &mx);
        return mn != mx;
    }
    return 0;
}

static int class_ok(uint8_t flags, uint8_t ch)
{
    if ((flags & BW_TOKF_B) && (is_alnum(ch) || ch == '_'))
        return 0;
    if ((flags & BW_TOKF_L) && ch != '\n' && ch != '\r')
        return 0;
    if ((flags & BW_TOKF_W) && is_alnum(ch))
        return 0;
    return 1;
}

/* The byte before pos (left) or at pos (right) against a class: 1 or 0,
 * a stream edge counts as in every class, and -1 when the byte is not known
 * (outside the window, or past its end before EOF). */
static int look(const vctx_t *c, uint64_t pos, int left, uint8_t flags)
{
    if (left) {
        if (pos == 0)
            return 1;
        if (pos - 1 < c->lo || pos - 1 >= c->hi)
            return -1;
        return class_ok(flags, at(c, pos - 1));
    }
    if (pos >= c->hi)
        return c->at_eof && pos == c->hi ? 1 : -1;
    if (pos < c->lo)
        return -1;
    return class_ok(flags, at(c, pos));
}

static int boundary_ok(const vctx_t *c, const bw_tok_t *t, uint64_t pos)
{
    int r = look(c, pos, (t->flags & BW_TOKF_LEFT) != 0, t->flags);
    if (r < 0)
        return 0;
    return (t->flags & BW_TOKF_NEGATE) ? !r : r;
}

/* Matches a fixed-width token (anything but a choice) at *pos, moving it. */
static int step_fixed(const vctx_t *c, const bw_tok_t *t, int dir, uint64_t *pos)
{
    uint64_t len, start;
    switch (t->kind) {
    case BW_TOK_BYTES:
    case BW_TOK_MASKED:
    case BW_TOK_GAP:
        len = t->kind == BW_TOK_GAP ? t->a : t->b;
        break;
    case BW_TOK_ALT:
        if (t->b == 0)
            return 0;
        len = c->db->alts.v[t->a].len;
        break;
    case BW_TOK_BOUNDARY:
        return boundary_ok(c, t, *pos);
    default:
        return 0;
    }
    if (dir > 0) {
        start = *pos;
    } else {
        if (*pos < len)
            return 0;
        start = *pos - len;
    }
    if (!avail(c, start, len))
        return 0;
    int ok;
    const uint8_t *pool = c->db->bytes.v;
    switch (t->kind) {
    case BW_TOK_BYTES: ok = cmp_exact(c, pool + t->a, t->b, start); break;
    case BW_TOK_MASKED: ok = cmp_masked(c, pool + t->a, pool + t->a + t->b, t->b, start); break;
    case BW_TOK_GAP: ok = 1; break;
    default: {
        ok = 0;
        for (uint32_t i = 0; i < t->b && !ok; i++)
            ok = alt_match(c, &c->db->alts.v[t->a + i], start);
        if (t->flags & BW_TOKF_NEGATE)
            ok = !ok;
    }
    }
    if (ok)
        *pos = dir > 0 ? start + len : start;
    return ok;
}

static inline uint32_t side_idx(const vctx_t *c, int dir, uint32_t k)
{
    return dir > 0 ? c->anchor + 1 + k : c->anchor - 1 - k;
}

static uint64_t memo_key(const vctx_t *c, int dir, uint32_t k, uint64_t pos)
{
    return ((uint64_t)(dir > 0) << 63) | ((uint64_t)(k & 0x7fffff) << 40) |
           (((pos - c->lo) + 1) & 0xffffffffffull);
}

static inline uint32_t memo_slot(uint64_t key)
{
    return (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> (64 - MEMO_BITS));
}

/* Next choice of the frame's token: the new position, or 0 when exhausted.
 * Smaller consumption first; the bound cuts what cannot beat *best. */
static int next_choice(vctx_t *c, frame_t *f, int dir, int found, uint64_t best, uint64_t *np)
{
    const bw_tok_t *t = &c->t[side_idx(c, dir, f->k)];
    uint32_t m = dir > 0 ? c->ntok - c->anchor - 1 : c->anchor;
    if (t->kind == BW_TOK_GAP) {
        uint64_t rest = f->minrem - t->a; /* what the tokens after the gap need */
        uint64_t g = (uint64_t)t->a + f->choice, gmax = t->b;
        /* the largest gap that still leaves room for the rest (and beats best) */
        if (dir > 0) {
            if (f->pos + rest > c->hi)
                return 0;
            uint64_t room = c->hi - f->pos - rest;
            gmax = gmax < room ? gmax : room;
            if (found) {
                if (best <= f->pos + rest)
                    return 0;
                room = best - f->pos - rest - 1;
                gmax = gmax < room ? gmax : room;
            }
        } else {
            if (f->pos < c->lo + rest)
                return 0;
            uint64_t room = f->pos - c->lo - rest;
            gmax = gmax < room ? gmax : room;
            if (found) {
                if (f->pos <= best + rest)
                    return 0;
                room = f->pos - best - rest - 1;
                gmax = gmax < room ? gmax : room;
            }
        }
        if (g > gmax)
            return 0;
        c->steps++;
        /* Skip straight to candidates when bytes follow the gap: memchr for
         * a literal, else a byte test per position (not counted as a step:
         * it is linear in the gap, while steps bound the backtracking). */
        if (f->k + 1 < m) {
            const bw_tok_t *nt = &c->t[side_idx(c, dir, f->k + 1)];
            if (nt->kind == BW_TOK_BYTES && !c->nocase && nt->b) {
                const uint8_t *pool = c->db->bytes.v + nt->a;
                if (dir > 0) {
                    uint64_t q0 = f->pos + g, q1 = f->pos + gmax;
                    const uint8_t *hit = memchr(c->win + (q0 - c->lo), pool[0], q1 - q0 + 1);
                    if (!hit)
                        return 0;
                    g = (uint64_t)(hit - c->win) + c->lo - f->pos;
                } else {
                    /* candidate q needs byte q-1 == the literal's last byte */
                    uint64_t q0 = f->pos - g, q1 = f->pos - gmax;
                    const uint8_t *hit = memrchr(c->win + (q1 - 1 - c->lo), pool[nt->b - 1],
                                                 q0 - q1 + 1);
                    if (!hit)
                        return 0;
                    g = f->pos - ((uint64_t)(hit - c->win) + c->lo + 1);
                }
            } else if ((nt->kind == BW_TOK_BYTES || nt->kind == BW_TOK_MASKED) && nt->b) {
                uint32_t i = dir > 0 ? 0 : nt->b - 1;
                const uint8_t *v = c->db->bytes.v + nt->a;
                uint8_t want = v[i];
                uint8_t mask = nt->kind == BW_TOK_MASKED ? v[nt->b + i] : 0xff;
                int fold = c->nocase && mask == 0xff;
                if (fold)
                    want = lc(want);
                for (;; g++) {
                    if (g > gmax)
                        return 0;
                    uint8_t d = at(c, dir > 0 ? f->pos + g : f->pos - g - 1);
                    if ((fold ? lc(d) : (uint8_t)(d & mask)) == want)
                        break;
                }
            }
        }
        f->choice = (uint32_t)(g - t->a + 1);
        *np = dir > 0 ? f->pos + g : f->pos - g;
        return 1;
    }
    /* alternatives of differing lengths */
    uint32_t mn, mx;
    alt_span(c, t, &mn, &mx);
    uint64_t rest = f->minrem - mn;
    for (uint32_t j = f->choice; j < t->b; j++) {
        const bw_alt_t *a = &c->db->alts.v[t->a + j];
        c->steps++;
        uint64_t start, end;
        if (dir > 0) {
            start = f->pos;
            end = f->pos + a->len;
            if (!avail(c, start, (uint64_t)a->len + rest) || (found && end + rest >= best))
                continue;
        } else {
            if (f->pos < (uint64_t)a->len + rest)
                continue;
            start = f->pos - a->len;
            end = start;
            if (!avail(c, start - rest, (uint64_t)a->len + rest) || (found && start - rest <= best))
                continue;
        }
        if (alt_match(c, a, start)) {
            f->choice = j + 1;
            *np = end;
            return 1;
        }
    }
    return 0;
}

static int terminal_ok(const vctx_t *c, int dir, uint64_t pos)
{
    if (dir < 0)
        return !c->fw_left || look(c, pos, 1, BW_TOKF_W) == 1;
    return !c->fw_right || look(c, pos, 0, BW_TOKF_W) == 1;
}

/* One side of the anchor: the best start (dir < 0) or end (dir > 0). */
static int side(vctx_t *c, int dir, uint64_t pos, uint64_t *best)
{
    uint32_t m = dir > 0 ? c->ntok - c->anchor - 1 : c->anchor;
    uint64_t minrem = 0;
    for (uint32_t k = 0; k < m; k++)
        minrem += tok_min(c, &c->t[side_idx(c, dir, k)]);
    frame_t st[BW_PART_CHOICES_MAX];
    uint32_t sp = 0, k = 0;
    int found = 0;
    c->steps = 0;
    c->memo_on = 0;
    for (;;) {
        int go = 1;
        if (++c->steps > c->budget)
            return found;
        if (dir > 0 ? (pos > c->hi || minrem > c->hi - pos || (found && pos + minrem >= *best))
                    : (pos < c->lo || minrem > pos - c->lo || (found && pos - minrem <= *best))) {
            go = 0;
        } else if (k == m) {
            if (terminal_ok(c, dir, pos)) {
                *best = pos;
                found = 1;
            }
            go = 0;
        } else {
            const bw_tok_t *t = &c->t[side_idx(c, dir, k)];
            if (is_choice(c, t)) {
                if (!c->memo_on && c->steps > MEMO_AFTER) {
                    memset(c->memo, 0, sizeof c->memo);
                    c->memo_on = 1;
                }
                uint64_t key = memo_key(c, dir, k, pos);
                if (c->memo_on && c->memo[memo_slot(key)] == key)
                    go = 0;
                else if (sp == BW_PART_CHOICES_MAX)
                    return found; /* a part the compiler would not emit */
                else
                    st[sp++] = (frame_t){k, 0, pos, minrem};
                go = 0; /* the new frame's first choice is taken below */
            } else if (step_fixed(c, t, dir, &pos)) {
                minrem -= tok_min(c, t);
                k++;
            } else {
                go = 0;
            }
        }
        if (go)
            continue;
        for (;;) {
            if (sp == 0)
                return found;
            frame_t *f = &st[sp - 1];
            uint64_t np;
            if (c->steps > c->budget)
                return found;
            if (next_choice(c, f, dir, found, found ? *best : 0, &np)) {
                k = f->k + 1;
                pos = np;
                minrem = f->minrem - tok_min(c, &c->t[side_idx(c, dir, f->k)]);
                break;
            }
            if (c->memo_on) {
                uint64_t key = memo_key(c, dir, f->k, f->pos);
                c->memo[memo_slot(key)] = key;
            }
            sp--;
        }
    }
}

int bw_part_verify(const bw_sigdb_t *db, const bw_part_t *p, const uint8_t *win, uint64_t win_off,
                   size_t win_len, uint64_t anchor_start, int at_eof, uint64_t *m_start,
                   uint64_t *m_end)
{
    if (!db || !p || !win || p->tok_count == 0 || p->tok_first > db->toks.n ||
        p->tok_count > db->toks.n - p->tok_first || p->anchor_tok < p->tok_first ||
        p->anchor_tok - p->tok_first >= p->tok_count)
        return 0;
    vctx_t c;
    c.db = db;
    c.t = db->toks.v + p->tok_first;
    c.ntok = p->tok_count;
    c.anchor = p->anchor_tok - p->tok_first;
    c.win = win;
    c.lo = win_off;
    c.hi = win_off + win_len;
    c.at_eof = at_eof;
    c.nocase = (p->flags & BW_PARTF_NOCASE) != 0;
    const bw_tok_t *a = &c.t[c.anchor];
    if (a->kind != BW_TOK_BYTES || !avail(&c, anchor_start, a->b) ||
        !cmp_exact(&c, db->bytes.v + a->a, a->b, anchor_start))
        return 0;
    c.fw_left = (p->flags & BW_PARTF_FULLWORD) && p->index == 0;
    c.fw_right = (p->flags & BW_PARTF_FULLWORD) &&
                 (p->bsig >= db->bsigs.n || p->index + 1 >= db->bsigs.v[p->bsig].part_count);
    c.budget = BW_VERIFY_STEPS_MAX / 2;
    uint64_t s = 0, e = 0;
    if (!side(&c, -1, anchor_start, &s) || !side(&c, 1, anchor_start + a->b, &e))
        return 0;
    *m_start = s;
    *m_end = e;
    return 1;
}
