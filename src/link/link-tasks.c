/* SPDX-License-Identifier: Apache-2.0 */
/* Tasks from the console: polled when the heartbeat says some wait, run one
 * after the other in the shipper, each reported back (done/failed with a
 * message) and emitted as a task.done / task.failed event.
 *
 *   reload, reload-bases   the supervisor's verbs (through its channel to
 *                          the shipper: the control socket is root's)
 *   update                 `bulwark update -c CONF`, then reload-bases
 *   quarantine.restore {id}  decrypts the object into RestoreDirectory/ID
 *   quarantine.delete {id}   removes it from the quarantine
 *   unblock {address}      failed: this node has no network sensor
 * A task of a type this node does not know fails with that reason. */
#include "link/link-int.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "quarantine/quarantine.h"

#define UPDATE_TIMEOUT_S 1800

static int ctl_task(bw_link_t *l, const char *verb, char *msg, size_t cap)
{
    if (!l->env.ctl) {
        snprintf(msg, cap, "no channel to the supervisor");
        return 0;
    }
    char *text = NULL;
    bw_err_t err;
    int r = l->env.ctl(l->env.ctl_ud, verb, &text, &err);
    if (r < 0)
        snprintf(msg, cap, "%s: %s", verb, err.msg);
    else
        snprintf(msg, cap, "%s: %s", verb, text && text[0] ? text : (r == 1 ? "ok" : "failed"));
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    for (char *p = msg; *p; p++)
        if (*p == '\n')
            *p = ';';
    free(text);
    return r == 1;
}

/* Runs `bulwark update`; its last line of output is the message. */
static int run_update(bw_link_t *l, char *msg, size_t cap)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC)) {
        snprintf(msg, cap, "update: pipe: %s", strerror(errno));
        return 0;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(msg, cap, "update: fork: %s", strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return 0;
    }
    if (pid == 0) {
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        const char *prog = l->env.bulwark_path ? l->env.bulwark_path : "bulwark";
        execl(prog, "bulwark", "update", "-c", l->env.conf_path, (char *)NULL);
        dprintf(2, "cannot run %s: %s\n", prog, strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    char out[8192];
    size_t len = 0;
    time_t deadline = time(NULL) + UPDATE_TIMEOUT_S;
    for (;;) {
        struct pollfd p = {pfd[0], POLLIN, 0};
        int left = (int)(deadline - time(NULL));
        if (left <= 0 || poll(&p, 1, left * 1000) == 0) {
            kill(pid, SIGKILL);
            break;
        }
        char tmp[1024];
        ssize_t r = read(pfd[0], tmp, sizeof tmp);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        for (ssize_t i = 0; i < r; i++) { /* keep the tail */
            if (len == sizeof out - 1) {
                memmove(out, out + sizeof out / 2, sizeof out / 2 - 1);
                len = sizeof out / 2 - 1;
            }
            out[len++] = tmp[i];
        }
    }
    close(pfd[0]);
    out[len] = '\0';
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    while (len && (out[len - 1] == '\n' || out[len - 1] == ' '))
        out[--len] = '\0';
    const char *last = strrchr(out, '\n');
    last = last ? last + 1 : out;
    bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!ok) {
        snprintf(msg, cap, "update failed (%s %d): %.900s", WIFEXITED(st) ? "exit" : "signal",
                 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), last);
        return 0;
    }
    char rb[1024];
    int r = ctl_task(l, "reload-bases", rb, sizeof rb);
    snprintf(msg, cap, "update: %.900s; %.900s", last, rb);
    return r;
}

static int quarantine_task(bw_link_t *l, bool restore, json_t *args, char *msg, size_t cap,
                           char *qid, size_t qcap)
{
    const char *arg = json_string_value(json_object_get(args, "id"));
    if (!arg) {
        snprintf(msg, cap, "missing args.id (the quarantine id)");
        return 0;
    }
    char id[BW_QUAR_ID_LEN + 1];
    bw_err_t err;
    if (bw_quar_id_check(arg, id, &err)) {
        snprintf(msg, cap, "%s", err.msg);
        return 0;
    }
    snprintf(qid, qcap, "%s", id);
    if (!l->env.quarantine_dir || !l->env.quarantine_dir[0]) {
        snprintf(msg, cap, "this node has no quarantine");
        return 0;
    }
    bw_quar_store_t *s;
    if (bw_quar_open(l->env.quarantine_dir, false, &s, &err)) {
        snprintf(msg, cap, "%s", err.msg);
        return 0;
    }
    int r;
    if (restore) {
        char to[4200];
        if (mkdir(l->c.restore_dir, 0700) && errno != EEXIST) {
            snprintf(msg, cap, "RestoreDirectory %s: %s", l->c.restore_dir, strerror(errno));
            bw_quar_close(s);
            return 0;
        }
        snprintf(to, sizeof to, "%s/%s", l->c.restore_dir, id);
        r = bw_quar_restore(s, id, to, true, &err);
        if (r == BW_OK)
            snprintf(msg, cap, "restored %s to %.1500s", id, to);
    } else {
        r = bw_quar_delete(s, id, &err);
        if (r == BW_OK)
            snprintf(msg, cap, "deleted %s", id);
    }
    bw_quar_close(s);
    if (r == BW_DECLINED)
        snprintf(msg, cap, "%s: no such object in the quarantine", id);
    else if (r != BW_OK)
        snprintf(msg, cap, "%s", err.msg);
    return r == BW_OK;
}

static void run_one(bw_link_t *l, json_t *task)
{
    json_t *jid = json_object_get(task, "id");
    char id[64];
    if (json_is_integer(jid))
        snprintf(id, sizeof id, "%lld", (long long)json_integer_value(jid));
    else if (json_is_string(jid) && strlen(json_string_value(jid)) < sizeof id &&
             strspn(json_string_value(jid), "0123456789abcdefABCDEF-") ==
                 strlen(json_string_value(jid)) && json_string_value(jid)[0])
        snprintf(id, sizeof id, "%s", json_string_value(jid));
    else
        return; /* nothing to report it against */
    const char *type = json_string_value(json_object_get(task, "type"));
    json_t *args = json_object_get(task, "args");
    char msg[2048] = "", qid[BW_QUAR_ID_LEN + 1] = "";
    int ok = 0;
    if (!type)
        snprintf(msg, sizeof msg, "task without a type");
    else if (!strcmp(type, "reload") || !strcmp(type, "reload-bases"))
        ok = ctl_task(l, type, msg, sizeof msg);
    else if (!strcmp(type, "update"))
        ok = run_update(l, msg, sizeof msg);
    else if (!strcmp(type, "quarantine.restore"))
        ok = quarantine_task(l, true, args, msg, sizeof msg, qid, sizeof qid);
    else if (!strcmp(type, "quarantine.delete"))
        ok = quarantine_task(l, false, args, msg, sizeof msg, qid, sizeof qid);
    else if (!strcmp(type, "unblock"))
        snprintf(msg, sizeof msg, "no network sensor on this node");
    else
        snprintf(msg, sizeof msg, "unknown task type '%.64s' for this node", type);
    bw_log(ok ? BW_LOG_INFO : BW_LOG_WARN, "console task %s (%s): %s: %s", id,
           type ? type : "?", ok ? "done" : "failed", msg);
    json_t *rep = json_pack("{s:s, s:s}", "state", ok ? "done" : "failed", "message", msg);
    char *body = rep ? json_dumps(rep, JSON_COMPACT) : NULL;
    json_decref(rep);
    char path[128];
    snprintf(path, sizeof path, "/api/v1/node/tasks/%s", id);
    long status = 0;
    bw_err_t err;
    if (body && (bw_link_call(l, "POST", path, body, &status, &err) || status != 200))
        bw_log(BW_LOG_WARN, "console: reporting task %s failed (%s); its event still "
               "carries the result", id, status ? "HTTP error" : err.msg);
    free(body);
    json_t *f = json_pack("{s:{s:s, s:s}, s:s}", "task", "id", id, "type", type ? type : "",
                          "message", msg);
    if (f && !ok)
        json_object_set_new(f, "error", json_string(msg));
    if (f && qid[0])
        json_object_set_new(f, "quarantine", json_pack("{s:s}", "id", qid));
    char *ft = f ? json_dumps(f, JSON_COMPACT) : NULL;
    json_decref(f);
    if (ft && l->env.emit)
        l->env.emit(l->env.emit_ud, ok ? "task.done" : "task.failed", ok ? "info" : "low", ft);
    free(ft);
}

void bw_link_tasks(bw_link_t *l)
{
    long status = 0;
    bw_err_t err;
    if (bw_link_call(l, "GET", "/api/v1/node/tasks", NULL, &status, &err) || status != 200) {
        bw_link_fail(l, &l->poll_bo);
        return;
    }
    json_error_t je;
    json_t *a = json_loadb(l->resp.p ? l->resp.p : "", l->resp.len, 0, &je);
    json_t *tasks = json_object_get(a, "tasks");
    size_t i;
    json_t *t;
    json_array_foreach(tasks, i, t) run_one(l, t);
    json_decref(a);
}
