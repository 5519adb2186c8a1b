/* SPDX-License-Identifier: Apache-2.0 */
/* The version of an updated set, read from its bulwark.manifest
 * (src/engine/db-setinfo.c), and what a malformed one gives. */
#include "db-test-util.h"
#include "engine/db-int.h"
#include "t.h"

#define HEAD "bulwark-manifest 1\n"

static int load_manifest(fx_t *f, const char *text)
{
    f->err.msg[0] = '\0';
    return bw_db_load_buffer(&f->L, "set/bulwark.manifest", "manifest", text, strlen(text),
                             &f->err);
}

TEST(version_line_sets_the_set_version)
{
    fx_t f;
    fx_init(&f);
    CHECK_EQ(load_manifest(&f, HEAD "version 42\ncreated 2025-11-23T10:00:00Z\n"
                                    "file a.hdb 3 " "00" "\nend 1\n"), BW_OK);
    CHECK_EQ(f.L.set_version, 42);
    CHECK_EQ(f.L.signatures, 0); /* the manifest is not a database */
    fx_free(&f);
}

TEST(largest_version_fits)
{
    fx_t f;
    fx_init(&f);
    CHECK_EQ(load_manifest(&f, HEAD "version 9223372036854775807\nend 0\n"), BW_OK);
    CHECK(f.L.set_version == 9223372036854775807ull);
    fx_free(&f);
}

/* Each malformed manifest is refused with the file and the line. */
TEST(malformed_manifests_name_file_and_line)
{
    static const struct { const char *text, *want; } cases[] = {
        {"", "set/bulwark.manifest:1: empty manifest"},
        {"bulwark-manifest 2\nversion 1\n", "set/bulwark.manifest:1: not a signature-set manifest"},
        {"# no header\n", "set/bulwark.manifest:1: not a signature-set manifest"},
        {HEAD "version 0\n", "set/bulwark.manifest:2: version must be"},
        {HEAD "version 12x\n", "set/bulwark.manifest:2: version must be"},
        {HEAD "version 9223372036854775808\n", "set/bulwark.manifest:2: version must be"},
        {HEAD "version \n", "set/bulwark.manifest:2: version must be"},
        {HEAD "version 1\nversion 2\n", "set/bulwark.manifest:3: a second version line"},
        {HEAD "end 0\n", "set/bulwark.manifest: no version line"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fx_t f;
        fx_init(&f);
        CHECK_EQ(load_manifest(&f, cases[i].text), BW_ERR);
        CHECK_CONTAINS(f.err.msg, cases[i].want);
        fx_free(&f);
    }
}

/* Without a trailing newline, against the end of the buffer. */
TEST(last_line_without_newline)
{
    fx_t f;
    fx_init(&f);
    CHECK_EQ(load_manifest(&f, HEAD "version 7"), BW_OK);
    CHECK_EQ(f.L.set_version, 7);
    fx_free(&f);
}

int main(void) { return t_run(); }
