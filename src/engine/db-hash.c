/* SPDX-License-Identifier: Apache-2.0 */
/* Hash signatures: .hdb .hsb .hdu .hsu (detections), .fp .sfp (allow-lists).
 *
 * Line format: `hash:size:Name[:minflevel[:maxflevel]]`, size decimal or `*`.
 * The digest kind follows from the hash's length (32 MD5, 40 SHA-1, 64
 * SHA-256) in every one of these files, as in ClamAV's own loader: the
 * extension only says which list (detect or allow) the entry joins and under
 * which kind it is counted.  .hdu/.hsu are ClamAV's "potentially unwanted"
 * variants; they load like .hdb/.hsb.
 *
 * This is the hot path of a cold start (main.cvd holds millions of these
 * lines), so a line costs one split, one hex decode and two array pushes.
 */
#include <string.h>
#include <strings.h>

#include "db-int.h"
#include "db-load.h"
#include "sig-hex.h"

int bw_db_load_hash(bw_dbload_t *L, const char *where, const char *ext, const char *buf,
                    size_t len, bw_err_t *err)
{
    int list = (!strcasecmp(ext, "fp") || !strcasecmp(ext, "sfp")) ? BW_HLIST_ALLOW
                                                                   : BW_HLIST_DETECT;
    bw_sigdb_t *db = L->db;
    uint64_t loaded = 0, flevel = 0, ignored = 0;
    bw_lines_t r;
    bw_slice_t line, f[5];
    bw_lines_init(&r, buf, len);
    while (bw_lines_next(&r, &line)) {
        size_t nf = bw_split(line, ':', f, 5);
        if (nf < 3 || nf > 5)
            return bw_err_set(err, "%s:%lu: expected hash:size:Name[:minflevel[:maxflevel]], "
                              "got %zu fields", where, r.lineno, nf);
        int kind;
        switch (f[0].n) {
        case 32: kind = BW_HASH_MD5; break;
        case 40: kind = BW_HASH_SHA1; break;
        case 64: kind = BW_HASH_SHA256; break;
        default:
            return bw_err_set(err, "%s:%lu: bad hash length %zu (want 32, 40 or 64 hex digits)",
                              where, r.lineno, f[0].n);
        }
        bw_hashent_t e;
        memset(&e, 0, sizeof e);
        for (size_t i = 0; i < f[0].n; i += 2) {
            int hi = bw_hexval((unsigned char)f[0].s[i]), lo = bw_hexval((unsigned char)f[0].s[i + 1]);
            if (hi < 0 || lo < 0)
                return bw_err_set(err, "%s:%lu: bad hex digit in hash at character %zu", where,
                                  r.lineno, i + 1 + (hi >= 0));
            e.digest[i / 2] = (uint8_t)(hi << 4 | lo);
        }
        if (bw_slice_eq(f[1], "*"))
            e.size = BW_SIZE_ANY;
        else if (bw_parse_u64(f[1], &e.size) || e.size == BW_SIZE_ANY)
            return bw_err_set(err, "%s:%lu: bad file size \"%.*s\"", where, r.lineno,
                              (int)(f[1].n > 40 ? 40 : f[1].n), f[1].s);
        if (f[2].n == 0)
            return bw_err_set(err, "%s:%lu: empty signature name", where, r.lineno);
        int skip = bw_db_line_skip(L, f, nf, 3, f[2], &flevel, &ignored, err);
        if (skip == BW_ERR)
            return bw_err_prefix(err, "%s:%lu", where, r.lineno);
        if (skip == BW_DECLINED)
            continue;
        if (bw_sigdb_add_meta(db, f[2].s, f[2].n, &e.meta, err))
            return bw_err_prefix(err, "%s:%lu", where, r.lineno);
        if (bw_vec_push(&db->hashes[list][kind], e))
            return bw_err_set(err, "out of memory");
        loaded++;
    }

    if (bw_db_count_run(L, ext, loaded, flevel, ignored, err))
        return BW_ERR;
    if (list == BW_HLIST_DETECT)
        L->signatures += loaded;
    return BW_OK;
}
