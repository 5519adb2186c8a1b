/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the Content-Encoding decoder.  Input: byte 0 picks the coding
 * (gzip, deflate, br, zstd, compress) and a cut step, then the encoded body.
 * The body is decoded whole and in pieces; output is bounded at 1 MiB.  Both
 * runs must agree on the result (but for TOO_LARGE against another end), and
 * when the stream was complete, truncated or too large, on every output byte.  No slice may exceed BW_HDEC_OUT. */
#include <stdint.h>
#include <stdlib.h>

#include "icap/http-decode.h"

typedef struct out {
    uint64_t hash, n;
} out_t;

static int cb(void *ud, const unsigned char *p, size_t n)
{
    out_t *o = ud;
    if (n == 0 || n > BW_HDEC_OUT)
        abort();
    for (size_t i = 0; i < n; i++)
        o->hash = (o->hash ^ p[i]) * 1099511628211ull;
    o->n += n;
    return 0;
}

static int run(int coding, const uint8_t *in, size_t len, size_t step, out_t *o)
{
    static bw_hdec_t d;
    o->hash = 14695981039346656037ull;
    o->n = 0;
    int rc = bw_hdec_init(&d, coding, 1u << 20, 0);
    if (rc != BW_HDEC_OK && rc != BW_HDEC_UNSUPPORTED)
        abort();
    rc = BW_HDEC_OK;
    size_t at = 0, k = 0;
    while (at < len && rc == BW_HDEC_OK) {
        size_t n = step ? 1 + (k++ * 7919 + step) % step : len - at;
        if (n > len - at)
            n = len - at;
        rc = bw_hdec_feed(&d, in + at, n, cb, o);
        at += n;
    }
    if (rc == BW_HDEC_OK)
        rc = bw_hdec_end(&d, cb, o);
    if (o->n > (1u << 20) || d.out_total != o->n)
        abort();
    if (rc == BW_HDEC_ERROR && !d.reason)
        abort();
    bw_hdec_free(&d);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int codings[] = {BW_HTTP_CE_GZIP, BW_HTTP_CE_DEFLATE, BW_HTTP_CE_BR,
                                  BW_HTTP_CE_ZSTD, BW_HTTP_CE_COMPRESS};
    if (size < 1)
        return 0;
    int coding = codings[data[0] % 5];
    size_t step = 1 + (data[0] >> 3) % 32;
    out_t a, b;
    int ra = run(coding, data + 1, size - 1, 0, &a);
    int rb = run(coding, data + 1, size - 1, step, &b);
    /* When the output bound and a corruption are both near, which one shows
     * first depends on the cuts; any other difference is a bug. */
    if (ra != rb && ra != BW_HDEC_TOO_LARGE && rb != BW_HDEC_TOO_LARGE)
        abort();
    if (ra == rb && (ra == BW_HDEC_OK || ra == BW_HDEC_TRUNCATED || ra == BW_HDEC_TOO_LARGE) &&
        (a.hash != b.hash || a.n != b.n))
        abort();
    return 0;
}
