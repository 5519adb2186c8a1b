/* SPDX-License-Identifier: Apache-2.0 */
/* Parsing the encapsulated HTTP header blocks of an ICAP request.
 *
 * The blocks arrive unchunked and already delimited by the Encapsulated
 * offsets, and they were written by the proxy, not by the origin: Squid
 * re-serialises what it parsed.  So the parser is strict about structure
 * (start line, "name: value" lines, the empty line that ends the block) and
 * lenient about things a proxy may pass through from an odd origin: obs-fold
 * continuation lines extend the previous value (the slice then spans the
 * CRLF and the blanks; the helpers below treat CR and LF as blanks), and
 * blanks before the colon are dropped.  The ICAP head parser reuses the
 * header-line code with folding and pre-colon blanks rejected.
 *
 * Pure functions over (buf, len): slices into buf, no allocation.
 */
#ifndef BW_ICAP_HTTP_PARSE_H
#define BW_ICAP_HTTP_PARSE_H

#include <stdint.h>

#include "icap/icap-parse-t.h"

typedef struct bw_http_msg {
    int is_response;
    bw_icap_str_t method;  /* request: "GET" ... */
    bw_icap_str_t target;  /* request: absolute URL (proxy form) or origin path */
    bw_icap_str_t version; /* "HTTP/1.1" */
    int status;            /* response: 100..999 */
    bw_icap_str_t reason;  /* response: may be empty */
    bw_icap_header_t headers[BW_HTTP_MAX_HEADERS];
    size_t nheaders;
    size_t dropped;  /* header lines past BW_HTTP_MAX_HEADERS: checked, not kept */
    size_t head_len; /* start line + headers + the empty line */
} bw_http_msg_t;

/* Header-line policy for bw_http_parse_header_line(). */
#define BW_HDR_STRICT 0  /* ICAP: no blanks before ':' */
#define BW_HDR_LENIENT 1 /* HTTP blocks: blanks before ':' dropped */

/* Parses one header line buf[start..eol) (eol excludes the CR/LF).  BW_OK, or
 * BW_ERR with *err_off and *reason set. */
int bw_http_parse_header_line(const char *buf, size_t start, size_t eol, int policy,
                              bw_icap_header_t *h, size_t *err_off, const char **reason);

/* Finds the next line terminator at or after start, within buf[0..limit).
 * Sets *eol (before the CR, if any) and *next (after the LF).  BW_OK, or
 * BW_AGAIN when no LF is there yet.  Bare CRs are left to the line checks. */
int bw_http_find_line(const char *buf, size_t limit, size_t start, size_t *eol, size_t *next);

/* Parses an HTTP request head (is_response = 0) or response head (1):
 * returns its length (> 0), BW_AGAIN, or BW_ERR with *err (status 400).
 * Header lines past BW_HTTP_MAX_HEADERS are checked but not kept: m->dropped
 * counts them, and a caller must then not trust what the kept ones say
 * (a later Content-Type may contradict them). */
int bw_http_parse_head(const char *buf, size_t len, int is_response, bw_http_msg_t *m,
                       bw_icap_perr_t *err);

/* The same for a block cut out by the Encapsulated offsets: BW_OK only when
 * the block is exactly one head; a truncated block or bytes after the empty
 * line are errors (the offsets lied). */
int bw_http_parse_block(const char *buf, size_t len, int is_response, bw_http_msg_t *m,
                        bw_icap_perr_t *err);

/* Index of the first header named name (case-insensitive) at index >= from,
 * or -1.  Works on ICAP and HTTP header arrays alike. */
int bw_hdr_find(const bw_icap_header_t *h, size_t n, const char *name, size_t from);

/* Content-Length: BW_OK with *out, BW_DECLINED when absent, BW_ERR when not
 * a number, too big, or several differing values (a smuggling sign). */
int bw_http_content_length(const bw_http_msg_t *m, uint64_t *out);

/* Content-Type: *type is the media type without parameters ("multipart/
 * form-data", case as sent), *boundary the boundary parameter without quotes
 * (empty when there is none).  BW_OK, BW_DECLINED when absent, BW_ERR when
 * malformed (an empty or backslash-escaped boundary, unterminated quotes). */
int bw_http_content_type(const bw_http_msg_t *m, bw_icap_str_t *type, bw_icap_str_t *boundary);

/* Every boundary a multipart parser could take from the message: the
 * boundary= and boundary*= (RFC 2231) parameters of every Content-Type header
 * whose type is multipart/..., distinct values only, at most max.  ext[i] is
 * 1 for a boundary*= value, still encoded (charset'lang'pct-encoded).
 * *ambiguous is set when the choice is not clear-cut: Content-Type headers
 * that differ, a repeated or extended boundary parameter, more candidates
 * than max, or an unterminated quote.  Returns the number stored. */
size_t bw_http_boundaries(const bw_http_msg_t *m, bw_icap_str_t *out, int *ext, size_t max,
                          int *ambiguous);

/* 1 when the message carries Content-Disposition: attachment (or a
 * filename parameter): the object is a download, whatever its type. */
int bw_http_is_attachment(const bw_http_msg_t *m);

typedef enum bw_http_coding {
    BW_HTTP_CE_GZIP = 1, /* gzip, x-gzip */
    BW_HTTP_CE_DEFLATE,  /* deflate (zlib or raw, the decoder sniffs) */
    BW_HTTP_CE_BR,
    BW_HTTP_CE_ZSTD,
    BW_HTTP_CE_COMPRESS, /* compress, x-compress */
    BW_HTTP_CE_OTHER,
} bw_http_coding_t;

/* Content-Encoding codings in the order they were applied (all headers,
 * comma lists flattened; "identity" dropped).  *n = 0 when absent.  BW_OK,
 * or BW_ERR when there are more than max. */
int bw_http_content_encoding(const bw_http_msg_t *m, bw_http_coding_t *out, size_t max,
                             size_t *n);

#endif
