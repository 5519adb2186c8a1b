/* SPDX-License-Identifier: Apache-2.0 */
/* TLS for the remote-scan server: the context (with required client
 * certificates when TlsClientCA is set) and a session over memory BIOs, the
 * approach of icap-tls.c: the connection's one libuv read/write path carries
 * ciphertext, the session turns it into the plaintext the BWSCAN/1 parser
 * reads, so plain and TLS connections share the state machine.  (A copy of
 * that small approach rather than a use of it: icap and rscan are sibling
 * layers and may not include each other.) */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>

#include "rscan/rscan-int.h"

static SSL_CTX *ctx_fail(SSL_CTX *ctx, bw_err_t *err, const char *key, const char *path)
{
    unsigned long e = ERR_get_error();
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    bw_err_set(err, "[rscan] %s %s: %s", key, path, e ? buf : "failed");
    SSL_CTX_free(ctx);
    return NULL;
}

SSL_CTX *bw_rscan_tls_ctx_new(const bw_rscan_conf_t *rc, bw_err_t *err)
{
    if (!rc->tls_cert || !rc->tls_cert[0])
        return NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return ctx_fail(ctx, err, "TlsCertificate", rc->tls_cert);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, rc->tls_cert) != 1)
        return ctx_fail(ctx, err, "TlsCertificate", rc->tls_cert);
    if (SSL_CTX_use_PrivateKey_file(ctx, rc->tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1)
        return ctx_fail(ctx, err, "TlsKey", rc->tls_key);
    if (rc->tls_client_ca && rc->tls_client_ca[0]) {
        if (SSL_CTX_load_verify_locations(ctx, rc->tls_client_ca, NULL) != 1)
            return ctx_fail(ctx, err, "TlsClientCA", rc->tls_client_ca);
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(rc->tls_client_ca);
        if (names)
            SSL_CTX_set_client_CA_list(ctx, names);
        /* No certificate, or one the CA did not sign: the handshake fails. */
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    return ctx;
}

void bw_rscan_tls_ctx_free(SSL_CTX *ctx)
{
    SSL_CTX_free(ctx);
}

int rs_tls_start(rs_conn_t *c, SSL_CTX *ctx)
{
    c->ssl = SSL_new(ctx);
    if (!c->ssl)
        return BW_ERR;
    BIO *r = BIO_new(BIO_s_mem()), *w = BIO_new(BIO_s_mem());
    if (!r || !w) {
        BIO_free(r);
        BIO_free(w);
        return BW_ERR;
    }
    SSL_set_bio(c->ssl, r, w);
    SSL_set_accept_state(c->ssl);
    c->rbio = r;
    c->wbio = w;
    return BW_OK;
}

void rs_tls_free(rs_conn_t *c)
{
    if (c->ssl)
        SSL_free(c->ssl);
    c->ssl = NULL;
}

/* Ciphertext in; decrypted bytes appended to c->in.  BW_OK, or BW_ERR with
 * err set (handshake refused: no or a bad client certificate). */
int rs_tls_recv(rs_conn_t *c, const char *p, size_t n, bw_err_t *err)
{
    if (n && BIO_write(c->rbio, p, (int)n) != (int)n)
        return bw_err_set(err, "TLS: out of memory");
    if (!c->tls_ready) {
        int r = SSL_do_handshake(c->ssl);
        if (r != 1) {
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return BW_OK;
            unsigned long q = ERR_get_error();
            char buf[256];
            ERR_error_string_n(q, buf, sizeof buf);
            ERR_clear_error();
            return bw_err_set(err, "TLS handshake: %s", q ? buf : "failed");
        }
        c->tls_ready = 1;
    }
    char tmp[16384];
    for (;;) {
        int k = SSL_read(c->ssl, tmp, sizeof tmp);
        if (k > 0) {
            bw_buf_append(&c->in, tmp, (size_t)k);
            continue;
        }
        int e = SSL_get_error(c->ssl, k);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return BW_OK;
        if (e == SSL_ERROR_ZERO_RETURN)
            return BW_DONE;
        ERR_clear_error();
        return bw_err_set(err, "TLS: bad record");
    }
}

/* Plaintext to send: encrypted once the handshake is done, else kept. */
int rs_tls_seal(rs_conn_t *c, bw_buf_t *plain, bw_buf_t *cipher)
{
    if (c->tls_ready && plain->len) {
        if (SSL_write(c->ssl, plain->p, (int)plain->len) <= 0)
            return BW_ERR;
        bw_buf_reset(plain);
    }
    char tmp[16384];
    int k;
    while ((k = BIO_read(c->wbio, tmp, sizeof tmp)) > 0)
        bw_buf_append(cipher, tmp, (size_t)k);
    return BW_OK;
}
