/* SPDX-License-Identifier: Apache-2.0 */
/* SCAN, CONTSCAN, MULTISCAN and ALLMATCHSCAN of paths, and the allow-list
 * that keeps a network client from reading the machine through them.
 *
 * clamd scans whatever path it is sent, as the user it runs as.  That is fine
 * on a unix socket whose permissions say who may talk, and a hole on TCP.  So
 * a path must lie inside a tree of ScanPathAllow (TCP; none by default) or
 * LocalScanPathAllow (unix socket; "/" by default), and the check must hold
 * against the filesystem, not just the text:
 *   1. the text: absolute, no ".." component, inside an allowed tree as
 *      written (so nothing outside is even looked at, and a refusal tells
 *      nothing about what exists there);
 *   2. the parent directory is resolved (realpath: the client may name a
 *      path through a symlink that stays inside) and must still be inside an
 *      allowed tree's resolved form;
 *   3. the resolved path is then opened component by component from "/"
 *      with O_NOFOLLOW, so a symlink swapped in after step 2 makes the open
 *      fail instead of leading elsewhere;
 *   4. below that, nothing follows a symlink: the final component, when it
 *      is one, is skipped (as clamd does with FollowFileSymlinks and
 *      FollowDirectorySymlinks off), and the walk opens every entry with
 *      O_NOFOLLOW relative to its directory's descriptor.  A symlink loop
 *      therefore cannot loop, and no link leads out of the tree.
 * Replies keep clamd's shapes ("PATH: NAME FOUND", "PATH: ... ERROR",
 * "PATH: OK"); a refusal reads "PATH: Access denied: <why>. ERROR".
 *
 * Entries are visited as clamd's cli_ftw does: files before directories,
 * then by inode number, so CONTSCAN lists detections in clamd's order.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clamd/clamd-int.h"

/* ---- text ------------------------------------------------------------------ */

/* Normalises an absolute path: no empty or "." components, no trailing '/'.
 * Returns BW_ERR for a relative path or one with a ".." component (*dotdot
 * set), or one too long. */
static int normalise(const char *in, char *out, size_t cap, int *dotdot)
{
    *dotdot = 0;
    if (in[0] != '/')
        return BW_ERR;
    size_t o = 0;
    const char *p = in;
    while (*p) {
        while (*p == '/')
            p++;
        const char *e = p;
        while (*e && *e != '/')
            e++;
        size_t n = (size_t)(e - p);
        if (n == 0)
            break;
        if (n == 1 && p[0] == '.') {
            p = e;
            continue;
        }
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            *dotdot = 1;
            return BW_ERR;
        }
        if (o + n + 2 > cap)
            return BW_ERR;
        out[o++] = '/';
        memcpy(out + o, p, n);
        o += n;
        p = e;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = 0;
    return BW_OK;
}

/* 1 if `path` is `root` or below it (both normalised). */
static int under(const char *path, const char *root)
{
    if (!root)
        return 0;
    if (!strcmp(root, "/"))
        return path[0] == '/';
    size_t n = strlen(root);
    return !strncmp(path, root, n) && (path[n] == 0 || path[n] == '/');
}

int bw_clamd_allow_init(bw_clamd_allow_t *a, const bw_conf_list_t *paths, const char *key)
{
    memset(a, 0, sizeof *a);
    a->key = key;
    if (!paths->n)
        return BW_OK;
    a->v = calloc(paths->n, sizeof *a->v);
    if (!a->v)
        return BW_ERR;
    for (size_t i = 0; i < paths->n; i++) {
        const char *p = BW_CONF_LIST_AT(paths, char *, i);
        char norm[PATH_MAX];
        int dd;
        if (normalise(p, norm, sizeof norm, &dd) != BW_OK)
            continue; /* relative or with "..": the conf check rejects these */
        bw_clamd_root_t *r = &a->v[a->n];
        r->lex = strdup(norm);
        r->real = realpath(norm, NULL); /* NULL: does not exist (yet); lexical match only */
        if (!r->lex) {
            free(r->real);
            return BW_ERR;
        }
        a->n++;
    }
    return BW_OK;
}

void bw_clamd_allow_free(bw_clamd_allow_t *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->v[i].lex);
        free(a->v[i].real);
    }
    free(a->v);
    memset(a, 0, sizeof *a);
}

/* ---- replies --------------------------------------------------------------- */

static void reply_error(bw_clamd_walk_t *w, const char *disp, const char *msg)
{
    bw_clamd_put(w->out, w->id, w->term, "%s: %s ERROR", disp, msg);
    w->errors++;
}

static void reply_errno(bw_clamd_walk_t *w, const char *disp, const char *what, int e)
{
    char msg[300];
    snprintf(msg, sizeof msg, "%s %s.", what, strerror(e));
    reply_error(w, disp, msg);
}

static char *join(const char *dir, const char *name)
{
    char *p = NULL;
    if (asprintf(&p, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", name) < 0)
        return NULL;
    return p;
}

/* ---- opening without following links ----------------------------------------- */

/* Opens the directory at the absolute, symlink-free path `path`, following
 * no symlink on the way (each component O_NOFOLLOW from "/").  -1 with errno. */
static int open_dir_nofollow(const char *path, int final_flags)
{
    const char *p = path + strspn(path, "/");
    if (!*p)
        return open("/", final_flags | O_DIRECTORY | O_CLOEXEC);
    int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    while (fd >= 0 && *p) {
        size_t n = strcspn(p, "/");
        char comp[NAME_MAX + 1];
        if (n > NAME_MAX) {
            close(fd);
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(comp, p, n);
        comp[n] = 0;
        p += n;
        p += strspn(p, "/");
        int flags = (*p ? O_PATH : final_flags) | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
        int nfd = openat(fd, comp, flags);
        int e = errno;
        close(fd);
        errno = e;
        fd = nfd;
    }
    return fd;
}

/* ---- scanning ------------------------------------------------------------------ */

static void scan_file(bw_clamd_walk_t *w, int dirfd, const char *name, const char *disp,
                      const char *rpath)
{
    w->total++;
    if (w->collect) {
        size_t a = strlen(disp), b = strlen(rpath);
        char *e = malloc(a + b + 2);
        if (!e) {
            reply_error(w, disp, "out of memory");
            return;
        }
        memcpy(e, disp, a + 1);
        memcpy(e + a + 1, rpath, b + 1);
        if (bw_vec_push(&w->files, e)) {
            free(e);
            reply_error(w, disp, "out of memory");
        }
        return;
    }
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == EACCES || errno == EPERM)
            reply_error(w, disp, "Access denied.");
        else
            reply_errno(w, disp, "File path check failure:", errno);
        return;
    }
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd); /* swapped for something else since the walk saw it */
        return;
    }
    bw_verdict_t v;
    memset(&v, 0, sizeof v);
    const char *base = strrchr(disp, '/');
    if (bw_scan_fd(w->engine, &w->lim, fd, base ? base + 1 : disp, &v) != BW_OK) {
        close(fd);
        bw_verdict_free(&v);
        reply_error(w, disp, "Can't read file");
        return;
    }
    close(fd);
    w->bytes += (uint64_t)st.st_size;
    if (w->s)
        bw_clamd_count(w->s, &v);
    int r = bw_clamd_put_verdict(w->out, w->id, w->term, disp, &v, w->cc,
                                 w->cmd == BW_CLAMD_ALLMATCHSCAN, 0);
    bw_verdict_free(&v);
    if (r == BW_CLAMD_R_FOUND) {
        w->found++;
        if (w->cmd == BW_CLAMD_SCAN || w->cmd == BW_CLAMD_ALLMATCHSCAN)
            w->stop = 1;
    } else if (r == BW_CLAMD_R_ERROR) {
        w->errors++;
    }
}

typedef struct entry {
    char *name;
    ino_t ino;
    int is_dir;
} entry_t;

static int entry_cmp(const void *a, const void *b)
{
    const entry_t *x = a, *y = b;
    if (x->is_dir != y->is_dir)
        return x->is_dir - y->is_dir;
    return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static void visit(bw_clamd_walk_t *w, int dirfd, const char *name, const char *disp,
                  const char *rpath, unsigned depth, int top);

/* Walks the directory open at dfd (taken over); disp and rpath are its
 * display and resolved paths. */
static void walk_dir(bw_clamd_walk_t *w, int dfd, const char *disp, const char *rpath,
                     unsigned depth)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        reply_errno(w, disp, "File path check failure:", errno);
        return;
    }
    BW_VEC(entry_t) ev = {0};
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        int is_dir = de->d_type == DT_DIR;
        if (de->d_type == DT_UNKNOWN) {
            struct stat st;
            is_dir = !fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) && S_ISDIR(st.st_mode);
        }
        entry_t e = {.name = strdup(de->d_name), .ino = de->d_ino, .is_dir = is_dir};
        if (!e.name || bw_vec_push(&ev, e)) {
            free(e.name);
            break;
        }
    }
    entry_t *ents = ev.v;
    size_t n = ev.n;
    if (n > 1)
        qsort(ents, n, sizeof *ents, entry_cmp);
    for (size_t i = 0; i < n; i++) {
        if (!w->stop) {
            char *cd = join(disp, ents[i].name), *cr = join(rpath, ents[i].name);
            if (cd && cr)
                visit(w, dirfd(d), ents[i].name, cd, cr, depth + 1, 0);
            free(cd);
            free(cr);
        }
        free(ents[i].name);
    }
    bw_vec_free(&ev);
    closedir(d);
}

static void visit(bw_clamd_walk_t *w, int dirfd, const char *name, const char *disp,
                  const char *rpath, unsigned depth, int top)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW)) {
        w->total++;
        reply_errno(w, disp, "File path check failure:", errno);
        return;
    }
    if (S_ISREG(st.st_mode)) {
        scan_file(w, dirfd, name, disp, rpath);
    } else if (S_ISDIR(st.st_mode)) {
        if (top)
            w->total++;
        if (depth > w->cc->max_dir_recursion)
            return; /* clamd logs "Directory recursion limit reached" and goes on */
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            reply_errno(w, disp, "File path check failure:", errno);
            return;
        }
        if (top && w->cmd == BW_CLAMD_MULTISCAN)
            w->collect = 1; /* clamd multiscans directories only */
        walk_dir(w, fd, disp, rpath, depth);
    } else if (S_ISLNK(st.st_mode)) {
        w->total++; /* never followed: clamd skips links too */
    } else {
        w->total++;
        if (top)
            bw_clamd_put(w->out, w->id, w->term, "%s: Not supported file type ERROR", disp);
    }
}

void bw_clamd_walk_run(bw_clamd_walk_t *w, const char *given)
{
    char norm[PATH_MAX], rparent_buf[PATH_MAX];
    size_t len = strlen(given);
    while (len > 1 && given[len - 1] == '/')
        len--;
    w->disp = strndup(given, len);
    if (!w->disp) {
        w->total++;
        w->errors++;
        return;
    }
    const char *disp = w->disp;
    int dotdot;
    if (normalise(disp, norm, sizeof norm, &dotdot) != BW_OK) {
        w->total++;
        reply_error(w, disp, dotdot ? "Access denied: '..' in the path."
                           : disp[0] != '/' ? "Access denied: not an absolute path."
                                            : "File path check failure: File name too long.");
        return;
    }
    const bw_clamd_allow_t *a = w->allow;
    int ok = 0;
    for (size_t i = 0; i < a->n && !ok; i++)
        ok = under(norm, a->v[i].lex) || under(norm, a->v[i].real);
    if (!ok) {
        char msg[120];
        snprintf(msg, sizeof msg, "Access denied: not in %s.", a->key);
        w->total++;
        reply_error(w, disp, msg);
        return;
    }
    /* The parent, resolved; the last component is never followed. */
    char *slash = strrchr(norm, '/');
    const char *base = slash[1] ? slash + 1 : "";
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%.*s", slash == norm ? 1 : (int)(slash - norm), norm);
    if (!realpath(parent, rparent_buf)) {
        w->total++;
        reply_errno(w, disp, "File path check failure:", errno);
        return;
    }
    char *resolved = base[0] ? join(rparent_buf, base) : strdup(rparent_buf);
    if (!resolved) {
        w->total++;
        reply_error(w, disp, "out of memory");
        return;
    }
    ok = 0;
    for (size_t i = 0; i < a->n && !ok; i++)
        ok = under(resolved, a->v[i].real) || (!a->v[i].real && under(resolved, a->v[i].lex));
    if (!ok) {
        char msg[120];
        snprintf(msg, sizeof msg, "Access denied: a symlink leads out of %s.", a->key);
        w->total++;
        reply_error(w, disp, msg);
        free(resolved);
        return;
    }
    if (!base[0]) {
        /* "/" itself */
        int fd = open_dir_nofollow("/", O_RDONLY);
        w->total++;
        if (fd < 0)
            reply_errno(w, disp, "File path check failure:", errno);
        else {
            if (w->cmd == BW_CLAMD_MULTISCAN)
                w->collect = 1;
            walk_dir(w, fd, disp, "/", 0);
        }
        free(resolved);
        return;
    }
    int dfd = open_dir_nofollow(rparent_buf, O_PATH);
    if (dfd < 0) {
        w->total++;
        reply_errno(w, disp, "File path check failure:", errno);
        free(resolved);
        return;
    }
    visit(w, dfd, base, disp, resolved, 0, 1);
    close(dfd);
    free(resolved);
}

void bw_clamd_walk_file(bw_clamd_walk_t *w, const char *entry)
{
    const char *disp = entry, *rpath = entry + strlen(entry) + 1;
    const char *slash = strrchr(rpath, '/');
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%.*s", slash == rpath ? 1 : (int)(slash - rpath), rpath);
    int dfd = open_dir_nofollow(parent, O_PATH);
    if (dfd < 0) {
        w->total++;
        reply_errno(w, disp, "File path check failure:", errno);
        return;
    }
    scan_file(w, dfd, slash + 1, disp, rpath);
    close(dfd);
}

void bw_clamd_walk_free(bw_clamd_walk_t *w)
{
    for (size_t i = 0; i < w->files.n; i++)
        free(w->files.v[i]);
    bw_vec_free(&w->files);
    free(w->disp);
    w->disp = NULL;
}
