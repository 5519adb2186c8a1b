/* SPDX-License-Identifier: Apache-2.0 */
/* Administrator notifications: the event's JSON, the bounded queues and the
 * notifier's life cycle.  The channels live in notify-script.c,
 * notify-webhook.c and notify-mail.c (the last two run on the libcurl
 * machinery of notify-curl.c); the keys are in notify-conf.c.
 *
 * Design: everything runs on the worker's libuv loop, with no thread of our
 * own.  bw_notify only copies the event into a per-channel job (a ready
 * environment block for the script, a ready JSON body for the webhook) and
 * starts it if a slot is free; process exits, timers and curl's sockets are
 * all loop events.  A channel holds at most max_running jobs in flight and
 * max_queued waiting, so a detection storm costs bounded memory and
 * processes, and the excess is dropped and counted rather than stalling the
 * scans that produce it.  Each channel's job is built when the event
 * arrives (an environment block, a JSON body, a whole mail message), so a
 * queued event holds no pointer into the caller's memory.
 */
#include "policy/notify-int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bulwark/bulwark.h"
#include "core/buf.h"
#include "core/log.h"

/* ---- JSON --------------------------------------------------------------- */

size_t nf_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

static void json_str(bw_buf_t *b, const char *s)
{
    if (!s) {
        bw_buf_puts(b, "null");
        return;
    }
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strnlen(s, BW_NOTIFY_MAX_FIELD);
    bw_buf_append(b, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        size_t l = nf_utf8_seq(p + i, n - i);
        if (l == 0) {
            bw_buf_puts(b, "\\ufffd");
            i++;
        } else if (l > 1) {
            /* U+2028/U+2029 are valid JSON but end lines in JavaScript. */
            if (l == 3 && c == 0xE2 && p[i + 1] == 0x80 && (p[i + 2] == 0xA8 || p[i + 2] == 0xA9))
                bw_buf_printf(b, "\\u%04x", 0x2000u + (p[i + 2] == 0xA8 ? 0x28u : 0x29u));
            else
                bw_buf_append(b, p + i, l);
            i += l;
        } else {
            const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" :
                              c == '\r' ? "\\r" : c == '\t' ? "\\t" : c == '\b' ? "\\b" :
                              c == '\f' ? "\\f" : NULL;
            if (esc)
                bw_buf_puts(b, esc);
            else if (c < 0x20 || c == 0x7f)
                bw_buf_printf(b, "\\u%04x", (unsigned)c);
            else
                bw_buf_append(b, &p[i], 1);
            i++;
        }
    }
    bw_buf_append(b, "\"", 1);
}

char *bw_event_json(const bw_event_t *ev)
{
    static const char *const names[] = {"status", "threat", "url", "client_ip",
                                        "user",   "group",  "action", "method"};
    const char *vals[] = {ev->status, ev->threat, ev->url,    ev->client_ip,
                          ev->user,   ev->group,  ev->action, ev->method};
    bw_buf_t b = {0};
    bw_buf_append(&b, "{", 1);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        bw_buf_printf(&b, "%s\"%s\":", i ? "," : "", names[i]);
        json_str(&b, vals[i]);
    }
    bw_buf_printf(&b, ",\"size\":%llu,\"time\":%lld}", (unsigned long long)ev->size,
                  (long long)ev->time);
    bw_buf_append(&b, "", 1);
    if (b.oom) {
        bw_buf_free(&b);
        return NULL;
    }
    return b.p;
}

/* ---- queues and logging -------------------------------------------------- */

void nf_job_free(nf_job_t *j)
{
    if (j) {
        free(j->body);
        free(j->envp);
        free(j);
    }
}

nf_job_t *nf_body_job(char *body)
{
    nf_job_t *j = body ? calloc(1, sizeof *j) : NULL;
    if (!j) {
        free(body);
        return NULL;
    }
    j->body = body;
    j->body_len = strlen(body);
    return j;
}

void nf_queue_push(nf_queue_t *q, nf_job_t *j)
{
    j->next = NULL;
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    q->n++;
}

nf_job_t *nf_queue_pop(nf_queue_t *q)
{
    nf_job_t *j = q->head;
    if (j) {
        q->head = j->next;
        if (!q->head)
            q->tail = NULL;
        q->n--;
    }
    return j;
}

static uint64_t queue_clear(nf_queue_t *q)
{
    uint64_t k = 0;
    for (nf_job_t *j; (j = nf_queue_pop(q)); k++)
        nf_job_free(j);
    return k;
}

void nf_log(bw_notifier_t *n, int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n->log_fn)
        n->log_fn(n->log_ud, level, msg);
    else
        bw_log(level, "notify: %s", msg);
}

/* One message per 10 s at most, with the count since the last one: a flood
 * of drops must not become a flood of log lines. */
static void count_drop(bw_notifier_t *n, const char *channel)
{
    n->st.dropped++;
    n->drops_unlogged++;
    uint64_t now = uv_now(n->loop);
    if (n->last_drop_log && now - n->last_drop_log < 10000)
        return;
    nf_log(n, 4, "%s: queue full (%llu running, %llu queued): dropped %llu event(s)", channel,
           (unsigned long long)n->conf.max_running, (unsigned long long)n->conf.max_queued,
           (unsigned long long)n->drops_unlogged);
    n->last_drop_log = now ? now : 1;
    n->drops_unlogged = 0;
}

/* ---- the notifier ---------------------------------------------------------- */

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

static void free_conf_strings(bw_notify_conf_t *c)
{
    free(c->script);
    free(c->webhook_url);
    free(c->mail_from);
    free(c->smtp_url);
    free(c->smtp_user);
    free(c->smtp_password);
    free(c->smtp_ca_file);
}

/* Everything the notifier owns besides its handles. */
static void free_state(bw_notifier_t *n)
{
    nf_hook_free(n);
    nf_mail_free(n);
    free_conf_strings(&n->conf);
    free(n->path_env);
}

bw_notifier_t *bw_notifier_new(uv_loop_t *loop, const bw_notify_conf_t *conf)
{
    bw_notifier_t *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->loop = loop;
    n->conf = *conf;
    n->conf.script = dup_or_empty(conf->script);
    n->conf.webhook_url = dup_or_empty(conf->webhook_url);
    n->conf.mail_from = dup_or_empty(conf->mail_from);
    n->conf.smtp_url = dup_or_empty(conf->smtp_url && conf->smtp_url[0] ? conf->smtp_url
                                                                         : "smtp://localhost");
    n->conf.smtp_user = dup_or_empty(conf->smtp_user);
    n->conf.smtp_password = dup_or_empty(conf->smtp_password);
    n->conf.smtp_ca_file = dup_or_empty(conf->smtp_ca_file);
    /* The list stays the caller's: nf_mail_init copies the addresses. */
    const char *path = getenv("PATH");
    size_t pl = strlen(path && path[0] ? path : "/usr/local/bin:/usr/bin:/bin");
    n->path_env = malloc(pl + 6);
    if (n->path_env)
        snprintf(n->path_env, pl + 6, "PATH=%s",
                 path && path[0] ? path : "/usr/local/bin:/usr/bin:/bin");
    /* A struct filled by hand may hold zeros the table forbids: 0 would
     * mean "kill at once" for a script and "no limit" to curl. */
    if (!n->conf.max_running)
        n->conf.max_running = 1;
    if (!n->conf.script_timeout_ms)
        n->conf.script_timeout_ms = 10000;
    if (!n->conf.webhook_timeout_ms)
        n->conf.webhook_timeout_ms = 5000;
    if (!n->conf.mail_timeout_ms)
        n->conf.mail_timeout_ms = 10000;
    bool mail = bw_notify_conf_enabled(&(bw_notify_conf_t){.mail_to = conf->mail_to});
    n->conf.mail_to = (bw_conf_list_t){0, NULL};
    if (!n->conf.script || !n->conf.webhook_url || !n->conf.mail_from || !n->conf.smtp_url ||
        !n->conf.smtp_user || !n->conf.smtp_password || !n->conf.smtp_ca_file || !n->path_env ||
        uv_timer_init(loop, &n->drain_timer)) {
        free_state(n);
        free(n);
        return NULL;
    }
    n->drain_timer.data = n;
    n->handles = 1;
    /* Notifications are an accessory: run without a channel that cannot
     * start rather than fail the worker, and say so. */
    if (n->conf.webhook_url[0] && (nf_curl_init(n) || nf_hook_init(n))) {
        nf_log(n, 3, "webhook: cannot initialise libcurl; webhook disabled");
        n->hook.setup = NULL;
    }
    if (mail) {
        n->conf.mail_to = conf->mail_to; /* read by nf_mail_init only */
        int rc = nf_curl_init(n) || nf_mail_init(n);
        n->conf.mail_to = (bw_conf_list_t){0, NULL};
        if (rc) {
            nf_log(n, 3, "mail: cannot start (no usable MailTo, out of memory, or libcurl "
                         "failed); mail disabled");
            n->mail.setup = NULL;
        }
    }
    return n;
}

void bw_notifier_set_log(bw_notifier_t *n, bw_notify_log_fn fn, void *ud)
{
    n->log_fn = fn;
    n->log_ud = ud;
}

/* Queues a job for a curl channel that is on, or counts the drop. */
static void curl_enqueue(bw_notifier_t *n, nf_curl_chan_t *c, const bw_event_t *ev,
                         nf_job_t *(*make)(bw_notifier_t *, const bw_event_t *))
{
    if (!c->setup)
        return;
    if (n->closing || (c->q.n >= n->conf.max_queued && c->running >= n->conf.max_running)) {
        count_drop(n, c->name);
        return;
    }
    nf_job_t *j = make(n, ev);
    if (!j) {
        count_drop(n, c->name);
        return;
    }
    nf_queue_push(&c->q, j);
    nf_curl_start_next(n, c);
}

static nf_job_t *make_hook_job(bw_notifier_t *n, const bw_event_t *ev)
{
    (void)n;
    return nf_hook_job(ev);
}

void bw_notify(bw_notifier_t *n, const bw_event_t *ev)
{
    if (!n || !ev)
        return;
    if (n->conf.script[0]) {
        if (n->closing || (n->script_q.n >= n->conf.max_queued &&
                           n->script_running >= n->conf.max_running)) {
            count_drop(n, "NotifyScript");
        } else {
            nf_job_t *j = nf_script_job(n, ev);
            if (!j) {
                count_drop(n, "NotifyScript");
            } else {
                nf_queue_push(&n->script_q, j);
                nf_script_start_next(n);
            }
        }
    }
    curl_enqueue(n, &n->hook, ev, make_hook_job);
    curl_enqueue(n, &n->mail, ev, nf_mail_job);
}

void bw_notifier_stats(const bw_notifier_t *n, bw_notify_stats_t *out)
{
    *out = n->st;
    out->script_running = n->script_running;
    out->script_queued = n->script_q.n;
    out->webhook_running = n->hook.running;
    out->webhook_queued = n->hook.q.n;
    out->mail_running = n->mail.running;
    out->mail_queued = n->mail.q.n;
}

static void on_handle_closed(uv_handle_t *h)
{
    nf_handle_closed(h->data);
}

void nf_handle_closed(bw_notifier_t *n)
{
    if (--n->handles || !n->tearing_down)
        return;
    if (n->done)
        *n->done = true;
    free_state(n);
    free(n);
}

void nf_maybe_finish(bw_notifier_t *n)
{
    if (!n->closing || n->tearing_down || n->script_running || n->hook.running ||
        n->mail.running)
        return;
    n->tearing_down = true;
    nf_curl_teardown(n);
    uv_timer_stop(&n->drain_timer);
    uv_close((uv_handle_t *)&n->drain_timer, on_handle_closed);
}

/* The backstop: running work has had its own timeouts and a second more. */
static void on_drain_timeout(uv_timer_t *t)
{
    bw_notifier_t *n = t->data;
    nf_log(n, 4, "shutting down: stopping %llu script(s), %llu webhook post(s) and %llu mail(s) "
                 "still running",
           (unsigned long long)n->script_running, (unsigned long long)n->hook.running,
           (unsigned long long)n->mail.running);
    nf_script_kill_all(n);
    nf_curl_abort_all(n);
    nf_maybe_finish(n);
}

void bw_notifier_close(bw_notifier_t *n)
{
    if (!n || n->closing)
        return;
    n->closing = true;
    uint64_t k = queue_clear(&n->script_q) + queue_clear(&n->hook.q) + queue_clear(&n->mail.q);
    n->st.dropped += k;
    if (k)
        nf_log(n, 4, "shutting down: dropped %llu queued event(s)", (unsigned long long)k);
    uint64_t bound = n->conf.script_timeout_ms;
    if (n->conf.webhook_timeout_ms > bound)
        bound = n->conf.webhook_timeout_ms;
    if (n->mail.setup && n->conf.mail_timeout_ms > bound)
        bound = n->conf.mail_timeout_ms;
    uv_timer_start(&n->drain_timer, on_drain_timeout, bound + 1000, 0);
    nf_maybe_finish(n);
}

void bw_notifier_free(bw_notifier_t *n)
{
    if (!n)
        return;
    bool done = false;
    uv_loop_t *loop = n->loop;
    n->done = &done;
    bw_notifier_close(n);
    /* Each pass runs at least one of our timers, exits or close callbacks:
     * the drain timer bounds the whole wait. */
    while (!done)
        uv_run(loop, UV_RUN_ONCE);
}
