/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the update manifest parser (src/update/manifest.c): without an
 * UpdatePublicKey the manifest comes straight from the network.  Whatever
 * parses must format back into text that parses to the same manifest, and
 * every file it names must pass the name rule the updater relies on to keep
 * writes inside the staging directory. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/bulwark.h"
#include "update/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bw_manifest_t m, again;
    bw_err_t err;
    if (bw_manifest_parse((const char *)data, size, &m, &err) != BW_OK) {
        if (!strstr(err.msg, "line "))
            abort(); /* every refusal says where */
        return 0;
    }
    for (size_t i = 0; i < m.nfiles; i++)
        if (!bw_manifest_name_ok(m.files[i].name) || strchr(m.files[i].name, '/'))
            abort();
    bw_buf_t out = {0};
    if (bw_manifest_format(&m, &out, &err) != BW_OK)
        abort();
    if (bw_manifest_parse(out.p, out.len, &again, &err) != BW_OK)
        abort();
    /* every file knows its line (after the header, within the text); the
     * reformatted text puts them elsewhere, so lines are left out of the
     * comparison */
    for (size_t i = 0; i < m.nfiles; i++) {
        if (m.files[i].line < 2 || m.files[i].line > size)
            abort();
        m.files[i].line = again.files[i].line = 0;
    }
    if (again.version != m.version || again.nfiles != m.nfiles ||
        strcmp(again.created, m.created) ||
        (m.nfiles && memcmp(again.files, m.files, m.nfiles * sizeof *m.files)))
        abort();
    bw_manifest_free(&again);
    bw_manifest_free(&m);
    bw_buf_free(&out);
    return 0;
}
