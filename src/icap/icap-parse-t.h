/* SPDX-License-Identifier: Apache-2.0 */
/* Types of the pure ICAP parser layer (RFC 3507 with its errata).
 *
 * Everything here describes bytes that stay in the caller's buffer: a parse
 * fills these structs with (pointer, length) slices and never allocates, so a
 * parsed request is only valid while the buffer it was parsed from is alive
 * and unmoved.  The connection layer owns the buffer, the structs and their
 * lifetimes; this layer owns nothing.
 *
 * Errors carry the ICAP status the connection layer should answer with, but
 * the parser's own return values are the program's internal codes (BW_ERR,
 * BW_AGAIN): the status is advice for the protocol edge, not a result code.
 */
#ifndef BW_ICAP_PARSE_T_H
#define BW_ICAP_PARSE_T_H

#include <stddef.h>
#include <stdint.h>

/* Limits, chosen to fit what Squid and c-icap send with a wide margin, and to
 * bound what a connection has to buffer before the body starts. */
#define BW_ICAP_MAX_HEAD (64u * 1024)        /* ICAP request line + headers + CRLF */
#define BW_ICAP_MAX_HEADERS 100              /* ICAP header lines */
#define BW_ICAP_MAX_ENCAP_HDRS (256u * 1024) /* req-hdr + res-hdr bytes together */
#define BW_ICAP_PREVIEW_MAX (1u << 20)       /* largest Preview: value accepted */
#define BW_HTTP_MAX_HEADERS 256              /* per encapsulated HTTP header block */

/* A slice of the caller's buffer.  Not NUL-terminated. */
typedef struct bw_icap_str {
    const char *p;
    size_t n;
} bw_icap_str_t;

typedef struct bw_icap_header {
    bw_icap_str_t name;  /* token, case preserved */
    bw_icap_str_t value; /* leading/trailing blanks trimmed; may be empty */
} bw_icap_header_t;

/* Where a parse failed: what, where, and what to answer. */
typedef struct bw_icap_perr {
    int status;         /* ICAP status to answer: 400, 501 (never from the head parser), 505 */
    size_t offset;      /* byte offset of the problem in the parsed buffer */
    const char *reason; /* static text, short, no trailing period */
} bw_icap_perr_t;

typedef enum bw_icap_method {
    BW_ICAP_UNKNOWN = 0, /* well-formed token but not an ICAP method: answer 501 */
    BW_ICAP_OPTIONS,
    BW_ICAP_REQMOD,
    BW_ICAP_RESPMOD,
} bw_icap_method_t;

/* icap://host[:port]/path[?query], or a bare /path[?query] (scheme and host
 * then empty).  Nothing is percent-decoded: the service lookup compares raw. */
typedef struct bw_icap_uri {
    bw_icap_str_t scheme; /* "icap" or "icaps" in any case; empty for a bare path */
    bw_icap_str_t host;   /* without the [] of an IPv6 literal; empty for a bare path */
    uint16_t port;        /* 0 when absent: the caller applies 1344 / 11344 */
    bw_icap_str_t path;   /* starts with '/', or empty ("icap://host") */
    bw_icap_str_t query;  /* after '?', without it; empty when absent */
} bw_icap_uri_t;

/* The sections an Encapsulated header can name, in the only order they may
 * appear in.  The values are also bit positions for bw_icap_encap_t.mask. */
typedef enum bw_icap_sect {
    BW_ENC_REQ_HDR = 0,
    BW_ENC_RES_HDR,
    BW_ENC_REQ_BODY,
    BW_ENC_RES_BODY,
    BW_ENC_NULL_BODY,
    BW_ENC_OPT_BODY,
} bw_icap_sect_t;

#define BW_ENC_MAX 3 /* at most req-hdr, res-hdr and one body */

typedef struct bw_icap_encap {
    uint8_t n;    /* entries used */
    uint8_t mask; /* 1u << kind for each entry present */
    struct {
        uint8_t kind;    /* bw_icap_sect_t */
        uint32_t offset; /* from the start of the ICAP body; bounded by BW_ICAP_MAX_ENCAP_HDRS */
    } e[BW_ENC_MAX];
} bw_icap_encap_t;

/* Bits of bw_icap_req_t.allow. */
#define BW_ICAP_ALLOW_204 1u
#define BW_ICAP_ALLOW_206 2u
#define BW_ICAP_ALLOW_TRAILERS 4u

typedef struct bw_icap_req {
    bw_icap_method_t method;
    bw_icap_str_t method_str; /* as sent, for logs and the 501 text */
    bw_icap_str_t uri_str;    /* the whole request-target */
    bw_icap_uri_t uri;
    bw_icap_str_t version;    /* always "ICAP/1.0" after a successful parse */

    bw_icap_header_t headers[BW_ICAP_MAX_HEADERS]; /* all of them, in order */
    size_t nheaders;

    /* Pre-extracted.  An absent header leaves its field zero / empty. */
    int has_encap;         /* an Encapsulated header was sent */
    bw_icap_encap_t encap; /* OPTIONS without one: null-body=0 synthesised */
    int has_preview;
    uint32_t preview;      /* bytes, <= BW_ICAP_PREVIEW_MAX */
    unsigned allow;        /* BW_ICAP_ALLOW_* bits */
    int conn_close;        /* Connection: close */
    bw_icap_str_t host;
    bw_icap_str_t client_ip;     /* X-Client-IP */
    bw_icap_str_t client_user;   /* X-Client-Username (plain or base64, as sent) */
    bw_icap_str_t auth_user;     /* X-Authenticated-User */
    bw_icap_str_t server_ip;     /* X-Server-IP */

    size_t head_len; /* bytes consumed: leading blank lines + request line + headers + blank line */
} bw_icap_req_t;

/* ---- the chunked-body decoder (icap-chunk.c) ---- */

#define BW_CHUNK_MAX_LINE 4096       /* chunk-size line, extensions included */
#define BW_CHUNK_MAX_TRAILER 16384   /* trailer section after the last chunk */

/* The decoder's position.  Zero is the start of a chunk-size line, so a
 * zeroed bw_icap_chunk_t is a fresh decoder. */
typedef enum bw_chunk_state {
    BW_CHS_SIZE = 0,     /* hex digits of the chunk size */
    BW_CHS_AFTER_SIZE,   /* blanks after the size or after an extension value */
    BW_CHS_EXT_PRE_NAME, /* after ';', blanks before an extension name */
    BW_CHS_EXT_NAME,
    BW_CHS_EXT_POST_NAME, /* blanks after a name, before '=' / ';' / end */
    BW_CHS_EXT_PRE_VAL,  /* after '=' */
    BW_CHS_EXT_VAL,      /* token value */
    BW_CHS_EXT_QVAL,     /* quoted-string value */
    BW_CHS_EXT_QESC,     /* after a backslash inside the quoted string */
    BW_CHS_LINE_LF,      /* CR seen at the end of the size line */
    BW_CHS_DATA,
    BW_CHS_DATA_CR,      /* chunk data done: CRLF expected */
    BW_CHS_DATA_LF,
    BW_CHS_TRAILER,      /* start of a trailer line (or of the final empty line) */
    BW_CHS_TRAILER_LINE,
    BW_CHS_TRAILER_LF,
    BW_CHS_FINAL_LF,     /* CR of the final empty line seen */
    BW_CHS_DONE,
    BW_CHS_ERROR,
} bw_chunk_state_t;

/* What bw_icap_chunk_feed() hands back. */
typedef enum bw_chunk_ev {
    BW_CHUNK_NEED_MORE = 0, /* all input consumed, the body is not finished */
    BW_CHUNK_DATA,          /* *data holds body bytes (never empty) */
    BW_CHUNK_END,           /* last chunk and trailers consumed: see ieof / use_original_body */
    BW_CHUNK_ERROR,         /* see err; the state stays in error */
} bw_chunk_ev_t;

typedef struct bw_icap_chunk {
    uint8_t state;           /* bw_chunk_state_t */
    uint8_t name_len;        /* bytes in name[] (capped; name_long when it overflowed) */
    uint8_t name_long;
    uint8_t line_ieof;       /* the current size line carried ieof */
    uint8_t val_nondigit;    /* the current extension value holds a non-digit */
    uint8_t val_overflow;
    char name[24];           /* current extension name, for matching ieof / use-original-body */
    uint32_t line_len;       /* bytes of the current size line / trailer section */
    uint32_t ndigits;        /* hex digits of the current size */
    uint32_t val_len;
    uint64_t size;           /* chunk size being read, then bytes left in the chunk */
    uint64_t val;            /* decimal value of the current extension */

    /* Results, valid once BW_CHUNK_END was returned. */
    int ieof;                   /* the last chunk said ieof: the preview held the whole body */
    int has_use_original_body;  /* the last chunk said use-original-body=N */
    uint64_t use_original_body;

    uint64_t total;   /* body bytes handed out so far */
    uint64_t offset;  /* bytes consumed so far: error offsets are relative to the stream start */
    bw_icap_perr_t err;
} bw_icap_chunk_t;

#endif
