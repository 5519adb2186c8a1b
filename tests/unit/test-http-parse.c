/* SPDX-License-Identifier: Apache-2.0 */
/* The encapsulated HTTP header blocks: request and status lines, header
 * lines (lenient where a proxy may pass an origin's oddities through), block
 * exactness, limits, and the helpers the service uses to steer a scan
 * (Content-Length, Content-Type boundary, Content-Encoding).  Inputs end
 * against an inaccessible page. */
#include <stdint.h>

#include "bulwark/bulwark.h"
#include "icap/http-parse.h"
#include "guard.h"
#include "t.h"

static bw_http_msg_t M;
static bw_icap_perr_t E;

static int head(const char *s, int resp)
{
    memset(&E, 0, sizeof E);
    size_t n = strlen(s);
    return bw_http_parse_head(guard(s, n), n, resp, &M, &E);
}

static int block(const char *s, int resp)
{
    memset(&E, 0, sizeof E);
    size_t n = strlen(s);
    return bw_http_parse_block(guard(s, n), n, resp, &M, &E);
}

static int str_is(bw_icap_str_t s, const char *lit)
{
    return s.n == strlen(lit) && (s.n == 0 || !memcmp(s.p, lit, s.n));
}

TEST(http_request_block)
{
    const char *in = "POST http://example.com/upload?x=1 HTTP/1.1\r\nHost: example.com\r\n"
                     "User-Agent: curl/8.0\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n"
                     "Content-Length: 1234\r\n\r\n";
    CHECK_EQ(block(in, 0), BW_OK);
    CHECK_EQ(M.is_response, 0);
    CHECK(str_is(M.method, "POST"));
    CHECK(str_is(M.target, "http://example.com/upload?x=1"));
    CHECK(str_is(M.version, "HTTP/1.1"));
    CHECK_EQ(M.nheaders, 4);
    CHECK_EQ(M.head_len, strlen(in));
    CHECK_EQ(bw_hdr_find(M.headers, M.nheaders, "user-agent", 0), 1);
    CHECK_EQ(bw_hdr_find(M.headers, M.nheaders, "HOST", 1), -1);
    CHECK_EQ(bw_hdr_find(M.headers, M.nheaders, "Cookie", 0), -1);
    bw_icap_str_t t, b;
    CHECK_EQ(bw_http_content_type(&M, &t, &b), BW_OK);
    CHECK(str_is(t, "multipart/form-data"));
    CHECK(str_is(b, "XyZ"));
    uint64_t cl;
    CHECK_EQ(bw_http_content_length(&M, &cl), BW_OK);
    CHECK_EQ(cl, 1234);
}

TEST(http_status_lines)
{
    CHECK(head("HTTP/1.1 200 OK\r\n\r\n", 1) > 0);
    CHECK_EQ(M.status, 200);
    CHECK(str_is(M.reason, "OK"));
    CHECK(head("HTTP/1.0 404 Not  Found Here\r\n\r\n", 1) > 0);
    CHECK_EQ(M.status, 404);
    CHECK(str_is(M.reason, "Not  Found Here"));
    CHECK(head("HTTP/1.1 204\r\n\r\n", 1) > 0);
    CHECK(str_is(M.reason, ""));
    CHECK(head("HTTP/1.1 200 \r\n\r\n", 1) > 0);
    CHECK(str_is(M.reason, ""));
    CHECK(head("HTTP/2.0 999 x\n\n", 1) > 0);
    static const char *const bad[] = {
        "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 099 x\r\n\r\n",
        "HTTPS/1.1 200 OK\r\n\r\n", "http/1.1 200 OK\r\n\r\n", "HTTP/1.1  200 OK\r\n\r\n",
        "HTTP/1.1 200OK\r\n\r\n", "HTTP/11 200 OK\r\n\r\n", "HTTP/1.1 2a0 OK\r\n\r\n",
        "HTTP/1.1 200 O\x01K\r\n\r\n", "GET / HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ(head(bad[i], 1), BW_ERR);
        CHECK_EQ(E.status, 400);
    }
}

TEST(http_request_line_errors)
{
    static const struct {
        const char *in;
        size_t off;
    } bad[] = {
        {"GET  / HTTP/1.1\r\n\r\n", 4},
        {"GET / HTTP/1.1 \r\n\r\n", 6},
        {"GET /\r\n\r\n", 5},
        {" GET / HTTP/1.1\r\n\r\n", 0},
        {"GET / HTTP/1.x\r\n\r\n", 6},
        {"GET /a\x01 HTTP/1.1\r\n\r\n", 6},
        {"G(T / HTTP/1.1\r\n\r\n", 1},
        {"HTTP/1.1 200 OK\r\n\r\n", 4},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = head(bad[i].in, 0);
        if (rc != BW_ERR || E.offset != bad[i].off)
            fprintf(stderr, "  case %zu: rc %d off %zu (%s)\n", i, rc, E.offset,
                    E.reason ? E.reason : "-");
        CHECK_EQ(rc, BW_ERR);
        CHECK_EQ(E.offset, bad[i].off);
    }
    /* raw UTF-8 in a target, passed through by a proxy: accepted */
    CHECK(head("GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", 0) > 0);
}

TEST(http_lenient_headers)
{
    /* obs-fold extends the value; blanks before ':' are dropped */
    const char *in = "HTTP/1.1 200 OK\r\nX-Long: part one\r\n  part two\r\n\tpart three\r\n"
                     "Content-Type : text/html\r\nX-Empty:\r\n continued\r\n\r\n";
    CHECK_EQ(block(in, 1), BW_OK);
    CHECK_EQ(M.nheaders, 3);
    CHECK(str_is(M.headers[0].value, "part one\r\n  part two\r\n\tpart three"));
    CHECK(str_is(M.headers[1].name, "Content-Type"));
    CHECK(str_is(M.headers[1].value, "text/html"));
    CHECK(str_is(M.headers[2].value, "continued"));
    CHECK_EQ(head("HTTP/1.1 200 OK\r\n folded-first\r\n\r\n", 1), BW_ERR);
    CHECK_CONTAINS(E.reason, "continuation");
    CHECK_EQ(head("HTTP/1.1 200 OK\r\nA: b\r\n x\x01\r\n\r\n", 1), BW_ERR);
    CHECK_EQ(head("HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", 1), BW_ERR);
    CHECK_EQ(head("HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n", 1), BW_ERR);
    CHECK_EQ(E.offset, 21);
}

TEST(http_block_must_be_exact)
{
    CHECK_EQ(block("HTTP/1.1 200 OK\r\nA: b\r\n", 1), BW_ERR);
    CHECK_CONTAINS(E.reason, "does not end");
    CHECK_EQ(block("HTTP/1.1 200 OK\r\nA: b\r\n\r\nextra", 1), BW_ERR);
    CHECK_CONTAINS(E.reason, "after the end");
    CHECK_EQ(E.offset, 25);
    CHECK_EQ(block("", 1), BW_ERR);
    CHECK_EQ(block("HTTP/1.1 200 OK\n\n", 1), BW_OK);
}

TEST(http_every_prefix_needs_more)
{
    const char *in = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX: y\r\n z\r\n\r\n";
    size_t n = strlen(in);
    for (size_t k = 0; k < n; k++) {
        const char *p = guard(in, k);
        CHECK_EQ(bw_http_parse_head(p, k, 1, &M, &E), BW_AGAIN);
    }
    CHECK_EQ(head(in, 1), (int)n);
}

TEST(http_limits)
{
    static char buf[BW_HTTP_MAX_HEADERS * 16 + 200];
    size_t n = (size_t)sprintf(buf, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < BW_HTTP_MAX_HEADERS; i++)
        n += (size_t)sprintf(buf + n, "H%d: v\r\n", i);
    strcpy(buf + n, "\r\n");
    CHECK_EQ(block(buf, 1), BW_OK);
    CHECK_EQ(M.nheaders, BW_HTTP_MAX_HEADERS);
    /* Past the table, lines are checked and counted, not refused: a refusal
     * is a bypass for a client that fails open (Squid's bypass=on). */
    strcpy(buf + n, "One-More: v\r\n folded\r\nContent-Type: x/y\r\n\r\n");
    CHECK_EQ(block(buf, 1), BW_OK);
    CHECK_EQ(M.nheaders, BW_HTTP_MAX_HEADERS);
    CHECK_EQ(M.dropped, 2);
    CHECK(str_is(M.headers[BW_HTTP_MAX_HEADERS - 1].value, "v")); /* the fold is not its */
    CHECK_EQ(bw_hdr_find(M.headers, M.nheaders, "Content-Type", 0), -1);
    strcpy(buf + n, "Bad\x01Line: v\r\n\r\n");
    CHECK_EQ(block(buf, 1), BW_ERR);
    strcpy(buf + n, "A: v\r\n bad\x01fold\r\n\r\n");
    CHECK_EQ(block(buf, 1), BW_ERR);
    /* a block bigger than BW_ICAP_MAX_ENCAP_HDRS never completes */
    size_t big = BW_ICAP_MAX_ENCAP_HDRS + 10;
    char *b = malloc(big);
    memcpy(b, "HTTP/1.1 200 OK\r\nX: ", 20);
    memset(b + 20, 'a', big - 20);
    const char *p = guard(b, big);
    CHECK_EQ(bw_http_parse_head(p, big, 1, &M, &E), BW_ERR);
    CHECK_CONTAINS(E.reason, "too large");
    CHECK_EQ(bw_http_parse_head(p, BW_ICAP_MAX_ENCAP_HDRS - 1, 1, &M, &E), BW_AGAIN);
    free(b);
    guard_free();
}

static bw_http_msg_t *with(const char *hdrs)
{
    static char buf[2048];
    snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\n%s\r\n", hdrs);
    if (block(buf, 1) != BW_OK) {
        fprintf(stderr, "  could not parse: %s (%s)\n", hdrs, E.reason);
        M.nheaders = 0;
    }
    return &M;
}

TEST(http_content_length)
{
    uint64_t v = 7;
    CHECK_EQ(bw_http_content_length(with("Content-Length: 0\r\n"), &v), BW_OK);
    CHECK_EQ(v, 0);
    CHECK_EQ(bw_http_content_length(with("content-length: 18446744073709551615\r\n"), &v), BW_OK);
    CHECK(v == UINT64_MAX);
    CHECK_EQ(bw_http_content_length(with("Content-Length: 18446744073709551616\r\n"), &v), BW_ERR);
    CHECK_EQ(bw_http_content_length(with("X: y\r\n"), &v), BW_DECLINED);
    CHECK_EQ(bw_http_content_length(with("Content-Length: 5, 5\r\nContent-Length: 5\r\n"), &v),
             BW_OK);
    CHECK_EQ(v, 5);
    CHECK_EQ(bw_http_content_length(with("Content-Length: 5\r\nContent-Length: 6\r\n"), &v),
             BW_ERR);
    CHECK_EQ(bw_http_content_length(with("Content-Length: 5, 6\r\n"), &v), BW_ERR);
    CHECK_EQ(bw_http_content_length(with("Content-Length: -1\r\n"), &v), BW_ERR);
    CHECK_EQ(bw_http_content_length(with("Content-Length: 1 2\r\n"), &v), BW_ERR);
    CHECK_EQ(bw_http_content_length(with("Content-Length:\r\n"), &v), BW_ERR);
    CHECK_EQ(bw_http_content_length(with("Content-Length: 5,\r\n"), &v), BW_ERR);
}

TEST(http_content_type_boundary)
{
    bw_icap_str_t t, b;
    CHECK_EQ(bw_http_content_type(with("Content-Type: text/html; charset=utf-8\r\n"), &t, &b),
             BW_OK);
    CHECK(str_is(t, "text/html"));
    CHECK_EQ(b.n, 0);
    CHECK_EQ(bw_http_content_type(with("Content-Type: multipart/form-data; "
                                       "boundary=\"----WebKitFormBoundary7MA4YWxk\"\r\n"),
                                  &t, &b),
             BW_OK);
    CHECK(str_is(b, "----WebKitFormBoundary7MA4YWxk"));
    /* lenient: RFC 2046 boundary characters unquoted, blanks around '=' */
    CHECK_EQ(bw_http_content_type(with("Content-Type: Multipart/Form-Data ;charset=x; "
                                       "BOUNDARY = abc'()+_,-./:=? ; x=1\r\n"),
                                  &t, &b),
             BW_OK);
    CHECK(str_is(t, "Multipart/Form-Data"));
    CHECK(str_is(b, "abc'()+_,-./:=?"));
    /* an unquoted boundary with a blank inside is ambiguous */
    CHECK_EQ(bw_http_content_type(with("Content-Type: multipart/mixed; boundary=a b\r\n"), &t,
                                  &b),
             BW_ERR);
    CHECK_EQ(bw_http_content_type(with("Content-Type: multipart/mixed;boundary=\"a b\";x=\"q;r\"\r\n"),
                                  &t, &b),
             BW_OK);
    CHECK(str_is(t, "multipart/mixed"));
    CHECK(str_is(b, "a b"));
    CHECK_EQ(bw_http_content_type(with("Content-Type: multipart/mixed;\r\n boundary=folded\r\n"),
                                  &t, &b),
             BW_OK);
    CHECK(str_is(b, "folded"));
    CHECK_EQ(bw_http_content_type(with("X: y\r\n"), &t, &b), BW_DECLINED);
    static const char *const bad[] = {
        "Content-Type: multipart/mixed; boundary=\"abc\r\n",
        "Content-Type: multipart/mixed; boundary=\"a\\\"b\"\r\n",
        "Content-Type: multipart/mixed; boundary=\r\n",
        "Content-Type: multipart/mixed; boundary=\"\"\r\n",
        "Content-Type: multipart/mixed; boundary\r\n",
        "Content-Type: multipart/mixed; boundary=a; boundary=b\r\n",
        "Content-Type: multipart/mixed; boundary=a\r\nContent-Type: text/plain\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ(bw_http_content_type(with(bad[i]), &t, &b), BW_ERR);
    /* identical duplicates are harmless; junk parameters are skipped */
    CHECK_EQ(bw_http_content_type(with("Content-Type: a/b; boundary=z\r\n"
                                       "Content-Type: a/b; boundary=z\r\n"),
                                  &t, &b),
             BW_OK);
    CHECK_EQ(bw_http_content_type(with("Content-Type: a/b; ;junk; =x; boundary=z\r\n"), &t, &b),
             BW_OK);
    CHECK(str_is(b, "z"));
}

TEST(http_boundary_candidates)
{
    bw_icap_str_t b[4];
    int ext[4], amb = 0;
    size_t n = bw_http_boundaries(with("Content-Type: multipart/form-data; boundary=abc\r\n"), b, ext,
                                  4, &amb);
    CHECK_EQ(n, 1);
    CHECK(str_is(b[0], "abc"));
    CHECK_EQ(amb, 0);
    n = bw_http_boundaries(with("Content-Type: multipart/form-data; boundary=A; boundary=\"B;c\"\r\n"),
                           b, ext, 4, &amb);
    CHECK_EQ(n, 2);
    CHECK(str_is(b[0], "A") && str_is(b[1], "B;c"));
    CHECK_EQ(amb, 1);
    n = bw_http_boundaries(with("Content-Type: Multipart/Mixed; Boundary*=utf-8''a%41\r\n"), b, ext, 4,
                           &amb);
    CHECK_EQ(n, 1);
    CHECK(str_is(b[0], "utf-8''a%41") && ext[0] == 1 && amb == 1);
    n = bw_http_boundaries(with("Content-Type: text/plain\r\nContent-Type: multipart/form-data; "
                                "boundary=X\r\n"), b, ext, 4, &amb);
    CHECK_EQ(n, 1);
    CHECK(str_is(b[0], "X") && amb == 1);
    n = bw_http_boundaries(with("Content-Type: multipart/form-data; boundary=X\r\n"
                                "Content-Type: multipart/form-data; boundary=X\r\n"), b, ext, 4, &amb);
    CHECK_EQ(n, 1);
    CHECK_EQ(amb, 0); /* the same header twice: no doubt */
    n = bw_http_boundaries(with("Content-Type: multipart/form-data; boundary=\"open\r\n"), b, ext, 4,
                           &amb);
    CHECK_EQ(n, 0);
    CHECK_EQ(amb, 1);
    n = bw_http_boundaries(with("Content-Type: text/html; boundary=X\r\n"), b, ext, 4, &amb);
    CHECK_EQ(n, 0);
    n = bw_http_boundaries(with("Content-Type: multipart/form-data; boundary=1; boundary=2; "
                                "boundary=3; boundary=4; boundary=5\r\n"), b, ext, 4, &amb);
    CHECK_EQ(n, 4);
    CHECK_EQ(amb, 1);
}

TEST(http_attachment)
{
    CHECK_EQ(bw_http_is_attachment(with("Content-Disposition: attachment\r\n")), 1);
    CHECK_EQ(bw_http_is_attachment(with("Content-Disposition: ATTACHMENT; x=y\r\n")), 1);
    CHECK_EQ(bw_http_is_attachment(with("Content-Disposition: inline; filename=\"a.exe\"\r\n")), 1);
    CHECK_EQ(bw_http_is_attachment(with("Content-Disposition: inline; filename*=UTF-8''a\r\n")), 1);
    CHECK_EQ(bw_http_is_attachment(with("Content-Disposition: inline\r\n")), 0);
    CHECK_EQ(bw_http_is_attachment(with("X: attachment\r\n")), 0);
}

TEST(http_content_encoding)
{
    bw_http_coding_t c[4];
    size_t n = 9;
    CHECK_EQ(bw_http_content_encoding(with("X: y\r\n"), c, 4, &n), BW_OK);
    CHECK_EQ(n, 0);
    CHECK_EQ(bw_http_content_encoding(with("Content-Encoding: gzip\r\n"), c, 4, &n), BW_OK);
    CHECK_EQ(n, 1);
    CHECK_EQ(c[0], BW_HTTP_CE_GZIP);
    CHECK_EQ(bw_http_content_encoding(with("Content-Encoding: deflate, X-GZIP\r\n"
                                           "content-encoding: identity, br,,zstd\r\n"),
                                      c, 4, &n),
             BW_OK);
    CHECK_EQ(n, 4);
    CHECK_EQ(c[0], BW_HTTP_CE_DEFLATE);
    CHECK_EQ(c[1], BW_HTTP_CE_GZIP);
    CHECK_EQ(c[2], BW_HTTP_CE_BR);
    CHECK_EQ(c[3], BW_HTTP_CE_ZSTD);
    CHECK_EQ(bw_http_content_encoding(with("Content-Encoding: x-compress, aes128gcm\r\n"), c, 4,
                                      &n),
             BW_OK);
    CHECK_EQ(c[0], BW_HTTP_CE_COMPRESS);
    CHECK_EQ(c[1], BW_HTTP_CE_OTHER);
    CHECK_EQ(bw_http_content_encoding(with("Content-Encoding: gzip, gzip, gzip, gzip, gzip\r\n"),
                                      c, 4, &n),
             BW_ERR);
}

int main(void) { return t_run(); }
