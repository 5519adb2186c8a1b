/* SPDX-License-Identifier: Apache-2.0 */
/* The TLS side of an ICAP connection: where icap-conn.c's socket I/O meets
 * the memory-BIO session of icap-tls.c.
 *
 * Three points of contact, and only these: bytes read from the socket are
 * decrypted into the connection's input buffer before the state machine runs
 * (bw_conn_tls_on_read); every write goes through bw_conn_flush, which asks
 * bw_conn_tls_seal for the ciphertext to send instead of the plaintext; and
 * closing sends close_notify first (bw_conn_tls_goodbye).  An answer built
 * before the handshake is over (the 503 of a connection over MaxConnections)
 * simply stays in c->out until the session can encrypt it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "icap/icap-conn-t.h"
#include "icap/icap-tls.h"

#define TLS_RBUF (64u * 1024u)
#define GOODBYE_MS 2000 /* how long a peer has to take its close_notify */

int bw_conn_tls_start(conn_t *c, struct ssl_ctx_st *ctx)
{
    c->tls = bw_tls_new(ctx);
    c->tls_rbuf = malloc(TLS_RBUF);
    return c->tls && c->tls_rbuf ? BW_OK : BW_ERR;
}

void bw_conn_tls_free(conn_t *c)
{
    bw_tls_free(c->tls);
    c->tls = NULL;
    free(c->tls_rbuf);
    c->tls_rbuf = NULL;
    bw_buf_free(&c->tls_out);
}

uv_buf_t bw_conn_tls_rbuf(conn_t *c)
{
    return uv_buf_init(c->tls_rbuf, TLS_RBUF);
}

int bw_conn_tls_on_read(conn_t *c, const char *p, size_t n)
{
    bw_err_t err;
    int rc = bw_tls_recv(c->tls, p, n, &c->in, &err);
    if (rc == BW_ERR)
        bw_log(BW_LOG_INFO, "icaps client: %s", err.msg);
    /* Handshake records, an alert, or an answer that waited for the
     * handshake: whatever the session has for the peer goes now. */
    bw_conn_flush(c);
    if (c->closing)
        return BW_ERR;
    return rc;
}

bw_buf_t *bw_conn_tls_seal(conn_t *c)
{
    if (c->out.len && bw_tls_ready(c->tls)) {
        if (c->out.oom || bw_tls_send(c->tls, c->out.p, c->out.len) != BW_OK)
            return NULL;
        bw_buf_reset(&c->out);
    }
    bw_tls_take(c->tls, &c->tls_out);
    return &c->tls_out;
}

static void on_goodbye_written(uv_write_t *req, int status)
{
    wreq_t *wr = (wreq_t *)req;
    conn_t *c = wr->c;
    (void)status;
    bw_buf_free(&wr->buf);
    free(wr);
    c->writes--;
    bw_conn_close_handles(c); /* frees c once its handles are closed */
}

int bw_conn_tls_goodbye(conn_t *c)
{
    if (bw_tls_shutdown(c->tls) != BW_OK || !bw_tls_take(c->tls, &c->tls_out))
        return 0;
    wreq_t *wr = calloc(1, sizeof *wr);
    if (!wr)
        return 0;
    wr->c = c;
    wr->buf = c->tls_out;
    memset(&c->tls_out, 0, sizeof c->tls_out);
    uv_buf_t b = uv_buf_init(wr->buf.p, (unsigned)wr->buf.len);
    c->writes++;
    if (uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, on_goodbye_written) < 0) {
        c->writes--;
        bw_buf_free(&wr->buf);
        free(wr);
        return 0;
    }
    /* A peer that never reads must not keep the connection: the timer
     * closes the handles (bw_conn_on_timeout sees c->closing). */
    uv_timer_start(&c->timer, bw_conn_on_timeout, GOODBYE_MS, 0);
    return 1;
}
