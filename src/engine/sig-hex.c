/* SPDX-License-Identifier: Apache-2.0 */
/* The ClamAV hex-signature compiler.
 *
 * Two passes.  The first is a plain scanner over the text: it turns the
 * signature into a list of elements, one per matched byte (value + nibble
 * mask, `??` being mask 0), gap construct (`*`, `{..}`, `[x-y]`),
 * alternative group or boundary, and catches every syntax error with the byte
 * offset it happened at.  ::w is applied here (each byte element is followed
 * by an exact 00, gaps double), so nothing later knows about wide strings.
 *
 * The second pass groups elements into tokens and parts.  Runs of exact bytes
 * become one BYTES token (the anchor candidates), runs of nibble-masked bytes
 * one MASKED token, and runs of `??` together with bounded gaps one GAP token
 * (a fixed skip costs the verifier nothing; a MASKED byte with mask 0 would
 * cost a compare per byte).  The signature is cut into parts at unbounded
 * gaps and at bounded ones that would make a part longer than
 * BW_PART_EXTENT_MAX; `??` and bounded gaps right next to a cut are folded
 * into the cut's gap_min/gap_max, so parts start and end on real content.
 *
 * Decisions worth knowing (ClamAV is the reference, where it has a rule):
 *  - A signature may not start or end with a gap construct (`*`, `{}`, `[]`),
 *    ignoring boundaries; `??` at either end is accepted (it is a byte).
 *  - Two gap constructs in a row (`**`, `{2}{3}`, `*{2}`) are an error: ClamAV
 *    would make an empty subpattern of the space between them.  `{2}??{3}` is
 *    fine and becomes one gap.
 *  - `(aabb)`, a group with a single alternative, is the same as `aabb`.
 *  - Groups do not nest: ClamAV 0.99 allows nested generic alternatives,
 *    so such a signature is DECLINED (counted as unsupported), not an error.
 *    Boundaries are not allowed inside a group.
 *  - `!(..)` needs alternatives of equal length L and matches any L bytes
 *    equal to none of them (under ::w, L counts the inserted 00 bytes).
 *  - `[x-y]` (ClamAV's single-byte-side range) is accepted as `{x-y}`.
 *  - Boundaries follow ClamAV, which only treats them as look-arounds at the
 *    ends of a subpattern: `(B)`, `(L)`, `(W)` and their negations `!(B)`..
 *    next to the signature's end or a gap construct test the byte after
 *    them; next to its start or a gap construct, the byte before them
 *    (BW_TOKF_LEFT); between two bytes they are a one-byte class that
 *    consumes its byte (`6a(W)6a` matches "j&j").  Classes: (B) a byte not
 *    in [A-Za-z0-9_], (L) \n or \r (as a class: \n or \r\n), (W) a
 *    non-alphanumeric byte.  ClamAV's (B) uses a fixed table of punctuation
 *    instead; we use the simpler rule of the engine's contract.
 *  - A part may hold at most BW_PART_CHOICES_MAX variable-width elements
 *    (range gaps and alternatives of differing lengths); more is DECLINED:
 *    the verifier's backtracking stack is fixed-size and lives on the stack.
 *  - max_before/max_after include one byte of look-around when the part
 *    starts/ends with a boundary or (::f) is the signature's first/last part:
 *    the caller sizes its window from them.
 */
#include "sig-hex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EL_BYTE = 1, EL_GAP, EL_ALT, EL_BOUND };

typedef struct el {
    uint8_t kind;
    uint8_t v, m;       /* EL_BYTE: value (pre-masked) and mask */
    uint8_t flags;      /* EL_BOUND: BW_TOKF_B/L/W; EL_ALT: BW_TOKF_NEGATE */
    uint32_t src;       /* byte offset in the hex text, for messages */
    uint32_t a, b;      /* EL_GAP: min, max (BW_GAP_INF); EL_ALT: first alt, count */
} el_t;

typedef BW_VEC(el_t) els_t;

typedef struct hexc {
    bw_sigdb_t *db;
    const char *hex;
    size_t len;
    int wide;
    uint32_t part_flags;
    bw_err_t *err;
    els_t els;
    uint8_t *sv, *sm;           /* scratch: one group's alternative values/masks */
    BW_VEC(uint32_t) alens;     /* scratch: one group's alternative lengths */
} hexc_t;

static int is_syntax(int c)
{
    return c == '*' || c == '{' || c == '}' || c == '(' || c == ')' || c == '|' || c == '!' ||
           c == '[' || c == ']';
}

static int bad_char(hexc_t *h, size_t i)
{
    unsigned char c = (unsigned char)h->hex[i];
    if (c > 0x20 && c < 0x7f)
        return bw_err_set(h->err, "byte %zu: bad character '%c'", i, c);
    return bw_err_set(h->err, "byte %zu: bad character 0x%02x", i, c);
}

static int oom(hexc_t *h)
{
    return bw_err_set(h->err, "out of memory");
}

/* One byte from two characters at i: hex digits or `?` nibbles. */
static int parse_pair(hexc_t *h, size_t i, uint8_t *v, uint8_t *m)
{
    int c1 = (unsigned char)h->hex[i];
    if (i + 1 >= h->len)
        return bw_err_set(h->err, "byte %zu: odd number of hex digits", i);
    int c2 = (unsigned char)h->hex[i + 1];
    int x1 = bw_hexval(c1), x2 = bw_hexval(c2);
    if (x1 < 0 && c1 != '?')
        return bad_char(h, i);
    if (x2 < 0 && c2 != '?') {
        if (is_syntax(c2))
            return bw_err_set(h->err, "byte %zu: odd number of hex digits", i);
        return bad_char(h, i + 1);
    }
    *m = (uint8_t)((x1 >= 0 ? 0xf0 : 0) | (x2 >= 0 ? 0x0f : 0));
    *v = (uint8_t)(((x1 >= 0 ? x1 : 0) << 4) | (x2 >= 0 ? x2 : 0));
    return BW_OK;
}

static int push_el(hexc_t *h, el_t e)
{
    return bw_vec_push(&h->els, e) ? oom(h) : BW_OK;
}

static int push_byte(hexc_t *h, uint8_t v, uint8_t m, size_t src)
{
    if (push_el(h, (el_t){.kind = EL_BYTE, .v = v, .m = m, .src = (uint32_t)src}))
        return BW_ERR;
    if (h->wide && push_el(h, (el_t){.kind = EL_BYTE, .v = 0, .m = 0xff, .src = (uint32_t)src}))
        return BW_ERR;
    return BW_OK;
}

/* A decimal number at *i (advanced); below BW_GAP_INF, which is taken. */
static int parse_num(hexc_t *h, size_t *i, uint32_t *out)
{
    size_t s = *i;
    uint64_t v = 0;
    while (*i < h->len && h->hex[*i] >= '0' && h->hex[*i] <= '9') {
        v = v * 10 + (uint64_t)(h->hex[*i] - '0');
        if (v >= BW_GAP_INF)
            return bw_err_set(h->err, "byte %zu: number overflow", s);
        (*i)++;
    }
    if (*i == s)
        return bw_err_set(h->err, "byte %zu: number expected", s);
    *out = (uint32_t)v;
    return BW_OK;
}

/* `{n}` `{-n}` `{n-}` `{n-m}`, or `[x-y]` when close is ']'.  *i is at the
 * opening bracket and ends after the closing one. */
static int parse_range(hexc_t *h, size_t *i, char close, uint32_t *lo, uint32_t *hi)
{
    size_t open = *i;
    size_t j = open + 1;
    uint32_t a = 0, b = 0;
    int have_a = 0, dash = 0, have_b = 0;
    if (j < h->len && h->hex[j] >= '0' && h->hex[j] <= '9') {
        if (parse_num(h, &j, &a))
            return BW_ERR;
        have_a = 1;
    }
    if (j < h->len && h->hex[j] == '-') {
        dash = 1;
        j++;
        if (j < h->len && h->hex[j] >= '0' && h->hex[j] <= '9') {
            if (parse_num(h, &j, &b))
                return BW_ERR;
            have_b = 1;
        }
    }
    if (j >= h->len)
        return bw_err_set(h->err, "byte %zu: unterminated '%c'", open, h->hex[open]);
    if (h->hex[j] != close) {
        if (is_syntax((unsigned char)h->hex[j]) || (h->hex[j] >= '0' && h->hex[j] <= '9'))
            return bw_err_set(h->err, "byte %zu: malformed range", j);
        return bad_char(h, j);
    }
    if (!have_a && !have_b)
        return bw_err_set(h->err, "byte %zu: empty range", open);
    if (close == ']' && !(have_a && dash && have_b))
        return bw_err_set(h->err, "byte %zu: [x-y] needs both bounds", open);
    if (!dash) {
        *lo = *hi = a;
    } else if (!have_a) {
        *lo = 0;
        *hi = b;
    } else if (!have_b) {
        *lo = a;
        *hi = BW_GAP_INF;
    } else {
        if (b < a)
            return bw_err_set(h->err, "byte %zu: range {%u-%u} has its upper bound below the lower",
                              open, a, b);
        *lo = a;
        *hi = b;
    }
    if (h->wide) {
        if (*lo > (BW_GAP_INF - 1) / 2 || (*hi != BW_GAP_INF && *hi > (BW_GAP_INF - 1) / 2))
            return bw_err_set(h->err, "byte %zu: number overflow (wide range)", open);
        *lo *= 2;
        if (*hi != BW_GAP_INF)
            *hi *= 2;
    }
    *i = j + 1;
    return BW_OK;
}

/* `(aa|bb..)` or `!(..)`: *i at '('; ends after ')'. */
static int parse_group(hexc_t *h, size_t *i, int negate, size_t src)
{
    bw_sigdb_t *db = h->db;
    size_t open = *i;
    size_t j = open + 1, nb = 0, alt_start = j;
    h->alens.n = 0;
    uint32_t cur = 0;
    for (;;) {
        if (j >= h->len)
            return bw_err_set(h->err, "byte %zu: unbalanced parenthesis", open);
        char c = h->hex[j];
        if (c == '|' || c == ')') {
            if (cur == 0)
                return bw_err_set(h->err, "byte %zu: empty alternative", alt_start);
            if (bw_vec_push(&h->alens, cur))
                return oom(h);
            cur = 0;
            j++;
            alt_start = j;
            if (c == ')')
                break;
            continue;
        }
        if (c == '(') {
            /* ClamAV 0.99+ nests generic alternatives; we do not (yet) */
            bw_err_set(h->err, "byte %zu: nested alternatives are not supported", j);
            return BW_DECLINED;
        }
        if (c == '*' || c == '{' || c == '[' || c == '!')
            return bw_err_set(h->err, "byte %zu: '%c' is not allowed inside alternatives", j, c);
        uint8_t v, m;
        if (parse_pair(h, j, &v, &m))
            return BW_ERR;
        h->sv[nb] = v;
        h->sm[nb++] = m;
        cur++;
        if (h->wide) {
            h->sv[nb] = 0;
            h->sm[nb++] = 0xff;
            cur++;
        }
        j += 2;
    }
    *i = j;
    size_t na = h->alens.n;
    if (negate) {
        for (size_t k = 1; k < na; k++)
            if (h->alens.v[k] != h->alens.v[0])
                return bw_err_set(h->err, "byte %zu: negated alternatives of different lengths",
                                  open);
    } else if (na == 1) {
        /* (aabb) is just aabb; already widened, so no push_byte here */
        for (size_t k = 0; k < nb; k++)
            if (push_el(h, (el_t){.kind = EL_BYTE, .v = h->sv[k], .m = h->sm[k],
                                  .src = (uint32_t)src}))
                return BW_ERR;
        return BW_OK;
    }
    /* Shorter alternatives first (stable): the verifier tries them in this
     * order, which finds the earliest end / latest start first. */
    uint32_t first = (uint32_t)db->alts.n;
    if (bw_vec_reserve(&db->alts, na) || bw_vec_reserve(&db->bytes, 2 * nb))
        return oom(h);
    size_t off = 0;
    for (size_t k = 0; k < na; k++) {
        uint32_t l = h->alens.v[k];
        bw_alt_t a = {(uint32_t)db->bytes.n, l};
        memcpy(db->bytes.v + db->bytes.n, h->sv + off, l);
        memcpy(db->bytes.v + db->bytes.n + l, h->sm + off, l);
        db->bytes.n += 2 * (size_t)l;
        off += l;
        size_t pos = db->alts.n;
        while (pos > first && db->alts.v[pos - 1].len > l) {
            db->alts.v[pos] = db->alts.v[pos - 1];
            pos--;
        }
        db->alts.v[pos] = a;
        db->alts.n++;
    }
    return push_el(h, (el_t){.kind = EL_ALT, .flags = negate ? BW_TOKF_NEGATE : 0,
                             .src = (uint32_t)src, .a = first, .b = (uint32_t)na});
}

static int is_gap_construct(const el_t *e)
{
    return e->kind == EL_GAP;
}

/* `(B)`, `(L)` or `(W)` at i: its BW_TOKF_ class, else 0. */
static uint8_t bound_at(const hexc_t *h, size_t i)
{
    if (i + 2 >= h->len || h->hex[i] != '(' || h->hex[i + 2] != ')')
        return 0;
    switch (h->hex[i + 1]) {
    case 'B': return BW_TOKF_B;
    case 'L': return BW_TOKF_L;
    case 'W': return BW_TOKF_W;
    default: return 0;
    }
}

/* Appends one alternative (len bytes, exact) to the pool and alts. */
static int add_alt(hexc_t *h, const uint8_t *v, uint32_t len)
{
    bw_sigdb_t *db = h->db;
    if (bw_vec_reserve(&db->bytes, 2 * (size_t)len) || bw_vec_push(&db->alts, (bw_alt_t){
                                                               (uint32_t)db->bytes.n, len}))
        return oom(h);
    memcpy(db->bytes.v + db->bytes.n, v, len);
    memset(db->bytes.v + db->bytes.n + len, 0xff, len);
    db->bytes.n += 2 * (size_t)len;
    return BW_OK;
}

/* A boundary between two bytes of one subpattern is, as in ClamAV, a
 * one-byte class that consumes its byte: (W) a non-alphanumeric byte, (B)
 * a byte outside [A-Za-z0-9_], (L) \n or \r\n; `!` takes the complement
 * ((L): any byte but \r and \n).  Built from alternatives; under ::w the
 * class byte is followed by 00 like any other. */
static int push_class(hexc_t *h, const el_t *b, els_t *out)
{
    uint32_t first = (uint32_t)h->db->alts.n;
    int neg = (b->flags & BW_TOKF_NEGATE) != 0;
    uint8_t ch;
    el_t e = {.kind = EL_ALT, .src = b->src, .a = first};
    if (b->flags & BW_TOKF_L) {
        static const uint8_t lf = '\n', crlf[2] = {'\r', '\n'}, wcrlf[4] = {'\r', 0, '\n', 0};
        uint8_t cr = '\r';
        if (add_alt(h, &lf, 1) || add_alt(h, neg ? &cr : h->wide ? wcrlf : crlf,
                                           neg ? 1 : h->wide ? 3 : 2))
            return BW_ERR;
        e.b = 2;
        e.flags = neg ? BW_TOKF_NEGATE : 0;
    } else {
        for (int c = 0; c < 256; c++) {
            ch = (uint8_t)c;
            int alnum = (ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z');
            if ((alnum || ((b->flags & BW_TOKF_B) && ch == '_')) && add_alt(h, &ch, 1))
                return BW_ERR;
        }
        e.b = (uint32_t)h->db->alts.n - first;
        e.flags = neg ? 0 : BW_TOKF_NEGATE; /* the class is the complement of the set */
    }
    if (bw_vec_push(out, e))
        return oom(h);
    if (h->wide && bw_vec_push(out, ((el_t){.kind = EL_BYTE, .v = 0, .m = 0xff, .src = b->src})))
        return oom(h);
    return BW_OK;
}

/* Gives every boundary its meaning, as ClamAV does: next to the signature's
 * end or a gap construct it looks at the byte after it; next to the start
 * or a gap construct (and not the end) at the byte before it (BW_TOKF_LEFT);
 * between two bytes it is a consuming class (push_class). */
static int resolve_bounds(hexc_t *h)
{
    els_t out = {0};
    size_t n = h->els.n;
    for (size_t k = 0; k < n; k++) {
        el_t e = h->els.v[k];
        if (e.kind != EL_BOUND) {
            if (bw_vec_push(&out, e))
                goto fail_oom;
            continue;
        }
        size_t p = k, q = k + 1;
        while (p > 0 && h->els.v[p - 1].kind == EL_BOUND)
            p--;
        while (q < n && h->els.v[q].kind == EL_BOUND)
            q++;
        int left_edge = p == 0 || is_gap_construct(&h->els.v[p - 1]);
        int right_edge = q == n || is_gap_construct(&h->els.v[q]);
        if (right_edge || left_edge) {
            if (!right_edge)
                e.flags |= BW_TOKF_LEFT;
            if (bw_vec_push(&out, e))
                goto fail_oom;
        } else if (push_class(h, &e, &out)) {
            free(out.v);
            return BW_ERR;
        }
    }
    free(h->els.v);
    h->els = out;
    return BW_OK;
fail_oom:
    free(out.v);
    return oom(h);
}

/* Pass 1: text to elements. */
static int scan_text(hexc_t *h)
{
    size_t i = 0;
    int rc;
    while (i < h->len) {
        char c = h->hex[i];
        size_t src = i;
        int gapc = 0;
        if (c == '*') {
            if (push_el(h, (el_t){.kind = EL_GAP, .src = (uint32_t)i, .a = 0, .b = BW_GAP_INF}))
                return BW_ERR;
            i++;
            gapc = 1;
        } else if (c == '{' || c == '[') {
            uint32_t lo = 0, hi = 0;
            if (parse_range(h, &i, c == '{' ? '}' : ']', &lo, &hi))
                return BW_ERR;
            if (push_el(h, (el_t){.kind = EL_GAP, .src = (uint32_t)src, .a = lo, .b = hi}))
                return BW_ERR;
            gapc = 1;
        } else if (c == '(') {
            uint8_t f = bound_at(h, i);
            if (f) {
                if (push_el(h, (el_t){.kind = EL_BOUND, .flags = f, .src = (uint32_t)i}))
                    return BW_ERR;
                i += 3;
            } else if ((rc = parse_group(h, &i, 0, src))) {
                return rc;
            }
        } else if (c == '!') {
            if (i + 1 >= h->len || h->hex[i + 1] != '(')
                return bw_err_set(h->err, "byte %zu: '!' must be followed by '('", i);
            i++;
            uint8_t f = bound_at(h, i);
            if (f) {
                if (push_el(h, (el_t){.kind = EL_BOUND, .flags = f | BW_TOKF_NEGATE,
                                      .src = (uint32_t)src}))
                    return BW_ERR;
                i += 3;
                continue;
            }
            if ((rc = parse_group(h, &i, 1, src)))
                return rc;
        } else if (c == ')') {
            return bw_err_set(h->err, "byte %zu: unbalanced parenthesis", i);
        } else if (c == '}' || c == ']') {
            return bw_err_set(h->err, "byte %zu: unbalanced '%c'", i, c);
        } else if (c == '|') {
            return bw_err_set(h->err, "byte %zu: '|' outside alternatives", i);
        } else {
            uint8_t v, m;
            if (parse_pair(h, i, &v, &m) || push_byte(h, v, m, i))
                return BW_ERR;
            i += 2;
        }
        if (gapc && h->els.n >= 2 && is_gap_construct(&h->els.v[h->els.n - 2]))
            return bw_err_set(h->err, "byte %zu: two gaps in a row", src);
    }
    /* Whole-signature rules: something to match, no gap at either end. */
    size_t first = SIZE_MAX, last = SIZE_MAX;
    for (size_t k = 0; k < h->els.n; k++) {
        if (h->els.v[k].kind != EL_BOUND) {
            if (first == SIZE_MAX)
                first = k;
            last = k;
        }
    }
    if (first == SIZE_MAX)
        return bw_err_set(h->err, "byte 0: empty signature");
    if (is_gap_construct(&h->els.v[first]))
        return bw_err_set(h->err, "byte %u: signature starts with a gap", h->els.v[first].src);
    if (is_gap_construct(&h->els.v[last]))
        return bw_err_set(h->err, "byte %u: signature ends with a gap", h->els.v[last].src);
    return resolve_bounds(h);
}

/* ---- pass 2: elements to tokens and parts --------------------------------- */

typedef struct pbuild {
    uint32_t tok_first;
    uint32_t src;           /* text offset of the part's first element */
    uint64_t ext_max;       /* sum of token max lengths so far */
    uint64_t gap_min, gap_max; /* from the previous part; gap_max may be BW_GAP_INF */
    uint32_t index;
} pbuild_t;

static void tok_len(const bw_sigdb_t *db, const bw_tok_t *t, uint64_t *mn, uint64_t *mx)
{
    switch (t->kind) {
    case BW_TOK_BYTES:
    case BW_TOK_MASKED:
        *mn = *mx = t->b;
        return;
    case BW_TOK_GAP:
        *mn = t->a;
        *mx = t->b;
        return;
    case BW_TOK_ALT: {
        uint32_t lo = UINT32_MAX, hi = 0;
        for (uint32_t k = 0; k < t->b; k++) {
            uint32_t l = db->alts.v[t->a + k].len;
            lo = l < lo ? l : lo;
            hi = l > hi ? l : hi;
        }
        *mn = lo;
        *mx = hi;
        return;
    }
    default:
        *mn = *mx = 0;
    }
}

static int tok_is_choice(const bw_sigdb_t *db, const bw_tok_t *t)
{
    if (t->kind == BW_TOK_GAP)
        return t->a != t->b;
    if (t->kind == BW_TOK_ALT && !(t->flags & BW_TOKF_NEGATE)) {
        uint64_t mn, mx;
        tok_len(db, t, &mn, &mx);
        return mn != mx;
    }
    return 0;
}

static int push_tok(hexc_t *h, pbuild_t *pb, bw_tok_t t)
{
    uint64_t mn, mx;
    if (bw_vec_push(&h->db->toks, t))
        return oom(h);
    tok_len(h->db, &t, &mn, &mx);
    pb->ext_max += mx;
    return BW_OK;
}

/* How many bytes of a BYTES token are not 00/FF: breaks ties between anchor
 * candidates of equal length in favour of the more selective one. */
static unsigned rarity(const bw_sigdb_t *db, const bw_tok_t *t)
{
    unsigned r = 0;
    for (uint32_t k = 0; k < t->b; k++) {
        uint8_t c = db->bytes.v[t->a + k];
        r += c != 0x00 && c != 0xff;
    }
    return r;
}

/* Closes the part being built: picks its anchor and measures it. */
static int close_part(hexc_t *h, pbuild_t *pb)
{
    bw_sigdb_t *db = h->db;
    uint32_t n = (uint32_t)db->toks.n - pb->tok_first;
    if (n == 0)
        return bw_err_set(h->err, "byte %u: empty part", pb->src);
    if (pb->gap_min >= BW_GAP_INF || (pb->gap_max != BW_GAP_INF && pb->gap_max >= BW_GAP_INF))
        return bw_err_set(h->err, "byte %u: gap too large", pb->src);
    uint32_t best = UINT32_MAX, choices = 0;
    for (uint32_t k = pb->tok_first; k < pb->tok_first + n; k++) {
        const bw_tok_t *t = &db->toks.v[k];
        choices += tok_is_choice(db, t);
        if (t->kind != BW_TOK_BYTES)
            continue;
        if (best == UINT32_MAX || t->b > db->toks.v[best].b ||
            (t->b == db->toks.v[best].b && rarity(db, t) > rarity(db, &db->toks.v[best])))
            best = k;
    }
    if (best == UINT32_MAX || db->toks.v[best].b < BW_ANCHOR_MIN) {
        bw_err_set(h->err, "byte %u: part %u has no run of %d exact bytes to anchor on", pb->src,
                   pb->index, BW_ANCHOR_MIN);
        return BW_DECLINED;
    }
    if (choices > BW_PART_CHOICES_MAX) {
        bw_err_set(h->err, "byte %u: part %u has %u variable-length elements (limit %d)",
                   pb->src, pb->index, choices, BW_PART_CHOICES_MAX);
        return BW_DECLINED;
    }
    if (pb->ext_max > BW_PART_EXTENT_MAX) {
        bw_err_set(h->err, "byte %u: part %u spans up to %llu bytes (limit %u)", pb->src,
                   pb->index, (unsigned long long)pb->ext_max, BW_PART_EXTENT_MAX);
        return BW_DECLINED;
    }
    bw_part_t p = {0};
    p.bsig = (uint32_t)db->bsigs.n;
    p.tok_first = pb->tok_first;
    p.tok_count = n;
    p.anchor_tok = best;
    uint64_t mn, mx, s[4] = {0, 0, 0, 0};
    for (uint32_t k = pb->tok_first; k < pb->tok_first + n; k++) {
        if (k == best)
            continue;
        tok_len(db, &db->toks.v[k], &mn, &mx);
        s[k < best ? 0 : 2] += mn;
        s[k < best ? 1 : 3] += mx;
    }
    p.min_before = (uint32_t)s[0];
    p.max_before = (uint32_t)s[1];
    p.min_after = (uint32_t)s[2];
    p.max_after = (uint32_t)s[3];
    p.gap_min = (uint32_t)pb->gap_min;
    p.gap_max = (uint32_t)pb->gap_max;
    p.flags = h->part_flags;
    p.index = pb->index;
    if (bw_vec_push(&db->parts, p))
        return oom(h);
    return BW_OK;
}

/* Pass 2.  A "gap run" gathers `??` bytes and bounded gaps into pend_*, which
 * becomes a GAP token, or joins the gap before the part when the part has
 * no token yet (then it lies between two parts). */
static int build(hexc_t *h)
{
    bw_sigdb_t *db = h->db;
    const el_t *e = h->els.v;
    size_t n = h->els.n;
    pbuild_t pb = {.tok_first = (uint32_t)db->toks.n, .src = n ? e[0].src : 0};
    uint64_t pend_a = 0, pend_b = 0;
    int rc;
    for (size_t i = 0; i < n;) {
        int gaplike = e[i].kind == EL_GAP || (e[i].kind == EL_BYTE && e[i].m == 0);
        if (gaplike) {
            uint64_t ga = e[i].kind == EL_GAP ? e[i].a : 1;
            uint64_t gb = e[i].kind == EL_GAP ? e[i].b : 1;
            int has_tok = db->toks.n > pb.tok_first;
            int split = gb == BW_GAP_INF ||
                        (has_tok && pb.ext_max + pend_b + gb > BW_PART_EXTENT_MAX);
            if (split && has_tok) {
                if ((rc = close_part(h, &pb)))
                    return rc;
                pb = (pbuild_t){.tok_first = (uint32_t)db->toks.n, .src = e[i].src,
                                .gap_min = pend_a + ga,
                                .gap_max = gb == BW_GAP_INF ? BW_GAP_INF : pend_b + gb,
                                .index = pb.index + 1};
                pend_a = pend_b = 0;
            } else if (split && pb.index > 0) {
                /* `*??*`: the part between the two cuts is empty */
                pb.gap_min += pend_a + ga;
                pb.gap_max = BW_GAP_INF;
                pend_a = pend_b = 0;
            } else if (split) {
                /* only `??` can come before an unbounded gap in part 0 */
                return bw_err_set(h->err, "byte %u: signature starts with a gap", e[i].src);
            } else {
                pend_a += ga;
                pend_b += gb;
                if (pend_b >= BW_GAP_INF)
                    return bw_err_set(h->err, "byte %u: gap too large", e[i].src);
            }
            i++;
            continue;
        }
        if (pend_b) {
            /* a part's leading gap joins the gap before the part */
            if (db->toks.n == pb.tok_first && pb.index > 0) {
                pb.gap_min += pend_a;
                if (pb.gap_max != BW_GAP_INF)
                    pb.gap_max += pend_b;
            } else if ((rc = push_tok(h, &pb, (bw_tok_t){.kind = BW_TOK_GAP,
                                                          .a = (uint32_t)pend_a,
                                                          .b = (uint32_t)pend_b}))) {
                return rc;
            }
            pend_a = pend_b = 0;
        }
        if (db->toks.n == pb.tok_first)
            pb.src = e[i].src;
        if (e[i].kind == EL_BYTE) {
            /* a run of exact bytes, or of partially masked ones */
            int exact = e[i].m == 0xff;
            size_t j = i;
            while (j < n && e[j].kind == EL_BYTE && e[j].m != 0 && (e[j].m == 0xff) == exact)
                j++;
            uint32_t cnt = (uint32_t)(j - i);
            if (bw_vec_reserve(&db->bytes, (size_t)cnt * (exact ? 1 : 2)))
                return oom(h);
            uint32_t off = (uint32_t)db->bytes.n;
            for (size_t k = i; k < j; k++)
                db->bytes.v[db->bytes.n++] = e[k].v;
            if (!exact)
                for (size_t k = i; k < j; k++)
                    db->bytes.v[db->bytes.n++] = e[k].m;
            if ((rc = push_tok(h, &pb, (bw_tok_t){.kind = exact ? BW_TOK_BYTES : BW_TOK_MASKED,
                                                  .a = off, .b = cnt})))
                return rc;
            i = j;
        } else if (e[i].kind == EL_ALT) {
            if ((rc = push_tok(h, &pb, (bw_tok_t){.kind = BW_TOK_ALT, .flags = e[i].flags,
                                                  .a = e[i].a, .b = e[i].b})))
                return rc;
            i++;
        } else {
            if ((rc = push_tok(h, &pb, (bw_tok_t){.kind = BW_TOK_BOUNDARY, .flags = e[i].flags})))
                return rc;
            i++;
        }
    }
    if (pend_b) {
        if (db->toks.n == pb.tok_first && pb.index > 0)
            return bw_err_set(h->err, "byte %u: signature ends with a gap", pb.src);
        if ((rc = push_tok(h, &pb, (bw_tok_t){.kind = BW_TOK_GAP, .a = (uint32_t)pend_a,
                                              .b = (uint32_t)pend_b})))
            return rc;
    }
    if (db->toks.n == pb.tok_first)
        return bw_err_set(h->err, "byte %u: signature ends with a gap", pb.src);
    return close_part(h, &pb);
}

/* Adds the look-around byte of boundaries and ::f, and the extents. */
static void finish_parts(bw_sigdb_t *db, size_t first, uint32_t part_flags)
{
    size_t n = db->parts.n - first;
    for (size_t k = 0; k < n; k++) {
        bw_part_t *p = &db->parts.v[first + k];
        const bw_tok_t *t = &db->toks.v[p->tok_first];
        if ((t[0].kind == BW_TOK_BOUNDARY && (t[0].flags & BW_TOKF_LEFT)) ||
            ((part_flags & BW_PARTF_FULLWORD) && k == 0))
            p->max_before++;
        if ((t[p->tok_count - 1].kind == BW_TOK_BOUNDARY &&
             !(t[p->tok_count - 1].flags & BW_TOKF_LEFT)) ||
            ((part_flags & BW_PARTF_FULLWORD) && k + 1 == n))
            p->max_after++;
        uint64_t ext = (uint64_t)p->max_before + db->toks.v[p->anchor_tok].b + p->max_after;
        if (ext > db->max_part_extent)
            db->max_part_extent = (uint32_t)ext;
    }
}

int bw_hex_compile(bw_sigdb_t *db, const char *hex, size_t len, uint32_t part_flags, int wide,
                   uint32_t *bsig_index, bw_err_t *err)
{
    size_t o_toks = db->toks.n, o_alts = db->alts.n, o_bytes = db->bytes.n,
           o_parts = db->parts.n, o_bsigs = db->bsigs.n;
    hexc_t h = {.db = db, .hex = hex, .len = len, .wide = wide, .part_flags = part_flags,
                .err = err};
    int rc;
    if (len == 0) {
        rc = bw_err_set(err, "byte 0: empty signature");
        goto out;
    }
    if (len > UINT32_MAX / 4) {
        rc = bw_err_set(err, "byte 0: signature too long (%zu characters)", len);
        goto out;
    }
    h.sv = malloc(len + 2);
    h.sm = malloc(len + 2);
    if (!h.sv || !h.sm) {
        rc = oom(&h);
        goto out;
    }
    if ((rc = scan_text(&h)) || (rc = build(&h)))
        goto out;
    bw_bsig_t b = {0};
    b.part_first = (uint32_t)o_parts;
    b.part_count = (uint32_t)(db->parts.n - o_parts);
    b.off_kind = BW_OFF_ANY;
    if (bw_vec_push(&db->bsigs, b)) {
        rc = oom(&h);
        goto out;
    }
    finish_parts(db, o_parts, part_flags);
    if (bsig_index)
        *bsig_index = (uint32_t)o_bsigs;
out:
    if (rc != BW_OK) {
        db->toks.n = o_toks;
        db->alts.n = o_alts;
        db->bytes.n = o_bytes;
        db->parts.n = o_parts;
        db->bsigs.n = o_bsigs;
    }
    free(h.sv);
    free(h.sm);
    free(h.els.v);
    free(h.alens.v);
    return rc;
}
