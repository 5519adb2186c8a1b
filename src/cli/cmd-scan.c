/* SPDX-License-Identifier: Apache-2.0 */
/* `bulwark scan`: on-demand scanning, shaped like clamscan.
 *
 * Options, output lines, the summary and the exit codes follow clamscan so
 * that it can replace clamscan in scripts and cron jobs: exit 0 when nothing
 * was found, 1 when anything was (any status but CLEAN, including the
 * engine's own ERROR verdicts, which are findings about the file), and 2 when
 * the scan itself failed somewhere: a bad database, a path that could not be
 * read.  2 wins over 1 because a partly failed scan cannot vouch for
 * anything, found or not.  The walk and the worker pool are in scan-pool.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scan-pool.h"

enum {
    OPT_JSON = 256,
    OPT_NO_ARCHIVE,
    OPT_MAX_RECURSION,
    OPT_MAX_FILES,
    OPT_MAX_FILESIZE,
    OPT_MAX_SCANSIZE,
    OPT_MAX_SCANTIME,
    OPT_MAX_RATIO,
    OPT_CACHE_DIR,
    OPT_NO_CACHE,
    OPT_ALL_MATCH,
    OPT_NO_SUMMARY,
    OPT_NO_PROGRESS,
    OPT_VERSION,
};

static const struct option long_opts[] = {
    {"database", required_argument, NULL, 'd'},
    {"recursive", no_argument, NULL, 'r'},
    {"jobs", required_argument, NULL, 'j'},
    {"json", no_argument, NULL, OPT_JSON},
    {"no-archive", no_argument, NULL, OPT_NO_ARCHIVE},
    {"max-recursion", required_argument, NULL, OPT_MAX_RECURSION},
    {"max-files", required_argument, NULL, OPT_MAX_FILES},
    {"max-filesize", required_argument, NULL, OPT_MAX_FILESIZE},
    {"max-scansize", required_argument, NULL, OPT_MAX_SCANSIZE},
    {"max-scantime", required_argument, NULL, OPT_MAX_SCANTIME},
    {"max-ratio", required_argument, NULL, OPT_MAX_RATIO},
    {"cache-dir", required_argument, NULL, OPT_CACHE_DIR},
    {"no-cache", no_argument, NULL, OPT_NO_CACHE},
    {"all-match", no_argument, NULL, OPT_ALL_MATCH},
    {"infected", no_argument, NULL, 'i'},
    {"no-summary", no_argument, NULL, OPT_NO_SUMMARY},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static void scan_help(FILE *f)
{
    bw_limits_t l;
    bw_limits_default(&l);
    fprintf(f,
            "Usage: bulwark scan [OPTIONS] PATH...\n"
            "Scan files and directories (\"-\" reads standard input).\n"
            "\n"
            "  -d, --database=DB       database file or directory (repeatable); default:\n"
            "                          $BULWARK_DB if set, else %s\n"
            "  -r, --recursive         descend into subdirectories (without it, a directory\n"
            "                          contributes only the files directly in it)\n"
            "  -j, --jobs=N            files scanned in parallel (default: online CPUs)\n"
            "      --json              one JSON object per file and line\n"
            "  -i, --infected          print only files that are not OK\n"
            "      --no-summary        no summary at the end\n"
            "      --no-progress       no progress line on a terminal\n"
            "  -q, --quiet             only findings and errors (implies -i, --no-summary)\n"
            "      --all-match         keep scanning after the first finding\n"
            "      --no-archive        do not open archives and compressed files\n"
            "      --max-recursion=N   container nesting depth (default %u)\n"
            "      --max-files=N       members per container (default %u)\n"
            "      --max-filesize=SIZE largest single (inner) file (default %lluM)\n"
            "      --max-scansize=SIZE bytes scanned per file (default %lluM)\n"
            "      --max-scantime=MS   time per file in milliseconds (default %u)\n"
            "      --max-ratio=N       member size / compressed size bound (default %u)\n"
            "      --cache-dir=DIR     compiled-database cache (default\n"
            "                          $XDG_CACHE_HOME/bulwark or ~/.cache/bulwark)\n"
            "      --no-cache          do not read or write the cache\n"
            "  -h, --help              this text\n"
            "      --version           print the version\n"
            "\n"
            "SIZE takes a K, M or G suffix (1024-based).\n"
            "Output: \"path: OK\", \"path: NAME FOUND\" (infected), \"path: STATUS NAME\" for\n"
            "other statuses, \" [container/inner/path]\" after findings inside containers,\n"
            "\"path: ERROR: reason\" for paths that could not be scanned.\n"
            "Exit status: 0 nothing found, 1 something found, 2 an error occurred.\n",
            BW_DEFAULT_DB, l.max_depth, l.max_files,
            (unsigned long long)(l.max_file_size >> 20),
            (unsigned long long)(l.max_scan_bytes >> 20), l.max_scan_ms, l.max_ratio);
}

static int bad_value(const char *opt, const char *val)
{
    fprintf(stderr, "bulwark scan: invalid value for %s: '%s'\n", opt, val);
    fputs("Try 'bulwark scan --help'.\n", stderr);
    return BW_EXIT_ERROR;
}

static int parse_u32(const char *opt, const char *val, uint32_t *out)
{
    uint64_t v;
    if (bw_cli_parse_uint(val, UINT32_MAX, &v) != BW_OK)
        return bad_value(opt, val);
    *out = (uint32_t)v;
    return BW_EXIT_CLEAN;
}

static int parse_size_opt(const char *opt, const char *val, uint64_t *out)
{
    if (bw_cli_parse_size(val, out) != BW_OK)
        return bad_value(opt, val);
    return BW_EXIT_CLEAN;
}

static unsigned online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

int bw_cmd_scan(int argc, char **argv)
{
    bw_scan_run_t run;
    memset(&run, 0, sizeof run);
    bw_limits_default(&run.limits);
    bw_cli_dbs_t dbs = {0};
    const char *cache_opt = NULL;
    int no_cache = 0, no_summary = 0, no_progress = 0, rc = BW_EXIT_CLEAN;
    uint64_t v;

    optind = 0; /* GNU: full reinitialisation, argv is a fresh vector */
    int c;
    while ((c = getopt_long(argc, argv, "d:rj:iqh", long_opts, NULL)) != -1) {
        switch (c) {
        case 'd': bw_cli_dbs_add(&dbs, optarg); break;
        case 'r': run.recursive = 1; break;
        case 'j':
            if (bw_cli_parse_uint(optarg, 1024, &v) != BW_OK || v == 0)
                rc = bad_value("--jobs", optarg);
            else
                run.jobs = (unsigned)v;
            break;
        case OPT_JSON: run.json = 1; break;
        case OPT_NO_ARCHIVE: run.limits.scan_archives = 0; break;
        case OPT_MAX_RECURSION: rc = parse_u32("--max-recursion", optarg, &run.limits.max_depth); break;
        case OPT_MAX_FILES: rc = parse_u32("--max-files", optarg, &run.limits.max_files); break;
        case OPT_MAX_FILESIZE:
            rc = parse_size_opt("--max-filesize", optarg, &run.limits.max_file_size);
            break;
        case OPT_MAX_SCANSIZE:
            rc = parse_size_opt("--max-scansize", optarg, &run.limits.max_scan_bytes);
            break;
        case OPT_MAX_SCANTIME: rc = parse_u32("--max-scantime", optarg, &run.limits.max_scan_ms); break;
        case OPT_MAX_RATIO: rc = parse_u32("--max-ratio", optarg, &run.limits.max_ratio); break;
        case OPT_CACHE_DIR: cache_opt = optarg; break;
        case OPT_NO_CACHE: no_cache = 1; break;
        case OPT_ALL_MATCH: run.limits.all_match = 1; break;
        case 'i': run.only_found = 1; break;
        case OPT_NO_SUMMARY: no_summary = 1; break;
        case OPT_NO_PROGRESS: no_progress = 1; break;
        case 'q': run.quiet = run.only_found = no_summary = no_progress = 1; break;
        case 'h':
            scan_help(stdout);
            bw_cli_dbs_free(&dbs);
            return BW_EXIT_CLEAN;
        case OPT_VERSION:
            printf("bulwark %s\n", BW_VERSION);
            bw_cli_dbs_free(&dbs);
            return BW_EXIT_CLEAN;
        default:
            fputs("Try 'bulwark scan --help'.\n", stderr);
            bw_cli_dbs_free(&dbs);
            return BW_EXIT_ERROR;
        }
        if (rc != BW_EXIT_CLEAN) {
            bw_cli_dbs_free(&dbs);
            return rc;
        }
    }
    if (optind >= argc) {
        fputs("bulwark scan: no path to scan\nTry 'bulwark scan --help'.\n", stderr);
        bw_cli_dbs_free(&dbs);
        return BW_EXIT_ERROR;
    }
    if (!run.jobs)
        run.jobs = online_cpus();
    bw_cli_dbs_default(&dbs);

    double t0 = bw_cli_now();
    char *cache_dir = bw_cli_cache_dir(cache_opt, no_cache);
    bw_engine_t *engine = bw_cli_load(&dbs, cache_dir, NULL);
    free(cache_dir);
    bw_cli_dbs_free(&dbs);
    if (!engine)
        return BW_EXIT_ERROR;

    run.engine = engine;
    bw_scan_run_init(&run);
    /* A JSON stream on stdout with a terminal on stderr still gets a bar:
     * it never touches stdout. */
    run.progress = bw_progress_start(!no_progress, &run.out_lock);
    bw_scan_run_paths(&run, argv + optind, (size_t)(argc - optind));
    bw_progress_stop(run.progress);
    run.progress = NULL;

    const bw_db_info_t *info = bw_engine_info(engine);
    run.stats.signatures = info ? info->signatures : 0;
    run.stats.db_version = info ? info->version : 0;
    run.stats.secs = bw_cli_now() - t0;
    if (!no_summary && !run.json) {
        bw_cli_buf_t b = {0};
        bw_cli_format_summary(&b, &run.stats);
        fwrite(b.p, 1, b.len, stdout);
        bw_cli_buf_free(&b);
    }
    /* Output that did not reach its destination (full disk, closed pipe
     * reader ignoring SIGPIPE) is a failed scan report. */
    int out_failed = fflush(stdout) != 0 || ferror(stdout);

    if (run.stats.errors || out_failed)
        rc = BW_EXIT_ERROR;
    else if (run.stats.found_files)
        rc = BW_EXIT_FOUND;
    else
        rc = BW_EXIT_CLEAN;
    bw_scan_run_destroy(&run);
    bw_engine_unref(engine);
    return rc;
}
