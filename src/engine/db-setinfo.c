/* SPDX-License-Identifier: Apache-2.0 */
/* The version of an updated signature set, read from its `bulwark.manifest`.
 *
 * `bulwark update` installs a set as a directory holding its database files
 * and the signed manifest that names them (src/update/manifest.h).  The set's
 * version lives only in that manifest, so without reading it every engine
 * built from an updated set said "version 0": in `ctl status`, `db info`,
 * the scan summary, clamd's VERSION and the ICAP ISTag.  The engine does not
 * verify the manifest (the updater did, before the set was switched in) and
 * does not depend on the update module: it reads the two lines it needs, the
 * header and `version N`, and refuses a file that does not look like a
 * manifest with file:line, as every loader does.  The manifest is hashed with
 * the other sources, so the cache key and the ISTag follow it too.
 */
#include <string.h>

#include "engine/db-int.h"
#include "engine/db-load.h"

#define MANIFEST_HEADER "bulwark-manifest 1"

int bw_db_load_set_manifest(bw_dbload_t *L, const char *where, const char *buf, size_t len,
                            bw_err_t *err)
{
    size_t at = 0, line = 0;
    int have_version = 0;
    while (at < len) {
        const char *s = buf + at;
        const char *nl = memchr(s, '\n', len - at);
        size_t n = nl ? (size_t)(nl - s) : len - at;
        at += n + (nl != NULL);
        line++;
        if (line == 1) {
            if (n != strlen(MANIFEST_HEADER) || memcmp(s, MANIFEST_HEADER, n))
                return bw_err_set(err, "%s:1: not a signature-set manifest (\"%s\" expected)",
                                  where, MANIFEST_HEADER);
            continue;
        }
        if (n < 8 || memcmp(s, "version ", 8))
            continue; /* files, dates and the end line are the updater's business */
        uint64_t v;
        bw_slice_t num = {s + 8, n - 8};
        if (have_version || bw_parse_u64(num, &v) || v == 0 || v > INT64_MAX)
            return bw_err_set(err, "%s:%zu: %s", where, line,
                              have_version ? "a second version line"
                                           : "version must be a decimal from 1 to 2^63-1");
        have_version = 1;
        L->set_version = v;
    }
    if (line == 0)
        return bw_err_set(err, "%s:1: empty manifest", where);
    if (!have_version)
        return bw_err_set(err, "%s: no version line", where);
    return BW_OK;
}
