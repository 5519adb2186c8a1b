/* SPDX-License-Identifier: Apache-2.0 */
/* Where the sets live, and how one replaces another.
 *
 * rename(2) replaces a file or an empty directory atomically, but not a
 * directory full of databases.  So BasesPath (say /var/lib/bulwark/db) is a
 * symlink, and every set is a directory of its own beside it:
 *
 *   /var/lib/bulwark/db -> db.d/42            what bulwarkd loads
 *   /var/lib/bulwark/db.d/42/                 the current set (+ its manifest)
 *   /var/lib/bulwark/db.d/41/                 the previous set
 *   /var/lib/bulwark/db.d/previous -> 41      what --rollback returns to
 *   /var/lib/bulwark/db.d/rolled-back         a version --rollback left ("42")
 *   /var/lib/bulwark/db.d/.lock               flock: one updater at a time
 *   /var/lib/bulwark/db.d/.stage.XXXXXX/      a set being downloaded
 *
 * The switch writes a new symlink under a temporary name and renames it over
 * BasesPath: a reader resolving BasesPath at any instant finds the old set or
 * the new one, complete.  Symlink texts are relative ("db.d/42"), so the
 * whole tree can move.  The previous link is rewritten before the switch,
 * so a crash between the two leaves "previous" equal to "current", never
 * pointing at a set cleanup might remove.
 *
 * The first update usually finds BasesPath as a plain directory (a package's
 * or an administrator's).  renameat2(RENAME_EXCHANGE) swaps it with the new
 * symlink in one step, then the old directory is moved into db.d/ as
 * "initial" and becomes the previous set, so even the first update can be
 * rolled back (or, when the updater may not move it there, to .NAME.initial
 * beside BasesPath: see move_aside).  On a file system without RENAME_EXCHANGE it takes two
 * renames, and BasesPath is missing for the moment between them (a daemon
 * reloading exactly then keeps its running set and says why).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bulwark/bulwark.h"
#include "update/update-int.h"

#define PREVIOUS "previous"
#define ROLLED_BACK "rolled-back"

static char *read_link(const char *path)
{
    char buf[4096];
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    if (n < 0)
        return NULL;
    buf[n] = '\0';
    return strdup(buf);
}

int bw_store_refresh(bw_store_t *s, bw_err_t *err)
{
    free(s->cur_text);
    free(s->prev_text);
    s->cur_text = s->prev_text = NULL;
    struct stat st;
    if (lstat(s->base, &st) != 0) {
        if (errno != ENOENT)
            return bw_err_set(err, "BasesPath %s: %s", s->base, strerror(errno));
        s->kind = BW_STORE_NONE;
    } else if (S_ISLNK(st.st_mode)) {
        s->kind = BW_STORE_LINK;
        if (!(s->cur_text = read_link(s->base)))
            return bw_err_set(err, "BasesPath %s: %s", s->base, strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
        s->kind = BW_STORE_DIR;
    } else {
        return bw_err_set(err, "BasesPath %s is a file: the updater manages a directory of "
                          "databases (point BasesPath at a directory)", s->base);
    }
    char *prev = bw_upd_join(s->sets, PREVIOUS);
    char *text = prev ? read_link(prev) : NULL;
    free(prev);
    if (text) {
        /* stored relative to sets/ (see link_for_sets); give it back relative to parent */
        if (text[0] == '/') {
            s->prev_text = text;
        } else if (!strncmp(text, "../", 3)) {
            s->prev_text = strdup(text + 3);
            free(text);
        } else {
            if (asprintf(&s->prev_text, "%s.d/%s", s->name, text) < 0)
                s->prev_text = NULL;
            free(text);
        }
        if (!s->prev_text)
            return bw_err_set(err, "out of memory");
    }
    return BW_OK;
}

int bw_store_open(bw_store_t *s, const char *bases_path, bw_err_t *err)
{
    memset(s, 0, sizeof *s);
    s->lock_fd = -1;
    size_t n = strlen(bases_path);
    while (n > 1 && bases_path[n - 1] == '/')
        n--;
    if (n == 0 || (n == 1 && bases_path[0] == '/'))
        return bw_err_set(err, "BasesPath '%s' cannot be managed by the updater", bases_path);
    s->base = strndup(bases_path, n);
    if (!s->base)
        return bw_err_set(err, "out of memory");
    const char *slash = strrchr(s->base, '/');
    s->parent = slash ? strndup(s->base, slash == s->base ? 1 : (size_t)(slash - s->base))
                      : strdup(".");
    s->name = strdup(slash ? slash + 1 : s->base);
    if (!s->parent || !s->name || asprintf(&s->sets, "%s.d", s->base) < 0) {
        s->sets = NULL;
        return bw_err_set(err, "out of memory");
    }
    if (!strcmp(s->name, ".") || !strcmp(s->name, ".."))
        return bw_err_set(err, "BasesPath '%s': name the directory itself, not . or ..",
                          bases_path);
    struct stat st;
    if (stat(s->parent, &st) != 0)
        return bw_err_set(err, "BasesPath %s: its directory %s: %s", s->base, s->parent,
                          strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return bw_err_set(err, "BasesPath %s: %s is not a directory", s->base, s->parent);
    if (mkdir(s->sets, 0755) != 0 && errno != EEXIST)
        return bw_err_set(err, "%s: %s", s->sets, strerror(errno));
    if (stat(s->sets, &st) != 0 || !S_ISDIR(st.st_mode))
        return bw_err_set(err, "%s: not a directory", s->sets);
    return bw_store_refresh(s, err);
}

int bw_store_lock(bw_store_t *s, bw_err_t *err)
{
    char *path = bw_upd_join(s->sets, ".lock");
    if (!path)
        return bw_err_set(err, "out of memory");
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (s->lock_fd < 0) {
        bw_err_set(err, "%s: %s", path, strerror(errno));
        free(path);
        return BW_ERR;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char pid[32] = "";
        ssize_t n = pread(s->lock_fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(s->lock_fd);
        s->lock_fd = -1;
        if (e == EWOULDBLOCK) {
            bw_err_set(err, "another bulwark update%s%s%s is working on %s (lock %s)",
                       pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "", s->base, path);
            free(path);
            return BW_AGAIN;
        }
        bw_err_set(err, "%s: flock: %s", path, strerror(e));
        free(path);
        return BW_ERR;
    }
    free(path);
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(s->lock_fd, 0) == 0 && pwrite(s->lock_fd, pid, (size_t)n, 0) < 0) {
        /* the pid is a courtesy for the next updater's message; the lock holds without it */
    }
    return BW_OK;
}

void bw_store_close(bw_store_t *s)
{
    if (s->lock_fd >= 0) {
        if (ftruncate(s->lock_fd, 0) != 0) {
            /* a stale pid in an unlocked file misleads no one: the lock decides */
        }
        close(s->lock_fd);
    }
    free(s->base);
    free(s->parent);
    free(s->name);
    free(s->sets);
    free(s->cur_text);
    free(s->prev_text);
    memset(s, 0, sizeof *s);
    s->lock_fd = -1;
}

void bw_store_clean_stale(bw_store_t *s, const bw_update_req_t *req)
{
    DIR *d = opendir(s->sets);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, ".stage.", 7) && strncmp(de->d_name, ".cache.", 7) &&
            strncmp(de->d_name, "." PREVIOUS ".new.", strlen(PREVIOUS) + 6))
            continue;
        char *p = bw_upd_join(s->sets, de->d_name);
        if (p && bw_upd_rmtree(p) == 0)
            bw_upd_log(req, BW_UPDATE_LOG_NOTE, "removed %s, left by an interrupted run", p);
        free(p);
    }
    closedir(d);
    /* temporary BasesPath links (".db.new.PID") of a run that died before its rename */
    char prefix[300];
    snprintf(prefix, sizeof prefix, ".%s.new.", s->name);
    if (!(d = opendir(s->parent)))
        return;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, prefix, strlen(prefix)))
            continue;
        char *p = bw_upd_join(s->parent, de->d_name);
        struct stat st;
        if (p && lstat(p, &st) == 0 && S_ISLNK(st.st_mode))
            unlink(p);
        free(p);
    }
    closedir(d);
}

int bw_store_mktemp(bw_store_t *s, const char *prefix, char **path, bw_err_t *err)
{
    if (asprintf(path, "%s/.%s.XXXXXX", s->sets, prefix) < 0) {
        *path = NULL;
        return bw_err_set(err, "out of memory");
    }
    if (!mkdtemp(*path) || chmod(*path, 0755) != 0) {
        bw_err_set(err, "%s: %s", *path, strerror(errno));
        rmdir(*path);
        free(*path);
        *path = NULL;
        return BW_ERR;
    }
    return BW_OK;
}

/* The first of BASE, BASE.1, BASE.2 ... that does not exist in dir. */
static char *free_name(const char *dir, const char *base)
{
    for (int i = 0; i < 1000; i++) {
        char name[300], *p;
        if (i)
            snprintf(name, sizeof name, "%s.%d", base, i);
        else
            snprintf(name, sizeof name, "%s", base);
        p = bw_upd_join(dir, name);
        struct stat st;
        int taken = !p || lstat(p, &st) == 0;
        free(p);
        if (!taken)
            return strdup(name);
    }
    return NULL;
}

/* BasesPath link text (relative to parent) -> the same target, relative to sets/. */
static char *link_for_sets(const bw_store_t *s, const char *text)
{
    char *out;
    size_t nl = strlen(s->name);
    if (text[0] == '/')
        return strdup(text);
    if (!strncmp(text, s->name, nl) && !strncmp(text + nl, ".d/", 3) && text[nl + 3])
        return strdup(text + nl + 3);
    if (asprintf(&out, "../%s", text) < 0)
        return NULL;
    return out;
}

/* Points dir/name at text, atomically (symlink under a temporary name, rename). */
static int replace_link(const char *dir, const char *name, const char *text, bw_err_t *err)
{
    char *tmp, *dst = bw_upd_join(dir, name);
    if (!dst || asprintf(&tmp, "%s/.%s.new.%ld", dir, name, (long)getpid()) < 0) {
        free(dst);
        return bw_err_set(err, "out of memory");
    }
    unlink(tmp);
    int rc = BW_OK;
    if (symlink(text, tmp) != 0)
        rc = bw_err_set(err, "%s: %s", tmp, strerror(errno));
    else if (rename(tmp, dst) != 0)
        rc = bw_err_set(err, "%s: %s", dst, strerror(errno));
    if (rc != BW_OK)
        unlink(tmp);
    free(tmp);
    free(dst);
    return rc;
}

static int set_previous(bw_store_t *s, const char *base_text, bw_err_t *err)
{
    char *t = link_for_sets(s, base_text);
    if (!t)
        return bw_err_set(err, "out of memory");
    int rc = replace_link(s->sets, PREVIOUS, t, err);
    free(t);
    return rc;
}

/* Moves the old plain directory `from` aside, to sets/initial or, when that
 * is refused, to parent/.NAME.initial; *text gets BasesPath-style link text
 * for it.  The second place exists because moving a directory to another
 * parent needs write permission on the directory itself (its ".." changes):
 * a package's root-owned directory cannot go into sets/ when the updater
 * runs as the service user, but it can be renamed within its parent. */
static int move_aside(bw_store_t *s, const char *from, char **text, bw_err_t *err)
{
    char *n = free_name(s->sets, "initial"), *p = n ? bw_upd_join(s->sets, n) : NULL;
    int e = 0;
    *text = NULL;
    if (p && rename(from, p) == 0) {
        if (asprintf(text, "%s.d/%s", s->name, n) < 0)
            *text = NULL;
    } else {
        e = errno;
        char hidden[300];
        snprintf(hidden, sizeof hidden, ".%s.initial", s->name);
        free(n);
        free(p);
        n = free_name(s->parent, hidden);
        p = n ? bw_upd_join(s->parent, n) : NULL;
        if (p && rename(from, p) == 0)
            *text = strdup(n);
        else if (p)
            bw_err_set(err, "moving %s aside: %s (and to %s: %s)", from, strerror(e), p,
                       strerror(errno));
    }
    int rc = *text ? BW_OK : err->msg[0] ? BW_ERR : bw_err_set(err, "out of memory");
    free(n);
    free(p);
    return rc;
}

/* A plain-directory BasesPath is moved aside as the previous set, and
 * BasesPath becomes the symlink tmp_link holds. */
static int convert_dir(bw_store_t *s, const char *tmp_link, bw_err_t *err)
{
    char *text = NULL;
    int rc;
    err->msg[0] = '\0';
    if (renameat2(AT_FDCWD, tmp_link, AT_FDCWD, s->base, RENAME_EXCHANGE) == 0) {
        /* tmp_link now names the old directory */
        if ((rc = move_aside(s, tmp_link, &text, err)) != BW_OK)
            return bw_err_prefix(err, "the new set is in place, but the old directory stays "
                                 "at %s", tmp_link);
    } else if (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP) {
        if ((rc = move_aside(s, s->base, &text, err)) != BW_OK)
            return rc;
        if (rename(tmp_link, s->base) != 0) {
            rc = bw_err_set(err, "%s: %s", s->base, strerror(errno));
            /* put the old directory back where it was */
            char *back = text[0] == '/' ? strdup(text) : bw_upd_join(s->parent, text);
            if (back && rename(back, s->base) != 0) {
                /* both failed: the old set is intact at `back`, and the message says why */
            }
            free(back);
            free(text);
            return rc;
        }
    } else {
        return bw_err_set(err, "%s: %s", s->base, strerror(errno));
    }
    rc = set_previous(s, text, err);
    free(text);
    return rc;
}

/* Points BasesPath at text: a temporary symlink renamed over it. */
static int switch_base(bw_store_t *s, const char *text, bw_err_t *err)
{
    char *tmp;
    if (asprintf(&tmp, "%s/.%s.new.%ld", s->parent, s->name, (long)getpid()) < 0)
        return bw_err_set(err, "out of memory");
    unlink(tmp);
    int rc = BW_OK;
    if (symlink(text, tmp) != 0) {
        rc = bw_err_set(err, "%s: %s", tmp, strerror(errno));
    } else if (s->kind == BW_STORE_DIR) {
        rc = convert_dir(s, tmp, err);
    } else if (rename(tmp, s->base) != 0) {
        rc = bw_err_set(err, "%s: %s", s->base, strerror(errno));
    }
    unlink(tmp); /* gone already after a rename; after a failure it goes here */
    free(tmp);
    bw_upd_fsync_dir(s->parent);
    bw_upd_fsync_dir(s->sets);
    return rc;
}

int bw_store_install(bw_store_t *s, const char *stage, uint64_t version, bw_err_t *err)
{
    char vname[32], *text = NULL;
    snprintf(vname, sizeof vname, "%" PRIu64, version);
    char *name = free_name(s->sets, vname);
    char *dst = name ? bw_upd_join(s->sets, name) : NULL;
    int rc = BW_OK;
    if (!dst || asprintf(&text, "%s.d/%s", s->name, name) < 0) {
        text = NULL;
        rc = bw_err_set(err, "out of memory");
        goto out;
    }
    if (rename(stage, dst) != 0) {
        rc = bw_err_set(err, "%s: %s", dst, strerror(errno));
        goto out;
    }
    bw_upd_fsync_dir(s->sets);
    if (s->kind == BW_STORE_LINK && (rc = set_previous(s, s->cur_text, err)) != BW_OK)
        goto out;
    if ((rc = switch_base(s, text, err)) != BW_OK)
        goto out;
    rc = bw_store_refresh(s, err);
out:
    free(name);
    free(dst);
    free(text);
    return rc;
}

char *bw_store_prev_path(const bw_store_t *s)
{
    return s->prev_text ? bw_upd_join(s->sets, PREVIOUS) : NULL;
}

int bw_store_rollback(bw_store_t *s, bw_err_t *err)
{
    if (s->kind != BW_STORE_LINK)
        return bw_err_set(err, "BasesPath %s is %s, not a set installed by bulwark update: "
                          "there is nothing to roll back to", s->base,
                          s->kind == BW_STORE_DIR ? "a plain directory" : "missing");
    if (!s->prev_text)
        return bw_err_set(err, "no previous set is kept in %s (one appears after the first "
                          "update)", s->sets);
    char *prev = bw_store_prev_path(s);
    struct stat st;
    if (!prev || stat(prev, &st) != 0 || !S_ISDIR(st.st_mode)) {
        bw_err_set(err, "the previous set %s (%s) is gone", prev ? prev : "?", s->prev_text);
        free(prev);
        return BW_ERR;
    }
    free(prev);
    char *cur = strdup(s->cur_text), *target = strdup(s->prev_text);
    int rc = BW_OK;
    if (!cur || !target)
        rc = bw_err_set(err, "out of memory");
    else if ((rc = switch_base(s, target, err)) == BW_OK)
        rc = set_previous(s, cur, err);
    free(cur);
    free(target);
    if (rc == BW_OK)
        rc = bw_store_refresh(s, err);
    return rc;
}

/* Removes the directories of dir whose names pass `pick` and that are
 * neither cur nor prev. */
static void remove_unused(const char *dir, int (*pick)(const bw_store_t *, const char *),
                          const bw_store_t *s, const struct stat *cur, const struct stat *prev,
                          const bw_update_req_t *req)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!pick(s, de->d_name))
            continue;
        char *p = bw_upd_join(dir, de->d_name);
        struct stat st;
        if (p && lstat(p, &st) == 0 && S_ISDIR(st.st_mode) &&
            !(st.st_dev == cur->st_dev && st.st_ino == cur->st_ino) &&
            !(prev && st.st_dev == prev->st_dev && st.st_ino == prev->st_ino)) {
            if (bw_upd_rmtree(p) == 0)
                bw_upd_log(req, BW_UPDATE_LOG_INFO, "removed the old set %s", p);
            else
                bw_upd_log(req, BW_UPDATE_LOG_WARN, "cannot remove the old set %s: %s (remove "
                           "it by hand)", p, strerror(errno));
        }
        free(p);
    }
    closedir(d);
}

static int pick_set(const bw_store_t *s, const char *n)
{
    (void)s;
    return n[0] != '.' && strcmp(n, PREVIOUS);
}

/* a package's directory that move_aside had to leave beside BasesPath */
static int pick_hidden_initial(const bw_store_t *s, const char *n)
{
    size_t nl = strlen(s->name);
    return n[0] == '.' && !strncmp(n + 1, s->name, nl) && !strncmp(n + 1 + nl, ".initial", 8);
}

void bw_store_cleanup(bw_store_t *s, const bw_update_req_t *req)
{
    struct stat cur, prev;
    char *pp = bw_upd_join(s->sets, PREVIOUS);
    int have_prev = pp && stat(pp, &prev) == 0;
    free(pp);
    /* if BasesPath does not resolve, something is off: remove nothing */
    if (stat(s->base, &cur) != 0)
        return;
    remove_unused(s->sets, pick_set, s, &cur, have_prev ? &prev : NULL, req);
    remove_unused(s->parent, pick_hidden_initial, s, &cur, have_prev ? &prev : NULL, req);
}

uint64_t bw_store_rolled_back(const bw_store_t *s)
{
    char *p = bw_upd_join(s->sets, ROLLED_BACK);
    bw_buf_t b = {0};
    bw_err_t err;
    uint64_t v = 0;
    if (p && bw_upd_read_file(p, 64, &b, &err) == BW_OK) {
        bw_buf_append(&b, "", 1);
        if (!b.oom) {
            char *end;
            errno = 0;
            unsigned long long x = strtoull(b.p, &end, 10);
            if (!errno && end != b.p && (*end == '\n' || *end == '\0'))
                v = x;
        }
    }
    bw_buf_free(&b);
    free(p);
    return v;
}

int bw_store_set_rolled_back(bw_store_t *s, uint64_t version, bw_err_t *err)
{
    if (version == 0) {
        char *p = bw_upd_join(s->sets, ROLLED_BACK);
        if (p && unlink(p) != 0 && errno != ENOENT)
            bw_err_set(err, "%s: %s", p, strerror(errno));
        free(p);
        return BW_OK;
    }
    char text[32];
    int n = snprintf(text, sizeof text, "%" PRIu64 "\n", version);
    return bw_upd_write_atomic(s->sets, ROLLED_BACK, text, (size_t)n, 0644, err);
}
