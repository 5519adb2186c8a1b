/* SPDX-License-Identifier: Apache-2.0 */
/* Digests and signatures for the updater, through OpenSSL's EVP interface.
 *
 * Why ed25519: keys and signatures are small (a 44-byte public key in a
 * four-line PEM, a 64-byte signature), signing is deterministic, and there
 * are no parameters to get wrong.  A publisher needs nothing but the openssl
 * command line: `openssl genpkey -algorithm ed25519` and `openssl pkeyutl
 * -sign -rawin`.  ed25519 signs the message itself, not a digest, so it goes
 * through EVP_DigestSign/EVP_DigestVerify with a NULL digest; the manifest
 * is small, so the one-shot calls suffice.
 *
 * Key files are checked to hold what the configuration says they hold: a
 * private key given as UpdatePublicKey (a classic mix-up, and a leak) is
 * refused with a hint to derive the public half.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bulwark/bulwark.h"
#include "update/update-int.h"

#define ED25519_SIG_LEN 64

int bw_upd_sha256_fd(int fd, uint8_t out[32], uint64_t *size, bw_err_t *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    char buf[1 << 16];
    uint64_t total = 0;
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(ctx);
        return bw_err_set(err, "SHA-256: out of memory");
    }
    for (;;) {
        ssize_t got = read(fd, buf, sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int e = errno;
            EVP_MD_CTX_free(ctx);
            return bw_err_set(err, "read: %s", strerror(e));
        }
        if (got == 0)
            break;
        EVP_DigestUpdate(ctx, buf, (size_t)got);
        total += (uint64_t)got;
    }
    unsigned int len = 0;
    int ok = EVP_DigestFinal_ex(ctx, out, &len) && len == 32;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return bw_err_set(err, "SHA-256 failed");
    if (size)
        *size = total;
    return BW_OK;
}

int bw_upd_sha256_path(const char *path, uint8_t out[32], uint64_t *size, bw_err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return BW_DECLINED;
        return bw_err_set(err, "%s: %s", path, strerror(errno));
    }
    int rc = bw_upd_sha256_fd(fd, out, size, err);
    close(fd);
    if (rc != BW_OK)
        bw_err_prefix(err, "%s", path);
    return rc;
}

/* The first OpenSSL error as text, or a fallback. */
static const char *ssl_reason(const char *fallback)
{
    unsigned long e = ERR_get_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    return r ? r : fallback;
}

static int file_mentions(const char *path, const char *what)
{
    FILE *f = fopen(path, "re");
    char line[256];
    int found = 0;
    if (!f)
        return 0;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, what) != NULL;
    fclose(f);
    return found;
}

static int check_ed25519(const char *path, EVP_PKEY *k, bw_err_t *err)
{
    if (EVP_PKEY_get_id(k) != EVP_PKEY_ED25519)
        return bw_err_set(err, "%s: a %s key, not ed25519 (make one with: openssl genpkey "
                          "-algorithm ed25519)", path, OBJ_nid2sn(EVP_PKEY_get_base_id(k)));
    return BW_OK;
}

int bw_upd_load_pubkey(const char *path, EVP_PKEY **out, bw_err_t *err)
{
    *out = NULL;
    FILE *f = fopen(path, "re");
    if (!f)
        return bw_err_set(err, "UpdatePublicKey %s: %s", path, strerror(errno));
    EVP_PKEY *k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (!k) {
        ERR_clear_error();
        if (file_mentions(path, "PRIVATE KEY"))
            return bw_err_set(err, "UpdatePublicKey %s holds a PRIVATE key: configure its public "
                              "half (openssl pkey -in KEY -pubout -out KEY.pub) and keep the "
                              "private key with the publisher", path);
        return bw_err_set(err, "UpdatePublicKey %s: not a PEM public key (\"-----BEGIN PUBLIC "
                          "KEY-----\")", path);
    }
    if (check_ed25519(path, k, err)) {
        EVP_PKEY_free(k);
        return BW_ERR;
    }
    *out = k;
    return BW_OK;
}

int bw_upd_load_privkey(const char *path, EVP_PKEY **out, bw_err_t *err)
{
    *out = NULL;
    FILE *f = fopen(path, "re");
    if (!f)
        return bw_err_set(err, "%s: %s", path, strerror(errno));
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!k)
        return bw_err_set(err, "%s: not a PEM private key (%s; make one with: openssl genpkey "
                          "-algorithm ed25519 -out %s)", path, ssl_reason("unreadable"), path);
    if (check_ed25519(path, k, err)) {
        EVP_PKEY_free(k);
        return BW_ERR;
    }
    *out = k;
    return BW_OK;
}

int bw_upd_verify(EVP_PKEY *key, const void *msg, size_t len, const void *sig, size_t siglen,
                  bw_err_t *err)
{
    if (siglen != ED25519_SIG_LEN)
        return bw_err_set(err, "the signature is %zu bytes; an ed25519 signature is %d (raw, as "
                          "openssl pkeyutl -sign -rawin writes it)", siglen, ED25519_SIG_LEN);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return bw_err_set(err, "out of memory");
    int rc = BW_OK;
    if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) != 1) {
        rc = bw_err_set(err, "cannot set up the ed25519 check: %s", ssl_reason("?"));
    } else if (EVP_DigestVerify(ctx, sig, siglen, msg, len) != 1) {
        ERR_clear_error();
        rc = bw_err_set(err, "the signature does not match the manifest and the configured "
                        "UpdatePublicKey (tampered, or signed with another key)");
    }
    EVP_MD_CTX_free(ctx);
    return rc;
}

int bw_upd_sign(EVP_PKEY *key, const void *msg, size_t len, uint8_t sig[64], bw_err_t *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t siglen = ED25519_SIG_LEN;
    int rc = BW_OK;
    if (!ctx)
        return bw_err_set(err, "out of memory");
    if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) != 1 ||
        EVP_DigestSign(ctx, sig, &siglen, msg, len) != 1 || siglen != ED25519_SIG_LEN)
        rc = bw_err_set(err, "signing failed: %s", ssl_reason("?"));
    EVP_MD_CTX_free(ctx);
    return rc;
}
