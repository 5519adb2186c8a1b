/* SPDX-License-Identifier: Apache-2.0 */
/* The directories a generation writes, made ready by the supervisor.
 *
 * The workers drop to User/Group before they read a byte from a client, so
 * they can create nothing under a root-owned parent: a QuarantineDir that
 * does not exist yet would make every quarantined object fail with
 * "Permission denied" while its client is denied as if all went well.  So
 * the supervisor, still root, prepares every directory a worker writes when
 * a generation is built (at start and on every reload), and a configuration
 * it cannot make work is refused with its reason, like any other bad key:
 *   - QuarantineDir (when some action is `quarantine`): created with its
 *     missing parents, owned by the workers' user, mode 0700;
 *   - CorePath: created the same way if missing;
 *   - the event spool (SpoolDirectory, when [events] Enable): created the
 *     same way, mode 0750 (the supervisor writes its own segments there);
 *   - the spool for large objects (TMPDIR, else /tmp): must exist.
 * Then a child that has dropped to the workers' user checks that each one
 * is really writable for it (a parent it cannot enter, an ACL, a read-only
 * mount all show up there, not later in a worker).
 *
 * CacheDir is the opposite case: the supervisor (and the compile child of a
 * reload) writes it as root, and nobody else must (engine-cache.c says
 * why).  It is created owned by root, mode 0755; one that exists and that
 * others can write is not used (the engine says so and compiles).
 *
 * `bulwarkd -t` checks the same things and creates nothing for the
 * workers: a missing QuarantineDir or CorePath passes when the start could
 * create it (its nearest existing ancestor is a directory the supervisor
 * can write, and that the workers' user can pass through: the parents the
 * start makes are 0755 and the directory becomes theirs), and the check
 * says it will be created.  An existing one is checked in full, as the
 * workers' user too.  CacheDir is still created: -t compiles the databases
 * into it as a start would, so the start that follows maps them. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "icap/icap-service.h"
#include "events/events-conf.h"
#include "quarantine/quarantine.h"

typedef struct wdir {
    const char *path;
    char where[600];   /* "file:line: QuarantineDir /x" for messages */
    mode_t mode;       /* when created */
    int private_;      /* must not be open to group or others */
    int create;        /* create it (and its parents) when missing */
    int missing;       /* -t: not there yet; check_as_worker tests `anc` */
    char anc[4096];    /* -t: its nearest existing ancestor */
} wdir_t;

/* "bulwark.conf:12: QuarantineDir /srv/q" (or "(default)" when not set). */
static void where_of(char *out, size_t cap, const bw_daemon_t *d, const bw_conf_table_t *t,
                     const char *key, const char *path)
{
    unsigned line = bw_conf_line(d->st, t, NULL, key);
    if (line)
        snprintf(out, cap, "%s:%u: %s %s", bw_conf_source(d->st), line, key, path);
    else
        snprintf(out, cap, "%s: %s %s (the default)", bw_conf_source(d->st), key, path);
}

/* mkdir -p: the parents root's (0755), the last one `mode`.  *created says
 * whether the last one is new. */
static int make_dirs(const char *path, mode_t mode, int *created, char *why, size_t cap)
{
    char buf[4096];
    *created = 0;
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        snprintf(why, cap, "path too long");
        return BW_ERR;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) == 0)
            chmod(buf, 0755); /* whatever the umask (the unit's is 0027): the
                               * workers must be able to pass through */
        else if (errno != EEXIST) {
            snprintf(why, cap, "cannot create %s: %s", buf, strerror(errno));
            return BW_ERR;
        }
        *p = '/';
    }
    if (mkdir(path, mode) == 0)
        *created = 1;
    else if (errno != EEXIST) {
        snprintf(why, cap, "cannot create it: %s", strerror(errno));
        return BW_ERR;
    }
    return BW_OK;
}

/* For -t: could make_dirs create `path`?  Finds its nearest existing
 * ancestor (into anc), which must be a directory this process can write.
 * BW_OK with *exists 1 when the path is already there. */
static int creatable(const char *path, int *exists, char *anc, size_t acap, char *why, size_t cap)
{
    struct stat st;
    *exists = 0;
    if (snprintf(anc, acap, "%s", path) >= (int)acap) {
        snprintf(why, cap, "path too long");
        return BW_ERR;
    }
    /* The path itself by lstat (a symlink there is refused below, as at
     * start), its ancestors by stat. */
    for (int first = 1;; first = 0) {
        if ((first ? lstat(anc, &st) : stat(anc, &st)) == 0)
            break;
        if (errno != ENOENT && errno != ENOTDIR) {
            snprintf(why, cap, "cannot create it: %s: %s", anc, strerror(errno));
            return BW_ERR;
        }
        char *slash = strrchr(anc, '/');
        if (!slash) {
            snprintf(why, cap, "cannot create it: not an absolute path");
            return BW_ERR;
        }
        slash[slash == anc] = '\0'; /* "/x" -> "/" */
    }
    if (strcmp(anc, path) == 0) {
        *exists = 1;
        return BW_OK;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(why, cap, "cannot create it: %s: %s", anc, strerror(ENOTDIR));
        return BW_ERR;
    }
    if (access(anc, W_OK | X_OK) != 0) {
        snprintf(why, cap, "cannot create it under %s: %s", anc, strerror(errno));
        return BW_ERR;
    }
    return BW_OK;
}

/* Creates (or checks) one directory; a new one is given to uid/gid.  With
 * `check` (bulwarkd -t) a missing one is not created but marked missing,
 * with the ancestor the workers' check tests instead. */
static int prepare_one(wdir_t *w, uid_t uid, gid_t gid, int give, int check, bw_err_t *err)
{
    char why[4400];
    int created = 0;
    if (check && w->create) {
        int exists = 0;
        if (creatable(w->path, &exists, w->anc, sizeof w->anc, why, sizeof why) != BW_OK)
            return bw_err_set(err, "%s: %s", w->where, why);
        if (!exists) {
            w->missing = 1;
            bw_log(BW_LOG_INFO, "%s: does not exist yet: the start will create it", w->where);
            return BW_OK;
        }
    } else if (w->create && make_dirs(w->path, w->mode, &created, why, sizeof why) != BW_OK)
        return bw_err_set(err, "%s: %s", w->where, why);
    /* A directory we create or own must be the real one, not a link a
     * worker (which owns it) could point elsewhere. */
    int fd = open(w->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (w->create ? O_NOFOLLOW : 0));
    if (fd < 0)
        return bw_err_set(err, "%s: %s%s", w->where, strerror(errno),
                          errno == ELOOP ? " (a symlink: give the real directory)"
                          : errno == ENOTDIR ? " (not a directory)" : "");
    struct stat st;
    int rc = BW_OK;
    if (fstat(fd, &st) != 0) {
        rc = bw_err_set(err, "%s: %s", w->where, strerror(errno));
    } else if (created) {
        if ((give && fchown(fd, uid, gid) != 0) || fchmod(fd, w->mode) != 0)
            rc = bw_err_set(err, "%s: cannot give it to uid %u: %s", w->where, (unsigned)uid,
                            strerror(errno));
    } else if (w->private_ && (st.st_mode & 077)) {
        rc = bw_err_set(err, "%s: mode %04o lets other users in (expected 0700: chmod 700 %s)",
                        w->where, (unsigned)(st.st_mode & 07777), w->path);
    }
    close(fd);
    return rc;
}

/* In a child that has become the workers' user: can it write each one?
 * The answer is one errno per directory on a pipe. */
static int check_as_worker(const bw_daemon_t *d, const wdir_t *w, size_t n, bw_err_t *err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return bw_err_set(err, "pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return bw_err_set(err, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(p[0]);
        int e[16] = {0};
        if (setgroups(1, &d->gid) != 0 || setgid(d->gid) != 0 || setuid(d->uid) != 0)
            _exit(2);
        for (size_t i = 0; i < n && i < 16; i++)
            e[i] = (w[i].missing ? access(w[i].anc, X_OK) : access(w[i].path, W_OK | X_OK)) == 0
                       ? 0 : errno;
        _exit(write(p[1], e, sizeof e) == (ssize_t)sizeof e ? 0 : 3);
    }
    close(p[1]);
    int e[16] = {0};
    ssize_t got;
    while ((got = read(p[0], e, sizeof e)) < 0 && errno == EINTR)
        ;
    close(p[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (got != (ssize_t)sizeof e || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return bw_err_set(err, "cannot check the directories as uid %u (status %d)",
                          (unsigned)d->uid, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    for (size_t i = 0; i < n && i < 16; i++)
        if (e[i] && w[i].missing)
            return bw_err_set(err, "%s: the workers' user %s (uid %u) could not reach it once "
                              "created: %s: %s", w[i].where, d->dc->user ? d->dc->user : "?",
                              (unsigned)d->uid, w[i].anc, strerror(e[i]));
        else if (e[i])
            return bw_err_set(err, "%s: the workers' user %s (uid %u) cannot write it: %s",
                              w[i].where, d->dc->user ? d->dc->user : "?", (unsigned)d->uid,
                              strerror(e[i]));
    return BW_OK;
}

/* Does any action of the base configuration or of a group store objects? */
static int uses_quarantine(const bw_daemon_t *d)
{
    if (bw_icap_may_quarantine(d->ic))
        return 1;
    for (size_t i = 0; i < bw_conf_group_count(d->st, &bw_icap_conf_table); i++) {
        const bw_icap_conf_t *g =
            bw_conf_get(d->st, &bw_icap_conf_table, bw_conf_group_name(d->st, &bw_icap_conf_table, i));
        if (g && bw_icap_may_quarantine(g))
            return 1;
    }
    return 0;
}

/* CacheDir, when missing: root's (the process's), 0755, with its parents. */
static int prepare_cache(const bw_daemon_t *d, bw_err_t *err)
{
    const char *dir = d->dc->cache_dir;
    if (!dir || !dir[0])
        return BW_OK;
    struct stat st;
    if (lstat(dir, &st) == 0)
        return BW_OK; /* the engine checks it is trustworthy, and says so if not */
    wdir_t w = {.path = dir, .mode = 0755, .create = 1};
    where_of(w.where, sizeof w.where, d, &bw_daemon_conf_table, "CacheDir", dir);
    return prepare_one(&w, 0, 0, 0, 0, err);
}

int bw_dirs_prepare(const bw_daemon_t *d, int check, bw_err_t *err)
{
    wdir_t w[4];
    size_t n = 0;
    const bw_quar_conf_t *qc = bw_conf_get(d->st, &bw_quar_conf_table, NULL);
    if (qc && qc->dir && qc->dir[0] && uses_quarantine(d)) {
        w[n] = (wdir_t){.path = qc->dir, .mode = 0700, .private_ = 1, .create = 1};
        where_of(w[n].where, sizeof w[n].where, d, &bw_quar_conf_table, "QuarantineDir", qc->dir);
        n++;
    }
    if (d->dc->core_path && d->dc->core_path[0]) {
        w[n] = (wdir_t){.path = d->dc->core_path, .mode = 0700, .create = 1};
        where_of(w[n].where, sizeof w[n].where, d, &bw_daemon_conf_table, "CorePath",
                 d->dc->core_path);
        n++;
    }
    /* The event spool: every worker writes its own segments there, the
     * supervisor (root) too; files take the directory's owner (evspool.c). */
    if (d->ec && d->ec->enable && d->ec->spool_dir && d->ec->spool_dir[0]) {
        w[n] = (wdir_t){.path = d->ec->spool_dir, .mode = 0750, .create = 1};
        where_of(w[n].where, sizeof w[n].where, d, &bw_events_conf_table, "SpoolDirectory",
                 d->ec->spool_dir);
        n++;
    }
    const char *tmp = getenv("TMPDIR");
    w[n] = (wdir_t){.path = tmp && tmp[0] ? tmp : "/tmp"};
    snprintf(w[n].where, sizeof w[n].where, "%s %s (where workers spool large objects)",
             tmp && tmp[0] ? "TMPDIR" : "temporary directory", w[n].path);
    n++;
    uid_t uid = d->drop ? d->uid : geteuid();
    gid_t gid = d->drop ? d->gid : getegid();
    for (size_t i = 0; i < n; i++)
        if (prepare_one(&w[i], uid, gid, d->drop && geteuid() == 0, check, err) != BW_OK)
            return BW_ERR;
    if (d->drop && check_as_worker(d, w, n, err) != BW_OK)
        return BW_ERR;
    return prepare_cache(d, err);
}

void bw_dirs_cache_note(void *arg, const char *msg)
{
    (void)arg;
    bw_log(BW_LOG_WARN, "%s", msg);
}
