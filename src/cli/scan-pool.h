/* SPDX-License-Identifier: Apache-2.0 */
/* `bulwark scan` internals: the run context shared by the option parser
 * (cmd-scan.c) and the walker and worker pool (scan-pool.c). */
#ifndef BW_CLI_SCAN_POOL_H
#define BW_CLI_SCAN_POOL_H

#include <pthread.h>

#include "cli.h"

typedef struct bw_scan_run {
    /* set up by the caller */
    const bw_engine_t *engine;
    bw_limits_t limits;
    int recursive;
    int json;
    int only_found;   /* --infected / --quiet: no OK lines */
    int quiet;        /* no notes about skipped files */
    unsigned jobs;
    bw_progress_t *progress;

    /* owned by bw_scan_run_paths */
    pthread_mutex_t out_lock; /* stdout, stderr notes, stats, progress line */
    bw_cli_stats_t stats;     /* under out_lock */
} bw_scan_run_t;

/* Initialises the locks; call before bw_progress_start (which needs out_lock). */
void bw_scan_run_init(bw_scan_run_t *r);
void bw_scan_run_destroy(bw_scan_run_t *r);

/* Walks paths (files, directories, "-" for stdin) and scans every regular
 * file with r->jobs worker threads.  Results are printed as they finish and
 * totalled in r->stats. */
void bw_scan_run_paths(bw_scan_run_t *r, char *const *paths, size_t n);

#endif
