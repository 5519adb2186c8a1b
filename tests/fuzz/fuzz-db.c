/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the database loaders: the first byte picks the file type, the rest
 * is the file.  .cld is offered as well as .cvd because a .cvd's MD5 check
 * stops nearly every mutation before the archive reader sees it.  Any input
 * must load or fail with a message, never crash, leak or hang; a loaded
 * database must survive finish and a hash lookup. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "engine/db-load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const exts[] = {"hdb", "hsb", "fp", "ndb", "ldb", "ign2", "cvd", "cld",
                                       "manifest"};
    if (size < 1)
        return 0;
    const char *ext = exts[data[0] % (sizeof exts / sizeof exts[0])];
    bw_sigdb_t db;
    memset(&db, 0, sizeof db);
    bw_dbload_t L;
    memset(&L, 0, sizeof L);
    L.db = &db;
    bw_err_t err;
    err.msg[0] = '\0';
    int rc = bw_db_load_buffer(&L, "fuzz", ext, (const char *)data + 1, size - 1, &err);
    if (rc == BW_OK) {
        bw_sigdb_finish(&db);
        uint8_t d[32] = {0};
        (void)bw_sigdb_find_hash(&db, BW_HLIST_DETECT, BW_HASH_MD5, 68, d);
        (void)bw_sigdb_find_hash(&db, BW_HLIST_ALLOW, BW_HASH_SHA256, BW_SIZE_ANY, d);
        for (size_t i = 0; i < db.metas.n; i++)
            (void)strlen(bw_sigdb_string(&db, db.metas.v[i].name_off));
    } else if (err.msg[0] == '\0') {
        __builtin_trap(); /* every failure must say why */
    }
    bw_dbload_free(&L);
    bw_sigdb_free(&db);
    return 0;
}
