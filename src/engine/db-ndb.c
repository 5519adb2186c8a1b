/* SPDX-License-Identifier: Apache-2.0 */
/* Extended body signatures (.ndb, .ndu), plus the offset and target-type
 * parsers that .ldb subsignatures share.
 *
 * Line format: `Name:TargetType:Offset:HexSig[:minflevel[:maxflevel]]`.
 *
 * What loads: offsets `*`, `n`, `n,shift`, `EOF-n`, `EOF-n,shift`, and the
 * target types whose file type the scanner can tell from the first bytes
 * (any, PE, OLE2, ELF, Mach-O, PDF).  What is valid ClamAV but needs a parser
 * this engine does not have is counted per kind and skipped: executable-
 * relative offsets (EP, Sx, SEx, SL, VI) need a PE/ELF header walk, and the
 * HTML/mail/graphics/ASCII targets match ClamAV's *normalised* views of a file,
 * not its raw bytes, so loading them against raw bytes would both miss and
 * false-positive.
 */
#include <stdio.h>
#include <string.h>

#include "db-int.h"
#include "db-load.h"
#include "sig-hex.h"

static int all_digits(const char *s, size_t n)
{
    if (!n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int prefixed(bw_slice_t s, const char *pre, bw_slice_t *rest)
{
    size_t n = strlen(pre);
    if (s.n < n || memcmp(s.s, pre, n))
        return 0;
    rest->s = s.s + n;
    rest->n = s.n - n;
    return 1;
}

int bw_db_parse_offset(bw_slice_t s, bw_offset_t *o, const char **unsup, bw_err_t *err)
{
    o->kind = BW_OFF_ANY;
    o->off = o->shift = 0;
    *unsup = NULL;
    int shown = (int)(s.n > 40 ? 40 : s.n);
    if (bw_slice_eq(s, "*"))
        return BW_OK;
    bw_slice_t part[3], rest;
    size_t np = bw_split(s, ',', part, 3);
    if (np > 2)
        return bw_err_set(err, "bad offset \"%.*s\"", shown, s.s);
    if (np == 2 && bw_parse_u32(part[1], &o->shift))
        return bw_err_set(err, "bad offset shift \"%.*s\"", shown, s.s);
    bw_slice_t b = part[0];
    if (all_digits(b.s, b.n)) {
        if (bw_parse_u32(b, &o->off))
            return bw_err_set(err, "offset too large \"%.*s\"", shown, s.s);
        o->kind = BW_OFF_ABS;
        return BW_OK;
    }
    if (prefixed(b, "EOF-", &rest)) {
        if (!all_digits(rest.s, rest.n))
            return bw_err_set(err, "bad offset \"%.*s\"", shown, s.s);
        if (bw_parse_u32(rest, &o->off))
            return bw_err_set(err, "offset too large \"%.*s\"", shown, s.s);
        o->kind = BW_OFF_EOF;
        return BW_OK;
    }
    /* valid forms that need an executable parser */
    if ((prefixed(b, "EP+", &rest) || prefixed(b, "EP-", &rest)) && all_digits(rest.s, rest.n))
        *unsup = "EP+n";
    else if (prefixed(b, "SL+", &rest) && all_digits(rest.s, rest.n))
        *unsup = "SL+n";
    else if (prefixed(b, "SE", &rest) && all_digits(rest.s, rest.n))
        *unsup = "SEx";
    else if (prefixed(b, "S", &rest)) {
        const char *plus = memchr(rest.s, '+', rest.n);
        if (plus && all_digits(rest.s, (size_t)(plus - rest.s)) &&
            all_digits(plus + 1, rest.n - (size_t)(plus - rest.s) - 1))
            *unsup = "Sx+n";
    } else if (bw_slice_eq(b, "VI") && np == 1)
        *unsup = "VI";
    else if (prefixed(b, "$", &rest) && all_digits(rest.s, rest.n) && np == 1)
        *unsup = "$macro";
    if (*unsup)
        return BW_DECLINED;
    return bw_err_set(err, "bad offset \"%.*s\"", shown, s.s);
}

static const char *const target_names[] = {
    "any", "PE", "OLE2", "HTML", "mail", "graphics", "ELF", "ASCII", "unused", "Mach-O", "PDF",
    "Flash", "Java",
};

int bw_db_parse_target(bw_slice_t s, unsigned *target, const char **name, bw_err_t *err)
{
    uint32_t t;
    if (bw_slice_eq(s, "*"))
        t = 0;
    else if (bw_parse_u32(s, &t))
        return bw_err_set(err, "bad target type \"%.*s\"", (int)(s.n > 40 ? 40 : s.n), s.s);
    *target = t;
    *name = t < sizeof target_names / sizeof target_names[0] ? target_names[t] : "other";
    switch (t) {
    case BW_TARGET_ANY: case BW_TARGET_PE: case BW_TARGET_OLE2: case BW_TARGET_ELF:
    case BW_TARGET_MACHO: case BW_TARGET_PDF:
        return BW_OK;
    default:
        return BW_DECLINED;
    }
}

int bw_db_load_ndb(bw_dbload_t *L, const char *where, const char *ext, const char *buf,
                   size_t len, bw_err_t *err)
{
    bw_sigdb_t *db = L->db;
    uint64_t loaded = 0, flevel = 0, ignored = 0;
    char kind[96];
    bw_lines_t r;
    bw_slice_t line, f[6];
    bw_lines_init(&r, buf, len);
    while (bw_lines_next(&r, &line)) {
        size_t nf = bw_split(line, ':', f, 6);
        if (nf < 4 || nf > 6)
            return bw_err_set(err, "%s:%lu: expected Name:TargetType:Offset:HexSig"
                              "[:minflevel[:maxflevel]], got %zu fields", where, r.lineno, nf);
        if (f[0].n == 0)
            return bw_err_set(err, "%s:%lu: empty signature name", where, r.lineno);
        unsigned target = 0;
        const char *tname = "", *unsup = NULL;
        int trc = bw_db_parse_target(f[1], &target, &tname, err);
        if (trc == BW_ERR)
            return bw_err_prefix(err, "%s:%lu", where, r.lineno);
        bw_offset_t off;
        int orc = bw_db_parse_offset(f[2], &off, &unsup, err);
        if (orc == BW_ERR)
            return bw_err_prefix(err, "%s:%lu", where, r.lineno);
        if (f[3].n == 0)
            return bw_err_set(err, "%s:%lu: empty hex signature", where, r.lineno);
        int skip = bw_db_line_skip(L, f, nf, 4, f[0], &flevel, &ignored, err);
        if (skip == BW_ERR)
            return bw_err_prefix(err, "%s:%lu", where, r.lineno);
        if (skip == BW_DECLINED)
            continue;
        if (trc == BW_DECLINED) {
            snprintf(kind, sizeof kind, "unsupported: ndb target %u (%s)", target, tname);
            if (bw_dbload_count(L, kind, 1))
                return bw_err_set(err, "out of memory");
            continue;
        }
        if (orc == BW_DECLINED) {
            snprintf(kind, sizeof kind, "unsupported: ndb offset %s", unsup);
            if (bw_dbload_count(L, kind, 1))
                return bw_err_set(err, "out of memory");
            continue;
        }
        uint32_t bi;
        bw_err_t e;
        e.msg[0] = '\0';
        int rc = bw_hex_compile(db, f[3].s, f[3].n, 0, 0, &bi, &e);
        if (rc == BW_DECLINED) {
            if (bw_db_count_declined(L, "", e.msg))
                return bw_err_set(err, "out of memory");
            continue;
        }
        if (rc != BW_OK) {
            *err = e;
            return bw_err_prefix(err, "%s:%lu: hex signature", where, r.lineno);
        }
        uint32_t meta;
        if (bw_sigdb_add_meta(db, f[0].s, f[0].n, &meta, err))
            return bw_err_prefix(err, "%s:%lu", where, r.lineno);
        bw_bsig_t *b = &db->bsigs.v[bi];
        b->off_kind = off.kind;
        b->off = off.off;
        b->shift = off.shift;
        b->target = (uint8_t)target;
        b->owner = meta;
        b->subsig = 0;
        b->is_ldb = 0;
        loaded++;
    }
    if (bw_db_count_run(L, ext, loaded, flevel, ignored, err))
        return BW_ERR;
    L->signatures += loaded;
    return BW_OK;
}
