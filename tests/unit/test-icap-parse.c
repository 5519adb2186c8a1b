/* SPDX-License-Identifier: Apache-2.0 */
/* The ICAP head parser: what Squid and c-icap-client send, every
 * Encapsulated combination per method, Preview/Allow/Connection, URIs,
 * versions, limits, pipelining, and the resumability contract (every prefix
 * of a head is "need more", the whole gives the same answer however it
 * arrived).  Inputs sit at the end of a page followed by an inaccessible
 * page, so any read past the input faults. */
#include <stdint.h>

#include "bulwark/bulwark.h"
#include "icap/http-parse.h"
#include "icap/icap-parse.h"
#include "guard.h"
#include "t.h"

static bw_icap_req_t REQ;
static bw_icap_perr_t ERR;

/* Parses s (copied against a guard page); the buffer stays mapped until the
 * next call, so slices in REQ stay readable. */
static int parse_n(const char *s, size_t n)
{
    memset(&ERR, 0, sizeof ERR);
    const char *p = guard(s, n);
    return bw_icap_parse_head(p, n, 0, &REQ, &ERR);
}

static int parse(const char *s) { return parse_n(s, strlen(s)); }

static int str_is(bw_icap_str_t s, const char *lit)
{
    return s.n == strlen(lit) && (s.n == 0 || !memcmp(s.p, lit, s.n));
}

#define SQUID_RESPMOD                                                                           \
    "RESPMOD icap://127.0.0.1:1344/av/respmod ICAP/1.0\r\n"                                     \
    "Host: 127.0.0.1:1344\r\n"                                                                  \
    "Date: Mon, 01 Jan 2024 00:00:00 GMT\r\n"                                                   \
    "Encapsulated: req-hdr=0, res-hdr=137, res-body=296\r\n"                                    \
    "Preview: 0\r\n"                                                                            \
    "Allow: 204, trailers\r\n"                                                                  \
    "X-Client-IP: 10.0.0.5\r\n"                                                                 \
    "X-Client-Username: dXNlcg==\r\n"                                                           \
    "\r\n"

TEST(icap_squid_respmod_head)
{
    const char *in = SQUID_RESPMOD "GET / HTTP/1.1\r\n";
    int rc = parse(in);
    CHECK_EQ(rc, (int)strlen(SQUID_RESPMOD));
    CHECK_EQ(REQ.head_len, strlen(SQUID_RESPMOD));
    CHECK_EQ(REQ.method, BW_ICAP_RESPMOD);
    CHECK(str_is(REQ.method_str, "RESPMOD"));
    CHECK(str_is(REQ.uri_str, "icap://127.0.0.1:1344/av/respmod"));
    CHECK(str_is(REQ.uri.scheme, "icap"));
    CHECK(str_is(REQ.uri.host, "127.0.0.1"));
    CHECK_EQ(REQ.uri.port, 1344);
    CHECK(str_is(REQ.uri.path, "/av/respmod"));
    CHECK(str_is(REQ.uri.query, ""));
    CHECK(str_is(REQ.version, "ICAP/1.0"));
    CHECK_EQ(REQ.nheaders, 7);
    CHECK(str_is(REQ.headers[1].name, "Date"));
    CHECK(str_is(REQ.headers[1].value, "Mon, 01 Jan 2024 00:00:00 GMT"));
    CHECK_EQ(REQ.has_encap, 1);
    CHECK_EQ(REQ.encap.n, 3);
    CHECK_EQ(REQ.encap.e[0].kind, BW_ENC_REQ_HDR);
    CHECK_EQ(REQ.encap.e[1].kind, BW_ENC_RES_HDR);
    CHECK_EQ(REQ.encap.e[1].offset, 137);
    CHECK_EQ(REQ.encap.e[2].kind, BW_ENC_RES_BODY);
    CHECK_EQ(bw_icap_encap_hdr_len(&REQ.encap), 296);
    CHECK_EQ(bw_icap_encap_body(&REQ.encap), BW_ENC_RES_BODY);
    CHECK_EQ(REQ.has_preview, 1);
    CHECK_EQ(REQ.preview, 0);
    CHECK_EQ(REQ.allow, BW_ICAP_ALLOW_204 | BW_ICAP_ALLOW_TRAILERS);
    CHECK_EQ(REQ.conn_close, 0);
    CHECK(str_is(REQ.host, "127.0.0.1:1344"));
    CHECK(str_is(REQ.client_ip, "10.0.0.5"));
    CHECK(str_is(REQ.client_user, "dXNlcg=="));
    CHECK(REQ.auth_user.p == NULL);
}

TEST(icap_options_without_encapsulated)
{
    CHECK(parse("OPTIONS icap://icap.example.net/avscan ICAP/1.0\r\nHost: icap.example.net\r\n"
                "Allow: 206\r\n\r\n") > 0);
    CHECK_EQ(REQ.method, BW_ICAP_OPTIONS);
    CHECK_EQ(REQ.has_encap, 0);
    CHECK_EQ(REQ.encap.n, 1);
    CHECK_EQ(bw_icap_encap_body(&REQ.encap), BW_ENC_NULL_BODY);
    CHECK_EQ(bw_icap_encap_hdr_len(&REQ.encap), 0);
    CHECK_EQ(REQ.allow, BW_ICAP_ALLOW_206);
    CHECK_EQ(REQ.uri.port, 0);
    CHECK(parse("OPTIONS /avscan ICAP/1.0\r\nEncapsulated: null-body=0\r\n\r\n") > 0);
    CHECK_EQ(REQ.has_encap, 1);
    CHECK(str_is(REQ.uri.path, "/avscan"));
    CHECK(str_is(REQ.uri.host, ""));
}

struct combo {
    const char *method, *encap;
    int ok;
};

TEST(icap_encapsulated_combinations)
{
    static const struct combo c[] = {
        /* REQMOD: [req-hdr] (req-body | null-body) */
        {"REQMOD", "req-hdr=0, req-body=120", 1},
        {"REQMOD", "req-hdr=0, null-body=120", 1},
        {"REQMOD", "req-body=0", 1},
        {"REQMOD", "null-body=0", 1},
        {"REQMOD", "req-hdr=0, res-body=120", 0},
        {"REQMOD", "res-hdr=0, res-body=120", 0},
        {"REQMOD", "req-hdr=0, opt-body=120", 0},
        {"REQMOD", "req-hdr=0", 0},
        {"REQMOD", "req-hdr=0, res-hdr=50, req-body=120", 0},
        /* RESPMOD: [req-hdr] [res-hdr] (res-body | null-body) */
        {"RESPMOD", "req-hdr=0, res-hdr=137, res-body=296", 1},
        {"RESPMOD", "req-hdr=0, res-hdr=137, null-body=296", 1},
        {"RESPMOD", "res-hdr=0, res-body=100", 1},
        {"RESPMOD", "req-hdr=0, res-body=100", 1},
        {"RESPMOD", "res-body=0", 1},
        {"RESPMOD", "null-body=0", 1},
        {"RESPMOD", "req-hdr=0, req-body=100", 0},
        {"RESPMOD", "res-hdr=0, opt-body=100", 0},
        {"RESPMOD", "req-hdr=0, res-hdr=137", 0},
        /* OPTIONS: null-body | opt-body */
        {"OPTIONS", "null-body=0", 1},
        {"OPTIONS", "opt-body=0", 1},
        {"OPTIONS", "req-hdr=0, null-body=10", 0},
        {"OPTIONS", "res-body=0", 0},
        /* rules for every method */
        {"RESPMOD", "res-hdr=137, req-hdr=0, res-body=296", 0}, /* order */
        {"RESPMOD", "req-hdr=0, res-hdr=0, res-body=296", 0},   /* offsets must increase */
        {"RESPMOD", "req-hdr=0, res-hdr=300, res-body=296", 0},
        {"RESPMOD", "req-hdr=5, res-body=296", 0},              /* first offset is 0 */
        {"RESPMOD", "req-hdr=0, req-hdr=5, res-body=296", 0},   /* duplicate */
        {"RESPMOD", "res-body=0, null-body=0", 0},              /* two bodies */
        {"RESPMOD", "res-body=0, res-hdr=5", 0},                /* entry after the body */
        {"RESPMOD", "req-hdr=0, foo-hdr=5, res-body=9", 0},     /* unknown name */
        {"RESPMOD", "req-hdr=0 res-body=9", 0},                 /* missing comma */
        {"RESPMOD", "req-hdr=0,, res-body=9", 0},
        {"RESPMOD", "req-hdr=0, res-body=", 0},
        {"RESPMOD", "req-hdr=0, res-body=-1", 0},
        {"RESPMOD", "req-hdr=0, res-body=12x", 0},
        {"RESPMOD", "req-hdr=0, res-body=99999999999999999999999", 0},
        {"RESPMOD", "req-hdr=0, res-body=262145", 0},           /* > BW_ICAP_MAX_ENCAP_HDRS */
        {"RESPMOD", "req-hdr=0, res-body=262144", 1},
        {"RESPMOD", "", 0},
        {"RESPMOD", "req-hdr=0, res-body=9,", 0},
        /* lenient blanks and case */
        {"RESPMOD", "req-hdr=0,res-body=9", 1},
        {"RESPMOD", "req-hdr = 0 ,  res-body= 9", 1},
        {"RESPMOD", "REQ-HDR=0, Res-Body=9", 1},
        /* unknown methods are only checked for syntax */
        {"FOO", "req-hdr=0, opt-body=9", 1},
        {"FOO", "req-hdr=0, opt-body=9, res-hdr=10", 0},
    };
    char buf[512];
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        int n = snprintf(buf, sizeof buf, "%s icap://h/s ICAP/1.0\r\nEncapsulated: %s\r\n\r\n",
                         c[i].method, c[i].encap);
        int rc = parse_n(buf, (size_t)n);
        if ((rc > 0) != c[i].ok)
            fprintf(stderr, "  case %zu: %s \"%s\": rc %d (%s)\n", i, c[i].method, c[i].encap,
                    rc, rc < 0 ? ERR.reason : "ok");
        CHECK_EQ(rc > 0, c[i].ok);
        if (rc < 0) {
            CHECK_EQ(rc, BW_ERR);
            CHECK_EQ(ERR.status, 400);
            CHECK(ERR.reason != NULL);
            /* the offset points into the Encapsulated line */
            size_t vs = (size_t)(strstr(buf, "Encapsulated") - buf);
            CHECK(ERR.offset >= vs && ERR.offset <= (size_t)n - 4);
        }
    }
}

TEST(icap_encapsulated_error_offset_and_duplicates)
{
    const char *in = "RESPMOD icap://h/s ICAP/1.0\r\nEncapsulated: req-hdr=0, foo=5\r\n\r\n";
    CHECK_EQ(parse(in), BW_ERR);
    CHECK_EQ(ERR.offset, (size_t)(strstr(in, "foo") - in));
    CHECK_CONTAINS(ERR.reason, "unknown Encapsulated entry");
    CHECK_EQ(parse("RESPMOD icap://h/s ICAP/1.0\r\nEncapsulated: res-body=0\r\n"
                   "Encapsulated: res-body=0\r\n\r\n"),
             BW_ERR);
    CHECK_CONTAINS(ERR.reason, "duplicate Encapsulated");
    CHECK_EQ(parse("REQMOD icap://h/s ICAP/1.0\r\nHost: h\r\n\r\n"), BW_ERR);
    CHECK_CONTAINS(ERR.reason, "missing Encapsulated");
    CHECK_EQ(ERR.status, 400);
    CHECK_EQ(parse("RESPMOD icap://h/s ICAP/1.0\r\nHost: a\r\nHost: b\r\n"
                   "Encapsulated: null-body=0\r\n\r\n"),
             BW_ERR);
    CHECK_CONTAINS(ERR.reason, "duplicate Host");
}

TEST(icap_preview_values)
{
    static const struct {
        const char *v;
        int ok;
        uint32_t val;
    } p[] = {
        {"0", 1, 0},         {"1024", 1, 1024},     {"  4096  ", 1, 4096},
        {"1048576", 1, 1 << 20}, {"1048577", 0, 0}, {"-1", 0, 0},
        {"", 0, 0},          {"12a", 0, 0},         {"4294967296", 0, 0},
        {"99999999999999999999999", 0, 0},           {"+5", 0, 0},
        {"0x10", 0, 0},
    };
    char buf[256];
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) {
        int n = snprintf(buf, sizeof buf,
                         "RESPMOD icap://h/s ICAP/1.0\r\nEncapsulated: res-body=0\r\n"
                         "Preview:%s\r\n\r\n",
                         p[i].v);
        int rc = parse_n(buf, (size_t)n);
        CHECK_EQ(rc > 0, p[i].ok);
        if (rc > 0) {
            CHECK_EQ(REQ.has_preview, 1);
            CHECK_EQ(REQ.preview, p[i].val);
        } else {
            CHECK_EQ(ERR.status, 400);
        }
    }
    CHECK_EQ(parse("RESPMOD icap://h/s ICAP/1.0\r\nEncapsulated: res-body=0\r\nPreview: 1\r\n"
                   "Preview: 1\r\n\r\n"),
             BW_ERR);
    CHECK(parse("RESPMOD icap://h/s ICAP/1.0\r\nEncapsulated: res-body=0\r\n\r\n") > 0);
    CHECK_EQ(REQ.has_preview, 0);
}

TEST(icap_allow_connection_and_client_headers)
{
    CHECK(parse("REQMOD icap://h/r ICAP/1.0\r\nEncapsulated: req-hdr=0, null-body=10\r\n"
                "Allow: foo, 204 , 206,TRAILERS,\r\nAllow: 2040\r\n"
                "Connection: keep-alive, Close\r\n"
                "x-client-ip: ::1\r\nX-Client-IP: 10.9.9.9\r\n"
                "X-Authenticated-User: Zm9v\r\nX-Server-IP: 192.0.2.1\r\n\r\n") > 0);
    CHECK_EQ(REQ.allow, BW_ICAP_ALLOW_204 | BW_ICAP_ALLOW_206 | BW_ICAP_ALLOW_TRAILERS);
    CHECK_EQ(REQ.conn_close, 1);
    CHECK(str_is(REQ.client_ip, "::1")); /* the first one wins */
    CHECK(str_is(REQ.auth_user, "Zm9v"));
    CHECK(str_is(REQ.server_ip, "192.0.2.1"));
    CHECK(parse("REQMOD icap://h/r ICAP/1.0\r\nEncapsulated: null-body=0\r\n"
                "Connection: keep-alive\r\nAllow: 2040\r\n\r\n") > 0);
    CHECK_EQ(REQ.conn_close, 0);
    CHECK_EQ(REQ.allow, 0);
}

struct uri_case {
    const char *uri;
    int ok;
    const char *scheme, *host;
    unsigned port;
    const char *path, *query;
};

TEST(icap_uris)
{
    static const struct uri_case u[] = {
        {"icap://127.0.0.1:1344/av/respmod", 1, "icap", "127.0.0.1", 1344, "/av/respmod", ""},
        {"icap://host/av/reqmod?mode=x&y=1", 1, "icap", "host", 0, "/av/reqmod", "mode=x&y=1"},
        {"ICAP://Host.Example:11344/", 1, "ICAP", "Host.Example", 11344, "/", ""},
        {"icaps://h:11344/x", 1, "icaps", "h", 11344, "/x", ""},
        {"icap://[::1]:1344/avscan", 1, "icap", "::1", 1344, "/avscan", ""},
        {"icap://[fe80::1%25eth0]/s", 1, "icap", "fe80::1%25eth0", 0, "/s", ""},
        {"icap://host", 1, "icap", "host", 0, "", ""},
        {"icap://host?q", 1, "icap", "host", 0, "", "q"},
        {"icap://host:/x", 1, "icap", "host", 0, "/x", ""},
        {"/avscan", 1, "", "", 0, "/avscan", ""},
        {"/", 1, "", "", 0, "/", ""},
        {"http://host/x", 0, 0, 0, 0, 0, 0},
        {"icap:/host/x", 0, 0, 0, 0, 0, 0},
        {"avscan", 0, 0, 0, 0, 0, 0},
        {"icap://user@host/x", 0, 0, 0, 0, 0, 0},
        {"icap://host:70000/x", 0, 0, 0, 0, 0, 0},
        {"icap://host:0/x", 0, 0, 0, 0, 0, 0},
        {"icap://host:12a/x", 0, 0, 0, 0, 0, 0},
        {"icap://host:000001344/x", 0, 0, 0, 0, 0, 0},
        {"icap://:1344/x", 0, 0, 0, 0, 0, 0},
        {"icap:///x", 0, 0, 0, 0, 0, 0},
        {"icap://[::1/x", 0, 0, 0, 0, 0, 0},
        {"icap://[::g]/x", 0, 0, 0, 0, 0, 0},
        {"icap://[::1]x/x", 0, 0, 0, 0, 0, 0},
        {"icap://ho!st/x", 0, 0, 0, 0, 0, 0},
        {"icap://host/x#frag", 0, 0, 0, 0, 0, 0},
    };
    char buf[512];
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
        int n = snprintf(buf, sizeof buf, "OPTIONS %s ICAP/1.0\r\n\r\n", u[i].uri);
        int rc = parse_n(buf, (size_t)n);
        if ((rc > 0) != u[i].ok)
            fprintf(stderr, "  uri %s: rc %d %s\n", u[i].uri, rc, rc < 0 ? ERR.reason : "");
        CHECK_EQ(rc > 0, u[i].ok);
        if (rc > 0) {
            CHECK(str_is(REQ.uri.scheme, u[i].scheme));
            CHECK(str_is(REQ.uri.host, u[i].host));
            CHECK_EQ(REQ.uri.port, u[i].port);
            CHECK(str_is(REQ.uri.path, u[i].path));
            CHECK(str_is(REQ.uri.query, u[i].query));
        } else {
            CHECK_EQ(ERR.status, 400);
            CHECK_EQ(ERR.offset, 8); /* the URI's start */
        }
    }
}

TEST(icap_request_line_errors)
{
    static const struct {
        const char *in;
        int status;
        size_t off;
    } b[] = {
        {"OPTIONS icap://h/s ICAP/1.1\r\n\r\n", 505, 19},
        {"OPTIONS icap://h/s ICAP/2.0\r\n\r\n", 505, 19},
        {"OPTIONS icap://h/s ICAP/10.12\r\n\r\n", 505, 19},
        {"OPTIONS icap://h/s ICAP/2\r\n\r\n", 400, 19},
        {"OPTIONS icap://h/s ICAP/1.0 \r\n\r\n", 400, 19},
        {"OPTIONS icap://h/s icap/1.0\r\n\r\n", 400, 19},
        {"OPTIONS icap://h/s HTTP/1.1\r\n\r\n", 400, 19},
        {"OPTIONS icap://h/s\r\n\r\n", 400, 18},
        {"OPTIONS  icap://h/s ICAP/1.0\r\n\r\n", 400, 8},
        {"OPTIONS\ticap://h/s ICAP/1.0\r\n\r\n", 400, 7},
        {"OPTIONS icap://h/s  ICAP/1.0\r\n\r\n", 400, 19},
        {" OPTIONS icap://h/s ICAP/1.0\r\n\r\n", 400, 0},
        {"OPT(IONS icap://h/s ICAP/1.0\r\n\r\n", 400, 3},
        {"OPTIONS icap://h/\x01 ICAP/1.0\r\n\r\n", 400, 17},
        {"OPTIONS icap://h/s ICAP/1.0\r\rHost: x\r\n\r\n", 400, 19},
        {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400, 6},
    };
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) {
        int rc = parse(b[i].in);
        if (rc != BW_ERR || ERR.status != b[i].status || ERR.offset != b[i].off)
            fprintf(stderr, "  case %zu: rc %d status %d off %zu (%s)\n", i, rc, ERR.status,
                    ERR.offset, ERR.reason ? ERR.reason : "-");
        CHECK_EQ(rc, BW_ERR);
        CHECK_EQ(ERR.status, b[i].status);
        CHECK_EQ(ERR.offset, b[i].off);
    }
}

TEST(icap_unknown_methods_parse_and_are_flagged)
{
    CHECK(parse("PURGE icap://h/s ICAP/1.0\r\nHost: h\r\n\r\n") > 0);
    CHECK_EQ(REQ.method, BW_ICAP_UNKNOWN);
    CHECK(str_is(REQ.method_str, "PURGE"));
    CHECK(parse("reqmod icap://h/s ICAP/1.0\r\n\r\n") > 0); /* case-sensitive */
    CHECK_EQ(REQ.method, BW_ICAP_UNKNOWN);
    CHECK_STR(bw_icap_method_name(REQ.method), "UNKNOWN");
    CHECK_STR(bw_icap_method_name(BW_ICAP_RESPMOD), "RESPMOD");
    CHECK_STR(bw_icap_sect_name(BW_ENC_NULL_BODY), "null-body");
}

TEST(icap_header_line_errors)
{
    static const struct {
        const char *hdrs;
        const char *reason_part;
    } b[] = {
        {"Host : x\r\n", "blank between header name and colon"},
        {"Host\r\n", "without colon"},
        {": x\r\n", "empty header name"},
        {"Ho(st: x\r\n", "invalid character in header name"},
        {"Host: x\r\n continued\r\n", "obs-fold"},
        {"\tHost: x\r\n", "obs-fold"},
        {"Host: a\x01" "b\r\n", "control character"},
        {"Host: a\rb\r\n", "control character"},
        {"Host: a\x7f\r\n", "control character"},
    };
    char buf[512];
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) {
        int n = snprintf(buf, sizeof buf, "OPTIONS icap://h/s ICAP/1.0\r\n%s\r\n", b[i].hdrs);
        CHECK_EQ(parse_n(buf, (size_t)n), BW_ERR);
        CHECK_EQ(ERR.status, 400);
        CHECK_CONTAINS(ERR.reason, b[i].reason_part);
        CHECK(ERR.offset >= 29 && ERR.offset < (size_t)n);
    }
    /* obs-text and tabs in values are fine, blanks around the value trimmed */
    CHECK(parse("OPTIONS icap://h/s ICAP/1.0\r\nX-Name: \t caf\xc3\xa9\tbar \t\r\nX-Empty:\r\n\r\n") >
          0);
    CHECK(str_is(REQ.headers[0].value, "caf\xc3\xa9\tbar"));
    CHECK(str_is(REQ.headers[1].value, ""));
}

TEST(icap_line_endings_and_leading_blank_lines)
{
    const char *lf = "RESPMOD icap://h/s ICAP/1.0\nEncapsulated: res-body=0\nPreview: 5\n\n";
    CHECK_EQ(parse(lf), (int)strlen(lf));
    CHECK_EQ(REQ.preview, 5);
    const char *mixed = "RESPMOD icap://h/s ICAP/1.0\r\nEncapsulated: res-body=0\n\r\n";
    CHECK_EQ(parse(mixed), (int)strlen(mixed));
    const char *lead = "\r\n\nOPTIONS icap://h/s ICAP/1.0\r\n\r\n";
    CHECK_EQ(parse(lead), (int)strlen(lead));
    CHECK_EQ(REQ.method, BW_ICAP_OPTIONS);
    CHECK_EQ(parse("\r\n\r\n"), BW_AGAIN);
    CHECK_EQ(parse(""), BW_AGAIN);
}

TEST(icap_pipelined_heads)
{
    const char *a = "OPTIONS icap://h/av/respmod ICAP/1.0\r\nHost: h\r\n\r\n";
    const char *b = "RESPMOD icap://h/av/respmod ICAP/1.0\r\nEncapsulated: null-body=0\r\n\r\n";
    char buf[512];
    snprintf(buf, sizeof buf, "%s%s", a, b);
    int rc = parse(buf);
    CHECK_EQ(rc, (int)strlen(a));
    CHECK_EQ(REQ.method, BW_ICAP_OPTIONS);
    rc = parse(buf + strlen(a));
    CHECK_EQ(rc, (int)strlen(b));
    CHECK_EQ(REQ.method, BW_ICAP_RESPMOD);
}

TEST(icap_size_limits)
{
    static char big[BW_ICAP_MAX_HEAD + 200];
    const char *start = "RESPMOD icap://h/s ICAP/1.0\r\nEncapsulated: null-body=0\r\nX-Big: ";
    size_t sl = strlen(start);
    /* exactly BW_ICAP_MAX_HEAD bytes: accepted */
    memcpy(big, start, sl);
    memset(big + sl, 'a', BW_ICAP_MAX_HEAD - sl - 4);
    memcpy(big + BW_ICAP_MAX_HEAD - 4, "\r\n\r\n", 4);
    CHECK_EQ(parse_n(big, BW_ICAP_MAX_HEAD), (int)BW_ICAP_MAX_HEAD);
    /* one more byte: refused, whether or not the end has arrived */
    memset(big + sl, 'a', BW_ICAP_MAX_HEAD - sl - 3);
    memcpy(big + BW_ICAP_MAX_HEAD - 3, "\r\n\r\n", 4);
    CHECK_EQ(parse_n(big, BW_ICAP_MAX_HEAD + 1), BW_ERR);
    CHECK_EQ(ERR.status, 400);
    CHECK_CONTAINS(ERR.reason, "too large");
    CHECK_EQ(parse_n(big, BW_ICAP_MAX_HEAD), BW_ERR);
    CHECK_EQ(parse_n(big, BW_ICAP_MAX_HEAD - 1), BW_AGAIN);
    /* a huge header that never ends */
    memset(big + sl, 'b', sizeof big - sl);
    CHECK_EQ(parse_n(big, sizeof big), BW_ERR);
    CHECK_EQ(ERR.offset, BW_ICAP_MAX_HEAD);
    /* header count */
    static char many[8192];
    size_t n = (size_t)sprintf(many, "OPTIONS icap://h/s ICAP/1.0\r\n");
    for (int i = 0; i < BW_ICAP_MAX_HEADERS; i++)
        n += (size_t)sprintf(many + n, "X-H%d: %d\r\n", i, i);
    memcpy(many + n, "\r\n", 2);
    CHECK_EQ(parse_n(many, n + 2), (int)(n + 2));
    CHECK_EQ(REQ.nheaders, BW_ICAP_MAX_HEADERS);
    n += (size_t)sprintf(many + n, "X-One-Too-Many: 1\r\n\r\n");
    CHECK_EQ(parse_n(many, n), BW_ERR);
    CHECK_CONTAINS(ERR.reason, "too many ICAP headers");
}

/* Every prefix says "need more" (or the same error the whole input gives),
 * with and without last_len; the whole input gives the same answer however
 * it arrived. */
static int split_agrees(const char *in)
{
    size_t n = strlen(in);
    static bw_icap_req_t whole_req;
    bw_icap_perr_t whole_err;
    memset(&whole_err, 0, sizeof whole_err);
    const char *p = guard(in, n);
    int whole = bw_icap_parse_head(p, n, 0, &whole_req, &whole_err);
    int ok = 1;
    for (size_t k = 0; k < n && ok; k++) {
        int rc = parse_n(in, k);
        if (rc >= 0 && rc != whole)
            ok = 0; /* complete early, and differently */
        if (rc == BW_ERR && (whole != BW_ERR || ERR.offset != whole_err.offset ||
                             ERR.status != whole_err.status))
            ok = 0;
        if (!ok)
            fprintf(stderr, "  prefix %zu: rc %d, whole %d\n", k, rc, whole);
    }
    /* byte-at-a-time with last_len, as a connection would call it */
    p = guard(in, n);
    int rc = BW_AGAIN;
    size_t last = 0;
    for (size_t k = 1; k <= n && rc == BW_AGAIN; k++) {
        rc = bw_icap_parse_head(p, k, last, &REQ, &ERR);
        last = k;
    }
    if (rc != whole || (rc > 0 && (REQ.method != whole_req.method ||
                                   REQ.nheaders != whole_req.nheaders ||
                                   REQ.encap.n != whole_req.encap.n ||
                                   REQ.preview != whole_req.preview)) ||
        (rc == BW_ERR && (ERR.offset != whole_err.offset || ERR.status != whole_err.status))) {
        fprintf(stderr, "  incremental: rc %d, whole %d\n", rc, whole);
        ok = 0;
    }
    return ok;
}

TEST(icap_split_at_every_byte)
{
    CHECK(split_agrees(SQUID_RESPMOD));
    CHECK(split_agrees("\r\nOPTIONS icap://h/s ICAP/1.0\nHost: h\n\n"));
    CHECK(split_agrees("REQMOD icap://h/r ICAP/1.0\r\nEncapsulated: req-hdr=0, req-body=40\r\n"
                       "Connection: close\r\n\r\nGET http://x/ HTTP/1.1\r\n"));
    /* errors: a prefix either waits or reports the very same error */
    CHECK(split_agrees("OPTIONS icap://h/s ICAP/1.1\r\nHost: h\r\n\r\n"));
    CHECK(split_agrees("RESPMOD icap://h/s ICAP/1.0\r\nEncapsulated: res-body=5\r\n\r\n"));
    CHECK(split_agrees("RESPMOD icap://h/s ICAP/1.0\r\nHost: h\r\n\r\n"));
}

TEST(icap_encap_split_and_http_blocks)
{
    const char *req_hdr = "GET http://origin/file.zip HTTP/1.1\r\nHost: origin\r\n\r\n";
    const char *res_hdr = "HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\n"
                          "Content-Length: 5\r\n\r\n";
    char head[512], hdrs[512];
    size_t rl = strlen(req_hdr), sl = strlen(res_hdr);
    int hn = snprintf(head, sizeof head,
                      "RESPMOD icap://h/av/respmod ICAP/1.0\r\nHost: h\r\n"
                      "Encapsulated: req-hdr=0, res-hdr=%zu, res-body=%zu\r\n\r\n",
                      rl, rl + sl);
    CHECK_EQ(parse_n(head, (size_t)hn), hn);
    size_t want = bw_icap_encap_hdr_len(&REQ.encap);
    CHECK_EQ(want, rl + sl);
    snprintf(hdrs, sizeof hdrs, "%s%s", req_hdr, res_hdr);
    bw_icap_req_t req = REQ; /* the slices above point into the old guard copy: not used */
    const char *p = guard(hdrs, want);
    bw_icap_str_t rq, rs;
    bw_icap_perr_t e;
    CHECK_EQ(bw_icap_encap_split(&req.encap, p, want - 1, &rq, &rs, &e), BW_ERR);
    CHECK_EQ(bw_icap_encap_split(&req.encap, p, want, &rq, &rs, &e), BW_OK);
    CHECK_EQ(rq.n, rl);
    CHECK_EQ(rs.n, sl);
    CHECK(rs.p == p + rl);
    static bw_http_msg_t m;
    CHECK_EQ(bw_http_parse_block(rq.p, rq.n, 0, &m, &e), BW_OK);
    CHECK(str_is(m.target, "http://origin/file.zip"));
    CHECK_EQ(bw_http_parse_block(rs.p, rs.n, 1, &m, &e), BW_OK);
    CHECK_EQ(m.status, 200);
    uint64_t cl = 0;
    CHECK_EQ(bw_http_content_length(&m, &cl), BW_OK);
    CHECK_EQ(cl, 5);
    /* an OPTIONS or null-body-only request has nothing to split */
    bw_icap_encap_t nb = {1, 1u << BW_ENC_NULL_BODY, {{BW_ENC_NULL_BODY, 0}}};
    CHECK_EQ(bw_icap_encap_split(&nb, p, 0, &rq, &rs, &e), BW_OK);
    CHECK_EQ(rq.n + rs.n, 0);
    guard_free();
}

TEST(icap_perr_message)
{
    CHECK_EQ(parse("OPTIONS icap://h/s ICAP/1.0\r\nBad Name: x\r\n\r\n"), BW_ERR);
    bw_err_t e;
    CHECK_EQ(bw_icap_perr_to_err(&ERR, &e), BW_ERR);
    CHECK_CONTAINS(e.msg, "byte 32: ");
}

int main(void) { return t_run(); }
