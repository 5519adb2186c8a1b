/* SPDX-License-Identifier: Apache-2.0 */
/* Encapsulated HTTP header blocks: start line, header lines, helpers.
 *
 * Why a separate parser from the ICAP head one: the two grammars are the
 * same shape (RFC 2822 style) but come from different writers.  The ICAP head
 * comes straight from the client and decides framing, so it is parsed
 * strictly (icap-parse.c).  The HTTP blocks are delimited by the Encapsulated
 * offsets before we look at them, so they cannot desynchronise the ICAP
 * stream; they are parsed strictly in structure but leniently in what an odd
 * origin may have put in a header (folded lines, blanks before ':'), because
 * rejecting them would fail a user's download over cosmetics.  What we read
 * from them (Content-Type, Content-Encoding, Content-Length, the URL) only
 * steers the scan; ambiguity in those (two different lengths, two boundaries)
 * is reported so that the caller scans the raw bytes instead of guessing.
 */
#include "icap/http-parse.h"

#include <string.h>

#include "bulwark/bulwark.h"
#include "core/chars.h"


/* Field content: HTAB, SP, VCHAR, obs-text. */
static int is_fchar(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }


/* Blanks inside a value that may span a folded line. */
static int is_blank(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static int fail(bw_icap_perr_t *err, size_t off, const char *reason)
{
    if (err) {
        err->status = 400;
        err->offset = off;
        err->reason = reason;
    }
    return BW_ERR;
}

int bw_http_find_line(const char *buf, size_t limit, size_t start, size_t *eol, size_t *next)
{
    if (start >= limit)
        return BW_AGAIN;
    const char *lf = memchr(buf + start, '\n', limit - start);
    if (!lf)
        return BW_AGAIN;
    size_t i = (size_t)(lf - buf);
    *next = i + 1;
    *eol = (i > start && buf[i - 1] == '\r') ? i - 1 : i;
    return BW_OK;
}

int bw_http_parse_header_line(const char *buf, size_t start, size_t eol, int policy,
                              bw_icap_header_t *h, size_t *err_off, const char **reason)
{
    size_t i = start;
    while (i < eol && bw_is_tchar((unsigned char)buf[i]))
        i++;
    if (i == start) {
        *err_off = start;
        *reason = i < eol && buf[i] == ':' ? "empty header name" : "invalid header name";
        return BW_ERR;
    }
    h->name.p = buf + start;
    h->name.n = i - start;
    if (i < eol && bw_is_ows((unsigned char)buf[i])) {
        if (policy == BW_HDR_STRICT) {
            *err_off = i;
            *reason = "blank between header name and colon";
            return BW_ERR;
        }
        while (i < eol && bw_is_ows((unsigned char)buf[i]))
            i++;
    }
    if (i >= eol || buf[i] != ':') {
        *err_off = i;
        *reason = i >= eol ? "header line without colon" : "invalid character in header name";
        return BW_ERR;
    }
    i++;
    while (i < eol && bw_is_ows((unsigned char)buf[i]))
        i++;
    size_t e = eol;
    while (e > i && bw_is_ows((unsigned char)buf[e - 1]))
        e--;
    for (size_t k = i; k < e; k++) {
        if (!is_fchar((unsigned char)buf[k])) {
            *err_off = k;
            *reason = "control character in header value";
            return BW_ERR;
        }
    }
    h->value.p = buf + i;
    h->value.n = e - i;
    return BW_OK;
}

/* "HTTP/" DIGIT "." DIGIT at buf[i..) within eol. */
static int http_version(const char *buf, size_t i, size_t eol)
{
    return eol - i >= 8 && !memcmp(buf + i, "HTTP/", 5) && buf[i + 5] >= '0' &&
           buf[i + 5] <= '9' && buf[i + 6] == '.' && buf[i + 7] >= '0' && buf[i + 7] <= '9';
}

static int request_line(const char *buf, size_t eol, bw_http_msg_t *m, bw_icap_perr_t *err)
{
    size_t i = 0;
    while (i < eol && bw_is_tchar((unsigned char)buf[i]))
        i++;
    if (i == 0)
        return fail(err, 0, "invalid HTTP method");
    if (i >= eol || buf[i] != ' ')
        return fail(err, i, "expected one space after the HTTP method");
    m->method.p = buf;
    m->method.n = i;
    size_t t = ++i;
    /* The target: visible ASCII, plus obs-text a proxy may pass through. */
    while (i < eol && (unsigned char)buf[i] > 0x20 && buf[i] != 0x7f)
        i++;
    if (i == t)
        return fail(err, t, "empty HTTP request target");
    if (i >= eol || buf[i] != ' ')
        return fail(err, i, "expected one space after the HTTP request target");
    m->target.p = buf + t;
    m->target.n = i - t;
    i++;
    if (!http_version(buf, i, eol) || eol - i != 8)
        return fail(err, i, "malformed HTTP version");
    m->version.p = buf + i;
    m->version.n = 8;
    return BW_OK;
}

static int status_line(const char *buf, size_t eol, bw_http_msg_t *m, bw_icap_perr_t *err)
{
    if (!http_version(buf, 0, eol))
        return fail(err, 0, "malformed HTTP version");
    m->version.p = buf;
    m->version.n = 8;
    if (eol < 12 || buf[8] != ' ')
        return fail(err, 8, "expected a space and a 3-digit status");
    int st = 0;
    for (size_t i = 9; i < 12; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            return fail(err, i, "malformed HTTP status code");
        st = st * 10 + (buf[i] - '0');
    }
    if (st < 100)
        return fail(err, 9, "HTTP status code below 100");
    m->status = st;
    m->reason.p = buf + eol;
    m->reason.n = 0;
    if (eol == 12)
        return BW_OK; /* no reason phrase, not even the space: tolerated */
    if (buf[12] != ' ')
        return fail(err, 12, "expected a space after the HTTP status code");
    for (size_t i = 13; i < eol; i++)
        if (!is_fchar((unsigned char)buf[i]))
            return fail(err, i, "control character in HTTP reason phrase");
    m->reason.p = buf + 13;
    m->reason.n = eol - 13;
    return BW_OK;
}

/* A folded line extends the previous header's value. */
static int fold_line(const char *buf, size_t pos, size_t eol, bw_http_msg_t *m,
                     bw_icap_perr_t *err)
{
    if (m->nheaders == 0)
        return fail(err, pos, "continuation line before the first header");
    for (size_t k = pos; k < eol; k++)
        if (!is_fchar((unsigned char)buf[k]))
            return fail(err, k, "control character in header value");
    size_t s = pos, e = eol;
    while (s < e && bw_is_ows((unsigned char)buf[s]))
        s++;
    while (e > s && bw_is_ows((unsigned char)buf[e - 1]))
        e--;
    if (s == e)
        return BW_OK; /* a blank continuation adds nothing */
    bw_icap_str_t *v = &m->headers[m->nheaders - 1].value;
    if (v->n == 0)
        v->p = buf + s;
    v->n = (size_t)(buf + e - v->p);
    return BW_OK;
}

/* No line end below the limit: wait, unless the limit is what stopped us. */
static int more(size_t len, size_t lim, bw_icap_perr_t *err)
{
    if (len >= BW_ICAP_MAX_ENCAP_HDRS)
        return fail(err, lim, "HTTP header block too large");
    return BW_AGAIN;
}

int bw_http_parse_head(const char *buf, size_t len, int is_response, bw_http_msg_t *m,
                       bw_icap_perr_t *err)
{
    memset(m, 0, offsetof(bw_http_msg_t, headers));
    m->nheaders = 0;
    m->dropped = 0;
    m->head_len = 0;
    int last_dropped = 0; /* a fold after a dropped line belongs to it */
    m->is_response = is_response;
    /* A bound on the block keeps the int return and the caller's buffer sane. */
    size_t lim = len < BW_ICAP_MAX_ENCAP_HDRS ? len : BW_ICAP_MAX_ENCAP_HDRS;
    size_t eol, next;
    if (bw_http_find_line(buf, lim, 0, &eol, &next) != BW_OK)
        return more(len, lim, err);
    int rc = is_response ? status_line(buf, eol, m, err) : request_line(buf, eol, m, err);
    if (rc != BW_OK)
        return rc;
    size_t pos = next;
    for (;;) {
        if (bw_http_find_line(buf, lim, pos, &eol, &next) != BW_OK)
            return more(len, lim, err);
        if (eol == pos) {
            m->head_len = next;
            return (int)next;
        }
        if (bw_is_ows((unsigned char)buf[pos])) {
            if (last_dropped) {
                for (size_t k = pos; k < eol; k++)
                    if (!is_fchar((unsigned char)buf[k]))
                        return fail(err, k, "control character in header value");
            } else if (fold_line(buf, pos, eol, m, err) != BW_OK) {
                return BW_ERR;
            }
        } else {
            /* Past the table a line is still checked, then counted: refusing
             * the message would have the client bypass us (Squid's
             * bypass=on), so the caller scans it knowing headers are missing. */
            bw_icap_header_t scratch;
            last_dropped = m->nheaders >= BW_HTTP_MAX_HEADERS;
            size_t off;
            const char *why;
            if (bw_http_parse_header_line(buf, pos, eol, BW_HDR_LENIENT,
                                          last_dropped ? &scratch : &m->headers[m->nheaders],
                                          &off, &why) != BW_OK)
                return fail(err, off, why);
            if (last_dropped)
                m->dropped++;
            else
                m->nheaders++;
        }
        pos = next;
    }
}

int bw_http_parse_block(const char *buf, size_t len, int is_response, bw_http_msg_t *m,
                        bw_icap_perr_t *err)
{
    int rc = bw_http_parse_head(buf, len, is_response, m, err);
    if (rc == BW_AGAIN)
        return fail(err, len, "HTTP header block does not end with an empty line");
    if (rc < 0)
        return rc;
    if ((size_t)rc != len)
        return fail(err, (size_t)rc, "bytes after the end of the HTTP header block");
    return BW_OK;
}

static int eq_ci(const char *p, size_t n, const char *lit)
{
    size_t k = strlen(lit);
    if (n != k)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char a = (unsigned char)p[i], b = (unsigned char)lit[i];
        if (a >= 'A' && a <= 'Z')
            a = (unsigned char)(a + 32);
        if (b >= 'A' && b <= 'Z')
            b = (unsigned char)(b + 32);
        if (a != b)
            return 0;
    }
    return 1;
}

int bw_hdr_find(const bw_icap_header_t *h, size_t n, const char *name, size_t from)
{
    for (size_t i = from; i < n; i++)
        if (eq_ci(h[i].name.p, h[i].name.n, name))
            return (int)i;
    return -1;
}

/* Iterates the comma-separated elements of a value, trimmed of blanks. */
static int next_elem(bw_icap_str_t v, size_t *pos, bw_icap_str_t *el)
{
    size_t i = *pos;
    if (i > v.n)
        return 0;
    size_t e = i;
    while (e < v.n && v.p[e] != ',')
        e++;
    *pos = e + 1;
    size_t s = i;
    while (s < e && is_blank((unsigned char)v.p[s]))
        s++;
    while (e > s && is_blank((unsigned char)v.p[e - 1]))
        e--;
    el->p = v.p + s;
    el->n = e - s;
    return 1;
}

int bw_http_content_length(const bw_http_msg_t *m, uint64_t *out)
{
    int found = 0;
    uint64_t first = 0;
    for (int i = bw_hdr_find(m->headers, m->nheaders, "Content-Length", 0); i >= 0;
         i = bw_hdr_find(m->headers, m->nheaders, "Content-Length", (size_t)i + 1)) {
        size_t pos = 0;
        bw_icap_str_t el;
        while (next_elem(m->headers[i].value, &pos, &el)) {
            if (el.n == 0)
                return BW_ERR;
            uint64_t v = 0;
            for (size_t k = 0; k < el.n; k++) {
                unsigned d = (unsigned char)el.p[k] - '0';
                if (d > 9 || v > (UINT64_MAX - d) / 10)
                    return BW_ERR;
                v = v * 10 + d;
            }
            if (found && v != first)
                return BW_ERR;
            first = v;
            found = 1;
        }
    }
    if (!found)
        return BW_DECLINED;
    *out = first;
    return BW_OK;
}

/* Parses one Content-Type value. */
static int parse_ctype(bw_icap_str_t v, bw_icap_str_t *type, bw_icap_str_t *boundary)
{
    size_t i = 0;
    while (i < v.n && is_blank((unsigned char)v.p[i]))
        i++;
    size_t s = i;
    while (i < v.n && v.p[i] != ';')
        i++;
    size_t e = i;
    while (e > s && is_blank((unsigned char)v.p[e - 1]))
        e--;
    type->p = v.p + s;
    type->n = e - s;
    boundary->p = v.p + v.n;
    boundary->n = 0;
    int have_b = 0;
    while (i < v.n) { /* at ';' */
        i++;
        while (i < v.n && is_blank((unsigned char)v.p[i]))
            i++;
        size_t ns = i;
        while (i < v.n && bw_is_tchar((unsigned char)v.p[i]))
            i++;
        size_t ne = i;
        while (i < v.n && is_blank((unsigned char)v.p[i]))
            i++;
        int is_b = eq_ci(v.p + ns, ne - ns, "boundary");
        if (i >= v.n || v.p[i] != '=') {
            if (is_b)
                return BW_ERR;
            while (i < v.n && v.p[i] != ';') /* junk parameter: skip it */
                i++;
            continue;
        }
        i++;
        while (i < v.n && is_blank((unsigned char)v.p[i]))
            i++;
        size_t vs, ve;
        if (i < v.n && v.p[i] == '"') {
            vs = ++i;
            int esc = 0;
            while (i < v.n && v.p[i] != '"') {
                if (v.p[i] == '\\') {
                    esc = 1;
                    i++;
                }
                i++;
            }
            if (i >= v.n)
                return BW_ERR; /* unterminated quoted string */
            ve = i++;
            if (is_b && esc)
                return BW_ERR; /* RFC 2046 boundaries need no escapes */
        } else {
            vs = i;
            while (i < v.n && v.p[i] != ';' && !is_blank((unsigned char)v.p[i]))
                i++;
            ve = i;
        }
        while (i < v.n && is_blank((unsigned char)v.p[i]))
            i++;
        if (i < v.n && v.p[i] != ';') {
            if (is_b)
                return BW_ERR;
            while (i < v.n && v.p[i] != ';')
                i++;
        }
        if (is_b) {
            if (have_b || ve == vs)
                return BW_ERR;
            have_b = 1;
            boundary->p = v.p + vs;
            boundary->n = ve - vs;
        }
    }
    return BW_OK;
}

int bw_http_content_type(const bw_http_msg_t *m, bw_icap_str_t *type, bw_icap_str_t *boundary)
{
    int i = bw_hdr_find(m->headers, m->nheaders, "Content-Type", 0);
    if (i < 0)
        return BW_DECLINED;
    /* Several Content-Type headers that differ: no safe choice. */
    for (int j = bw_hdr_find(m->headers, m->nheaders, "Content-Type", (size_t)i + 1); j >= 0;
         j = bw_hdr_find(m->headers, m->nheaders, "Content-Type", (size_t)j + 1)) {
        const bw_icap_str_t *a = &m->headers[i].value, *b = &m->headers[j].value;
        if (a->n != b->n || memcmp(a->p, b->p, a->n))
            return BW_ERR;
    }
    return parse_ctype(m->headers[i].value, type, boundary);
}

int bw_http_content_encoding(const bw_http_msg_t *m, bw_http_coding_t *out, size_t max,
                             size_t *n)
{
    static const struct {
        const char *name;
        bw_http_coding_t c;
    } map[] = {
        {"gzip", BW_HTTP_CE_GZIP},         {"x-gzip", BW_HTTP_CE_GZIP},
        {"deflate", BW_HTTP_CE_DEFLATE},   {"br", BW_HTTP_CE_BR},
        {"zstd", BW_HTTP_CE_ZSTD},         {"compress", BW_HTTP_CE_COMPRESS},
        {"x-compress", BW_HTTP_CE_COMPRESS},
    };
    *n = 0;
    for (int i = bw_hdr_find(m->headers, m->nheaders, "Content-Encoding", 0); i >= 0;
         i = bw_hdr_find(m->headers, m->nheaders, "Content-Encoding", (size_t)i + 1)) {
        size_t pos = 0;
        bw_icap_str_t el;
        while (next_elem(m->headers[i].value, &pos, &el)) {
            if (el.n == 0 || eq_ci(el.p, el.n, "identity"))
                continue;
            bw_http_coding_t c = BW_HTTP_CE_OTHER;
            for (size_t k = 0; k < sizeof map / sizeof map[0]; k++)
                if (eq_ci(el.p, el.n, map[k].name))
                    c = map[k].c;
            if (*n >= max)
                return BW_ERR;
            out[(*n)++] = c;
        }
    }
    return BW_OK;
}

/* Cuts one parameter "name=value" of a Content-Type value at v.p[*i] (just
 * after a ';').  Quoted values are returned without their quotes (escapes
 * kept).  Returns 0 at the end, -1 on an unterminated quote. */
static int next_param(bw_icap_str_t v, size_t *pi, bw_icap_str_t *name, bw_icap_str_t *val)
{
    size_t i = *pi;
    while (i < v.n && (is_blank((unsigned char)v.p[i]) || v.p[i] == ';'))
        i++;
    if (i >= v.n)
        return 0;
    size_t ns = i;
    while (i < v.n && v.p[i] != '=' && v.p[i] != ';')
        i++;
    size_t ne = i;
    while (ne > ns && is_blank((unsigned char)v.p[ne - 1]))
        ne--;
    name->p = v.p + ns;
    name->n = ne - ns;
    val->p = v.p + i;
    val->n = 0;
    if (i < v.n && v.p[i] == '=') {
        i++;
        while (i < v.n && is_blank((unsigned char)v.p[i]))
            i++;
        if (i < v.n && v.p[i] == '"') {
            size_t vs = ++i;
            while (i < v.n && v.p[i] != '"')
                i += v.p[i] == '\\' ? 2 : 1;
            if (i >= v.n) {
                *pi = v.n;
                return -1;
            }
            val->p = v.p + vs;
            val->n = i - vs;
            i++;
        } else {
            size_t vs = i;
            while (i < v.n && v.p[i] != ';' && !is_blank((unsigned char)v.p[i]))
                i++;
            val->p = v.p + vs;
            val->n = i - vs;
        }
    }
    while (i < v.n && v.p[i] != ';') /* junk after the value: skipped */
        i++;
    *pi = i;
    return 1;
}

size_t bw_http_boundaries(const bw_http_msg_t *m, bw_icap_str_t *out, int *ext, size_t max,
                          int *ambiguous)
{
    size_t n = 0;
    int first = -1;
    *ambiguous = 0;
    for (int h = bw_hdr_find(m->headers, m->nheaders, "Content-Type", 0); h >= 0;
         h = bw_hdr_find(m->headers, m->nheaders, "Content-Type", (size_t)h + 1)) {
        bw_icap_str_t v = m->headers[h].value;
        if (first < 0)
            first = h;
        else if (v.n != m->headers[first].value.n || memcmp(v.p, m->headers[first].value.p, v.n))
            *ambiguous = 1;
        size_t i = 0;
        while (i < v.n && is_blank((unsigned char)v.p[i]))
            i++;
        if (v.n - i < 10 || !eq_ci(v.p + i, 10, "multipart/"))
            continue;
        while (i < v.n && v.p[i] != ';')
            i++;
        int seen = 0, rc;
        bw_icap_str_t name, val;
        while ((rc = next_param(v, &i, &name, &val)) != 0) {
            if (rc < 0) {
                *ambiguous = 1;
                break;
            }
            int is_ext = name.n >= 9 && eq_ci(name.p, 9, "boundary*");
            if (!is_ext && !eq_ci(name.p, name.n, "boundary")) {
                if (name.n > 8 && eq_ci(name.p, 8, "boundary"))
                    *ambiguous = 1; /* boundary*0=... continuations: not followed */
                continue;
            }
            if (is_ext && name.n != 9)
                *ambiguous = 1;
            if (is_ext || seen++)
                *ambiguous = 1;
            if (val.n == 0)
                continue;
            size_t k = 0;
            while (k < n && !(out[k].n == val.n && !memcmp(out[k].p, val.p, val.n) &&
                              ext[k] == is_ext))
                k++;
            if (k < n)
                continue;
            if (n == max) {
                *ambiguous = 1;
                continue;
            }
            out[n] = val;
            ext[n++] = is_ext;
        }
    }
    return n;
}

int bw_http_is_attachment(const bw_http_msg_t *m)
{
    for (int h = bw_hdr_find(m->headers, m->nheaders, "Content-Disposition", 0); h >= 0;
         h = bw_hdr_find(m->headers, m->nheaders, "Content-Disposition", (size_t)h + 1)) {
        bw_icap_str_t v = m->headers[h].value;
        size_t i = 0;
        while (i < v.n && is_blank((unsigned char)v.p[i]))
            i++;
        size_t e = i;
        while (e < v.n && v.p[e] != ';' && !is_blank((unsigned char)v.p[e]))
            e++;
        if (eq_ci(v.p + i, e - i, "attachment"))
            return 1;
        bw_icap_str_t name, val;
        while (next_param(v, &e, &name, &val) > 0)
            if (name.n >= 8 && eq_ci(name.p, 8, "filename"))
                return 1;
    }
    return 0;
}
