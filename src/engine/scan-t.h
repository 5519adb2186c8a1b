/* SPDX-License-Identifier: Apache-2.0 */
/* The scan context: private to scan.c (lifecycle, hashes, spooling, findings)
 * and scan-body.c (body-signature matching). */
#ifndef BW_ENGINE_SCAN_T_H
#define BW_ENGINE_SCAN_T_H

#include <hs/hs.h>
#include <openssl/evp.h>

#include "bulwark/bulwark.h"
#include "core/vec.h"
#include "engine-int.h"
#include "ftype.h"
#include "core/spool.h"

typedef struct bw_finding {
    bw_status_t status;
    uint32_t meta;   /* UINT32_MAX for limit/container findings */
    char *name;
    char *path;
} bw_finding_t;

/* A prefilter hit waiting for the bytes after its anchor to arrive. */
typedef struct bw_cand {
    uint32_t part;
    uint64_t astart;  /* stream offset of the anchor's first byte */
    uint64_t ready;   /* stream length at which it can be verified */
} bw_cand_t;

/* A verified match of one part of a multi-part (or EOF-anchored) signature. */
typedef struct bw_pmatch {
    uint32_t part;
    uint32_t counted; /* 1 once it completed a chain that was counted */
    uint64_t start, end;
} bw_pmatch_t;

typedef struct bw_kv {
    uint32_t key, val;
} bw_kv_t;

struct bw_scan {
    const bw_engine_t *e;
    bw_limits_t lim;
    bw_scan_t *root, *parent;
    uint32_t depth;
    char *path;          /* this object's path: root = basename of the name */

    /* budgets, meaningful at the root only */
    uint64_t total_bytes;
    uint64_t deadline_ms;
    int stop;            /* a detection or a budget decided the whole verdict */
    uint32_t members;    /* container members opened under this object */

    uint64_t size;       /* bytes fed to this object */
    int done;            /* this object needs no more bytes */
    int failed;          /* out of memory: the verdict becomes ERROR */
    EVP_MD_CTX *md[BW_HASH_KINDS];
    uint8_t md_skipped[BW_HASH_KINDS]; /* dropped by bw_scan_expect_size */
    uint64_t size_hint;

    uint8_t *head;       /* the first BW_FTYPE_HEAD bytes, for type detection */
    size_t head_len;
    int type_known;
    bw_ftype_t type;
    int spooling;
    bw_spool_t spool;

    /* body matching (scan-body.c) */
    hs_scratch_t *scratch;
    int own_scratch;
    hs_stream_t *stream;
    int hs_stopped;
    uint8_t *win;
    size_t win_len, win_cap;
    uint64_t win_off;
    BW_VEC(bw_cand_t) pending;
    BW_VEC(bw_pmatch_t) pm;
    BW_VEC(bw_kv_t) counts;      /* bsig -> matches, for .ldb subsignatures */
    BW_VEC(uint32_t) deferred;   /* bsigs matched before the file type was known */
    BW_VEC(uint32_t) eofsigs;    /* EOF-anchored bsigs with stored part matches */

    BW_VEC(bw_finding_t) findings;
};

/* scan.c */
void bw_scan_add_finding(bw_scan_t *s, bw_status_t st, uint32_t meta, const char *name,
                         const char *path);
/* A body signature matched completely (offset already checked). */
void bw_scan_bsig_matched(bw_scan_t *s, uint32_t bsig);

/* scan-body.c */
int bw_body_begin(bw_scan_t *s);
int bw_body_feed(bw_scan_t *s, const uint8_t *buf, size_t len);
void bw_body_end(bw_scan_t *s);       /* flushes pending work, evaluates .ldb */
void bw_body_free(bw_scan_t *s);
/* Re-evaluates matches that waited for the file type. */
void bw_body_type_known(bw_scan_t *s);

#endif
