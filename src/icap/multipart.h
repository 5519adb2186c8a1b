/* SPDX-License-Identifier: Apache-2.0 */
/* A resumable multipart/form-data splitter (RFC 7578 over RFC 2046).
 *
 * An upload is scanned part by part, each part as a file of its own, so that
 * a file at the start of a part is seen at offset 0 as the origin will store
 * it.  The body arrives in arbitrary pieces (ICAP chunks); the splitter keeps
 * its whole state in a caller-owned, zeroed struct and never allocates: a
 * delimiter cut across two feeds is remembered as "how much of CRLF--boundary
 * has matched" and the held bytes are rebuilt from the pattern itself if the
 * match fails, so no input is ever copied except a part's header block
 * (bounded by BW_MP_HEAD_MAX).
 *
 * Output is a stream of events through a callback.  Nothing is dropped
 * unscanned: the preamble (before the first delimiter) and the epilogue (after
 * the close delimiter) come as pseudo-parts of their own kind.  Delimiter
 * CRLFs, delimiter lines and header blocks are not data; transport padding
 * after the close delimiter is dropped.
 *
 * Leniency, chosen so that what we split matches what origins accept (an
 * attacker picks whatever an origin takes and we do not): a bare LF works
 * where CRLF is due, blanks of any length pad a delimiter line, boundaries
 * up to 4 KiB, a header block of any size (its lines are parsed as they
 * come and dropped once the buffer is full), a header line without a colon
 * is ignored.  A "--boundary" followed by anything else on its line is not
 * a delimiter (it stays data).
 */
#ifndef BW_ICAP_MULTIPART_H
#define BW_ICAP_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

#define BW_MP_BOUNDARY_MAX 4096   /* RFC 2046 says 70; origins take any length */
#define BW_MP_HEAD_MAX (16u * 1024) /* header bytes held at once (complete lines are parsed and dropped) */
#define BW_MP_PAD_RUNS 16          /* runs of one blank after a boundary (any length each) */

typedef enum bw_mp_ev_type {
    BW_MP_PART_BEGIN = 1, /* ev->part: kind and, for a real part, its headers */
    BW_MP_PART_DATA,      /* ev->data, ev->len (never 0), ev->offset */
    BW_MP_PART_END,       /* ev->truncated: the body ended inside this part */
    BW_MP_END,            /* once, from bw_mp_finish(): ev->truncated, ev->error */
    BW_MP_ERROR,          /* ev->reason, ev->offset; a RAW pseudo-part follows (not emitted today) */
} bw_mp_ev_type_t;

typedef enum bw_mp_kind {
    BW_MP_KIND_PART = 0, /* a body part between delimiters */
    BW_MP_KIND_PREAMBLE, /* bytes before the first delimiter (only if any) */
    BW_MP_KIND_EPILOGUE, /* bytes after the close delimiter line (only if any) */
    BW_MP_KIND_RAW,      /* after an error: everything from the failed header block on */
} bw_mp_kind_t;

/* One part, valid from its PART_BEGIN to its PART_END.  The strings are
 * decoded (quotes and backslash escapes removed, filename* percent-decoded),
 * NUL-terminated, cut to their buffer (the *_cut flags say so). */
typedef struct bw_mp_part {
    bw_mp_kind_t kind;
    unsigned index;        /* real parts: 0, 1, ...; pseudo-parts: the count so far */
    uint64_t offset;       /* body offset of the part's first data byte */
    uint64_t size;         /* data bytes delivered so far (final at PART_END) */
    const char *head;      /* PART_BEGIN only: the raw header block, blank line excluded */
    size_t head_len;
    int has_name, has_filename;
    int name_cut, filename_cut;
    int head_cut;          /* header lines were parsed and dropped (block over BW_MP_HEAD_MAX,
                            * or one line over it, which is dropped unparsed) */
    int ctype_twice;       /* two different Content-Type lines: the last is in ctype */
    char name[256];        /* Content-Disposition name= */
    char filename[1024];   /* filename*= (UTF-8) if present, else filename= */
    char ctype[256];       /* Content-Type value as sent (parameters included), trimmed */
    char cte[64];          /* Content-Transfer-Encoding, trimmed; not decoded */
} bw_mp_part_t;

typedef struct bw_mp_event {
    bw_mp_ev_type_t type;
    const bw_mp_part_t *part; /* BEGIN, DATA, END (NULL for END/ERROR) */
    const char *data;         /* DATA: valid during the callback only */
    size_t len;
    uint64_t offset;          /* DATA: body offset of data[0]; ERROR: where */
    const char *reason;       /* ERROR: static text */
    int truncated;            /* PART_END, END: no close delimiter before the body ended */
    int error;                /* END: an ERROR was reported */
    unsigned nparts;          /* END: real parts seen */
} bw_mp_event_t;

/* Returns 0 to go on; anything else stops the splitter (feed and finish then
 * return BW_DECLINED and do nothing more). */
typedef int (*bw_mp_cb)(void *ud, const bw_mp_event_t *ev);

typedef struct bw_mp {
    int state;
    int stopped, finished, error, close_seen;
    uint64_t off;                         /* body bytes consumed before this feed */
    char pat[4 + BW_MP_BOUNDARY_MAX + 1]; /* "\r\n--" boundary */
    size_t patlen;
    /* delimiter match: k bytes of "\n--boundary" matched, cr: a CR before
     * them is held, virt: the LF (and CR) are virtual (body start or the end
     * of a header block, which may double as a delimiter's CRLF) */
    size_t k;
    int cr, virt;
    int after;                            /* after a full boundary: 0 none, 1 start, 2 '-', 3 pad, 4 pad CR */
    struct { char c; uint32_t n; } pad[BW_MP_PAD_RUNS]; /* blanks held, as runs */
    size_t npad;                          /* runs used */
    uint64_t hold_off;                    /* body offset of the first held byte */
    char head[BW_MP_HEAD_MAX];
    size_t headlen, line_start;
    int line_over;                        /* the current header line overflowed: dropped */
    uint64_t head_off;
    int part_open;
    unsigned nparts;
    bw_mp_part_t part;
} bw_mp_t;

/* boundary: the Content-Type parameter, unquoted.  BW_OK, or BW_ERR when it
 * is empty, longer than BW_MP_BOUNDARY_MAX or holds CR, LF or NUL. */
int bw_mp_init(bw_mp_t *m, const char *boundary, size_t len);

/* Feeds the next body bytes.  BW_OK (errors in the body are events, not
 * results), BW_DECLINED when stopped by the callback, BW_ERR if called after
 * bw_mp_finish(). */
int bw_mp_feed(bw_mp_t *m, const char *p, size_t n, bw_mp_cb cb, void *ud);

/* The body ended: flushes held bytes, closes the open part (truncated if no
 * close delimiter was seen) and emits END.  BW_OK or BW_DECLINED. */
int bw_mp_finish(bw_mp_t *m, bw_mp_cb cb, void *ud);

/* Content-Transfer-Encoding of a part (RFC 2045), undone in a stream:
 * base64 (characters outside the alphabet skipped, '=' ends a quantum) and
 * quoted-printable (soft line breaks removed, a malformed '=' kept as is).
 * Pure; the state is a few bytes.  Output is at most the input's length
 * (+2 for a held quoted-printable escape). */
typedef enum bw_cte { BW_CTE_NONE = 0, BW_CTE_BASE64, BW_CTE_QP, BW_CTE_OTHER } bw_cte_t;
typedef struct bw_cte_dec {
    bw_cte_t kind;
    uint32_t acc;     /* base64: bits so far; qp: held escape bytes */
    int nacc;         /* base64: sextets in acc; qp: bytes held after '=' */
    char held[3];
    uint64_t bad;     /* input bytes that were not of the encoding */
} bw_cte_dec_t;

/* The kind named by a Content-Transfer-Encoding value ("" is NONE; 7bit,
 * 8bit, binary are NONE too). */
bw_cte_t bw_cte_kind(const char *value);
void bw_cte_init(bw_cte_dec_t *d, bw_cte_t kind);
/* Decodes in[0..n) into out (room for n + 3 bytes); returns the length. */
size_t bw_cte_feed(bw_cte_dec_t *d, const char *in, size_t n, char *out);
/* The end of the part: what a cut quantum or escape still holds. */
size_t bw_cte_end(bw_cte_dec_t *d, char *out);

#endif
