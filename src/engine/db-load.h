/* SPDX-License-Identifier: Apache-2.0 */
/* Database loading: from files and directories to a filled bw_sigdb_t.
 *
 * Loading is all-or-nothing: the first malformed line stops it with
 * "file:line: what is wrong" (for files inside a .cvd/.cld:
 * "daily.cvd:daily.ndb:12: ..."), and the caller throws the half-built
 * database away.  Lines that are valid but that this engine cannot use are
 * counted per kind ("unsupported: ndb target 3 (HTML)") and never dropped
 * silently: the counts are what `bulwark db info` prints.
 *
 * Recognised files: .hdb .hsb .hdu .hsu .fp .sfp .ign .ign2 .ndb .ndu .ldb .ldu
 * .cvd .cld, and (counted as unsupported, by line) .mdb .msb .mdu .msu .cdb
 * .cfg .crb .ftm .gdb .idb .info .pdb .wdb .yar .yara .cbc .imp .pwdb.
 * Other files in a directory are ignored (README, dotfiles); a file named
 * explicitly with an unknown extension is an error.
 *
 * Signature names may carry a Bulwark status tag: `NAME@STATUS` or, for CURED,
 * `NAME@CURED=HEX` where HEX is the replacement object (the cured file).  The
 * tag is stripped from the reported name.  Without a tag a match is INFECTED.
 */
#ifndef BW_ENGINE_DB_LOAD_H
#define BW_ENGINE_DB_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/vec.h"
#include "sigdb-t.h"

typedef struct bw_dbfile {
    char *path;     /* as found: dir + "/" + name */
    char *ext;      /* points into path: "hdb", "cvd", ... */
} bw_dbfile_t;

typedef BW_VEC(bw_dbfile_t) bw_dbfiles_t;

/* Expands directories (not recursively; entries sorted by name) and checks
 * files exist.  Errors: "PATH: No such file or directory", "PATH: unknown
 * database type". An empty result is an error too ("no database files in ..."). */
int bw_db_collect(const char *const *paths, size_t n, bw_dbfiles_t *out, bw_err_t *err);
void bw_dbfiles_free(bw_dbfiles_t *f);

/* SHA-256 over (name, size, content) of every file, in order: the cache key. */
int bw_db_hash_sources(const bw_dbfiles_t *f, uint8_t out[32], bw_err_t *err);

typedef struct bw_dbload {
    bw_sigdb_t *db;
    BW_VEC(bw_db_count_t) counts; /* "hdb" 123, "unsupported: ..." 4 */
    BW_VEC(char *) ignored;       /* names from .ign/.ign2 */
    uint32_t version;             /* highest cvd/cld version */
    uint64_t set_version;         /* from an updated set's bulwark.manifest, 0 if none */
    char build_time[64];          /* of that cvd */
    uint64_t signatures;          /* signatures in use */
} bw_dbload_t;

/* Loads every file into L->db.  .ign/.ign2 files are read first, so that
 * they apply to every other file whatever the order. */
int bw_db_load_files(bw_dbload_t *L, const bw_dbfiles_t *f, bw_err_t *err);
void bw_dbload_free(bw_dbload_t *L); /* frees counts and ignored, not db */

/* Adds n to the counter named kind (created on first use). */
int bw_dbload_count(bw_dbload_t *L, const char *kind, uint64_t n);

/* Loads one in-memory file of the given extension (used for files inside a
 * cvd too).  where: the name for messages ("daily.cvd:daily.ndb"). */
int bw_db_load_buffer(bw_dbload_t *L, const char *where, const char *ext, const char *buf,
                      size_t len, bw_err_t *err);

/* ---- sigdb builder (sigdb.c) ---------------------------------------------- */
/* Appends a meta record, parsing the @STATUS tag.  Errors: "unknown status tag". */
int bw_sigdb_add_meta(bw_sigdb_t *db, const char *name, size_t len, uint32_t *meta, bw_err_t *err);
/* Appends a string to the pool; returns offset or UINT32_MAX. */
uint32_t bw_sigdb_add_string(bw_sigdb_t *db, const char *s, size_t len);
const char *bw_sigdb_string(const bw_sigdb_t *db, uint32_t off);
/* Sorts the hash tables; call once after loading. */
void bw_sigdb_finish(bw_sigdb_t *db);
void bw_sigdb_free(bw_sigdb_t *db);
/* Finds (size, digest) in a sorted table (also tries BW_SIZE_ANY entries). */
const bw_hashent_t *bw_sigdb_find_hash(const bw_sigdb_t *db, int list, int kind, uint64_t size,
                                        const uint8_t *digest);

#endif
