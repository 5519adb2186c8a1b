/* SPDX-License-Identifier: Apache-2.0 */
/* Drop-folder mode: for storage gateways that cannot call ICAP or clamd.
 * Each file in a [drop] Directories folder is scanned once, when its writer
 * closes it (inotify IN_CLOSE_WRITE; IN_MOVED_TO for files renamed in, the
 * usual "write elsewhere, then rename" upload).  Infected files (containers
 * too: archives are always opened here) go to the quarantine and leave the
 * folder; clean ones stay, with NAME.bwverdict beside them if RecordClean.
 * inotify, not fanotify: nothing is held up, and it needs no mount mark. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "core/log.h"

#define RECORD_EXT ".bwverdict"

typedef struct drop {
    bw_agent_t *a;
    int ifd;
    int *wd;
    char **dirs;
    size_t n;
} drop_t;

static void record(const char *path, const bw_agent_result_t *r)
{
    char rp[PATH_MAX + 16];
    snprintf(rp, sizeof rp, "%s" RECORD_EXT, path);
    FILE *f = fopen(rp, "we");
    if (!f)
        return;
    char t[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    fprintf(f, "status: %s\nscanned: %s\nscanner: bulwark-agent %s\n", bw_status_name(r->status),
            t, BW_VERSION);
    fclose(f);
}

static void scan_one(drop_t *d, const char *path)
{
    size_t l = strlen(path);
    if (l > strlen(RECORD_EXT) && !strcmp(path + l - strlen(RECORD_EXT), RECORD_EXT))
        return;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return;
    }
    bw_agent_t *a = d->a;
    /* A drop folder always moves what is not clean: block means "not
     * delivered", which here is the quarantine. */
    int act[BW_STATUS_COUNT];
    for (int i = 0; i < BW_STATUS_COUNT; i++)
        act[i] = a->act[i] & BW_AG_ACT_BLOCK ? BW_AG_ACT_QUARANTINE : a->act[i];
    bw_agent_result_t r;
    bw_agent_scan_fd(a, fd, path, getpid(), "drop", act, &r);
    atomic_fetch_add(&a->st.drop_scanned, 1);
    if (r.status == BW_CLEAN && !r.skipped && a->drop.record_clean)
        record(path, &r);
    close(fd);
}

static void *drop_thread(void *arg)
{
    drop_t *d = arg;
    static char buf[64 * 1024] __attribute__((aligned(8)));
    while (!d->a->stop) {
        ssize_t len = read(d->ifd, buf, sizeof buf);
        if (len <= 0) {
            if (len < 0 && errno == EINTR)
                continue;
            break;
        }
        for (char *p = buf; p < buf + len;) {
            struct inotify_event *e = (void *)p;
            p += sizeof *e + e->len;
            if (!e->len || (e->mask & IN_ISDIR))
                continue;
            for (size_t i = 0; i < d->n; i++)
                if (d->wd[i] == e->wd) {
                    char path[PATH_MAX];
                    snprintf(path, sizeof path, "%s/%s", d->dirs[i], e->name);
                    scan_one(d, path);
                }
        }
    }
    return NULL;
}

int bw_agent_drop_start(bw_agent_t *a, bw_err_t *err)
{
    if (!a->drop.dirs.n)
        return BW_OK;
    drop_t *d = calloc(1, sizeof *d);
    if (!d) {
        bw_err_set(err, "out of memory");
        return BW_ERR;
    }
    d->a = a;
    d->dirs = a->drop.dirs.items;
    d->n = a->drop.dirs.n;
    d->wd = calloc(d->n, sizeof *d->wd);
    d->ifd = inotify_init1(IN_CLOEXEC);
    if (!d->wd || d->ifd < 0) {
        bw_err_set(err, "inotify: %s", strerror(errno));
        return BW_ERR;
    }
    for (size_t i = 0; i < d->n; i++) {
        d->wd[i] = inotify_add_watch(d->ifd, d->dirs[i], IN_CLOSE_WRITE | IN_MOVED_TO);
        if (d->wd[i] < 0) {
            bw_err_set(err, "drop folder %s: %s", d->dirs[i], strerror(errno));
            return BW_ERR;
        }
    }
    bw_log(BW_LOG_INFO, "watching %zu drop folder(s)", d->n);
    pthread_t t;
    pthread_create(&t, NULL, drop_thread, d);
    pthread_detach(t);
    return BW_OK;
}
