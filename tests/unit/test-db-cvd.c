/* SPDX-License-Identifier: Apache-2.0 */
/* .cvd/.cld loading.  The containers are generated here: a 512-byte header
 * and a tar (gzip-compressed or plain) written with libarchive. */
#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <unistd.h>

#include "db-test-util.h"
#include "engine/db-load.h"
#include "t.h"

#define MD5A "44d88612fea8a8f36de82e1278abb02f"

typedef struct member {
    const char *name, *text;
} member_t;

/* Builds header + archive into a malloc'd buffer.  md5 NULL: computed. */
static char *make_db(const member_t *m, int gzip, unsigned version, const char *md5,
                     size_t *outlen)
{
    size_t cap = 1 << 20, used = 0;
    char *arch = malloc(cap);
    struct archive *a = archive_write_new();
    if (gzip)
        archive_write_add_filter_gzip(a);
    archive_write_set_format_ustar(a);
    archive_write_open_memory(a, arch, cap, &used);
    for (; m->name; m++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, m->name);
        archive_entry_set_size(e, (la_int64_t)strlen(m->text));
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_write_header(a, e);
        archive_write_data(a, m->text, strlen(m->text));
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);

    char hex[33];
    if (!md5) {
        uint8_t d[16];
        unsigned int dl;
        EVP_Digest(arch, used, d, &dl, EVP_md5(), NULL);
        for (int i = 0; i < 16; i++)
            snprintf(hex + 2 * i, 3, "%02x", d[i]);
        md5 = hex;
    }
    char *out = malloc(512 + used);
    memset(out, ' ', 512);
    int n = snprintf(out, 512, "ClamAV-VDB:23 Nov 2025 10-00 +0000:%u:42:90:%s:FAKEDSIG:bulwark-test:1763892000",
                     version, md5);
    out[n] = ' '; /* snprintf's NUL back to padding */
    memcpy(out + 512, arch, used);
    free(arch);
    *outlen = 512 + used;
    return out;
}

/* Loading buf[0..len) as the file `where` fails, naming `want`. */
static void expect_buf_error(const char *where, const char *ext, const char *buf, size_t len,
                             const char *want)
{
    fx_t f;
    fx_init(&f);
    CHECK_EQ(bw_db_load_buffer(&f.L, where, ext, buf, len, &f.err), BW_ERR);
    CHECK_CONTAINS(f.err.msg, want);
    fx_free(&f);
}

static const member_t good[] = {
    {"COPYING", "license text\n"},
    {"test.info", "test.hdb:123:abc\n"},
    /* the hdb comes before the ign2 that names one of its signatures */
    {"test.hdb", MD5A ":68:Cvd.Hash\n" MD5A ":69:Cvd.Ignored\n"},
    {"test.ign2", "Cvd.Ignored\nOutside.Ignored\n"},
    {"test.ndb", "Cvd.Body:0:*:41424344\n"},
    {"test.ldb", "Cvd.Logic;Engine:51-255,Target:0;0&1;41414141;42424242\n"},
    {"test.cfg", "DOCUMENT:0x0:13:17\nPDF:0x0:13:17\n"},
    {"test.ftm", "0:0:cafebabe:Java:CL_TYPE_ANY:CL_TYPE_JAVA\n"},
    {"test.zzz", "whatever\n"},
    {NULL, NULL},
};

static void check_good(fx_t *f)
{
    CHECK_EQ(count_of(&f->L, "hdb"), 1);
    CHECK_EQ(count_of(&f->L, "ndb"), 1);
    CHECK_EQ(count_of(&f->L, "ldb"), 1);
    CHECK_EQ(count_of(&f->L, "ign2"), 2);
    CHECK_EQ(count_of(&f->L, "ignored (.ign2)"), 1);
    CHECK_EQ(count_of(&f->L, "unsupported: cfg (engine configuration)"), 2);
    CHECK_EQ(count_of(&f->L, "unsupported: ftm (file type magic)"), 1);
    CHECK_EQ(count_of(&f->L, "unsupported: cvd member .zzz"), 1);
    CHECK_EQ(count_of(&f->L, "unsupported: info (database manifest)"), 0);
    CHECK_EQ(f->L.signatures, 3);
    CHECK_EQ(f->L.version, 27000);
    CHECK_STR(f->L.build_time, "23 Nov 2025 10:00 +0000");
}

TEST(cvd_loads_members_through_the_right_loaders)
{
    size_t len;
    char *cvd = make_db(good, 1, 27000, NULL, &len);
    fx_t f;
    fx_init(&f);
    int rc = bw_db_load_buffer(&f.L, "daily.cvd", "cvd", cvd, len, &f.err);
    if (rc)
        fprintf(stderr, "  %s\n", f.err.msg);
    CHECK_EQ(rc, BW_OK);
    check_good(&f);
    fx_free(&f);
    free(cvd);
}

TEST(cvd_ignore_list_applies_to_other_files_and_versions_take_the_max)
{
    mk_tmpdir("cvd");
    size_t len, len2;
    char *cvd = make_db(good, 1, 27000, NULL, &len);
    static const member_t older[] = {{"main.hdb", MD5A ":70:Main.Hash\n"}, {NULL, NULL}};
    char *cld = make_db(older, 0, 62, "ffffffffffffffffffffffffffffffff", &len2);
    write_bytes("daily.cvd", cvd, len);
    write_bytes("main.cld", cld, len2);
    /* sorts before daily.cvd, yet daily.cvd's ign2 must apply to it */
    const char *a = MD5A ":71:Outside.Ignored\n";
    write_bytes("a.hdb", a, strlen(a));
    free(cvd);
    free(cld);

    bw_dbfiles_t files = {0};
    fx_t f;
    fx_init(&f);
    const char *paths[] = {tmpdir};
    CHECK_EQ(bw_db_collect(paths, 1, &files, &f.err), BW_OK);
    CHECK_EQ(files.n, 3);
    int rc = bw_db_load_files(&f.L, &files, &f.err);
    if (rc)
        fprintf(stderr, "  %s\n", f.err.msg);
    CHECK_EQ(rc, BW_OK);
    CHECK_EQ(count_of(&f.L, "ignored (.ign2)"), 2);
    CHECK_EQ(count_of(&f.L, "hdb"), 2); /* Cvd.Hash, Main.Hash */
    CHECK_EQ(count_of(&f.L, "ign2"), 2); /* loaded once, not once per pass */
    CHECK_EQ(f.L.version, 27000);
    CHECK_STR(f.L.build_time, "23 Nov 2025 10:00 +0000");
    fx_free(&f);
    bw_dbfiles_free(&files);
    rm_tmpdir();
}

TEST(only_the_newer_of_cvd_and_cld_is_collected)
{
    static const member_t m[] = {{"daily.ndb", "Twin.Body:0:*:41424344\n"}, {NULL, NULL}};
    for (int newer_cld = 0; newer_cld < 2; newer_cld++) {
        mk_tmpdir("cvd");
        size_t l1, l2;
        char *cvd = make_db(m, 1, newer_cld ? 10 : 12, NULL, &l1);
        char *cld = make_db(m, 0, newer_cld ? 12 : 10, "00000000000000000000000000000000", &l2);
        write_bytes("daily.cvd", cvd, l1);
        write_bytes("daily.cld", cld, l2);
        write_bytes("main.cvd", cvd, l1);
        free(cvd);
        free(cld);
        bw_dbfiles_t files = {0};
        fx_t f;
        fx_init(&f);
        const char *paths[] = {tmpdir};
        CHECK_EQ(bw_db_collect(paths, 1, &files, &f.err), BW_OK);
        CHECK_EQ(files.n, 2);
        if (files.n == 2) {
            CHECK_STR(files.v[0].ext, newer_cld ? "cld" : "cvd");
            CHECK_CONTAINS(files.v[1].path, "/main.cvd");
        }
        CHECK_EQ(bw_db_load_files(&f.L, &files, &f.err), BW_OK);
        CHECK_EQ(count_of(&f.L, "ndb"), 2); /* daily (one of the twins) + main */
        CHECK_EQ(f.L.version, 12);
        fx_free(&f);
        bw_dbfiles_free(&files);
        rm_tmpdir();
    }
}

TEST(cld_plain_and_gzip_load_without_md5_check)
{
    static const member_t m[] = {{"x.ndb", "Cld.Body:0:*:41424344\n"}, {NULL, NULL}};
    for (int gz = 0; gz < 2; gz++) {
        size_t len;
        char *cld = make_db(m, gz, 5, "00000000000000000000000000000000", &len);
        fx_t f;
        fx_init(&f);
        CHECK_EQ(bw_db_load_buffer(&f.L, "daily.cld", "cld", cld, len, &f.err), BW_OK);
        CHECK_EQ(count_of(&f.L, "ndb"), 1);
        CHECK_EQ(f.L.version, 5);
        fx_free(&f);
        free(cld);
    }
}

TEST(cvd_with_bad_md5_fails)
{
    size_t len;
    char *cvd = make_db(good, 1, 1, "0123456789abcdef0123456789abcdef", &len);
    fx_t f;
    fx_init(&f);
    CHECK_EQ(bw_db_load_buffer(&f.L, "daily.cvd", "cvd", cvd, len, &f.err), BW_ERR);
    CHECK_CONTAINS(f.err.msg, "daily.cvd: MD5 mismatch");
    CHECK_EQ(f.db.metas.n, 0);
    fx_free(&f);
    /* one flipped byte after the header */
    free(cvd);
    cvd = make_db(good, 1, 1, NULL, &len);
    cvd[len - 5] ^= 0x40;
    expect_buf_error("daily.cvd", "cvd", cvd, len, "MD5 mismatch");
    free(cvd);
}

TEST(truncated_cvd_fails)
{
    size_t len;
    char *cvd = make_db(good, 1, 1, NULL, &len);
    fx_t f;
    /* header cut */
    expect_buf_error("daily.cvd", "cvd", cvd, 100, "daily.cvd: truncated header");
    /* archive cut: with a stale MD5 the checksum catches it */
    expect_buf_error("daily.cvd", "cvd", cvd, len - 40, "MD5 mismatch");
    free(cvd);
    /* a .cld has no usable MD5: the archive reader must catch it */
    static const member_t big[] = {{"x.hdb", MD5A ":1:A\n" MD5A ":2:B\n" MD5A ":3:C\n"},
                                   {"y.ndb", "Y:0:*:41424344\n"}, {NULL, NULL}};
    char *cld = make_db(big, 1, 1, "00000000000000000000000000000000", &len);
    for (size_t cut = 512; cut < len; cut += 7) {
        fx_init(&f);
        int rc = bw_db_load_buffer(&f.L, "daily.cld", "cld", cld, cut, &f.err);
        CHECK_EQ(rc, BW_ERR);
        if (rc == BW_ERR)
            CHECK_CONTAINS(f.err.msg, "daily.cld");
        fx_free(&f);
    }
    expect_buf_error("daily.cld", "cld", cld, 512, "truncated");
    free(cld);
    /* plain tar cut in a member's data */
    cld = make_db(big, 0, 1, "00000000000000000000000000000000", &len);
    fx_init(&f);
    CHECK_EQ(bw_db_load_buffer(&f.L, "daily.cld", "cld", cld, 512 + 512 + 10, &f.err), BW_ERR);
    CHECK_CONTAINS(f.err.msg, "daily.cld");
    CHECK_CONTAINS(f.err.msg, "truncated");
    fx_free(&f);
    free(cld);
}

TEST(bad_headers_fail)
{
    static const struct {
        const char *where, *ext, *head, *want;
    } cases[] = {
        {"x.cvd", "cvd", "NotClamAV:1:2:3", "x.cvd: not a ClamAV database"},
        {"x.cld", "cld", "ClamAV-VDB:t:1:3", "x.cld: header has"},
        {"x.cld", "cld", "ClamAV-VDB:t:x:3:4:5:6:7", "bad version"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[600];
        memset(buf, ' ', sizeof buf);
        memcpy(buf, cases[i].head, strlen(cases[i].head));
        expect_buf_error(cases[i].where, cases[i].ext, buf, sizeof buf, cases[i].want);
    }
}

TEST(errors_inside_members_name_the_member_and_line)
{
    static const member_t bad[] = {{"daily.ndb", "Ok:0:*:41424344\nBroken:0:*\n"}, {NULL, NULL}};
    size_t len;
    char *cvd = make_db(bad, 1, 1, NULL, &len);
    expect_buf_error("daily.cvd", "cvd", cvd, len, "daily.cvd:daily.ndb:2:");
    free(cvd);
}

TEST(nested_cvd_is_counted_not_opened)
{
    /* a member named .cvd is counted, never recursed into */
    size_t len;
    static const member_t outer[] = {{"inner.cvd", "ClamAV-VDB:nested"}, {NULL, NULL}};
    char *cvd = make_db(outer, 1, 1, NULL, &len);
    fx_t f;
    fx_init(&f);
    CHECK_EQ(bw_db_load_buffer(&f.L, "daily.cvd", "cvd", cvd, len, &f.err), BW_OK);
    CHECK_EQ(count_of(&f.L, "unsupported: cvd inside a cvd"), 1);
    CHECK_EQ(f.db.metas.n, 0);
    fx_free(&f);
    free(cvd);
}

int main(void) { return t_run(); }
