/* SPDX-License-Identifier: Apache-2.0 */
/* The Content-Encoding decoder: round trips through zlib and zstd encoders
 * run here, a committed brotli fixture, every split of the input, corrupt
 * and truncated streams, trailing bytes, and a 1 GB-of-zeros bomb that must
 * stop at its bound quickly. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>
#include <zstd.h>

#include "icap/http-decode.h"
#include "t.h"

typedef struct sink {
    unsigned char *p;
    size_t n, cap;
    size_t calls, max_call;
    size_t stop_at; /* > 0: stop once this many bytes arrived */
    int keep;       /* 0: count only */
} sink_t;

static int sink_cb(void *ud, const unsigned char *p, size_t n)
{
    sink_t *s = ud;
    if (s->keep) {
        if (s->n + n > s->cap) {
            s->cap = (s->n + n) * 2;
            s->p = realloc(s->p, s->cap);
        }
        memcpy(s->p + s->n, p, n);
    }
    s->n += n;
    s->calls++;
    if (n > s->max_call)
        s->max_call = n;
    return s->stop_at && s->n >= s->stop_at;
}

static bw_hdec_t dec; /* 64 KiB: static, not on the stack */

/* Decodes in[0..len) fed at cuts[], returns feed's or end's result. */
static int decode(int coding, const void *in, size_t len, const size_t *cuts, size_t ncuts,
                  sink_t *s, uint64_t max_out, uint32_t ratio)
{
    memset(s, 0, sizeof(*s));
    s->keep = 1;
    int rc = bw_hdec_init(&dec, coding, max_out, ratio);
    if (rc != BW_HDEC_OK && rc != BW_HDEC_UNSUPPORTED)
        return rc;
    size_t at = 0;
    for (size_t c = 0; c <= ncuts; c++) {
        size_t end = c < ncuts ? cuts[c] : len;
        rc = bw_hdec_feed(&dec, (const char *)in + at, end - at, sink_cb, s);
        if (rc != BW_HDEC_OK)
            break;
        at = end;
    }
    if (rc == BW_HDEC_OK)
        rc = bw_hdec_end(&dec, sink_cb, s);
    bw_hdec_free(&dec);
    return rc;
}

/* zlib-compresses with the given windowBits (31 gzip, 15 zlib, -15 raw). */
static size_t zcomp(const void *in, size_t len, int wbits, unsigned char *out, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, 6, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    size_t n = cap - z.avail_out;
    deflateEnd(&z);
    return rc == Z_STREAM_END ? n : 0;
}

/* Text that compresses but not to nothing: words with a counter. */
static size_t sample(char *buf, size_t cap)
{
    size_t n = 0;
    for (unsigned i = 0; n + 64 < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "line %u: the quick brown fox %x\n", i, i * 2654435761u);
    return n;
}

static int same(const sink_t *s, const void *want, size_t n)
{
    return s->n == n && (n == 0 || !memcmp(s->p, want, n));
}

/* Whole, byte by byte, and every single cut must decode to want. */
static int all_splits(int coding, const unsigned char *z, size_t zn, const void *want, size_t wn)
{
    sink_t s;
    int ok = decode(coding, z, zn, NULL, 0, &s, 0, 0) == BW_HDEC_OK && same(&s, want, wn);
    free(s.p);
    size_t *cuts = malloc(zn * sizeof(size_t) + 1);
    for (size_t i = 0; i + 1 < zn; i++)
        cuts[i] = i + 1;
    ok &= decode(coding, z, zn, cuts, zn ? zn - 1 : 0, &s, 0, 0) == BW_HDEC_OK && same(&s, want, wn);
    free(s.p);
    for (size_t a = 0; a <= zn && ok; a++) {
        size_t c[1] = {a};
        ok &= decode(coding, z, zn, c, 1, &s, 0, 0) == BW_HDEC_OK && same(&s, want, wn);
        if (!ok)
            fprintf(stderr, "  cut at %zu fails\n", a);
        free(s.p);
    }
    free(cuts);
    return ok;
}

TEST(gzip_every_split)
{
    static char text[20000];
    static unsigned char z[20000];
    size_t n = sample(text, sizeof(text));
    size_t zn = zcomp(text, n, 31, z, sizeof(z));
    CHECK(zn > 18 && zn < n);
    CHECK(all_splits(BW_HTTP_CE_GZIP, z, zn, text, n));
}

TEST(gzip_multi_member_and_trailing_bytes)
{
    static char text[8000];
    static unsigned char z[30000];
    size_t n = sample(text, sizeof(text));
    size_t a = zcomp(text, n / 2, 31, z, sizeof(z));
    size_t b = zcomp(text + n / 2, n - n / 2, 31, z + a, sizeof(z) - a);
    size_t c = zcomp("", 0, 31, z + a + b, sizeof(z) - a - b); /* an empty member too */
    CHECK(a && b && c);
    CHECK(all_splits(BW_HTTP_CE_GZIP, z, a + b + c, text, n));
    sink_t s;
    CHECK_EQ(decode(BW_HTTP_CE_GZIP, z, a + b + c, NULL, 0, &s, 0, 0), BW_HDEC_OK);
    CHECK_EQ(dec.members, 3);
    free(s.p);
    /* bytes after the last member that are not a member: passed through */
    memcpy(z + a + b, "\0\0TAIL", 6);
    CHECK_EQ(decode(BW_HTTP_CE_GZIP, z, a + b + 6, NULL, 0, &s, 0, 0), BW_HDEC_OK);
    CHECK_EQ(dec.trailing, 6);
    CHECK_EQ(s.n, n + 6);
    CHECK(s.n == n + 6 && !memcmp(s.p + n, "\0\0TAIL", 6) && !memcmp(s.p, text, n));
    free(s.p);
    /* a gzip magic's first byte alone does not make a member */
    memcpy(z + a + b, "\x1f\x00XY", 4);
    CHECK_EQ(decode(BW_HTTP_CE_GZIP, z, a + b + 4, NULL, 0, &s, 0, 0), BW_HDEC_OK);
    CHECK_EQ(dec.trailing, 4);
    free(s.p);
    /* but a member cut inside its magic is a truncated member */
    CHECK_EQ(decode(BW_HTTP_CE_GZIP, z, a + 1, NULL, 0, &s, 0, 0), BW_HDEC_TRUNCATED);
    free(s.p);
}

TEST(deflate_zlib_and_raw_are_sniffed)
{
    static char text[5000];
    static unsigned char z[8000];
    size_t n = sample(text, sizeof(text));
    size_t zn = zcomp(text, n, 15, z, sizeof(z));
    CHECK(zn && (z[0] & 0x0f) == 8);
    CHECK(all_splits(BW_HTTP_CE_DEFLATE, z, zn, text, n));
    size_t rn = zcomp(text, n, -15, z, sizeof(z));
    CHECK(rn);
    CHECK(all_splits(BW_HTTP_CE_DEFLATE, z, rn, text, n));
    /* a zlib stream labelled gzip is accepted too (15+32 auto-detect) */
    zn = zcomp(text, n, 15, z, sizeof(z));
    sink_t s;
    CHECK_EQ(decode(BW_HTTP_CE_GZIP, z, zn, NULL, 0, &s, 0, 0), BW_HDEC_OK);
    CHECK(same(&s, text, n));
    free(s.p);
    /* a tiny raw stream: an empty fixed block (2 bytes) */
    CHECK_EQ(decode(BW_HTTP_CE_DEFLATE, "\x03\x00", 2, NULL, 0, &s, 0, 0), BW_HDEC_OK);
    CHECK_EQ(s.n, 0);
    free(s.p);
}

TEST(corrupt_streams_error_with_offset)
{
    sink_t s;
    /* a gzip header, then a block of the reserved type 3 */
    static const unsigned char bad1[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0x07, 0, 0, 0};
    CHECK_EQ(decode(BW_HTTP_CE_GZIP, bad1, sizeof(bad1), NULL, 0, &s, 0, 0), BW_HDEC_ERROR);
    CHECK(dec.err_off >= 10 && dec.err_off <= 11);
    CHECK_CONTAINS(dec.reason, "invalid block type");
    free(s.p);
    /* not gzip at all */
    CHECK_EQ(decode(BW_HTTP_CE_GZIP, "hello world", 11, NULL, 0, &s, 0, 0), BW_HDEC_ERROR);
    CHECK(dec.err_off <= 2);
    free(s.p);
    /* a flipped CRC: all data came out, then the check fails at the trailer */
    static char text[3000];
    static unsigned char z[4000];
    size_t n = sample(text, sizeof(text));
    size_t zn = zcomp(text, n, 31, z, sizeof(z));
    z[zn - 8] ^= 0x55;
    CHECK_EQ(decode(BW_HTTP_CE_GZIP, z, zn, NULL, 0, &s, 0, 0), BW_HDEC_ERROR);
    CHECK(dec.err_off >= zn - 8 && dec.err_off <= zn);
    CHECK_CONTAINS(dec.reason, "incorrect data check");
    CHECK(same(&s, text, n));
    free(s.p);
    /* the error is sticky */
    CHECK_EQ(bw_hdec_init(&dec, BW_HTTP_CE_DEFLATE, 0, 0), BW_HDEC_OK);
    CHECK_EQ(bw_hdec_feed(&dec, "\x07\x00\x00", 3, sink_cb, &s), BW_HDEC_ERROR);
    CHECK_EQ(bw_hdec_feed(&dec, "\x03\x00", 2, sink_cb, &s), BW_HDEC_ERROR);
    CHECK_EQ(bw_hdec_end(&dec, sink_cb, &s), BW_HDEC_ERROR);
    bw_hdec_free(&dec);
    bw_hdec_free(&dec); /* safe twice */
}

TEST(truncated_stream)
{
    static char text[6000];
    static unsigned char z[8000];
    size_t n = sample(text, sizeof(text));
    size_t zn = zcomp(text, n, 31, z, sizeof(z));
    sink_t s;
    for (size_t cut = 1; cut < zn; cut += (cut < 20 ? 1 : 97)) {
        int rc = decode(BW_HTTP_CE_GZIP, z, cut, NULL, 0, &s, 0, 0);
        CHECK_EQ(rc, BW_HDEC_TRUNCATED);
        CHECK(s.n <= n && (s.n == 0 || !memcmp(s.p, text, s.n)));
        free(s.p);
    }
    /* cut inside the deflate sniff */
    CHECK_EQ(decode(BW_HTTP_CE_DEFLATE, "\x78", 1, NULL, 0, &s, 0, 0), BW_HDEC_TRUNCATED);
    free(s.p);
    /* an empty body is complete */
    CHECK_EQ(decode(BW_HTTP_CE_GZIP, "", 0, NULL, 0, &s, 0, 0), BW_HDEC_OK);
    CHECK_EQ(decode(BW_HTTP_CE_DEFLATE, "", 0, NULL, 0, &s, 0, 0), BW_HDEC_OK);
    free(s.p);
}

/* 1 GB of zeros as gzip (about 1 MB), built here from zlib's streaming
 * output.  Compressing 1 GB takes seconds, so only two 1 MiB chunks are
 * compressed, each ended with Z_FULL_FLUSH: that resets the compressor and
 * byte-aligns its output, so every chunk after the first compresses to the
 * same bytes, which are then repeated.  A final empty block and a trailer
 * with the combined CRC close the member; the unbounded decode below checks
 * that the result really is a valid 1 GB stream. */
static unsigned char *zero_bomb(size_t *zn)
{
    static unsigned char zeros[1 << 20];
    static unsigned char tmp[64 << 10];
    size_t cap = 2u << 20, n = 0;
    unsigned char *out = malloc(cap);
    z_stream z;
    memset(&z, 0, sizeof(z));
    deflateInit2(&z, 9, Z_DEFLATED, 31, 9, Z_RLE);
    size_t chunk = 0;
    for (int i = 0; i < 2; i++) {
        z.next_in = zeros;
        z.avail_in = sizeof(zeros);
        z.next_out = tmp;
        z.avail_out = sizeof(tmp);
        deflate(&z, Z_FULL_FLUSH);
        chunk = sizeof(tmp) - z.avail_out;
        memcpy(out + n, tmp, chunk);
        n += chunk;
    }
    deflateEnd(&z);
    for (int i = 2; i < 1024; i++) { /* chunks 3..1024: the same bytes */
        memcpy(out + n, tmp, chunk);
        n += chunk;
    }
    out[n++] = 0x03; /* a final, empty, fixed-Huffman block */
    out[n++] = 0x00;
    uLong c1 = crc32(0, zeros, sizeof(zeros)), crc = c1;
    for (int i = 1; i < 1024; i++)
        crc = crc32_combine(crc, c1, sizeof(zeros));
    uint32_t isize = 1u << 30;
    for (int i = 0; i < 4; i++)
        out[n++] = (unsigned char)(crc >> (8 * i));
    for (int i = 0; i < 4; i++)
        out[n++] = (unsigned char)(isize >> (8 * i));
    *zn = n;
    return out;
}

TEST(bomb_stops_at_the_bound_quickly)
{
    size_t zn;
    clock_t t0 = clock();
    unsigned char *z = zero_bomb(&zn);
    CHECK(zn > 1000 && zn < (2u << 20)); /* a ratio of about 1000 */
    sink_t s;
    memset(&s, 0, sizeof(s));
    /* output bound: exactly max_out bytes come out, then TOO_LARGE */
    clock_t t1 = clock();
    CHECK_EQ(bw_hdec_init(&dec, BW_HTTP_CE_GZIP, 10u << 20, 0), BW_HDEC_OK);
    int rc = bw_hdec_feed(&dec, z, zn, sink_cb, &s);
    CHECK_EQ(rc, BW_HDEC_TOO_LARGE);
    CHECK_EQ(s.n, 10u << 20);
    CHECK(s.max_call <= BW_HDEC_OUT);
    CHECK(dec.in_total < zn); /* stopped early, not after the whole input */
    CHECK_EQ(bw_hdec_end(&dec, sink_cb, &s), BW_HDEC_TOO_LARGE);
    bw_hdec_free(&dec);
    /* ratio bound: stops just past the floor */
    memset(&s, 0, sizeof(s));
    CHECK_EQ(bw_hdec_init(&dec, BW_HTTP_CE_GZIP, 0, 100), BW_HDEC_OK);
    rc = bw_hdec_feed(&dec, z, zn, sink_cb, &s);
    CHECK_EQ(rc, BW_HDEC_RATIO);
    CHECK(s.n > BW_HDEC_RATIO_FLOOR && s.n <= BW_HDEC_RATIO_FLOOR + BW_HDEC_OUT);
    bw_hdec_free(&dec);
    double secs = (double)(clock() - t1) / CLOCKS_PER_SEC;
    CHECK(secs < 2.0);
    /* and the whole bomb, unbounded, is the full 1 GB (the test of the test) */
    memset(&s, 0, sizeof(s));
    CHECK_EQ(bw_hdec_init(&dec, BW_HTTP_CE_GZIP, 0, 0), BW_HDEC_OK);
    CHECK_EQ(bw_hdec_feed(&dec, z, zn, sink_cb, &s), BW_HDEC_OK);
    CHECK_EQ(bw_hdec_end(&dec, sink_cb, &s), BW_HDEC_OK);
    CHECK_EQ(s.n, 1u << 30);
    bw_hdec_free(&dec);
    free(z);
    fprintf(stderr, "  bomb: %zu bytes compressed, bounded decodes %.3fs, total %.1fs\n", zn,
            secs, (double)(clock() - t0) / CLOCKS_PER_SEC);
}

TEST(exact_max_out_is_not_too_large)
{
    static char text[4000];
    static unsigned char z[5000];
    size_t n = sample(text, sizeof(text));
    size_t zn = zcomp(text, n, 31, z, sizeof(z));
    sink_t s;
    CHECK_EQ(decode(BW_HTTP_CE_GZIP, z, zn, NULL, 0, &s, n, 0), BW_HDEC_OK);
    free(s.p);
    CHECK_EQ(decode(BW_HTTP_CE_GZIP, z, zn, NULL, 0, &s, n - 1, 0), BW_HDEC_TOO_LARGE);
    CHECK_EQ(s.n, n - 1);
    free(s.p);
}

TEST(callback_can_stop)
{
    static char text[300000];
    static unsigned char z[300000];
    size_t n = sample(text, sizeof(text));
    size_t zn = zcomp(text, n, 31, z, sizeof(z));
    sink_t s;
    memset(&s, 0, sizeof(s));
    s.stop_at = 1;
    CHECK_EQ(bw_hdec_init(&dec, BW_HTTP_CE_GZIP, 0, 0), BW_HDEC_OK);
    CHECK_EQ(bw_hdec_feed(&dec, z, zn, sink_cb, &s), BW_HDEC_STOPPED);
    CHECK_EQ(s.calls, 1);
    CHECK_EQ(bw_hdec_feed(&dec, z, zn, sink_cb, &s), BW_HDEC_STOPPED);
    CHECK_EQ(s.calls, 1);
    bw_hdec_free(&dec);
}

TEST(unsupported_and_identity_pass_through)
{
    sink_t s;
    memset(&s, 0, sizeof(s));
    s.keep = 1;
    CHECK_EQ(bw_hdec_init(&dec, BW_HTTP_CE_COMPRESS, 0, 0), BW_HDEC_UNSUPPORTED);
    CHECK_EQ(bw_hdec_feed(&dec, "\x1f\x9d\x90raw", 6, sink_cb, &s), BW_HDEC_OK);
    CHECK_EQ(bw_hdec_end(&dec, sink_cb, &s), BW_HDEC_OK);
    CHECK(same(&s, "\x1f\x9d\x90raw", 6));
    CHECK_EQ(dec.trailing, 0);
    free(s.p);
    CHECK_EQ(decode(BW_HTTP_CE_OTHER, "abc", 3, NULL, 0, &s, 0, 0), BW_HDEC_OK);
    CHECK(same(&s, "abc", 3));
    free(s.p);
    CHECK_EQ(decode(0, "abc", 3, NULL, 0, &s, 0, 0), BW_HDEC_OK);
    CHECK(same(&s, "abc", 3));
    free(s.p);
    CHECK_STR(bw_hdec_result_name(BW_HDEC_RATIO), "compression ratio too high");
}

TEST(zstd_frames_and_window_bound)
{
    static char text[20000];
    static unsigned char z[40000];
    size_t n = sample(text, sizeof(text));
    size_t a = ZSTD_compress(z, sizeof(z), text, n / 3, 3);
    size_t b = ZSTD_compress(z + a, sizeof(z) - a, text + n / 3, n - n / 3, 19);
    CHECK(!ZSTD_isError(a) && !ZSTD_isError(b));
    CHECK(all_splits(BW_HTTP_CE_ZSTD, z, a + b, text, n));
    sink_t s;
    CHECK_EQ(decode(BW_HTTP_CE_ZSTD, z, a + b - 3, NULL, 0, &s, 0, 0), BW_HDEC_TRUNCATED);
    free(s.p);
    CHECK_EQ(decode(BW_HTTP_CE_ZSTD, "hello", 5, NULL, 0, &s, 0, 0), BW_HDEC_ERROR);
    CHECK_STR(dec.reason, "not a zstd frame");
    free(s.p);
    z[a + 5] ^= 0xff; /* the second frame's header */
    CHECK_EQ(decode(BW_HTTP_CE_ZSTD, z, a + b, NULL, 0, &s, 0, 0), BW_HDEC_ERROR);
    CHECK(dec.err_off >= a);
    free(s.p);
    /* a frame asking for a 128 MiB window is refused (RFC 8878: 8 MiB) */
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_windowLog, 27);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
    size_t big = 9u << 20;
    char *src = malloc(big);
    for (size_t i = 0; i < big; i++)
        src[i] = (char)(i * 7 + (i >> 12));
    unsigned char *dst = malloc(ZSTD_compressBound(big));
    size_t dn = ZSTD_compress2(cc, dst, ZSTD_compressBound(big), src, big);
    CHECK(!ZSTD_isError(dn));
    CHECK_EQ(decode(BW_HTTP_CE_ZSTD, dst, dn, NULL, 0, &s, 0, 0), BW_HDEC_ERROR);
    CHECK_CONTAINS(dec.reason, "too much memory");
    free(s.p);
    free(src);
    free(dst);
    ZSTD_freeCCtx(cc);
}

TEST(brotli_fixture)
{
    /* tests/data/http-decode/sample.br: `sample()` text, 20000-byte buffer,
     * compressed with brotli quality 11 by mk-sample-br.c next to it) */
    FILE *f = fopen("data/http-decode/sample.br", "rb");
    CHECK(f != NULL);
    if (!f)
        return;
    static unsigned char z[20000];
    size_t zn = fread(z, 1, sizeof(z), f);
    fclose(f);
    static char text[20000];
    size_t n = sample(text, sizeof(text));
    CHECK(zn > 10 && zn < n);
    CHECK(all_splits(BW_HTTP_CE_BR, z, zn, text, n));
    sink_t s;
    CHECK_EQ(decode(BW_HTTP_CE_BR, z, zn / 2, NULL, 0, &s, 0, 0), BW_HDEC_TRUNCATED);
    free(s.p);
    z[zn / 2] ^= 0x5a;
    int rc = decode(BW_HTTP_CE_BR, z, zn, NULL, 0, &s, 0, 0);
    CHECK(rc == BW_HDEC_ERROR || !same(&s, text, n));
    free(s.p);
}

int main(void) { return t_run(); }
