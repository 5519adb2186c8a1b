/* SPDX-License-Identifier: Apache-2.0 */
/* `bulwark update`: fetching, verifying and installing signature sets.
 *
 * The library side of the updater, for the CLI (src/cli/cmd-update.c) and
 * any other front end.  One call does one whole update, under a lock, and
 * fills a report saying what happened; it never prints.  Progress and notes
 * go to an optional log callback.  Nothing here knows about signals: a
 * caller that wants to stop a run early passes a `stop` callback, polled
 * between files, during transfers and during retry pauses.
 *
 * What a run guarantees: the set at BasesPath is replaced only by a set whose
 * every file matched the manifest's size and SHA-256, whose manifest carried
 * a valid signature (when UpdatePublicKey is set), and which loaded and
 * compiled with the engine next to the other BasesPath entries; the switch is
 * one rename(2) of a symlink.  Anything else leaves the working set as it
 * was, byte for byte.  docs/update.md has the on-disk layout.
 */
#ifndef BW_UPDATE_H
#define BW_UPDATE_H

#include <stddef.h>
#include <stdint.h>

#include "update/update-conf.h"

typedef enum bw_update_outcome {
    BW_UPDATE_FAILED = 0,     /* see failure and message */
    BW_UPDATE_UPDATED,        /* a new set is in place */
    BW_UPDATE_CURRENT,        /* the source offers the installed version */
    BW_UPDATE_SKIPPED,        /* the source offers a version that was rolled back */
    BW_UPDATE_WOULD_UPDATE,   /* dry run: a newer set is offered */
    BW_UPDATE_ROLLED_BACK,    /* --rollback switched to the previous set */
    BW_UPDATE_SIGNED,         /* bw_update_sign_dir wrote a manifest */
} bw_update_outcome_t;

/* Why a run failed (or, with UPDATED/ROLLED_BACK, what failed afterwards). */
typedef enum bw_update_failure {
    BW_UPDATE_FAIL_NONE = 0,
    BW_UPDATE_FAIL_LOCAL,     /* configuration, local files, permissions */
    BW_UPDATE_FAIL_DOWNLOAD,  /* unreachable, not found, transfer cut short */
    BW_UPDATE_FAIL_VERIFY,    /* manifest, signature, size or SHA-256, downgrade */
    BW_UPDATE_FAIL_COMPILE,   /* the set does not load (cvd MD5, a bad signature line) */
    BW_UPDATE_FAIL_POST,      /* the set is in place, but PostUpdateCmd or publishing failed */
    BW_UPDATE_FAIL_LOCKED,    /* another updater holds the lock */
    BW_UPDATE_FAIL_STOPPED,   /* the stop callback asked to stop */
} bw_update_failure_t;

/* Log levels of the callback. */
enum { BW_UPDATE_LOG_INFO = 0, BW_UPDATE_LOG_NOTE = 1, BW_UPDATE_LOG_WARN = 2 };

typedef void (*bw_update_log_fn)(void *arg, int level, const char *msg);

typedef struct bw_update_req {
    const bw_update_conf_t *conf;
    const char *bases_path;          /* the BasesPath the updater manages */
    const char *const *other_bases;  /* the other BasesPath entries (trial compile) */
    size_t nother;
    const char *cache_dir;           /* [path] CacheDir; NULL or "": none */
    int force;                       /* install even an older, equal or rolled-back version */
    int dry_run;                     /* fetch and check the manifest only */
    bw_update_log_fn log;
    void *log_arg;
    int (*stop)(void *arg);          /* non-zero: stop as soon as possible */
    void *stop_arg;
} bw_update_req_t;

typedef struct bw_update_report {
    bw_update_outcome_t outcome;
    bw_update_failure_t failure;
    int have_from, have_to;          /* whether from / to are known (a set without a
                                      * manifest has no version) */
    uint64_t from, to;               /* versions */
    int had_set;                     /* BasesPath existed before the run */
    size_t nfiles, fetched, reused;  /* files in the set; transferred; kept from the old set */
    uint64_t fetched_bytes;
    uint64_t signatures;             /* in use after the trial compile */
    char message[1024];              /* the failure's reason, or a note on success */
    char post_error[512];            /* with FAIL_POST: what failed after the swap */
} bw_update_report_t;

/* One update from the configured source.  Returns BW_OK when the outcome is
 * not FAILED and nothing failed after the swap; BW_ERR otherwise. */
int bw_update_run(const bw_update_req_t *req, bw_update_report_t *rep);

/* Switches BasesPath back to the previous set (after a trial compile of it),
 * keeps the current one as the new previous, and remembers the version
 * rolled back from so that later runs skip it until a newer one appears. */
int bw_update_rollback(const bw_update_req_t *req, bw_update_report_t *rep);

/* For publishers: writes DIR/bulwark.manifest listing every regular file of
 * DIR (dotfiles and the manifest's own files excepted) and, with a private
 * key, DIR/bulwark.manifest.sig.  version 0: one more than the manifest
 * already in DIR, or 1.  check_load: refuse a set that does not load. */
int bw_update_sign_dir(const char *dir, const char *key_path, uint64_t version, int check_load,
                       bw_update_report_t *rep);

/* The name of an exit-code class, for messages: "download", "verification"... */
const char *bw_update_failure_name(bw_update_failure_t f);

#endif
