/* Internal to the notifier: the state shared by notify.c (queues, life
 * cycle, JSON, configuration), notify-script.c (NotifyScript through
 * uv_spawn) and notify-webhook.c (libcurl multi driven by the loop).
 *
 * Life cycle: every uv handle the notifier opens is counted in `handles`;
 * once closing has begun and nothing runs any more, the notifier closes its
 * own timers, and the close callback that brings `handles` to zero frees it.
 * So the free always happens in a close callback, never under a caller's
 * feet. */
#ifndef BW_POLICY_NOTIFY_INT_H
#define BW_POLICY_NOTIFY_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "policy/notify.h"

/* One queued delivery: the environment of a script, or a JSON body. */
typedef struct nf_job {
    struct nf_job *next;
    char **envp;   /* script: NULL-terminated; strings live in the same block */
    char *body;    /* webhook: JSON */
    size_t body_len;
} nf_job_t;

typedef struct nf_queue {
    nf_job_t *head, *tail;
    uint64_t n;
} nf_queue_t;

struct nf_run;
struct nf_post;
struct nf_sock;

struct bw_notifier {
    uv_loop_t *loop;
    bw_notify_conf_t conf;     /* own copies of the strings; "" means none */
    char *path_env;            /* "PATH=..." passed to scripts */
    bw_notify_log_fn log_fn;
    void *log_ud;
    bw_notify_stats_t st;
    nf_queue_t script_q, hook_q;
    uint64_t handles;          /* open uv handles we own */
    bool closing, tearing_down;
    bool *done;                /* set just before the notifier is freed */
    uint64_t last_drop_log;    /* uv_now of the last "dropped" message */
    uint64_t drops_unlogged;
    uv_timer_t drain_timer;    /* backstop while closing */
    struct nf_run *runs;       /* running scripts */
    /* webhook */
    void *multi;               /* CURLM * (void: keep curl.h out of the other files) */
    void *hdrs;                /* struct curl_slist * */
    uv_timer_t curl_timer;
    bool curl_timer_open;
    struct nf_post *posts;     /* transfers in flight */
    struct nf_sock *socks;     /* sockets curl asked us to watch */
};

void nf_log(bw_notifier_t *n, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The close callback bookkeeping of every handle: decrements `handles`
 * and frees the notifier when it was the last one of a teardown. */
void nf_handle_closed(bw_notifier_t *n);
/* Called whenever running work finishes: starts teardown once closing and
 * idle.  May close handles but never frees synchronously. */
void nf_maybe_finish(bw_notifier_t *n);
nf_job_t *nf_queue_pop(nf_queue_t *q);
void nf_job_free(nf_job_t *j);

/* notify-script.c */
void nf_script_start_next(bw_notifier_t *n);
void nf_script_kill_all(bw_notifier_t *n);
nf_job_t *nf_script_job(const bw_notifier_t *n, const bw_event_t *ev);

/* notify-webhook.c */
int nf_hook_init(bw_notifier_t *n);
void nf_hook_start_next(bw_notifier_t *n);
void nf_hook_abort_all(bw_notifier_t *n);
/* Closes the poll handles and the timer, and releases libcurl's state. */
void nf_hook_teardown(bw_notifier_t *n);

#endif
