/* SPDX-License-Identifier: Apache-2.0 */
/* The ICAP request head: request line, headers, Encapsulated.
 *
 * Decisions, and why (docs/icap-protocol.md has the full list):
 * - Re-parse from the start on every call, picohttpparser style, instead of
 *   keeping a resumable state: a head is small and bounded (64 KiB), the code
 *   stays a straight line, and the "need more" answer can never disagree
 *   with the final one.  last_len makes the incomplete case cheap.
 * - Line ends: CRLF, or a bare LF (lenient: some hand-written clients and
 *   test tools send it, and it cannot be mistaken for anything else).  A bare
 *   CR anywhere else is an error.  Everything else is strict: one space
 *   between the request-line parts, no blanks before a header colon, no
 *   obs-fold lines (we cannot unfold without copying, and a folded ICAP
 *   header is a request-smuggling shape, not something clients send).
 * - The head's framing headers are validated here, once: a duplicate
 *   Encapsulated or Preview or Host is a 400, never a "first one wins",
 *   because two readers of the same stream must not disagree about where
 *   the body starts.  Headers that only inform (X-Client-IP ...) keep the
 *   first value.
 * - Oversize heads are a 400: RFC 3507 has no 413/431 for the head, and
 *   Squid treats any non-2xx as a service failure anyway.
 * - An unknown but well-formed method parses fine and is flagged: the
 *   connection answers 501.  A malformed or unsupported version is decided
 *   as soon as the request line is complete: 400 / 505.
 */
#include "icap/icap-parse.h"

#include <string.h>

#include "bulwark/bulwark.h"
#include "core/chars.h"
#include "icap/http-parse.h"

static int fail(bw_icap_perr_t *err, int status, size_t off, const char *reason)
{
    if (err) {
        err->status = status;
        err->offset = off;
        err->reason = reason;
    }
    return BW_ERR;
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int is_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }


int bw_icap_str_eq_ci(bw_icap_str_t s, const char *lit)
{
    size_t k = strlen(lit);
    if (s.n != k)
        return 0;
    for (size_t i = 0; i < k; i++) {
        unsigned char a = (unsigned char)s.p[i], b = (unsigned char)lit[i];
        if (is_alpha(a))
            a |= 0x20;
        if (is_alpha(b))
            b |= 0x20;
        if (a != b)
            return 0;
    }
    return 1;
}

int bw_icap_perr_to_err(const bw_icap_perr_t *pe, bw_err_t *e)
{
    return bw_err_set(e, "byte %zu: %s", pe->offset, pe->reason ? pe->reason : "parse error");
}

const char *bw_icap_method_name(bw_icap_method_t m)
{
    switch (m) {
    case BW_ICAP_OPTIONS: return "OPTIONS";
    case BW_ICAP_REQMOD: return "REQMOD";
    case BW_ICAP_RESPMOD: return "RESPMOD";
    default: return "UNKNOWN";
    }
}

static const char *const sect_names[] = {"req-hdr",  "res-hdr",   "req-body",
                                         "res-body", "null-body", "opt-body"};

const char *bw_icap_sect_name(bw_icap_sect_t k)
{
    return (unsigned)k < sizeof sect_names / sizeof sect_names[0] ? sect_names[k] : "?";
}

/* ---- URI ---- */

static int host_char(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '%';
}

int bw_icap_parse_uri(const char *p, size_t n, bw_icap_uri_t *u, const char **reason)
{
    memset(u, 0, sizeof *u);
    size_t i = 0;
    for (size_t k = 0; k < n; k++) {
        if ((unsigned char)p[k] <= 0x20 || (unsigned char)p[k] >= 0x7f) {
            *reason = "invalid character in ICAP URI";
            return BW_ERR;
        }
        if (p[k] == '#') {
            *reason = "fragment in ICAP URI";
            return BW_ERR;
        }
    }
    if (n && p[0] == '/') {
        u->scheme.p = u->host.p = p;
    } else {
        while (i < n && is_alpha((unsigned char)p[i]))
            i++;
        u->scheme.p = p;
        u->scheme.n = i;
        if (n - i < 3 || memcmp(p + i, "://", 3)) {
            *reason = "ICAP URI is neither icap://host/path nor /path";
            return BW_ERR;
        }
        if (!bw_icap_str_eq_ci(u->scheme, "icap") && !bw_icap_str_eq_ci(u->scheme, "icaps")) {
            *reason = "ICAP URI scheme is not icap or icaps";
            return BW_ERR;
        }
        i += 3;
        size_t a = i; /* authority: up to '/', '?' or the end */
        while (i < n && p[i] != '/' && p[i] != '?')
            i++;
        size_t ae = i, h = a, he;
        if (memchr(p + a, '@', ae - a)) {
            *reason = "user information in ICAP URI";
            return BW_ERR;
        }
        if (h < ae && p[h] == '[') {
            const char *rb = memchr(p + h, ']', ae - h);
            if (!rb) {
                *reason = "unterminated IPv6 literal in ICAP URI";
                return BW_ERR;
            }
            he = (size_t)(rb - p);
            /* hex, ':' and '.' (an embedded IPv4); after '%' a zone id */
            int zone = 0;
            for (size_t k = h + 1; k < he; k++) {
                unsigned char c = (unsigned char)p[k];
                if (c == '%' && !zone)
                    zone = 1;
                else if (zone ? !host_char(c) : bw_hexval((unsigned char)p[k]) < 0 && c != ':' && c != '.') {
                    *reason = "invalid IPv6 literal in ICAP URI";
                    return BW_ERR;
                }
            }
            u->host.p = p + h + 1;
            u->host.n = he - h - 1;
            he++;
        } else {
            he = h;
            while (he < ae && host_char((unsigned char)p[he]))
                he++;
            u->host.p = p + h;
            u->host.n = he - h;
        }
        if (u->host.n == 0) {
            *reason = "empty host in ICAP URI";
            return BW_ERR;
        }
        if (he < ae) {
            if (p[he] != ':') {
                *reason = "invalid character in ICAP URI host";
                return BW_ERR;
            }
            uint32_t port = 0;
            size_t k = he + 1;
            if (ae - k > 5) {
                *reason = "invalid port in ICAP URI";
                return BW_ERR;
            }
            for (; k < ae; k++) {
                if (!is_digit((unsigned char)p[k])) {
                    *reason = "invalid port in ICAP URI";
                    return BW_ERR;
                }
                port = port * 10 + (uint32_t)(p[k] - '0');
            }
            if (port > 65535 || (port == 0 && ae > he + 1)) {
                *reason = "port out of range in ICAP URI";
                return BW_ERR;
            }
            u->port = (uint16_t)port; /* "host:" alone: empty port, the default applies */
        }
    }
    size_t ps = i;
    while (i < n && p[i] != '?')
        i++;
    u->path.p = p + ps;
    u->path.n = i - ps;
    u->query.p = p + n;
    if (i < n) {
        u->query.p = p + i + 1;
        u->query.n = n - i - 1;
    }
    return BW_OK;
}

/* ---- Encapsulated ---- */

int bw_icap_parse_encap(const char *v, size_t n, bw_icap_encap_t *e, bw_icap_perr_t *err)
{
    memset(e, 0, sizeof *e);
    size_t i = 0;
    for (;;) {
        while (i < n && bw_is_ows((unsigned char)v[i]))
            i++;
        size_t ns = i;
        while (i < n && (is_alpha((unsigned char)v[i]) || v[i] == '-'))
            i++;
        bw_icap_str_t name = {v + ns, i - ns};
        int kind = -1;
        for (int k = 0; k < (int)(sizeof sect_names / sizeof sect_names[0]); k++)
            if (bw_icap_str_eq_ci(name, sect_names[k]))
                kind = k;
        if (kind < 0)
            return fail(err, 400, ns, "unknown Encapsulated entry");
        while (i < n && bw_is_ows((unsigned char)v[i]))
            i++;
        if (i >= n || v[i] != '=')
            return fail(err, 400, i, "expected '=' in Encapsulated");
        i++;
        while (i < n && bw_is_ows((unsigned char)v[i]))
            i++;
        size_t ds = i;
        uint32_t off = 0;
        for (; i < n && is_digit((unsigned char)v[i]); i++) {
            off = off * 10 + (uint32_t)(v[i] - '0');
            if (off > BW_ICAP_MAX_ENCAP_HDRS) /* checked per digit: cannot overflow */
                return fail(err, 400, ds, "Encapsulated offset too large");
        }
        if (i == ds)
            return fail(err, 400, ds, "expected a decimal offset in Encapsulated");
        if (e->mask & (1u << kind))
            return fail(err, 400, ns, "duplicate Encapsulated entry");
        if (e->n == 0 && off != 0)
            return fail(err, 400, ds, "first Encapsulated offset is not 0");
        if (e->n > 0) {
            int prev = e->e[e->n - 1].kind;
            if (prev > BW_ENC_RES_HDR)
                return fail(err, 400, ns, "Encapsulated entry after the body entry");
            if (kind < prev)
                return fail(err, 400, ns, "Encapsulated entries out of order");
            if (off <= e->e[e->n - 1].offset)
                return fail(err, 400, ds, "Encapsulated offsets do not increase");
        }
        if (e->n >= BW_ENC_MAX) /* unreachable given the checks above; kept as a guard */
            return fail(err, 400, ns, "too many Encapsulated entries");
        e->e[e->n].kind = (uint8_t)kind;
        e->e[e->n].offset = off;
        e->n++;
        e->mask |= (uint8_t)(1u << kind);
        while (i < n && bw_is_ows((unsigned char)v[i]))
            i++;
        if (i >= n)
            break;
        if (v[i] != ',')
            return fail(err, 400, i, "expected ',' in Encapsulated");
        i++;
    }
    if (e->e[e->n - 1].kind <= BW_ENC_RES_HDR)
        return fail(err, 400, n, "Encapsulated has no body entry (null-body is required)");
    return BW_OK;
}

int bw_icap_encap_check(const bw_icap_encap_t *e, bw_icap_method_t m, const char **reason)
{
    unsigned allowed;
    switch (m) {
    case BW_ICAP_REQMOD:
        allowed = 1u << BW_ENC_REQ_HDR | 1u << BW_ENC_REQ_BODY | 1u << BW_ENC_NULL_BODY;
        *reason = "Encapsulated section not allowed in REQMOD (req-hdr, req-body, null-body)";
        break;
    case BW_ICAP_RESPMOD:
        allowed = 1u << BW_ENC_REQ_HDR | 1u << BW_ENC_RES_HDR | 1u << BW_ENC_RES_BODY |
                  1u << BW_ENC_NULL_BODY;
        *reason = "Encapsulated section not allowed in RESPMOD (req-hdr, res-hdr, res-body, "
                  "null-body)";
        break;
    case BW_ICAP_OPTIONS:
        allowed = 1u << BW_ENC_NULL_BODY | 1u << BW_ENC_OPT_BODY;
        *reason = "Encapsulated section not allowed in OPTIONS (null-body, opt-body)";
        break;
    default:
        return BW_OK;
    }
    if (e->mask & ~allowed)
        return BW_ERR;
    *reason = NULL;
    return BW_OK;
}

uint32_t bw_icap_encap_hdr_len(const bw_icap_encap_t *e)
{
    return e->n ? e->e[e->n - 1].offset : 0;
}

int bw_icap_encap_body(const bw_icap_encap_t *e)
{
    return e->n ? e->e[e->n - 1].kind : -1;
}

int bw_icap_encap_split(const bw_icap_encap_t *e, const char *buf, size_t len,
                        bw_icap_str_t *req_hdr, bw_icap_str_t *res_hdr, bw_icap_perr_t *err)
{
    req_hdr->p = res_hdr->p = buf;
    req_hdr->n = res_hdr->n = 0;
    size_t hl = bw_icap_encap_hdr_len(e);
    if (len != hl)
        return fail(err, 400, len < hl ? len : hl,
                    "encapsulated header bytes do not match the Encapsulated offsets");
    for (unsigned k = 0; k + 1 < e->n; k++) {
        bw_icap_str_t *s = e->e[k].kind == BW_ENC_REQ_HDR   ? req_hdr
                           : e->e[k].kind == BW_ENC_RES_HDR ? res_hdr
                                                            : NULL;
        if (!s)
            continue;
        s->p = buf + e->e[k].offset;
        s->n = e->e[k + 1].offset - e->e[k].offset;
    }
    return BW_OK;
}

/* ---- the head ---- */

/* No line end before the limit: wait for more, unless the limit stopped us. */
static int more(size_t len, bw_icap_perr_t *err)
{
    if (len >= BW_ICAP_MAX_HEAD)
        return fail(err, 400, BW_ICAP_MAX_HEAD, "ICAP head too large");
    return BW_AGAIN;
}

static int request_line(const char *buf, size_t pos, size_t eol, bw_icap_req_t *r,
                        bw_icap_perr_t *err)
{
    size_t i = pos;
    while (i < eol && bw_is_tchar((unsigned char)buf[i]))
        i++;
    if (i == pos)
        return fail(err, 400, pos, "invalid ICAP method");
    if (i >= eol || buf[i] != ' ')
        return fail(err, 400, i, "expected one space after the ICAP method");
    r->method_str.p = buf + pos;
    r->method_str.n = i - pos;
    /* Methods are case-sensitive: "reqmod" is a method we do not know. */
    r->method = BW_ICAP_UNKNOWN;
    for (int m = BW_ICAP_OPTIONS; m <= BW_ICAP_RESPMOD; m++) {
        const char *name = bw_icap_method_name((bw_icap_method_t)m);
        if (r->method_str.n == strlen(name) && !memcmp(r->method_str.p, name, r->method_str.n))
            r->method = (bw_icap_method_t)m;
    }
    size_t us = ++i;
    while (i < eol && (unsigned char)buf[i] > 0x20 && (unsigned char)buf[i] < 0x7f)
        i++;
    if (i == us)
        return fail(err, 400, us, "empty ICAP URI");
    if (i >= eol || buf[i] != ' ')
        return fail(err, 400, i, "expected one space after the ICAP URI");
    r->uri_str.p = buf + us;
    r->uri_str.n = i - us;
    size_t vs = ++i, vn = eol - vs;
    if (vn == 8 && !memcmp(buf + vs, "ICAP/1.0", 8)) {
        r->version.p = buf + vs;
        r->version.n = 8;
    } else {
        /* ICAP/1*DIGIT.1*DIGIT is a version we do not speak; anything else is garbage. */
        size_t k = vs + 5, d1, d2;
        int shaped = vn > 5 && !memcmp(buf + vs, "ICAP/", 5);
        for (d1 = k; shaped && k < eol && is_digit((unsigned char)buf[k]); k++)
            ;
        shaped = shaped && k > d1 && k < eol && buf[k] == '.';
        for (d2 = ++k; shaped && k < eol && is_digit((unsigned char)buf[k]); k++)
            ;
        shaped = shaped && k > d2 && k == eol;
        return shaped ? fail(err, 505, vs, "unsupported ICAP version")
                      : fail(err, 400, vs, "malformed ICAP version");
    }
    const char *why;
    if (bw_icap_parse_uri(r->uri_str.p, r->uri_str.n, &r->uri, &why) != BW_OK)
        return fail(err, 400, us, why);
    return BW_OK;
}

/* Comma-separated tokens of a header value, trimmed. */
static int next_token(bw_icap_str_t v, size_t *pos, bw_icap_str_t *t)
{
    if (*pos > v.n)
        return 0;
    size_t s = *pos, e = s;
    while (e < v.n && v.p[e] != ',')
        e++;
    *pos = e + 1;
    while (s < e && bw_is_ows((unsigned char)v.p[s]))
        s++;
    while (e > s && bw_is_ows((unsigned char)v.p[e - 1]))
        e--;
    t->p = v.p + s;
    t->n = e - s;
    return 1;
}

static void first_wins(bw_icap_str_t *dst, const bw_icap_header_t *h)
{
    if (!dst->p)
        *dst = h->value;
}

/* Pulls what the ICAP layer needs out of one header. */
static int header(const char *buf, bw_icap_req_t *r, const bw_icap_header_t *h,
                  bw_icap_perr_t *err)
{
    size_t voff = (size_t)(h->value.p - buf);
    bw_icap_str_t t;
    size_t pos = 0;
    if (bw_icap_str_eq_ci(h->name, "Encapsulated")) {
        if (r->has_encap)
            return fail(err, 400, (size_t)(h->name.p - buf), "duplicate Encapsulated header");
        bw_icap_perr_t pe;
        if (bw_icap_parse_encap(h->value.p, h->value.n, &r->encap, &pe) != BW_OK)
            return fail(err, pe.status, voff + pe.offset, pe.reason);
        const char *why;
        if (bw_icap_encap_check(&r->encap, r->method, &why) != BW_OK)
            return fail(err, 400, voff, why);
        r->has_encap = 1;
    } else if (bw_icap_str_eq_ci(h->name, "Preview")) {
        if (r->has_preview)
            return fail(err, 400, (size_t)(h->name.p - buf), "duplicate Preview header");
        if (h->value.n == 0)
            return fail(err, 400, voff, "empty Preview value");
        uint32_t v = 0;
        for (size_t k = 0; k < h->value.n; k++) {
            if (!is_digit((unsigned char)h->value.p[k]))
                return fail(err, 400, voff + k, "Preview is not a non-negative integer");
            v = v * 10 + (uint32_t)(h->value.p[k] - '0');
            if (v > BW_ICAP_PREVIEW_MAX)
                return fail(err, 400, voff, "Preview too large");
        }
        r->has_preview = 1;
        r->preview = v;
    } else if (bw_icap_str_eq_ci(h->name, "Allow")) {
        while (next_token(h->value, &pos, &t)) {
            if (bw_icap_str_eq_ci(t, "204"))
                r->allow |= BW_ICAP_ALLOW_204;
            else if (bw_icap_str_eq_ci(t, "206"))
                r->allow |= BW_ICAP_ALLOW_206;
            else if (bw_icap_str_eq_ci(t, "trailers"))
                r->allow |= BW_ICAP_ALLOW_TRAILERS;
        }
    } else if (bw_icap_str_eq_ci(h->name, "Connection")) {
        while (next_token(h->value, &pos, &t))
            if (bw_icap_str_eq_ci(t, "close"))
                r->conn_close = 1;
    } else if (bw_icap_str_eq_ci(h->name, "Host")) {
        if (r->host.p)
            return fail(err, 400, (size_t)(h->name.p - buf), "duplicate Host header");
        r->host = h->value;
    } else if (bw_icap_str_eq_ci(h->name, "X-Client-IP")) {
        first_wins(&r->client_ip, h);
    } else if (bw_icap_str_eq_ci(h->name, "X-Client-Username")) {
        first_wins(&r->client_user, h);
    } else if (bw_icap_str_eq_ci(h->name, "X-Authenticated-User")) {
        first_wins(&r->auth_user, h);
    } else if (bw_icap_str_eq_ci(h->name, "X-Server-IP")) {
        first_wins(&r->server_ip, h);
    }
    return BW_OK;
}

/* Could buf[last_len..len) have completed the head?  Only if it holds the LF
 * of an empty line, one that follows another LF. */
static int may_be_complete(const char *buf, size_t len, size_t last_len)
{
    for (size_t i = last_len; i < len; i++) {
        if (buf[i] != '\n')
            continue;
        if ((i >= 1 && buf[i - 1] == '\n') || (i >= 2 && buf[i - 1] == '\r' && buf[i - 2] == '\n'))
            return 1;
    }
    return 0;
}

int bw_icap_parse_head(const char *buf, size_t len, size_t last_len, bw_icap_req_t *req,
                       bw_icap_perr_t *err)
{
    if (last_len && last_len < len && len < BW_ICAP_MAX_HEAD &&
        !may_be_complete(buf, len, last_len))
        return BW_AGAIN;
    memset(req, 0, sizeof *req);
    size_t lim = len < BW_ICAP_MAX_HEAD ? len : BW_ICAP_MAX_HEAD;
    size_t pos = 0, eol, next;
    /* RFC 7230 3.5: ignore empty lines before the request line (a client's
     * stray CRLF after the previous body). */
    for (;;) {
        if (bw_http_find_line(buf, lim, pos, &eol, &next) != BW_OK)
            return more(len, err);
        if (eol != pos)
            break;
        pos = next;
    }
    if (request_line(buf, pos, eol, req, err) != BW_OK)
        return BW_ERR;
    pos = next;
    for (;;) {
        if (bw_http_find_line(buf, lim, pos, &eol, &next) != BW_OK)
            return more(len, err);
        if (eol == pos)
            break;
        if (bw_is_ows((unsigned char)buf[pos]))
            return fail(err, 400, pos, "folded ICAP header line (obs-fold) not accepted");
        if (req->nheaders >= BW_ICAP_MAX_HEADERS)
            return fail(err, 400, pos, "too many ICAP headers");
        bw_icap_header_t *h = &req->headers[req->nheaders];
        size_t off;
        const char *why;
        if (bw_http_parse_header_line(buf, pos, eol, BW_HDR_STRICT, h, &off, &why) != BW_OK)
            return fail(err, 400, off, why);
        req->nheaders++;
        if (header(buf, req, h, err) != BW_OK)
            return BW_ERR;
        pos = next;
    }
    if (!req->has_encap) {
        if (req->method == BW_ICAP_REQMOD || req->method == BW_ICAP_RESPMOD)
            return fail(err, 400, pos, "missing Encapsulated header");
        /* Errata e1: no Encapsulated header means no body. */
        req->encap.n = 1;
        req->encap.mask = 1u << BW_ENC_NULL_BODY;
        req->encap.e[0].kind = BW_ENC_NULL_BODY;
        req->encap.e[0].offset = 0;
    }
    req->head_len = next;
    return (int)next;
}
