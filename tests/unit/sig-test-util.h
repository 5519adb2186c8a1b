/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the hex-signature tests: compile into a throwaway
 * database, and run the verifier at every occurrence of a part's anchor
 * (what the prefilter would report). */
#ifndef BW_TEST_SIG_UTIL_H
#define BW_TEST_SIG_UTIL_H

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "engine/sig-hex.h"

static __attribute__((unused)) void tdb_free(bw_sigdb_t *db)
{
    bw_vec_free(&db->toks);
    bw_vec_free(&db->alts);
    bw_vec_free(&db->bytes);
    bw_vec_free(&db->parts);
    bw_vec_free(&db->bsigs);
    bw_vec_free(&db->logic);
    memset(db, 0, sizeof *db);
}

static bw_err_t t_err;

/* Compiles sig into *db (zeroed or used before: emptied first); returns the
 * result code. */
static __attribute__((unused)) int tcomp(bw_sigdb_t *db, const char *sig, uint32_t flags, int wide)
{
    tdb_free(db);
    t_err.msg[0] = 0;
    uint32_t idx = 99;
    int rc = bw_hex_compile(db, sig, strlen(sig), flags, wide, &idx, &t_err);
    if (rc == BW_OK && idx != db->bsigs.n - 1)
        return -100;
    return rc;
}

static __attribute__((unused)) int anchor_at(const bw_sigdb_t *db, const bw_part_t *p, const uint8_t *d, size_t len,
                     size_t i)
{
    const bw_tok_t *a = &db->toks.v[p->anchor_tok];
    if (i + a->b > len)
        return 0;
    for (uint32_t k = 0; k < a->b; k++) {
        uint8_t x = d[i + k], y = db->bytes.v[a->a + k];
        if ((p->flags & BW_PARTF_NOCASE) ? tolower(x) != tolower(y) : x != y)
            return 0;
    }
    return 1;
}

/* Part `part` of the last compiled signature against data d (the whole
 * stream, in one window, at EOF): the first anchor hit that verifies. */
static __attribute__((unused)) int tpart(const bw_sigdb_t *db, uint32_t part, const void *data, size_t len, uint64_t *s,
                 uint64_t *e)
{
    const uint8_t *d = data;
    const bw_part_t *p = &db->parts.v[part];
    for (size_t i = 0; i < len; i++)
        if (anchor_at(db, p, d, len, i) && bw_part_verify(db, p, d, 0, len, i, 1, s, e))
            return 1;
    return 0;
}

/* Compiles a one-part signature and matches it against a string. */
static __attribute__((unused)) int tmatch(const char *sig, uint32_t flags, int wide, const void *data, size_t len,
                  uint64_t *s, uint64_t *e)
{
    bw_sigdb_t db = {0};
    uint64_t s0, e0;
    if (tcomp(&db, sig, flags, wide) != BW_OK) {
        fprintf(stderr, "  compile of %s failed: %s\n", sig, t_err.msg);
        tdb_free(&db);
        return -1;
    }
    int r = tpart(&db, 0, data, len, s ? s : &s0, e ? e : &e0);
    tdb_free(&db);
    return r;
}

#define TM(sig, str) tmatch(sig, 0, 0, str, strlen(str), NULL, NULL)

#endif
