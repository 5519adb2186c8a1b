/* SPDX-License-Identifier: Apache-2.0 */
/* Database loading: hash formats, ignore lists, status tags, counting,
 * collecting files from directories, and the source hash (cache key). */
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db-test-util.h"
#include "engine/db-load.h"
#include "t.h"

#define MD5A "44d88612fea8a8f36de82e1278abb02f"
#define MD5B "0123456789abcdef0123456789ABCDEF"
#define SHA1A "3395856ce81f2b7382dee72602f798b642f14140"
#define SHA256A "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"

static void hex2bin(const char *hex, uint8_t *out)
{
    for (size_t i = 0; hex[2 * i]; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

static const char *meta_name(const bw_sigdb_t *db, uint32_t meta)
{
    return bw_sigdb_string(db, db->metas.v[meta].name_off);
}

TEST(hdb_valid_lines_load_and_are_found)
{
    fx_t f;
    fx_init(&f);
    const char *text = "# comment\r\n"
                       "\r\n"
                       MD5A ":68:Eicar-Test-Signature\r\n"
                       "   \n"
                       MD5B ":*:Any.Size\n"
                       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:0:Empty.File"; /* no final newline */
    CHECK_EQ(load_at(&f, "t.hdb", "hdb", text), BW_OK);
    CHECK_EQ(f.db.hashes[BW_HLIST_DETECT][BW_HASH_MD5].n, 3);
    CHECK_EQ(count_of(&f.L, "hdb"), 3);
    CHECK_EQ(f.L.signatures, 3);
    bw_sigdb_finish(&f.db);
    uint8_t d[32] = {0};
    hex2bin(MD5A, d);
    const bw_hashent_t *e = bw_sigdb_find_hash(&f.db, BW_HLIST_DETECT, BW_HASH_MD5, 68, d);
    CHECK(e != NULL);
    if (e) {
        CHECK_STR(meta_name(&f.db, e->meta), "Eicar-Test-Signature");
        CHECK_EQ(f.db.metas.v[e->meta].status, BW_INFECTED);
    }
    CHECK(bw_sigdb_find_hash(&f.db, BW_HLIST_DETECT, BW_HASH_MD5, 69, d) == NULL);
    CHECK(bw_sigdb_find_hash(&f.db, BW_HLIST_ALLOW, BW_HASH_MD5, 68, d) == NULL);
    /* `*` matches any size; upper-case hex parsed */
    hex2bin("0123456789abcdef0123456789abcdef", d);
    e = bw_sigdb_find_hash(&f.db, BW_HLIST_DETECT, BW_HASH_MD5, 12345, d);
    CHECK(e != NULL);
    if (e)
        CHECK_STR(meta_name(&f.db, e->meta), "Any.Size");
    hex2bin("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", d);
    CHECK(bw_sigdb_find_hash(&f.db, BW_HLIST_DETECT, BW_HASH_MD5, 0, d) != NULL);
    fx_free(&f);
}

TEST(hsb_picks_kind_by_length)
{
    fx_t f;
    fx_init(&f);
    CHECK_EQ(load_at(&f, "t.hsb", "hsb", SHA1A ":10:S1\n" SHA256A ":20:S256\n"), BW_OK);
    CHECK_EQ(f.db.hashes[BW_HLIST_DETECT][BW_HASH_SHA1].n, 1);
    CHECK_EQ(f.db.hashes[BW_HLIST_DETECT][BW_HASH_SHA256].n, 1);
    CHECK_EQ(count_of(&f.L, "hsb"), 2);
    bw_sigdb_finish(&f.db);
    uint8_t d[32] = {0};
    hex2bin(SHA256A, d);
    const bw_hashent_t *e = bw_sigdb_find_hash(&f.db, BW_HLIST_DETECT, BW_HASH_SHA256, 20, d);
    CHECK(e && !strcmp(meta_name(&f.db, e->meta), "S256"));
    /* a digest that only differs after byte 20 must not match the SHA-1 */
    uint8_t d1[32] = {0};
    hex2bin(SHA1A, d1);
    CHECK(bw_sigdb_find_hash(&f.db, BW_HLIST_DETECT, BW_HASH_SHA1, 10, d1) != NULL);
    d1[19] ^= 1;
    CHECK(bw_sigdb_find_hash(&f.db, BW_HLIST_DETECT, BW_HASH_SHA1, 10, d1) == NULL);
    fx_free(&f);
}

TEST(hdb_with_sha256_loads_like_clamav)
{
    /* ClamAV's own unit-test clamav.hdb holds a SHA-256: the kind follows
     * the digest length in every hash file */
    fx_t f;
    fx_init(&f);
    CHECK_EQ(load_at(&f, "clamav.hdb", "hdb",
                  "71e7b604d18aefd839e51a39c88df8383bb4c071dc31f87f00a2b5df580d4495:544:"
                  "ClamAV-Test-File\n"),
             BW_OK);
    CHECK_EQ(f.db.hashes[BW_HLIST_DETECT][BW_HASH_SHA256].n, 1);
    CHECK_EQ(count_of(&f.L, "hdb"), 1);
    fx_free(&f);
}

TEST(fp_and_sfp_go_to_the_allow_list)
{
    fx_t f;
    fx_init(&f);
    CHECK_EQ(load_at(&f, "t.fp", "fp", MD5A ":68:Clean.Thing\n"), BW_OK);
    CHECK_EQ(load_at(&f, "t.sfp", "sfp", SHA256A ":20:Clean.Other\n"), BW_OK);
    CHECK_EQ(f.db.hashes[BW_HLIST_ALLOW][BW_HASH_MD5].n, 1);
    CHECK_EQ(f.db.hashes[BW_HLIST_ALLOW][BW_HASH_SHA256].n, 1);
    CHECK_EQ(f.db.hashes[BW_HLIST_DETECT][BW_HASH_MD5].n, 0);
    CHECK_EQ(count_of(&f.L, "fp"), 1);
    CHECK_EQ(count_of(&f.L, "sfp"), 1);
    CHECK_EQ(f.L.signatures, 0); /* allow-list entries detect nothing */
    fx_free(&f);
}

TEST(hdu_hsu_count_under_their_own_kind)
{
    fx_t f;
    fx_init(&f);
    CHECK_EQ(load_at(&f, "t.hdu", "hdu", MD5A ":68:PUA.X\n"), BW_OK);
    CHECK_EQ(load_at(&f, "t.hsu", "HSU", SHA1A ":68:PUA.Y\n"), BW_OK);
    CHECK_EQ(count_of(&f.L, "hdu"), 1);
    CHECK_EQ(count_of(&f.L, "hsu"), 1);
    CHECK_EQ(count_of(&f.L, "hdb"), 0);
    CHECK_EQ(f.db.hashes[BW_HLIST_DETECT][BW_HASH_MD5].n, 1);
    CHECK_EQ(f.db.hashes[BW_HLIST_DETECT][BW_HASH_SHA1].n, 1);
    fx_free(&f);
}

TEST(hash_errors_name_file_and_line)
{
    expect_error("hdb", MD5A ":68\n", "t.hdb:1:", "fields");
    expect_error("hdb", "# c\n" MD5A ":68:A:1:2:3\n", "t.hdb:2:", "fields");
    expect_error("hdb", MD5A ":68:A\n" "abcd:68:B\n", "t.hdb:2:", "hash length 4");
    expect_error("hdb", "g4d88612fea8a8f36de82e1278abb02f:68:A\n", "t.hdb:1:", "bad hex digit");
    expect_error("hdb", MD5A ":6x8:A\n", "t.hdb:1:", "bad file size");
    expect_error("hdb", MD5A ":-1:A\n", "t.hdb:1:", "bad file size");
    expect_error("hdb", MD5A ":99999999999999999999999:A\n", "t.hdb:1:", "bad file size");
    expect_error("hdb", MD5A "::A\n", "t.hdb:1:", "bad file size");
    expect_error("hdb", MD5A ":68:\n", "t.hdb:1:", "empty signature name");
    expect_error("hdb", MD5A ":68:Bad\x01Name\n", "t.hdb:1:", "control character");
    expect_error("hsb", SHA1A ":68:A:x\n", "t.hsb:1:", "functionality level");
    expect_error("hsb", SHA1A ":68:A:1:y\n", "t.hsb:1:", "functionality level");
    expect_error("fp", "\n\n\n" MD5A ":68:A:1:2:3\n", "t.fp:4:", "fields");
}

TEST(flevel_range_outside_is_counted_not_loaded)
{
    fx_t f;
    fx_init(&f);
    const char *text = MD5A ":1:In.Min:50\n"
                       MD5A ":2:In.Range:50:300\n"
                       MD5A ":3:Out.Max:1:50\n"
                       MD5A ":4:Out.Min:300\n"
                       MD5A ":5:Empty.Max:50:\n";
    CHECK_EQ(load_at(&f, "t.hdb", "hdb", text), BW_OK);
    CHECK_EQ(count_of(&f.L, "hdb"), 3);
    CHECK_EQ(count_of(&f.L, "unsupported: flevel"), 2);
    CHECK_EQ(f.db.hashes[BW_HLIST_DETECT][BW_HASH_MD5].n, 3);
    fx_free(&f);
}

TEST(status_tags_set_status_and_strip_the_name)
{
    fx_t f;
    fx_init(&f);
    const char *text = MD5A ":1:Eicar-Susp@SUSPICIOUS\n"
                       MD5A ":2:Eicar-Cure@CURED=43555245\n"
                       MD5A ":3:Phish.mail@example.com\n"
                       MD5A ":4:Plain\n";
    CHECK_EQ(load_at(&f, "t.hdb", "hdb", text), BW_OK);
    CHECK_EQ(f.db.metas.n, 4);
    if (f.db.metas.n == 4) {
        CHECK_STR(meta_name(&f.db, 0), "Eicar-Susp");
        CHECK_EQ(f.db.metas.v[0].status, BW_SUSPICIOUS);
        CHECK_STR(meta_name(&f.db, 1), "Eicar-Cure");
        CHECK_EQ(f.db.metas.v[1].status, BW_CURED);
        CHECK_EQ(f.db.metas.v[1].cure_len, 4);
        CHECK(!memcmp(f.db.bytes.v + f.db.metas.v[1].cure_off, "CURE", 4));
        /* not tag-like: kept as part of the name */
        CHECK_STR(meta_name(&f.db, 2), "Phish.mail@example.com");
        CHECK_EQ(f.db.metas.v[2].status, BW_INFECTED);
        CHECK_EQ(f.db.metas.v[3].status, BW_INFECTED);
    }
    fx_free(&f);
    expect_error("hdb", MD5A ":1:X@BOGUS\n", "t.hdb:1:", "unknown status tag");
    expect_error("hdb", MD5A ":1:X@CURED\n", "t.hdb:1:", "CURED");
    expect_error("hdb", MD5A ":1:X@CURED=4\n", "t.hdb:1:", "odd");
    expect_error("hdb", MD5A ":1:X@CURED=zz\n", "t.hdb:1:", "bad hex");
    expect_error("hdb", MD5A ":1:X@WARNING=00\n", "t.hdb:1:", "only @CURED");
    expect_error("hdb", MD5A ":1:@WARNING\n", "t.hdb:1:", "empty signature name");
}

TEST(sigdb_add_meta_direct)
{
    bw_sigdb_t db;
    memset(&db, 0, sizeof db);
    bw_err_t e;
    uint32_t m = 99;
    CHECK_EQ(bw_sigdb_add_meta(&db, "A@WARNING", 9, &m, &e), BW_OK);
    CHECK_EQ(m, 0);
    CHECK_EQ(db.metas.v[0].status, BW_WARNING);
    CHECK_STR(bw_sigdb_string(&db, db.metas.v[0].name_off), "A");
    CHECK_EQ(bw_sigdb_add_meta(&db, "B@NOPE", 6, &m, &e), BW_ERR);
    CHECK_CONTAINS(e.msg, "unknown status tag");
    uint32_t off = bw_sigdb_add_string(&db, "xyz", 3);
    CHECK(off != UINT32_MAX);
    CHECK_STR(bw_sigdb_string(&db, off), "xyz");
    CHECK_STR(bw_sigdb_string(&db, 0xFFFFFFF0u), ""); /* out of range: empty, no crash */
    bw_sigdb_free(&db);
}

TEST(ign2_skips_named_signatures_and_counts_them)
{
    fx_t f;
    fx_init(&f);
    CHECK_EQ(load_at(&f, "x.ign2", "ign2", "Bad.Sig\nOther.Sig:" MD5A "\n# c\n"), BW_OK);
    CHECK_EQ(load_at(&f, "x.ign", "ign", "daily.ndb:12:Old.Style\n"), BW_OK);
    CHECK_EQ(f.L.ignored.n, 3);
    const char *text = MD5A ":1:Bad.Sig\n"
                       MD5A ":2:Other.Sig@WARNING\n"
                       MD5A ":3:Old.Style\n"
                       MD5A ":4:Bad.Sig.Longer\n"
                       MD5A ":5:Bad.Si\n";
    CHECK_EQ(load_at(&f, "t.hdb", "hdb", text), BW_OK);
    CHECK_EQ(count_of(&f.L, "ignored (.ign2)"), 3);
    CHECK_EQ(count_of(&f.L, "hdb"), 2);
    CHECK_EQ(f.db.metas.n, 2);
    if (f.db.metas.n == 2) {
        CHECK_STR(meta_name(&f.db, 0), "Bad.Sig.Longer");
        CHECK_STR(meta_name(&f.db, 1), "Bad.Si");
    }
    fx_free(&f);
    expect_error("ign2", "A\n:x\n", "t.ign2:2:", "empty signature name");
    expect_error("ign2", "A:b:c:d\n", "t.ign2:1:", "expected");
}

TEST(unsupported_extensions_are_counted_by_line)
{
    fx_t f;
    fx_init(&f);
    CHECK_EQ(load_at(&f, "t.mdb", "mdb", "1024:" MD5A ":Sec.A\n#c\n2048:" MD5A ":Sec.B\n"), BW_OK);
    CHECK_EQ(count_of(&f.L, "unsupported: mdb (PE section hashes)"), 2);
    CHECK_EQ(load_at(&f, "t.msb", "msb", "1024:" SHA1A ":Sec.A\n"), BW_OK);
    CHECK_EQ(count_of(&f.L, "unsupported: msb (PE section hashes)"), 1);
    CHECK_EQ(load_at(&f, "t.yara", "yara", "rule a { condition: true }\n"), BW_OK);
    CHECK_EQ(count_of(&f.L, "unsupported: yara (YARA rules)"), 1);
    CHECK_EQ(load_at(&f, "t.gdb", "gdb", "x\ny\n"), BW_OK);
    CHECK_EQ(count_of(&f.L, "unsupported: gdb"), 2);
    CHECK_EQ(f.L.signatures, 0);
    CHECK_EQ(load_at(&f, "t.txt", "txt", "x\n"), BW_ERR);
    CHECK_CONTAINS(f.err.msg, "t.txt: unknown database type");
    fx_free(&f);
}

TEST(count_adds_and_creates)
{
    fx_t f;
    fx_init(&f);
    CHECK_EQ(bw_dbload_count(&f.L, "k", 2), BW_OK);
    CHECK_EQ(bw_dbload_count(&f.L, "k", 3), BW_OK);
    CHECK_EQ(bw_dbload_count(&f.L, "j", 1), BW_OK);
    CHECK_EQ(count_of(&f.L, "k"), 5);
    CHECK_EQ(count_of(&f.L, "j"), 1);
    CHECK_EQ(f.L.counts.n, 2);
    fx_free(&f);
}

TEST(long_lines_and_names_load)
{
    fx_t f;
    fx_init(&f);
    size_t n = 200000;
    char *text = malloc(n + 64);
    memcpy(text, MD5A ":1:", 35);
    memset(text + 35, 'N', n);
    strcpy(text + 35 + n, "\n");
    CHECK_EQ(load_at(&f, "t.hdb", "hdb", text), BW_OK);
    CHECK_EQ(f.db.metas.n, 1);
    if (f.db.metas.n == 1)
        CHECK_EQ(strlen(meta_name(&f.db, 0)), n);
    free(text);
    fx_free(&f);
}

TEST(many_hash_lines_load_quickly)
{
    fx_t f;
    fx_init(&f);
    size_t lines = 200000, per = 32 + 1 + 4 + 1 + 16 + 1;
    char *text = malloc(lines * per + 1), *p = text;
    for (size_t i = 0; i < lines; i++)
        p += sprintf(p, "%032zx:%04zu:Sig.%011zu\n", i * 2654435761u, i % 10000, i);
    clock_t t0 = clock();
    CHECK_EQ(bw_db_load_buffer(&f.L, "big.hdb", "hdb", text, (size_t)(p - text), &f.err), BW_OK);
    bw_sigdb_finish(&f.db);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECK_EQ(f.db.hashes[BW_HLIST_DETECT][BW_HASH_MD5].n, lines);
    CHECK(secs < 5.0); /* generous: ASan builds are slow; a regression to O(n^2) is not */
    uint8_t d[32] = {0};
    char hx[33];
    snprintf(hx, sizeof hx, "%032zx", (size_t)777 * 2654435761u);
    hex2bin(hx, d);
    const bw_hashent_t *e = bw_sigdb_find_hash(&f.db, BW_HLIST_DETECT, BW_HASH_MD5, 777, d);
    CHECK(e && !strcmp(meta_name(&f.db, e->meta), "Sig.00000000777"));
    free(text);
    fx_free(&f);
}

/* ---- files and directories ---- */

TEST(collect_sorts_and_skips_unknown_files)
{
    mk_tmpdir("db");
    write_file("b.hdb", MD5A ":68:B\n");
    write_file("a.ndb", "");
    write_file("README", "hello\n");
    write_file("notes.txt", "x\n");
    write_file(".hidden.hdb", MD5A ":68:H\n");
    char sub[128];
    snprintf(sub, sizeof sub, "%s/sub.hdb", tmpdir);
    mkdir(sub, 0700);
    bw_dbfiles_t files = {0};
    bw_err_t e;
    const char *paths[] = {tmpdir};
    CHECK_EQ(bw_db_collect(paths, 1, &files, &e), BW_OK);
    CHECK_EQ(files.n, 2);
    if (files.n == 2) {
        CHECK_CONTAINS(files.v[0].path, "/a.ndb");
        CHECK_STR(files.v[0].ext, "ndb");
        CHECK_CONTAINS(files.v[1].path, "/b.hdb");
        CHECK_STR(files.v[1].ext, "hdb");
    }
    bw_dbfiles_free(&files);

    char f1[128];
    snprintf(f1, sizeof f1, "%s/notes.txt", tmpdir);
    const char *p2[] = {f1};
    CHECK_EQ(bw_db_collect(p2, 1, &files, &e), BW_ERR);
    CHECK_CONTAINS(e.msg, "notes.txt: unknown database type");
    bw_dbfiles_free(&files);

    const char *p3[] = {"/nonexistent/x.hdb"};
    CHECK_EQ(bw_db_collect(p3, 1, &files, &e), BW_ERR);
    CHECK_CONTAINS(e.msg, "/nonexistent/x.hdb: No such file or directory");
    bw_dbfiles_free(&files);

    const char *p4[] = {sub};
    CHECK_EQ(bw_db_collect(p4, 1, &files, &e), BW_ERR);
    CHECK_CONTAINS(e.msg, "no database files in");
    bw_dbfiles_free(&files);
    rm_tmpdir();
}

TEST(load_files_applies_ignore_lists_first)
{
    mk_tmpdir("db");
    write_file("a.hdb", MD5A ":68:Bad.Sig\n" MD5A ":69:Good.Sig\n");
    write_file("z.ign2", "Bad.Sig\n");
    bw_dbfiles_t files = {0};
    fx_t f;
    fx_init(&f);
    const char *paths[] = {tmpdir};
    CHECK_EQ(bw_db_collect(paths, 1, &files, &f.err), BW_OK);
    CHECK_EQ(bw_db_load_files(&f.L, &files, &f.err), BW_OK);
    CHECK_EQ(count_of(&f.L, "ignored (.ign2)"), 1);
    CHECK_EQ(count_of(&f.L, "hdb"), 1);
    CHECK_EQ(count_of(&f.L, "ign2"), 1);
    CHECK_EQ(f.L.signatures, 1);
    fx_free(&f);
    bw_dbfiles_free(&files);

    /* an error in a file names the path and line */
    write_file("b.ndb", "Sig:0:*:41424344\nBroken\n");
    fx_init(&f);
    CHECK_EQ(bw_db_collect(paths, 1, &files, &f.err), BW_OK);
    CHECK_EQ(bw_db_load_files(&f.L, &files, &f.err), BW_ERR);
    CHECK_CONTAINS(f.err.msg, "/b.ndb:2:");
    fx_free(&f);
    bw_dbfiles_free(&files);
    rm_tmpdir();
}

TEST(empty_file_loads_nothing)
{
    mk_tmpdir("db");
    write_file("e.hdb", "");
    bw_dbfiles_t files = {0};
    fx_t f;
    fx_init(&f);
    const char *paths[] = {tmpdir};
    CHECK_EQ(bw_db_collect(paths, 1, &files, &f.err), BW_OK);
    CHECK_EQ(bw_db_load_files(&f.L, &files, &f.err), BW_OK);
    CHECK_EQ(f.L.signatures, 0);
    CHECK_EQ(f.L.counts.n, 0);
    fx_free(&f);
    bw_dbfiles_free(&files);
    rm_tmpdir();
}

TEST(source_hash_follows_content)
{
    mk_tmpdir("db");
    write_file("a.hdb", MD5A ":68:A\n");
    write_file("b.ndb", "Sig:0:*:41424344\n");
    bw_dbfiles_t files = {0};
    bw_err_t e;
    const char *paths[] = {tmpdir};
    uint8_t h1[32], h2[32], h3[32], h4[32];
    CHECK_EQ(bw_db_collect(paths, 1, &files, &e), BW_OK);
    CHECK_EQ(bw_db_hash_sources(&files, h1, &e), BW_OK);
    CHECK_EQ(bw_db_hash_sources(&files, h2, &e), BW_OK);
    CHECK(!memcmp(h1, h2, 32));
    write_file("b.ndb", "Sig:0:*:41424345\n"); /* same size, one byte differs */
    CHECK_EQ(bw_db_hash_sources(&files, h3, &e), BW_OK);
    CHECK(memcmp(h1, h3, 32) != 0);
    bw_dbfiles_free(&files);
    /* renaming a file changes the key too */
    char a[128], c[128];
    snprintf(a, sizeof a, "%s/a.hdb", tmpdir);
    snprintf(c, sizeof c, "%s/c.hdb", tmpdir);
    CHECK_EQ(rename(a, c), 0);
    CHECK_EQ(bw_db_collect(paths, 1, &files, &e), BW_OK);
    CHECK_EQ(bw_db_hash_sources(&files, h4, &e), BW_OK);
    CHECK(memcmp(h3, h4, 32) != 0);
    bw_dbfiles_free(&files);
    rm_tmpdir();
}

TEST(committed_fixture_directory_loads)
{
    bw_dbfiles_t files = {0};
    fx_t f;
    fx_init(&f);
    const char *paths[] = {"data/db/basic"};
    CHECK_EQ(bw_db_collect(paths, 1, &files, &f.err), BW_OK);
    int rc = bw_db_load_files(&f.L, &files, &f.err);
    if (rc)
        fprintf(stderr, "  %s\n", f.err.msg);
    CHECK_EQ(rc, BW_OK);
    CHECK_EQ(count_of(&f.L, "hdb"), 2);
    CHECK_EQ(count_of(&f.L, "hsb"), 2);
    CHECK_EQ(count_of(&f.L, "fp"), 1);
    CHECK_EQ(count_of(&f.L, "ndb"), 2);
    CHECK_EQ(count_of(&f.L, "ignored (.ign2)"), 1);
    CHECK_EQ(count_of(&f.L, "unsupported: ndb target 3 (HTML)"), 1);
    CHECK_EQ(count_of(&f.L, "unsupported: ndb offset EP+n"), 1);
    CHECK_EQ(count_of(&f.L, "unsupported: mdb (PE section hashes)"), 1);
    fx_free(&f);
    bw_dbfiles_free(&files);
}

int main(void) { return t_run(); }
