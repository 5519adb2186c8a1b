/* SPDX-License-Identifier: Apache-2.0 */
/* One scan and what follows it: the verdict, the actions the profile asks for
 * that are not the kernel answer (quarantine, delete, cure), the event and
 * the report line.  Blocking itself is the caller's answer to the kernel.
 *
 * The file is read through the descriptor fanotify opened for us, never by
 * path: an open by path would be a new access (an event of our own) and could
 * name another file by the time we open it.  Quarantine, delete and cure do
 * touch paths; our own accesses are allowed at once by the loop. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "core/log.h"
#include "events/event.h"
#include "quarantine/quarantine.h"
#include "rscan/rscan-client.h"

/* Remote mode: one BWSCAN/1 connection per scanning thread (a client is
 * not shared by threads), made on first use and again after a failure. */
static __thread bw_rscan_client_t *tl_client;

static int remote_scan(bw_agent_t *a, int fd, uint64_t size, const char *path, bw_verdict_t *v,
                       bw_err_t *err)
{
    if (!tl_client) {
        char host[256], port[32];
        const char *srv = a->scanner.server ? a->scanner.server : "";
        const char *colon = strrchr(srv, ':');
        if (!colon || colon == srv || (size_t)(colon - srv) >= sizeof host || !colon[1]) {
            bw_err_set(err, "[scanner] Server '%s': expected host:port", srv);
            return BW_ERR;
        }
        snprintf(host, sizeof host, "%.*s", (int)(colon - srv), srv);
        snprintf(port, sizeof port, "%s", colon + 1);
        bw_rscan_opts_t o = {.host = host, .port = port, .ca_file = a->scanner.ca_file,
                             .cert_file = a->scanner.cert, .key_file = a->scanner.key,
                             .tls = a->scanner.ca_file && a->scanner.ca_file[0],
                             .timeout_ms = (unsigned)a->conf.scan_timeout_ms};
        if (bw_rscan_connect(&o, &tl_client, err) != BW_OK) {
            tl_client = NULL;
            return BW_ERR;
        }
    }
    bw_status_t st;
    char *threat = NULL;
    int cached = 0;
    if (bw_rscan_scan_fd(tl_client, fd, size, path, &st, &threat, &cached, err) != BW_OK) {
        bw_rscan_close(tl_client);
        tl_client = NULL;
        free(threat);
        return BW_ERR;
    }
    atomic_fetch_add(&a->st.remote_scans, 1);
    if (cached)
        atomic_fetch_add(&a->st.remote_cached, 1);
    memset(v, 0, sizeof *v);
    v->status = st;
    if (st != BW_CLEAN) {
        v->threats = calloc(1, sizeof *v->threats);
        if (v->threats) {
            v->nthreats = 1;
            v->threats[0].status = st;
            v->threats[0].name = threat ? threat : strdup("");
            v->threats[0].path = strdup("");
            threat = NULL;
        }
    }
    free(threat);
    return BW_OK;
}

void bw_agent_proc_info(pid_t pid, char comm[32], uid_t *uid)
{
    char p[64];
    snprintf(comm, 32, "?");
    *uid = (uid_t)-1;
    snprintf(p, sizeof p, "/proc/%d/comm", (int)pid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, comm, 31);
        if (n > 0) {
            comm[n] = 0;
            comm[strcspn(comm, "\n")] = 0;
        }
        close(fd);
    }
    snprintf(p, sizeof p, "/proc/%d", (int)pid);
    struct stat st;
    if (stat(p, &st) == 0)
        *uid = st.st_uid;
}

typedef struct qread {
    int fd;
    off_t off;
} qread_t;

static long qread_fn(void *ctx, void *buf, size_t len)
{
    qread_t *q = ctx;
    ssize_t n = pread(q->fd, buf, len, q->off);
    if (n > 0)
        q->off += n;
    return (long)n;
}

static int do_quarantine(bw_agent_t *a, int fd, const char *path, const bw_verdict_t *v,
                         const char *comm, uid_t uid, char *id, size_t idcap)
{
    bw_err_t err = {{0}};
    pthread_mutex_lock(&a->quar_lock);
    if (!a->quar && bw_quar_open(a->conf.quarantine_dir, true, &a->quar, &err) != BW_OK) {
        pthread_mutex_unlock(&a->quar_lock);
        bw_log(BW_LOG_ERR, "quarantine %s: %s", a->conf.quarantine_dir, err.msg);
        return BW_ERR;
    }
    bw_quar_meta_t *m = calloc(1, sizeof *m);
    if (!m) {
        pthread_mutex_unlock(&a->quar_lock);
        return BW_ERR;
    }
    m->time = time(NULL);
    bw_quar_meta_set_verdict(m, v);
    bw_quar_field_set(m->origin, sizeof m->origin, path);
    char cl[64];
    snprintf(cl, sizeof cl, "local:%s", comm);
    bw_quar_field_set(m->client, sizeof m->client, cl);
    char u[32];
    snprintf(u, sizeof u, "%d", (int)uid);
    bw_quar_field_set(m->user, sizeof m->user, u);
    bw_quar_field_set(m->method, sizeof m->method, "agent");
    qread_t q = {fd, 0};
    int rc = bw_quar_put(a->quar, m, qread_fn, &q, 0, 0, &err);
    pthread_mutex_unlock(&a->quar_lock);
    if (rc != BW_OK)
        bw_log(BW_LOG_ERR, "quarantine of %s failed: %s", path, err.msg);
    else
        snprintf(id, idcap, "%s", m->sha256);
    free(m);
    return rc;
}

static int do_cure(const char *path, const bw_verdict_t *v)
{
    /* Rewrite in place (same inode, same permissions); a temp file and
     * rename would change the identity the kernel's marks are on. */
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return BW_ERR;
    size_t off = 0;
    while (off < v->cured_len) {
        ssize_t n = write(fd, v->cured + off, v->cured_len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            return BW_ERR;
        }
        off += (size_t)n;
    }
    return close(fd) == 0 ? BW_OK : BW_ERR;
}

void bw_agent_scan_fd(bw_agent_t *a, int fd, const char *path, pid_t pid, const char *how,
                      const int *act, bw_agent_result_t *r)
{
    memset(r, 0, sizeof *r);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        r->status = BW_CLEAN;
        r->skipped = true;
        return;
    }
    if (a->conf.max_file_size && (uint64_t)st.st_size > a->conf.max_file_size) {
        r->status = BW_CLEAN; /* MaxFileSize: allowed unscanned, and said so below */
        r->skipped = true;
        snprintf(r->threat, sizeof r->threat, "larger than MaxFileSize");
        return;
    }
    bw_verdict_t v;
    memset(&v, 0, sizeof v);
    atomic_fetch_add(&a->st.scans, 1);
    if (a->scanner.mode == 1) {
        bw_err_t err = {{0}};
        if (remote_scan(a, fd, (uint64_t)st.st_size, path, &v, &err) == BW_OK) {
            if (atomic_exchange(&a->remote_down, 0))
                bw_log(BW_LOG_INFO, "scanning server %s reachable again", a->scanner.server);
            goto scanned;
        }
        atomic_fetch_add(&a->st.remote_failures, 1);
        if (!atomic_exchange(&a->remote_down, 1)) {
            bw_log(BW_LOG_ERR, "scanning server %s: %s; Fallback %s", a->scanner.server, err.msg,
                   a->scanner.fallback == 0 ? "local" : a->scanner.fallback == 1 ? "open" : "closed");
            if (bw_event_enabled()) {
                json_t *ev = bw_event_new("agent", "agent.fallback", BW_SEV_MEDIUM);
                bw_event_set_str(ev, "server", a->scanner.server);
                bw_event_set_str(ev, "error", err.msg);
                bw_event_set_str(ev, "fallback", a->scanner.fallback == 0 ? "local"
                                                 : a->scanner.fallback == 1 ? "open" : "closed");
                bw_event_emit(ev);
            }
        }
        if (a->scanner.fallback != 0 || !a->engine) {
            /* Fallback open/closed: answered by the rule, never cached. */
            r->status = BW_CLEAN;
            r->skipped = true;
            snprintf(r->threat, sizeof r->threat, "scanning server unreachable");
            if (a->scanner.fallback == 2) {
                r->done = BW_AG_ACT_BLOCK;
                atomic_fetch_add(&a->st.fallback_closed, 1);
            } else
                atomic_fetch_add(&a->st.fallback_open, 1);
            return;
        }
        atomic_fetch_add(&a->st.fallback_local, 1);
    }
    if (!a->engine || bw_scan_fd(a->engine, &a->limits, fd, path, &v) != BW_OK) {
        r->status = BW_ERROR;
        snprintf(r->threat, sizeof r->threat, "scan failed");
        atomic_fetch_add(&a->st.errors, 1);
        bw_verdict_free(&v);
        return;
    }
scanned:
    r->status = v.status;
    snprintf(r->threat, sizeof r->threat, "%s", bw_verdict_name(&v));
    r->actions = (act ? act : a->act)[v.status];
    if (r->actions == BW_AG_ACT_REPORT && (v.status == BW_CLEAN || v.status == BW_ERROR ||
                                           v.status == BW_TIMEOUT || v.status == BW_TOO_LARGE ||
                                           v.status == BW_CORRUPTED || v.status == BW_PROTECTED)) {
        bw_verdict_free(&v);
        return; /* nothing to report for these unless an action was configured */
    }
    char comm[32];
    uid_t uid;
    bw_agent_proc_info(pid, comm, &uid);
    char qid[BW_QUAR_ID_LEN + 1] = "";
    r->done = r->actions & BW_AG_ACT_BLOCK;
    if ((r->actions & BW_AG_ACT_CURE) && v.cured && v.cured_len) {
        if (do_cure(path, &v) == BW_OK) {
            r->done |= BW_AG_ACT_CURE;
            atomic_fetch_add(&a->st.cured, 1);
        } else
            bw_log(BW_LOG_ERR, "cure of %s failed: %s", path, strerror(errno));
    }
    if ((r->actions & BW_AG_ACT_QUARANTINE) && !(r->done & BW_AG_ACT_CURE)) {
        if (do_quarantine(a, fd, path, &v, comm, uid, qid, sizeof qid) == BW_OK) {
            r->done |= BW_AG_ACT_QUARANTINE;
            atomic_fetch_add(&a->st.quarantined, 1);
        }
    }
    if ((r->actions & (BW_AG_ACT_DELETE | BW_AG_ACT_QUARANTINE)) && !(r->done & BW_AG_ACT_CURE) &&
        (!(r->actions & BW_AG_ACT_QUARANTINE) || (r->done & BW_AG_ACT_QUARANTINE))) {
        /* Quarantine moves: the original goes once the copy is stored. */
        if (unlink(path) == 0) {
            r->done |= BW_AG_ACT_DELETE;
            atomic_fetch_add(&a->st.deleted, 1);
        } else
            bw_log(BW_LOG_ERR, "delete of %s failed: %s", path, strerror(errno));
    }
    char acts[64];
    bw_agent_actions_name(r->done, acts, sizeof acts);
    bw_log(BW_LOG_WARN, "%s: %s %s (%s) pid %d (%s) uid %d: %s%s%s", path,
           bw_status_name(v.status), r->threat, how, (int)pid, comm, (int)uid, acts,
           qid[0] ? " id " : "", qid);
    if (bw_event_enabled()) {
        json_t *ev = bw_event_new("agent", "detection",
                                  v.status == BW_INFECTED ? BW_SEV_HIGH : BW_SEV_MEDIUM);
        bw_event_set_str(ev, "verdict", bw_status_name(v.status));
        bw_event_set_str(ev, "action", acts);
        bw_event_set_str(ev, "method", how);
        for (size_t i = 0; i < v.nthreats; i++)
            bw_event_add_str(ev, "threats", v.threats[i].name);
        json_t *o = bw_event_sub(ev, "object");
        bw_event_set_str(o, "path", path);
        bw_event_set_int(o, "size", (int64_t)st.st_size);
        if (qid[0])
            bw_event_set_str(o, "quarantine_id", qid);
        json_t *cl = bw_event_sub(ev, "client");
        bw_event_set_int(cl, "pid", pid);
        bw_event_set_str(cl, "process", comm);
        bw_event_set_int(cl, "uid", (int64_t)(int)uid);
        bw_event_emit(ev);
    }
    bw_verdict_free(&v);
}
