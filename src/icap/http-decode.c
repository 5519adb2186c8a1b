/* SPDX-License-Identifier: Apache-2.0 */
/* The Content-Encoding decoder: see http-decode.h for the contract.
 *
 * One small phase machine drives three libraries.  SNIFF holds a stream's
 * first bytes: for deflate, two, to tell a zlib header from raw deflate
 * (servers send both under "deflate"); after a gzip member or zstd frame, the
 * magic of the next one, else the rest is TRAILING data, passed through
 * undecoded rather than dropped unscanned.  STREAM runs the library until it
 * has consumed the input, handing out every output buffer as it fills, and
 * checks the bomb bounds after each one: a bomb costs at most one buffer
 * past the bound.
 *
 * zstd's window is capped at 8 MiB (RFC 8878 asks decoders of HTTP content
 * to accept no more), which bounds its memory per request.
 */
#include "icap/http-decode.h"

#include <brotli/decode.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

enum { MODE_PASS = 0, MODE_ZLIB, MODE_BR, MODE_ZSTD };
enum { PH_PASS = 0, PH_SNIFF, PH_STREAM, PH_TRAILING };

#define ZSTD_WINDOW_LOG_MAX 23

/* Hands n decoded bytes to the callback within the bounds; sets d->result
 * when a bound is hit or the callback stops.  Returns d->result. */
static int deliver(bw_hdec_t *d, const unsigned char *p, size_t n, bw_hdec_cb cb, void *ud)
{
    int over = 0;
    if (d->max_out && d->out_total + n > d->max_out) {
        n = (size_t)(d->max_out - d->out_total);
        over = 1;
    }
    if (n) {
        d->out_total += n;
        if (cb(ud, p, n))
            return d->result = BW_HDEC_STOPPED;
    }
    if (over)
        return d->result = BW_HDEC_TOO_LARGE;
    if (d->max_ratio && d->out_total > BW_HDEC_RATIO_FLOOR &&
        d->out_total / d->max_ratio > d->in_total)
        return d->result = BW_HDEC_RATIO;
    return BW_HDEC_OK;
}

static int fail(bw_hdec_t *d, const char *reason)
{
    d->err_off = d->in_total;
    d->reason = reason ? reason : "corrupt data";
    return d->result = BW_HDEC_ERROR;
}

/* ---- the three libraries: each returns the input bytes consumed ---------- */

static size_t run_zlib(bw_hdec_t *d, const unsigned char *p, size_t len, bw_hdec_cb cb, void *ud)
{
    z_stream *z = d->lib;
    size_t used = 0;
    for (;;) {
        /* zlib counts in uInt: feed at most 1 GiB a round */
        size_t chunk = len - used > (1u << 30) ? (1u << 30) : len - used;
        z->next_in = (Bytef *)(uintptr_t)(p + used);
        z->avail_in = (uInt)chunk;
        z->next_out = d->out;
        z->avail_out = BW_HDEC_OUT;
        int rc = inflate(z, Z_NO_FLUSH);
        size_t took = chunk - z->avail_in;
        size_t made = BW_HDEC_OUT - z->avail_out;
        used += took;
        d->in_total += took;
        if (made && deliver(d, d->out, made, cb, ud))
            return used;
        if (rc == Z_STREAM_END) {
            d->members++;
            d->phase = d->coding == BW_HTTP_CE_GZIP ? PH_SNIFF : PH_TRAILING;
            return used;
        }
        if (rc == Z_NEED_DICT) {
            fail(d, "zlib stream needs a preset dictionary");
            return used;
        }
        if (rc == Z_MEM_ERROR) {
            fail(d, "out of memory");
            return used;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            fail(d, z->msg);
            return used;
        }
        if (used == len && made < BW_HDEC_OUT)
            return used; /* all in, nothing more pending */
        if (!took && !made)
            return used; /* no progress possible: wait for input */
    }
}

static size_t run_br(bw_hdec_t *d, const unsigned char *p, size_t len, bw_hdec_cb cb, void *ud)
{
    BrotliDecoderState *s = d->lib;
    const uint8_t *next_in = p;
    size_t avail_in = len;
    for (;;) {
        uint8_t *next_out = d->out;
        size_t avail_out = BW_HDEC_OUT;
        size_t before = avail_in;
        BrotliDecoderResult rc =
            BrotliDecoderDecompressStream(s, &avail_in, &next_in, &avail_out, &next_out, NULL);
        size_t made = BW_HDEC_OUT - avail_out;
        d->in_total += before - avail_in;
        if (made && deliver(d, d->out, made, cb, ud))
            return len - avail_in;
        if (rc == BROTLI_DECODER_RESULT_SUCCESS) {
            d->members++;
            d->phase = PH_TRAILING;
            return len - avail_in;
        }
        if (rc == BROTLI_DECODER_RESULT_ERROR) {
            fail(d, BrotliDecoderErrorString(BrotliDecoderGetErrorCode(s)));
            return len - avail_in;
        }
        if (rc == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT)
            return len - avail_in; /* avail_in is 0 here */
        /* NEEDS_MORE_OUTPUT: go round with an empty buffer */
    }
}

static size_t run_zstd(bw_hdec_t *d, const unsigned char *p, size_t len, bw_hdec_cb cb, void *ud)
{
    ZSTD_DCtx *z = d->lib;
    ZSTD_inBuffer in = {p, len, 0};
    for (;;) {
        ZSTD_outBuffer out = {d->out, BW_HDEC_OUT, 0};
        size_t before = in.pos;
        size_t rc = ZSTD_decompressStream(z, &out, &in);
        d->in_total += in.pos - before;
        if (ZSTD_isError(rc)) {
            fail(d, ZSTD_getErrorName(rc));
            return in.pos;
        }
        if (out.pos && deliver(d, d->out, out.pos, cb, ud))
            return in.pos;
        if (rc == 0) { /* a frame is complete and flushed */
            d->members++;
            d->phase = PH_SNIFF;
            return in.pos;
        }
        if (in.pos == in.size && out.pos < out.size)
            return in.pos;
        if (in.pos == before && out.pos == 0)
            return in.pos;
    }
}

static size_t run_lib(bw_hdec_t *d, const unsigned char *p, size_t len, bw_hdec_cb cb, void *ud)
{
    switch (d->mode) {
    case MODE_ZLIB:
        return run_zlib(d, p, len, cb, ud);
    case MODE_BR:
        return run_br(d, p, len, cb, ud);
    default:
        return run_zstd(d, p, len, cb, ud);
    }
}

/* Checks the first bytes of a stream: 1 it starts one, 0 too few bytes yet,
 * -1 it does not.  At the very start of "deflate" anything goes (zlib or raw,
 * told apart by looks_zlib()); after a gzip member only 1f 8b starts
 * another.  zstd frames are checked here rather than by libzstd, which also
 * takes legacy (pre-1.0) frames and then errs differently depending on how
 * the input was cut. */
static int sniff_check(const bw_hdec_t *d)
{
    const unsigned char *s = d->sniff;
    size_t n = d->nsniff;
    if (d->mode == MODE_ZSTD) {
        static const unsigned char frame[4] = {0x28, 0xb5, 0x2f, 0xfd};
        static const unsigned char skip[4] = {0x50, 0x2a, 0x4d, 0x18}; /* 0x5? first */
        int sk = (s[0] & 0xf0) == 0x50;
        if (!sk && s[0] != frame[0])
            return -1;
        for (size_t i = 1; i < n; i++)
            if (s[i] != (sk ? skip[i] : frame[i]))
                return -1;
        return n == 4 ? 1 : 0;
    }
    if (d->members && (s[0] != 0x1f || (n == 2 && s[1] != 0x8b)))
        return -1;
    return n == 2 ? 1 : 0;
}

/* RFC 1950: CM 8, CINFO <= 7, and the header checksum.  A raw deflate stream
 * passes this by accident only when its first block is a stored block with
 * odd padding bits and the check happens to hold. */
static int looks_zlib(const unsigned char s[2])
{
    return (s[0] & 0x0f) == 8 && (s[0] >> 4) <= 7 && ((unsigned)s[0] << 8 | s[1]) % 31 == 0;
}

static int zlib_start(bw_hdec_t *d, int window_bits)
{
    z_stream *z = calloc(1, sizeof(*z));
    if (!z)
        return fail(d, "out of memory");
    if (inflateInit2(z, window_bits) != Z_OK) {
        free(z);
        return fail(d, "out of memory");
    }
    d->lib = z;
    return BW_HDEC_OK;
}

int bw_hdec_init(bw_hdec_t *d, int coding, uint64_t max_out, uint32_t max_ratio)
{
    /* not memset: the 64 KiB buffer needs no clearing */
    memset(d, 0, offsetof(bw_hdec_t, out));
    d->coding = coding;
    d->max_out = max_out;
    d->max_ratio = max_ratio;
    switch (coding) {
    case BW_HTTP_CE_GZIP:
        d->mode = MODE_ZLIB;
        d->phase = PH_STREAM;
        return zlib_start(d, 15 + 32); /* gzip, or zlib sent as "gzip" */
    case BW_HTTP_CE_DEFLATE:
        d->mode = MODE_ZLIB;
        d->phase = PH_SNIFF;
        return BW_HDEC_OK;
    case BW_HTTP_CE_BR:
        d->mode = MODE_BR;
        d->phase = PH_STREAM;
        d->lib = BrotliDecoderCreateInstance(NULL, NULL, NULL);
        return d->lib ? BW_HDEC_OK : fail(d, "out of memory");
    case BW_HTTP_CE_ZSTD:
        d->mode = MODE_ZSTD;
        d->phase = PH_SNIFF;
        d->lib = ZSTD_createDCtx();
        if (!d->lib)
            return fail(d, "out of memory");
        ZSTD_DCtx_setParameter(d->lib, ZSTD_d_windowLogMax, ZSTD_WINDOW_LOG_MAX);
        return BW_HDEC_OK;
    case 0:
        return BW_HDEC_OK;
    default: /* compress (LZW), unknown tokens */
        return BW_HDEC_UNSUPPORTED;
    }
}

int bw_hdec_feed(bw_hdec_t *d, const void *in, size_t len, bw_hdec_cb cb, void *ud)
{
    const unsigned char *p = in;
    while (len && !d->result) {
        switch (d->phase) {
        case PH_PASS:
        case PH_TRAILING: {
            if (d->phase == PH_TRAILING)
                d->trailing += len;
            d->in_total += len;
            deliver(d, p, len, cb, ud);
            len = 0;
            break;
        }
        case PH_SNIFF: {
            d->sniff[d->nsniff++] = *p++;
            len--;
            int ck = sniff_check(d);
            if (ck == 0)
                break;
            size_t n = d->nsniff;
            d->nsniff = 0;
            if (ck < 0 && !d->members) {
                fail(d, "not a zstd frame");
                break;
            }
            if (ck < 0) { /* after the last member: trailing bytes */
                d->phase = PH_TRAILING;
                d->trailing += n;
                d->in_total += n;
                deliver(d, d->sniff, n, cb, ud);
                break;
            }
            int rc = BW_HDEC_OK;
            if (d->mode == MODE_ZLIB && !d->lib)
                rc = zlib_start(d, looks_zlib(d->sniff) ? 15 : -15);
            else if (d->mode == MODE_ZLIB && inflateReset(d->lib) != Z_OK)
                rc = fail(d, "zlib reset failed");
            else if (d->mode == MODE_ZSTD &&
                     ZSTD_isError(ZSTD_DCtx_reset(d->lib, ZSTD_reset_session_only)))
                rc = fail(d, "zstd reset failed");
            if (rc)
                break;
            d->phase = PH_STREAM;
            /* a stream never ends inside its first 2 or 4 bytes but with
             * them (raw "03 00"), so nothing is left over */
            if (run_lib(d, d->sniff, n, cb, ud) < n && !d->result && d->phase == PH_STREAM)
                fail(d, "decoder left header bytes");
            break;
        }
        case PH_STREAM: {
            size_t used = run_lib(d, p, len, cb, ud);
            p += used;
            len -= used;
            if (!used && d->phase == PH_STREAM && !d->result)
                return fail(d, "decoder made no progress");
            break;
        }
        }
    }
    return d->result;
}

int bw_hdec_end(bw_hdec_t *d, bw_hdec_cb cb, void *ud)
{
    if (d->result)
        return d->result;
    /* in_total == 0: an empty body, which needs no stream at all */
    if ((d->phase == PH_STREAM && d->in_total) || (d->phase == PH_SNIFF && d->nsniff)) {
        d->err_off = d->in_total;
        d->reason = "compressed stream truncated";
        return BW_HDEC_TRUNCATED;
    }
    return BW_HDEC_OK;
}

void bw_hdec_free(bw_hdec_t *d)
{
    if (!d->lib)
        return;
    if (d->mode == MODE_ZLIB) {
        inflateEnd(d->lib);
        free(d->lib);
    } else if (d->mode == MODE_BR) {
        BrotliDecoderDestroyInstance(d->lib);
    } else if (d->mode == MODE_ZSTD) {
        ZSTD_freeDCtx(d->lib);
    }
    d->lib = NULL;
}

const char *bw_hdec_result_name(int result)
{
    switch (result) {
    case BW_HDEC_OK: return "ok";
    case BW_HDEC_ERROR: return "corrupt";
    case BW_HDEC_TRUNCATED: return "truncated";
    case BW_HDEC_TOO_LARGE: return "too large";
    case BW_HDEC_RATIO: return "compression ratio too high";
    case BW_HDEC_UNSUPPORTED: return "unsupported coding";
    case BW_HDEC_STOPPED: return "stopped";
    default: return "?";
    }
}
