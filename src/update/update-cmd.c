/* SPDX-License-Identifier: Apache-2.0 */
/* Running PostUpdateCmd.
 *
 * The command is the administrator's, run through /bin/sh as kav4proxy's
 * PostUpdateCmd was, so pipelines and `&&` work.  The updater may be run by
 * a timer, by hand, or by `--daemon` with signals blocked, and the command
 * must behave the same in every case: it gets default signal handling and
 * an empty signal mask whatever ours are, stdin from /dev/null (a command
 * that reads a terminal would hang a timer), and its own process group, so
 * that a timeout kills whatever it started and not just the shell.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "bulwark/bulwark.h"
#include "update/update-int.h"

extern char **environ;

/* Whether environment entry e sets a variable that one of extra sets too. */
static int replaced(const char *e, const char *const *extra)
{
    for (; *extra; extra++) {
        const char *eq = strchr(*extra, '=');
        size_t n = eq ? (size_t)(eq - *extra) + 1 : strlen(*extra);
        if (!strncmp(e, *extra, n))
            return 1;
    }
    return 0;
}

int bw_upd_run_cmd(const char *cmd, const char *const *extra, uint64_t timeout_ms, bw_err_t *err)
{
    size_t n = 0, nx = 0;
    while (environ[n])
        n++;
    while (extra[nx])
        nx++;
    char **env = calloc(n + nx + 1, sizeof *env);
    if (!env)
        return bw_err_set(err, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!replaced(environ[i], extra))
            env[k++] = environ[i];
    for (size_t i = 0; i < nx; i++)
        env[k++] = (char *)extra[i];

    posix_spawnattr_t attr;
    posix_spawn_file_actions_t fa;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    char *argv[] = {(char *)"sh", (char *)"-c", (char *)cmd, NULL};
    pid_t pid;
    int e = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    free(env);
    if (e)
        return bw_err_set(err, "cannot start /bin/sh: %s", strerror(e));

    /* polled rather than waited on: no SIGCHLD handler, and the bound holds */
    int status = 0;
    uint64_t waited = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            return bw_err_set(err, "waitpid: %s", strerror(errno));
        if (waited >= timeout_ms) {
            kill(-pid, SIGKILL);
            waitpid(pid, &status, 0);
            return bw_err_set(err, "did not finish within %" PRIu64 " ms and was killed",
                              timeout_ms);
        }
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
        waited += 20;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return BW_OK;
    if (WIFEXITED(status))
        return bw_err_set(err, "exited with status %d", WEXITSTATUS(status));
    return bw_err_set(err, "was killed by signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
