/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the database-loader tests (test-db-*.c): a loader
 * fixture over a throwaway database, loading a text as if it were a file
 * "t.<ext>", the per-kind counts, the file:line error check, and a scratch
 * directory for the tests that collect files.  Static and marked unused so
 * each test includes it whole and uses what it needs. */
#ifndef BW_TEST_DB_UTIL_H
#define BW_TEST_DB_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/db-load.h"
#include "t.h"

#define BW_TEST_UNUSED __attribute__((unused))

typedef struct fx {
    bw_sigdb_t db;
    bw_dbload_t L;
    bw_err_t err;
} fx_t;

static BW_TEST_UNUSED void fx_init(fx_t *f)
{
    memset(f, 0, sizeof *f);
    f->L.db = &f->db;
}

static BW_TEST_UNUSED void fx_free(fx_t *f)
{
    bw_dbload_free(&f->L);
    bw_sigdb_free(&f->db);
}

/* Loads text under the file name `where` (which error messages quote). */
static BW_TEST_UNUSED int load_at(fx_t *f, const char *where, const char *ext, const char *text)
{
    f->err.msg[0] = '\0';
    return bw_db_load_buffer(&f->L, where, ext, text, strlen(text), &f->err);
}

/* Loads text as "t.<ext>"; an unexpected error shows on stderr. */
static BW_TEST_UNUSED int load(fx_t *f, const char *ext, const char *text)
{
    char where[16];
    snprintf(where, sizeof where, "t.%s", ext);
    int rc = load_at(f, where, ext, text);
    if (rc == BW_ERR)
        fprintf(stderr, "  load: %s\n", f->err.msg);
    return rc;
}

static BW_TEST_UNUSED uint64_t count_of(const bw_dbload_t *L, const char *kind)
{
    for (size_t i = 0; i < L->counts.n; i++)
        if (!strcmp(L->counts.v[i].kind, kind))
            return L->counts.v[i].count;
    return 0;
}

/* The sum of the counts whose kind starts with prefix. */
static BW_TEST_UNUSED uint64_t count_prefix(const bw_dbload_t *L, const char *prefix)
{
    uint64_t n = 0;
    for (size_t i = 0; i < L->counts.n; i++)
        if (!strncmp(L->counts.v[i].kind, prefix, strlen(prefix)))
            n += L->counts.v[i].count;
    return n;
}

/* Loading text as "t.<ext>" into a fresh database fails, and the message
 * contains both `where` (file:line...) and `what`. */
static BW_TEST_UNUSED void expect_error(const char *ext, const char *text, const char *where,
                                        const char *what)
{
    fx_t f;
    fx_init(&f);
    char w[32];
    snprintf(w, sizeof w, "t.%s", ext);
    int rc = load_at(&f, w, ext, text);
    if (rc != BW_ERR)
        fprintf(stderr, "  expected an error for: %s\n", text);
    CHECK_EQ(rc, BW_ERR);
    CHECK_CONTAINS(f.err.msg, where);
    CHECK_CONTAINS(f.err.msg, what);
    fx_free(&f);
}

/* ---- a scratch directory: /tmp/bw-test-<name>.XXXXXX ---- */

static char tmpdir[64];

static BW_TEST_UNUSED void mk_tmpdir(const char *name)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/bw-test-%s.XXXXXX", name);
    CHECK(mkdtemp(tmpdir) != NULL);
}

static BW_TEST_UNUSED void rm_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    CHECK_EQ(system(cmd), 0);
}

static BW_TEST_UNUSED void write_bytes(const char *name, const void *buf, size_t len)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    FILE *fp = fopen(p, "wb");
    if (!fp)
        return;
    fwrite(buf, 1, len, fp);
    fclose(fp);
}

static BW_TEST_UNUSED void write_file(const char *name, const char *text)
{
    write_bytes(name, text, strlen(text));
}

#endif
