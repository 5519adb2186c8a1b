/* SPDX-License-Identifier: Apache-2.0 */
/* The clamd protocol's framing, as pure functions over a byte buffer: no I/O,
 * no allocation, slices into the caller's buffer (picohttpparser style).
 *
 * A command is one of three forms, and the reply's terminator follows it:
 *   zCMD[ arg]\0     replies end with \0
 *   nCMD[ arg]\n     replies end with \n (a \r before the \n is dropped)
 *   CMD[ arg]\n      legacy: the line, or whatever arrived in one read when
 *                    no newline came with it (clamd reads "one packet = one
 *                    command"); replies end with \n
 * INSTREAM data follows its command as chunks: a 4-byte big-endian length,
 * that many bytes, ..., and a zero length.
 */
#ifndef BW_CLAMD_PARSE_H
#define BW_CLAMD_PARSE_H

#include <stddef.h>
#include <stdint.h>

typedef enum bw_clamd_cmd {
    BW_CLAMD_UNKNOWN = 0,
    /* in clamd's table order: VERSIONCOMMANDS lists them so */
    BW_CLAMD_SCAN,
    BW_CLAMD_QUIT,
    BW_CLAMD_RELOAD,
    BW_CLAMD_PING,
    BW_CLAMD_CONTSCAN,
    BW_CLAMD_VERSIONCOMMANDS,
    BW_CLAMD_VERSION,
    BW_CLAMD_END,
    BW_CLAMD_SHUTDOWN,
    BW_CLAMD_MULTISCAN,
    BW_CLAMD_FILDES,
    BW_CLAMD_STATS,
    BW_CLAMD_IDSESSION,
    BW_CLAMD_INSTREAM,
    BW_CLAMD_DETSTATSCLEAR,
    BW_CLAMD_DETSTATS,
    BW_CLAMD_ALLMATCHSCAN,
    BW_CLAMD_CMD_COUNT
} bw_clamd_cmd_t;

typedef enum bw_clamd_style {
    BW_CLAMD_BARE = 0, /* legacy, no prefix */
    BW_CLAMD_N,
    BW_CLAMD_Z,
} bw_clamd_style_t;

typedef struct bw_clamd_req {
    bw_clamd_cmd_t cmd;     /* BW_CLAMD_UNKNOWN: reply "UNKNOWN COMMAND" */
    bw_clamd_style_t style;
    char term;              /* the replies' terminator: '\0' or '\n' */
    const char *arg;        /* SCAN-family path: a slice of the buffer, not NUL-terminated */
    size_t arg_len;
} bw_clamd_req_t;

/* Parses the command at the start of buf[0..len).
 *   > 0        bytes consumed (the command and its terminator); *req is set
 *   BW_AGAIN   no terminator yet
 *   BW_ERR     no terminator within max_line bytes: the caller closes
 * `eop` says that buf ends where a read ended; only the legacy form uses it.
 * An unknown or malformed command is not an error: it parses as
 * BW_CLAMD_UNKNOWN, as clamd answers it. */
int bw_clamd_parse_cmd(const char *buf, size_t len, int eop, size_t max_line, bw_clamd_req_t *req);

/* The command's name ("SCAN"), or "UNKNOWN". */
const char *bw_clamd_cmd_name(bw_clamd_cmd_t cmd);

/* 1 if the command takes a path argument. */
int bw_clamd_cmd_takes_path(bw_clamd_cmd_t cmd);

/* ---- INSTREAM chunks ------------------------------------------------------ */

typedef struct bw_clamd_stream {
    uint64_t limit;    /* StreamMaxLength */
    uint64_t total;    /* data bytes announced so far */
    uint32_t left;     /* bytes left in the current chunk */
    uint8_t hdr[4];    /* a length split across reads */
    uint8_t have;      /* bytes of hdr held */
    uint8_t ended;
} bw_clamd_stream_t;

typedef enum bw_clamd_chunk_ev {
    BW_CHUNK_MORE = 0,   /* everything given was consumed; feed more */
    BW_CHUNK_BYTES,      /* *data, *n are chunk bytes (a slice of buf) */
    BW_CHUNK_LAST,       /* the zero length: the stream is complete */
    BW_CHUNK_OVER,       /* a length past StreamMaxLength */
} bw_clamd_chunk_ev_t;

void bw_clamd_stream_init(bw_clamd_stream_t *st, uint64_t limit);
/* Consumes from buf[0..len) up to the next event; *used says how much.
 * Resumable: call again with the rest. */
bw_clamd_chunk_ev_t bw_clamd_stream_feed(bw_clamd_stream_t *st, const char *buf, size_t len,
                                         size_t *used, const char **data, size_t *n);

#endif
