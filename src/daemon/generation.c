/* SPDX-License-Identifier: Apache-2.0 */
/* Building a generation: everything a worker needs, validated completely
 * before any worker sees it.  A reload calls the same function as the start,
 * so a configuration that would not start is also refused by a reload (and
 * the running generation goes on).
 *
 * Listening sockets are matched by name ("icap 127.0.0.1:1344") against the
 * previous generation and dup()ed rather than reopened: the accept queue is
 * the same socket, so no waiting connection is lost across a reload, and a
 * privileged port bound at start keeps working after a reload.
 *
 * `bulwarkd -t` builds the same generation with `check` set: every key,
 * group, certificate, database and directory is validated as for a start,
 * but nothing the running daemon holds is touched, because -t is what an
 * administrator runs on the live configuration before a reload.  So a
 * listening address is split and resolved but never bound (the running
 * daemon owns the port), the report log is opened only when it exists (to
 * append: never created, never truncated), the workers' directories are
 * checked but not created (dirs.c), and main() then writes no pid file and
 * opens no control socket.  What -t cannot know without binding (a port
 * another program holds, an address that is not local) is left to the start
 * or reload, which say so with the key and address. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "app/schema.h"
#include "app/stats-conf.h"
#include "clamd/clamd.h"
#include "clamd/clamd-conf.h"
#include "rscan/rscan.h"
#include "daemon/daemon.h"
#include "events/events-conf.h"
#include "icap/icap-tls.h"
#include "link/link-conf.h"
#include "link/link.h"
#include "policy/groups.h"
#include "policy/notify.h"

/* bulwark.conf, then the console's policy over it when there is one
 * ([console] PolicyFile, docs/console-nodes.md): start, -t and reload all
 * see the same combined configuration.  The base is loaded first to learn
 * where the policy is; a policy that does not load fails the whole load, so
 * a reload leaves the running generation as it was (the link validates a
 * policy before it writes PolicyFile, so this is a second line of defence). */
int bw_gen_conf_load(const char *conf_path, bw_conf_state_t **st, bw_err_t *err)
{
    bw_conf_state_t *base = NULL;
    if (bw_conf_load(&bw_app_schema, conf_path, &base, err) != BW_OK)
        return BW_ERR;
    const bw_link_conf_t *lc = bw_conf_get(base, &bw_link_conf_table, NULL);
    struct stat sb;
    if (!lc || !lc->policy_file || !lc->policy_file[0] || stat(lc->policy_file, &sb) != 0) {
        *st = base;
        return BW_OK;
    }
    char *policy = strdup(lc->policy_file);
    bw_conf_free(base);
    if (!policy)
        return bw_err_set(err, "out of memory");
    /* PolicyFile is written by the shipper, which runs as User: the
     * allow-list is enforced here too, so nobody who can write it as User
     * gains what a policy may not set (link-policy.c). */
    int r = bw_link_policy_file_allowed(policy, err);
    if (r == BW_OK)
        r = bw_conf_load_overlay(&bw_app_schema, conf_path, policy, st, err);
    free(policy);
    return r;
}

int bw_gen_conf_peek(const char *conf_path, bw_conf_state_t **st, bw_err_t *err)
{
    return bw_gen_conf_load(conf_path, st, err);
}

static int same_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

int bw_gen_same_bases(const bw_daemon_conf_t *a, const bw_daemon_conf_t *b)
{
    if (a->bases.n != b->bases.n || !same_str(a->cache_dir, b->cache_dir))
        return 0;
    for (size_t i = 0; i < a->bases.n; i++)
        if (!same_str(BW_CONF_LIST_AT(&a->bases, char *, i), BW_CONF_LIST_AT(&b->bases, char *, i)))
            return 0;
    return 1;
}

/* "bulwark.conf:12: " for a key of the daemon's or ICAP table, for an error
 * about its value: the line when the key is set once (a repeated key has
 * one line per value, and the loader keeps the first), else the file. */
static void key_where(const bw_daemon_t *d, const bw_conf_table_t *t, const char *key, size_t n,
                      char *out, size_t cap)
{
    unsigned line = n == 1 ? bw_conf_line(d->st, t, NULL, key) : 0;
    if (line)
        snprintf(out, cap, "%s:%u", bw_conf_source(d->st), line);
    else
        snprintf(out, cap, "%s", bw_conf_source(d->st));
}

/* Adds listener `name` (kind/addr): a dup of prev's socket of the same name,
 * or a new one; with `check`, only the address is checked (fd stays -1). */
static int add_listener(bw_daemon_t *d, const bw_daemon_t *prev, bw_listener_kind_t kind,
                        const char *addr, int check, bw_err_t *err)
{
    if (d->nlisteners >= BW_MAX_LISTENERS)
        return bw_err_set(err, "too many listening addresses (at most %d)", BW_MAX_LISTENERS);
    bw_listener_t *l = &d->listeners[d->nlisteners];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->fd = -1;
    snprintf(l->name, sizeof l->name, "%s %s",
             kind == BW_LST_ICAP ? "icap" : kind == BW_LST_ICAPS ? "icaps"
                                    : kind == BW_LST_RSCAN ? "rscan" : "clamd", addr);
    for (size_t i = 0; prev && i < prev->nlisteners; i++)
        if (strcmp(prev->listeners[i].name, l->name) == 0) {
            l->fd = fcntl(prev->listeners[i].fd, F_DUPFD_CLOEXEC, 3);
            l->is_unix = prev->listeners[i].is_unix;
            if (l->fd < 0)
                return bw_err_set(err, "%s: dup: %s", l->name, strerror(errno));
            d->nlisteners++;
            return BW_OK;
        }
    const char *key = kind == BW_LST_ICAP    ? "ListenAddress"
                      : kind == BW_LST_RSCAN ? "[rscan] Listen"
                                             : "TlsListenAddress";
    if (check ? bw_listen_check(key, addr, err) != BW_OK
              : (l->fd = bw_listen_open(key, addr, err)) < 0) {
        char where[4200];
        if (kind == BW_LST_ICAP)
            key_where(d, &bw_daemon_conf_table, key, d->dc->listen.n, where, sizeof where);
        else if (kind == BW_LST_RSCAN)
            key_where(d, &bw_rscan_conf_table, "Listen", d->rc->listen.n, where, sizeof where);
        else
            key_where(d, &bw_icap_conf_table, key, d->ic->tls_listen.n, where, sizeof where);
        return bw_err_prefix(err, "%s", where);
    }
    d->nlisteners++;
    return BW_OK;
}

/* The clamd listeners are opened by the clamd module as one set; a reload
 * keeps the set as it is (dup'ed) when its keys did not change, and refuses
 * to move it (the old sockets are still bound) when they did. */
static void clamd_signature(const bw_clamd_conf_t *cc, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "clamd port=%llu local=%s mode=%s group=%s addr=",
                                (unsigned long long)cc->tcp_port,
                                cc->local_socket ? cc->local_socket : "",
                                cc->local_socket_mode ? cc->local_socket_mode : "",
                                cc->local_socket_group ? cc->local_socket_group : "");
    for (size_t i = 0; i < cc->tcp_addr.n && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s,", BW_CONF_LIST_AT(&cc->tcp_addr, char *, i));
}

/* -t: the directory a file at `path` (named by `what`) will be created in
 * must be one, and with `write`, one this process can create files in. */
static int check_parent(const char *what, const char *path, int write, bw_err_t *err)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash == path ? 1 : slash - path), path);
    struct stat st;
    if (stat(dir, &st) != 0)
        return bw_err_set(err, "%s %s: directory %s: %s", what, path, dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return bw_err_set(err, "%s %s: %s is not a directory", what, path, dir);
    if (write && access(dir, W_OK | X_OK) != 0)
        return bw_err_set(err, "%s %s: cannot create it in %s: %s", what, path, dir,
                          strerror(errno));
    return BW_OK;
}

/* -t: what bw_clamd_open_listeners would open, checked without a socket.
 * An existing LocalSocket is fine when it is a socket (the running daemon's,
 * or a stale one the start removes or refuses: FixStaleSocket). */
static int check_clamd_listeners(const bw_clamd_conf_t *cc, bw_err_t *err)
{
    if (!bw_clamd_conf_enabled(cc))
        return BW_OK;
    char port[16], what[320];
    snprintf(port, sizeof port, "%llu", (unsigned long long)cc->tcp_port);
    for (size_t i = 0; cc->tcp_port && i < (cc->tcp_addr.n ? cc->tcp_addr.n : 1); i++) {
        const char *a = cc->tcp_addr.n ? BW_CONF_LIST_AT(&cc->tcp_addr, char *, i) : "0.0.0.0";
        snprintf(what, sizeof what, "[clamd] TCPAddr %s port %s", a, port);
        if (bw_listen_check_host(what, a, port, err) != BW_OK)
            return BW_ERR;
    }
    const char *ls = cc->local_socket;
    if (!ls || !ls[0])
        return BW_OK;
    struct sockaddr_un sa;
    struct stat st;
    if (strlen(ls) >= sizeof sa.sun_path)
        return bw_err_set(err, "[clamd] LocalSocket %s: path too long", ls);
    if (lstat(ls, &st) == 0 && !S_ISSOCK(st.st_mode))
        return bw_err_set(err, "[clamd] LocalSocket %s: exists and is not a socket", ls);
    if (check_parent("[clamd] LocalSocket", ls, 1, err) != BW_OK)
        return BW_ERR;
    if (cc->local_socket_group && cc->local_socket_group[0]) {
        struct group gr, *g = NULL;
        char buf[4096];
        if (getgrnam_r(cc->local_socket_group, &gr, buf, sizeof buf, &g) != 0 || !g)
            return bw_err_set(err, "[clamd] LocalSocketGroup %s: no such group",
                              cc->local_socket_group);
    }
    return BW_OK;
}

static int add_clamd_listeners(bw_daemon_t *d, const bw_daemon_t *prev, bw_err_t *err)
{
    char sig[280];
    clamd_signature(d->cc, sig, sizeof sig);
    int had = 0;
    for (size_t i = 0; prev && i < prev->nlisteners; i++) {
        const bw_listener_t *pl = &prev->listeners[i];
        if (pl->kind != BW_LST_CLAMD)
            continue;
        had = 1;
        const char *psig = strchr(pl->name, ' '); /* names are "#N <signature>" */
        if (!psig || strcmp(psig + 1, sig) != 0)
            continue;
        if (d->nlisteners >= BW_MAX_LISTENERS)
            return bw_err_set(err, "too many listening addresses (at most %d)", BW_MAX_LISTENERS);
        bw_listener_t *l = &d->listeners[d->nlisteners];
        *l = *pl;
        l->fd = fcntl(pl->fd, F_DUPFD_CLOEXEC, 3);
        if (l->fd < 0)
            return bw_err_set(err, "%s: dup: %s", l->name, strerror(errno));
        d->nlisteners++;
    }
    int enabled = bw_clamd_conf_enabled(d->cc);
    if (had) {
        int kept = 0;
        for (size_t i = 0; i < d->nlisteners; i++)
            kept |= d->listeners[i].kind == BW_LST_CLAMD;
        if (!kept || !enabled)
            return bw_err_set(err, "[clamd] TCPSocket/TCPAddr/LocalSocket changed: restart "
                                   "bulwarkd to move the clamd listeners");
        return BW_OK;
    }
    if (!enabled)
        return BW_OK;
    int fds[32], is_unix[32];
    size_t n = 0;
    if (bw_clamd_open_listeners(d->cc, fds, is_unix, 32, &n, err) != BW_OK)
        return BW_ERR;
    for (size_t i = 0; i < n; i++) {
        if (d->nlisteners >= BW_MAX_LISTENERS) {
            for (size_t k = i; k < n; k++)
                close(fds[k]);
            return bw_err_set(err, "too many listening addresses (at most %d)", BW_MAX_LISTENERS);
        }
        bw_listener_t *l = &d->listeners[d->nlisteners++];
        l->kind = BW_LST_CLAMD;
        l->is_unix = is_unix[i];
        l->fd = fds[i];
        /* Signature then index; a cut signature still compares equal. */
        int k = snprintf(l->name, sizeof l->name, "#%zu %s", i, sig);
        (void)k;
    }
    return BW_OK;
}

/* -t and ReportFileName that does not exist yet: the start creates it, so
 * its directory must let the supervisor do that. */
static int check_report_dir(const char *path, bw_err_t *err)
{
    if (check_parent("ReportFileName", path, 1, err) != BW_OK)
        return BW_ERR;
    bw_log(BW_LOG_INFO, "ReportFileName %s: does not exist yet: the start will create it", path);
    return BW_OK;
}

/* With `check` (-t) an existing log is opened to append (which changes
 * nothing in it) and closed; a missing one is not created. */
static int open_report(bw_daemon_t *d, int check, bw_err_t *err)
{
    d->report_fd = -1;
    const char *path = d->dc->report_file;
    if (!path || !path[0])
        return BW_OK;
    if (check) {
        struct stat st;
        if (lstat(path, &st) != 0 && errno == ENOENT)
            return check_report_dir(path, err);
    }
    /* O_NOFOLLOW: the log directory may belong to the workers' user; a symlink
     * planted there must not make root append to another file.  O_NONBLOCK:
     * a FIFO planted there must not block the supervisor in open() (with
     * no reader it fails at once, with one it opens and is refused below:
     * only a regular file is a log). */
    d->report_fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK |
                                  (check ? 0 : O_CREAT), 0640);
    if (d->report_fd < 0)
        return bw_err_set(err, "ReportFileName %s: %s%s", path, strerror(errno),
                          errno == ELOOP ? " (a symlink: refused)"
                          : errno == ENXIO ? " (a FIFO or socket, not a file: refused)" : "");
    struct stat st = {0};
    if (fstat(d->report_fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(d->report_fd);
        d->report_fd = -1;
        return bw_err_set(err, "ReportFileName %s: not a regular file (%s): refused", path,
                          S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISCHR(st.st_mode) ? "a device"
                          : S_ISSOCK(st.st_mode) ? "a socket" : "not a file");
    }
    /* Appends to a regular file never wait; O_NONBLOCK stays harmless. */
    if (check) {
        close(d->report_fd);
        d->report_fd = -1;
    }
    return BW_OK;
}

/* -t: a NotifyTemplateDir the workers cannot read is not an error (they
 * serve the built-in block page), but the check says so. */
static void check_templates(const bw_daemon_t *d)
{
    const char *dir = d->ic->template_dir;
    struct stat st;
    if (!dir || !dir[0])
        return;
    const char *why = NULL;
    if (stat(dir, &st) != 0)
        why = strerror(errno);
    else if (!S_ISDIR(st.st_mode))
        why = "not a directory";
    else if (access(dir, R_OK | X_OK) != 0)
        why = strerror(errno);
    if (why) {
        char where[4200];
        key_where(d, &bw_icap_conf_table, "NotifyTemplateDir", 1, where, sizeof where);
        bw_log(BW_LOG_WARN, "%s: NotifyTemplateDir %s: %s: the built-in block pages will be served",
               where, dir, why);
    }
}

static int load_engine(bw_daemon_t *d, bw_err_t *err)
{
    char lerr[1024];
    bw_load_opts_t lo = {d->dc->cache_dir && d->dc->cache_dir[0] ? d->dc->cache_dir : NULL,
                         bw_dirs_cache_note, NULL};
    if (bw_engine_load((const char *const *)d->dc->bases.items, d->dc->bases.n, &lo, &d->engine,
                       lerr, sizeof lerr) != BW_OK)
        return bw_err_set(err, "%s", lerr);
    return BW_OK;
}

static int build(const char *conf_path, const bw_daemon_t *prev, bw_engine_t *engine, int check,
                 bw_daemon_t **out, bw_err_t *err)
{
    *out = NULL;
    bw_daemon_t *d = calloc(1, sizeof *d);
    if (!d)
        return bw_err_set(err, "out of memory");
    d->report_fd = -1;
    d->conf_path = conf_path;
    if (bw_gen_conf_load(conf_path, &d->st, err) != BW_OK)
        goto fail;
    d->dc = bw_conf_get(d->st, &bw_daemon_conf_table, NULL);
    d->ic = bw_conf_get(d->st, &bw_icap_conf_table, NULL);
    d->sc = bw_conf_get(d->st, &bw_stats_conf_table, NULL);
    d->nc = bw_conf_get(d->st, &bw_notify_conf_table, NULL);
    d->cc = bw_conf_get(d->st, &bw_clamd_conf_table, NULL);
    d->rc = bw_conf_get(d->st, &bw_rscan_conf_table, NULL);
    d->ec = bw_conf_get(d->st, &bw_events_conf_table, NULL);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    d->nworkers = d->dc->max_children ? (int)d->dc->max_children : (int)(cores > 0 ? cores : 1);
    if (bw_groups_build(d->st, &d->groups, err) != BW_OK)
        goto fail;
    if (bw_privs_resolve(d, err) != BW_OK)
        goto fail;
    if (bw_dirs_prepare(d, check, err) != BW_OK)
        goto fail;
    for (size_t i = 0; i < d->dc->listen.n; i++)
        if (add_listener(d, prev, BW_LST_ICAP, BW_CONF_LIST_AT(&d->dc->listen, char *, i), check,
                         err) != BW_OK)
            goto fail;
    for (size_t i = 0; i < d->ic->tls_listen.n; i++)
        if (add_listener(d, prev, BW_LST_ICAPS, BW_CONF_LIST_AT(&d->ic->tls_listen, char *, i),
                         check, err) != BW_OK)
            goto fail;
    if (d->ic->tls_listen.n && !(d->tls_ctx = bw_icap_tls_ctx_new(d->ic, err)))
        goto fail;
    for (size_t i = 0; i < d->rc->listen.n; i++)
        if (add_listener(d, prev, BW_LST_RSCAN, BW_CONF_LIST_AT(&d->rc->listen, char *, i), check,
                         err) != BW_OK)
            goto fail;
    /* Built here, before privileges drop, while the key is readable. */
    if (d->rc->listen.n && d->rc->tls_cert[0] &&
        !(d->rscan_tls_ctx = bw_rscan_tls_ctx_new(d->rc, err)))
        goto fail;
    if (check ? check_clamd_listeners(d->cc, err) != BW_OK
              : add_clamd_listeners(d, prev, err) != BW_OK)
        goto fail;
    if (open_report(d, check, err) != BW_OK)
        goto fail;
    if (check)
        check_templates(d);
    if (engine)
        d->engine = bw_engine_ref(engine);
    else if (load_engine(d, err) != BW_OK)
        goto fail;
    /* A compile frees far more than it keeps; hand that back to the system
     * before the workers fork, or every page of it would count against the
     * supervisor for as long as it runs. */
    malloc_trim(0);
    *out = d;
    return BW_OK;
fail:
    bw_gen_free(d);
    return BW_ERR;
}

int bw_gen_build(const char *conf_path, const bw_daemon_t *prev, bw_engine_t *engine,
                 bw_daemon_t **out, bw_err_t *err)
{
    return build(conf_path, prev, engine, 0, out, err);
}

int bw_gen_check(const char *conf_path, bw_daemon_t **out, bw_err_t *err)
{
    return build(conf_path, NULL, NULL, 1, out, err);
}

void bw_gen_free(bw_daemon_t *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nlisteners; i++)
        if (d->listeners[i].fd >= 0)
            close(d->listeners[i].fd);
    if (d->report_fd >= 0)
        close(d->report_fd);
    if (d->tls_ctx)
        bw_icap_tls_ctx_free(d->tls_ctx);
    if (d->rscan_tls_ctx)
        bw_rscan_tls_ctx_free(d->rscan_tls_ctx);
    if (d->engine)
        bw_engine_unref(d->engine);
    bw_groups_free(d->groups);
    bw_conf_free(d->st);
    free(d);
}
