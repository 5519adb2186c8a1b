/* SPDX-License-Identifier: Apache-2.0 */
/* File-type detection from an object's first bytes.
 *
 * Detection decides two things: which .ndb/.ldb targets apply (PE, ELF, ...),
 * and whether the object is spooled and handed to the unpacker.  Spooling
 * costs memory or a temporary file, and a false "container" on arbitrary
 * bytes costs a libarchive open per object, so every magic is checked as
 * tightly as its format allows (the PE header behind MZ, the block magic
 * behind BZh, sane dictionary sizes behind an lzma-alone header).
 *
 * Some formats have no magic worth the name: cpio's binary header is two
 * bytes, lzma-alone is a properties byte and a dictionary size, lha has its
 * "-lh5-" at offset 2, a pre-POSIX tar header is only recognisable by its
 * checksum.  Those are WEAK: the unpacker still tries them, but a WEAK
 * container that fails at its first header is silently "not a container"
 * rather than CORRUPTED, because most such hits on random data are chance.
 * Everything else is STRONG, and breaking after a STRONG magic is a finding.
 *
 * Order matters only where magics can overlap: offset-0 magics first, then
 * the deeper ones (ustar at 257, CD001 at 32769), PDF's "anywhere in the
 * first KiB" after them, the WEAK ones last.
 */
#include "engine/ftype.h"

#include <string.h>

static const char *const names[BW_FT_COUNT] = {
    [BW_FT_UNKNOWN] = "unknown", [BW_FT_PE] = "pe",       [BW_FT_ELF] = "elf",
    [BW_FT_MACHO] = "macho",     [BW_FT_PDF] = "pdf",     [BW_FT_OLE2] = "ole2",
    [BW_FT_ZIP] = "zip",         [BW_FT_7Z] = "7z",       [BW_FT_RAR] = "rar",
    [BW_FT_CAB] = "cab",         [BW_FT_TAR] = "tar",     [BW_FT_CPIO] = "cpio",
    [BW_FT_ISO9660] = "iso9660", [BW_FT_AR] = "ar",       [BW_FT_LHA] = "lha",
    [BW_FT_XAR] = "xar",         [BW_FT_GZIP] = "gzip",   [BW_FT_BZIP2] = "bzip2",
    [BW_FT_XZ] = "xz",           [BW_FT_LZMA] = "lzma",   [BW_FT_ZSTD] = "zstd",
};

const char *bw_ftype_name(bw_ftype_t t)
{
    if ((unsigned)t >= BW_FT_COUNT || !names[t])
        return "unknown";
    return names[t];
}

int bw_ftype_is_container(bw_ftype_t t)
{
    return t >= BW_FT_ZIP && t < BW_FT_COUNT;
}

int bw_ftype_is_compression(bw_ftype_t t)
{
    return t >= BW_FT_GZIP && t <= BW_FT_ZSTD;
}

static int has(const uint8_t *h, size_t len, size_t off, const void *magic, size_t mlen)
{
    return off <= len && mlen <= len - off && memcmp(h + off, magic, mlen) == 0;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* MZ alone is a DOS stub (or the start of a text file); a PE has the "PE\0\0"
 * signature where e_lfanew points.  An e_lfanew past the bytes we were given
 * cannot be confirmed and is not called PE. */
static int is_pe(const uint8_t *h, size_t len)
{
    if (len < 0x40 || h[0] != 'M' || h[1] != 'Z')
        return 0;
    uint32_t off = le32(h + 0x3c);
    return off >= 4 && has(h, len, off, "PE\0\0", 4);
}

/* CAFEBABE is both a fat Mach-O and a Java class file.  The word after it is
 * nfat_arch for Mach-O (a handful of architectures) and minor/major version
 * for Java (major >= 45), the same split file(1) makes. */
static int is_macho(const uint8_t *h, size_t len)
{
    static const uint8_t thin[][4] = {
        {0xfe, 0xed, 0xfa, 0xce}, {0xfe, 0xed, 0xfa, 0xcf},
        {0xce, 0xfa, 0xed, 0xfe}, {0xcf, 0xfa, 0xed, 0xfe},
    };
    if (len < 8)
        return 0;
    for (size_t i = 0; i < sizeof thin / sizeof thin[0]; i++)
        if (memcmp(h, thin[i], 4) == 0)
            return 1;
    if (memcmp(h, "\xca\xfe\xba\xbe", 4) == 0 || memcmp(h, "\xca\xfe\xba\xbf", 4) == 0) {
        uint32_t n = be32(h + 4);
        return n >= 1 && n <= 30;
    }
    if (memcmp(h, "\xbe\xba\xfe\xca", 4) == 0 || memcmp(h, "\xbf\xba\xfe\xca", 4) == 0) {
        uint32_t n = le32(h + 4);
        return n >= 1 && n <= 30;
    }
    return 0;
}

/* bzip2: "BZh" + block size digit, then either the first block's magic
 * (BCD pi) or the end-of-stream magic (sqrt pi) of an empty stream. */
static int is_bzip2(const uint8_t *h, size_t len)
{
    if (len < 10 || h[0] != 'B' || h[1] != 'Z' || h[2] != 'h' || h[3] < '1' || h[3] > '9')
        return 0;
    return memcmp(h + 4, "\x31\x41\x59\x26\x53\x59", 6) == 0 ||
           memcmp(h + 4, "\x17\x72\x45\x38\x50\x90", 6) == 0;
}

/* lzma-alone: properties byte (lc/lp/pb, < 9*5*5), a dictionary size that
 * encoders write as 2^n or 2^n + 2^(n-1), and an uncompressed size that is
 * either "unknown" (all ones) or below 2^40.  The brief's 5D 00 00 is the
 * common case (default properties, dictionary a multiple of 64 KiB). */
static int is_lzma(const uint8_t *h, size_t len)
{
    if (len < 13 || h[0] >= 225)
        return 0;
    if (h[0] != 0x5d || h[1] != 0 || h[2] != 0)
        return 0;
    uint32_t dict = le32(h + 1);
    int ok = 0;
    for (int n = 12; n <= 30 && !ok; n++)
        ok = dict == (1u << n) || dict == ((1u << n) | (1u << (n - 1)));
    if (!ok)
        return 0;
    int unknown = 1;
    for (int i = 5; i < 13; i++)
        unknown &= h[i] == 0xff;
    return unknown || (h[10] == 0 && h[11] == 0 && h[12] == 0);
}

/* A tar header without "ustar": only its checksum identifies it.  The
 * checksum is the sum of the 512 header bytes with the checksum field read
 * as spaces, written in octal; historic tars summed signed chars. */
static int is_v7_tar(const uint8_t *h, size_t len)
{
    if (len < 512 || h[0] == 0)
        return 0;
    uint32_t want = 0;
    int digits = 0;
    for (int i = 148; i < 156; i++) {
        uint8_t c = h[i];
        if (c >= '0' && c <= '7') {
            want = want * 8 + (uint32_t)(c - '0');
            digits++;
        } else if (c == ' ' || c == 0) {
            if (digits)
                break;
        } else {
            return 0;
        }
    }
    if (!digits)
        return 0;
    uint32_t usum = 0;
    int32_t ssum = 0;
    for (int i = 0; i < 512; i++) {
        uint8_t c = (i >= 148 && i < 156) ? ' ' : h[i];
        usum += c;
        ssum += (int8_t)c;
    }
    /* An all-blank header sums to 256: reject, it is not a file entry. */
    return want != 256 && (want == usum || (int32_t)want == ssum);
}

/* lha: header size at 0, checksum at 1, then "-lh?-" / "-lz?-", and a header
 * level byte at 20 of 0..3. */
static int is_lha(const uint8_t *h, size_t len)
{
    if (len < 22 || h[2] != '-' || h[6] != '-' || h[3] != 'l')
        return 0;
    if (h[4] == 'h') {
        if (!strchr("01234567ds", h[5]) || h[5] == 0)
            return 0;
    } else if (h[4] == 'z') {
        if (!strchr("s45", h[5]) || h[5] == 0)
            return 0;
    } else {
        return 0;
    }
    return h[20] <= 3;
}

bw_ftype_t bw_ftype_detect_ex(const uint8_t *h, size_t len, int *strong)
{
    int dummy;
    if (!strong)
        strong = &dummy;
    *strong = 1;
    if (!h)
        len = 0;

    if (is_pe(h, len))
        return BW_FT_PE;
    if (has(h, len, 0, "\x7f" "ELF", 4))
        return BW_FT_ELF;
    if (is_macho(h, len))
        return BW_FT_MACHO;
    if (has(h, len, 0, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8))
        return BW_FT_OLE2;
    if (has(h, len, 0, "PK\3\4", 4) || has(h, len, 0, "PK\5\6", 4) ||
        has(h, len, 0, "PK\7\x08", 4) || has(h, len, 0, "PK00PK\3\4", 8))
        return BW_FT_ZIP;
    if (has(h, len, 0, "7z\xbc\xaf\x27\x1c", 6))
        return BW_FT_7Z;
    if (has(h, len, 0, "Rar!\x1a\x07\x00", 7) || has(h, len, 0, "Rar!\x1a\x07\x01\x00", 8))
        return BW_FT_RAR;
    if (has(h, len, 0, "MSCF\0\0\0\0", 8))
        return BW_FT_CAB;
    if (has(h, len, 0, "070701", 6) || has(h, len, 0, "070702", 6) ||
        has(h, len, 0, "070707", 6))
        return BW_FT_CPIO;
    if (has(h, len, 0, "!<arch>\n", 8))
        return BW_FT_AR;
    if (has(h, len, 0, "xar!", 4) && len >= 8 && h[4] == 0 && h[5] == 28)
        return BW_FT_XAR;
    if (has(h, len, 0, "\x1f\x8b\x08", 3))
        return BW_FT_GZIP;
    if (is_bzip2(h, len))
        return BW_FT_BZIP2;
    if (has(h, len, 0, "\xfd" "7zXZ\0", 6))
        return BW_FT_XZ;
    if (has(h, len, 0, "\x28\xb5\x2f\xfd", 4))
        return BW_FT_ZSTD;
    if (has(h, len, 257, "ustar", 5))
        return BW_FT_TAR;
    if (has(h, len, 32769, "CD001", 5))
        return BW_FT_ISO9660;
    if (len >= 5 && memmem(h, len < 1024 ? len : 1024, "%PDF-", 5))
        return BW_FT_PDF;

    *strong = 0;
    if (len >= 26 && ((h[0] == 0xc7 && h[1] == 0x71) || (h[0] == 0x71 && h[1] == 0xc7)))
        return BW_FT_CPIO;
    if (is_lzma(h, len))
        return BW_FT_LZMA;
    if (is_lha(h, len))
        return BW_FT_LHA;
    if (is_v7_tar(h, len))
        return BW_FT_TAR;
    *strong = 0;
    return BW_FT_UNKNOWN;
}

bw_ftype_t bw_ftype_detect(const uint8_t *head, size_t len)
{
    return bw_ftype_detect_ex(head, len, NULL);
}
