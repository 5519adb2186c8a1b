/* SPDX-License-Identifier: Apache-2.0 */
/* Inside the link: the state shared by link.c (loop, heartbeat),
 * link-forward.c, link-tasks.c and link-policy.c. */
#ifndef BW_LINK_INT_H
#define BW_LINK_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "events/evspool.h"
#include "link/link-cred.h"
#include "link/link-http.h"
#include "link/link.h"

/* Requests are bounded so one dead console never holds the loop for long. */
#define LINK_TIMEOUT_MS 30000L

/* An exponential back-off with jitter, capped (link.c). */
typedef struct link_backoff {
    unsigned fails;
    uint64_t until_ms;    /* no try before this */
} link_backoff_t;

struct bw_link {
    bw_link_conf_t c;             /* copies of the strings below */
    bw_link_env_t env;
    bw_link_http_t *http;
    bw_link_cred_t cred;
    bool enrolled;
    bool said_not_enrolled;
    bw_evspool_reader_t *spool;
    uint64_t rejected;            /* events the console refused (4xx) and we dropped */
    uint64_t forwarded;
    link_backoff_t send_bo;       /* forwarding */
    link_backoff_t poll_bo;       /* heartbeat / tasks / policy / enrolment */
    uint64_t next_poll_ms;
    bool refused;                 /* the console said 401/403: revoked or unknown */
    /* policy state, reported in every heartbeat */
    long long policy_version;     /* applied (0: none) */
    long long policy_tried;       /* last version tried (applied or failed) */
    char policy_status[16];       /* "none", "applied", "failed" */
    char policy_error[1024];
    bw_buf_t resp;
};

/* link.c */
uint64_t bw_link_now(void);
void bw_link_fail(bw_link_t *l, link_backoff_t *b);
void bw_link_ok(link_backoff_t *b);
void bw_link_emit(bw_link_t *l, const char *type, const char *severity, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int bw_link_call(bw_link_t *l, const char *method, const char *path, const char *body,
                 long *status, bw_err_t *err);
/* link-forward.c: one batch; 1 sent (more may wait), 0 nothing to send, -1 failed. */
int bw_link_forward(bw_link_t *l);
/* link-tasks.c */
void bw_link_tasks(bw_link_t *l);
/* link-policy.c */
/* The whole file, NUL-terminated (*len without the NUL; caller frees):
 * 0, or -errno (-ENOMEM when out of memory). */
int bw_link_read_file(const char *path, char **out, size_t *len);
void bw_link_policy_init(bw_link_t *l);
void bw_link_policy_sync(bw_link_t *l, long long console_version);

#endif
