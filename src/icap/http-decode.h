/* SPDX-License-Identifier: Apache-2.0 */
/* A streaming Content-Encoding decoder: gzip / x-gzip, deflate (zlib-wrapped
 * or raw, sniffed from the first two bytes), br (libbrotlidec) and zstd
 * (libzstd), so that a compressed download is scanned as the bytes the user
 * will get.
 *
 * The decoder is fed the body as it arrives and hands out decoded bytes
 * through a callback, at most BW_HDEC_OUT bytes at a time from a buffer in
 * the caller-owned state: memory per request stays bounded whatever the
 * ratio.  A decompression bomb is stopped by two bounds the caller gives: a
 * total output size and an output/input ratio; each has its own result, so
 * the service can say TOO_LARGE or ERROR, having scanned what came out so
 * far.  Concatenated gzip members (and zstd frames) are all decoded; bytes
 * after the end of the compressed stream that are not a new member are
 * handed out as they are (d->trailing counts them), so they are scanned too.
 *
 * Codings are applied in order by the origin, so a list ("gzip, br") is
 * undone by chaining decoders, last coding first: one decoder's callback
 * feeds the next.
 */
#ifndef BW_ICAP_HTTP_DECODE_H
#define BW_ICAP_HTTP_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "icap/http-parse.h" /* bw_http_coding_t */

#define BW_HDEC_OUT (64u * 1024)
/* The ratio bound only applies past this much output: a small body can
 * legitimately expand a lot (a few hundred bytes of zeros). */
#define BW_HDEC_RATIO_FLOOR (1u << 20)

typedef enum bw_hdec_result {
    BW_HDEC_OK = 0,      /* feed: go on; end: the stream was complete */
    BW_HDEC_ERROR,       /* corrupt stream: d->err_off (input offset), d->reason */
    BW_HDEC_TRUNCATED,   /* end: the input stopped inside the compressed stream */
    BW_HDEC_TOO_LARGE,   /* output reached max_out (exactly max_out bytes were handed out) */
    BW_HDEC_RATIO,       /* output passed max_ratio x input (past the floor) */
    BW_HDEC_UNSUPPORTED, /* init: no decoder for this coding; the state passes bytes through */
    BW_HDEC_STOPPED,     /* the callback asked to stop */
} bw_hdec_result_t;

/* Decoded bytes, valid during the call only.  Return 0 to go on. */
typedef int (*bw_hdec_cb)(void *ud, const unsigned char *p, size_t n);

typedef struct bw_hdec {
    int coding;     /* bw_http_coding_t, or 0 for identity / pass-through */
    int mode;       /* internal: which library drives the stream */
    int phase;      /* internal: sniffing a stream's first bytes, in a stream, after the end */
    int result;     /* sticky once not OK */
    void *lib;      /* z_stream / BrotliDecoderState / ZSTD_DCtx (library-owned memory) */
    unsigned char sniff[4];
    size_t nsniff;
    uint64_t in_total, out_total; /* input consumed, output handed out */
    uint64_t trailing;            /* bytes after the stream end passed through undecoded */
    uint64_t max_out;             /* 0: no bound */
    uint32_t max_ratio;           /* 0: no bound */
    unsigned members;             /* gzip members / zstd frames completed */
    uint64_t err_off;
    const char *reason;           /* static text */
    unsigned char out[BW_HDEC_OUT];
} bw_hdec_t;

/* Sets up d (free a live decoder first: bw_hdec_free).  BW_HDEC_OK, BW_HDEC_UNSUPPORTED
 * (d then passes the input through unchanged, so one code path serves), or
 * BW_HDEC_ERROR when the library cannot allocate its state. */
int bw_hdec_init(bw_hdec_t *d, int coding, uint64_t max_out, uint32_t max_ratio);

/* Decodes the next input bytes, calling cb for each output slice.  Returns
 * BW_HDEC_OK to go on, or a sticky final result (ERROR, TOO_LARGE, RATIO,
 * STOPPED). */
int bw_hdec_feed(bw_hdec_t *d, const void *in, size_t len, bw_hdec_cb cb, void *ud);

/* The input ended: BW_HDEC_OK when the stream was complete (or empty),
 * BW_HDEC_TRUNCATED when it stopped inside, or the sticky result. */
int bw_hdec_end(bw_hdec_t *d, bw_hdec_cb cb, void *ud);

/* Frees the library state; d may then be init'ed again.  Safe twice. */
void bw_hdec_free(bw_hdec_t *d);

/* "ok", "corrupt", ... for logs. */
const char *bw_hdec_result_name(int result);

#endif
