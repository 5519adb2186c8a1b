/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by the database loaders (db-load.c, db-hash.c, db-ndb.c,
 * db-ldb.c, db-cvd.c, sigdb.c).  Not part of any contract between modules.
 *
 * Every loader parses in place over the file's buffer: a line is a slice
 * (pointer + length) into it, fields are slices into the line, and nothing is
 * copied or allocated per line except what ends up in the database arrays.
 * That is what keeps a main.cvd with millions of hash lines fast to load.
 */
#ifndef BW_ENGINE_DB_INT_H
#define BW_ENGINE_DB_INT_H

#include <stddef.h>
#include <stdint.h>

#include "db-load.h"

typedef struct bw_slice {
    const char *s;
    size_t n;
} bw_slice_t;

/* Line reader: yields lines without their "\n" / "\r\n" and trailing blanks,
 * skipping blank lines and "#" comments; *lineno is the 1-based line number. */
typedef struct bw_lines {
    const char *p, *end;
    unsigned long lineno;
} bw_lines_t;

void bw_lines_init(bw_lines_t *r, const char *buf, size_t len);
int bw_lines_next(bw_lines_t *r, bw_slice_t *line); /* 1: a line, 0: end */

/* Splits s at sep into at most max fields; returns the number of fields the
 * line really has (which may exceed max: only the first max are stored). */
size_t bw_split(bw_slice_t s, char sep, bw_slice_t *f, size_t max);

/* Strict decimal numbers: digits only, no sign, no overflow. BW_OK / BW_ERR. */
int bw_parse_u64(bw_slice_t s, uint64_t *v);
int bw_parse_u32(bw_slice_t s, uint32_t *v);
int bw_slice_eq(bw_slice_t s, const char *lit);

/* Optional ":minflevel[:maxflevel]" fields (either may be an empty slice).
 * Returns BW_OK when BW_FLEVEL is inside, BW_DECLINED when outside, BW_ERR
 * (err set) when malformed. */
int bw_db_flevel(bw_slice_t min, bw_slice_t max, bw_err_t *err);

/* 1 when the signature name (its @STATUS tag stripped) is on the ignore list. */
int bw_db_ignored(const bw_dbload_t *L, const char *name, size_t len);

/* Name length with a trailing @STATUS tag (sigdb.c rules) removed. */
size_t bw_sigdb_name_len(const char *name, size_t len);

/* What a hash or .ndb line passes before it is loaded: its optional
 * minflevel/maxflevel fields f[at], f[at + 1] (present when nf > at), then
 * the ignore lists by `name`.  BW_OK: load it; BW_DECLINED: skip it (counted
 * in *flevel or *ignored); BW_ERR: malformed flevel (err set, without the
 * file:line, which the caller adds). */
int bw_db_line_skip(const bw_dbload_t *L, const bw_slice_t *f, size_t nf, size_t at,
                    bw_slice_t name, uint64_t *flevel, uint64_t *ignored, bw_err_t *err);

/* The end of one file's load: `loaded` under the extension in lower case,
 * then the lines skipped for their flevel and by the ignore lists (each only
 * when non-zero).  BW_OK, or BW_ERR (out of memory). */
int bw_db_count_run(bw_dbload_t *L, const char *ext, uint64_t loaded, uint64_t flevel,
                    uint64_t ignored, bw_err_t *err);

/* bulwark.manifest of an updated set: its version into L->set_version
 * (db-setinfo.c). */
int bw_db_load_set_manifest(bw_dbload_t *L, const char *where, const char *buf, size_t len,
                            bw_err_t *err);

/* Counts every non-blank, non-comment line under kind. */
int bw_db_count_lines(bw_dbload_t *L, const char *kind, const char *buf, size_t len, bw_err_t *err);

/* Body-signature offsets, shared by .ndb and .ldb subsignatures. */
typedef struct bw_offset {
    uint8_t kind;      /* enum bw_off_kind */
    uint32_t off, shift;
} bw_offset_t;

/* BW_OK; BW_DECLINED with *unsup naming a valid offset form this engine does
 * not evaluate ("EP+n", "Sx+n", "SEx", "SL+n", "VI", "$macro"); BW_ERR. */
int bw_db_parse_offset(bw_slice_t s, bw_offset_t *o, const char **unsup, bw_err_t *err);

/* Target type: BW_OK (loadable, *name set), BW_DECLINED (valid, unsupported;
 * *name set), BW_ERR (not a number). */
int bw_db_parse_target(bw_slice_t s, unsigned *target, const char **name, bw_err_t *err);

/* Records "unsupported: <prefix><reason>" for a hex compiler BW_DECLINED,
 * dropping any leading "byte N: " so that the kinds aggregate. */
int bw_db_count_declined(bw_dbload_t *L, const char *prefix, const char *reason);

/* The loaders, all with bw_db_load_buffer's signature minus ext where the
 * loader serves one family.  ext tells the kind name used for counting. */
int bw_db_load_hash(bw_dbload_t *L, const char *where, const char *ext, const char *buf,
                    size_t len, bw_err_t *err);
int bw_db_load_ign(bw_dbload_t *L, const char *where, const char *buf, size_t len, bw_err_t *err);
int bw_db_load_ndb(bw_dbload_t *L, const char *where, const char *ext, const char *buf,
                   size_t len, bw_err_t *err);
int bw_db_load_ldb(bw_dbload_t *L, const char *where, const char *ext, const char *buf,
                   size_t len, bw_err_t *err);

/* .cvd/.cld: which members to load in this walk over the archive.  IGN also
 * verifies the header MD5, so a load always starts with an IGN walk. */
#define BW_CVD_IGN 0x1  /* .ign/.ign2 members */
#define BW_CVD_SIGS 0x2 /* everything else */
int bw_db_load_cvd(bw_dbload_t *L, const char *where, const char *ext, const char *buf,
                   size_t len, int mode, bw_err_t *err);
/* The version in a .cvd/.cld header (reads 512 bytes).  BW_OK / BW_ERR. */
int bw_db_cvd_version(const char *path, uint32_t *version);

/* Extension classes. */
int bw_db_ext_is_ign(const char *ext);
int bw_db_ext_is_cvd(const char *ext);
/* 1 when ext is a recognised database extension (loaded or counted). */
int bw_db_ext_known(const char *ext);

#endif
