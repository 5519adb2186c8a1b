/* SPDX-License-Identifier: Apache-2.0 */
/* ClamAV database containers: .cvd (signed) and .cld (locally updated).
 *
 * Layout: a 512-byte ASCII header, space padded,
 *   ClamAV-VDB:buildtime:version:sigs:flevel:md5:dsig:builder:stime
 * then a tar archive, gzip-compressed in a .cvd and plain or gzip in a .cld
 * (libarchive's filter detection tells which).
 *
 * Integrity: for a .cvd we check the header's MD5 against the bytes after the
 * header, which catches truncated and corrupted downloads.  The dsig field is
 * Talos's RSA signature over that MD5, made with ClamAV's private key and
 * checked by ClamAV against a public key compiled into libclamav; Bulwark does
 * not carry that key, so authenticity is NOT verified here: it is the update
 * channel's job (TLS, or `bulwark update` checking against a mirror it
 * trusts).  A .cld's header is copied from the .cvd it was patched from, so
 * its MD5 does not describe its content and is not checked.
 *
 * Members are loaded through bw_db_load_buffer as if they were files, named
 * "daily.cvd:daily.ndb" in messages.  The archive is walked twice (see
 * db-load.c): once for ignore lists, once for the rest.
 */
#include <archive.h>
#include <fcntl.h>
#include <unistd.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db-int.h"
#include "db-load.h"

#define CVD_HEADER 512
#define CVD_MEMBER_MAX ((size_t)1 << 31) /* a member bigger than 2 GiB is not a database */

typedef struct cvd_hdr {
    bw_slice_t f[9];
    size_t nf;
} cvd_hdr_t;

static int parse_header(const char *where, const char *buf, size_t len, cvd_hdr_t *h,
                        bw_err_t *err)
{
    if (len < CVD_HEADER)
        return bw_err_set(err, "%s: truncated header (%zu of %d bytes)", where, len, CVD_HEADER);
    if (memcmp(buf, "ClamAV-VDB:", 11))
        return bw_err_set(err, "%s: not a ClamAV database (no ClamAV-VDB header)", where);
    size_t n = CVD_HEADER;
    while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\0' || buf[n - 1] == '\n'))
        n--;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] > 0x7e)
            return bw_err_set(err, "%s: header byte %zu is not printable", where, i);
    bw_slice_t all = {buf, n};
    h->nf = bw_split(all, ':', h->f, 9);
    if (h->nf < 6)
        return bw_err_set(err, "%s: header has %zu fields, expected at least 6", where, h->nf);
    return BW_OK;
}

static int check_md5(const char *where, const char *buf, size_t len, bw_slice_t want,
                     bw_err_t *err)
{
    if (want.n != 32)
        return bw_err_set(err, "%s: bad MD5 field in header", where);
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(buf + CVD_HEADER, len - CVD_HEADER, md, &mdlen, EVP_md5(), NULL) ||
        mdlen != 16)
        return bw_err_set(err, "%s: MD5 computation failed", where);
    char hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    if (strncasecmp(hex, want.s, 32))
        return bw_err_set(err, "%s: MD5 mismatch (header %.32s, content %s)", where, want.s, hex);
    return BW_OK;
}

/* Reads the current member whole.  *out is malloc'd (caller frees). */
static int read_member(struct archive *a, const char *where, const char *name, char **out,
                       size_t *olen, bw_err_t *err)
{
    size_t cap = 0, n = 0;
    char *b = NULL;
    for (;;) {
        if (cap - n < 65536) {
            size_t nc = cap ? cap * 2 : 262144;
            if (nc > CVD_MEMBER_MAX + 65536) {
                free(b);
                return bw_err_set(err, "%s:%s: member too large", where, name);
            }
            char *nb = realloc(b, nc);
            if (!nb) {
                free(b);
                return bw_err_set(err, "out of memory");
            }
            b = nb;
            cap = nc;
        }
        la_ssize_t got = archive_read_data(a, b + n, cap - n);
        if (got < 0) {
            bw_err_set(err, "%s:%s: truncated or corrupt archive: %s", where, name,
                       archive_error_string(a) ? archive_error_string(a) : "read error");
            free(b);
            return BW_ERR;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    *out = b;
    *olen = n;
    return BW_OK;
}

static const char *member_ext(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && dot != name ? dot + 1 : "";
}

int bw_db_load_cvd(bw_dbload_t *L, const char *where, const char *ext, const char *buf,
                   size_t len, int mode, bw_err_t *err)
{
    cvd_hdr_t h;
    if (parse_header(where, buf, len, &h, err))
        return BW_ERR;
    uint32_t version;
    if (bw_parse_u32(h.f[2], &version))
        return bw_err_set(err, "%s: bad version \"%.*s\" in header", where,
                          (int)(h.f[2].n > 20 ? 20 : h.f[2].n), h.f[2].s);
    int is_cvd = !strcasecmp(ext, "cvd");
    if ((mode & BW_CVD_IGN) && is_cvd && check_md5(where, buf, len, h.f[5], err))
        return BW_ERR;

    struct archive *a = archive_read_new();
    if (!a)
        return bw_err_set(err, "out of memory");
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    int rc = BW_OK;
    if (archive_read_open_memory(a, buf + CVD_HEADER, len - CVD_HEADER) != ARCHIVE_OK) {
        rc = bw_err_set(err, "%s: truncated or corrupt archive: %s", where,
                        archive_error_string(a) ? archive_error_string(a) : "cannot open");
        goto out;
    }
    size_t members = 0;
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            rc = bw_err_set(err, "%s: truncated or corrupt archive: %s", where,
                            archive_error_string(a) ? archive_error_string(a) : "bad header");
            goto out;
        }
        members++;
        if (archive_entry_filetype(e) != AE_IFREG)
            continue;
        const char *path = archive_entry_pathname(e);
        if (!path)
            continue;
        const char *name = strrchr(path, '/');
        name = name ? name + 1 : path;
        const char *mext = member_ext(name);
        int ign = bw_db_ext_is_ign(mext);
        if (!(mode & (ign ? BW_CVD_IGN : BW_CVD_SIGS)))
            continue; /* libarchive skips the data on the next header */
        /* the manifest and the licence are metadata, not signatures */
        if (!strcasecmp(mext, "info") || !strcmp(name, "COPYING"))
            continue;
        char mwhere[512];
        snprintf(mwhere, sizeof mwhere, "%s:%s", where, name);
        if (bw_db_ext_is_cvd(mext) || !bw_db_ext_known(mext)) {
            char kind[sizeof ((bw_db_count_t *)0)->kind];
            if (bw_db_ext_is_cvd(mext))
                snprintf(kind, sizeof kind, "unsupported: %s inside a cvd", mext);
            else
                snprintf(kind, sizeof kind, "unsupported: cvd member .%.20s", *mext ? mext : "?");
            if (bw_dbload_count(L, kind, 1)) {
                rc = bw_err_set(err, "out of memory");
                goto out;
            }
            continue;
        }
        char *data = NULL;
        size_t dlen = 0;
        if (read_member(a, where, name, &data, &dlen, err)) {
            rc = BW_ERR;
            goto out;
        }
        rc = bw_db_load_buffer(L, mwhere, mext, data, dlen, err);
        free(data);
        if (rc != BW_OK)
            goto out;
    }
    if (members == 0) {
        rc = bw_err_set(err, "%s: truncated archive (no members)", where);
        goto out;
    }
    if ((mode & BW_CVD_SIGS) && version >= L->version) {
        L->version = version;
        snprintf(L->build_time, sizeof L->build_time, "%.*s", (int)h.f[1].n, h.f[1].s);
        /* ':' separates header fields, so the time is written "10-00 +0000";
         * like sigtool, show the first '-' as the ':' it stands for */
        char *dash = strchr(L->build_time, '-');
        if (dash)
            *dash = ':';
    }
out:
    archive_read_free(a);
    return rc;
}

int bw_db_cvd_version(const char *path, uint32_t *version)
{
    char buf[CVD_HEADER];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return BW_ERR;
    ssize_t got = read(fd, buf, sizeof buf);
    close(fd);
    cvd_hdr_t h;
    if (got != CVD_HEADER || parse_header(path, buf, CVD_HEADER, &h, NULL))
        return BW_ERR;
    return bw_parse_u32(h.f[2], version);
}
