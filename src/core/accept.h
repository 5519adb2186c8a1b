/* SPDX-License-Identifier: Apache-2.0 */
/* Accepting connections from a listening socket shared by several worker
 * processes, on a libuv loop, with the two controls libuv's uv_listen does
 * not give: pausing (a worker at its share of a connection limit stops
 * taking connections, so the kernel's queue hands them to another worker)
 * and backing off when descriptors run out (accept failing with EMFILE or
 * ENFILE must not spin the loop).  See accept.c. */
#ifndef BW_CORE_ACCEPT_H
#define BW_CORE_ACCEPT_H

#include <uv.h>

#include "core/ratelog.h"

typedef struct bw_acceptor bw_acceptor_t;

/* A new connection: fd is non-blocking and close-on-exec, and now the
 * callback's to keep or close. */
typedef void (*bw_accept_cb)(bw_acceptor_t *a, int fd);
/* A log line (no newline); level 3 error, 4 warning. */
typedef void (*bw_accept_log_cb)(int level, const char *msg);

struct bw_acceptor {
    uv_poll_t poll;
    uv_timer_t backoff;
    int fd;                  /* the listening socket; not ours to close */
    const char *what;        /* "icap", "icaps": for log lines (NULL: none) */
    unsigned per_event;      /* accepts per wake-up (1 spreads them across workers) */
    bw_accept_cb cb;
    bw_accept_log_cb log;
    void *data;              /* the owner's */
    int paused;              /* by the owner: bw_acceptor_pause */
    int backing_off;         /* descriptors ran out: the timer resumes */
    int polling;
    int closed;
    unsigned handles;        /* open libuv handles, for bw_acceptor_close */
    void (*on_closed)(bw_acceptor_t *a);
    bw_ratelog_t emfile_log;
    uint64_t shed;           /* connections closed at once for want of a descriptor */
};

/* How long accepting stops after EMFILE/ENFILE. */
#define BW_ACCEPT_BACKOFF_MS 200

int bw_acceptor_start(bw_acceptor_t *a, uv_loop_t *loop, int fd, const char *what,
                      unsigned per_event, bw_accept_cb cb, bw_accept_log_cb log, void *data);
/* The owner's pause (a connection limit): no accept until resumed.  Both
 * are cheap and idempotent. */
void bw_acceptor_pause(bw_acceptor_t *a);
void bw_acceptor_resume(bw_acceptor_t *a);
/* Stops and closes the handles; on_closed (may be NULL) runs once both are
 * closed.  The listening fd stays open. */
void bw_acceptor_close(bw_acceptor_t *a, void (*on_closed)(bw_acceptor_t *a));

/* Opens the process's reserve descriptor once (idempotent): call it before
 * serving.  accept.c spends it to shed one connection when the process is
 * out of descriptors, and takes it back at once. */
void bw_accept_reserve_init(void);

#endif
