/* SPDX-License-Identifier: Apache-2.0 */
/* Compiling databases in the background.
 *
 * A large database takes seconds to compile.  The supervisor must not stop
 * supervising meanwhile (a crashed worker is replaced within a second, `bulwark
 * ctl status` answers, SIGTERM is obeyed), and it must not run a compile
 * thread either: a thread alive while the supervisor forks a worker can leave
 * the worker with a lock held forever.  So the compile runs in a child
 * process, which writes the compiled cache (CacheDir, or a temporary
 * directory when none is configured) and reports on a pipe; the supervisor
 * then maps the cache, which is fast and validated.  The child keeps the
 * supervisor's root: the cache is root's (dirs.c, engine-cache.c), so that
 * nothing a worker can write is ever mapped as a database.  The engine ends up in
 * the supervisor's memory, so the next workers share it copy-on-write. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/daemon.h"

struct bw_loader {
    pid_t pid;
    int fd;                 /* read end of the report pipe */
    char cache[4096];       /* where the child writes the cache */
    int own_cache;          /* a temporary directory we remove */
    char **paths;
    size_t npaths;
};

static void free_paths(bw_loader_t *l)
{
    for (size_t i = 0; i < l->npaths; i++)
        free(l->paths[i]);
    free(l->paths);
    l->paths = NULL;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

bw_loader_t *bw_loader_start(const bw_daemon_conf_t *dc, bw_err_t *err)
{
    bw_loader_t *l = calloc(1, sizeof *l);
    if (!l) {
        bw_err_set(err, "out of memory");
        return NULL;
    }
    l->fd = -1;
    l->npaths = dc->bases.n;
    l->paths = calloc(l->npaths + 1, sizeof *l->paths);
    for (size_t i = 0; l->paths && i < l->npaths; i++)
        l->paths[i] = strdup(BW_CONF_LIST_AT(&dc->bases, char *, i));
    /* The supervisor maps what the child writes, so the child writes only
     * where nobody else can (engine-cache.c): a CacheDir others can write is
     * passed over for a private temporary directory. */
    char why[1024] = "";
    if (dc->cache_dir && dc->cache_dir[0] &&
        bw_engine_cache_check(dc->cache_dir, why, sizeof why) != BW_OK)
        bw_log(BW_LOG_WARN, "%s; this reload compiles in a temporary directory", why);
    if (dc->cache_dir && dc->cache_dir[0] && !why[0]) {
        snprintf(l->cache, sizeof l->cache, "%s", dc->cache_dir);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(l->cache, sizeof l->cache, "%s/bulwarkd-reload.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
        if (!mkdtemp(l->cache)) {
            bw_err_set(err, "reload: cannot create a temporary cache directory: %s", strerror(errno));
            free_paths(l);
            free(l);
            return NULL;
        }
        l->own_cache = 1;
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        bw_err_set(err, "reload: pipe: %s", strerror(errno));
        bw_loader_cancel(l);
        return NULL;
    }
    pid_t parent = getpid();
    l->pid = fork();
    if (l->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        close(p[0]);
        sigset_t all;
        sigfillset(&all);
        sigprocmask(SIG_UNBLOCK, &all, NULL);
        signal(SIGTERM, SIG_DFL);
        bw_engine_t *e = NULL;
        char lerr[1024] = "";
        bw_load_opts_t lo = {l->cache, bw_dirs_cache_note, NULL};
        int rc = bw_engine_load((const char *const *)l->paths, l->npaths, &lo, &e, lerr, sizeof lerr);
        if (rc == BW_OK)
            snprintf(lerr, sizeof lerr, "OK");
        ssize_t w = write(p[1], lerr, strlen(lerr));
        (void)w;
        _exit(rc == BW_OK ? 0 : 1); /* the engine is not freed: the process ends */
    }
    close(p[1]);
    if (l->pid < 0) {
        bw_err_set(err, "reload: fork: %s", strerror(errno));
        close(p[0]);
        bw_loader_cancel(l);
        return NULL;
    }
    l->fd = p[0];
    return l;
}

int bw_loader_fd(const bw_loader_t *l)
{
    return l->fd;
}

int bw_loader_finish(bw_loader_t *l, bw_engine_t **out, bw_err_t *err)
{
    char msg[1024];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof msg - 1 && (r = read(l->fd, msg + n, sizeof msg - 1 - n)) != 0) {
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        n += (size_t)r;
    }
    msg[n] = '\0';
    int st = 0;
    while (waitpid(l->pid, &st, 0) < 0 && errno == EINTR)
        ;
    l->pid = 0;
    int rc;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || strcmp(msg, "OK") != 0) {
        if (WIFSIGNALED(st))
            rc = bw_err_set(err, "database compile died with signal %d (%s)", WTERMSIG(st),
                            strsignal(WTERMSIG(st)));
        else
            rc = bw_err_set(err, "%s", msg[0] ? msg : "database compile failed");
    } else {
        char lerr[1024];
        bw_load_opts_t lo = {l->cache, bw_dirs_cache_note, NULL};
        rc = bw_engine_load((const char *const *)l->paths, l->npaths, &lo, out, lerr, sizeof lerr);
        if (rc != BW_OK)
            bw_err_set(err, "%s", lerr);
    }
    bw_loader_cancel(l);
    return rc;
}

void bw_loader_cancel(bw_loader_t *l)
{
    if (!l)
        return;
    if (l->pid > 0) {
        kill(l->pid, SIGKILL);
        while (waitpid(l->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    if (l->fd >= 0)
        close(l->fd);
    if (l->own_cache) /* the engine maps its cache file; unlinking it is safe */
        nftw(l->cache, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free_paths(l);
    free(l);
}
