/* SPDX-License-Identifier: Apache-2.0 */
/* libcurl's multi interface driven by the worker's libuv loop, shared by the
 * channels that deliver through curl (the webhook and mail).  This is
 * curl's documented multi-socket pattern: curl tells us which sockets to
 * watch and when to call it back; uv_poll and one uv_timer do the watching.
 *
 * Chosen over a thread running curl_easy_perform because it needs no
 * locking, no second queue and no thread to join at shutdown: a transfer is
 * just more loop events, and aborting one is curl_multi_remove_handle.
 * Name resolution would be the one blocking step; Debian's libcurl resolves
 * in its own threads (AsynchDNS), and we warn if a libcurl without it is
 * found.  CURLOPT_TIMEOUT_MS bounds each whole transfer.
 *
 * One multi handle serves every channel: a channel (nf_curl_chan_t) only
 * brings its queue, its bound of transfers in flight, a hook that sets the
 * protocol's options on the easy handle, and a hook that judges the result.
 * So the webhook's POST and the mail's SMTP session share the sockets'
 * bookkeeping, the timer and the shutdown path, and neither can starve the
 * other's slots.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "policy/notify-int.h"

_Static_assert(sizeof(((nf_xfer_t *)0)->err) >= CURL_ERROR_SIZE, "curl's error buffer size");

typedef struct nf_sock {
    uv_poll_t poll;
    curl_socket_t fd;
    bw_notifier_t *n;
    struct nf_sock *next, **pprev;
} nf_sock_t;

#define LINK(head, x)                    \
    do {                                 \
        (x)->next = (head);              \
        (x)->pprev = &(head);            \
        if (head)                        \
            (head)->pprev = &(x)->next;  \
        (head) = (x);                    \
    } while (0)
#define UNLINK(x)                             \
    do {                                      \
        if ((x)->next)                        \
            (x)->next->pprev = (x)->pprev;    \
        *(x)->pprev = (x)->next;              \
    } while (0)

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void on_handle_closed(uv_handle_t *h)
{
    nf_handle_closed(h->data);
}

static void on_sock_closed(uv_handle_t *h)
{
    nf_sock_t *s = h->data;
    bw_notifier_t *n = s->n;
    free(s);
    nf_handle_closed(n); /* may free n */
}

static void sock_close(nf_sock_t *s)
{
    UNLINK(s);
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

static void xfer_finish(nf_xfer_t *x, CURLcode res)
{
    bw_notifier_t *n = x->n;
    long code = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_multi_remove_handle(n->multi, x->easy);
    curl_easy_cleanup(x->easy);
    x->chan->running--;
    x->chan->finish(n, (int)res, code,
                    res == CURLE_OK ? "" : x->err[0] ? x->err : curl_easy_strerror(res));
    UNLINK(x);
    nf_job_free(x->job);
    free(x);
}

static void check_done(bw_notifier_t *n)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(n->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        nf_xfer_t *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (x)
            xfer_finish(x, m->data.result);
    }
    nf_curl_start_next(n, &n->hook);
    nf_curl_start_next(n, &n->mail);
    nf_maybe_finish(n);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    nf_sock_t *s = h->data;
    bw_notifier_t *n = s->n;
    int flags = 0, running;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    else
        flags = (events & UV_READABLE ? CURL_CSELECT_IN : 0) |
                (events & UV_WRITABLE ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(n->multi, s->fd, flags, &running);
    check_done(n);
}

static void on_curl_timer(uv_timer_t *t)
{
    bw_notifier_t *n = t->data;
    int running;
    curl_multi_socket_action(n->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(n);
}

/* CURLMOPT_SOCKETFUNCTION: watch `fd` for `what`, or stop. */
static int sock_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    bw_notifier_t *n = userp;
    nf_sock_t *s = socketp;
    (void)e;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            curl_multi_assign(n->multi, fd, NULL);
            sock_close(s);
        }
        return 0;
    }
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s)
            return -1;
        if (uv_poll_init_socket(n->loop, &s->poll, fd)) {
            free(s);
            return -1;
        }
        s->poll.data = s;
        s->fd = fd;
        s->n = n;
        n->handles++;
        LINK(n->socks, s);
        curl_multi_assign(n->multi, fd, s);
    }
    int ev = (what & CURL_POLL_IN ? UV_READABLE : 0) | (what & CURL_POLL_OUT ? UV_WRITABLE : 0);
    if (ev)
        uv_poll_start(&s->poll, ev, on_poll);
    else
        uv_poll_stop(&s->poll);
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: call curl back after timeout_ms (-1: never).
 * Never calls curl from here: that is not allowed inside its callback. */
static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
    bw_notifier_t *n = userp;
    (void)m;
    if (!n->curl_timer_open)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&n->curl_timer);
    else
        uv_timer_start(&n->curl_timer, on_curl_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

int nf_curl_init(bw_notifier_t *n)
{
    if (n->multi)
        return 0;
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return -1;
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    if (v && !(v->features & CURL_VERSION_ASYNCHDNS))
        nf_log(n, 4, "this libcurl resolves host names synchronously; use IP addresses in "
                     "WebhookUrl and SmtpUrl so that the loop never waits for DNS");
    CURLM *m = curl_multi_init();
    if (!m || uv_timer_init(n->loop, &n->curl_timer)) {
        if (m)
            curl_multi_cleanup(m);
        return -1;
    }
    n->curl_timer.data = n;
    n->curl_timer_open = true;
    n->handles++;
    n->multi = m;
    curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(m, CURLMOPT_SOCKETDATA, n);
    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(m, CURLMOPT_TIMERDATA, n);
    return 0;
}

/* The options every channel wants; then the channel's own. */
static CURL *make_easy(bw_notifier_t *n, nf_xfer_t *x)
{
    CURL *e = curl_easy_init();
    if (!e)
        return NULL;
    x->easy = e;
    uint64_t ms = x->chan->timeout_ms;
    long tmo = ms > (uint64_t)0x7fffffff ? 0x7fffffffL : (long)ms;
    int bad = 0;
    bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, tmo) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->err) != CURLE_OK;
    if (bad || x->chan->setup(n, x)) {
        curl_easy_cleanup(e);
        x->easy = NULL;
        return NULL;
    }
    return e;
}

void nf_curl_start_next(bw_notifier_t *n, nf_curl_chan_t *c)
{
    while (n->multi && c->setup && !n->closing && c->running < n->conf.max_running) {
        nf_job_t *j = nf_queue_pop(&c->q);
        if (!j)
            break;
        nf_xfer_t *x = calloc(1, sizeof *x);
        CURL *e = NULL;
        if (x) {
            x->job = j;
            x->n = n;
            x->chan = c;
            e = make_easy(n, x);
        }
        if (!e || curl_multi_add_handle(n->multi, e) != CURLM_OK) {
            if (e)
                curl_easy_cleanup(e);
            free(x);
            nf_job_free(j);
            c->finish(n, CURLE_OUT_OF_MEMORY, 0, "cannot start a transfer");
            continue;
        }
        LINK(n->xfers, x);
        c->running++;
    }
}

void nf_curl_abort_all(bw_notifier_t *n)
{
    while (n->xfers) {
        nf_xfer_t *x = n->xfers;
        if (!x->err[0])
            strcpy(x->err, "aborted at shutdown");
        xfer_finish(x, CURLE_ABORTED_BY_CALLBACK);
    }
}

void nf_curl_teardown(bw_notifier_t *n)
{
    if (!n->multi)
        return;
    while (n->socks) {
        curl_multi_assign(n->multi, n->socks->fd, NULL);
        sock_close(n->socks);
    }
    curl_multi_cleanup(n->multi);
    n->multi = NULL;
    n->curl_timer_open = false;
    uv_timer_stop(&n->curl_timer);
    uv_close((uv_handle_t *)&n->curl_timer, on_handle_closed);
}
