/* SPDX-License-Identifier: Apache-2.0 */
/* File-type detection from an object's first bytes. */
#ifndef BW_ENGINE_FTYPE_H
#define BW_ENGINE_FTYPE_H

#include <stddef.h>
#include <stdint.h>

/* ISO 9660 puts its "CD001" at 32769: detection needs this many bytes, or the
 * whole object when it is shorter. */
#define BW_FTYPE_HEAD (36u * 1024u)

typedef enum bw_ftype {
    BW_FT_UNKNOWN = 0,
    /* plain file types that gate .ndb/.ldb targets */
    BW_FT_PE, BW_FT_ELF, BW_FT_MACHO, BW_FT_PDF, BW_FT_OLE2,
    /* containers (libarchive formats) */
    BW_FT_ZIP, BW_FT_7Z, BW_FT_RAR, BW_FT_CAB, BW_FT_TAR, BW_FT_CPIO, BW_FT_ISO9660,
    BW_FT_AR, BW_FT_LHA, BW_FT_XAR,
    /* compression filters around a single stream */
    BW_FT_GZIP, BW_FT_BZIP2, BW_FT_XZ, BW_FT_LZMA, BW_FT_ZSTD,
    BW_FT_COUNT
} bw_ftype_t;

bw_ftype_t bw_ftype_detect(const uint8_t *head, size_t len);
const char *bw_ftype_name(bw_ftype_t t);
int bw_ftype_is_container(bw_ftype_t t); /* archive or compression filter */

/* Added by the unpacker: like bw_ftype_detect, and sets *strong (when not
 * NULL) to 1 when the magic that matched is a STRONG one, 0 for WEAK magics
 * (binary cpio, lzma-alone, lha, tar without "ustar") that random data can
 * hit by chance.  A WEAK container that fails at its first header is "not a
 * container" rather than CORRUPTED. */
bw_ftype_t bw_ftype_detect_ex(const uint8_t *head, size_t len, int *strong);
/* 1 for the single-stream compression filters (gzip .. zstd). */
int bw_ftype_is_compression(bw_ftype_t t);

#endif
