/* SPDX-License-Identifier: Apache-2.0 */
/* The multipart splitter: parts, headers, data slices, and the same result
 * for every way the body can be cut into feeds.  Every DATA slice is checked
 * against the body at its reported offset, so a slice with a byte too many
 * (a delimiter's CRLF) or a wrong offset fails wherever it happens. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/bulwark.h"
#include "icap/multipart.h"
#include "t.h"

#define EICAR "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

/* A transcript of events, data merged per part, so that any split of the
 * same body must give the same string. */
typedef struct rec {
    char *s;
    size_t n, cap;
    const char *body;    /* the whole body, to check slices against */
    size_t body_len;
    uint64_t last_end;   /* data slices come in body order, never overlapping */
    int bad_slice;
    int stop_after;      /* > 0: stop at that event */
    int nev;
    unsigned parts_begun, errors, ends;
    uint64_t err_off;
    uint64_t first_data_off[8]; /* per real part, offset of its first data */
    char name[8][256], filename[8][1024], ctype[8][256];
} rec_t;

static void app(rec_t *r, const char *p, size_t n)
{
    if (r->n + n + 1 > r->cap) {
        r->cap = (r->n + n + 1) * 2;
        r->s = realloc(r->s, r->cap);
    }
    memcpy(r->s + r->n, p, n);
    r->n += n;
    r->s[r->n] = 0;
}

static int cb(void *ud, const bw_mp_event_t *ev)
{
    rec_t *r = ud;
    char line[2048];
    int k = 0;
    switch (ev->type) {
    case BW_MP_PART_BEGIN:
        k = snprintf(line, sizeof(line), "<B%d:%u %s|%s|%s|%s>", ev->part->kind, ev->part->index,
                     ev->part->name, ev->part->filename, ev->part->ctype, ev->part->cte);
        if (ev->part->kind == BW_MP_KIND_PART && ev->part->index < 8) {
            unsigned i = ev->part->index;
            snprintf(r->name[i], sizeof(r->name[i]), "%s", ev->part->name);
            snprintf(r->filename[i], sizeof(r->filename[i]), "%s", ev->part->filename);
            snprintf(r->ctype[i], sizeof(r->ctype[i]), "%s", ev->part->ctype);
            r->first_data_off[i] = UINT64_MAX;
        }
        r->parts_begun++;
        break;
    case BW_MP_PART_DATA:
        if (ev->len == 0 || ev->offset < r->last_end || ev->offset + ev->len > r->body_len ||
            memcmp(ev->data, r->body + ev->offset, ev->len))
            r->bad_slice = 1;
        r->last_end = ev->offset + ev->len;
        if (ev->part->kind == BW_MP_KIND_PART && ev->part->index < 8 &&
            r->first_data_off[ev->part->index] == UINT64_MAX)
            r->first_data_off[ev->part->index] = ev->offset;
        app(r, ev->data, ev->len);
        break;
    case BW_MP_PART_END:
        k = snprintf(line, sizeof(line), "<E t%d s%llu>", ev->truncated,
                     (unsigned long long)ev->part->size);
        break;
    case BW_MP_END:
        k = snprintf(line, sizeof(line), "<END t%d e%d n%u>", ev->truncated, ev->error,
                     ev->nparts);
        r->ends++;
        break;
    case BW_MP_ERROR:
        k = snprintf(line, sizeof(line), "<ERR %llu %s>", (unsigned long long)ev->offset,
                     ev->reason);
        r->errors++;
        r->err_off = ev->offset;
        break;
    }
    if (k > 0)
        app(r, line, (size_t)k);
    return r->stop_after && ++r->nev >= r->stop_after;
}

/* Runs body through a splitter fed at the given cut points (sorted). */
static int run(rec_t *r, const char *bnd, const char *body, size_t len, const size_t *cuts,
               size_t ncuts)
{
    static bw_mp_t m; /* 17 KiB: not on the stack of every test */
    memset(r, 0, sizeof(*r));
    r->body = body;
    r->body_len = len;
    if (bw_mp_init(&m, bnd, strlen(bnd)) != BW_OK)
        return BW_ERR;
    size_t at = 0;
    for (size_t c = 0; c <= ncuts; c++) {
        size_t end = c < ncuts ? cuts[c] : len;
        int rc = bw_mp_feed(&m, body + at, end - at, cb, r);
        if (rc != BW_OK)
            return rc;
        at = end;
    }
    return bw_mp_finish(&m, cb, r);
}

static void rec_free(rec_t *r) { free(r->s); r->s = NULL; }

/* Whole, byte by byte, and every single and (for short bodies) every pair of
 * cut points must give the same transcript. Returns the whole-feed one. */
static char *check_splits(const char *bnd, const char *body, size_t len)
{
    rec_t r, x;
    int ok = 1;
    CHECK_EQ(run(&r, bnd, body, len, NULL, 0), BW_OK);
    CHECK(!r.bad_slice);
    CHECK_EQ(r.ends, 1);
    size_t *cuts = malloc((len + 1) * sizeof(size_t));
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    run(&x, bnd, body, len, cuts, len ? len - 1 : 0);
    ok &= x.s && !strcmp(x.s, r.s) && !x.bad_slice;
    rec_free(&x);
    for (size_t a = 0; a <= len && ok; a++) {
        size_t c1[1] = {a};
        run(&x, bnd, body, len, c1, 1);
        ok &= !strcmp(x.s, r.s) && !x.bad_slice;
        rec_free(&x);
        for (size_t b = a; len <= 160 && b <= len && ok; b++) {
            size_t c2[2] = {a, b};
            run(&x, bnd, body, len, c2, 2);
            ok &= !strcmp(x.s, r.s) && !x.bad_slice;
            if (!ok)
                fprintf(stderr, "  split %zu,%zu:\n  %s\n  vs\n  %s\n", a, b, x.s, r.s);
            rec_free(&x);
        }
    }
    CHECK(ok);
    free(cuts);
    return r.s;
}

#define S(lit) lit, sizeof(lit) - 1

TEST(two_parts_field_and_file)
{
    const char body[] = "--XyZ\r\n"
                        "Content-Disposition: form-data; name=\"field1\"\r\n\r\n"
                        "value1\r\n"
                        "--XyZ\r\n"
                        "Content-Disposition: form-data; name=\"up\"; filename=\"eicar.com\"\r\n"
                        "Content-Type: application/octet-stream\r\n\r\n" EICAR "\r\n"
                        "--XyZ--\r\n";
    char *t = check_splits("XyZ", S(body));
    CHECK_STR(t, "<B0:0 field1|||>value1<E t0 s6>"
                 "<B0:1 up|eicar.com|application/octet-stream|>" EICAR "<E t0 s68>"
                 "<END t0 e0 n2>");
    free(t);
    rec_t r;
    run(&r, "XyZ", S(body), NULL, 0);
    /* the file's data start exactly where EICAR starts in the body */
    CHECK_EQ(r.first_data_off[1], (uint64_t)(strstr(body, "X5O!") - body));
    CHECK_STR(r.filename[1], "eicar.com");
    rec_free(&r);
}

TEST(boundary_prefixes_inside_data_stay_data)
{
    const char body[] = "--bnd\r\n\r\n"
                        "a\r\n--bn\r\n--bndX\r\n-\r\n--\r\r\n--bnd-x\r\n--bnd \tz\r\nend\r\n"
                        "--bnd--";
    char *t = check_splits("bnd", S(body));
    CHECK_STR(t, "<B0:0 |||>a\r\n--bn\r\n--bndX\r\n-\r\n--\r\r\n--bnd-x\r\n--bnd \tz\r\nend"
                 "<E t0 s47><END t0 e0 n1>");
    free(t);
}

TEST(crlf_handling_lf_only_and_padding)
{
    /* LF-only lines, transport padding after a boundary, CR runs in data */
    const char body[] = "--b\n"
                        "Content-Disposition: form-data; name=a\n\n"
                        "x\r\r\r\n"
                        "--b  \t\r\n\r\n"
                        "\r\n\r\n"
                        "\n--b--  \r\nepi";
    char *t = check_splits("b", S(body));
    CHECK_STR(t, "<B0:0 a|||>x\r\r<E t0 s3><B0:1 |||>\r\n\r\n<E t0 s4>"
                 "<B2:2 |||>epi<E t0 s3><END t0 e0 n2>");
    free(t);
}

/* Padding is held as runs of one blank: more than BW_MP_PAD_RUNS runs
 * (blanks alternating) is not taken for a delimiter, and stays data. */
TEST(too_many_padding_runs_is_not_a_delimiter)
{
    char pad[2 * BW_MP_PAD_RUNS + 3];
    for (int i = 0; i < 2 * BW_MP_PAD_RUNS + 2; i++)
        pad[i] = i & 1 ? '\t' : ' ';
    pad[2 * BW_MP_PAD_RUNS + 2] = 0;
    char body[256];
    int n = snprintf(body, sizeof(body), "--b\r\n\r\nA\r\n--b%s\r\nB\r\n--b--", pad);
    char *t = check_splits("b", body, (size_t)n);
    char want[256];
    snprintf(want, sizeof(want), "<B0:0 |||>A\r\n--b%s\r\nB<E t0 s%d><END t0 e0 n1>", pad,
             3 + 3 + (int)strlen(pad) + 2 + 1);
    CHECK_STR(t, want);
    free(t);
    /* 16 runs of 3 blanks each is still a delimiter */
    char pad2[64];
    for (int i = 0; i < 48; i++)
        pad2[i] = (i / 3) & 1 ? '\t' : ' ';
    pad2[48] = 0;
    n = snprintf(body, sizeof(body), "--b\r\n\r\nA\r\n--b%s\r\n\r\nB\r\n--b--", pad2);
    t = check_splits("b", body, (size_t)n);
    CHECK_STR(t, "<B0:0 |||>A<E t0 s1><B0:1 |||>B<E t0 s1><END t0 e0 n2>");
    free(t);
}

TEST(empty_parts)
{
    /* no headers and no body; headers and no body (the header line's CRLF is
     * the delimiter's, RFC 2046); blank line then an empty body */
    const char body[] = "--q\r\n\r\n--q\r\n"
                        "Content-Type: text/plain\r\n--q\r\n"
                        "Content-Disposition: form-data; name=\"e\"\r\n\r\n\r\n--q\r\n"
                        "Content-Disposition: form-data; name=\"f\"; filename=\"\"\r\n\r\n\r\n"
                        "--q--";
    char *t = check_splits("q", S(body));
    CHECK_STR(t, "<B0:0 |||><E t0 s0><B0:1 ||text/plain|><E t0 s0>"
                 "<B0:2 e|||><E t0 s0><B0:3 f|||><E t0 s0><END t0 e0 n4>");
    free(t);
}

TEST(header_delimiter_line_close)
{
    const char body[] = "--q\r\nContent-Type: a/b\r\n--q--\r\nafter";
    char *t = check_splits("q", S(body));
    CHECK_STR(t, "<B0:0 ||a/b|><E t0 s0><B2:1 |||>after<E t0 s5><END t0 e0 n1>");
    free(t);
}

TEST(filename_quotes_utf8_and_star)
{
    const char body[] = "--B\r\n"
                        "content-disposition: form-data; name=\"a\\\"b\"; filename=\"x \\\"q\\\" "
                        "\xc3\xa9t\xc3\xa9 C:\\dir\\f.txt\"\r\n"
                        "Content-Transfer-Encoding:  base64 \r\n\r\n"
                        "d\r\n--B\r\n"
                        "Content-Disposition: form-data; filename*=UTF-8''%E2%82%AC%20rate.txt; "
                        "name=n2; filename=\"fallback.txt\"\r\n\r\n"
                        "e\r\n--B--\r\n";
    char *t = check_splits("B", S(body));
    free(t);
    rec_t r;
    CHECK_EQ(run(&r, "B", S(body), NULL, 0), BW_OK);
    CHECK_STR(r.name[0], "a\"b");
    CHECK_STR(r.filename[0], "x \"q\" \xc3\xa9t\xc3\xa9 C:\\dir\\f.txt");
    CHECK_CONTAINS(r.s, "|base64>d<E");
    CHECK_STR(r.name[1], "n2");
    CHECK_STR(r.filename[1], "\xe2\x82\xac rate.txt");
    rec_free(&r);
}

TEST(missing_close_delimiter_is_truncated)
{
    const char b1[] = "--B\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n" EICAR;
    char *t = check_splits("B", S(b1));
    CHECK_STR(t, "<B0:0 f|||>" EICAR "<E t1 s68><END t1 e0 n1>");
    free(t);
    /* ends inside a would-be delimiter: those bytes were data after all */
    const char b2[] = "--B\r\n\r\nabc\r\n--";
    t = check_splits("B", S(b2));
    CHECK_STR(t, "<B0:0 |||>abc\r\n--<E t1 s7><END t1 e0 n1>");
    free(t);
    /* ends right after a full delimiter: the part is complete */
    const char b3[] = "--B\r\n\r\nabc\r\n--B";
    t = check_splits("B", S(b3));
    CHECK_STR(t, "<B0:0 |||>abc<E t0 s3><END t1 e0 n1>");
    free(t);
    /* ends inside the header block: those bytes are still handed over */
    const char b4[] = "--B\r\nContent-Type: x\r\n";
    t = check_splits("B", S(b4));
    CHECK_STR(t, "<B3:0 |||>Content-Type: x\r\n<E t0 s17><END t1 e0 n0>");
    free(t);
}

TEST(preamble_and_epilogue_are_pseudo_parts)
{
    const char body[] = "This is the preamble " EICAR "\r\n--B\r\n\r\npart\r\n--B--\r\n"
                        "epilogue\r\n--B\r\nnot a part";
    char *t = check_splits("B", S(body));
    CHECK_STR(t, "<B1:0 |||>This is the preamble " EICAR "<E t0 s89>"
                 "<B0:0 |||>part<E t0 s4>"
                 "<B2:1 |||>epilogue\r\n--B\r\nnot a part<E t0 s25><END t0 e0 n1>");
    free(t);
}

TEST(no_delimiter_at_all)
{
    const char body[] = "just some bytes\r\n--C\r\n";
    char *t = check_splits("B", S(body));
    CHECK_STR(t, "<B1:0 |||>just some bytes\r\n--C\r\n<E t0 s22><END t1 e0 n0>");
    free(t);
}

/* A part header block far over BW_MP_HEAD_MAX (one 40 KB line, then many
 * short ones) does not stop the split: the part's data still starts at its
 * first byte, and the headers after the big ones are still read. */
TEST(huge_header_block_is_followed)
{
    size_t len = 60000;
    char *body = malloc(len + 200);
    size_t n = (size_t)sprintf(body, "--B\r\n\r\nok\r\n--B\r\nX-Big: ");
    memset(body + n, 'a', 40000);
    n += 40000;
    n += (size_t)sprintf(body + n, "\r\n");
    while (n < 58000)
        n += (size_t)sprintf(body + n, "X-Pad: %05zu\r\n", n);
    n += (size_t)sprintf(body + n, "Content-Disposition: form-data; name=\"f\"; filename=\"e.com\"\r\n"
                                   "\r\n%s\r\n--B--\r\n", EICAR);
    rec_t r;
    CHECK_EQ(run(&r, "B", body, n, NULL, 0), BW_OK);
    CHECK_EQ(r.errors, 0);
    CHECK(!r.bad_slice);
    CHECK_STR(r.filename[1], "e.com");
    CHECK_EQ(r.first_data_off[1], n - 68 - 9);
    CHECK_CONTAINS(r.s, "<END t0 e0 n2>");
    size_t cuts[] = {1, 20, 20000, 39990, 41000, 57999, n - 80};
    rec_t x;
    run(&x, "B", body, n, cuts, 7);
    CHECK_STR(x.s, r.s);
    rec_free(&x);
    rec_free(&r);
    free(body);
}

/* RFC 2046 transport padding has no length: 17 spaces, 20 tabs, or 5000
 * blanks in a few runs after a delimiter still end the part there. */
TEST(long_transport_padding)
{
    static char body[12000];
    const char *pads[] = {"                 ", "\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t", NULL};
    char big[5001];
    for (int i = 0; i < 5000; i++)
        big[i] = i < 2500 ? ' ' : '\t';
    big[5000] = 0;
    pads[2] = big;
    for (int k = 0; k < 3; k++) {
        int n = snprintf(body, sizeof body, "--B%s\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n"
                         "%s\r\n--B--%s\r\n", pads[k], EICAR, pads[k]);
        rec_t r;
        CHECK_EQ(run(&r, "B", body, (size_t)n, NULL, 0), BW_OK);
        CHECK(!r.bad_slice);
        CHECK_STR(r.name[0], "a");
        CHECK(strstr(r.s, "|||>" EICAR "<E t0 s68><END t0 e0 n1>") != NULL);
        rec_free(&r);
    }
    /* padding then something else: not a delimiter, every byte stays data */
    int n = snprintf(body, sizeof body, "--B\r\n\r\nx\r\n--B%s!\r\nmore\r\n--B--", big);
    rec_t r;
    CHECK_EQ(run(&r, "B", body, (size_t)n, NULL, 0), BW_OK);
    CHECK(!r.bad_slice);
    char want[6000];
    snprintf(want, sizeof want, "x\r\n--B%s!\r\nmore<E t0 s%d>", big, 5000 + 13);
    CHECK_CONTAINS(r.s, want);
    rec_free(&r);
}

TEST(cte_base64_and_qp)
{
    bw_cte_dec_t d;
    char out[256];
    CHECK_EQ(bw_cte_kind(" Base64 "), BW_CTE_BASE64);
    CHECK_EQ(bw_cte_kind("quoted-printable"), BW_CTE_QP);
    CHECK_EQ(bw_cte_kind("binary"), BW_CTE_NONE);
    CHECK_EQ(bw_cte_kind("x-uuencode"), BW_CTE_OTHER);
    /* EICAR in base64, fed one byte at a time, with line breaks */
    const char *b64 = "WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJE\r\n"
                      "LUFOVElWSVJVUy1URVNULUZJTEUhJEgrSCo=\r\n";
    bw_cte_init(&d, BW_CTE_BASE64);
    size_t o = 0;
    for (size_t i = 0; b64[i]; i++)
        o += bw_cte_feed(&d, b64 + i, 1, out + o);
    o += bw_cte_end(&d, out + o);
    CHECK_EQ(o, 68);
    CHECK(!memcmp(out, EICAR, 68));
    /* quoted-printable: escapes, soft breaks (CRLF and LF), a bad escape kept */
    const char *qp = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H=\r\n+H=2A"
                     " =ZZ=\n.";
    for (size_t cut = 0; cut <= strlen(qp); cut++) {
        bw_cte_init(&d, BW_CTE_QP);
        o = bw_cte_feed(&d, qp, cut, out);
        o += bw_cte_feed(&d, qp + cut, strlen(qp) - cut, out + o);
        o += bw_cte_end(&d, out + o);
        CHECK_EQ(o, 68 + 5);
        CHECK(!memcmp(out, EICAR " =ZZ.", 73));
    }
}

TEST(init_rejects_bad_boundaries)
{
    static bw_mp_t m;
    char big[BW_MP_BOUNDARY_MAX + 2];
    memset(big, 'b', sizeof(big));
    CHECK_EQ(bw_mp_init(&m, "", 0), BW_ERR);
    CHECK_EQ(bw_mp_init(&m, "a\r\nb", 4), BW_ERR);
    CHECK_EQ(bw_mp_init(&m, big, sizeof(big)), BW_ERR);
    CHECK_EQ(bw_mp_init(&m, big, BW_MP_BOUNDARY_MAX), BW_OK);
}

TEST(long_boundary_split_everywhere)
{
    char bnd[BW_MP_BOUNDARY_MAX + 1];
    memset(bnd, '-', sizeof(bnd));
    for (int i = 0; i < BW_MP_BOUNDARY_MAX; i += 7)
        bnd[i] = 'k';
    bnd[BW_MP_BOUNDARY_MAX] = 0;
    static char body[3 * BW_MP_BOUNDARY_MAX + 64];
    int n = snprintf(body, sizeof(body), "--%s\r\n\r\nD1\r\n--%.*s\r\n--%s--", bnd,
                     BW_MP_BOUNDARY_MAX - 1, bnd, bnd);
    char *t = check_splits(bnd, body, (size_t)n);
    static char want[3 * BW_MP_BOUNDARY_MAX + 64];
    snprintf(want, sizeof(want), "<B0:0 |||>D1\r\n--%.*s<E t0 s%d><END t0 e0 n1>",
             BW_MP_BOUNDARY_MAX - 1, bnd, 2 + 2 + 2 + BW_MP_BOUNDARY_MAX - 1);
    CHECK_STR(t, want);
    free(t);
}

TEST(callback_can_stop)
{
    const char body[] = "--B\r\n\r\none\r\n--B\r\n\r\ntwo\r\n--B--";
    static bw_mp_t m;
    rec_t r;
    memset(&r, 0, sizeof(r));
    r.body = body;
    r.body_len = sizeof(body) - 1;
    r.stop_after = 2; /* BEGIN, DATA "one" */
    CHECK_EQ(bw_mp_init(&m, "B", 1), BW_OK);
    CHECK_EQ(bw_mp_feed(&m, body, sizeof(body) - 1, cb, &r), BW_DECLINED);
    CHECK_EQ(r.nev, 2);
    CHECK_EQ(bw_mp_feed(&m, body, 3, cb, &r), BW_DECLINED);
    CHECK_EQ(bw_mp_finish(&m, cb, &r), BW_DECLINED);
    CHECK_EQ(r.nev, 2);
    rec_free(&r);
}

/* Random bodies over a tiny alphabet full of delimiter pieces: random cuts
 * must give the whole-feed transcript, and every slice must be true. */
TEST(random_bodies_random_cuts)
{
    static const char *atoms[] = {"\r", "\n", "-", "--", "b", "bb", "x", "\r\n--b", "\r\n--bb",
                                  "\r\n\r\n", "--b--", " ", "C: d\r\n", "\r\n--b\r\n"};
    unsigned seed = 12345;
    int bad = 0;
    for (int iter = 0; iter < 3000 && !bad; iter++) {
        char body[400];
        size_t len = 0;
        while (len < 300) {
            seed = seed * 1103515245u + 12345u;
            const char *a = atoms[(seed >> 16) % (sizeof(atoms) / sizeof(*atoms))];
            memcpy(body + len, a, strlen(a));
            len += strlen(a);
            if (((seed >> 8) & 63) == 0)
                break;
        }
        const char *bnd = (iter & 1) ? "b" : "bb";
        rec_t whole, cut;
        run(&whole, bnd, body, len, NULL, 0);
        size_t cuts[3];
        for (int c = 0; c < 3; c++) {
            seed = seed * 1103515245u + 12345u;
            cuts[c] = (seed >> 16) % (len + 1);
        }
        for (int a = 0; a < 3; a++) /* sort */
            for (int b = a + 1; b < 3; b++)
                if (cuts[b] < cuts[a]) {
                    size_t tmp = cuts[a];
                    cuts[a] = cuts[b];
                    cuts[b] = tmp;
                }
        run(&cut, bnd, body, len, cuts, 3);
        if (whole.bad_slice || cut.bad_slice || strcmp(whole.s, cut.s) || whole.ends != 1) {
            fprintf(stderr, "  iter %d body [%.*s]\n  %s\n  %s\n", iter, (int)len, body, whole.s,
                    cut.s);
            bad = 1;
        }
        rec_free(&whole);
        rec_free(&cut);
    }
    CHECK(!bad);
}

int main(void) { return t_run(); }
