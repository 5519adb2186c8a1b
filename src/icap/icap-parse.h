/* SPDX-License-Identifier: Apache-2.0 */
/* The pure ICAP parser layer: request head, Encapsulated, chunked bodies.
 *
 * How a connection uses it (the I/O lives in the connection layer, as
 * HAProxy's mux_h1.c sits on h1.c):
 *
 *   1. bw_icap_parse_head(buf, len, last_len, &req, &err) after each read:
 *      BW_AGAIN until the blank line after the headers has arrived, then the
 *      head's length.  Anything after it is the ICAP body (or the next
 *      pipelined request).  BW_ERR: answer err.status and close.
 *      req.method == BW_ICAP_UNKNOWN: answer 501 and close (the body, if
 *      any, cannot be delimited by a method we do not know).
 *   2. bw_icap_encap_hdr_len(&req.encap) bytes of encapsulated HTTP headers
 *      follow, not chunked; collect them, then bw_icap_encap_split() gives
 *      the req-hdr / res-hdr blocks for bw_http_parse_block() (http-parse.h).
 *   3. If bw_icap_encap_body(&req.encap) is a body (not null-body), feed the
 *      rest to bw_icap_chunk_feed() until BW_CHUNK_END.  With a Preview the
 *      client stops at a zero chunk: END with ieof == 0 means "answer 100
 *      Continue (or decide now)"; reset the decoder with
 *      bw_icap_chunk_reset() and keep feeding the continuation.
 *
 * Error offsets are byte offsets into the buffer given to the call (for the
 * chunk decoder: into the whole body stream since the last reset).
 */
#ifndef BW_ICAP_PARSE_H
#define BW_ICAP_PARSE_H

#include "core/err.h"
#include "icap/icap-parse-t.h"

/* ---- icap-parse.c ---- */

/* Parses the ICAP request head at buf[0..len).  last_len is the len of the
 * previous call on the same (grown) buffer, or 0: when set, a call that
 * cannot have completed the head (no blank line in the new bytes) returns
 * BW_AGAIN after looking at the new bytes only, so a head arriving byte by
 * byte costs linear, not quadratic, time.  Returns the head length (> 0),
 * BW_AGAIN, or BW_ERR with *err filled (err may be NULL).  *req is
 * overwritten by every call that parses (all but the last_len shortcut), and
 * is complete only when the return value is > 0. */
int bw_icap_parse_head(const char *buf, size_t len, size_t last_len, bw_icap_req_t *req,
                       bw_icap_perr_t *err);

/* icap://host[:port]/path[?query] or /path[?query].  BW_OK or BW_ERR with
 * *reason set (a static string). */
int bw_icap_parse_uri(const char *p, size_t n, bw_icap_uri_t *u, const char **reason);

/* Parses an Encapsulated value (already trimmed of surrounding blanks) and
 * checks the rules that hold for every method: known names, no duplicates,
 * header sections before the one body entry, which is last and required,
 * first offset 0, offsets strictly increasing and at most
 * BW_ICAP_MAX_ENCAP_HDRS.  err->offset is relative to v. */
int bw_icap_parse_encap(const char *v, size_t n, bw_icap_encap_t *e, bw_icap_perr_t *err);

/* The combinations a request method allows (RFC 3507 4.4.1 and errata e1):
 *   REQMOD  [req-hdr] (req-body | null-body)
 *   RESPMOD [req-hdr] [res-hdr] (res-body | null-body)
 *   OPTIONS (null-body | opt-body)
 * BW_OK, or BW_ERR with *reason set.  BW_ICAP_UNKNOWN passes. */
int bw_icap_encap_check(const bw_icap_encap_t *e, bw_icap_method_t m, const char **reason);

/* Bytes of encapsulated HTTP headers between the ICAP head and the body (the
 * offset of the body or null-body entry).  0 for an empty list. */
uint32_t bw_icap_encap_hdr_len(const bw_icap_encap_t *e);

/* The body entry's kind (BW_ENC_REQ_BODY, BW_ENC_RES_BODY, BW_ENC_OPT_BODY or
 * BW_ENC_NULL_BODY), or -1 for an empty list. */
int bw_icap_encap_body(const bw_icap_encap_t *e);

/* Given exactly bw_icap_encap_hdr_len() collected bytes, slices out the
 * req-hdr and res-hdr blocks (empty slices for absent sections).  BW_OK, or
 * BW_ERR when len is not that length. */
int bw_icap_encap_split(const bw_icap_encap_t *e, const char *buf, size_t len,
                        bw_icap_str_t *req_hdr, bw_icap_str_t *res_hdr, bw_icap_perr_t *err);

const char *bw_icap_method_name(bw_icap_method_t m); /* "OPTIONS", ..., "UNKNOWN" */
const char *bw_icap_sect_name(bw_icap_sect_t k);     /* "req-hdr", ... */

/* Case-insensitive comparison of a slice with a NUL-terminated literal. */
int bw_icap_str_eq_ci(bw_icap_str_t s, const char *lit);

/* Writes "byte N: reason" into e.  Returns BW_ERR, for `return bw_icap_perr_to_err(..)`. */
int bw_icap_perr_to_err(const bw_icap_perr_t *pe, bw_err_t *e);

/* ---- icap-chunk.c ---- */

/* Zeroes the decoder: a fresh body, or the continuation after a preview. */
void bw_icap_chunk_reset(bw_icap_chunk_t *st);

/* Decodes ICAP chunked framing from buf[0..len).  *consumed is always set;
 * the caller drops those bytes and calls again with the rest:
 *   BW_CHUNK_DATA       *data is body bytes inside buf; more may follow in buf
 *   BW_CHUNK_NEED_MORE  all of buf consumed (*consumed == len)
 *   BW_CHUNK_END        the body is complete; bytes after *consumed belong to
 *                       the next request.  Further calls return END, consume 0.
 *   BW_CHUNK_ERROR      st->err says what and where; answer 400 and close.
 *                       Further calls return ERROR, consume 0.
 * Works for any split of the input, down to one byte per call. */
bw_chunk_ev_t bw_icap_chunk_feed(bw_icap_chunk_t *st, const char *buf, size_t len,
                                 size_t *consumed, bw_icap_str_t *data);

#endif
