/* SPDX-License-Identifier: Apache-2.0 */
/* The quarantined object on disk, and the store's key.
 *
 * An object file is
 *     "BWQ1" | nonce (12 bytes) | AES-256-GCM ciphertext | tag (16 bytes)
 * with the first 16 bytes (magic and nonce) as additional authenticated
 * data.  The content is encrypted so that it is never runnable or scannable
 * in place: no executable, script or document survives as such in the
 * quarantine, and a scanner walking the disk (ours included) does not find
 * the same malware again in it.  GCM's tag makes any change to the file
 * detectable, and restore checks the SHA-256 of what it decrypted against
 * the id as well, so a file renamed over another object's name is refused
 * too.
 *
 * The key: 32 random bytes in quarantine.key inside the directory, created
 * 0600 on first use.  A key derived from a constant would neutralise the
 * objects as well, but anyone with the source could decrypt a copy of
 * them; a per-store random key keeps copies (backups, support bundles) of
 * the objects unreadable without it, at no cost in setup.  It does not hide
 * the objects from root on the host, and is not meant to: the purpose is
 * neutralisation and integrity, not secrecy from the administrator.  Losing
 * the key loses the objects (docs/quarantine.md).
 *
 * A random 96-bit nonce per object is safe for far more objects than a
 * quarantine holds (the bound is around 2^32 per key).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "quarantine/quarantine-int.h"

#define IO_BLOCK (64u * 1024u)

int bw_quar_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return BW_ERR;
        p += n;
        len -= (size_t)n;
    }
    return BW_OK;
}

static int read_exact_at(int fd, void *buf, size_t len, off_t off)
{
    char *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, len, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO; /* shorter than fstat said: changed under us */
            return BW_ERR;
        }
        p += n;
        len -= (size_t)n;
        off += n;
    }
    return BW_OK;
}

/* ---- the key --------------------------------------------------------------- */

static int key_read(int fd, const char *dir, uint8_t key[BW_QUAR_KEY_LEN], bw_err_t *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return bw_err_set(err, "%s/%s: %s", dir, BW_QUAR_KEY_FILE, strerror(errno));
    if (!S_ISREG(st.st_mode) || st.st_size != BW_QUAR_KEY_LEN)
        return bw_err_set(err, "%s/%s: not a key (expected a regular file of %d bytes)", dir,
                          BW_QUAR_KEY_FILE, BW_QUAR_KEY_LEN);
    if (st.st_mode & 077)
        return bw_err_set(err, "%s/%s: mode %04o lets other users read the key (expected 0600)",
                          dir, BW_QUAR_KEY_FILE, (unsigned)(st.st_mode & 07777));
    if (read_exact_at(fd, key, BW_QUAR_KEY_LEN, 0) != BW_OK)
        return bw_err_set(err, "%s/%s: %s", dir, BW_QUAR_KEY_FILE, strerror(errno));
    return BW_OK;
}

/* Writes a fresh key under a temporary name and moves it into place only if
 * no key is there yet.  BW_DECLINED: another process was first. */
static int key_create(int dirfd, const char *dir, bw_err_t *err)
{
    uint8_t key[BW_QUAR_KEY_LEN], rnd[8];
    char tmp[64];
    if (RAND_bytes(key, sizeof key) != 1 || RAND_bytes(rnd, sizeof rnd) != 1)
        return bw_err_set(err, "%s: no random bytes for a key", dir);
    snprintf(tmp, sizeof tmp, ".tmp-key-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
             rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return bw_err_set(err, "%s: cannot create a key file: %s", dir, strerror(errno));
    int rc = bw_quar_write_all(fd, key, sizeof key) == BW_OK && fsync(fd) == 0 ? BW_OK : BW_ERR;
    int saved = errno;
    close(fd);
    OPENSSL_cleanse(key, sizeof key);
    if (rc != BW_OK) {
        unlinkat(dirfd, tmp, 0);
        return bw_err_set(err, "%s/%s: %s", dir, tmp, strerror(saved));
    }
    /* A link, not a rename: it fails if a key appeared meanwhile, and the
     * key that was there first stays the key. */
    rc = linkat(dirfd, tmp, dirfd, BW_QUAR_KEY_FILE, 0);
    saved = errno;
    unlinkat(dirfd, tmp, 0);
    if (rc == 0) {
        fsync(dirfd);
        return BW_OK;
    }
    if (saved == EEXIST)
        return BW_DECLINED;
    return bw_err_set(err, "%s/%s: %s", dir, BW_QUAR_KEY_FILE, strerror(saved));
}

int bw_quar_key_load(int dirfd, const char *dir, bool create, uint8_t key[BW_QUAR_KEY_LEN],
                     bw_err_t *err)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        int fd = openat(dirfd, BW_QUAR_KEY_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0) {
            int rc = key_read(fd, dir, key, err);
            close(fd);
            return rc;
        }
        if (errno != ENOENT || !create)
            return bw_err_set(err, "%s/%s: %s", dir, BW_QUAR_KEY_FILE, strerror(errno));
        int rc = key_create(dirfd, dir, err);
        if (rc == BW_ERR)
            return BW_ERR;
    }
    return bw_err_set(err, "%s/%s: the key keeps disappearing", dir, BW_QUAR_KEY_FILE);
}

/* ---- objects ------------------------------------------------------------------ */

static int crypt_init(EVP_CIPHER_CTX *cx, int enc, const uint8_t *key, const uint8_t *hdr)
{
    int outl;
    return EVP_CipherInit_ex(cx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
                   EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_SET_IVLEN, BW_QUAR_NONCE_LEN, NULL) == 1 &&
                   EVP_CipherInit_ex(cx, NULL, NULL, key, hdr + 4, enc) == 1 &&
                   EVP_CipherUpdate(cx, NULL, &outl, hdr, BW_QUAR_HDR_LEN) == 1
               ? BW_OK
               : BW_ERR;
}

int bw_quar_obj_write(int fd, const uint8_t key[BW_QUAR_KEY_LEN], bw_quar_read_fn fn, void *ctx,
                      uint64_t max, uint8_t sha[32], uint64_t *size, bool *cut, bw_err_t *err)
{
    uint8_t hdr[BW_QUAR_HDR_LEN], tag[BW_QUAR_TAG_LEN];
    memcpy(hdr, BW_QUAR_MAGIC, 4);
    if (RAND_bytes(hdr + 4, BW_QUAR_NONCE_LEN) != 1)
        return bw_err_set(err, "no random bytes for a nonce");
    uint8_t *in = malloc(IO_BLOCK), *out = malloc(IO_BLOCK + 32);
    EVP_CIPHER_CTX *cx = EVP_CIPHER_CTX_new();
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = BW_ERR;
    *size = 0;
    *cut = false;
    if (!in || !out || !cx || !md) {
        bw_err_set(err, "out of memory");
        goto done;
    }
    if (crypt_init(cx, 1, key, hdr) != BW_OK || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        bw_err_set(err, "cannot set up AES-256-GCM or SHA-256");
        goto done;
    }
    if (bw_quar_write_all(fd, hdr, sizeof hdr) != BW_OK) {
        bw_err_set(err, "write: %s", strerror(errno));
        goto done;
    }
    for (;;) {
        size_t want = IO_BLOCK;
        if (max && max - *size < want)
            want = (size_t)(max - *size);
        if (want == 0) {
            /* At the limit: one more byte says whether there was more. */
            uint8_t probe;
            long more = fn(ctx, &probe, 1);
            if (more < 0) {
                bw_err_set(err, "reading the object: %s", strerror(errno));
                goto done;
            }
            *cut = more > 0;
            break;
        }
        long n = fn(ctx, in, want);
        if (n < 0) {
            bw_err_set(err, "reading the object: %s", strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
        int outl = 0;
        if (EVP_DigestUpdate(md, in, (size_t)n) != 1 ||
            EVP_EncryptUpdate(cx, out, &outl, in, (int)n) != 1) {
            bw_err_set(err, "encryption failed");
            goto done;
        }
        if (bw_quar_write_all(fd, out, (size_t)outl) != BW_OK) {
            bw_err_set(err, "write: %s", strerror(errno));
            goto done;
        }
        *size += (uint64_t)n;
    }
    int outl = 0;
    unsigned mdlen = 0;
    if (EVP_EncryptFinal_ex(cx, out, &outl) != 1 || outl != 0 ||
        EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_GET_TAG, BW_QUAR_TAG_LEN, tag) != 1 ||
        EVP_DigestFinal_ex(md, sha, &mdlen) != 1 || mdlen != 32) {
        bw_err_set(err, "encryption failed");
        goto done;
    }
    if (bw_quar_write_all(fd, tag, sizeof tag) != BW_OK) {
        bw_err_set(err, "write: %s", strerror(errno));
        goto done;
    }
    rc = BW_OK;
done:
    if (in)
        OPENSSL_cleanse(in, IO_BLOCK);
    free(in);
    free(out);
    EVP_CIPHER_CTX_free(cx);
    EVP_MD_CTX_free(md);
    return rc;
}

int bw_quar_obj_read(int fd, const uint8_t key[BW_QUAR_KEY_LEN], int outfd, uint8_t sha[32],
                     uint64_t *size, bw_err_t *err)
{
    struct stat st;
    uint8_t hdr[BW_QUAR_HDR_LEN], tag[BW_QUAR_TAG_LEN];
    *size = 0;
    if (fstat(fd, &st) != 0)
        return bw_err_set(err, "%s", strerror(errno));
    if (!S_ISREG(st.st_mode) || st.st_size < BW_QUAR_OVERHEAD)
        return bw_err_set(err, "not a quarantine object (%lld bytes, at least %d expected)",
                          (long long)st.st_size, BW_QUAR_OVERHEAD);
    if (read_exact_at(fd, hdr, sizeof hdr, 0) != BW_OK ||
        read_exact_at(fd, tag, sizeof tag, st.st_size - BW_QUAR_TAG_LEN) != BW_OK)
        return bw_err_set(err, "%s", strerror(errno));
    if (memcmp(hdr, BW_QUAR_MAGIC, 4) != 0)
        return bw_err_set(err, "not a quarantine object (no %s header)", BW_QUAR_MAGIC);
    uint64_t left = (uint64_t)st.st_size - BW_QUAR_OVERHEAD;
    off_t off = BW_QUAR_HDR_LEN;
    uint8_t *in = malloc(IO_BLOCK), *out = malloc(IO_BLOCK + 32);
    EVP_CIPHER_CTX *cx = EVP_CIPHER_CTX_new();
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = BW_ERR;
    if (!in || !out || !cx || !md) {
        bw_err_set(err, "out of memory");
        goto done;
    }
    if (crypt_init(cx, 0, key, hdr) != BW_OK || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        bw_err_set(err, "cannot set up AES-256-GCM or SHA-256");
        goto done;
    }
    while (left) {
        size_t n = left < IO_BLOCK ? (size_t)left : IO_BLOCK;
        int outl = 0;
        if (read_exact_at(fd, in, n, off) != BW_OK) {
            bw_err_set(err, "%s", strerror(errno));
            goto done;
        }
        if (EVP_DecryptUpdate(cx, out, &outl, in, (int)n) != 1 ||
            EVP_DigestUpdate(md, out, (size_t)outl) != 1) {
            bw_err_set(err, "decryption failed");
            goto done;
        }
        if (outfd >= 0 && bw_quar_write_all(outfd, out, (size_t)outl) != BW_OK) {
            bw_err_set(err, "write: %s", strerror(errno));
            goto done;
        }
        *size += (uint64_t)outl;
        off += (off_t)n;
        left -= n;
    }
    int outl = 0;
    unsigned mdlen = 0;
    if (EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_SET_TAG, BW_QUAR_TAG_LEN, tag) != 1 ||
        EVP_DecryptFinal_ex(cx, out, &outl) != 1) {
        bw_err_set(err, "authentication failed: the object file was altered, or was stored "
                        "with another key");
        goto done;
    }
    if (EVP_DigestFinal_ex(md, sha, &mdlen) != 1 || mdlen != 32) {
        bw_err_set(err, "SHA-256 failed");
        goto done;
    }
    rc = BW_OK;
done:
    if (out)
        OPENSSL_cleanse(out, IO_BLOCK + 32);
    free(in);
    free(out);
    EVP_CIPHER_CTX_free(cx);
    EVP_MD_CTX_free(md);
    return rc;
}
