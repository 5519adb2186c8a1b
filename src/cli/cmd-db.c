/* SPDX-License-Identifier: Apache-2.0 */
/* `bulwark db`: inspecting and compiling signature databases.
 *
 *   db info [-d DB]... [DB...]     what loaded: version, counts per kind
 *                                  (including what this engine cannot use
 *                                  yet), the source hash, cache use
 *   db compile [-d DB]... [DB...]  load once so that the compiled form lands
 *                                  in the cache, e.g. right after an update,
 *                                  so the next scan or daemon reload starts
 *                                  warm
 *
 * Both load exactly as `scan` does (same defaults, same cache directory), so
 * what `db info` says is what a scan will use.  A bad database prints the
 * loader's "file:line: what" and exits 2.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { OPT_CACHE_DIR = 256, OPT_NO_CACHE };

static const struct option long_opts[] = {
    {"database", required_argument, NULL, 'd'},
    {"cache-dir", required_argument, NULL, OPT_CACHE_DIR},
    {"no-cache", no_argument, NULL, OPT_NO_CACHE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void db_help(FILE *f)
{
    fprintf(f,
            "Usage: bulwark db info [OPTIONS] [DB...]\n"
            "       bulwark db compile [OPTIONS] [DB...]\n"
            "\n"
            "info     load the databases and describe them\n"
            "compile  load the databases and store the compiled form in the cache\n"
            "\n"
            "  -d, --database=DB   database file or directory (repeatable; positional DB\n"
            "                      arguments are the same); default: $BULWARK_DB if set,\n"
            "                      else %s\n"
            "      --cache-dir=DIR compiled-database cache (default\n"
            "                      $XDG_CACHE_HOME/bulwark or ~/.cache/bulwark)\n"
            "      --no-cache      do not read or write the cache\n"
            "  -h, --help          this text\n"
            "Exit status: 0 on success, 2 when a database cannot be loaded.\n",
            BW_DEFAULT_DB);
}

static void print_info(const bw_db_info_t *info, double secs)
{
    printf("Database version: %" PRIu64 "\n", info->version);
    printf("Build time: %s\n", info->build_time[0] ? info->build_time : "-");
    printf("Signatures in use: %" PRIu64 "\n", info->signatures);
    for (size_t i = 0; i < info->ncounts; i++) {
        /* kind is a fixed array: never trust it to be terminated */
        printf("%.*s: %" PRIu64 "\n", (int)strnlen(info->counts[i].kind,
                                                   sizeof info->counts[i].kind),
               info->counts[i].kind, info->counts[i].count);
    }
    printf("Source hash: %.64s\n", info->source_hash);
    printf("Loaded from cache: %s\n", info->from_cache ? "yes" : "no");
    printf("Load time: %.3f sec\n", secs);
}

int bw_cmd_db(int argc, char **argv)
{
    if (argc < 2) {
        db_help(stderr);
        return BW_EXIT_ERROR;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
        db_help(stdout);
        return BW_EXIT_CLEAN;
    }
    int compile;
    if (strcmp(sub, "info") == 0) {
        compile = 0;
    } else if (strcmp(sub, "compile") == 0) {
        compile = 1;
    } else {
        fprintf(stderr, "bulwark db: unknown command '%s'\nTry 'bulwark db --help'.\n", sub);
        return BW_EXIT_ERROR;
    }

    bw_cli_dbs_t dbs = {0};
    const char *cache_opt = NULL;
    int no_cache = 0, c;
    optind = 0;
    while ((c = getopt_long(argc - 1, argv + 1, "d:h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'd': bw_cli_dbs_add(&dbs, optarg); break;
        case OPT_CACHE_DIR: cache_opt = optarg; break;
        case OPT_NO_CACHE: no_cache = 1; break;
        case 'h':
            db_help(stdout);
            bw_cli_dbs_free(&dbs);
            return BW_EXIT_CLEAN;
        default:
            fputs("Try 'bulwark db --help'.\n", stderr);
            bw_cli_dbs_free(&dbs);
            return BW_EXIT_ERROR;
        }
    }
    for (int i = optind; i < argc - 1; i++)
        bw_cli_dbs_add(&dbs, argv[1 + i]);
    bw_cli_dbs_default(&dbs);

    if (compile && no_cache) {
        fputs("bulwark db compile: --no-cache leaves nothing to compile into\n", stderr);
        bw_cli_dbs_free(&dbs);
        return BW_EXIT_ERROR;
    }
    char *cache_dir = bw_cli_cache_dir(cache_opt, no_cache);
    if (compile && !cache_dir) {
        fputs("bulwark db compile: no usable cache directory (use --cache-dir)\n", stderr);
        bw_cli_dbs_free(&dbs);
        return BW_EXIT_ERROR;
    }
    double secs = 0;
    bw_engine_t *e = bw_cli_load(&dbs, cache_dir, &secs);
    bw_cli_dbs_free(&dbs);
    if (!e) {
        free(cache_dir);
        return BW_EXIT_ERROR;
    }
    const bw_db_info_t *info = bw_engine_info(e);
    if (!info) {
        fputs("bulwark: ERROR: the engine gave no database information\n", stderr);
        bw_engine_unref(e);
        free(cache_dir);
        return BW_EXIT_ERROR;
    }
    if (compile) {
        printf("%s %" PRIu64 " signatures (source %.64s) in %.3f sec; cache: %s\n",
               info->from_cache ? "Cache already up to date for" : "Compiled",
               info->signatures, info->source_hash, secs, cache_dir);
    } else {
        print_info(info, secs);
    }
    bw_engine_unref(e);
    free(cache_dir);
    return fflush(stdout) == 0 ? BW_EXIT_CLEAN : BW_EXIT_ERROR;
}
