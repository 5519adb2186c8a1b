/* SPDX-License-Identifier: Apache-2.0 */
/* The multipart/form-data splitter: see multipart.h for the contract.
 *
 * Design: one state per region of the body (preamble, part headers, part
 * data, the close-delimiter line, epilogue, and RAW after an error).  Data
 * regions are scanned with memchr for LF, the only byte a delimiter can start
 * with; from there "--boundary" is matched byte by byte, so the match state is
 * a count (k) and never needs the input again.  Because a boundary holds no
 * CR or LF, a failed match can only restart at the byte that broke it: the
 * held bytes are flushed as data (rebuilt from the pattern, the pad buffer and
 * a few constants) and that byte is looked at afresh.  Every loop consumes a
 * byte or changes to a state that will, so the work is linear in the input.
 */
#include "icap/multipart.h"

#include <string.h>

#include "bulwark/bulwark.h"
#include "core/chars.h"

enum { ST_PREAMBLE = 0, ST_HEADERS, ST_DATA, ST_CLOSE_LINE, ST_EPILOGUE, ST_RAW };

/* One feed's context: the callback and where this feed starts in the body. */
typedef struct run {
    bw_mp_t *m;
    bw_mp_cb cb;
    void *ud;
} run_t;

static int emit(run_t *r, bw_mp_event_t *ev)
{
    if (r->m->stopped)
        return -1;
    if (r->cb(r->ud, ev)) {
        r->m->stopped = 1;
        return -1;
    }
    return 0;
}

static int open_part(run_t *r, bw_mp_kind_t kind, uint64_t off, const char *head, size_t head_len)
{
    bw_mp_t *m = r->m;
    /* A real part's headers were parsed (in part) while its block came in. */
    if (kind != BW_MP_KIND_PART)
        memset(&m->part, 0, sizeof(m->part));
    m->part.size = 0;
    m->part.kind = kind;
    m->part.index = kind == BW_MP_KIND_PART ? m->nparts++ : m->nparts;
    m->part.offset = off;
    m->part.head = head;
    m->part.head_len = head_len;
    m->part_open = 1;
    return 0;
}

static int begin_event(run_t *r)
{
    bw_mp_event_t ev = {.type = BW_MP_PART_BEGIN, .part = &r->m->part};
    int rc = emit(r, &ev);
    r->m->part.head = NULL; /* the header block is only valid during BEGIN */
    r->m->part.head_len = 0;
    return rc;
}

static int end_part(run_t *r, int truncated)
{
    bw_mp_t *m = r->m;
    if (!m->part_open)
        return 0;
    m->part_open = 0;
    bw_mp_event_t ev = {.type = BW_MP_PART_END, .part = &m->part, .truncated = truncated};
    return emit(r, &ev);
}

/* Data of the current region; pseudo-parts open on their first byte so that
 * an empty preamble or epilogue makes no events at all. */
static int emit_data(run_t *r, const char *p, size_t n, uint64_t off)
{
    bw_mp_t *m = r->m;
    if (n == 0)
        return 0;
    if (!m->part_open) {
        bw_mp_kind_t kind = m->state == ST_PREAMBLE ? BW_MP_KIND_PREAMBLE
                            : m->state == ST_EPILOGUE ? BW_MP_KIND_EPILOGUE
                                                      : BW_MP_KIND_RAW;
        open_part(r, kind, off, NULL, 0);
        if (begin_event(r) < 0)
            return -1;
    }
    m->part.size += n;
    bw_mp_event_t ev = {.type = BW_MP_PART_DATA, .part = &m->part, .data = p, .len = n,
                        .offset = off};
    return emit(r, &ev);
}

static void reset_match(bw_mp_t *m)
{
    m->k = 0;
    m->cr = m->virt = m->after = 0;
    m->npad = 0;
}

/* Held padding, rebuilt from its runs. */
static int emit_pad(run_t *r, const void *runs, size_t nruns, uint64_t off)
{
    static const char sp[64] = "                                                                ";
    static const char tb[64] = "\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t"
                               "\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t";
    const struct { char c; uint32_t n; } *run = runs;
    for (size_t i = 0; i < nruns; i++) {
        uint32_t left = run[i].n;
        while (left) {
            size_t k = left < 64 ? left : 64;
            if (emit_data(r, run[i].c == ' ' ? sp : tb, k, off) < 0)
                return -1;
            off += k;
            left -= (uint32_t)k;
        }
    }
    return 0;
}

static uint64_t pad_len(const bw_mp_t *m)
{
    uint64_t n = 0;
    for (size_t i = 0; i < m->npad; i++)
        n += m->pad[i].n;
    return n;
}

/* Adds a blank to the held padding; 0 when there are too many runs (the
 * line is then not taken for a delimiter). */
static int add_pad(bw_mp_t *m, char c)
{
    if (m->npad && m->pad[m->npad - 1].c == c && m->pad[m->npad - 1].n < UINT32_MAX) {
        m->pad[m->npad - 1].n++;
        return 1;
    }
    if (m->npad == BW_MP_PAD_RUNS)
        return 0;
    m->pad[m->npad].c = c;
    m->pad[m->npad++].n = 1;
    return 1;
}

/* A would-be delimiter turned out to be data: hand the held bytes over.
 * They are pat[s .. 1+k) (CR, LF, "--", boundary prefix; the virtual ones
 * left out), then what followed a full boundary. */
static int flush_held(run_t *r)
{
    bw_mp_t *m = r->m;
    size_t s = m->virt ? 2 : m->cr ? 0 : 1;
    size_t n = 1 + m->k > s ? 1 + m->k - s : 0;
    uint64_t off = m->hold_off;
    int after = m->after;
    size_t npad = m->npad;
    uint64_t plen = pad_len(m);
    struct { char c; uint32_t n; } pad[BW_MP_PAD_RUNS];
    memcpy(pad, m->pad, npad * sizeof pad[0]);
    reset_match(m);
    if (emit_data(r, m->pat + s, n, off) < 0)
        return -1;
    off += n;
    if (after == 2)
        return emit_data(r, "-", 1, off);
    if (after >= 3) {
        /* pad is a local copy: the callback sees stable bytes even though
         * m->pad is reset */
        if (emit_pad(r, pad, npad, off) < 0)
            return -1;
        if (after == 4)
            return emit_data(r, "\r", 1, off + plen);
    }
    return 0;
}

/* Scans a data region (preamble or part data).  Returns 1 when a delimiter
 * ended it (*close set, *pi past the delimiter line), 0 when the input ran
 * out, -1 when stopped. */
static int scan_data(run_t *r, const char *p, size_t n, size_t *pi, int *close)
{
    bw_mp_t *m = r->m;
    size_t i = *pi;
    const size_t mlen = m->patlen - 1; /* "\n--boundary" */
    while (i < n) {
        if (m->after) {
            char c = p[i];
            int ok = 0;
            switch (m->after) {
            case 1:
                ok = c == '-' || c == ' ' || c == '\t' || c == '\r' || c == '\n';
                if (c == '-')
                    m->after = 2;
                else if (c == ' ' || c == '\t')
                    add_pad(m, c), m->after = 3;
                else if (c == '\r')
                    m->after = 4;
                break;
            case 2:
                if (c == '-') {
                    *close = 1;
                    *pi = i + 1;
                    reset_match(m);
                    return 1;
                }
                break;
            case 3:
                /* RFC 2046 transport padding has no length limit */
                if ((c == ' ' || c == '\t') && add_pad(m, c))
                    ok = 1;
                else if (c == '\r')
                    ok = 1, m->after = 4;
                else
                    ok = c == '\n';
                break;
            case 4:
                ok = c == '\n';
                break;
            }
            if (ok && c == '\n') {
                *close = 0;
                *pi = i + 1;
                reset_match(m);
                return 1;
            }
            if (ok) {
                i++;
                continue;
            }
            if (flush_held(r) < 0) /* not a delimiter: look at c again */
                return -1;
            continue;
        }
        if (m->k == 0 && m->cr) {
            if (p[i] == '\n') {
                m->k = 1;
                i++;
                continue;
            }
            if (flush_held(r) < 0) /* a lone CR is data */
                return -1;
            continue;
        }
        if (m->k == 0) {
            const char *lf = memchr(p + i, '\n', n - i);
            size_t e = lf ? (size_t)(lf - p) : n;
            size_t de = e > i && p[e - 1] == '\r' ? e - 1 : e;
            if (emit_data(r, p + i, de - i, m->off + i) < 0)
                return -1;
            m->hold_off = m->off + de;
            m->cr = de < e;
            if (lf) {
                m->k = 1;
                i = e + 1;
            } else {
                i = n;
            }
            continue;
        }
        if (p[i] == m->pat[1 + m->k]) {
            if (++m->k == mlen)
                m->after = 1;
            i++;
            continue;
        }
        if (flush_held(r) < 0)
            return -1;
    }
    *pi = i;
    return 0;
}

/* ---- part headers -------------------------------------------------------- */


static int name_is(const char *p, size_t n, const char *want)
{
    size_t w = strlen(want);
    if (n != w)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (bw_ascii_lower((unsigned char)p[i]) != want[i])
            return 0;
    return 1;
}

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Appends byte c to dst (cap bytes with the NUL); sets *cut when full. */
static void put(char *dst, size_t cap, size_t *len, char c, int *cut)
{
    if (*len + 1 >= cap) {
        *cut = 1;
        return;
    }
    dst[(*len)++] = c ? c : '_';
    dst[*len] = 0;
}

static void copy_trim(char *dst, size_t cap, const char *p, size_t n)
{
    while (n && is_blank(*p))
        p++, n--;
    while (n && is_blank(p[n - 1]))
        n--;
    size_t len = 0;
    int cut = 0;
    dst[0] = 0;
    for (size_t i = 0; i < n; i++)
        put(dst, cap, &len, p[i], &cut);
}


/* Content-Disposition: form-data; name="x"; filename="y"; filename*=UTF-8''z
 * Quoted strings unescape \" and \\ only: old browsers sent Windows paths
 * with bare backslashes, today's percent-encode the quote. */
static void parse_disposition(bw_mp_part_t *pt, const char *p, size_t n)
{
    size_t i = 0;
    int star = 0;
    while (i < n && p[i] != ';') /* the disposition type */
        i++;
    while (i < n) {
        while (i < n && (is_blank(p[i]) || p[i] == ';'))
            i++;
        size_t ns = i;
        while (i < n && p[i] != '=' && p[i] != ';')
            i++;
        size_t ne = i;
        while (ne > ns && is_blank(p[ne - 1]))
            ne--;
        if (i >= n || p[i] != '=')
            continue;
        i++;
        while (i < n && is_blank(p[i]))
            i++;
        char *dst = NULL;
        size_t cap = 0, len = 0;
        int *cut = NULL, is_star = 0, dummy = 0;
        if (name_is(p + ns, ne - ns, "name")) {
            dst = pt->name, cap = sizeof(pt->name), cut = &pt->name_cut;
            pt->has_name = 1;
        } else if (name_is(p + ns, ne - ns, "filename") && !star) {
            dst = pt->filename, cap = sizeof(pt->filename), cut = &pt->filename_cut;
            pt->has_filename = 1;
        } else if (name_is(p + ns, ne - ns, "filename*")) {
            dst = pt->filename, cap = sizeof(pt->filename), cut = &pt->filename_cut;
            pt->has_filename = 1, star = 1, is_star = 1;
            pt->filename_cut = 0;
        } else {
            cut = &dummy; /* an unknown parameter: parsed, not kept */
        }
        if (dst) {
            dst[0] = 0;
        }
        if (i < n && p[i] == '"') {
            for (i++; i < n && p[i] != '"'; i++) {
                char c = p[i];
                if (c == '\\' && i + 1 < n && (p[i + 1] == '"' || p[i + 1] == '\\'))
                    c = p[++i];
                if (dst)
                    put(dst, cap, &len, c, cut);
            }
            if (i < n)
                i++; /* closing quote */
            continue;
        }
        size_t vs = i;
        while (i < n && p[i] != ';' && !is_blank(p[i]))
            i++;
        if (!dst)
            continue;
        if (is_star) { /* RFC 5987: charset'language'pct-encoded */
            size_t q = vs, quotes = 0;
            while (q < i && quotes < 2)
                if (p[q++] == '\'')
                    quotes++;
            if (quotes == 2)
                vs = q;
            for (size_t j = vs; j < i; j++) {
                int h1, h2;
                if (p[j] == '%' && j + 2 < i && (h1 = bw_hexval((unsigned char)p[j + 1])) >= 0 &&
                    (h2 = bw_hexval((unsigned char)p[j + 2])) >= 0) {
                    put(dst, cap, &len, (char)(h1 * 16 + h2), cut);
                    j += 2;
                } else {
                    put(dst, cap, &len, p[j], cut);
                }
            }
        } else {
            for (size_t j = vs; j < i; j++)
                put(dst, cap, &len, p[j], cut);
        }
    }
}

static void parse_headers(bw_mp_part_t *pt, const char *h, size_t n)
{
    size_t i = 0;
    while (i < n) {
        const char *lf = memchr(h + i, '\n', n - i);
        size_t e = lf ? (size_t)(lf - h) : n;
        size_t colon = i;
        while (colon < e && h[colon] != ':')
            colon++;
        /* lines without a colon and folded lines are ignored */
        if (colon < e && h[i] != ' ' && h[i] != '\t') {
            size_t ne = colon;
            while (ne > i && is_blank(h[ne - 1]))
                ne--;
            const char *v = h + colon + 1;
            size_t vn = e - colon - 1;
            if (name_is(h + i, ne - i, "content-disposition"))
                parse_disposition(pt, v, vn);
            else if (name_is(h + i, ne - i, "content-type")) {
                char prev[sizeof pt->ctype];
                memcpy(prev, pt->ctype, sizeof prev);
                copy_trim(pt->ctype, sizeof(pt->ctype), v, vn);
                if (prev[0] && strcmp(prev, pt->ctype))
                    pt->ctype_twice = 1;
            }
            else if (name_is(h + i, ne - i, "content-transfer-encoding"))
                copy_trim(pt->cte, sizeof(pt->cte), v, vn);
        }
        i = e + 1;
    }
}

/* Starts the data of a real part whose header block is head[0..hlen). */
static int begin_real_part(run_t *r, size_t hlen, uint64_t data_off)
{
    bw_mp_t *m = r->m;
    open_part(r, BW_MP_KIND_PART, data_off, m->head, hlen);
    parse_headers(&m->part, m->head, hlen);
    return begin_event(r);
}

/* A delimiter (or close delimiter) was recognised. */
static int after_delimiter(run_t *r, int close)
{
    bw_mp_t *m = r->m;
    if (end_part(r, 0) < 0)
        return -1;
    m->headlen = m->line_start = 0;
    m->line_over = 0;
    memset(&m->part, 0, sizeof(m->part)); /* the next header block fills it */
    if (close) {
        m->close_seen = 1;
        m->state = ST_CLOSE_LINE;
    } else {
        m->state = ST_HEADERS;
    }
    return 0;
}

/* Collects a header block.  Returns 1 when it ended (state changed), 0 when
 * the input ran out, -1 when stopped. */
static int scan_headers(run_t *r, const char *p, size_t n, size_t *pi)
{
    bw_mp_t *m = r->m;
    size_t i = *pi;
    const size_t blen = m->patlen - 4;
    while (i < n) {
        if (m->headlen == 0)
            m->head_off = m->off + i;
        const char *lf = memchr(p + i, '\n', n - i);
        size_t e = lf ? (size_t)(lf - p) + 1 : n;
        if (!m->line_over && m->headlen + (e - i) > BW_MP_HEAD_MAX && m->line_start) {
            /* A big block: its complete lines are parsed now and dropped,
             * so the part is still followed (an origin has no such limit). */
            parse_headers(&m->part, m->head, m->line_start);
            memmove(m->head, m->head + m->line_start, m->headlen - m->line_start);
            m->headlen -= m->line_start;
            m->head_off += m->line_start; /* the buffer stays the body's bytes at head_off */
            m->line_start = 0;
            m->part.head_cut = 1;
        }
        if (m->line_over || m->headlen + (e - i) > BW_MP_HEAD_MAX) {
            /* One line longer than the buffer: not a blank line nor a
             * delimiter, and too long to be a header we read; dropped.
             * The complete lines before it are parsed and dropped too, so
             * that what stays buffered is contiguous with the body (an
             * unfinished block is scanned as RAW from head_off). */
            if (!m->line_over && m->line_start)
                parse_headers(&m->part, m->head, m->line_start);
            /* The start of the long line, held while it was shorter, goes
             * too: how the body was sliced must not change what is kept.
             * (The splitter runs for uploads, whose whole body is scanned
             * as well, so nothing here goes unscanned.) */
            m->headlen = m->line_start = 0;
            m->line_over = 1;
            m->part.head_cut = 1;
            i = e;
            if (lf) {
                m->line_over = 0;
                m->headlen = m->line_start;
            }
            continue;
        }
        memcpy(m->head + m->headlen, p + i, e - i);
        m->headlen += e - i;
        i = e;
        if (!lf)
            break;
        const char *ln = m->head + m->line_start;
        size_t ll = m->headlen - 1 - m->line_start;
        if (ll && ln[ll - 1] == '\r')
            ll--;
        if (ll == 0) { /* the blank line: data follow */
            *pi = i;
            m->state = ST_DATA;
            reset_match(m);
            m->k = 1, m->virt = 1; /* the blank line's CRLF may be a delimiter's */
            m->hold_off = m->off + i;
            return begin_real_part(r, m->line_start, m->off + i) < 0 ? -1 : 1;
        }
        /* RFC 2046 lets a part with headers and no body end on the CRLF of
         * its last header line: a delimiter line here ends the part. */
        if (ll >= blen + 2 && ln[0] == '-' && ln[1] == '-' && !memcmp(ln + 2, m->pat + 4, blen)) {
            size_t j = blen + 2;
            int close = ll >= j + 2 && ln[j] == '-' && ln[j + 1] == '-';
            while (!close && j < ll && (ln[j] == ' ' || ln[j] == '\t'))
                j++;
            if (close || j == ll) {
                *pi = i;
                if (begin_real_part(r, m->line_start, m->off + i) < 0 || end_part(r, 0) < 0)
                    return -1;
                m->headlen = m->line_start = 0;
                memset(&m->part, 0, sizeof(m->part));
                if (close) { /* the rest of the close line was padding */
                    m->close_seen = 1;
                    m->state = ST_EPILOGUE;
                    return 1;
                }
                continue;
            }
        }
        m->line_start = m->headlen;
    }
    *pi = i;
    return 0;
}

int bw_mp_init(bw_mp_t *m, const char *boundary, size_t len)
{
    memset(m, 0, sizeof(*m));
    if (!boundary || len == 0 || len > BW_MP_BOUNDARY_MAX)
        return BW_ERR;
    for (size_t i = 0; i < len; i++)
        if (boundary[i] == '\r' || boundary[i] == '\n' || boundary[i] == 0)
            return BW_ERR;
    memcpy(m->pat, "\r\n--", 4);
    memcpy(m->pat + 4, boundary, len);
    m->patlen = len + 4;
    m->state = ST_PREAMBLE;
    m->k = 1, m->virt = 1; /* the body may open with the delimiter, no CRLF */
    return BW_OK;
}

int bw_mp_feed(bw_mp_t *m, const char *p, size_t n, bw_mp_cb cb, void *ud)
{
    if (m->finished)
        return BW_ERR;
    if (m->stopped)
        return BW_DECLINED;
    run_t r = {m, cb, ud};
    size_t i = 0;
    while (i < n && !m->stopped) {
        int rc = 0, close = 0;
        switch (m->state) {
        case ST_PREAMBLE:
        case ST_DATA:
            rc = scan_data(&r, p, n, &i, &close);
            if (rc == 1)
                rc = after_delimiter(&r, close);
            break;
        case ST_HEADERS:
            rc = scan_headers(&r, p, n, &i);
            break;
        case ST_CLOSE_LINE:
            /* transport padding, then CRLF; the epilogue starts after it,
             * or at the first byte that is not padding */
            while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
                i++;
            if (i < n) {
                if (p[i] == '\n')
                    i++;
                m->state = ST_EPILOGUE;
            }
            break;
        case ST_EPILOGUE:
        case ST_RAW:
            rc = emit_data(&r, p + i, n - i, m->off + i);
            i = n;
            break;
        }
        if (rc < 0)
            break;
    }
    m->off += n;
    return m->stopped ? BW_DECLINED : BW_OK;
}

int bw_mp_finish(bw_mp_t *m, bw_mp_cb cb, void *ud)
{
    if (m->stopped)
        return BW_DECLINED;
    if (m->finished)
        return BW_ERR;
    m->finished = 1;
    run_t r = {m, cb, ud};
    int rc = 0;
    switch (m->state) {
    case ST_PREAMBLE:
    case ST_DATA:
        if (m->after) { /* the body ended on "--boundary": a delimiter */
            rc = end_part(&r, 0);
        } else {
            int real = m->state == ST_DATA;
            rc = flush_held(&r);
            if (rc == 0)
                rc = end_part(&r, real);
        }
        break;
    case ST_HEADERS:
        if (m->headlen) { /* an unfinished header block: scan it as RAW */
            m->state = ST_RAW;
            rc = emit_data(&r, m->head, m->headlen, m->head_off);
        }
        if (rc == 0)
            rc = end_part(&r, 0);
        break;
    default:
        rc = end_part(&r, 0);
        break;
    }
    if (rc < 0)
        return BW_DECLINED;
    bw_mp_event_t ev = {.type = BW_MP_END, .truncated = !m->close_seen, .error = m->error,
                        .nparts = m->nparts};
    return emit(&r, &ev) < 0 ? BW_DECLINED : BW_OK;
}

/* ---- Content-Transfer-Encoding ------------------------------------------- */

bw_cte_t bw_cte_kind(const char *v)
{
    while (is_blank(*v))
        v++;
    size_t n = strlen(v);
    while (n && is_blank(v[n - 1]))
        n--;
    if (n == 0 || name_is(v, n, "7bit") || name_is(v, n, "8bit") || name_is(v, n, "binary"))
        return BW_CTE_NONE;
    if (name_is(v, n, "base64"))
        return BW_CTE_BASE64;
    if (name_is(v, n, "quoted-printable"))
        return BW_CTE_QP;
    return BW_CTE_OTHER;
}

void bw_cte_init(bw_cte_dec_t *d, bw_cte_t kind)
{
    memset(d, 0, sizeof *d);
    d->kind = kind;
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62; /* '-' and '_': the URL-safe alphabet, which decoders take too */
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Flushes a base64 quantum cut by '=' or the end: 2 sextets give 1 byte, 3 give 2. */
static size_t b64_flush(bw_cte_dec_t *d, char *out)
{
    size_t o = 0;
    if (d->nacc >= 2)
        out[o++] = (char)(d->acc >> (6 * d->nacc - 8));
    if (d->nacc >= 3)
        out[o++] = (char)(d->acc >> (6 * d->nacc - 16));
    d->acc = 0;
    d->nacc = 0;
    return o;
}

size_t bw_cte_feed(bw_cte_dec_t *d, const char *in, size_t n, char *out)
{
    size_t o = 0;
    if (d->kind == BW_CTE_BASE64) {
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)in[i];
            int v = b64val(c);
            if (v < 0) {
                /* '=' ends a quantum; a decoder that goes on after it
                 * (concatenated base64) is what the lenient ones do */
                if (c == '=')
                    o += b64_flush(d, out + o);
                else if (!is_blank((char)c))
                    d->bad++;
                continue;
            }
            d->acc = (d->acc << 6) | (uint32_t)v;
            if (++d->nacc == 4) {
                out[o++] = (char)(d->acc >> 16);
                out[o++] = (char)(d->acc >> 8);
                out[o++] = (char)d->acc;
                d->acc = 0;
                d->nacc = 0;
            }
        }
        return o;
    }
    if (d->kind != BW_CTE_QP) {
        memcpy(out, in, n);
        return n;
    }
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (!d->nacc) {
            if (c == '=')
                d->held[d->nacc++] = c;
            else
                out[o++] = c;
            continue;
        }
        d->held[d->nacc++] = c;
        /* held: "=" then up to two bytes */
        if (d->nacc == 2 && (d->held[1] == '\n')) { /* "=\n": soft line break */
            d->nacc = 0;
            continue;
        }
        if (d->nacc == 2 && (d->held[1] == '\r' || bw_hexval((unsigned char)d->held[1]) >= 0))
            continue;
        if (d->nacc == 3) {
            if (d->held[1] == '\r' && d->held[2] == '\n') {
                d->nacc = 0;
                continue;
            }
            int h1 = bw_hexval((unsigned char)d->held[1]), h2 = bw_hexval((unsigned char)d->held[2]);
            if (h1 >= 0 && h2 >= 0) {
                out[o++] = (char)(h1 * 16 + h2);
                d->nacc = 0;
                continue;
            }
        }
        /* not an escape: the '=' is kept, the rest is looked at again */
        d->bad++;
        out[o++] = '=';
        int k = d->nacc;
        d->nacc = 0;
        for (int j = 1; j < k; j++) {
            char b = d->held[j];
            if (b == '=')
                d->held[d->nacc++] = b;
            else
                out[o++] = b;
        }
    }
    return o;
}

size_t bw_cte_end(bw_cte_dec_t *d, char *out)
{
    size_t o = 0;
    if (d->kind == BW_CTE_BASE64)
        return b64_flush(d, out);
    if (d->kind == BW_CTE_QP)
        for (int j = 0; j < d->nacc; j++)
            out[o++] = d->held[j];
    d->nacc = 0;
    return o;
}
