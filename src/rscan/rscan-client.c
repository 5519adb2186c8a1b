/* SPDX-License-Identifier: Apache-2.0 */
/* The BWSCAN/1 client: blocking sockets, every operation bounded by the
 * options' timeout (SO_RCVTIMEO / SO_SNDTIMEO, so a stalled server costs a
 * scanning thread at most that long per call), optional OpenSSL TLS with the
 * server verified against ca_file (name checked against host) and a client
 * certificate for the server's client authentication.
 *
 * A scan reads the file twice at most, by pread and in 64 KiB pieces: once
 * for the SHA-256 (the offer), once more only if the server answers SEND.
 * The file is never held whole in memory.
 */
#include "rscan/rscan-client.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "rscan/rscan-parse.h"

#define PIECE (64 * 1024)

struct bw_rscan_client {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    char in[BW_RSCAN_MAX_LINE + 2];
    size_t inlen;
};

/* OpenSSL writes to the socket with write(), so a server that closed the
 * connection would kill the whole process (the agent!) with SIGPIPE.  Around
 * every TLS write the calling thread blocks SIGPIPE and swallows one that
 * became pending, leaving the process's disposition alone. */
typedef struct {
    sigset_t old;
    int had_pending;
} nopipe_t;

static void nopipe_begin(nopipe_t *np)
{
    sigset_t pipe_set, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    np->had_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &np->old);
}

static void nopipe_end(nopipe_t *np)
{
    sigset_t pipe_set, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    if (!np->had_pending && sigismember(&pending, SIGPIPE)) {
        struct timespec zero = {0, 0};
        sigtimedwait(&pipe_set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &np->old, NULL);
}

static int ssl_fail(bw_err_t *err, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return bw_err_set(err, "%s: %s", what, e ? buf : "failed");
}

static int tcp_connect(const bw_rscan_opts_t *o, unsigned ms, bw_err_t *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int g = getaddrinfo(o->host, o->port, &hints, &res);
    if (g)
        return bw_err_set(err, "%s:%s: %s", o->host, o->port, gai_strerror(g)), -1;
    int fd = -1, e = 0;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        /* SO_SNDTIMEO bounds connect() on Linux too. */
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        e = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        bw_err_set(err, "%s:%s: connect: %s", o->host, o->port, strerror(e ? e : ECONNREFUSED));
    return fd;
}

int bw_rscan_connect(const bw_rscan_opts_t *o, bw_rscan_client_t **out, bw_err_t *err)
{
    *out = NULL;
    if (!o || !o->host || !o->port)
        return bw_err_set(err, "rscan: no server address");
    bw_rscan_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return bw_err_set(err, "out of memory");
    c->fd = tcp_connect(o, o->timeout_ms ? o->timeout_ms : 10000, err);
    if (c->fd < 0) {
        free(c);
        return BW_ERR;
    }
    if (o->tls) {
        c->ctx = SSL_CTX_new(TLS_client_method());
        if (!c->ctx) {
            ssl_fail(err, "TLS");
            goto fail;
        }
        SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
        if (o->ca_file && o->ca_file[0] ? SSL_CTX_load_verify_locations(c->ctx, o->ca_file, NULL) != 1
                                        : SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
            ssl_fail(err, o->ca_file ? o->ca_file : "default CA paths");
            goto fail;
        }
        if (o->cert_file && o->cert_file[0] &&
            SSL_CTX_use_certificate_chain_file(c->ctx, o->cert_file) != 1) {
            ssl_fail(err, o->cert_file);
            goto fail;
        }
        if (o->key_file && o->key_file[0] &&
            (SSL_CTX_use_PrivateKey_file(c->ctx, o->key_file, SSL_FILETYPE_PEM) != 1 ||
             SSL_CTX_check_private_key(c->ctx) != 1)) {
            ssl_fail(err, o->key_file);
            goto fail;
        }
        c->ssl = SSL_new(c->ctx);
        if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
            ssl_fail(err, "TLS");
            goto fail;
        }
        SSL_set_tlsext_host_name(c->ssl, o->host);
        /* The server's certificate must name the host we dialled. */
        SSL_set1_host(c->ssl, o->host);
        nopipe_t np;
        nopipe_begin(&np);
        int hs = SSL_connect(c->ssl);
        nopipe_end(&np);
        if (hs != 1) {
            long v = SSL_get_verify_result(c->ssl);
            if (v != X509_V_OK) {
                bw_err_set(err, "%s:%s: TLS: server certificate: %s", o->host, o->port,
                           X509_verify_cert_error_string(v));
                goto fail;
            }
            ssl_fail(err, "TLS handshake");
            goto fail;
        }
    }
    *out = c;
    return BW_OK;
fail:
    bw_rscan_close(c);
    return BW_ERR;
}

void bw_rscan_close(bw_rscan_client_t *c)
{
    if (!c)
        return;
    if (c->ssl) {
        nopipe_t np;
        nopipe_begin(&np);
        SSL_shutdown(c->ssl);
        nopipe_end(&np);
        SSL_free(c->ssl);
    }
    if (c->ctx)
        SSL_CTX_free(c->ctx);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

static int send_all(bw_rscan_client_t *c, const void *p, size_t n, bw_err_t *err)
{
    const char *b = p;
    while (n) {
        ssize_t w;
        if (c->ssl) {
            nopipe_t np;
            nopipe_begin(&np);
            int r = SSL_write(c->ssl, b, n > 1 << 30 ? 1 << 30 : (int)n);
            nopipe_end(&np);
            if (r <= 0)
                return ssl_fail(err, "rscan: send");
            w = r;
        } else {
            w = send(c->fd, b, n, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return bw_err_set(err, "rscan: send: %s",
                                  errno == EAGAIN ? "timed out" : strerror(errno));
        }
        b += w;
        n -= (size_t)w;
    }
    return BW_OK;
}

/* Reads one reply line into *r. */
static int read_reply(bw_rscan_client_t *c, bw_rscan_reply_t *r, bw_err_t *err)
{
    for (;;) {
        size_t used;
        int rc = bw_rscan_parse_reply(c->in, c->inlen, r, &used, err);
        if (rc != BW_AGAIN) {
            if (used) {
                memmove(c->in, c->in + used, c->inlen - used);
                c->inlen -= used;
            }
            return rc == BW_OK ? BW_OK : bw_err_prefix(err, "rscan: server reply");
        }
        if (c->inlen >= sizeof c->in)
            return bw_err_set(err, "rscan: server reply too long");
        ssize_t n;
        if (c->ssl) {
            int k = SSL_read(c->ssl, c->in + c->inlen, (int)(sizeof c->in - c->inlen));
            if (k <= 0)
                return SSL_get_error(c->ssl, k) == SSL_ERROR_ZERO_RETURN
                           ? bw_err_set(err, "rscan: server closed the connection")
                           : ssl_fail(err, "rscan: receive");
            n = k;
        } else {
            n = recv(c->fd, c->in + c->inlen, sizeof c->in - c->inlen, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return bw_err_set(err, "rscan: receive: %s",
                                  errno == EAGAIN ? "timed out" : strerror(errno));
            if (n == 0)
                return bw_err_set(err, "rscan: server closed the connection");
        }
        c->inlen += (size_t)n;
    }
}

static int hash_fd(int fd, uint64_t size, char hex[65], bw_err_t *err)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *buf = malloc(PIECE), dig[32];
    int rc = BW_ERR;
    if (!md || !buf || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        bw_err_set(err, "out of memory");
        goto out;
    }
    for (uint64_t off = 0; off < size;) {
        size_t want = size - off < PIECE ? (size_t)(size - off) : PIECE;
        ssize_t n = pread(fd, buf, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            bw_err_set(err, "read at %llu: %s", (unsigned long long)off,
                       n < 0 ? strerror(errno) : "file shorter than its size");
            goto out;
        }
        EVP_DigestUpdate(md, buf, (size_t)n);
        off += (uint64_t)n;
    }
    EVP_DigestFinal_ex(md, dig, NULL);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", dig[i]);
    rc = BW_OK;
out:
    EVP_MD_CTX_free(md);
    free(buf);
    return rc;
}

/* Streams the file as chunks.  A read failure still ends the stream (with
 * the bytes sent so far) so the connection stays in step; the server then
 * answers ERROR for the size or hash, and we report the read error. */
static int stream_fd(bw_rscan_client_t *c, int fd, uint64_t size, bw_err_t *err, int *read_failed,
                     bw_err_t *rerr)
{
    char *buf = malloc(PIECE + 16);
    if (!buf)
        return bw_err_set(err, "out of memory");
    int rc = BW_OK;
    for (uint64_t off = 0; off < size && !*read_failed;) {
        size_t want = size - off < PIECE ? (size_t)(size - off) : PIECE;
        ssize_t n = pread(fd, buf + 16, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *read_failed = 1;
            bw_err_set(rerr, "read at %llu: %s", (unsigned long long)off,
                       n < 0 ? strerror(errno) : "file shorter than its size");
            break;
        }
        char hdr[16];
        int h = snprintf(hdr, sizeof hdr, "%zx\n", (size_t)n);
        memcpy(buf + 16 - h, hdr, (size_t)h);
        if ((rc = send_all(c, buf + 16 - h, (size_t)h + (size_t)n, err)) != BW_OK)
            break;
        off += (uint64_t)n;
    }
    if (rc == BW_OK)
        rc = send_all(c, "0\n", 2, err);
    free(buf);
    return rc;
}

int bw_rscan_scan_fd(bw_rscan_client_t *c, int fd, uint64_t size, const char *name,
                     bw_status_t *status, char **threat, int *cached, bw_err_t *err)
{
    char hex[65], enc[3 * 512 + 8], line[3 * 512 + 128];
    *threat = NULL;
    *cached = 0;
    if (hash_fd(fd, size, hex, err) != BW_OK)
        return BW_ERR;
    const char *nm = name && name[0] ? name : "-";
    if (bw_rscan_pct_encode(strlen(nm) > 512 ? nm + strlen(nm) - 512 : nm, enc, sizeof enc) ==
        (size_t)-1)
        snprintf(enc, sizeof enc, "-");
    int n = snprintf(line, sizeof line, "SCAN %s %llu %s\n", hex, (unsigned long long)size, enc);
    if (send_all(c, line, (size_t)n, err) != BW_OK)
        return BW_ERR;
    bw_rscan_reply_t *r = malloc(sizeof *r);
    if (!r)
        return bw_err_set(err, "out of memory");
    int rc = read_reply(c, r, err);
    int read_failed = 0;
    bw_err_t rerr = {{0}};
    if (rc == BW_OK && r->kind == BW_RSCAN_REP_SEND) {
        rc = stream_fd(c, fd, size, err, &read_failed, &rerr);
        if (rc == BW_OK)
            rc = read_reply(c, r, err);
    }
    if (rc == BW_OK) {
        if (read_failed) {
            rc = bw_err_set(err, "%s", rerr.msg);
        } else if (r->kind == BW_RSCAN_REP_ERROR) {
            rc = bw_err_set(err, "rscan: server: %s", r->threat);
        } else if (r->kind != BW_RSCAN_REP_VERDICT) {
            rc = bw_err_set(err, "rscan: unexpected reply to SCAN");
        } else {
            *status = r->status;
            *cached = r->cached;
            if (r->threat[0] && !(*threat = strdup(r->threat)))
                rc = bw_err_set(err, "out of memory");
        }
    }
    free(r);
    return rc;
}

int bw_rscan_ping(bw_rscan_client_t *c, char **db_version, bw_err_t *err)
{
    *db_version = NULL;
    if (send_all(c, "PING\n", 5, err) != BW_OK)
        return BW_ERR;
    bw_rscan_reply_t *r = malloc(sizeof *r);
    if (!r)
        return bw_err_set(err, "out of memory");
    int rc = read_reply(c, r, err);
    if (rc == BW_OK && r->kind != BW_RSCAN_REP_PONG)
        rc = bw_err_set(err, "rscan: unexpected reply to PING");
    if (rc == BW_OK && !(*db_version = strdup(r->db_version)))
        rc = bw_err_set(err, "out of memory");
    free(r);
    return rc;
}
