/* SPDX-License-Identifier: Apache-2.0 */
/* Privileges, core dumps and systemd readiness.
 *
 * The supervisor stays root, like nginx's master: it only reads the
 * configuration and databases, binds listeners and forks; it never reads a
 * byte from a client.  Workers, which parse everything clients send, drop to
 * User/Group right after they are forked and before they accept anything.
 * Dropping in the worker rather than in the supervisor keeps reloads able to
 * bind a new privileged port and read a root-only configuration.
 *
 * A process that changes its uid is made non-dumpable by the kernel, so the
 * core-dump setting (CorePath) has to be reapplied after setuid(). */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/daemon.h"

int bw_privs_resolve(bw_daemon_t *d, bw_err_t *err)
{
    d->drop = 0;
    const char *user = d->dc->user, *group = d->dc->group;
    if (geteuid() != 0 || !user || !user[0])
        return BW_OK; /* not root: nothing to drop (and nothing we could) */
    struct passwd *pw = getpwnam(user);
    if (!pw)
        return bw_err_set(err,
                          "User %s: no such user (create it, e.g. `useradd --system --no-create-home "
                          "%s`, or set User = empty to keep workers as root)",
                          user, user);
    d->uid = pw->pw_uid;
    d->gid = pw->pw_gid;
    if (group && group[0]) {
        struct group *gr = getgrnam(group);
        if (!gr)
            return bw_err_set(err, "Group %s: no such group", group);
        d->gid = gr->gr_gid;
    }
    d->drop = d->uid != 0 || d->gid != 0;
    return BW_OK;
}

static void enable_core(const char *dir)
{
    if (!dir || !dir[0])
        return;
    struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
    if (setrlimit(RLIMIT_CORE, &rl) != 0)
        bw_log(BW_LOG_WARN, "CorePath: setrlimit(RLIMIT_CORE): %s", strerror(errno));
    if (chdir(dir) != 0)
        bw_log(BW_LOG_WARN, "CorePath %s: %s", dir, strerror(errno));
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
}

int bw_privs_drop(const bw_daemon_t *d, bw_err_t *err)
{
    if (d->drop) {
        if (setgroups(1, &d->gid) != 0 || setgid(d->gid) != 0 || setuid(d->uid) != 0)
            return bw_err_set(err, "cannot drop privileges to uid %u gid %u: %s",
                              (unsigned)d->uid, (unsigned)d->gid, strerror(errno));
        if (d->uid != 0 && setuid(0) == 0) /* must fail now */
            return bw_err_set(err, "privileges could be regained after the drop; refusing to run");
    }
    if (d->dc->core_path && d->dc->core_path[0]) {
        enable_core(d->dc->core_path);
    } else {
        struct rlimit rl = {0, 0};
        setrlimit(RLIMIT_CORE, &rl);
    }
    return BW_OK;
}

void bw_sd_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path));
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0'; /* abstract namespace */
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
    if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0)
        bw_log(BW_LOG_WARN, "sd_notify: %s", strerror(errno));
    close(fd);
}
