/* SPDX-License-Identifier: Apache-2.0 */
/* The shipper: a child process of the supervisor that runs the node's link
 * to bulwark-console (src/link) and the events outputs for SIEMs
 * (bw_evout_pump) in one loop.  It is started when [console] Url or an
 * [events] output is configured, restarted when it dies (or when a reload
 * changes those sections), and stopped with the daemon.
 *
 * Why a process of its own.  Everything it does is slow and talks to the
 * network: HTTPS to the console, syslog over TCP/TLS, `bulwark update`.  A
 * worker must never wait for any of that, and the supervisor must never
 * read a byte from the network.  The spool between the producers and the
 * shipper makes its death harmless: events wait on disk, and the cursors
 * are only moved after delivery, so a shipper killed with SIGKILL in the
 * middle of a batch sends that batch again when the supervisor restarts it
 * (the console drops the duplicates by event id).
 *
 * Privileges: it drops to User/Group, like the workers, right after the
 * fork.  It parses what the console answers (tasks, policies) and what a
 * SIEM connection sends back, so it must not be root; and nothing it does
 * needs root:
 *  - the spool, the quarantine, PolicyFile, RestoreDirectory, CredentialFile
 *    and the database sets live under /var/lib/bulwark, which belongs to
 *    User (the workers write the spool and the quarantine as User; `bulwark
 *    update` runs as User in bulwark-update.service too);
 *  - the two things that do need root, reloading the configuration (to
 *    apply a policy, or the reload tasks) and reloading the databases (the
 *    update task), are asked of the supervisor over a private channel
 *    created before the fork: a SOCK_SEQPACKET socketpair on which the
 *    shipper may send exactly "status", "reload" or "reload-bases", each
 *    with a fresh socket (SCM_RIGHTS) that gets the same answer as the
 *    control socket's.  The control socket itself stays root's only, so a
 *    worker still cannot stop or reload the service, and a compromised
 *    shipper can do no more than ask for a reload;
 *  - PolicyFile is written as User and loaded by root: bulwarkd enforces
 *    the policy allow-list on it (generation.c), so writing it gains nothing
 *    a policy may not set.
 * Without User (or not started as root) it keeps the daemon's identity.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "clamd/clamd-conf.h"
#include "core/log.h"
#include "daemon/daemon.h"
#include "daemon/shipper.h"
#include "events/event.h"
#include "events/evout.h"
#include "link/link.h"
#include "quarantine/quarantine.h"

/* A reload compiles databases: it may take minutes. */
#define CTL_TIMEOUT_MS (15 * 60 * 1000)

bool bw_shipper_wanted(const bw_daemon_t *g)
{
    const bw_link_conf_t *lc = bw_conf_get(g->st, &bw_link_conf_table, NULL);
    const bw_events_conf_t *ec = bw_conf_get(g->st, &bw_events_conf_table, NULL);
    if (lc && lc->url && lc->url[0])
        return true;
    return ec && ec->enable &&
           ((ec->syslog_target && ec->syslog_target[0]) || (ec->cef_file && ec->cef_file[0]) ||
            (ec->json_file && ec->json_file[0]));
}

void bw_shipper_signature(const bw_daemon_t *g, char *out, size_t cap)
{
    const bw_link_conf_t *lc = bw_conf_get(g->st, &bw_link_conf_table, NULL);
    const bw_events_conf_t *ec = bw_conf_get(g->st, &bw_events_conf_table, NULL);
    if (!bw_shipper_wanted(g)) {
        snprintf(out, cap, "-");
        return;
    }
#define S(x) ((x) ? (x) : "")
    snprintf(out, cap, "%s|%s|%s|%s|%s|%llu|%llu|%llu|%s|%s|%d|%s|%s|%s|%s|%s|%d|%d|%s|%s|%s",
             S(lc->url), S(lc->ca_file), S(lc->enroll_token), S(lc->credential_file),
             S(lc->group), (unsigned long long)lc->poll_ms, (unsigned long long)lc->batch_size,
             (unsigned long long)lc->max_backoff_ms, S(lc->policy_file), S(lc->restore_dir),
             ec->enable, S(ec->node_name), S(ec->spool_dir), S(ec->syslog_target),
             S(ec->syslog_ca_file), S(ec->cef_file), ec->syslog_facility, ec->syslog_format,
             S(ec->json_file), S(g->dc->user), S(g->dc->group));
#undef S
}

/* ---- the shipper's side of the channel ------------------------------------ */

typedef struct ship_ctx {
    int chan;
} ship_ctx_t;

static int ship_ctl(void *ud, const char *command, char **text, bw_err_t *err)
{
    ship_ctx_t *c = ud;
    *text = NULL;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
        return bw_err_set(err, "socketpair: %s", strerror(errno)), -1;
    char cbuf[CMSG_SPACE(sizeof(int))];
    memset(cbuf, 0, sizeof cbuf);
    struct iovec iov = {(void *)command, strlen(command)};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                       .msg_controllen = sizeof cbuf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &sv[1], sizeof(int));
    ssize_t w;
    while ((w = sendmsg(c->chan, &m, MSG_NOSIGNAL)) < 0 && errno == EINTR)
        ;
    close(sv[1]);
    if (w < 0) {
        close(sv[0]);
        return bw_err_set(err, "the supervisor's channel: %s", strerror(errno)), -1;
    }
    bw_buf_t b = {0};
    uint64_t deadline = bw_clock_ms() + CTL_TIMEOUT_MS;
    for (;;) {
        uint64_t now = bw_clock_ms();
        struct pollfd p = {sv[0], POLLIN, 0};
        int pr = now >= deadline ? 0 : poll(&p, 1, (int)(deadline - now));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            break;
        char tmp[4096];
        ssize_t r = read(sv[0], tmp, sizeof tmp);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        bw_buf_append(&b, tmp, (size_t)r);
    }
    close(sv[0]);
    bw_buf_append(&b, "", 1);
    int ok = -1;
    if (!b.oom && !strncmp(b.p, "OK\n", 3))
        ok = 1;
    else if (!b.oom && !strncmp(b.p, "ERROR\n", 6))
        ok = 0;
    if (ok < 0) {
        bw_buf_free(&b);
        return bw_err_set(err, "no answer from the supervisor to '%s'", command), -1;
    }
    *text = strdup(b.p + (ok ? 3 : 6));
    bw_buf_free(&b);
    return ok;
}

static bw_event_severity_t sev_of(const char *s)
{
    if (!strcmp(s, "low"))
        return BW_SEV_LOW;
    if (!strcmp(s, "medium"))
        return BW_SEV_MEDIUM;
    if (!strcmp(s, "high"))
        return BW_SEV_HIGH;
    if (!strcmp(s, "critical"))
        return BW_SEV_CRITICAL;
    return BW_SEV_INFO;
}

static void ship_emit(void *ud, const char *type, const char *severity, const char *fields)
{
    (void)ud;
    if (!bw_event_enabled())
        return;
    const char *component = !strncmp(type, "events.", 7) ? "events" : "daemon";
    json_t *ev = bw_event_new(component, type, sev_of(severity));
    json_error_t je;
    json_t *f = json_loads(fields, 0, &je);
    if (ev && json_is_object(f))
        json_object_update(ev, f);
    json_decref(f);
    bw_event_emit(ev);
}

static void bulwark_path(char *out, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            snprintf(out, cap, "%s/bulwark", self);
            if (access(out, X_OK) == 0)
                return;
        }
    }
    snprintf(out, cap, "bulwark");
}

void bw_shipper_main(const bw_daemon_t *g, int chan)
{
    const bw_link_conf_t *lc = bw_conf_get(g->st, &bw_link_conf_table, NULL);
    const bw_events_conf_t *ec = bw_conf_get(g->st, &bw_events_conf_table, NULL);
    const bw_quar_conf_t *qc = bw_conf_get(g->st, &bw_quar_conf_table, NULL);
    prctl(PR_SET_NAME, "bulwarkd-ship"); /* tells it apart in ps, and for the tests */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigprocmask(SIG_BLOCK, &stop, NULL);
    bw_err_t err;
    bw_event_forget();
    if (ec && ec->enable && bw_event_setup(ec, &err) != BW_OK)
        bw_log(BW_LOG_ERR, "shipper: events: %s", err.msg);
    char node[256];
    if (ec && ec->node_name && ec->node_name[0])
        snprintf(node, sizeof node, "%s", ec->node_name);
    else if (gethostname(node, sizeof node))
        snprintf(node, sizeof node, "localhost");
    node[sizeof node - 1] = '\0';
    char prog[PATH_MAX + 16];
    bulwark_path(prog, sizeof prog);
    if (bw_privs_drop(g, &err) != BW_OK) {
        bw_log(BW_LOG_ERR, "shipper: %s", err.msg);
        _exit(2);
    }
    ship_ctx_t ctx = {chan};
    bw_link_t *link = NULL;
    if (lc && lc->url && lc->url[0]) {
        if (!ec || !ec->enable)
            bw_log(BW_LOG_WARN, "shipper: [console] Url is set but [events] Enable = no: only "
                   "the heartbeat, tasks and policies go to the console");
        bw_link_env_t env = {
            .conf_path = g->conf_path, .spool_dir = ec ? ec->spool_dir : "",
            .node_name = node, .quarantine_dir = qc && qc->dir ? qc->dir : "",
            .bulwark_path = prog,
            .clamd = g->cc && (g->cc->tcp_port || (g->cc->local_socket && g->cc->local_socket[0])),
            .ctl = ship_ctl, .ctl_ud = &ctx, .emit = ship_emit,
        };
        if (bw_link_open(lc, &env, &link, &err) != BW_OK) {
            bw_log(BW_LOG_ERR, "shipper: console link: %s", err.msg);
            _exit(2);
        }
    }
    bw_evout_t *out = NULL;
    if (ec && ec->enable && bw_evout_open(ec, &out, &err) != BW_OK) {
        bw_log(BW_LOG_ERR, "shipper: events outputs: %s", err.msg);
        out = NULL;
    }
    bw_log(BW_LOG_INFO, "shipper started (console %s, outputs %s)", link ? lc->url : "none",
           out ? "on" : "none");
    for (;;) {
        uint64_t wait = 1000;
        if (link) {
            uint64_t w = bw_link_step(link);
            if (w < wait)
                wait = w;
        }
        if (out) {
            uint64_t w = bw_evout_pump(out, bw_clock_ms());
            if (w < wait)
                wait = w;
        }
        struct timespec ts = {(time_t)(wait / 1000), (long)(wait % 1000) * 1000000L};
        int sig = sigtimedwait(&stop, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT)
            break;
    }
    bw_link_close(link);
    bw_evout_close(out);
    bw_event_shutdown();
    _exit(0);
}
