/* SPDX-License-Identifier: Apache-2.0 */
/* The update manifest: what a published signature set holds.
 *
 * A set is a flat directory of database files plus `bulwark.manifest`, which
 * names every file with its size and SHA-256 and gives the set a version, and
 * `bulwark.manifest.sig`, a detached ed25519 signature over the manifest's
 * exact bytes.  Signing one small file covers the whole set: every data file
 * is bound to the manifest by its digest.
 *
 *   bulwark-manifest 1
 *   version 42
 *   created 2025-11-23T10:00:00Z
 *   file daily.cvd 293670 5d41402abc4b2a76b9719d911017c592...   (64 hex digits)
 *   file local.ndb 117 0f1e2d...
 *   end 2
 *
 * Grammar (strict, because the bytes are signed and the reader is the thing
 * under attack):
 *   - lines end with "\n" (no "\r"); the last line is "end N" with N the
 *     number of file lines, and nothing follows it, so a manifest cut short
 *     at a line boundary is still caught when no signature is checked;
 *   - empty lines and lines starting with '#' are ignored;
 *   - "version" once (a decimal from 1 to 2^63-1); "created" at most once
 *     (free text up to 64 printable bytes, informational);
 *   - file names: 1..128 bytes of [A-Za-z0-9._+-], starting with a letter or
 *     digit, unique, and not the manifest's own names; sizes are decimal;
 *     digests lower- or upper-case hex.
 * Errors read "line N: what".
 */
#ifndef BW_UPDATE_MANIFEST_H
#define BW_UPDATE_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

#define BW_MANIFEST_NAME "bulwark.manifest"
#define BW_MANIFEST_SIG_NAME "bulwark.manifest.sig"
#define BW_MANIFEST_MAX_BYTES (1u << 20)
#define BW_MANIFEST_MAX_FILES 10000
#define BW_MANIFEST_MAX_NAME 128
#define BW_MANIFEST_MAX_VERSION ((uint64_t)INT64_MAX)
/* A single file above this is not a signature database. */
#define BW_MANIFEST_MAX_FILE_SIZE ((uint64_t)1 << 40)

typedef struct bw_manifest_file {
    char name[BW_MANIFEST_MAX_NAME + 1];
    uint64_t size;
    uint8_t sha256[32];
    unsigned line;               /* its line in the parsed text (0: not parsed) */
} bw_manifest_file_t;

typedef struct bw_manifest {
    uint64_t version;
    char created[65];            /* "" when absent */
    size_t nfiles;
    bw_manifest_file_t *files;   /* sorted by name; owned (bw_manifest_free) */
} bw_manifest_t;

/* Parses `len` bytes.  On success fills *m (caller frees with
 * bw_manifest_free); on failure *m is zeroed and err says "line N: what". */
int bw_manifest_parse(const char *buf, size_t len, bw_manifest_t *m, bw_err_t *err);
void bw_manifest_free(bw_manifest_t *m);

/* Whether `name` is acceptable as a file name in a manifest. */
int bw_manifest_name_ok(const char *name);

/* The file named `name`, or NULL. */
const bw_manifest_file_t *bw_manifest_find(const bw_manifest_t *m, const char *name);

/* Sum of the file sizes (saturating). */
uint64_t bw_manifest_total(const bw_manifest_t *m);

/* Writes m in the format above (files in their array order, which
 * bw_manifest_sort puts in name order).  BW_ERR: a field is out of range
 * (name, version), or out of memory (out->oom). */
int bw_manifest_format(const bw_manifest_t *m, bw_buf_t *out, bw_err_t *err);
void bw_manifest_sort(bw_manifest_t *m);

/* Lower-case hex of 32 bytes into out[65]. */
void bw_hex32(const uint8_t in[32], char out[65]);

#endif
