/* SPDX-License-Identifier: Apache-2.0 */
/* libbulwark: the public scanning API.
 *
 * A compiled engine is immutable and reference counted: any number of threads
 * may scan with it at once, each scan owning its own scratch space.  A scan is
 * streamed: begin, feed the object's bytes in any chunk sizes, end, and read the
 * verdict.  Nothing here allocates behind the caller's back past the scan's own
 * lifetime: the verdict owns its strings and is released with bw_verdict_free().
 */
#ifndef BULWARK_BULWARK_H
#define BULWARK_BULWARK_H

#include <stddef.h>
#include <stdint.h>

#include "bulwark/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* BW_VERSION is in bulwark/core.h (layer 0), so every layer can name it. */
/* The functionality level this engine claims for ClamAV `Engine:` ranges and
 * .ndb min/max flevel fields (ClamAV 1.0 is 150-ish; we pick a fixed value). */
#define BW_FLEVEL 200

/* Result codes (BW_OK, BW_ERR, ...) and statuses (bw_status_t, in severity
 * order) with bw_status_name(): bulwark/core.h. */

typedef struct bw_limits {
    uint32_t max_depth;       /* container recursion depth, default 17 */
    uint32_t max_files;       /* members per container, default 10000 */
    uint64_t max_scan_bytes;  /* bytes scanned per top-level object, default 400M */
    uint64_t max_file_size;   /* single (inner) file size, default 100M */
    uint32_t max_scan_ms;     /* wall time per top-level object, default 120000 */
    uint32_t max_ratio;       /* member size / compressed size bound, default 250 */
    int scan_archives;        /* 1: open containers and compressed streams */
    int all_match;            /* 1: keep scanning after the first detection */
    uint64_t max_unpack_mem;  /* heap libarchive may hold per scanning thread
                                 (all nesting levels), default 512M; 0: 2G */
} bw_limits_t;

void bw_limits_default(bw_limits_t *l);

typedef struct bw_engine bw_engine_t;

typedef struct bw_load_opts {
    const char *cache_dir; /* NULL: no compiled-database cache */
    /* Called with a one-line reason when the cache is not used: a directory
     * or file someone else could have written (refused), an image that does
     * not match the sources, a damaged one.  The load goes on from the
     * sources.  NULL: say nothing. */
    void (*note)(void *arg, const char *msg);
    void *note_arg;
} bw_load_opts_t;

/* Whether `dir` may hold a compiled-database cache for this process: an
 * existing directory, not a symlink, owned by the effective uid or root and
 * writable by nobody else.  BW_OK, or BW_ERR with a reason in why. */
int bw_engine_cache_check(const char *dir, char *why, size_t cap);

/* One count line of `bulwark db info`. */
typedef struct bw_db_count {
    char kind[64]; /* "hdb", "ndb", "unsupported: ndb target 3 (HTML)" ... */
    uint64_t count;
} bw_db_count_t;

typedef struct bw_db_info {
    uint64_t version;        /* the set's version from bulwark.manifest (bulwark
                              * update), else the highest .cvd/.cld one; 0: none */
    char build_time[64];     /* from the cvd header, or "" */
    uint64_t signatures;     /* signatures in use */
    size_t ncounts;
    bw_db_count_t *counts;
    int from_cache;          /* 1: this engine was mapped from the cache */
    char source_hash[65];    /* hex SHA-256 over the source files */
} bw_db_info_t;

/* Loads every database file in the given files and directories, compiles it
 * and returns a new engine with one reference.  On error returns BW_ERR and
 * writes "file:line: what is wrong" into err; no engine is created. */
int bw_engine_load(const char *const *paths, size_t npaths, const bw_load_opts_t *opts,
                   bw_engine_t **out, char *err, size_t errlen);
bw_engine_t *bw_engine_ref(bw_engine_t *e);
void bw_engine_unref(bw_engine_t *e);
const bw_db_info_t *bw_engine_info(const bw_engine_t *e);

typedef struct bw_threat {
    bw_status_t status;
    char *name;  /* signature name, or a reason for limit/error statuses */
    char *path;  /* where inside the object: "a.zip/dir/clam.exe"; "" at top level */
} bw_threat_t;

typedef struct bw_verdict {
    bw_status_t status;
    size_t nthreats;
    bw_threat_t *threats;
    uint8_t *cured;        /* CURED at top level: the cured object */
    size_t cured_len;
    uint64_t bytes_scanned; /* raw + unpacked bytes that went through matching */
} bw_verdict_t;

void bw_verdict_free(bw_verdict_t *v);
/* First threat name, or "" */
const char *bw_verdict_name(const bw_verdict_t *v);

typedef struct bw_scan bw_scan_t;

/* name: the object's display name, used as the root of container paths. */
bw_scan_t *bw_scan_begin(const bw_engine_t *e, const bw_limits_t *lim, const char *name);
/* Optional, before the first feed: the object's size when known (a file's
 * st_size, an HTTP Content-Length).  Digests that no hash signature of that
 * size could use are then skipped, which is most of the hashing work.  If the
 * object turns out to have another size, the verdict is ERROR ("size changed
 * during scan") rather than a silent miss.  BW_DECLINED after feeding began. */
int bw_scan_expect_size(bw_scan_t *s, uint64_t size);
/* BW_OK: keep feeding; BW_DONE: verdict decided; BW_ERR: out of memory/IO. */
int bw_scan_feed(bw_scan_t *s, const void *buf, size_t len);
/* Finishes the scan, fills *out (caller frees with bw_verdict_free) and frees s. */
int bw_scan_end(bw_scan_t *s, bw_verdict_t *out);
/* The highest status found so far (BW_CLEAN when nothing was): the verdict
 * of bw_scan_end can only be this or higher.  A streaming caller uses it to
 * stop releasing bytes once what was found decides their fate. */
bw_status_t bw_scan_found(const bw_scan_t *s);
/* Aborts a scan without a verdict. */
void bw_scan_abort(bw_scan_t *s);

/* A regular file is scanned whole, from offset 0 (pread), and the
 * descriptor's offset is left as it was; anything else (a pipe) is read
 * from its current position to its end. */
int bw_scan_fd(const bw_engine_t *e, const bw_limits_t *lim, int fd, const char *name,
               bw_verdict_t *out);
int bw_scan_path(const bw_engine_t *e, const bw_limits_t *lim, const char *path,
                 bw_verdict_t *out);

#ifdef __cplusplus
}
#endif
#endif
