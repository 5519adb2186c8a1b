/* SPDX-License-Identifier: Apache-2.0 */
/* The ICAP connection's private types, shared by icap-conn.c (I/O and the
 * state machine) and icap-answer.c (the answers after a verdict), as HAProxy
 * keeps a mux's types apart from its code.  Nothing outside these two files
 * includes this header. */
#ifndef BW_ICAP_CONN_T_H
#define BW_ICAP_CONN_T_H

#include <stdint.h>
#include <uv.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/spool.h"
#include "icap/http-parse.h"
#include "icap/icap-body.h"
#include "icap/icap-conn.h"
#include "icap/icap-parse.h"

#define ECHO_BLOCK (256u * 1024u)
/* A client that cannot keep its own copy of a body (no Allow: 204) stops
 * sending it once its buffer is full until the answer starts: Squid holds
 * 64 KiB for a possible 206.  Past this many bytes the answer's head goes
 * out early and the body is echoed (partial mode) or held (complete mode). */
#define EARLY_BYTES (32u * 1024u)
#define WRITE_QUEUE_MAX (1u << 20)
#define STALL_MS 100

/* ST_DISCARD: a refused request's encapsulated headers and body are read
 * and dropped, so the refusal can be answered on a connection that stays
 * usable (closing with unread bytes would reset it, and the answer with it). */
enum conn_state { ST_HEAD, ST_ENCAP, ST_BODY, ST_DISCARD, ST_WORK, ST_WRITE };

typedef struct conn {
    uv_tcp_t tcp; /* first: the handle's data is the conn */
    uv_timer_t timer;
    uv_timer_t stall;   /* complete mode: starts the answer when the client stalls */
    uv_timer_t hold;    /* partial mode: MaxSendDelayTime for held-back bytes */
    uv_timer_t deadline; /* TLS handshake, request headers, body rate (icap-conn-deadline.c) */
    uv_work_t work;
    bw_icap_worker_t *w;
    struct conn *next, *prev; /* the worker's open connections (a drain walks them) */
    uint64_t idle_since;      /* uv_now when it last began waiting for a request */
    int handles, writes, working, closing, reading;
    enum conn_state state;
    bw_buf_t in;
    size_t last_len;
    char peer[64];

    /* the request being served */
    const bw_icap_conf_t *ic;   /* its configuration copy (the group's, once known) */
    const char *group;          /* its group's name, NULL for the default group */
    int excluded;               /* ExcludeMimeType / ExcludeURL matched: not scanned */
    bw_icap_method_t method;
    bw_icap_svc_t svc;
    unsigned allow;
    int has_preview, client_close, body_kind;
    bw_icap_encap_t encap;
    char client_ip[64], user[128], url[2048];
    bw_buf_t hdrs;
    bw_http_msg_t reqmsg, resmsg;
    int has_req, has_res;
    bw_icap_chunk_t chunk;
    int sent_100;
    bw_icap_body_t *body;
    int body_done;          /* the scan needs no more bytes */
    int refused;            /* ST_DISCARD: the status to answer once the body is read */
    uint32_t discard_hdrs;  /* ST_DISCARD: encapsulated header bytes still to drop */
    bw_spool_t raw;
    int keep_raw;
    uint64_t body_bytes;
    int too_large;
    bw_verdict_t verdict;
    uint64_t t_start;

    /* output */
    bw_buf_t out;
    int echo_active;
    uint64_t echo_off;
    int close_after;
    int early;          /* the answer's head went out before the verdict */
    uint64_t echo_sent; /* raw bytes already echoed in partial mode */
    int paused;         /* reading stopped until the write queue drains */
    int rest_unread;    /* the verdict came before the body's end */
    int passthrough;    /* ...and let it pass: the rest is echoed as it comes, unscanned */

    /* TLS (icap-conn-tls.c): NULL on a plain connection */
    struct bw_tls *tls;
    char *tls_rbuf;     /* ciphertext as read from the socket */
    bw_buf_t tls_out;   /* ciphertext for the socket */
    int handles_closing;

    /* whole deadlines (icap-conn-deadline.c) */
    int dl_phase;           /* DL_*: what the deadline timer is measuring */
    uint64_t rx_bytes;      /* bytes read from the socket, all told */
    uint64_t rate_mark;     /* rx_bytes when the current MinBodyRate window began */
} conn_t;

enum { DL_NONE, DL_TLS, DL_HEADER, DL_BODY };

typedef struct wreq {
    uv_write_t req;
    bw_buf_t buf;
    conn_t *c;
} wreq_t;

/* icap-conn.c */
void bw_conn_close(conn_t *c);
/* icap-conn-life.c: clears the per-request state between two requests. */
void bw_conn_request_reset(conn_t *c);
/* icap-conn-life.c: frees c if nothing holds it any more (handles, writes,
 * a thread-pool job); call after each of those ends. */
void bw_conn_free_if_done(conn_t *c);
/* icap-conn.c: reads (again) with the idle timeout armed. */
void bw_conn_start_reading(conn_t *c);
void bw_conn_flush(conn_t *c);                  /* hands c->out to the socket */
void bw_conn_respond(conn_t *c, int close_after); /* c->out is a whole answer */
void bw_conn_respond_error(conn_t *c, int status);
void bw_conn_echo_next(conn_t *c);              /* one more block of the echo */
void bw_conn_on_timeout(uv_timer_t *t);

/* icap-conn-limits.c: MaxQueuedScans (1: refuse this request with 503) and
 * ST_DISCARD, which drops the refused request's body and then answers. */
int bw_conn_overloaded(bw_icap_worker_t *w);
void bw_conn_step_discard(conn_t *c);

/* icap-conn-deadline.c: deadlines that trickled bytes do not postpone (the
 * idle timer restarts on every byte).  The TLS handshake from accept; the
 * request head and encapsulated headers from the request's first byte; a
 * minimum rate over each MinBodyRatePeriod while the body is read. */
void bw_conn_deadline_tls(conn_t *c);      /* accepted: the handshake's clock */
void bw_conn_deadline_tls_check(conn_t *c); /* after each read: the handshake may be over */
void bw_conn_deadline_head(conn_t *c);     /* ST_HEAD with bytes buffered: once per request */
void bw_conn_deadline_body(conn_t *c);     /* ST_BODY begins, or reading resumes */
void bw_conn_deadline_stop(conn_t *c);     /* the request is read (or refused) */

/* icap-conn-limits.c: MaxConnections across workers.  Called when this
 * worker's count changes and from a timer while paused: a worker at its
 * share stops accepting while the server has room elsewhere. */
void bw_icap_worker_balance(bw_icap_worker_t *w);
/* icap-listen.c: pauses (1) or resumes (0) every listener of this worker. */
void bw_icap_listeners_pause(bw_icap_worker_t *w, int pause);
uint64_t bw_icap_worker_total(const bw_icap_worker_t *w);

/* icap-conn-tls.c: the TLS side of a connection (c->tls set) */
struct ssl_ctx_st;
int bw_conn_tls_start(conn_t *c, struct ssl_ctx_st *ctx);
void bw_conn_tls_free(conn_t *c);
uv_buf_t bw_conn_tls_rbuf(conn_t *c);
/* Decrypts what was read into c->in and sends what the session has for the
 * peer; BW_OK, BW_DONE (close_notify) or BW_ERR (close the connection). */
int bw_conn_tls_on_read(conn_t *c, const char *p, size_t n);
/* Encrypts c->out once the handshake is done (until then it waits) and
 * returns the ciphertext buffer to send, NULL on failure. */
bw_buf_t *bw_conn_tls_seal(conn_t *c);
/* Sends close_notify; 1 when it is on its way (the handles close once it is
 * written), 0 when there is nothing to send. */
int bw_conn_tls_goodbye(conn_t *c);
void bw_conn_close_handles(conn_t *c);

/* icap-answer.c */
void bw_conn_answer_verdict(conn_t *c);
const bw_http_msg_t *bw_conn_body_msg(conn_t *c);
void bw_conn_put_http_head(bw_buf_t *out, const bw_http_msg_t *m, int new_body, size_t new_len);
void bw_conn_put_encap(bw_buf_t *out, const bw_http_msg_t *msg, int is_resp_msg, size_t hdr_len,
                       int has_body);
int bw_conn_put_raw_chunks(conn_t *c, uint64_t from, uint64_t n);
void bw_conn_send_early_head(conn_t *c);
void bw_conn_user_decode(char *s);

#endif
