/* SPDX-License-Identifier: Apache-2.0 */
/* `bulwark quarantine`: managing what bulwarkd put in quarantine.
 *
 *   quarantine list                      a table, oldest first
 *   quarantine show ID                   the metadata record
 *   quarantine restore ID [--to PATH]    decrypt, check the SHA-256, write
 *   quarantine delete ID                 remove object and record
 *
 * The directory comes from --dir, else from [quarantine] QuarantineDir of
 * the configuration (-c FILE, default /etc/bulwark/bulwark.conf when it
 * exists, else the key's default), loaded against the same schema as
 * bulwarkd so both read the same file the same way.  This is why the
 * command reaches past the public engine API into src/app and
 * src/quarantine: the quarantine is the daemon's, not the engine's.
 *
 * An ID is the object's SHA-256 or a unique prefix of at least 8 hex
 * digits; anything else is refused before the directory is touched.
 * Exit status: 0 done, 1 no object with that id, 2 any error (bad or
 * ambiguous id, tampered object, existing target, I/O, configuration);
 * `list` exits 2 when a record is unreadable or an object missing, after
 * listing the rest.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/schema.h"
#include "cli.h"
#include "core/conf.h"
#include "core/vec.h"
#include "quarantine/quarantine.h"

enum { EXIT_NOT_FOUND = 1 };
enum { OPT_DIR = 256, OPT_TO };

static const struct option long_opts[] = {
    {"config", required_argument, NULL, 'c'},
    {"dir", required_argument, NULL, OPT_DIR},
    {"to", required_argument, NULL, OPT_TO},
    {"force", no_argument, NULL, 'f'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void quar_help(FILE *f)
{
    fprintf(f,
            "Usage: bulwark quarantine list [OPTIONS]\n"
            "       bulwark quarantine show ID [OPTIONS]\n"
            "       bulwark quarantine restore ID [--to PATH] [--force] [OPTIONS]\n"
            "       bulwark quarantine delete ID [OPTIONS]\n"
            "\n"
            "list     the quarantined objects, oldest first\n"
            "show     an object's metadata record\n"
            "restore  decrypt an object, check its SHA-256 against the id, write it\n"
            "         (mode 0600) to PATH, default ./ID; a directory gets ID inside\n"
            "delete   remove an object and its record\n"
            "\n"
            "ID is the object's SHA-256 or a unique prefix of at least 8 hex digits.\n"
            "\n"
            "  -c, --config=FILE  bulwark.conf giving [quarantine] QuarantineDir (default\n"
            "                     %s when it exists)\n"
            "      --dir=DIR      the quarantine directory (overrides the configuration)\n"
            "      --to=PATH      restore: where to write\n"
            "  -f, --force        restore: replace an existing file\n"
            "  -h, --help         this text\n"
            "Exit status: 0 done, 1 no object with that id, 2 error (bad or ambiguous\n"
            "id, tampered object, existing target, configuration, I/O).\n",
            BW_DEFAULT_CONF);
}

/* The quarantine directory the options and configuration name (malloc'd). */
static char *quarantine_dir(const char *conf_opt, const char *dir_opt)
{
    if (dir_opt)
        return bw_cli_xstrdup(dir_opt);
    bw_conf_state_t *st = NULL;
    bw_err_t err;
    int rc;
    if (conf_opt || access(BW_DEFAULT_CONF, F_OK) == 0)
        rc = bw_conf_load(&bw_app_schema, conf_opt ? conf_opt : BW_DEFAULT_CONF, &st, &err);
    else /* no configuration: the key's default */
        rc = bw_conf_load_buf(&bw_app_schema, "(defaults)", "", 0, &st, &err);
    if (rc != BW_OK) {
        fprintf(stderr, "bulwark quarantine: ERROR: %s\n", err.msg);
        return NULL;
    }
    const bw_quar_conf_t *qc = bw_conf_get(st, &bw_quar_conf_table, NULL);
    char *dir = qc && qc->dir ? bw_cli_xstrdup(qc->dir) : NULL;
    bw_conf_free(st);
    if (!dir)
        fputs("bulwark quarantine: ERROR: no QuarantineDir\n", stderr);
    return dir;
}

static int fail(const bw_err_t *err, int code)
{
    fprintf(stderr, "bulwark quarantine: %s%s\n", code == EXIT_NOT_FOUND ? "" : "ERROR: ",
            err->msg);
    return code;
}

static void utc(time_t t, char *out, size_t cap)
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(out, cap, "%Y-%m-%d %H:%M:%SZ", &tm))
        snprintf(out, cap, "-");
}

/* ---- list ------------------------------------------------------------------------ */

typedef struct row {
    time_t time;
    char *text;
} row_t;

typedef struct listing {
    BW_VEC(row_t) rows;
    int problems;
    int partial_seen;
} listing_t;

static int list_one(void *ud, const bw_quar_entry_t *e)
{
    listing_t *l = ud;
    bw_cli_buf_t b = {0};
    char when[32] = "-", size[32] = "-";
    const char *status = "?", *threat = "-", *origin = "(record unreadable)";
    if (e->problem) {
        fprintf(stderr, "bulwark quarantine: ERROR: %s\n", e->problem);
        l->problems++;
    }
    if (e->meta) {
        utc(e->meta->time, when, sizeof when);
        snprintf(size, sizeof size, "%" PRIu64 "%s", e->meta->size, e->meta->partial ? "*" : "");
        status = e->meta->status;
        threat = e->meta->nthreats ? e->meta->threats[0] : "-";
        origin = e->meta->origin;
        l->partial_seen |= e->meta->partial;
    }
    if (e->object_bytes < 0) {
        fprintf(stderr, "bulwark quarantine: ERROR: %.16s: the object file is missing\n", e->id);
        l->problems++;
    }
    bw_cli_buf_printf(&b, "%-16.16s  %-20s  %-10s  %10s  %-28s  %s\n", e->id, when, status, size,
                      threat, origin);
    if (bw_vec_push(&l->rows, (row_t){.time = e->meta ? e->meta->time : 0, .text = b.p})) {
        fputs("bulwark: out of memory\n", stderr);
        exit(BW_EXIT_ERROR);
    }
    return 0;
}

static int cmp_row(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return strcmp(x->text, y->text);
}

static int cmd_list(bw_quar_store_t *s)
{
    listing_t l = {0};
    bw_err_t err;
    if (bw_quar_each(s, list_one, &l, &err) != BW_OK)
        return fail(&err, BW_EXIT_ERROR);
    if (l.rows.n)
        qsort(l.rows.v, l.rows.n, sizeof *l.rows.v, cmp_row);
    printf("%-16s  %-20s  %-10s  %10s  %-28s  %s\n", "ID", "TIME (UTC)", "STATUS", "SIZE", "THREAT",
           "ORIGIN");
    for (size_t i = 0; i < l.rows.n; i++) {
        fputs(l.rows.v[i].text, stdout);
        free(l.rows.v[i].text);
    }
    size_t n = l.rows.n;
    bw_vec_free(&l.rows);
    if (l.partial_seen)
        puts("* partial: the daemon did not hold the whole object");
    printf("%zu object%s in %s\n", n, n == 1 ? "" : "s", bw_quar_dir(s));
    if (fflush(stdout) != 0)
        return BW_EXIT_ERROR;
    return l.problems ? BW_EXIT_ERROR : BW_EXIT_CLEAN;
}

/* ---- show, restore, delete ---------------------------------------------------------- */

static int cmd_show(bw_quar_store_t *s, const char *id)
{
    bw_quar_meta_t *m = bw_cli_xmalloc(sizeof *m);
    bw_err_t err;
    int rc = bw_quar_get_meta(s, id, m, &err);
    if (rc != BW_OK) {
        free(m);
        return fail(&err, BW_EXIT_ERROR);
    }
    bw_buf_t out = {0};
    bw_quar_meta_format(m, &out);
    free(m);
    if (out.oom) {
        bw_buf_free(&out);
        fputs("bulwark: out of memory\n", stderr);
        return BW_EXIT_ERROR;
    }
    fwrite(out.p, 1, out.len, stdout);
    bw_buf_free(&out);
    printf("# object: %s/%s%s\n", bw_quar_dir(s), id, BW_QUAR_OBJ_EXT);
    return fflush(stdout) == 0 ? BW_EXIT_CLEAN : BW_EXIT_ERROR;
}

static int cmd_restore(bw_quar_store_t *s, const char *id, const char *to, bool force)
{
    bw_err_t err;
    const char *target = to ? to : id;
    int rc = bw_quar_restore(s, id, target, force, &err);
    if (rc == BW_DECLINED)
        return fail(&err, EXIT_NOT_FOUND);
    if (rc != BW_OK)
        return fail(&err, BW_EXIT_ERROR);
    printf("restored %s to %s (SHA-256 verified)\n", id, target);
    return fflush(stdout) == 0 ? BW_EXIT_CLEAN : BW_EXIT_ERROR;
}

static int cmd_delete(bw_quar_store_t *s, const char *id)
{
    bw_err_t err;
    int rc = bw_quar_delete(s, id, &err);
    if (rc == BW_DECLINED)
        return fail(&err, EXIT_NOT_FOUND);
    if (rc != BW_OK)
        return fail(&err, BW_EXIT_ERROR);
    printf("deleted %s\n", id);
    return fflush(stdout) == 0 ? BW_EXIT_CLEAN : BW_EXIT_ERROR;
}

int bw_cmd_quarantine(int argc, char **argv)
{
    if (argc < 2) {
        quar_help(stderr);
        return BW_EXIT_ERROR;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "-h") || !strcmp(sub, "--help") || !strcmp(sub, "help")) {
        quar_help(stdout);
        return BW_EXIT_CLEAN;
    }
    int want_id;
    if (!strcmp(sub, "list"))
        want_id = 0;
    else if (!strcmp(sub, "show") || !strcmp(sub, "restore") || !strcmp(sub, "delete"))
        want_id = 1;
    else {
        fprintf(stderr, "bulwark quarantine: unknown command '%s'\n"
                        "Try 'bulwark quarantine --help'.\n", sub);
        return BW_EXIT_ERROR;
    }
    const char *conf = NULL, *dir_opt = NULL, *to = NULL;
    bool force = false;
    int c;
    optind = 0;
    while ((c = getopt_long(argc - 1, argv + 1, "c:fh", long_opts, NULL)) != -1) {
        switch (c) {
        case 'c': conf = optarg; break;
        case OPT_DIR: dir_opt = optarg; break;
        case OPT_TO: to = optarg; break;
        case 'f': force = true; break;
        case 'h': quar_help(stdout); return BW_EXIT_CLEAN;
        default: fputs("Try 'bulwark quarantine --help'.\n", stderr); return BW_EXIT_ERROR;
        }
    }
    int npos = argc - 1 - optind;
    char **pos = argv + 1 + optind;
    if (npos != want_id) {
        fprintf(stderr, "bulwark quarantine %s: %s\nTry 'bulwark quarantine --help'.\n", sub,
                want_id ? "expected one ID" : "takes no arguments");
        return BW_EXIT_ERROR;
    }
    if ((to || force) && strcmp(sub, "restore") != 0) {
        fprintf(stderr, "bulwark quarantine %s: --to and --force are for restore\n", sub);
        return BW_EXIT_ERROR;
    }
    bw_err_t err;
    char idbuf[BW_QUAR_ID_LEN + 1];
    /* A bad id is refused before anything is opened. */
    if (want_id && bw_quar_id_check(pos[0], idbuf, &err) != BW_OK)
        return fail(&err, BW_EXIT_ERROR);
    char *dir = quarantine_dir(conf, dir_opt);
    if (!dir)
        return BW_EXIT_ERROR;
    bw_quar_store_t *s;
    if (bw_quar_open(dir, false, &s, &err) != BW_OK) {
        free(dir);
        return fail(&err, BW_EXIT_ERROR);
    }
    free(dir);
    int rc;
    char id[BW_QUAR_ID_LEN + 1];
    if (!want_id) {
        rc = cmd_list(s);
    } else if ((rc = bw_quar_resolve(s, pos[0], id, &err)) != BW_OK) {
        rc = fail(&err, rc == BW_DECLINED ? EXIT_NOT_FOUND : BW_EXIT_ERROR);
    } else if (!strcmp(sub, "show")) {
        rc = cmd_show(s, id);
    } else if (!strcmp(sub, "restore")) {
        rc = cmd_restore(s, id, to, force);
    } else {
        rc = cmd_delete(s, id);
    }
    bw_quar_close(s);
    return rc;
}
