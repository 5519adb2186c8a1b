/* SPDX-License-Identifier: Apache-2.0 */
/* The ICAP chunked decoder: every framing variant real clients send, every
 * error with its offset, and the property that matters most for a network
 * parser: the result does not depend on how the input was split.  Each piece
 * is copied to the end of a page followed by an inaccessible page, so a read
 * one byte past the input faults. */
#include <stdint.h>

#include "bulwark/bulwark.h"
#include "icap/icap-parse.h"
#include "guard.h"
#include "t.h"

/* ---- a decoding run ---- */

typedef struct run {
    bw_chunk_ev_t ev;   /* END, ERROR, or NEED_MORE when the input ran out */
    size_t end_pos;     /* absolute position after the END */
    char data[70000];
    size_t ndata;
    int ieof, has_uob;
    uint64_t uob, total;
    size_t err_off;
    const char *reason;
    int overflow;
} run_t;

/* Feeds in[0..n) in pieces: cuts[] are the piece ends (ascending, last == n). */
static void decode_cuts(const char *in, size_t n, const size_t *cuts, size_t ncuts, run_t *r)
{
    bw_icap_chunk_t st;
    memset(&st, 0, sizeof st);
    memset(r, 0, offsetof(run_t, data));
    r->ndata = r->ieof = r->has_uob = r->overflow = 0;
    r->ev = BW_CHUNK_NEED_MORE;
    size_t start = 0;
    for (size_t c = 0; c < ncuts; c++) {
        size_t plen = cuts[c] - start;
        const char *p = guard(in + start, plen);
        size_t off = 0;
        for (int guard_loops = 0; guard_loops < 1000000; guard_loops++) {
            size_t used = 9999999;
            bw_icap_str_t d = {0, 0};
            bw_chunk_ev_t ev = bw_icap_chunk_feed(&st, p + off, plen - off, &used, &d);
            if (used > plen - off) {
                r->overflow = 1;
                return;
            }
            off += used;
            if (ev == BW_CHUNK_DATA) {
                if (d.n == 0 || d.p < p || d.p + d.n > p + plen)
                    r->overflow = 1;
                if (r->ndata + d.n <= sizeof r->data)
                    memcpy(r->data + r->ndata, d.p, d.n);
                r->ndata += d.n;
                continue;
            }
            if (ev == BW_CHUNK_END) {
                r->ev = ev;
                r->end_pos = start + off;
                r->ieof = st.ieof;
                r->has_uob = st.has_use_original_body;
                r->uob = st.use_original_body;
                r->total = st.total;
                guard_free();
                return;
            }
            if (ev == BW_CHUNK_ERROR) {
                r->ev = ev;
                r->err_off = st.err.offset;
                r->reason = st.err.reason;
                if (st.err.status != 400)
                    r->overflow = 1;
                guard_free();
                return;
            }
            if (off != plen)
                r->overflow = 1; /* NEED_MORE must consume everything */
            break;
        }
        start = cuts[c];
    }
    guard_free();
}

static void decode(const char *in, size_t n, run_t *r)
{
    size_t cut = n;
    decode_cuts(in, n, &cut, 1, r);
}

static int same(const run_t *a, const run_t *b)
{
    if (a->ev != b->ev || a->overflow || b->overflow)
        return 0;
    if (a->ev == BW_CHUNK_ERROR)
        return a->err_off == b->err_off && a->reason == b->reason;
    return a->ndata == b->ndata && !memcmp(a->data, b->data, a->ndata < sizeof a->data ? a->ndata : sizeof a->data) &&
           a->end_pos == b->end_pos && a->ieof == b->ieof && a->has_uob == b->has_uob &&
           a->uob == b->uob;
}

/* Every 2-piece split, every 3-piece split (for short inputs), and one byte
 * at a time: all must equal the one-shot result. */
static int all_splits_agree(const char *in, size_t n)
{
    static run_t whole, part;
    decode(in, n, &whole);
    for (size_t k = 0; k <= n; k++) {
        size_t cuts[2] = {k, n};
        decode_cuts(in, n, cuts, 2, &part);
        if (!same(&whole, &part)) {
            fprintf(stderr, "  split at %zu differs\n", k);
            return 0;
        }
    }
    if (n <= 80) {
        for (size_t a = 0; a <= n; a++)
            for (size_t b = a; b <= n; b++) {
                size_t cuts[3] = {a, b, n};
                decode_cuts(in, n, cuts, 3, &part);
                if (!same(&whole, &part)) {
                    fprintf(stderr, "  split at %zu,%zu differs\n", a, b);
                    return 0;
                }
            }
    }
    size_t *cuts = malloc(n * sizeof *cuts + 1);
    for (size_t k = 0; k < n; k++)
        cuts[k] = k + 1;
    decode_cuts(in, n, cuts, n, &part);
    free(cuts);
    if (!same(&whole, &part)) {
        fprintf(stderr, "  byte-at-a-time differs\n");
        return 0;
    }
    return 1;
}

#define S(lit) lit, sizeof(lit) - 1

static run_t R;

TEST(chunk_simple_body)
{
    decode(S("5\r\nhello\r\n0\r\n\r\n"), &R);
    CHECK_EQ(R.ev, BW_CHUNK_END);
    CHECK_EQ(R.ndata, 5);
    CHECK(!memcmp(R.data, "hello", 5));
    CHECK_EQ(R.end_pos, 15);
    CHECK_EQ(R.total, 5);
    CHECK_EQ(R.ieof, 0);
    CHECK_EQ(R.has_uob, 0);
}

TEST(chunk_several_chunks_hex_case)
{
    const char in[] = "a\r\n0123456789\r\n1F\r\nabcdefghijklmnopqrstuvwxyz01234\r\n"
                      "00001\r\nZ\r\n0\r\n\r\n";
    decode(S(in), &R);
    CHECK_EQ(R.ev, BW_CHUNK_END);
    CHECK_EQ(R.ndata, 10 + 31 + 1);
    CHECK(!memcmp(R.data, "0123456789abcdefghijklmnopqrstuvwxyz01234Z", 42));
    CHECK(all_splits_agree(S(in)));
}

TEST(chunk_empty_body_and_ieof_variants)
{
    static const char *const ok_ieof[] = {"0; ieof\r\n\r\n", "0;ieof\r\n\r\n", "0 ; ieof\r\n\r\n",
                                          "0 ;ieof \r\n\r\n", "0; IEOF\r\n\r\n", "0\t;\tieof\r\n\r\n",
                                          "0; foo=bar; ieof\r\n\r\n", "0; ieof; x=\"y;z\"\r\n\r\n",
                                          "0; ieof\n\n"};
    for (size_t i = 0; i < sizeof ok_ieof / sizeof ok_ieof[0]; i++) {
        decode(ok_ieof[i], strlen(ok_ieof[i]), &R);
        CHECK_EQ(R.ev, BW_CHUNK_END);
        CHECK_EQ(R.ieof, 1);
        CHECK_EQ(R.ndata, 0);
        CHECK_EQ(R.end_pos, strlen(ok_ieof[i]));
        CHECK(all_splits_agree(ok_ieof[i], strlen(ok_ieof[i])));
    }
    decode(S("0\r\n\r\n"), &R);
    CHECK_EQ(R.ev, BW_CHUNK_END);
    CHECK_EQ(R.ieof, 0);
    CHECK_EQ(R.end_pos, 5);
    /* an extension whose name merely starts with ieof is not ieof */
    decode(S("0; ieofx\r\n\r\n"), &R);
    CHECK_EQ(R.ev, BW_CHUNK_END);
    CHECK_EQ(R.ieof, 0);
}

TEST(chunk_preview_then_continuation)
{
    /* Preview: 4 with a bigger body: zero chunk without ieof, the server
     * answers 100 Continue, the decoder is reset, the rest follows. */
    const char pre[] = "4\r\nabcd\r\n0\r\n\r\n";
    decode(S(pre), &R);
    CHECK_EQ(R.ev, BW_CHUNK_END);
    CHECK_EQ(R.ieof, 0);
    CHECK_EQ(R.ndata, 4);
    bw_icap_chunk_t st;
    memset(&st, 0, sizeof st);
    size_t used;
    bw_icap_str_t d;
    const char *p = guard(S(pre));
    size_t off = 0;
    bw_chunk_ev_t ev;
    while ((ev = bw_icap_chunk_feed(&st, p + off, sizeof pre - 1 - off, &used, &d)) ==
           BW_CHUNK_DATA)
        off += used;
    CHECK_EQ(ev, BW_CHUNK_END);
    off += used;
    CHECK_EQ(off, sizeof pre - 1);
    /* sticky END */
    CHECK_EQ(bw_icap_chunk_feed(&st, "5\r\n", 3, &used, &d), BW_CHUNK_END);
    CHECK_EQ(used, 0);
    bw_icap_chunk_reset(&st);
    p = guard(S("3\r\nefg\r\n0\r\n\r\n"));
    ev = bw_icap_chunk_feed(&st, p, 13, &used, &d);
    CHECK_EQ(ev, BW_CHUNK_DATA);
    CHECK_EQ(d.n, 3);
    CHECK(!memcmp(d.p, "efg", 3));
    CHECK_EQ(bw_icap_chunk_feed(&st, p + used, 13 - used, &used, &d), BW_CHUNK_END);
    CHECK_EQ(st.total, 3);
    guard_free();
}

TEST(chunk_use_original_body)
{
    decode(S("0; use-original-body=1234\r\n\r\n"), &R);
    CHECK_EQ(R.ev, BW_CHUNK_END);
    CHECK_EQ(R.has_uob, 1);
    CHECK_EQ(R.uob, 1234);
    decode(S("0 ; use-original-body = \"77\"\r\n\r\n"), &R);
    CHECK_EQ(R.ev, BW_CHUNK_END);
    CHECK_EQ(R.uob, 77);
    CHECK(all_splits_agree(S("0; use-original-body=0\r\n\r\n")));
    decode(S("0; use-original-body=0\r\n\r\n"), &R);
    CHECK_EQ(R.has_uob, 1);
    CHECK_EQ(R.uob, 0);
    decode(S("0; use-original-body=12x\r\n\r\n"), &R);
    CHECK_EQ(R.ev, BW_CHUNK_ERROR);
    decode(S("0; use-original-body\r\n\r\n"), &R);
    CHECK_EQ(R.ev, BW_CHUNK_ERROR);
    decode(S("0; use-original-body=99999999999999999999999\r\n\r\n"), &R);
    CHECK_EQ(R.ev, BW_CHUNK_ERROR);
    CHECK_CONTAINS(R.reason, "too large");
    decode(S("5; use-original-body=3\r\nhello\r\n0\r\n\r\n"), &R);
    CHECK_EQ(R.ev, BW_CHUNK_ERROR);
    decode(S("0; ieof; use-original-body=3\r\n\r\n"), &R);
    CHECK_EQ(R.ev, BW_CHUNK_ERROR);
}

TEST(chunk_trailers_skipped)
{
    const char in[] = "3\r\nabc\r\n0\r\nX-Foo: bar\r\nY: z\r\n\r\nNEXT";
    decode(S(in), &R);
    CHECK_EQ(R.ev, BW_CHUNK_END);
    CHECK_EQ(R.ndata, 3);
    CHECK_EQ(R.end_pos, sizeof in - 1 - 4);
    CHECK(all_splits_agree(S(in)));
    decode(S("0\r\nX: y\n\n"), &R);
    CHECK_EQ(R.ev, BW_CHUNK_END);
    decode(S("0\r\nX: y\rz\r\n\r\n"), &R);
    CHECK_EQ(R.ev, BW_CHUNK_ERROR);
    /* trailer section bounded */
    static char big[BW_CHUNK_MAX_TRAILER + 64];
    memcpy(big, "0\r\nX: ", 6);
    memset(big + 6, 'a', sizeof big - 6);
    decode(big, sizeof big, &R);
    CHECK_EQ(R.ev, BW_CHUNK_ERROR);
    CHECK_CONTAINS(R.reason, "trailer too large");
}

TEST(chunk_bare_lf_accepted)
{
    const char in[] = "3\nabc\n2;ext=1\nde\n0\n\n";
    decode(S(in), &R);
    CHECK_EQ(R.ev, BW_CHUNK_END);
    CHECK_EQ(R.ndata, 5);
    CHECK(!memcmp(R.data, "abcde", 5));
    CHECK_EQ(R.end_pos, sizeof in - 1);
    CHECK(all_splits_agree(S(in)));
}

TEST(chunk_pipelined_end_is_exact)
{
    const char in[] = "2\r\nhi\r\n0; ieof\r\n\r\nRESPMOD icap://x/ ICAP/1.0\r\n\r\n";
    decode(S(in), &R);
    CHECK_EQ(R.ev, BW_CHUNK_END);
    CHECK_EQ(R.end_pos, strlen("2\r\nhi\r\n0; ieof\r\n\r\n"));
    CHECK(all_splits_agree(S(in)));
}

struct bad {
    const char *in;
    size_t off;
    const char *reason_part;
};

TEST(chunk_errors_with_offsets)
{
    static const struct bad bad[] = {
        {"g\r\n", 0, "hexadecimal"},
        {"\r\n", 0, "hexadecimal"},
        {" 5\r\nhello\r\n", 0, "hexadecimal"},
        {"-5\r\n", 0, "hexadecimal"},
        {"5\r\nhelloX\r\n0\r\n\r\n", 8, "missing CRLF"},
        {"5\r\nhello\rX", 9, "missing CRLF"},
        {"5\r\r\n", 2, "CR not followed by LF"},
        {"5 x\r\n", 2, "invalid character"},
        {"5;\r\n", 2, "extension name"},
        {"5;=1\r\n", 2, "extension name"},
        {"5;a=\r\n", 4, "extension value"},
        {"5;a=b c\r\n", 6, "invalid character"},
        {"5;a=\"b\r\n", 6, "control character"},
        {"5;a@\r\n", 3, "invalid character in chunk extension"},
        {"5; ieof\r\nhello\r\n0\r\n\r\n", 8, "not the last"},
        {"10000000000000000\r\n", 16, "too large"},
        {"0\r\n\rX", 4, "after the last chunk"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        decode(bad[i].in, strlen(bad[i].in), &R);
        if (R.ev != BW_CHUNK_ERROR || R.err_off != bad[i].off)
            fprintf(stderr, "  case %zu (%s): ev %d off %zu reason %s\n", i, bad[i].in, R.ev,
                    R.err_off, R.reason ? R.reason : "-");
        CHECK_EQ(R.ev, BW_CHUNK_ERROR);
        CHECK_EQ(R.err_off, bad[i].off);
        CHECK_CONTAINS(R.reason, bad[i].reason_part);
        CHECK(all_splits_agree(bad[i].in, strlen(bad[i].in)));
    }
}

TEST(chunk_size_limits)
{
    /* the largest representable size is accepted (the data just never comes) */
    decode(S("FFFFFFFFFFFFFFFF\r\nabc"), &R);
    CHECK_EQ(R.ev, BW_CHUNK_NEED_MORE);
    CHECK_EQ(R.ndata, 3);
    /* many leading zeros are fine within the line bound */
    static char z[BW_CHUNK_MAX_LINE + 100];
    memset(z, '0', BW_CHUNK_MAX_LINE - 3);
    memcpy(z + BW_CHUNK_MAX_LINE - 3, "1\r\nX\r\n0\r\n\r\n", 11);
    decode(z, BW_CHUNK_MAX_LINE - 3 + 11, &R);
    CHECK_EQ(R.ev, BW_CHUNK_END);
    CHECK_EQ(R.ndata, 1);
    /* a longer size line is refused, even if it is all extension */
    memcpy(z, "1;x=", 4);
    memset(z + 4, 'a', sizeof z - 4);
    decode(z, sizeof z, &R);
    CHECK_EQ(R.ev, BW_CHUNK_ERROR);
    CHECK_EQ(R.err_off, BW_CHUNK_MAX_LINE);
    CHECK_CONTAINS(R.reason, "too long");
}

TEST(chunk_every_prefix_needs_more)
{
    const char in[] = "4\r\nabcd\r\n0; ieof\r\nT: 1\r\n\r\n";
    for (size_t k = 0; k < sizeof in - 1; k++) {
        decode(in, k, &R);
        CHECK_EQ(R.ev, BW_CHUNK_NEED_MORE);
        CHECK(!R.overflow);
    }
    decode(S(in), &R);
    CHECK_EQ(R.ev, BW_CHUNK_END);
}

TEST(chunk_sticky_error)
{
    bw_icap_chunk_t st;
    memset(&st, 0, sizeof st);
    size_t used;
    bw_icap_str_t d;
    CHECK_EQ(bw_icap_chunk_feed(&st, "zz", 2, &used, &d), BW_CHUNK_ERROR);
    CHECK_EQ(used, 0);
    CHECK_EQ(bw_icap_chunk_feed(&st, "0\r\n\r\n", 5, &used, &d), BW_CHUNK_ERROR);
    CHECK_EQ(used, 0);
    CHECK_EQ(st.err.status, 400);
    bw_err_t e;
    bw_icap_perr_to_err(&st.err, &e);
    CHECK_CONTAINS(e.msg, "byte 0: ");
    /* empty input on a fresh decoder */
    bw_icap_chunk_reset(&st);
    CHECK_EQ(bw_icap_chunk_feed(&st, "", 0, &used, &d), BW_CHUNK_NEED_MORE);
    CHECK_EQ(used, 0);
}

TEST(chunk_large_body_random_pieces)
{
    /* 64 KiB + 3 chunk sizes, fed in pseudo-random piece sizes. */
    static char in[140000];
    static char body[66000 + 1000];
    size_t n = 0, nb = 0;
    unsigned seed = 12345;
    size_t sizes[] = {65536, 1, 4095, 3, 1000};
    for (size_t c = 0; c < 5; c++) {
        n += (size_t)sprintf(in + n, "%zx\r\n", sizes[c]);
        for (size_t k = 0; k < sizes[c]; k++) {
            seed = seed * 1103515245 + 12345;
            char ch = (char)(seed >> 16);
            in[n++] = ch;
            if (nb < sizeof body)
                body[nb++] = ch;
        }
        memcpy(in + n, "\r\n", 2);
        n += 2;
    }
    memcpy(in + n, "0\r\n\r\n", 5);
    n += 5;
    size_t cuts[4000], nc = 0, pos = 0;
    while (pos < n && nc < 3999) {
        seed = seed * 1103515245 + 12345;
        pos += 1 + (seed >> 16) % 97;
        if (pos > n)
            pos = n;
        cuts[nc++] = pos;
    }
    if (cuts[nc - 1] != n)
        cuts[nc++] = n;
    decode_cuts(in, n, cuts, nc, &R);
    CHECK_EQ(R.ev, BW_CHUNK_END);
    CHECK_EQ(R.ndata, 65536 + 1 + 4095 + 3 + 1000);
    CHECK_EQ(R.total, R.ndata);
    CHECK(!memcmp(R.data, body, R.ndata < sizeof body ? R.ndata : sizeof body));
    CHECK_EQ(R.end_pos, n);
}

int main(void) { return t_run(); }
