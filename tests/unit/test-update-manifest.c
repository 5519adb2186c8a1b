/* SPDX-License-Identifier: Apache-2.0 */
/* The update manifest parser and writer (src/update/manifest.c): a valid
 * manifest and its round trip, then every kind of malformed input, each
 * refused with its line; every input ends against a guard page, and every
 * truncation of a valid manifest is refused. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/bulwark.h"
#include "guard.h"
#include "t.h"
#include "update/manifest.h"

#define H64A "5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592"
#define H64B "0F1E2D3C4B5A69788796A5B4C3D2E1F00F1E2D3C4B5A69788796A5B4C3D2E1F0"

static const char good[] =
    "bulwark-manifest 1\n"
    "# a comment\n"
    "version 42\n"
    "created 2025-11-23T10:00:00Z by the  publisher\n"
    "\n"
    "file local.ndb 117 " H64B "\n"
    "file daily.cvd 293670 " H64A "\n"
    "end 2\n";

static int parse(const char *text, size_t len, bw_manifest_t *m, bw_err_t *err)
{
    memset(err, 0, sizeof *err);
    return bw_manifest_parse(guard(text, len), len, m, err);
}

TEST(valid_manifest_parses)
{
    bw_manifest_t m;
    bw_err_t err;
    CHECK_EQ(parse(good, strlen(good), &m, &err), BW_OK);
    CHECK_EQ(m.version, 42);
    CHECK_STR(m.created, "2025-11-23T10:00:00Z by the  publisher");
    CHECK_EQ(m.nfiles, 2);
    /* sorted by name */
    CHECK_STR(m.files[0].name, "daily.cvd");
    CHECK_EQ(m.files[0].size, 293670);
    CHECK_EQ(m.files[0].sha256[0], 0x5d);
    CHECK_EQ(m.files[0].sha256[31], 0x92);
    CHECK_STR(m.files[1].name, "local.ndb");
    CHECK_EQ(m.files[1].sha256[0], 0x0f);
    CHECK(bw_manifest_find(&m, "local.ndb") == &m.files[1]);
    CHECK(bw_manifest_find(&m, "main.cvd") == NULL);
    CHECK_EQ(bw_manifest_total(&m), 293670 + 117);
    bw_manifest_free(&m);
    CHECK(m.files == NULL && m.nfiles == 0);
}

TEST(format_then_parse_round_trips)
{
    bw_manifest_t m, again;
    bw_err_t err;
    CHECK_EQ(parse(good, strlen(good), &m, &err), BW_OK);
    bw_buf_t out = {0};
    CHECK_EQ(bw_manifest_format(&m, &out, &err), BW_OK);
    CHECK_EQ(parse(out.p, out.len, &again, &err), BW_OK);
    CHECK_EQ(again.version, m.version);
    CHECK_STR(again.created, m.created);
    CHECK_EQ(again.nfiles, m.nfiles);
    /* lines differ (the formatted text has no comment or blank line) */
    CHECK_EQ(m.files[0].line, 7);  /* daily.cvd */
    CHECK_EQ(m.files[1].line, 6);  /* local.ndb */
    for (size_t i = 0; i < m.nfiles; i++)
        m.files[i].line = again.files[i].line = 0;
    CHECK(!memcmp(again.files, m.files, m.nfiles * sizeof *m.files));
    /* and formatting is deterministic: the same text a second time */
    bw_buf_t out2 = {0};
    CHECK_EQ(bw_manifest_format(&again, &out2, &err), BW_OK);
    CHECK(out.len == out2.len && !memcmp(out.p, out2.p, out.len));
    CHECK(memmem(out.p, out.len, "end 2\n", 6) != NULL);
    bw_buf_free(&out);
    bw_buf_free(&out2);
    bw_manifest_free(&m);
    bw_manifest_free(&again);
}

TEST(format_refuses_what_parse_would)
{
    bw_manifest_file_t f = {.name = "../etc/passwd", .size = 1};
    bw_manifest_t m = {.version = 1, .nfiles = 1, .files = &f};
    bw_buf_t out = {0};
    bw_err_t err;
    CHECK_EQ(bw_manifest_format(&m, &out, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "cannot be named");
    m.nfiles = 0;
    m.version = 0;
    CHECK_EQ(bw_manifest_format(&m, &out, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "out of range");
    bw_buf_free(&out);
}

/* One malformed manifest: refused, the message holds `want`. */
static void refused(const char *text, const char *want)
{
    bw_manifest_t m;
    bw_err_t err;
    int rc = parse(text, strlen(text), &m, &err);
    if (rc != BW_ERR || !strstr(err.msg, want)) {
        fprintf(stderr, "  input: %s\n  rc %d, message \"%s\", expected \"%s\"\n", text, rc,
                err.msg, want);
        t_failed_now = 1;
    }
    if (rc == BW_OK)
        bw_manifest_free(&m);
    else
        CHECK(m.files == NULL);
}

#define HDR "bulwark-manifest 1\n"
#define FILE_A "file a.ndb 1 " H64A "\n"

TEST(malformed_manifests_are_refused_with_their_line)
{
    refused("", "line 1: empty manifest");
    refused("bulwark-manifest 2\nversion 1\nend 0\n", "line 1: not a bulwark manifest");
    refused("BULWARK-MANIFEST 1\n", "line 1: not a bulwark manifest");
    refused(HDR "version 1\n" FILE_A, "line 3: no \"end N\" line");
    refused(HDR "version 1\n" FILE_A "end 1", "line 4: no line end");
    refused(HDR "version 1\n" FILE_A "end 2\n", "line 4: \"end 2\" but 1 file lines");
    refused(HDR "version 1\nend 0\nversion 2\n", "line 4: text after the \"end\" line");
    refused(HDR FILE_A "end 1\n", "line 3: no \"version\" line");
    refused(HDR "version 0\nend 0\n", "line 2: expected \"version N\"");
    refused(HDR "version 01\nend 0\n", "line 2: expected \"version N\"");
    refused(HDR "version 9223372036854775808\nend 0\n", "line 2: expected \"version N\"");
    refused(HDR "version 1\nversion 2\nend 0\n", "line 3: a second \"version\" line");
    refused(HDR "version 1 2\nend 0\n", "line 2: expected \"version N\"");
    refused(HDR "version 1\r\nend 0\n", "line 2: byte 10 is not printable");
    refused(HDR "version 1\nend 0\n\n", "line 4: text after the \"end\" line");
    refused(HDR "version  1\nend 0\n", "line 2: fields must be separated by single spaces");
    refused(HDR "version 1 \nend 0\n", "line 2: fields must be separated by single spaces");
    refused(HDR "frobnicate 1\n", "line 2: unknown keyword 'frobnicate'");
    refused(HDR "created a\ncreated b\nversion 1\nend 0\n", "line 3: a second \"created\"");
    refused(HDR "version 1\nfile a.ndb 1\nend 1\n", "line 3: expected \"file NAME SIZE SHA256\"");
    refused(HDR "version 1\nfile ../x 1 " H64A "\nend 1\n", "line 3: bad file name '../x'");
    refused(HDR "version 1\nfile .hidden 1 " H64A "\nend 1\n", "line 3: bad file name");
    refused(HDR "version 1\nfile a/b 1 " H64A "\nend 1\n", "line 3: bad file name");
    refused(HDR "version 1\nfile bulwark.manifest 1 " H64A "\nend 1\n", "line 3: bad file name");
    refused(HDR "version 1\nfile bulwark.manifest.sig 1 " H64A "\nend 1\n", "bad file name");
    refused(HDR "version 1\nfile a.ndb -1 " H64A "\nend 1\n", "line 3: a.ndb: bad size '-1'");
    refused(HDR "version 1\nfile a.ndb 01 " H64A "\nend 1\n", "line 3: a.ndb: bad size");
    refused(HDR "version 1\nfile a.ndb 99999999999999999999 " H64A "\nend 1\n", "bad size");
    refused(HDR "version 1\nfile a.ndb 1099511627777 " H64A "\nend 1\n", "bad size");
    refused(HDR "version 1\nfile a.ndb 1 abc\nend 1\n", "line 3: a.ndb: the SHA-256 must be 64");
    refused(HDR "version 1\nfile a.ndb 1 g"
            "d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592\nend 1\n",
            "line 3: a.ndb: the SHA-256 is not hex (byte 0)");
    refused(HDR "version 1\n" FILE_A FILE_A "end 2\n",
            "line 4: file a.ndb is listed twice (first at line 3)");
    /* the line of the first repetition, whichever name sorts first and
     * however qsort orders equal names */
    refused(HDR "version 1\n" "file b.ndb 1 " H64A "\n" FILE_A "# again\n"
            "file b.ndb 2 " H64A "\n" FILE_A "file b.ndb 3 " H64A "\nend 5\n",
            "line 6: file b.ndb is listed twice (first at line 3)");
    refused(HDR "version 1\n" FILE_A "file b.ndb 1 " H64A "\n" "file b.ndb 1 " H64A "\n"
            FILE_A "end 4\n", "line 5: file b.ndb is listed twice (first at line 4)");
    refused(HDR "version 1\nfile a.ndb 1 " H64A " extra\nend 1\n", "line 3: expected \"file");
    refused(HDR "version 1\nend\n", "line 3: expected \"end N\"");
    refused(HDR "version 1\nend x\n", "line 3: expected \"end N\"");
    refused(HDR "version 1\nvers\xc3\xa9 1\n", "line 3: byte 5 is not printable");
}

TEST(long_names_and_texts_are_bounded)
{
    char name[200], text[512];
    memset(name, 'a', sizeof name);
    name[129] = '\0';
    snprintf(text, sizeof text, HDR "version 1\nfile %s 1 %s\nend 1\n", name, H64A);
    refused(text, "line 3: bad file name");
    name[128] = '\0'; /* exactly the limit */
    snprintf(text, sizeof text, HDR "version 1\nfile %s 1 %s\nend 1\n", name, H64A);
    bw_manifest_t m;
    bw_err_t err;
    CHECK_EQ(parse(text, strlen(text), &m, &err), BW_OK);
    bw_manifest_free(&m);
    memset(name, 'c', sizeof name);
    name[65] = '\0';
    snprintf(text, sizeof text, HDR "created %s\nversion 1\nend 0\n", name);
    refused(text, "line 2: the \"created\" text is longer than 64 bytes");
}

TEST(too_many_files_are_refused)
{
    size_t n = BW_MANIFEST_MAX_FILES + 1, cap = n * 100 + 64, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text + len, cap - len, HDR "version 1\n");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "file f%zu.ndb 1 %s\n", i, H64A);
    len += (size_t)snprintf(text + len, cap - len, "end %zu\n", n);
    bw_manifest_t m;
    bw_err_t err;
    CHECK_EQ(parse(text, len, &m, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "more than 10000 files");
    free(text);
}

TEST(every_truncation_of_a_valid_manifest_is_refused)
{
    size_t len = strlen(good);
    int accepted = 0;
    for (size_t cut = 0; cut < len; cut++) {
        bw_manifest_t m;
        bw_err_t err;
        if (parse(good, cut, &m, &err) == BW_OK) {
            fprintf(stderr, "  accepted the first %zu of %zu bytes\n", cut, len);
            accepted++;
            bw_manifest_free(&m);
        }
    }
    CHECK_EQ(accepted, 0);
}

TEST(name_rule_is_exported_unchanged)
{
    CHECK(bw_manifest_name_ok("daily.cvd"));
    CHECK(bw_manifest_name_ok("a+b_c-d.ldb"));
    CHECK(!bw_manifest_name_ok(""));
    CHECK(!bw_manifest_name_ok("-x.ndb"));
    CHECK(!bw_manifest_name_ok("x y.ndb"));
    CHECK(!bw_manifest_name_ok("bulwark.manifest"));
    CHECK(!bw_manifest_name_ok(NULL));
}

int main(void)
{
    int rc = t_run();
    guard_free();
    return rc;
}
