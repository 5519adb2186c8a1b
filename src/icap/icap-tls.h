/* SPDX-License-Identifier: Apache-2.0 */
/* ICAP over TLS (icaps://, port 11344 by convention): the server context
 * built from the configuration, the accept call for a TLS listener, and the
 * TLS session that the connection layer runs over memory buffers.
 *
 * The session (bw_tls_t) never touches a socket: ciphertext goes in, as read
 * from the network, and plaintext comes out for the ICAP parser; plaintext
 * answers go in and ciphertext comes out for the socket.  So the connection
 * keeps its one libuv read/write path for plain and TLS clients alike, and
 * the session can be unit-tested byte for byte against an OpenSSL client.
 */
#ifndef BW_ICAP_TLS_H
#define BW_ICAP_TLS_H

#include <stddef.h>
#include <uv.h>

#include "core/buf.h"
#include "core/err.h"
#include "icap/icap-conf.h"
#include "icap/icap-conn.h"

struct ssl_ctx_st;

/* Builds the server TLS context from ic (OpenSSL; TLS 1.2+): the certificate
 * chain from TlsCertificateFile, the key from TlsPrivateKeyFile, checked to
 * match.  NULL with err set ("TlsCertificateFile /x.pem: no such file") on
 * failure.  Called before fork, while the key is still readable. */
struct ssl_ctx_st *bw_icap_tls_ctx_new(const bw_icap_conf_t *ic, bw_err_t *err);
void bw_icap_tls_ctx_free(struct ssl_ctx_st *ctx);

/* Like bw_icap_conn_accept, for a TLS listener: the handshake, then the same
 * ICAP engine over SSL with memory BIOs. */
void bw_icap_conn_accept_tls(bw_icap_worker_t *w, uv_stream_t *server, struct ssl_ctx_st *ctx);

/* ---- one server-side TLS session over memory BIOs ---------------------- */

typedef struct bw_tls bw_tls_t;

bw_tls_t *bw_tls_new(struct ssl_ctx_st *ctx);
void bw_tls_free(bw_tls_t *t);

/* Takes n bytes of ciphertext from the peer, advances the handshake and
 * appends every byte it can decrypt to `plain`.  BW_OK (more may come),
 * BW_DONE (the peer sent close_notify) or BW_ERR with err set (a failed
 * handshake or a bad record; an alert for the peer may be waiting in the
 * output). */
int bw_tls_recv(bw_tls_t *t, const void *cipher, size_t n, bw_buf_t *plain, bw_err_t *err);
/* 1 once the handshake has completed. */
int bw_tls_ready(const bw_tls_t *t);
/* Encrypts n bytes of plaintext (only once ready).  BW_OK or BW_ERR. */
int bw_tls_send(bw_tls_t *t, const void *plain, size_t n);
/* Queues close_notify (only once ready and not failed).  BW_OK or BW_ERR. */
int bw_tls_shutdown(bw_tls_t *t);
/* Appends the ciphertext waiting for the peer to `out` and returns its
 * length (0: nothing to send). */
size_t bw_tls_take(bw_tls_t *t, bw_buf_t *out);
/* The negotiated protocol ("TLSv1.3"), for logs. */
const char *bw_tls_version(const bw_tls_t *t);

#endif
