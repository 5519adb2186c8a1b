/* SPDX-License-Identifier: Apache-2.0 */
/* ICAP over TLS: the server context from the configuration (what it accepts
 * and the errors it gives), the memory-BIO session against an OpenSSL client
 * byte for byte, and whole ICAP conversations over TLS through the real
 * connection layer (libuv loop, bw_icap_conn_accept_tls, the test database)
 * with an OpenSSL client on a real socket in another thread.
 *
 * Certificates are made here with OpenSSL (a self-signed P-256 one, and a
 * second key that does not match it) in a temporary directory.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <uv.h>

#include "core/conf.h"
#include "icap/icap-conf.h"
#include "icap/icap-conn.h"
#include "icap/icap-service.h"
#include "icap/icap-tls.h"
#include "t.h"

static char dir[64];
static char cert_pem[128], key_pem[128], other_key[128], junk_pem[128];

static int write_key(const char *path, EVP_PKEY *pk)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int ok = PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    return ok ? 0 : -1;
}

/* A self-signed certificate for CN=localhost, its key, an unrelated key. */
static int make_certs(void)
{
    if (dir[0])
        return 0;
    snprintf(dir, sizeof dir, "/tmp/bw-tls-test.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(cert_pem, sizeof cert_pem, "%s/cert.pem", dir);
    snprintf(key_pem, sizeof key_pem, "%s/key.pem", dir);
    snprintf(other_key, sizeof other_key, "%s/other.pem", dir);
    snprintf(junk_pem, sizeof junk_pem, "%s/junk.pem", dir);
    EVP_PKEY *pk = EVP_EC_gen("P-256"), *pk2 = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    if (!pk || !pk2 || !x)
        return -1;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pk);
    X509_NAME *nm = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(x, nm);
    X509_sign(x, pk, EVP_sha256());
    FILE *f = fopen(cert_pem, "w");
    if (!f || !PEM_write_X509(f, x))
        return -1;
    fclose(f);
    if (write_key(key_pem, pk) || write_key(other_key, pk2))
        return -1;
    f = fopen(junk_pem, "w");
    fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n", f);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(pk);
    EVP_PKEY_free(pk2);
    return 0;
}

static void cleanup_certs(void)
{
    char cmd[128];
    if (!dir[0])
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

static bw_icap_conf_t conf_with(const char *cert, const char *key)
{
    bw_icap_conf_t ic;
    memset(&ic, 0, sizeof ic);
    ic.tls_cert = (char *)cert;
    ic.tls_key = (char *)key;
    return ic;
}

/* ---- the context ------------------------------------------------------------------ */

TEST(ctx_from_certificate_and_key)
{
    CHECK(make_certs() == 0);
    bw_icap_conf_t ic = conf_with(cert_pem, key_pem);
    bw_err_t err = {0};
    SSL_CTX *ctx = bw_icap_tls_ctx_new(&ic, &err);
    CHECK(ctx != NULL);
    if (ctx) {
        CHECK_EQ(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
        bw_icap_tls_ctx_free(ctx);
    }
}

TEST(ctx_errors_name_the_key_and_the_file)
{
    CHECK(make_certs() == 0);
    bw_err_t err = {0};
    bw_icap_conf_t ic = conf_with("/nonexistent/cert.pem", key_pem);
    CHECK(bw_icap_tls_ctx_new(&ic, &err) == NULL);
    CHECK_CONTAINS(err.msg, "TlsCertificateFile /nonexistent/cert.pem: ");
    CHECK_CONTAINS(err.msg, "No such file");

    ic = conf_with(cert_pem, "/nonexistent/key.pem");
    CHECK(bw_icap_tls_ctx_new(&ic, &err) == NULL);
    CHECK_CONTAINS(err.msg, "TlsPrivateKeyFile /nonexistent/key.pem: ");

    ic = conf_with(junk_pem, key_pem);
    CHECK(bw_icap_tls_ctx_new(&ic, &err) == NULL);
    CHECK_CONTAINS(err.msg, "TlsCertificateFile ");

    ic = conf_with(cert_pem, cert_pem); /* a certificate is not a key */
    CHECK(bw_icap_tls_ctx_new(&ic, &err) == NULL);
    CHECK_CONTAINS(err.msg, "TlsPrivateKeyFile ");

    ic = conf_with(cert_pem, other_key);
    CHECK(bw_icap_tls_ctx_new(&ic, &err) == NULL);
    CHECK_CONTAINS(err.msg, "TlsPrivateKeyFile ");
    CHECK_CONTAINS(err.msg, "mismatch");

    ic = conf_with(NULL, NULL);
    CHECK(bw_icap_tls_ctx_new(&ic, &err) == NULL);
    CHECK_CONTAINS(err.msg, "needs TlsCertificateFile and TlsPrivateKeyFile");
    CHECK_EQ(ERR_peek_error(), 0); /* nothing left in OpenSSL's queue */
}

/* ---- the keys ------------------------------------------------------------------------ */

static const bw_conf_table_t *const icap_tables[] = {&bw_icap_conf_table};
static const bw_conf_schema_t icap_schema = {icap_tables, 1};

TEST(conf_tls_listen_needs_certificate_and_key)
{
    bw_conf_state_t *st = NULL;
    bw_err_t err = {0};
    const char *t1 = "[icapserver.network]\nTlsListenAddress = 127.0.0.1:11344\n";
    CHECK_EQ(bw_conf_load_buf(&icap_schema, "/etc/b.conf", t1, strlen(t1), &st, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "/etc/b.conf: ");
    CHECK_CONTAINS(err.msg, "TlsListenAddress 127.0.0.1:11344 needs TlsCertificateFile");
    const char *t2 = "[icapserver.network]\nTlsListenAddress = 127.0.0.1:11344\n"
                     "TlsCertificateFile = tls/cert.pem\n";
    CHECK_EQ(bw_conf_load_buf(&icap_schema, "/etc/b.conf", t2, strlen(t2), &st, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "needs TlsPrivateKeyFile");
    const char *t3 = "[icapserver.network]\nTlsListenAddress = 127.0.0.1:11344\n"
                     "TlsListenAddress = [::1]:11344\n"
                     "TlsCertificateFile = tls/cert.pem\nTlsPrivateKeyFile = /k.pem\n";
    CHECK_EQ(bw_conf_load_buf(&icap_schema, "/etc/b.conf", t3, strlen(t3), &st, &err), BW_OK);
    if (st) {
        const bw_icap_conf_t *ic = bw_conf_get(st, &bw_icap_conf_table, NULL);
        CHECK_EQ(ic->tls_listen.n, 2);
        CHECK_STR(BW_CONF_LIST_AT(&ic->tls_listen, char *, 1), "[::1]:11344");
        CHECK_STR(ic->tls_cert, "/etc/tls/cert.pem"); /* relative to the file */
        CHECK_STR(ic->tls_key, "/k.pem");
        bw_conf_free(st);
    }
    st = NULL;
    CHECK_EQ(bw_conf_load_buf(&icap_schema, "/etc/b.conf", "", 0, &st, &err), BW_OK);
    if (st) { /* defaults: no TLS listener, nothing required */
        const bw_icap_conf_t *ic = bw_conf_get(st, &bw_icap_conf_table, NULL);
        CHECK_EQ(ic->tls_listen.n, 0);
        CHECK_EQ(ic->max_queued_scans, 128);
        bw_conf_free(st);
    }
}

TEST(conf_scan_service_paths_are_repeatable)
{
    bw_conf_state_t *st = NULL;
    bw_err_t err = {0};
    CHECK_EQ(bw_conf_load_buf(&icap_schema, "/etc/b.conf", "", 0, &st, &err), BW_OK);
    if (!st)
        return;
    bw_icap_env_t env;
    memset(&env, 0, sizeof env);
    env.ic = bw_conf_get(st, &bw_icap_conf_table, NULL);
    struct { const char *path; bw_icap_svc_t svc; } cases[] = {
        {"/avscan", BW_SVC_SCAN}, {"avscan", BW_SVC_SCAN}, {"/scan", BW_SVC_SCAN},
        {"/av/respmod", BW_SVC_RESPMOD}, {"/av/reqmod", BW_SVC_REQMOD},
        {"/scanx", BW_SVC_NONE}, {"/avscan/", BW_SVC_NONE}, {"/", BW_SVC_NONE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        bw_icap_str_t p = {cases[i].path, strlen(cases[i].path)};
        if (bw_icap_service_lookup(&env, &p) != cases[i].svc) {
            fprintf(stderr, "  path %s\n", cases[i].path);
            CHECK(0);
        }
    }
    bw_conf_free(st);
    const char *t = "[icapserver.protocol]\nScanServiceUrl = nas/scan\nScanServiceUrl = isilon\n";
    st = NULL;
    CHECK_EQ(bw_conf_load_buf(&icap_schema, "/etc/b.conf", t, strlen(t), &st, &err), BW_OK);
    if (!st)
        return;
    env.ic = bw_conf_get(st, &bw_icap_conf_table, NULL);
    bw_icap_str_t a = {"/nas/scan", 9}, b = {"/isilon", 7}, c = {"/avscan", 7};
    CHECK_EQ(bw_icap_service_lookup(&env, &a), BW_SVC_SCAN);
    CHECK_EQ(bw_icap_service_lookup(&env, &b), BW_SVC_SCAN);
    CHECK_EQ(bw_icap_service_lookup(&env, &c), BW_SVC_NONE); /* the defaults were replaced */
    bw_conf_free(st);
}

/* ---- the session, against an OpenSSL client over memory BIOs ------------------------ */

typedef struct client {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *rbio, *wbio;
} client_t;

static int client_init(client_t *cl, int max_version)
{
    memset(cl, 0, sizeof *cl);
    cl->ctx = SSL_CTX_new(TLS_client_method());
    if (!cl->ctx)
        return -1;
    if (max_version)
        SSL_CTX_set_max_proto_version(cl->ctx, max_version);
    SSL_CTX_set_security_level(cl->ctx, 0); /* so that a TLS 1.1 client can be offered */
    SSL_CTX_load_verify_locations(cl->ctx, cert_pem, NULL);
    SSL_CTX_set_verify(cl->ctx, SSL_VERIFY_PEER, NULL);
    cl->ssl = SSL_new(cl->ctx);
    cl->rbio = BIO_new(BIO_s_mem());
    cl->wbio = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(cl->rbio, -1);
    SSL_set_bio(cl->ssl, cl->rbio, cl->wbio);
    SSL_set_connect_state(cl->ssl);
    SSL_set_tlsext_host_name(cl->ssl, "localhost");
    return 0;
}

static void client_free(client_t *cl)
{
    SSL_free(cl->ssl);
    SSL_CTX_free(cl->ctx);
    ERR_clear_error();
}

/* Moves the client's pending bytes to the server and the server's back,
 * until neither has anything to say.  Returns the server's last result. */
static int pump(client_t *cl, bw_tls_t *srv, bw_buf_t *plain, bw_err_t *err)
{
    int rc = BW_OK;
    for (int round = 0; round < 20; round++) {
        if (!SSL_is_init_finished(cl->ssl))
            SSL_do_handshake(cl->ssl);
        char buf[65536];
        int n = BIO_read(cl->wbio, buf, sizeof buf);
        int moved = 0;
        if (n > 0) {
            rc = bw_tls_recv(srv, buf, (size_t)n, plain, err);
            moved = 1;
        }
        bw_buf_t out = {0};
        if (bw_tls_take(srv, &out)) {
            BIO_write(cl->rbio, out.p, (int)out.len);
            moved = 1;
        }
        bw_buf_free(&out);
        if (rc == BW_ERR || !moved)
            break;
    }
    return rc;
}

TEST(session_handshake_and_data_both_ways)
{
    CHECK(make_certs() == 0);
    bw_icap_conf_t ic = conf_with(cert_pem, key_pem);
    bw_err_t err = {0};
    SSL_CTX *ctx = bw_icap_tls_ctx_new(&ic, &err);
    CHECK(ctx != NULL);
    if (!ctx)
        return;
    client_t cl;
    CHECK(client_init(&cl, 0) == 0);
    bw_tls_t *srv = bw_tls_new(ctx);
    bw_buf_t plain = {0};
    CHECK_EQ(bw_tls_ready(srv), 0);
    CHECK_EQ(bw_tls_send(srv, "x", 1), BW_ERR); /* nothing goes out before the handshake */
    CHECK_EQ(pump(&cl, srv, &plain, &err), BW_OK);
    CHECK_EQ(bw_tls_ready(srv), 1);
    CHECK(SSL_is_init_finished(cl.ssl));
    CHECK_EQ(SSL_get_verify_result(cl.ssl), X509_V_OK);
    CHECK_STR(bw_tls_version(srv), "TLSv1.3");
    CHECK_EQ(plain.len, 0);

    /* client -> server: a request split over records arrives whole */
    const char *req = "OPTIONS icap://127.0.0.1/avscan ICAP/1.0\r\nHost: x\r\n\r\n";
    SSL_write(cl.ssl, req, 10);
    SSL_write(cl.ssl, req + 10, (int)strlen(req) - 10);
    CHECK_EQ(pump(&cl, srv, &plain, &err), BW_OK);
    CHECK_EQ(plain.len, strlen(req));
    CHECK(plain.len == strlen(req) && !memcmp(plain.p, req, plain.len));

    /* server -> client: 1 MB in one send */
    size_t big = 1u << 20;
    char *data = malloc(big), *got = malloc(big);
    for (size_t i = 0; i < big; i++)
        data[i] = (char)(i * 7 + 3);
    CHECK_EQ(bw_tls_send(srv, data, big), BW_OK);
    bw_buf_t out = {0};
    CHECK(bw_tls_take(srv, &out) > big);
    BIO_write(cl.rbio, out.p, (int)out.len);
    size_t have = 0;
    int r;
    while (have < big && (r = SSL_read(cl.ssl, got + have, (int)(big - have))) > 0)
        have += (size_t)r;
    CHECK_EQ(have, big);
    CHECK(!memcmp(got, data, big));
    bw_buf_free(&out);

    /* close_notify both ways */
    CHECK_EQ(bw_tls_shutdown(srv), BW_OK);
    CHECK(bw_tls_take(srv, &out) > 0);
    BIO_write(cl.rbio, out.p, (int)out.len);
    char one;
    CHECK_EQ(SSL_read(cl.ssl, &one, 1), 0);
    CHECK_EQ(SSL_get_error(cl.ssl, 0), SSL_ERROR_ZERO_RETURN);
    bw_buf_free(&out);
    SSL_shutdown(cl.ssl);
    char buf[4096];
    int n = BIO_read(cl.wbio, buf, sizeof buf);
    CHECK(n > 0);
    CHECK_EQ(bw_tls_recv(srv, buf, (size_t)(n > 0 ? n : 0), &plain, &err), BW_DONE);

    free(data);
    free(got);
    bw_buf_free(&plain);
    bw_tls_free(srv);
    client_free(&cl);
    bw_icap_tls_ctx_free(ctx);
}

TEST(session_refuses_tls11_and_plaintext)
{
    CHECK(make_certs() == 0);
    bw_icap_conf_t ic = conf_with(cert_pem, key_pem);
    bw_err_t err = {0};
    SSL_CTX *ctx = bw_icap_tls_ctx_new(&ic, &err);
    if (!ctx) {
        CHECK(0);
        return;
    }
    client_t cl;
    CHECK(client_init(&cl, TLS1_1_VERSION) == 0);
    bw_tls_t *srv = bw_tls_new(ctx);
    bw_buf_t plain = {0};
    CHECK_EQ(pump(&cl, srv, &plain, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "TLS handshake: ");
    CHECK_EQ(bw_tls_ready(srv), 0);
    CHECK_EQ(bw_tls_shutdown(srv), BW_ERR); /* no close_notify on a failed session */
    CHECK_EQ(bw_tls_recv(srv, "x", 1, &plain, &err), BW_ERR);
    bw_tls_free(srv);
    client_free(&cl);

    /* a plain ICAP client on the TLS port */
    srv = bw_tls_new(ctx);
    const char *req = "OPTIONS icap://127.0.0.1/avscan ICAP/1.0\r\nHost: x\r\n\r\n";
    CHECK_EQ(bw_tls_recv(srv, req, strlen(req), &plain, &err), BW_ERR);
    CHECK_EQ(plain.len, 0);
    bw_tls_free(srv);
    /* garbage fed in one byte at a time: an error, never a crash */
    srv = bw_tls_new(ctx);
    int rc = BW_OK;
    for (int i = 0; i < 4096 && rc == BW_OK; i++) {
        char b = (char)(i * 37 + 22);
        rc = bw_tls_recv(srv, &b, 1, &plain, &err);
    }
    CHECK_EQ(rc, BW_ERR);
    bw_tls_free(srv);
    bw_buf_free(&plain);
    bw_icap_tls_ctx_free(ctx);
}

/* ---- whole conversations through the connection layer -------------------------------- */

typedef struct server {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_async_t stop;
    SSL_CTX *ctx;
    bw_icap_worker_t iw;
    bw_icap_env_t env;
    int port;
} server_t;

static void on_conn(uv_stream_t *l, int status)
{
    server_t *s = l->data;
    if (status == 0)
        bw_icap_conn_accept_tls(&s->iw, l, s->ctx);
}

static void on_stop(uv_async_t *a)
{
    server_t *s = a->data;
    uv_close((uv_handle_t *)&s->listener, NULL);
    uv_close((uv_handle_t *)&s->stop, NULL);
}

/* A blocking TLS client on a real socket. */
typedef struct tclient {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    char buf[1 << 20]; /* more than a chunk of the echo (256 KiB) */
    size_t len;
} tclient_t;

static int tc_open(tclient_t *t, int port)
{
    memset(t, 0, sizeof *t);
    t->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {10, 0};
    setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(t->fd, (struct sockaddr *)&a, sizeof a) != 0)
        return -1;
    t->ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(t->ctx, cert_pem, NULL);
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    t->ssl = SSL_new(t->ctx);
    SSL_set_fd(t->ssl, t->fd);
    SSL_set_tlsext_host_name(t->ssl, "localhost");
    return SSL_connect(t->ssl) == 1 ? 0 : -1;
}

static void tc_close(tclient_t *t)
{
    if (t->ssl)
        SSL_free(t->ssl);
    if (t->ctx)
        SSL_CTX_free(t->ctx);
    if (t->fd > 0)
        close(t->fd);
    ERR_clear_error();
}

static int tc_send(tclient_t *t, const void *p, size_t n)
{
    return SSL_write(t->ssl, p, (int)n) == (int)n ? 0 : -1;
}

/* Reads one whole ICAP answer (head, encapsulated headers, chunked body)
 * into `out` (NUL-terminated, body chunks de-chunked after the headers). */
static int tc_answer(tclient_t *t, bw_buf_t *out)
{
    bw_buf_reset(out);
    size_t need_head = 0, body_at = 0;
    int chunked = -1;
    for (;;) {
        /* parse what we have */
        if (!need_head) {
            char *e = memmem(t->buf, t->len, "\r\n\r\n", 4);
            if (e) {
                need_head = (size_t)(e - t->buf) + 4;
                bw_buf_append(out, t->buf, need_head);
                bw_buf_append(out, "", 1);
                out->len--;
                const char *enc = strstr(out->p, "Encapsulated: ");
                const char *rb = enc ? strstr(enc, "-body=") : NULL;
                const char *nb = enc ? strstr(enc, "null-body=") : NULL;
                chunked = rb && (!nb || rb < nb) && !strstr(enc, "null-body");
                body_at = rb ? strtoul(rb + 6, NULL, 10) : nb ? strtoul(nb + 10, NULL, 10) : 0;
                memmove(t->buf, t->buf + need_head, t->len - need_head);
                t->len -= need_head;
            }
        }
        if (need_head && t->len >= body_at && body_at) {
            bw_buf_append(out, t->buf, body_at);
            memmove(t->buf, t->buf + body_at, t->len - body_at);
            t->len -= body_at;
            body_at = 0;
        }
        if (need_head && !body_at && !chunked)
            break;
        if (need_head && !body_at && chunked) {
            /* one chunk at a time */
            char *nl = memmem(t->buf, t->len, "\r\n", 2);
            if (nl) {
                size_t sz = strtoul(t->buf, NULL, 16);
                size_t hl = (size_t)(nl - t->buf) + 2;
                size_t total = hl + sz + 2;
                if (t->len >= total) {
                    bw_buf_append(out, t->buf + hl, sz);
                    memmove(t->buf, t->buf + total, t->len - total);
                    t->len -= total;
                    if (sz == 0)
                        break;
                    continue;
                }
            }
        }
        if (t->len == sizeof t->buf)
            return -1;
        int r = SSL_read(t->ssl, t->buf + t->len, (int)(sizeof t->buf - t->len));
        if (r <= 0)
            return -1;
        t->len += (size_t)r;
    }
    bw_buf_append(out, "", 1);
    out->len--;
    return 0;
}

static int tc_respmod(tclient_t *t, const char *allow, const void *body, size_t n, bw_buf_t *out)
{
    char head[256];
    snprintf(head, sizeof head,
             "RESPMOD icap://127.0.0.1/avscan ICAP/1.0\r\nHost: x\r\n%sEncapsulated: res-body=0\r\n\r\n",
             allow);
    if (tc_send(t, head, strlen(head)))
        return -1;
    const char *p = body;
    for (size_t off = 0; off < n;) {
        size_t k = n - off > 40000 ? 40000 : n - off;
        char sz[32];
        snprintf(sz, sizeof sz, "%zx\r\n", k);
        if (tc_send(t, sz, strlen(sz)) || tc_send(t, p + off, k) || tc_send(t, "\r\n", 2))
            return -1;
        off += k;
    }
    if (tc_send(t, "0\r\n\r\n", 5))
        return -1;
    return tc_answer(t, out);
}

static const char eicar[] =
    "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

typedef struct results {
    int port;
    int connected, options_ok, eicar_ok, clean204_ok, echo_ok, close_notify_ok;
    int over_limit_503, plain_refused;
    char first_answer[600];
} results_t;

static void *client_main(void *arg)
{
    results_t *r = arg;
    tclient_t t;
    bw_buf_t a = {0};
    if (tc_open(&t, r->port) == 0) {
        r->connected = 1;
        const char *opt = "OPTIONS icap://127.0.0.1/avscan ICAP/1.0\r\nHost: x\r\n\r\n";
        if (!tc_send(&t, opt, strlen(opt)) && !tc_answer(&t, &a)) {
            snprintf(r->first_answer, sizeof r->first_answer, "%s", a.p);
            r->options_ok = !strncmp(a.p, "ICAP/1.0 200 OK\r\n", 17) &&
                            strstr(a.p, "Methods: RESPMOD, REQMOD\r\n") != NULL;
        }
        /* the same connection, kept alive: EICAR, a clean 1 MB, an echo */
        if (!tc_respmod(&t, "Allow: 204\r\n", eicar, strlen(eicar), &a))
            r->eicar_ok = !strncmp(a.p, "ICAP/1.0 200 OK\r\n", 17) &&
                          strstr(a.p, "X-Infection-Found: Type=0; Resolution=2; Threat=EICAR-Test-File;\r\n") &&
                          strstr(a.p, "HTTP/1.1 403 Forbidden\r\n");
        size_t big = 1u << 20;
        char *data = malloc(big);
        for (size_t i = 0; i < big; i++)
            data[i] = (char)((i * 2654435761u) >> 13);
        if (!tc_respmod(&t, "Allow: 204\r\n", data, big, &a))
            r->clean204_ok = !strncmp(a.p, "ICAP/1.0 204 ", 13);
        size_t echo_n = 300000;
        if (!tc_respmod(&t, "", data, echo_n, &a)) {
            const char *body = strstr(a.p, "\r\n\r\n");
            r->echo_ok = !strncmp(a.p, "ICAP/1.0 200 OK\r\n", 17) && body &&
                         a.len - (size_t)(body + 4 - a.p) == echo_n && !memcmp(body + 4, data, echo_n);
        }
        free(data);
        /* Connection: close: the answer, then close_notify (a clean end) */
        const char *bye = "OPTIONS icap://127.0.0.1/avscan ICAP/1.0\r\nHost: x\r\nConnection: close\r\n\r\n";
        if (!tc_send(&t, bye, strlen(bye)) && !tc_answer(&t, &a)) {
            char one;
            int n = SSL_read(t.ssl, &one, 1);
            r->close_notify_ok = n == 0 && SSL_get_error(t.ssl, n) == SSL_ERROR_ZERO_RETURN;
        }
    }
    tc_close(&t);
    bw_buf_free(&a);
    return NULL;
}

static void *client_over_limit(void *arg)
{
    results_t *r = arg;
    tclient_t t;
    bw_buf_t a = {0};
    if (tc_open(&t, r->port) == 0 && !tc_answer(&t, &a))
        r->over_limit_503 = !strncmp(a.p, "ICAP/1.0 503 ", 13) && strstr(a.p, "Retry-After: ") != NULL;
    tc_close(&t);
    /* a plain-text client on the TLS port: no answer, the connection ends */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)r->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        const char *opt = "OPTIONS icap://127.0.0.1/avscan ICAP/1.0\r\nHost: x\r\n\r\n";
        if (write(fd, opt, strlen(opt)) > 0) {
            char buf[512];
            ssize_t n, tot = 0;
            int icap = 0;
            while ((n = read(fd, buf, sizeof buf)) > 0) {
                tot += n;
                if (!memcmp(buf, "ICAP/", 5))
                    icap = 1;
            }
            r->plain_refused = n == 0 && !icap; /* an alert at most, then EOF */
            (void)tot;
        }
    }
    close(fd);
    bw_buf_free(&a);
    return NULL;
}

static int server_start(server_t *s, const bw_icap_conf_t *ic, bw_engine_t *e)
{
    bw_err_t err;
    memset(s, 0, sizeof *s);
    s->ctx = bw_icap_tls_ctx_new(ic, &err);
    if (!s->ctx || bw_icap_env_init(&s->env, ic, e, &err) != BW_OK)
        return -1;
    uv_loop_init(&s->loop);
    s->iw.loop = &s->loop;
    s->iw.env = &s->env;
    s->iw.timeout_ms = 5000;
    uv_tcp_init(&s->loop, &s->listener);
    s->listener.data = s;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    if (uv_tcp_bind(&s->listener, (struct sockaddr *)&a, 0) ||
        uv_listen((uv_stream_t *)&s->listener, 16, on_conn))
        return -1;
    struct sockaddr_in got;
    int len = sizeof got;
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&got, &len);
    s->port = ntohs(got.sin_port);
    uv_async_init(&s->loop, &s->stop, on_stop);
    s->stop.data = s;
    return 0;
}

typedef struct runner {
    server_t *s;
    results_t *r;
    void *(*fn)(void *);
} runner_t;

static void *run_client(void *arg)
{
    runner_t *rn = arg;
    rn->fn(rn->r);
    uv_async_send(&rn->s->stop);
    return NULL;
}

/* Runs the server loop until fn (in a thread) is done and every connection closed. */
static void converse(server_t *s, results_t *r, void *(*fn)(void *))
{
    runner_t rn = {s, r, fn};
    pthread_t th;
    r->port = s->port;
    pthread_create(&th, NULL, run_client, &rn);
    uv_run(&s->loop, UV_RUN_DEFAULT); /* ends when the listener, async and conns are closed */
    pthread_join(th, NULL);
}

static bw_engine_t *load_test_db(void)
{
    const char *paths[] = {"../db/test"};
    bw_engine_t *e = NULL;
    char err[512];
    if (bw_engine_load(paths, 1, NULL, &e, err, sizeof err) != BW_OK) {
        fprintf(stderr, "  %s\n", err);
        return NULL;
    }
    return e;
}

TEST(conversation_over_tls_through_the_connection_layer)
{
    CHECK(make_certs() == 0);
    bw_engine_t *e = load_test_db();
    CHECK(e != NULL);
    if (!e)
        return;
    bw_conf_state_t *st = NULL;
    bw_err_t err;
    CHECK_EQ(bw_conf_load_buf(&icap_schema, "/etc/b.conf", "", 0, &st, &err), BW_OK);
    if (!st) {
        bw_engine_unref(e);
        return;
    }
    bw_icap_conf_t ic = *(const bw_icap_conf_t *)bw_conf_get(st, &bw_icap_conf_table, NULL);
    ic.tls_cert = cert_pem;
    ic.tls_key = key_pem;
    ic.template_dir = NULL;
    server_t s;
    CHECK(server_start(&s, &ic, e) == 0);
    results_t r = {0};
    converse(&s, &r, client_main);
    CHECK(r.connected);
    CHECK(r.options_ok);
    if (!r.options_ok)
        fprintf(stderr, "  first answer: %s\n", r.first_answer);
    CHECK(r.eicar_ok);
    CHECK(r.clean204_ok);
    CHECK(r.echo_ok);
    CHECK(r.close_notify_ok);
    CHECK_EQ(s.iw.nconns, 0);
    CHECK_EQ(s.iw.requests, 3); /* the three RESPMODs were scanned and answered */
    uv_loop_close(&s.loop);
    bw_icap_env_free(&s.env);
    bw_icap_tls_ctx_free(s.ctx);

    /* MaxConnections below one: every connection is over it.  The 503 waits
     * for the handshake, then goes out encrypted. */
    ic.max_connections = 0;
    CHECK(server_start(&s, &ic, e) == 0);
    results_t r2 = {0};
    converse(&s, &r2, client_over_limit);
    CHECK(r2.over_limit_503);
    CHECK(r2.plain_refused);
    CHECK_EQ(s.iw.nconns, 0);
    uv_loop_close(&s.loop);
    bw_icap_env_free(&s.env);
    bw_icap_tls_ctx_free(s.ctx);
    bw_conf_free(st);
    bw_engine_unref(e);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as bulwarkd does: a peer that left is an error return */
    int rc = t_run();
    cleanup_certs();
    return rc;
}
