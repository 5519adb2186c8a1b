/* The webhook: an HTTP POST of the event's JSON through libcurl's multi
 * interface, driven by the worker's libuv loop (curl's documented
 * multi-socket pattern: curl tells us which sockets to watch and when to
 * call it back; uv_poll and one uv_timer do the watching).
 *
 * Chosen over a thread running curl_easy_perform because it needs no
 * locking, no second queue and no thread to join at shutdown: a transfer is
 * just more loop events, and aborting one is curl_multi_remove_handle.
 * Name resolution would be the one blocking step; Debian's libcurl resolves
 * in its own threads (AsynchDNS), and we warn if a libcurl without it is
 * found.  CURLOPT_TIMEOUT_MS bounds each whole transfer.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "policy/notify-int.h"

typedef struct nf_sock {
    uv_poll_t poll;
    curl_socket_t fd;
    bw_notifier_t *n;
    struct nf_sock *next, **pprev;
} nf_sock_t;

typedef struct nf_post {
    CURL *easy;
    nf_job_t *job;
    bw_notifier_t *n;
    struct nf_post *next, **pprev;
    char err[CURL_ERROR_SIZE];
} nf_post_t;

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

static size_t discard(char *p, size_t size, size_t nmemb, void *ud)
{
    (void)p;
    (void)ud;
    return size * nmemb;
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

static void post_finish(nf_post_t *p, CURLcode res)
{
    bw_notifier_t *n = p->n;
    long code = 0;
    curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_multi_remove_handle(n->multi, p->easy);
    curl_easy_cleanup(p->easy);
    n->st.webhook_running--;
    if (res == CURLE_OK && code >= 200 && code < 300) {
        n->st.webhook_posts++;
    } else {
        n->st.webhook_failures++;
        if (res != CURLE_OK)
            nf_log(n, 4, "webhook %s: %s", n->conf.webhook_url,
                   p->err[0] ? p->err : curl_easy_strerror(res));
        else
            nf_log(n, 4, "webhook %s: answered HTTP %ld", n->conf.webhook_url, code);
    }
    UNLINK(p);
    nf_job_free(p->job);
    free(p);
}

static void check_done(bw_notifier_t *n)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(n->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        nf_post_t *p = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&p);
        if (p)
            post_finish(p, m->data.result);
    }
    nf_hook_start_next(n);
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

int nf_hook_init(bw_notifier_t *n)
{
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return -1;
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    if (v && !(v->features & CURL_VERSION_ASYNCHDNS))
        nf_log(n, 4, "webhook: this libcurl resolves host names synchronously; use an IP "
                     "address in WebhookUrl so that the loop never waits for DNS");
    CURLM *m = curl_multi_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *h2 = h ? curl_slist_append(h, "Expect:") : NULL;
    if (!m || !h2 || uv_timer_init(n->loop, &n->curl_timer)) {
        if (m)
            curl_multi_cleanup(m);
        curl_slist_free_all(h2 ? h2 : h);
        return -1;
    }
    n->curl_timer.data = n;
    n->curl_timer_open = true;
    n->handles++;
    n->multi = m;
    n->hdrs = h2;
    curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(m, CURLMOPT_SOCKETDATA, n);
    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(m, CURLMOPT_TIMERDATA, n);
    return 0;
}

static CURL *make_easy(bw_notifier_t *n, nf_post_t *p)
{
    CURL *e = curl_easy_init();
    if (!e)
        return NULL;
    long tmo = n->conf.webhook_timeout_ms > (uint64_t)0x7fffffff ? 0x7fffffffL
                                                                  : (long)n->conf.webhook_timeout_ms;
    int bad = 0;
    bad |= curl_easy_setopt(e, CURLOPT_URL, n->conf.webhook_url) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_POST, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, p->job->body) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)p->job->body_len) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, (struct curl_slist *)n->hdrs) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, tmo) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)p) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, p->err) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, "bulwark-notify/1") != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85: the string form */
    bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
#else
    bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) !=
           CURLE_OK;
#endif
    if (bad) {
        curl_easy_cleanup(e);
        return NULL;
    }
    return e;
}

void nf_hook_start_next(bw_notifier_t *n)
{
    while (n->multi && !n->closing && n->st.webhook_running < n->conf.max_running) {
        nf_job_t *j = nf_queue_pop(&n->hook_q);
        if (!j)
            break;
        nf_post_t *p = calloc(1, sizeof *p);
        if (p) {
            p->job = j;
            p->n = n;
            p->easy = make_easy(n, p);
        }
        if (!p || !p->easy || curl_multi_add_handle(n->multi, p->easy) != CURLM_OK) {
            n->st.webhook_failures++;
            nf_log(n, 3, "webhook %s: cannot start a transfer", n->conf.webhook_url);
            if (p && p->easy)
                curl_easy_cleanup(p->easy);
            free(p);
            nf_job_free(j);
            continue;
        }
        LINK(n->posts, p);
        n->st.webhook_running++;
    }
}

void nf_hook_abort_all(bw_notifier_t *n)
{
    while (n->posts) {
        nf_post_t *p = n->posts;
        if (!p->err[0])
            strcpy(p->err, "aborted at shutdown");
        post_finish(p, CURLE_ABORTED_BY_CALLBACK);
    }
}

void nf_hook_teardown(bw_notifier_t *n)
{
    if (!n->multi)
        return;
    while (n->socks) {
        curl_multi_assign(n->multi, n->socks->fd, NULL);
        sock_close(n->socks);
    }
    curl_multi_cleanup(n->multi);
    n->multi = NULL;
    curl_slist_free_all(n->hdrs);
    n->hdrs = NULL;
    n->curl_timer_open = false;
    uv_timer_stop(&n->curl_timer);
    uv_close((uv_handle_t *)&n->curl_timer, on_handle_closed);
}
