/* SPDX-License-Identifier: Apache-2.0 */
/* ICAP over TLS with OpenSSL memory BIOs.
 *
 * TLS here is a transform between the socket and the ICAP state machine, not
 * a second kind of connection.  Each session owns two memory BIOs: bytes the
 * connection reads from the socket are written into `rbio`, and SSL_read
 * turns them into plaintext appended to the connection's input buffer, where
 * the pure ICAP parsers find them as they would on a plain connection.
 * Answers go in through SSL_write, and the ciphertext that collects in `wbio`
 * leaves in one uv_write.  The alternative, SSL on the socket's file
 * descriptor with uv_poll, would give TLS clients their own read and write
 * path, back-pressure and timers, all to be kept in step with the plain ones;
 * with memory BIOs the plain path pays one pointer test and nothing else.
 *
 * A memory BIO never blocks, so SSL_write always takes everything (or fails
 * for good), and SSL_read/SSL_do_handshake only ever want more input.
 *
 * The context is built once, by the supervisor before it forks: the private
 * key is read while the process may still read it (before privileges drop),
 * and the workers share the context, and its session-ticket keys, so a
 * client resumes its session whichever worker it reaches.
 */
#include "icap/icap-tls.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bulwark/bulwark.h"

struct bw_tls {
    SSL *ssl;
    BIO *rbio, *wbio;  /* owned by ssl */
    int ready;         /* handshake done */
    int failed;        /* a fatal error: no close_notify, no more data */
};

/* The most specific reasons in OpenSSL's error queue, which it empties. */
static void ossl_reasons(char *out, size_t cap)
{
    out[0] = 0;
    unsigned long e;
    size_t n = 0;
    char last[256] = "";
    while ((e = ERR_get_error()) != 0) {
        char one[256];
        const char *r = ERR_reason_error_string(e);
        if (ERR_SYSTEM_ERROR(e))
            snprintf(one, sizeof one, "%s", strerror(ERR_GET_REASON(e)));
        else
            snprintf(one, sizeof one, "%s", r ? r : "unknown error");
        /* "system lib" only repeats that a system call failed (said above) */
        if (!strcmp(one, last) || !strcmp(one, "system lib"))
            continue;
        snprintf(last, sizeof last, "%s", one);
        int k = snprintf(out + n, cap - n, "%s%s", n ? ": " : "", one);
        if (k < 0 || (size_t)k >= cap - n)
            break;
        n += (size_t)k;
    }
    if (!out[0])
        snprintf(out, cap, "unknown error");
}

static SSL_CTX *ctx_fail(SSL_CTX *ctx, bw_err_t *err, const char *key, const char *path)
{
    char why[512];
    ossl_reasons(why, sizeof why);
    bw_err_set(err, "%s %s: %s", key, path, why);
    SSL_CTX_free(ctx);
    return NULL;
}

SSL_CTX *bw_icap_tls_ctx_new(const bw_icap_conf_t *ic, bw_err_t *err)
{
    if (!ic->tls_cert || !ic->tls_cert[0] || !ic->tls_key || !ic->tls_key[0]) {
        bw_err_set(err, "ICAP over TLS needs TlsCertificateFile and TlsPrivateKeyFile");
        return NULL;
    }
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return ctx_fail(NULL, err, "TLS", "context");
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* No renegotiation (a client-driven CPU sink), no compression (CRIME);
     * the server's cipher order, which OpenSSL's defaults make sound. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* Idle kept-alive connections hold no record buffers. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    static const unsigned char sid_ctx[] = "bulwark-icaps";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
    if (SSL_CTX_use_certificate_chain_file(ctx, ic->tls_cert) != 1)
        return ctx_fail(ctx, err, "TlsCertificateFile", ic->tls_cert);
    if (SSL_CTX_use_PrivateKey_file(ctx, ic->tls_key, SSL_FILETYPE_PEM) != 1)
        return ctx_fail(ctx, err, "TlsPrivateKeyFile", ic->tls_key);
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        bw_err_set(err, "TlsPrivateKeyFile %s is not the key of TlsCertificateFile %s",
                   ic->tls_key, ic->tls_cert);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

void bw_icap_tls_ctx_free(SSL_CTX *ctx)
{
    SSL_CTX_free(ctx);
}

/* ---- the session ----------------------------------------------------------- */

bw_tls_t *bw_tls_new(SSL_CTX *ctx)
{
    bw_tls_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ssl = SSL_new(ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rbio || !t->wbio) {
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        SSL_free(t->ssl);
        free(t);
        ERR_clear_error();
        return NULL;
    }
    /* An empty read BIO means "wait for more", not end of file. */
    BIO_set_mem_eof_return(t->rbio, -1);
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    SSL_set_accept_state(t->ssl);
    return t;
}

void bw_tls_free(bw_tls_t *t)
{
    if (!t)
        return;
    SSL_free(t->ssl);
    free(t);
    ERR_clear_error(); /* this thread's queue must not leak into the next session */
}

static int reserve(bw_buf_t *b, size_t n)
{
    if (b->oom)
        return BW_ERR;
    if (b->cap - b->len >= n)
        return BW_OK;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < n)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return BW_ERR;
    }
    b->p = p;
    b->cap = cap;
    return BW_OK;
}

static int session_fail(bw_tls_t *t, int rc, const char *what, bw_err_t *err)
{
    int e = SSL_get_error(t->ssl, rc);
    char why[512];
    if (e == SSL_ERROR_SSL)
        ossl_reasons(why, sizeof why);
    else
        snprintf(why, sizeof why, "SSL error %d", e);
    ERR_clear_error();
    t->failed = 1;
    return bw_err_set(err, "TLS %s: %s", what, why);
}

int bw_tls_recv(bw_tls_t *t, const void *cipher, size_t n, bw_buf_t *plain, bw_err_t *err)
{
    if (t->failed)
        return bw_err_set(err, "TLS session already failed");
    if (n > INT_MAX || (n && BIO_write(t->rbio, cipher, (int)n) != (int)n)) {
        t->failed = 1;
        return bw_err_set(err, "TLS: out of memory");
    }
    if (!t->ready) {
        int r = SSL_do_handshake(t->ssl);
        if (r != 1) {
            int e = SSL_get_error(t->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return BW_OK;
            return session_fail(t, r, "handshake", err);
        }
        t->ready = 1;
    }
    for (;;) {
        if (reserve(plain, 16384) != BW_OK) {
            t->failed = 1;
            return bw_err_set(err, "TLS: out of memory");
        }
        size_t room = plain->cap - plain->len;
        int r = SSL_read(t->ssl, plain->p + plain->len, room > INT_MAX ? INT_MAX : (int)room);
        if (r > 0) {
            plain->len += (size_t)r;
            continue;
        }
        int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return BW_OK;
        if (e == SSL_ERROR_ZERO_RETURN)
            return BW_DONE;
        return session_fail(t, r, "read", err);
    }
}

int bw_tls_ready(const bw_tls_t *t)
{
    return t->ready && !t->failed;
}

int bw_tls_send(bw_tls_t *t, const void *plain, size_t n)
{
    if (!bw_tls_ready(t))
        return BW_ERR;
    const char *p = plain;
    while (n) {
        int k = n > (1u << 30) ? (1 << 30) : (int)n;
        int r = SSL_write(t->ssl, p, k);
        if (r <= 0) {
            ERR_clear_error();
            t->failed = 1;
            return BW_ERR;
        }
        p += r;
        n -= (size_t)r;
    }
    return BW_OK;
}

int bw_tls_shutdown(bw_tls_t *t)
{
    if (!bw_tls_ready(t))
        return BW_ERR;
    int r = SSL_shutdown(t->ssl); /* 0: close_notify sent, theirs not awaited */
    ERR_clear_error();
    return r >= 0 ? BW_OK : BW_ERR;
}

size_t bw_tls_take(bw_tls_t *t, bw_buf_t *out)
{
    size_t n = BIO_ctrl_pending(t->wbio);
    if (!n || n > INT_MAX || reserve(out, n) != BW_OK)
        return 0;
    int r = BIO_read(t->wbio, out->p + out->len, (int)n);
    if (r <= 0)
        return 0;
    out->len += (size_t)r;
    return (size_t)r;
}

const char *bw_tls_version(const bw_tls_t *t)
{
    return SSL_get_version(t->ssl);
}
