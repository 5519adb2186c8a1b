/* SPDX-License-Identifier: Apache-2.0 */
/* The `bulwark` command: shared declarations.
 *
 * For scanning, the command is a thin client of the public engine API
 * (bulwark/bulwark.h) and of nothing else in the tree: whatever it needs from
 * the engine, every other embedder needs too, so a gap found here is fixed in
 * the API, not with a private include.  The service commands (ctl, update,
 * quarantine) read bulwark.conf through the one schema (app/schema.h) and use
 * their modules (app/ctl-client.h, update/, quarantine/).  Each subcommand
 * lives in its own file (cmd-*.c) and returns the process exit code: 0 nothing
 * found, 1 something found, 2 error (ctl, update and quarantine document
 * their own).
 */
#ifndef BW_CLI_CLI_H
#define BW_CLI_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bulwark/bulwark.h"
#include "core/vec.h"

enum {
    BW_EXIT_CLEAN = 0,
    BW_EXIT_FOUND = 1,
    BW_EXIT_ERROR = 2,
};

#define BW_DEFAULT_DB "/var/lib/bulwark/db"

/* ---- cli-common.c ---------------------------------------------------------- */

/* A growable byte string; every append keeps it NUL-terminated.  Out of
 * memory aborts the process: the CLI has no useful way to go on without it. */
typedef struct bw_cli_buf {
    char *p;
    size_t len, cap;
} bw_cli_buf_t;

void bw_cli_buf_add(bw_cli_buf_t *b, const void *s, size_t n);
void bw_cli_buf_puts(bw_cli_buf_t *b, const char *s);
void bw_cli_buf_printf(bw_cli_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void bw_cli_buf_free(bw_cli_buf_t *b);

void *bw_cli_xmalloc(size_t n);
char *bw_cli_xstrdup(const char *s);

/* "123", "10K", "5M", "1G" (also "5MB", "5MiB"; 1024-based).  BW_OK / BW_ERR. */
int bw_cli_parse_size(const char *s, uint64_t *out);
/* A plain non-negative decimal no larger than max.  BW_OK / BW_ERR. */
int bw_cli_parse_uint(const char *s, uint64_t max, uint64_t *out);

/* Database paths chosen on the command line; when none were given, the
 * default: $BULWARK_DB if set and non-empty, else BW_DEFAULT_DB. */
typedef BW_VEC(const char *) bw_cli_dbs_t;

void bw_cli_dbs_add(bw_cli_dbs_t *d, const char *path);
void bw_cli_dbs_default(bw_cli_dbs_t *d);
void bw_cli_dbs_free(bw_cli_dbs_t *d);

/* The compiled-database cache directory: the --cache-dir value if given,
 * else $XDG_CACHE_HOME/bulwark, else $HOME/.cache/bulwark; NULL when
 * disabled (--no-cache) or no home is known.  The directory (and its
 * parents) is created when missing; if that fails the cache is skipped with
 * a note on stderr rather than failing the command.  Returns a malloc'd
 * string or NULL. */
char *bw_cli_cache_dir(const char *opt, int disabled);

/* Loads the engine; on failure prints "bulwark: ERROR: <file:line: what>"
 * to stderr and returns NULL.  *secs receives the load time. */
bw_engine_t *bw_cli_load(const bw_cli_dbs_t *dbs, const char *cache_dir, double *secs);

double bw_cli_now(void); /* monotonic seconds */

/* ---- output.c ---------------------------------------------------------------- */

/* Appends s as a JSON string literal (with quotes).  Control bytes and bytes
 * that are not part of well-formed UTF-8 become \u00XX, so the output is
 * valid JSON whatever the file names hold. */
void bw_cli_json_str(bw_cli_buf_t *b, const char *s);

/* "CLEAN" -> "Clean", "TOO_LARGE" -> "Too large" (summary labels). */
void bw_cli_status_label(bw_status_t st, char *out, size_t outlen);

/* One scanned (or failed) file, as printed. */
typedef struct bw_cli_result {
    const char *path;
    const bw_verdict_t *verdict; /* NULL when the file could not be scanned */
    const char *error;           /* strerror text when verdict is NULL */
    uint64_t size;
    double ms;
} bw_cli_result_t;

/* Formats one result as text lines or one JSON line into b.  With
 * only_found, a CLEAN result formats to nothing. */
void bw_cli_format_result(bw_cli_buf_t *b, const bw_cli_result_t *r, int json, int only_found);

/* Totals of one `bulwark scan` run. */
typedef struct bw_cli_stats {
    uint64_t signatures;
    uint64_t db_version;
    uint64_t dirs, files;
    uint64_t found_files;                 /* files whose verdict is not CLEAN */
    uint64_t errors;                      /* paths that could not be scanned */
    uint64_t bytes_read, bytes_scanned;
    double secs;
    uint64_t by_status[BW_STATUS_COUNT];  /* files, by verdict status */
} bw_cli_stats_t;

/* The clamscan-style "SCAN SUMMARY" block, then one "Status: N" line per
 * status that occurred. */
void bw_cli_format_summary(bw_cli_buf_t *b, const bw_cli_stats_t *s);

/* ---- progress.c -------------------------------------------------------------- */

typedef struct bw_progress bw_progress_t;

/* Starts the progress line on stderr when stderr is a terminal and enabled;
 * returns NULL otherwise (all calls below accept NULL).  The line appears
 * only once the scan has run for a second.  out_lock serialises the line
 * with the per-file output, which calls bw_progress_clear() under the same
 * lock before writing. */
bw_progress_t *bw_progress_start(int enabled, void *out_lock /* pthread_mutex_t * */);
void bw_progress_add_total(bw_progress_t *p, uint64_t files);
void bw_progress_total_known(bw_progress_t *p);
void bw_progress_file_done(bw_progress_t *p, uint64_t bytes);
/* Call with out_lock held. */
void bw_progress_clear(bw_progress_t *p);
/* Stops the thread and erases the line. */
void bw_progress_stop(bw_progress_t *p);

/* ---- subcommands ----------------------------------------------------------- */

int bw_cmd_scan(int argc, char **argv);
int bw_cmd_db(int argc, char **argv);
int bw_cmd_update(int argc, char **argv);  /* cmd-update.c */
int bw_cmd_quarantine(int argc, char **argv); /* cmd-quarantine.c */
int bw_cmd_ctl(int argc, char **argv);   /* cmd-ctl.c */
int bw_cmd_events(int argc, char **argv);  /* cmd-events.c */
int bw_cmd_rscan(int argc, char **argv);   /* cmd-rscan.c */
int bw_cmd_console(int argc, char **argv); /* cmd-console.c */

/* main.c: the top-level usage text. */
void bw_cli_usage(FILE *f);

#endif
