/* SPDX-License-Identifier: Apache-2.0 */
/* The updater's internal pieces, shared by the files of src/update/:
 *
 *   update-crypto.c   SHA-256 of files, ed25519 keys, signing and checking
 *   update-fs.c       small file-system helpers (atomic writes, copies, rm -r)
 *   update-fetch.c    the two sources: a URL through libcurl, or a directory
 *   update-store.c    the on-disk layout under BasesPath: lock, staging,
 *                     the symlink switch, previous set, rollback, cleanup
 *   update-publish.c  PublishDir, and writing manifests for publishers
 *   update-cmd.c      running PostUpdateCmd
 *   update.c          one run, start to end (update.h)
 */
#ifndef BW_UPDATE_INT_H
#define BW_UPDATE_INT_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"
#include "core/err.h"
#include "update/manifest.h"
#include "update/update.h"

/* ---- logging (update.c) --------------------------------------------------- */

void bw_upd_log(const bw_update_req_t *req, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- update-crypto.c ---------------------------------------------------------- */

/* SHA-256 and length of everything from fd's current offset to its end. */
int bw_upd_sha256_fd(int fd, uint8_t out[32], uint64_t *size, bw_err_t *err);
/* The same for a named file; BW_DECLINED if it does not exist. */
int bw_upd_sha256_path(const char *path, uint8_t out[32], uint64_t *size, bw_err_t *err);
/* PEM ed25519 keys.  Errors name the file and say what it holds instead. */
int bw_upd_load_pubkey(const char *path, EVP_PKEY **out, bw_err_t *err);
int bw_upd_load_privkey(const char *path, EVP_PKEY **out, bw_err_t *err);
/* BW_OK when sig is a valid ed25519 signature of msg under key. */
int bw_upd_verify(EVP_PKEY *key, const void *msg, size_t len, const void *sig, size_t siglen,
                  bw_err_t *err);
int bw_upd_sign(EVP_PKEY *key, const void *msg, size_t len, uint8_t sig[64], bw_err_t *err);

/* ---- update-fs.c --------------------------------------------------------------- */

/* Reads a whole file of at most max bytes into out (appending).
 * BW_DECLINED: it does not exist. */
int bw_upd_read_file(const char *path, size_t max, bw_buf_t *out, bw_err_t *err);
/* Writes dir/name through a temporary file, fsync and rename: readers see
 * the old content or the new, never a part. */
int bw_upd_write_atomic(const char *dir, const char *name, const void *buf, size_t len,
                        mode_t mode, bw_err_t *err);
/* Copies in (from its offset) to out, hashing what passes. */
int bw_upd_copy_fd(int in, int out, uint8_t sha[32], uint64_t *size, bw_err_t *err);
/* Copies src to dir/name through a temporary file (atomic, fsynced). */
int bw_upd_copy_atomic(const char *src, const char *dir, const char *name, mode_t mode,
                       uint8_t sha[32], uint64_t *size, bw_err_t *err);
/* rm -r without following symlinks.  0 or -1 (errno). */
int bw_upd_rmtree(const char *path);
/* fsync of a directory, so that renames in it survive a crash. */
int bw_upd_fsync_dir(const char *path);
/* a + "/" + b, malloc'd (NULL: out of memory). */
char *bw_upd_join(const char *a, const char *b);

/* ---- update-fetch.c ------------------------------------------------------------ */

/* What a transfer came to.  TRANSIENT is worth a retry; the others are not. */
typedef enum bw_fetch_rc {
    BW_FETCH_OK = 0,
    BW_FETCH_NOTFOUND,   /* HTTP 404/410, FTP 550, ENOENT */
    BW_FETCH_TRANSIENT,  /* connection, timeout, cut short, HTTP 5xx/429 */
    BW_FETCH_FAILED,     /* any other refusal (HTTP 403, bad URL, TLS failure) */
    BW_FETCH_TOOBIG,     /* more bytes than allowed */
    BW_FETCH_LOCAL,      /* writing the local copy failed */
    BW_FETCH_STOPPED,    /* the stop callback fired */
} bw_fetch_rc_t;

typedef struct bw_fetch {
    const bw_update_conf_t *conf;
    int is_dir;
    const char *base;            /* URL or directory, without a trailing '/' */
    size_t base_len;
    void *curl;                  /* CURL *, reused across transfers (keep-alive) */
    int (*stop)(void *arg);
    void *stop_arg;
} bw_fetch_t;

int bw_fetch_init(bw_fetch_t *f, const bw_update_conf_t *conf, int (*stop)(void *), void *arg,
                  bw_err_t *err);
void bw_fetch_close(bw_fetch_t *f);
/* "http://host/path/NAME" or "/dir/NAME", for messages. */
void bw_fetch_where(const bw_fetch_t *f, const char *name, char *out, size_t outlen);
/* NAME into memory, at most max bytes. */
bw_fetch_rc_t bw_fetch_mem(bw_fetch_t *f, const char *name, size_t max, int no_cache,
                           bw_buf_t *out, bw_err_t *err);
/* NAME into fd (emptied first), at most limit bytes; *got and sha describe
 * what arrived, also on failure. */
bw_fetch_rc_t bw_fetch_fd(bw_fetch_t *f, const char *name, int fd, uint64_t limit,
                          uint8_t sha[32], uint64_t *got, bw_err_t *err);

/* ---- update-store.c ------------------------------------------------------------ */

enum { BW_STORE_NONE = 0, BW_STORE_LINK, BW_STORE_DIR };

typedef struct bw_store {
    char *base;        /* BasesPath without trailing '/' */
    char *parent;      /* its directory */
    char *name;        /* its last component */
    char *sets;        /* parent/name.d: every set, the lock, the previous link */
    int lock_fd;
    int kind;          /* what BasesPath is now: BW_STORE_* */
    char *cur_text;    /* BW_STORE_LINK: the link's text */
    char *prev_text;   /* text of sets/previous, NULL if none */
} bw_store_t;

/* Works out the paths and what BasesPath is; creates sets/ if missing. */
int bw_store_open(bw_store_t *s, const char *bases_path, bw_err_t *err);
/* flock on sets/.lock without waiting: BW_AGAIN (and who holds it) if busy. */
int bw_store_lock(bw_store_t *s, bw_err_t *err);
void bw_store_close(bw_store_t *s);
/* Re-reads what BasesPath and sets/previous are (after a switch). */
int bw_store_refresh(bw_store_t *s, bw_err_t *err);
/* Removes staging and cache directories a crashed run left (lock held). */
void bw_store_clean_stale(bw_store_t *s, const bw_update_req_t *req);
/* A new empty directory sets/.PREFIX.XXXXXX (mode 0755); *path malloc'd. */
int bw_store_mktemp(bw_store_t *s, const char *prefix, char **path, bw_err_t *err);
/* Moves the verified stage to sets/VERSION, records the current set as the
 * previous one and switches BasesPath to the new set. */
int bw_store_install(bw_store_t *s, const char *stage, uint64_t version, bw_err_t *err);
/* Switches BasesPath to the previous set and the previous link to the
 * current one. */
int bw_store_rollback(bw_store_t *s, bw_err_t *err);
/* sets/ entries that are neither the current nor the previous set go. */
void bw_store_cleanup(bw_store_t *s, const bw_update_req_t *req);
/* The path the previous set can be read at (malloc'd), or NULL. */
char *bw_store_prev_path(const bw_store_t *s);
/* The version rolled back from (0: none), and setting it (0 clears). */
uint64_t bw_store_rolled_back(const bw_store_t *s);
int bw_store_set_rolled_back(bw_store_t *s, uint64_t version, bw_err_t *err);

/* ---- update-cmd.c ------------------------------------------------------------------ */

/* Runs cmd through /bin/sh, with `extra` ("NAME=VALUE", NULL-terminated)
 * added to the environment (replacing the same names), and waits at most
 * timeout_ms (then kills its process group).  BW_OK on exit status 0;
 * otherwise err says "exited with status N", "was killed by signal N", ... */
int bw_upd_run_cmd(const char *cmd, const char *const *extra, uint64_t timeout_ms, bw_err_t *err);

/* ---- update-publish.c ---------------------------------------------------------- */

/* Makes dir hold the set in set_dir (described by m, whose bytes are
 * mbytes, and sig, which may be empty).  Data files first, the signature,
 * then the manifest, each by rename, and files of the old manifest that the
 * new one drops last; nothing happens when dir already holds these exact
 * manifest bytes.  *changed: whether anything was written. */
int bw_publish_set(const char *dir, const char *set_dir, const bw_manifest_t *m,
                   const bw_buf_t *mbytes, const bw_buf_t *sig, int *changed, bw_err_t *err);

#endif
