/* SPDX-License-Identifier: Apache-2.0 */
/* BWSCAN/1 (docs/rscan.md): the pure parser of both directions.  Each
 * function reads one line from (buf, len) and returns
 *   BW_OK     one item parsed, *consumed bytes used (the line and its \n);
 *   BW_AGAIN  no complete line yet (need more bytes);
 *   BW_ERR    err says what and where; *consumed is the bad line's length
 *             when the line was complete (the caller may skip it and go on),
 *             0 when the line is longer than max_line (the stream cannot be
 *             resynchronised: close).
 * Nothing here allocates or touches a socket: names and threats are decoded
 * into fixed buffers of the result. */
#ifndef BW_RSCAN_PARSE_H
#define BW_RSCAN_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "bulwark/core.h"
#include "core/err.h"

#define BW_RSCAN_MAX_LINE 4096  /* longest request/reply line we accept */
#define BW_RSCAN_NAME_MAX 1024  /* decoded name / threat, NUL included */
#define BW_RSCAN_DBVER_MAX 64
#define BW_RSCAN_MAX_CHUNK (1u << 20) /* largest chunk a sender may announce */

typedef enum { BW_RSCAN_REQ_SCAN = 1, BW_RSCAN_REQ_PING } bw_rscan_req_kind_t;

typedef struct bw_rscan_req {
    bw_rscan_req_kind_t kind;
    char sha256[65];                 /* lower-case hex */
    uint64_t size;
    char name[BW_RSCAN_NAME_MAX];    /* decoded; may be empty */
} bw_rscan_req_t;

typedef enum {
    BW_RSCAN_REP_VERDICT = 1,
    BW_RSCAN_REP_SEND,
    BW_RSCAN_REP_ERROR,
    BW_RSCAN_REP_PONG,
} bw_rscan_rep_kind_t;

typedef struct bw_rscan_reply {
    bw_rscan_rep_kind_t kind;
    bw_status_t status;              /* VERDICT */
    char threat[BW_RSCAN_NAME_MAX];  /* VERDICT: decoded, "" for "-"; ERROR: the message */
    char db_version[BW_RSCAN_DBVER_MAX]; /* VERDICT, PONG */
    int cached;                      /* VERDICT: 1 "cached", 0 "scanned" */
} bw_rscan_reply_t;

/* A client request line: SCAN or PING. */
int bw_rscan_parse_request(const char *buf, size_t len, bw_rscan_req_t *out, size_t *consumed,
                           bw_err_t *err);
/* A chunk header "<len-in-hex>\n" (0 ends the content); len <= BW_RSCAN_MAX_CHUNK. */
int bw_rscan_parse_chunk(const char *buf, size_t len, uint64_t *chunk_len, size_t *consumed,
                         bw_err_t *err);
/* A server reply line. */
int bw_rscan_parse_reply(const char *buf, size_t len, bw_rscan_reply_t *out, size_t *consumed,
                         bw_err_t *err);

/* Percent-encodes src into dst (cap bytes, NUL-terminated): bytes outside
 * [A-Za-z0-9._/~+:@,=-] become %XX, so the result holds no space or control
 * byte.  An empty src encodes as "" (the caller writes "-" for "none").
 * Returns the length written, or (size_t)-1 if it does not fit. */
size_t bw_rscan_pct_encode(const char *src, char *dst, size_t cap);

#endif
