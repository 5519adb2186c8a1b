/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to the notifier: the state shared by notify.c (queues, life
 * cycle, JSON, configuration), notify-script.c (NotifyScript through
 * uv_spawn), notify-curl.c (libcurl's multi interface driven by the loop),
 * and the two channels that run through it, notify-webhook.c and
 * notify-mail.c.
 *
 * Life cycle: every uv handle the notifier opens is counted in `handles`;
 * once closing has begun and nothing runs any more, the notifier closes its
 * own timers, and the close callback that brings `handles` to zero frees it.
 * So the free always happens in a close callback, never under a caller's
 * feet. */
#ifndef BW_POLICY_NOTIFY_INT_H
#define BW_POLICY_NOTIFY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/notify.h"

/* One queued delivery: the environment of a script, or the bytes a curl
 * transfer sends (the webhook's JSON, the mail's message). */
typedef struct nf_job {
    struct nf_job *next;
    char **envp;   /* script: NULL-terminated; strings live in the same block */
    char *body;    /* curl channels: what is sent */
    size_t body_len;
} nf_job_t;

typedef struct nf_queue {
    nf_job_t *head, *tail;
    uint64_t n;
} nf_queue_t;

struct nf_run;
struct nf_sock;
struct nf_xfer;

/* A channel that runs its deliveries as libcurl transfers on the shared
 * multi handle: its queue, its count in flight, and two hooks. */
typedef struct nf_curl_chan {
    const char *name;      /* in log messages: "webhook", "mail" */
    uint64_t timeout_ms;   /* CURLOPT_TIMEOUT_MS of each transfer */
    nf_queue_t q;
    uint64_t running;
    /* Sets the channel's options on x->easy (a CURL *) for x->job; the
     * common ones (timeout, error buffer, private pointer, no signals) are
     * set already.  0, or -1 when an option is refused. */
    int (*setup)(bw_notifier_t *n, struct nf_xfer *x);
    /* Counts and logs a finished transfer: curl's result (CURLcode), the
     * protocol's last response code, and curl's error text ("" if none). */
    void (*finish)(bw_notifier_t *n, int res, long code, const char *err);
} nf_curl_chan_t;

/* One transfer in flight. */
typedef struct nf_xfer {
    void *easy;            /* CURL * */
    nf_job_t *job;
    nf_curl_chan_t *chan;
    bw_notifier_t *n;
    size_t sent;           /* uploads (mail): bytes of job->body handed to curl */
    struct nf_xfer *next, **pprev;
    char err[256];         /* CURLOPT_ERRORBUFFER: CURL_ERROR_SIZE is 256 */
} nf_xfer_t;

struct bw_notifier {
    uv_loop_t *loop;
    bw_notify_conf_t conf;     /* own copies of the strings; "" means none */
    char *path_env;            /* "PATH=..." passed to scripts */
    bw_notify_log_fn log_fn;
    void *log_ud;
    bw_notify_stats_t st;      /* counters; the gauges are filled in on read */
    nf_queue_t script_q;
    uint64_t script_running;
    uint64_t handles;          /* open uv handles we own */
    bool closing, tearing_down;
    bool *done;                /* set just before the notifier is freed */
    uint64_t last_drop_log;    /* uv_now of the last "dropped" message */
    uint64_t drops_unlogged;
    uv_timer_t drain_timer;    /* backstop while closing */
    struct nf_run *runs;       /* running scripts */
    /* libcurl: one multi handle for the webhook and mail channels */
    void *multi;               /* CURLM * (void: keep curl.h out of the other files) */
    uv_timer_t curl_timer;
    bool curl_timer_open;
    struct nf_xfer *xfers;     /* transfers in flight, all channels */
    struct nf_sock *socks;     /* sockets curl asked us to watch */
    nf_curl_chan_t hook, mail; /* a channel is on when its conf says so */
    /* webhook */
    void *hook_hdrs;           /* struct curl_slist *: the POST's headers */
    /* mail */
    void *mail_rcpt;           /* struct curl_slist *: "<addr>" per MailTo */
    char **mail_to;            /* the MailTo addresses, NULL-terminated */
    size_t mail_nto;
    char *mail_from;           /* MailFrom, or bulwark@<host name> */
    char *mail_envelope_from;  /* "<MailFrom>" for MAIL FROM */
    char *host;                /* this host's name, for Message-ID and MailFrom */
    uint64_t mail_seq;         /* makes each Message-ID unique */
};

void nf_log(bw_notifier_t *n, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The close callback bookkeeping of every handle: decrements `handles`
 * and frees the notifier when it was the last one of a teardown. */
void nf_handle_closed(bw_notifier_t *n);
/* Called whenever running work finishes: starts teardown once closing and
 * idle.  May close handles but never frees synchronously. */
void nf_maybe_finish(bw_notifier_t *n);
void nf_queue_push(nf_queue_t *q, nf_job_t *j);
nf_job_t *nf_queue_pop(nf_queue_t *q);
void nf_job_free(nf_job_t *j);
/* A job whose body is `body` (taken over: freed with the job, also when
 * this fails); NULL when out of memory. */
nf_job_t *nf_body_job(char *body);

/* Length of the valid UTF-8 sequence at s (n > 0 bytes), or 0 (RFC 3629:
 * no overlongs, no surrogates, nothing above U+10FFFF). */
size_t nf_utf8_seq(const unsigned char *s, size_t n);

/* notify-script.c */
void nf_script_start_next(bw_notifier_t *n);
void nf_script_kill_all(bw_notifier_t *n);
nf_job_t *nf_script_job(const bw_notifier_t *n, const bw_event_t *ev);

/* notify-curl.c: the multi handle on the loop, shared by the channels. */
int nf_curl_init(bw_notifier_t *n);
/* Starts queued jobs of `c` while it has free slots. */
void nf_curl_start_next(bw_notifier_t *n, nf_curl_chan_t *c);
/* Finishes every transfer in flight as failed ("aborted at shutdown"). */
void nf_curl_abort_all(bw_notifier_t *n);
/* Closes the poll handles and the timer, and releases libcurl's state. */
void nf_curl_teardown(bw_notifier_t *n);

/* notify-webhook.c */
int nf_hook_init(bw_notifier_t *n);
nf_job_t *nf_hook_job(const bw_event_t *ev);
void nf_hook_free(bw_notifier_t *n);

/* notify-mail.c */
int nf_mail_init(bw_notifier_t *n);
nf_job_t *nf_mail_job(bw_notifier_t *n, const bw_event_t *ev);
void nf_mail_free(bw_notifier_t *n);

#endif
