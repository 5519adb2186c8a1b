/* SPDX-License-Identifier: Apache-2.0 */
/* The compiled signature database: types.
 *
 * Everything is a flat array of fixed-size records that refer to each other by
 * index, never by pointer.  The builder appends to these arrays while loading;
 * once compiled they are immutable and shared by every scan; the cache file is
 * these arrays written one after another (see engine-cache.c).
 *
 * Body signatures (.ndb lines and .ldb subsignatures) are split at their
 * unbounded gaps (`*`, `{n-}`) into PARTS.  Every part has a bounded extent and
 * one ANCHOR: its longest run of exact bytes (at least BW_ANCHOR_MIN).  The
 * anchors of all parts go into one Hyperscan literal database; a literal hit is
 * only a candidate, which sig-match.c verifies against the whole part in a
 * window of recent bytes.  Parts of one signature are then chained in order,
 * honouring the gaps between them (scan-body.c).
 */
#ifndef BW_ENGINE_SIGDB_T_H
#define BW_ENGINE_SIGDB_T_H

#include <stdint.h>

#include "bulwark/bulwark.h"
#include "core/vec.h"

#define BW_ANCHOR_MIN 2        /* shortest literal we will hand to the prefilter */
#define BW_PART_EXTENT_MAX (1u << 20) /* a part longer than this is split at a range gap */
#define BW_GAP_INF UINT32_MAX

/* ---- tokens of a part ---------------------------------------------------- */
enum bw_tok_kind {
    BW_TOK_BYTES = 1, /* exact bytes: a = offset into bytes pool, b = length */
    BW_TOK_MASKED,    /* nibble-masked bytes: pool[a..a+b) values, pool[a+b..a+2b) masks;
                         byte c matches when (c & mask) == value.  `??` is mask 0. */
    BW_TOK_GAP,       /* skip between a and b bytes (b bounded; b >= a) */
    BW_TOK_ALT,       /* one of alts[a..a+b); flag BW_TOKF_NEGATE for !(..) */
    BW_TOK_BOUNDARY,  /* zero-width: flags say which of (B) (L) (W) */
};
#define BW_TOKF_NEGATE 0x01
#define BW_TOKF_B 0x02 /* (B): word boundary (non-alnum or edge) */
#define BW_TOKF_L 0x04 /* (L): line boundary (\r, \n or edge) */
#define BW_TOKF_W 0x08 /* (W): non-alphanumeric byte (ClamAV: "word" char class) */
/* Added by sig-hex.c: a BOUNDARY token is a zero-width look-around.  With
 * BW_TOKF_LEFT it tests the byte before its position, else the byte at its
 * position; BW_TOKF_NEGATE inverts it (`!(B)`).  Stream edges satisfy a
 * plain boundary and fail a negated one. */
#define BW_TOKF_LEFT 0x10

typedef struct bw_tok {
    uint8_t kind;
    uint8_t flags;
    uint16_t reserved;
    uint32_t a, b;
} bw_tok_t;

/* One alternative of an (aa|bb) group: len bytes at pool[off..], masks at
 * pool[off+len..] (alternatives may hold nibble wildcards); lengths may differ
 * between alternatives of a group, except under negation where ClamAV requires
 * equal lengths. */
typedef struct bw_alt {
    uint32_t off, len;
} bw_alt_t;

#define BW_PARTF_NOCASE 0x01 /* ::i — compare ASCII letters case-insensitively */
#define BW_PARTF_FULLWORD 0x02 /* ::f — match must not touch alnum on either side */

typedef struct bw_part {
    uint32_t bsig;          /* owning body signature */
    uint32_t tok_first, tok_count;
    uint32_t anchor_tok;    /* absolute index of the BYTES token used as anchor */
    uint32_t min_before, max_before; /* bytes the part spans before the anchor starts */
    uint32_t min_after, max_after;   /* bytes the part spans after the anchor ends */
    uint32_t gap_min, gap_max; /* from the previous part's end to this part's start */
    uint32_t flags;         /* BW_PARTF_* */
    uint32_t index;         /* position within its signature, 0-based */
} bw_part_t;

/* ---- body signatures ------------------------------------------------------ */
enum bw_off_kind {
    BW_OFF_ANY = 0,  /* `*` */
    BW_OFF_ABS,      /* `n` or `n,maxshift`: start in [off, off+shift] */
    BW_OFF_EOF,      /* `EOF-n` (and `EOF-n,shift`): start in [size-off, size-off+shift] */
};

enum bw_target {
    BW_TARGET_ANY = 0, BW_TARGET_PE = 1, BW_TARGET_OLE2 = 2, BW_TARGET_HTML = 3,
    BW_TARGET_MAIL = 4, BW_TARGET_GRAPHICS = 5, BW_TARGET_ELF = 6, BW_TARGET_ASCII = 7,
    BW_TARGET_MACHO = 9, BW_TARGET_PDF = 10, BW_TARGET_FLASH = 11, BW_TARGET_JAVA = 12,
};

typedef struct bw_bsig {
    uint32_t part_first, part_count;
    uint8_t off_kind;     /* enum bw_off_kind */
    uint8_t target;       /* enum bw_target; only file-type gates we can check are loaded */
    uint16_t reserved;
    uint32_t off, shift;
    uint32_t owner;       /* .ndb: index into metas; .ldb subsig: index into ldbs */
    uint32_t subsig;      /* .ldb: subsignature number; .ndb: 0 */
    uint8_t is_ldb;
    uint8_t pad[3];
} bw_bsig_t;

/* ---- what a detection reports --------------------------------------------- */
typedef struct bw_sigmeta {
    uint32_t name_off;   /* NUL-terminated, in the strings pool */
    uint8_t status;      /* bw_status_t reported on a match (INFECTED unless tagged) */
    uint8_t pad[3];
    uint32_t cure_off, cure_len; /* CURED: the replacement object, in the bytes pool */
} bw_sigmeta_t;

/* ---- logical signatures (.ldb) -------------------------------------------- */
typedef struct bw_ldb {
    uint32_t meta;             /* index into metas */
    uint32_t bsig_first, bsig_count; /* subsignatures, in order: subsig i = bsig_first + i */
    uint32_t logic_first, logic_count; /* compiled expression, in the logic pool */
    uint8_t target;
    uint8_t pad[3];
    uint64_t fsize_min, fsize_max; /* FileSize:min-max, 0..UINT64_MAX when absent */
} bw_ldb_t;

/* The logical expression is compiled to a postfix program (see ldb-logic.h). */
typedef struct bw_logic_op {
    uint8_t op;      /* enum bw_logic_opcode */
    uint8_t pad;
    uint16_t subsig; /* for PUSH */
    uint32_t x, y;   /* thresholds for =, >, < (y: distinct-subsig count, 0 if absent) */
} bw_logic_op_t;

/* ---- hash signatures ------------------------------------------------------ */
enum bw_hash_kind { BW_HASH_MD5 = 0, BW_HASH_SHA1, BW_HASH_SHA256, BW_HASH_KINDS };
enum bw_hash_list { BW_HLIST_DETECT = 0, BW_HLIST_ALLOW, BW_HLISTS };
#define BW_SIZE_ANY UINT64_MAX

typedef struct bw_hashent {
    uint64_t size;       /* BW_SIZE_ANY for `*` */
    uint8_t digest[32];  /* first digest-length bytes used */
    uint32_t meta;       /* index into metas (ALLOW list: name for reporting) */
    uint32_t pad;
} bw_hashent_t;

/* ---- the whole database --------------------------------------------------- */
typedef struct bw_sigdb {
    BW_VEC(bw_tok_t) toks;
    BW_VEC(bw_alt_t) alts;
    BW_VEC(uint8_t) bytes;     /* token bytes, masks, cure bodies */
    BW_VEC(char) strings;      /* NUL-terminated names */
    BW_VEC(bw_part_t) parts;
    BW_VEC(bw_bsig_t) bsigs;
    BW_VEC(bw_sigmeta_t) metas;
    BW_VEC(bw_ldb_t) ldbs;
    BW_VEC(bw_logic_op_t) logic;
    /* sorted by (size, digest) after compile; one array per kind and list */
    BW_VEC(bw_hashent_t) hashes[BW_HLISTS][BW_HASH_KINDS];
    uint32_t max_part_extent;  /* largest max_before + anchor + max_after */
    int mapped;                /* the arrays point into a mapped cache file: not freed here */
} bw_sigdb_t;

#endif
