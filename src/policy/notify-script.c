/* SPDX-License-Identifier: Apache-2.0 */
/* NotifyScript: one process per event, through uv_spawn, never a shell.
 *
 * The event travels in environment variables only (no arguments, no shell,
 * so no quoting can go wrong whatever bytes a URL holds).  The child gets
 * stdin and stdout on /dev/null and the daemon's stderr, so a script's
 * complaints land in the daemon's log in the foreground.  It is started in
 * a session of its own (UV_PROCESS_DETACHED = setsid) so that the timeout
 * kills its whole process group: a script stuck in `sleep` or `curl` is
 * gone with all its children, not just its shell.  The exit arrives as a
 * loop event (libuv's SIGCHLD handling); nothing here waits.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/notify-int.h"

typedef struct nf_run {
    uv_process_t proc;
    uv_timer_t timer;
    bw_notifier_t *n;
    struct nf_run *next, **pprev;
    int open;           /* of proc and timer */
    bool timed_out, exited;
    uint64_t started;   /* uv_now */
} nf_run_t;

/* One block: the pointer array, then "NAME=value" strings. */
nf_job_t *nf_script_job(const bw_notifier_t *n, const bw_event_t *ev)
{
    enum { NVARS = 11 };
    static const char *const names[NVARS - 1] = {
        "BULWARK_STATUS", "BULWARK_THREAT", "BULWARK_URL",    "BULWARK_CLIENT_IP", "BULWARK_USER",
        "BULWARK_GROUP",  "BULWARK_ACTION", "BULWARK_METHOD", "BULWARK_SIZE",      "BULWARK_TIME",
    };
    char size_s[24], time_s[24];
    snprintf(size_s, sizeof size_s, "%llu", (unsigned long long)ev->size);
    snprintf(time_s, sizeof time_s, "%lld", (long long)ev->time);
    const char *vals[NVARS - 1] = {ev->status, ev->threat, ev->url,    ev->client_ip, ev->user,
                                   ev->group,  ev->action, ev->method, size_s,        time_s};
    size_t lens[NVARS - 1], total = (NVARS + 1) * sizeof(char *) + strlen(n->path_env) + 1;
    for (int i = 0; i < NVARS - 1; i++) {
        lens[i] = vals[i] ? strnlen(vals[i], BW_NOTIFY_MAX_FIELD) : 0;
        total += strlen(names[i]) + 1 + lens[i] + 1;
    }
    nf_job_t *j = calloc(1, sizeof *j);
    char **envp = malloc(total);
    if (!j || !envp) {
        free(j);
        free(envp);
        return NULL;
    }
    char *p = (char *)(envp + NVARS + 1);
    for (int i = 0; i < NVARS - 1; i++) {
        envp[i] = p;
        size_t nl = strlen(names[i]);
        memcpy(p, names[i], nl);
        p[nl] = '=';
        if (lens[i])
            memcpy(p + nl + 1, vals[i], lens[i]);
        p[nl + 1 + lens[i]] = '\0';
        p += nl + 1 + lens[i] + 1;
    }
    envp[NVARS - 1] = p;
    strcpy(p, n->path_env);
    envp[NVARS] = NULL;
    j->envp = envp;
    return j;
}

static void on_run_closed(uv_handle_t *h)
{
    nf_run_t *r = h->data;
    bw_notifier_t *n = r->n;
    if (--r->open == 0)
        free(r);
    nf_handle_closed(n); /* may free n: nothing after this */
}

static void run_close(nf_run_t *r)
{
    if (r->next)
        r->next->pprev = r->pprev;
    *r->pprev = r->next;
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, on_run_closed);
    uv_close((uv_handle_t *)&r->proc, on_run_closed);
}

static void kill_group(nf_run_t *r)
{
    /* The child called setsid(), so its pid is its process group. */
    if (r->proc.pid > 0 && kill(-r->proc.pid, SIGKILL) && errno == ESRCH)
        uv_process_kill(&r->proc, SIGKILL);
}

static void on_timeout(uv_timer_t *t)
{
    nf_run_t *r = t->data;
    if (r->exited)
        return;
    r->timed_out = true;
    kill_group(r);
}

static void on_script_exit(uv_process_t *p, int64_t status, int sig)
{
    nf_run_t *r = p->data;
    bw_notifier_t *n = r->n;
    uint64_t ms = uv_now(n->loop) - r->started;
    r->exited = true;
    n->script_running--;
    if (r->timed_out) {
        n->st.script_timeouts++;
        nf_log(n, 4, "NotifyScript %s: killed after %llu ms (NotifyScriptTimeout)",
               n->conf.script, (unsigned long long)ms);
    } else if (status || sig) {
        n->st.script_failures++;
        if (sig)
            nf_log(n, 4, "NotifyScript %s: killed by signal %d after %llu ms", n->conf.script,
                   sig, (unsigned long long)ms);
        else
            nf_log(n, 4, "NotifyScript %s: exit status %lld after %llu ms", n->conf.script,
                   (long long)status, (unsigned long long)ms);
    }
    run_close(r);
    nf_script_start_next(n);
    nf_maybe_finish(n);
}

static void start_one(bw_notifier_t *n, nf_job_t *j)
{
    nf_run_t *r = calloc(1, sizeof *r);
    if (!r || uv_timer_init(n->loop, &r->timer)) {
        free(r);
        n->st.script_failures++;
        nf_log(n, 3, "NotifyScript %s: cannot start: out of memory", n->conf.script);
        return;
    }
    r->n = n;
    r->open = 2;
    r->timer.data = r;
    r->proc.data = r;
    n->handles += 2;
    r->next = n->runs;
    r->pprev = &n->runs;
    if (n->runs)
        n->runs->pprev = &r->next;
    n->runs = r;

    char *args[] = {n->conf.script, NULL};
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE}, /* libuv opens /dev/null for ignored fds 0-2 */
        {.flags = UV_IGNORE},
        {.flags = UV_INHERIT_FD, .data.fd = 2},
    };
    uv_process_options_t o = {
        .exit_cb = on_script_exit,
        .file = n->conf.script,
        .args = args,
        .env = j->envp,
        .flags = UV_PROCESS_DETACHED,
        .stdio_count = 3,
        .stdio = stdio,
    };
    r->started = uv_now(n->loop);
    int e = uv_spawn(n->loop, &r->proc, &o);
    if (e) {
        /* libuv reports exec failures (ENOENT, EACCES, ENOEXEC) here. */
        n->st.script_failures++;
        nf_log(n, 3, "NotifyScript %s: cannot start: %s", n->conf.script, uv_strerror(e));
        r->exited = true;
        run_close(r);
        return;
    }
    n->st.script_runs++;
    n->script_running++;
    uv_timer_start(&r->timer, on_timeout, n->conf.script_timeout_ms, 0);
}

void nf_script_start_next(bw_notifier_t *n)
{
    while (!n->closing && n->script_running < n->conf.max_running) {
        nf_job_t *j = nf_queue_pop(&n->script_q);
        if (!j)
            break;
        start_one(n, j); /* the child has its copy of the environment now */
        nf_job_free(j);
    }
}

void nf_script_kill_all(bw_notifier_t *n)
{
    for (nf_run_t *r = n->runs; r; r = r->next)
        if (!r->exited) {
            r->timed_out = true;
            kill_group(r);
        }
}
