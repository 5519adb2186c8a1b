/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes a whole ICAP request as a connection would see it: the head
 * (bw_icap_parse_head), the encapsulated HTTP header blocks
 * (bw_icap_encap_split + bw_http_parse_block + the header helpers) and the
 * chunked body (bw_icap_chunk_feed).  Besides "no crash, no overread" it
 * checks the contracts: slices stay inside the buffer, a parsed Encapsulated
 * obeys the per-method rules, errors carry a status and an offset within the
 * input, and parsing the head incrementally (two pieces, with last_len)
 * gives the same answer as parsing it at once. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/bulwark.h"
#include "icap/http-parse.h"
#include "icap/icap-parse.h"

static const char *g_lo, *g_hi;

static void in_buf(bw_icap_str_t s)
{
    if (s.n && (s.p < g_lo || s.p + s.n > g_hi))
        abort();
}

static void check_req(const bw_icap_req_t *r, int rc, size_t size)
{
    if ((size_t)rc > size || r->head_len != (size_t)rc || r->nheaders > BW_ICAP_MAX_HEADERS)
        abort();
    in_buf(r->method_str);
    in_buf(r->uri_str);
    in_buf(r->version);
    in_buf(r->uri.host);
    in_buf(r->uri.path);
    in_buf(r->uri.query);
    for (size_t i = 0; i < r->nheaders; i++) {
        in_buf(r->headers[i].name);
        in_buf(r->headers[i].value);
        if (r->headers[i].name.n == 0)
            abort();
    }
    const char *why;
    if (r->encap.n == 0 || r->encap.n > BW_ENC_MAX ||
        bw_icap_encap_check(&r->encap, r->method, &why) != BW_OK)
        abort();
    for (unsigned k = 1; k < r->encap.n; k++)
        if (r->encap.e[k].offset <= r->encap.e[k - 1].offset)
            abort();
    if (r->encap.e[0].offset != 0 || bw_icap_encap_hdr_len(&r->encap) > BW_ICAP_MAX_ENCAP_HDRS)
        abort();
    if (r->has_preview && r->preview > BW_ICAP_PREVIEW_MAX)
        abort();
    if (r->version.n != 8 || memcmp(r->version.p, "ICAP/1.0", 8))
        abort();
}

static void check_http(const char *p, size_t n, int resp)
{
    static bw_http_msg_t m;
    bw_icap_perr_t e;
    if (bw_http_parse_block(p, n, resp, &m, &e) != BW_OK) {
        if (!e.reason || e.offset > n || e.status != 400)
            abort();
        return;
    }
    if (m.head_len != n || m.nheaders > BW_HTTP_MAX_HEADERS)
        abort();
    uint64_t cl;
    bw_icap_str_t t, b;
    bw_http_coding_t c[4];
    size_t nc;
    (void)bw_http_content_length(&m, &cl);
    if (bw_http_content_type(&m, &t, &b) == BW_OK) {
        in_buf(t);
        in_buf(b);
    }
    if (bw_http_content_encoding(&m, c, 4, &nc) == BW_OK && nc > 4)
        abort();
    bw_icap_str_t bnd[4];
    int ext[4], amb;
    size_t nb = bw_http_boundaries(&m, bnd, ext, 4, &amb);
    if (nb > 4)
        abort();
    for (size_t i = 0; i < nb; i++) {
        in_buf(bnd[i]);
        if (!bnd[i].n || (ext[i] != 0 && ext[i] != 1))
            abort();
    }
    (void)bw_http_is_attachment(&m);
}

static void body(const char *p, size_t n)
{
    bw_icap_chunk_t st;
    bw_icap_chunk_reset(&st);
    size_t off = 0;
    for (;;) {
        size_t used;
        bw_icap_str_t d;
        bw_chunk_ev_t ev = bw_icap_chunk_feed(&st, p + off, n - off, &used, &d);
        if (used > n - off)
            abort();
        off += used;
        if (ev == BW_CHUNK_DATA) {
            if (d.n == 0)
                abort();
            in_buf(d);
            continue;
        }
        if (ev == BW_CHUNK_ERROR && (st.err.offset > n || !st.err.reason))
            abort();
        if (ev == BW_CHUNK_NEED_MORE && off != n)
            abort();
        return;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy: ASan flags any read past the end. */
    char *buf = malloc(size ? size : 1);
    if (size)
        memcpy(buf, data, size);
    g_lo = buf;
    g_hi = buf + size;
    static bw_icap_req_t r, r2;
    bw_icap_perr_t e, e2;
    int rc = bw_icap_parse_head(buf, size, 0, &r, &e);
    if (rc == BW_ERR) {
        if (!e.reason || e.offset > size || (e.status != 400 && e.status != 505))
            abort();
    } else if (rc != BW_AGAIN) {
        if (rc <= 0)
            abort();
        check_req(&r, rc, size);
    }
    /* Incrementally: the first piece, then all of it, as a connection does. */
    size_t cut = size ? (size_t)data[0] * size / 256 : 0;
    int rc1 = bw_icap_parse_head(buf, cut, 0, &r2, &e2);
    if (rc1 > 0 && rc1 != rc)
        abort(); /* a prefix completed, differently */
    if (rc1 == BW_ERR && (rc != BW_ERR || e2.offset != e.offset || e2.status != e.status))
        abort(); /* a prefix failed where the whole does not */
    if (rc1 == BW_AGAIN) {
        int rc2 = bw_icap_parse_head(buf, size, cut, &r2, &e2);
        if (rc2 != rc && !(rc2 == BW_AGAIN && rc == BW_ERR))
            abort();
        if (rc2 > 0 && (r2.method != r.method || r2.nheaders != r.nheaders ||
                        r2.encap.n != r.encap.n || r2.allow != r.allow))
            abort();
        if (rc2 == BW_ERR && (e2.offset != e.offset || e2.status != e.status))
            abort();
    }
    if (rc > 0) {
        size_t pos = (size_t)rc, hl = bw_icap_encap_hdr_len(&r.encap);
        if (hl <= size - pos) {
            bw_icap_str_t rq, rs;
            if (bw_icap_encap_split(&r.encap, buf + pos, hl, &rq, &rs, &e) != BW_OK)
                abort();
            if (rq.n)
                check_http(rq.p, rq.n, 0);
            if (rs.n)
                check_http(rs.p, rs.n, 1);
            pos += hl;
            int bk = bw_icap_encap_body(&r.encap);
            if (bk != BW_ENC_NULL_BODY)
                body(buf + pos, size - pos);
        }
    } else {
        /* Garbage heads still exercise the other parsers. */
        static bw_http_msg_t m;
        (void)bw_http_parse_head(buf, size, size & 1, &m, &e);
        bw_icap_encap_t en;
        if (bw_icap_parse_encap(buf, size, &en, &e) == BW_OK &&
            (en.n == 0 || en.e[0].offset != 0))
            abort();
    }
    free(buf);
    return 0;
}
