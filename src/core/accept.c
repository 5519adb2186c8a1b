/* SPDX-License-Identifier: Apache-2.0 */
/* Accepting connections: pause for a limit, back off when descriptors run
 * out.
 *
 * Why not uv_listen: libuv accepts inside its own loop and offers no way to
 * stop accepting on a listening handle short of closing it, and when accept
 * fails with EMFILE it reports the error once per call and retries at once
 * as long as the socket is readable, which is for ever while the queue
 * holds connections: one worker of ours spun at 100% CPU and logged the
 * error a million times in seconds.  So the listening socket is watched with
 * a uv_poll_t and accept4() is called here, which gives both controls:
 *
 *   - pause/resume (bw_acceptor_pause): a worker that has its share of the
 *     connection limit stops polling the socket.  The connection stays in
 *     the kernel's queue, which every worker polls, and a worker with room
 *     takes it, instead of this one accepting it only to answer 503.
 *
 *   - EMFILE/ENFILE: the poll stops for BW_ACCEPT_BACKOFF_MS (nginx disables
 *     its accept events for a while), and one connection is shed with the
 *     reserve descriptor (libuv's and Node's trick): the reserve is closed,
 *     the oldest waiting connection is accepted into it and closed, and the
 *     reserve is opened again.  Its client learns at once instead of waiting
 *     in the queue for its own timeout; the others wait until descriptors
 *     are free again.  The log line is rate-limited (ratelog.h).
 */
#include "core/accept.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int reserve_fd = -1;

static void on_acceptable(uv_poll_t *h, int status, int events);

void bw_accept_reserve_init(void)
{
    if (reserve_fd < 0)
        reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void update(bw_acceptor_t *a)
{
    int want = !a->closed && !a->paused && !a->backing_off;
    if (want == a->polling)
        return;
    a->polling = want;
    if (want)
        uv_poll_start(&a->poll, UV_READABLE, on_acceptable);
    else
        uv_poll_stop(&a->poll);
}

static void on_backoff_end(uv_timer_t *t)
{
    bw_acceptor_t *a = t->data;
    a->backing_off = 0;
    update(a);
}

/* Out of descriptors: shed the oldest waiting connection with the reserve,
 * stop accepting for a while, say so (at most once every 10 s). */
static void out_of_fds(bw_acceptor_t *a, int err)
{
    if (reserve_fd >= 0) {
        close(reserve_fd);
        reserve_fd = -1;
        int fd = accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            close(fd);
            a->shed++;
        }
        bw_accept_reserve_init();
    }
    a->backing_off = 1;
    update(a);
    uv_timer_start(&a->backoff, on_backoff_end, BW_ACCEPT_BACKOFF_MS, 0);
    uint64_t suppressed;
    if (a->log && bw_ratelog_allow(&a->emfile_log, uv_now(a->poll.loop), 10000, &suppressed)) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "%s%saccept: %s: not accepting for %d ms (%llu connections closed unserved "
                 "so far; %llu similar messages suppressed)",
                 a->what ? a->what : "", a->what ? ": " : "", strerror(err), BW_ACCEPT_BACKOFF_MS, (unsigned long long)a->shed,
                 (unsigned long long)suppressed);
        a->log(3, msg);
    }
}

static void on_acceptable(uv_poll_t *h, int status, int events)
{
    bw_acceptor_t *a = h->data;
    (void)events;
    if (status < 0 || !a->polling)
        return;
    for (unsigned i = 0; i < a->per_event && a->polling; i++) {
        int fd = accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            a->cb(a, fd); /* may pause us */
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            out_of_fds(a, errno);
        else if (errno != EAGAIN && errno != EWOULDBLOCK && a->log) {
            uint64_t suppressed;
            if (bw_ratelog_allow(&a->emfile_log, uv_now(a->poll.loop), 10000, &suppressed)) {
                char msg[256];
                snprintf(msg, sizeof msg, "%s%saccept: %s (%llu similar messages suppressed)",
                         a->what ? a->what : "", a->what ? ": " : "", strerror(errno), (unsigned long long)suppressed);
                a->log(4, msg);
            }
        }
        return;
    }
}

int bw_acceptor_start(bw_acceptor_t *a, uv_loop_t *loop, int fd, const char *what,
                      unsigned per_event, bw_accept_cb cb, bw_accept_log_cb log, void *data)
{
    memset(a, 0, sizeof *a);
    a->fd = fd;
    a->what = what;
    a->per_event = per_event ? per_event : 1;
    a->cb = cb;
    a->log = log;
    a->data = data;
    bw_accept_reserve_init();
    int rc = uv_poll_init_socket(loop, &a->poll, fd);
    if (rc)
        return rc;
    uv_timer_init(loop, &a->backoff);
    a->poll.data = a->backoff.data = a;
    a->handles = 2;
    rc = uv_poll_start(&a->poll, UV_READABLE, on_acceptable);
    if (rc) {
        bw_acceptor_close(a, NULL);
        return rc;
    }
    a->polling = 1;
    return 0;
}

void bw_acceptor_pause(bw_acceptor_t *a)
{
    a->paused = 1;
    update(a);
}

void bw_acceptor_resume(bw_acceptor_t *a)
{
    a->paused = 0;
    update(a);
}

static void on_handle_closed(uv_handle_t *h)
{
    bw_acceptor_t *a = h->data;
    if (--a->handles == 0 && a->on_closed)
        a->on_closed(a);
}

void bw_acceptor_close(bw_acceptor_t *a, void (*on_closed)(bw_acceptor_t *a))
{
    if (a->closed)
        return;
    a->closed = 1;
    a->on_closed = on_closed;
    a->polling = 0;
    uv_poll_stop(&a->poll);
    uv_timer_stop(&a->backoff);
    uv_close((uv_handle_t *)&a->poll, on_handle_closed);
    uv_close((uv_handle_t *)&a->backoff, on_handle_closed);
}
