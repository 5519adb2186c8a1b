/* SPDX-License-Identifier: Apache-2.0 */
/* Logical signatures (.ldb, .ldu): `Name;TDB;Logic;Subsig0;Subsig1;...`.
 *
 * A logical signature loads whole or not at all.  Its subsignatures become
 * consecutive body signatures (subsig i = bsig_first + i, which is how the
 * scanner maps a match back to a counter), so if any of them cannot be used
 * every array the line touched is rolled back to its length before the line
 * and the signature is counted as unsupported, never loaded half-way: a
 * logical expression evaluated over a missing subsignature would change its
 * meaning (`0&1` with 1 dropped is not `0`).
 *
 * Supported: TDB keys Engine, Target, FileSize; subsignatures `hex`,
 * `offset:hex` and the modifiers ::i ::f ::w ::a.  `::wa` (both wide and
 * ascii) would need two body signatures for one subsignature number, which the
 * one-bsig-per-subsig layout cannot express; the ascii form is loaded and the
 * signature counted under "unsupported: ldb ::wa (wide part ignored)".
 * PCRE, byte-compare, macro and fuzzy-image subsignatures, and TDB keys that
 * need executable or container context, make the signature unsupported.
 */
#include <stdio.h>
#include <string.h>

#include "db-int.h"
#include "db-load.h"
#include "ldb-logic.h"
#include "sig-hex.h"

#define LDB_MAX_SUBSIGS 64

static int parse_range(bw_slice_t v, uint64_t *lo, uint64_t *hi)
{
    bw_slice_t p[3];
    size_t n = bw_split(v, '-', p, 3);
    if (n == 1)
        p[1] = p[0];
    else if (n != 2)
        return BW_ERR;
    if (bw_parse_u64(p[0], lo) || bw_parse_u64(p[1], hi) || *lo > *hi)
        return BW_ERR;
    return BW_OK;
}

static int count_kind(bw_dbload_t *L, bw_err_t *err, const char *kind)
{
    return bw_dbload_count(L, kind, 1) ? bw_err_set(err, "out of memory") : BW_OK;
}

typedef struct tdb {
    int engine_ok;
    unsigned target;
    const char *tname;
    int target_ok;
    uint64_t fmin, fmax;
    bw_slice_t unsup_key; /* first key we cannot evaluate, n == 0 if none */
} tdb_t;

static int parse_tdb(bw_slice_t s, tdb_t *t, bw_err_t *err)
{
    static const char *const unsupported[] = {
        "EntryPoint", "NumberOfSections", "Container", "Intermediates", "IconGroup1",
        "IconGroup2", "HandlerType", NULL,
    };
    t->engine_ok = 1;
    t->target = 0;
    t->tname = "any";
    t->target_ok = 1;
    t->fmin = 0;
    t->fmax = UINT64_MAX;
    t->unsup_key.n = 0;
    const char *p = s.s, *end = s.s + s.n;
    while (p <= end) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        bw_slice_t item = {p, (size_t)((c ? c : end) - p)};
        p = c ? c + 1 : end + 1;
        const char *colon = memchr(item.s, ':', item.n);
        if (!colon)
            return bw_err_set(err, "target description block entry \"%.*s\" is not Key:Value",
                              (int)(item.n > 40 ? 40 : item.n), item.s);
        bw_slice_t key = {item.s, (size_t)(colon - item.s)};
        bw_slice_t val = {colon + 1, item.n - key.n - 1};
        if (bw_slice_eq(key, "Engine")) {
            uint64_t lo, hi;
            if (parse_range(val, &lo, &hi))
                return bw_err_set(err, "bad Engine range \"%.*s\"", (int)(val.n > 40 ? 40 : val.n),
                                  val.s);
            t->engine_ok = BW_FLEVEL >= lo && BW_FLEVEL <= hi;
        } else if (bw_slice_eq(key, "Target")) {
            int rc = bw_db_parse_target(val, &t->target, &t->tname, err);
            if (rc == BW_ERR)
                return BW_ERR;
            t->target_ok = rc == BW_OK;
        } else if (bw_slice_eq(key, "FileSize")) {
            if (parse_range(val, &t->fmin, &t->fmax))
                return bw_err_set(err, "bad FileSize range \"%.*s\"",
                                  (int)(val.n > 40 ? 40 : val.n), val.s);
        } else {
            size_t k;
            for (k = 0; unsupported[k]; k++)
                if (bw_slice_eq(key, unsupported[k]))
                    break;
            if (!unsupported[k])
                return bw_err_set(err, "unknown target description key \"%.*s\"",
                                  (int)(key.n > 40 ? 40 : key.n), key.s);
            if (!t->unsup_key.n)
                t->unsup_key = key;
        }
    }
    return BW_OK;
}

/* What kind of subsignature this is, when it is one we do not load. */
static const char *special_subsig(bw_slice_t s)
{
    if (s.n >= 10 && !memcmp(s.s, "fuzzy_img#", 10))
        return "fuzzy image";
    if (memchr(s.s, '/', s.n))
        return "PCRE";
    if (s.n >= 2 && s.s[0] == '$' && s.s[1] == '{')
        return "macro";
    if (memchr(s.s, '#', s.n))
        return "byte-compare";
    return NULL;
}

typedef struct subsig {
    bw_slice_t hex;
    bw_offset_t off;
    uint32_t flags;
    int wide, wa;
} subsig_t;

/* BW_OK; BW_DECLINED (*unsup set: offset form); BW_ERR. */
static int parse_subsig(bw_slice_t s, subsig_t *ss, const char **unsup, bw_err_t *err)
{
    memset(ss, 0, sizeof *ss);
    *unsup = NULL;
    /* modifiers: the text after the last "::" */
    for (size_t i = s.n; i >= 2; i--) {
        if (s.s[i - 1] == ':' && s.s[i - 2] == ':') {
            int w = 0, a = 0;
            for (size_t k = i; k < s.n; k++) {
                switch (s.s[k]) {
                case 'i': ss->flags |= BW_PARTF_NOCASE; break;
                case 'f': ss->flags |= BW_PARTF_FULLWORD; break;
                case 'w': w = 1; break;
                case 'a': a = 1; break;
                default:
                    return bw_err_set(err, "unknown subsignature modifier '%c'", s.s[k]);
                }
            }
            if (i == s.n)
                return bw_err_set(err, "empty subsignature modifier list");
            ss->wide = w && !a;
            ss->wa = w && a;
            s.n = i - 2;
            break;
        }
    }
    const char *colon = memchr(s.s, ':', s.n);
    ss->hex = s;
    ss->off.kind = BW_OFF_ANY;
    if (colon) {
        bw_slice_t o = {s.s, (size_t)(colon - s.s)};
        ss->hex.s = colon + 1;
        ss->hex.n = s.n - o.n - 1;
        if (memchr(ss->hex.s, ':', ss->hex.n))
            return bw_err_set(err, "more than one ':' (expected [offset:]hexsig[::modifiers])");
        int rc = bw_db_parse_offset(o, &ss->off, unsup, err);
        if (rc != BW_OK)
            return rc;
    }
    if (ss->hex.n == 0)
        return bw_err_set(err, "empty hex signature");
    return BW_OK;
}

typedef struct mark {
    size_t toks, alts, bytes, parts, bsigs, logic;
    uint32_t max_extent;
} mark_t;

static void mark_take(const bw_sigdb_t *db, mark_t *m)
{
    m->toks = db->toks.n;
    m->alts = db->alts.n;
    m->bytes = db->bytes.n;
    m->parts = db->parts.n;
    m->bsigs = db->bsigs.n;
    m->logic = db->logic.n;
    m->max_extent = db->max_part_extent;
}

static void mark_rollback(bw_sigdb_t *db, const mark_t *m)
{
    db->toks.n = m->toks;
    db->alts.n = m->alts;
    db->bytes.n = m->bytes;
    db->parts.n = m->parts;
    db->bsigs.n = m->bsigs;
    db->logic.n = m->logic;
    db->max_part_extent = m->max_extent;
}

int bw_db_load_ldb(bw_dbload_t *L, const char *where, const char *ext, const char *buf,
                   size_t len, bw_err_t *err)
{
    bw_sigdb_t *db = L->db;
    uint64_t loaded = 0, ignored = 0;
    bw_lines_t r;
    bw_slice_t line, f[3 + LDB_MAX_SUBSIGS];
    subsig_t ss[LDB_MAX_SUBSIGS];
    bw_lines_init(&r, buf, len);
    while (bw_lines_next(&r, &line)) {
        size_t nf = bw_split(line, ';', f, 3 + LDB_MAX_SUBSIGS);
        if (nf < 4)
            return bw_err_set(err, "%s:%lu: expected Name;TargetDescriptionBlock;"
                              "LogicalExpression;Subsig0[;Subsig1...], got %zu fields",
                              where, r.lineno, nf);
        size_t nsub = nf - 3;
        if (nsub > LDB_MAX_SUBSIGS)
            return bw_err_set(err, "%s:%lu: too many subsignatures (%zu, at most %d)", where,
                              r.lineno, nsub, LDB_MAX_SUBSIGS);
        if (f[0].n == 0)
            return bw_err_set(err, "%s:%lu: empty signature name", where, r.lineno);
        if (f[2].n == 0)
            return bw_err_set(err, "%s:%lu: empty logical expression", where, r.lineno);
        tdb_t t;
        if (parse_tdb(f[1], &t, err))
            return bw_err_prefix(err, "%s:%lu", where, r.lineno);

        /* Decide whether we can load it before compiling anything. */
        if (!t.engine_ok) {
            if (bw_dbload_count(L, "unsupported: ldb engine range", 1))
                return bw_err_set(err, "out of memory");
            continue;
        }
        if (bw_db_ignored(L, f[0].s, f[0].n)) {
            ignored++;
            continue;
        }
        char kind[96];
        if (!t.target_ok) {
            snprintf(kind, sizeof kind, "unsupported: ldb target %u (%s)", t.target, t.tname);
            if (count_kind(L, err, kind))
                return BW_ERR;
            continue;
        }
        if (t.unsup_key.n) {
            snprintf(kind, sizeof kind, "unsupported: ldb TDB key %.*s",
                     (int)(t.unsup_key.n > 40 ? 40 : t.unsup_key.n), t.unsup_key.s);
            if (count_kind(L, err, kind))
                return BW_ERR;
            continue;
        }
        const char *skip = NULL;
        int skip_subsig = 0;
        size_t nwa = 0;
        for (size_t i = 0; i < nsub && !skip; i++) {
            bw_slice_t s = f[3 + i];
            if (s.n == 0)
                return bw_err_set(err, "%s:%lu: subsignature %zu is empty", where, r.lineno, i);
            if ((skip = special_subsig(s))) {
                skip_subsig = 1;
                break;
            }
            const char *unsup;
            int rc = parse_subsig(s, &ss[i], &unsup, err);
            if (rc == BW_ERR)
                return bw_err_prefix(err, "%s:%lu: subsignature %zu", where, r.lineno, i);
            if (rc == BW_DECLINED) {
                skip = unsup;
            }
            nwa += (size_t)ss[i].wa;
        }
        if (skip) {
            if (skip_subsig)
                snprintf(kind, sizeof kind, "unsupported: ldb %s subsignature", skip);
            else
                snprintf(kind, sizeof kind, "unsupported: ldb offset %s", skip);
            if (count_kind(L, err, kind))
                return BW_ERR;
            continue;
        }

        /* Compile: subsignatures first (they may decline), then the logic. */
        mark_t m;
        mark_take(db, &m);
        uint32_t ldb_index = (uint32_t)db->ldbs.n;
        bw_ldb_t ldb;
        memset(&ldb, 0, sizeof ldb);
        ldb.bsig_first = (uint32_t)db->bsigs.n;
        ldb.bsig_count = (uint32_t)nsub;
        ldb.target = (uint8_t)t.target;
        ldb.fsize_min = t.fmin;
        ldb.fsize_max = t.fmax;
        int declined = 0;
        for (size_t i = 0; i < nsub; i++) {
            uint32_t bi;
            bw_err_t e;
            e.msg[0] = '\0';
            int rc = bw_hex_compile(db, ss[i].hex.s, ss[i].hex.n, ss[i].flags, ss[i].wide, &bi, &e);
            if (rc == BW_DECLINED) {
                mark_rollback(db, &m);
                if (bw_db_count_declined(L, "", e.msg))
                    return bw_err_set(err, "out of memory");
                declined = 1;
                break;
            }
            if (rc != BW_OK) {
                mark_rollback(db, &m);
                *err = e;
                return bw_err_prefix(err, "%s:%lu: subsignature %zu: hex signature", where,
                                     r.lineno, i);
            }
            if (bi != ldb.bsig_first + i) {
                mark_rollback(db, &m);
                return bw_err_set(err, "%s:%lu: internal error: subsignatures not consecutive",
                                  where, r.lineno);
            }
            bw_bsig_t *b = &db->bsigs.v[bi];
            b->off_kind = ss[i].off.kind;
            b->off = ss[i].off.off;
            b->shift = ss[i].off.shift;
            b->target = (uint8_t)t.target;
            b->owner = ldb_index;
            b->subsig = (uint32_t)i;
            b->is_ldb = 1;
        }
        if (declined)
            continue;
        if (bw_logic_compile(db, f[2].s, f[2].n, (unsigned)nsub, &ldb.logic_first,
                             &ldb.logic_count, err)) {
            mark_rollback(db, &m);
            return bw_err_prefix(err, "%s:%lu", where, r.lineno);
        }
        if (bw_sigdb_add_meta(db, f[0].s, f[0].n, &ldb.meta, err)) {
            mark_rollback(db, &m);
            return bw_err_prefix(err, "%s:%lu", where, r.lineno);
        }
        if (bw_vec_push(&db->ldbs, ldb))
            return bw_err_set(err, "out of memory");
        if (nwa && bw_dbload_count(L, "unsupported: ldb ::wa (wide part ignored)", nwa))
            return bw_err_set(err, "out of memory");
        loaded++;
    }
    if (bw_db_count_run(L, ext, loaded, 0, ignored, err))
        return BW_ERR;
    L->signatures += loaded;
    return BW_OK;
}
