/* SPDX-License-Identifier: Apache-2.0 */
/* File-type detection: every magic, the strong/weak split, the near misses
 * that must stay UNKNOWN, and the member-name sanitiser the unpacker uses. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "engine/ftype.h"
#include "engine/unpack-name.h"
#include "t.h"

static uint8_t buf[40000];

static bw_ftype_t det(const void *magic, size_t mlen, size_t off, size_t total, int *strong)
{
    memset(buf, 0, sizeof buf);
    memcpy(buf + off, magic, mlen);
    return bw_ftype_detect_ex(buf, total, strong);
}

#define DET(m, off, total) det(m, sizeof(m) - 1, off, total, &strong)

TEST(offset0_magics_are_strong)
{
    int strong = -1;
    CHECK_EQ(DET("\x7f" "ELF\2\1\1", 0, 64), BW_FT_ELF);
    CHECK_EQ(strong, 1);
    CHECK_EQ(DET("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 0, 512), BW_FT_OLE2);
    CHECK_EQ(DET("PK\3\4\x14\0", 0, 100), BW_FT_ZIP);
    CHECK_EQ(DET("PK\5\6", 0, 22), BW_FT_ZIP);
    CHECK_EQ(DET("PK\7\x08PK\3\4", 0, 100), BW_FT_ZIP);
    CHECK_EQ(DET("7z\xbc\xaf\x27\x1c\0\4", 0, 100), BW_FT_7Z);
    CHECK_EQ(DET("Rar!\x1a\x07\x00", 0, 100), BW_FT_RAR);
    CHECK_EQ(DET("Rar!\x1a\x07\x01\x00", 0, 100), BW_FT_RAR);
    CHECK_EQ(DET("MSCF\0\0\0\0", 0, 100), BW_FT_CAB);
    CHECK_EQ(DET("070701", 0, 200), BW_FT_CPIO);
    CHECK_EQ(DET("070702", 0, 200), BW_FT_CPIO);
    CHECK_EQ(DET("070707", 0, 200), BW_FT_CPIO);
    CHECK_EQ(strong, 1);
    CHECK_EQ(DET("!<arch>\n", 0, 100), BW_FT_AR);
    CHECK_EQ(DET("xar!\0\x1c\0\1", 0, 100), BW_FT_XAR);
    CHECK_EQ(DET("\x1f\x8b\x08\0", 0, 30), BW_FT_GZIP);
    CHECK_EQ(DET("BZh91AY&SY", 0, 40), BW_FT_BZIP2);
    CHECK_EQ(DET("\xfd" "7zXZ\0\0\4", 0, 40), BW_FT_XZ);
    CHECK_EQ(DET("\x28\xb5\x2f\xfd", 0, 40), BW_FT_ZSTD);
    CHECK_EQ(strong, 1);
}

TEST(deep_magics)
{
    int strong = -1;
    CHECK_EQ(DET("ustar\0" "00", 257, 1024), BW_FT_TAR);
    CHECK_EQ(strong, 1);
    CHECK_EQ(DET("ustar  \0", 257, 1024), BW_FT_TAR); /* GNU */
    CHECK_EQ(DET("CD001", 32769, 36864), BW_FT_ISO9660);
    CHECK_EQ(strong, 1);
    /* the same bytes, cut short before the magic, are not detected */
    CHECK_EQ(DET("CD001", 32769, 32770), BW_FT_UNKNOWN);
    CHECK_EQ(DET("%PDF-1.4", 0, 100), BW_FT_PDF);
    CHECK_EQ(DET("%PDF-1.4", 1000, 1100), BW_FT_PDF);
    CHECK_EQ(DET("%PDF-1.4", 1020, 1100), BW_FT_UNKNOWN); /* not within the first 1024 */
}

TEST(pe_needs_pe_header)
{
    int strong = -1;
    memset(buf, 0, sizeof buf);
    memcpy(buf, "MZ", 2);
    buf[0x3c] = 0x80;
    memcpy(buf + 0x80, "PE\0\0", 4);
    CHECK_EQ(bw_ftype_detect_ex(buf, 0x200, &strong), BW_FT_PE);
    CHECK_EQ(strong, 1);
    /* e_lfanew beyond the bytes we have: cannot confirm */
    CHECK_EQ(bw_ftype_detect(buf, 0x82), BW_FT_UNKNOWN);
    buf[0x80] = 'X';
    CHECK_EQ(bw_ftype_detect(buf, 0x200), BW_FT_UNKNOWN);
    /* e_lfanew pointing far away (no wraparound reads) */
    memcpy(buf + 0x3c, "\xff\xff\xff\xff", 4);
    CHECK_EQ(bw_ftype_detect(buf, 0x200), BW_FT_UNKNOWN);
}

TEST(macho_all_magics_and_java_class)
{
    int strong = -1;
    CHECK_EQ(DET("\xfe\xed\xfa\xce", 0, 64), BW_FT_MACHO);
    CHECK_EQ(DET("\xfe\xed\xfa\xcf", 0, 64), BW_FT_MACHO);
    CHECK_EQ(DET("\xce\xfa\xed\xfe", 0, 64), BW_FT_MACHO);
    CHECK_EQ(DET("\xcf\xfa\xed\xfe", 0, 64), BW_FT_MACHO);
    CHECK_EQ(DET("\xca\xfe\xba\xbe\0\0\0\2", 0, 64), BW_FT_MACHO);  /* fat, 2 archs */
    CHECK_EQ(DET("\xca\xfe\xba\xbf\0\0\0\1", 0, 64), BW_FT_MACHO);  /* fat64 */
    CHECK_EQ(DET("\xca\xfe\xba\xbe\0\0\0\x34", 0, 64), BW_FT_UNKNOWN); /* Java 8 class */
}

TEST(weak_magics)
{
    int strong = -1;
    CHECK_EQ(DET("\xc7\x71", 0, 100), BW_FT_CPIO);
    CHECK_EQ(strong, 0);
    CHECK_EQ(DET("\x71\xc7", 0, 100), BW_FT_CPIO);
    CHECK_EQ(strong, 0);
    CHECK_EQ(DET("\x5d\0\0\x80\0\xff\xff\xff\xff\xff\xff\xff\xff", 0, 100), BW_FT_LZMA);
    CHECK_EQ(strong, 0);
    CHECK_EQ(DET("\x5d\0\0\x80\0\x10\0\0\0\0\0\0\0", 0, 100), BW_FT_LZMA);
    /* absurd uncompressed size or dictionary: not lzma */
    CHECK_EQ(DET("\x5d\0\0\x80\0\x10\0\0\0\0\0\x10\0", 0, 100), BW_FT_UNKNOWN);
    CHECK_EQ(DET("\x5d\0\0\x81\0\xff\xff\xff\xff\xff\xff\xff\xff", 0, 100), BW_FT_UNKNOWN);
    CHECK_EQ(DET("\x20\x5f-lh5-", 0, 100), BW_FT_LHA);
    CHECK_EQ(strong, 0);
    CHECK_EQ(DET("\x20\x5f-lz5-", 0, 100), BW_FT_LHA);
    CHECK_EQ(DET("\x20\x5f-lhx-", 0, 100), BW_FT_UNKNOWN);
}

TEST(v7_tar_by_checksum)
{
    memset(buf, 0, sizeof buf);
    strcpy((char *)buf, "hello.txt");
    memcpy(buf + 100, "0000644", 7);
    memcpy(buf + 124, "00000000005", 11);
    unsigned sum = 0;
    memset(buf + 148, ' ', 8);
    for (int i = 0; i < 512; i++)
        sum += buf[i];
    snprintf((char *)buf + 148, 8, "%06o", sum);
    int strong = -1;
    CHECK_EQ(bw_ftype_detect_ex(buf, 1024, &strong), BW_FT_TAR);
    CHECK_EQ(strong, 0);
    buf[0] = 'j'; /* checksum no longer matches */
    CHECK_EQ(bw_ftype_detect(buf, 1024), BW_FT_UNKNOWN);
}

TEST(near_misses_and_short_input)
{
    int strong = -1;
    CHECK_EQ(bw_ftype_detect(NULL, 0), BW_FT_UNKNOWN);
    CHECK_EQ(bw_ftype_detect((const uint8_t *)"P", 1), BW_FT_UNKNOWN);
    CHECK_EQ(DET("BZh0", 0, 40), BW_FT_UNKNOWN);
    CHECK_EQ(DET("BZh9garbage!", 0, 40), BW_FT_UNKNOWN);
    CHECK_EQ(DET("MSCF\1\0\0\0", 0, 40), BW_FT_UNKNOWN);
    CHECK_EQ(DET("\x1f\x8b\x07", 0, 40), BW_FT_UNKNOWN);
    CHECK_EQ(DET("Rar!\x1a\x07\x02", 0, 40), BW_FT_UNKNOWN);
    CHECK_EQ(DET("hello world", 0, 11), BW_FT_UNKNOWN);
    CHECK_EQ(strong, 0);
    /* every prefix of a real header is handled without reading past len */
    static const uint8_t z[] = "7z\xbc\xaf\x27\x1c";
    for (size_t i = 0; i < 6; i++)
        CHECK_EQ(bw_ftype_detect(z, i), BW_FT_UNKNOWN);
}

TEST(container_predicates)
{
    CHECK(!bw_ftype_is_container(BW_FT_UNKNOWN));
    CHECK(!bw_ftype_is_container(BW_FT_PE));
    CHECK(!bw_ftype_is_container(BW_FT_PDF));
    CHECK(bw_ftype_is_container(BW_FT_ZIP));
    CHECK(bw_ftype_is_container(BW_FT_XAR));
    CHECK(bw_ftype_is_container(BW_FT_ZSTD));
    CHECK(!bw_ftype_is_container(BW_FT_COUNT));
    CHECK(bw_ftype_is_compression(BW_FT_GZIP));
    CHECK(!bw_ftype_is_compression(BW_FT_TAR));
    CHECK_STR(bw_ftype_name(BW_FT_ISO9660), "iso9660");
    CHECK_STR(bw_ftype_name((bw_ftype_t)999), "unknown");
    for (int t = 0; t < BW_FT_COUNT; t++)
        CHECK(bw_ftype_name((bw_ftype_t)t)[0] != 0);
}

static bw_ftype_t file_type(const char *path)
{
    static uint8_t h[BW_FTYPE_HEAD];
    FILE *f = fopen(path, "rb");
    if (!f)
        return BW_FT_COUNT;
    size_t n = fread(h, 1, sizeof h, f);
    fclose(f);
    return bw_ftype_detect(h, n);
}

/* Real files from Debian's clamav-testfiles, when installed. */
TEST(clamav_testfiles)
{
    const char *d = "/usr/share/clamav-testfiles";
    char p[256];
    struct { const char *f; bw_ftype_t t; } cases[] = {
        {"clam.exe", BW_FT_PE},         {"clam.zip", BW_FT_ZIP},
        {"clam.7z", BW_FT_7Z},          {"clam.cab", BW_FT_CAB},
        {"clam.tar.gz", BW_FT_GZIP},    {"clam.exe.bz2", BW_FT_BZIP2},
        {"clam.newc.cpio", BW_FT_CPIO}, {"clam.odc.cpio", BW_FT_CPIO},
        {"clam.bin-le.cpio", BW_FT_CPIO}, {"clam.bin-be.cpio", BW_FT_CPIO},
        {"clam.pdf", BW_FT_PDF},        {"clam.ole.doc", BW_FT_OLE2},
    };
    snprintf(p, sizeof p, "%s/clam.exe", d);
    if (file_type(p) == BW_FT_COUNT) {
        fprintf(stderr, "  (skipped: %s not installed)\n", d);
        return;
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", d, cases[i].f);
        bw_ftype_t t = file_type(p);
        if (t != cases[i].t)
            fprintf(stderr, "  %s: %s\n", cases[i].f, bw_ftype_name(t));
        CHECK_EQ(t, cases[i].t);
    }
}

static const char *mn(const char *in)
{
    static char out[64];
    bw_member_name(in, out, sizeof out);
    return out;
}

TEST(member_names)
{
    CHECK_STR(mn("dir/eicar.com"), "dir/eicar.com");
    CHECK_STR(mn("/etc/passwd"), "etc/passwd");
    CHECK_STR(mn("a/./b//c/"), "a/b/c");
    CHECK_STR(mn("a/b/../c"), "a/c");
    CHECK_STR(mn("a/../../etc/x"), "../etc/x");
    CHECK_STR(mn("../../etc/x"), "../../etc/x");
    CHECK_STR(mn("../x/../y"), "../y");
    CHECK_STR(mn("evil\nFAKE: OK"), "evil?FAKE: OK");
    CHECK_STR(mn(""), "(unnamed)");
    CHECK_STR(mn("/"), "(unnamed)");
    CHECK_STR(mn(NULL), "(unnamed)");
    CHECK_STR(mn("a/.."), "(unnamed)");
    char small[8];
    CHECK_EQ(bw_member_name("abcdefghijkl", small, sizeof small), 7);
    CHECK_STR(small, "abcdefg");
}

TEST(gzip_original_name)
{
    char out[64];
    static const uint8_t named[] = "\x1f\x8b\x08\x08\0\0\0\0\0\3/home/u/eicar.com";
    CHECK_EQ(bw_gzip_orig_name(named, sizeof named, out, sizeof out), 1);
    CHECK_STR(out, "eicar.com");
    static const uint8_t noname[] = "\x1f\x8b\x08\x00\0\0\0\0\0\3xxxx";
    CHECK_EQ(bw_gzip_orig_name(noname, sizeof noname, out, sizeof out), 0);
    /* FNAME flag but no terminator within the bytes given */
    CHECK_EQ(bw_gzip_orig_name(named, 14, out, sizeof out), 0);
    /* FEXTRA longer than the header */
    static const uint8_t extra[] = "\x1f\x8b\x08\x0c\0\0\0\0\0\3\xff\xff";
    CHECK_EQ(bw_gzip_orig_name(extra, sizeof extra, out, sizeof out), 0);
    char r[] = "Broken; zip\nx";
    bw_reason_clean(r);
    CHECK_STR(r, "Broken  zip x");
}

int main(void)
{
    return t_run();
}
