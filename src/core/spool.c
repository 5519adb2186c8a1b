/* SPDX-License-Identifier: Apache-2.0 */
/* The spool: where a container waits until it can be opened at random.
 *
 * Most containers are small (mail attachments, downloads), so the first
 * mem_limit bytes live in a growing heap buffer and the unpacker opens them
 * from memory.  Past the bound the buffer is moved into a temporary file and
 * freed: a proxy scanning many large downloads at once must not hold them all
 * in RAM.  The file is unlinked from birth (O_TMPFILE, or mkstemp + unlink on
 * file systems without it), so a crash leaves nothing behind and no other
 * process can open it by name; it is mode 0600 and close-on-exec so that a
 * worker forking a helper does not leak it.
 *
 * Writes always append at the fd's offset; readers use pread (never lseek),
 * so the unpacker never disturbs the writer's position.
 */
#include "core/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bulwark/core.h"

void bw_spool_init(bw_spool_t *sp, size_t mem_limit)
{
    memset(sp, 0, sizeof *sp);
    sp->mem_limit = mem_limit;
    sp->fd = -1;
}

static const char *tmp_dir(void)
{
    const char *d = getenv("TMPDIR");
    return d && *d ? d : "/tmp";
}

/* An anonymous file in dir: O_TMPFILE where the kernel and file system
 * support it, otherwise a named file unlinked at once. */
static int open_anon(const char *dir)
{
    int fd;
#ifdef O_TMPFILE
    fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC | O_EXCL, 0600);
    if (fd >= 0)
        return fd;
#endif
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/bulwark-spool.XXXXXX", dir);
    if (n < 0 || (size_t)n >= sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    mode_t old = umask(077);
    fd = mkostemp(path, O_CLOEXEC);
    umask(old);
    if (fd < 0)
        return -1;
    if (unlink(path) != 0 || fchmod(fd, 0600) != 0) {
        int e = errno;
        close(fd);
        unlink(path);
        errno = e;
        return -1;
    }
    return fd;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return BW_ERR;
        }
        if (w == 0) {
            errno = ENOSPC;
            return BW_ERR;
        }
        p += w;
        len -= (size_t)w;
    }
    return BW_OK;
}

/* Moves what is in memory into a new temporary file. */
static int to_file(bw_spool_t *sp)
{
    int fd = open_anon(tmp_dir());
    if (fd < 0 && strcmp(tmp_dir(), "/tmp") != 0)
        fd = open_anon("/tmp");
    if (fd < 0)
        return BW_ERR;
    if (sp->len && write_all(fd, sp->mem, sp->len) != BW_OK) {
        int e = errno;
        close(fd);
        errno = e;
        return BW_ERR;
    }
    free(sp->mem);
    sp->mem = NULL;
    sp->len = sp->cap = 0;
    sp->fd = fd;
    return BW_OK;
}

int bw_spool_write(bw_spool_t *sp, const void *buf, size_t len)
{
    if (!len)
        return BW_OK;
    if (sp->fd < 0 && sp->len <= sp->mem_limit && len <= sp->mem_limit - sp->len) {
        if (sp->len + len > sp->cap) {
            size_t cap = sp->cap ? sp->cap : 4096;
            while (cap < sp->len + len)
                cap = cap > sp->mem_limit / 2 ? sp->mem_limit : cap * 2;
            uint8_t *m = realloc(sp->mem, cap);
            if (!m)
                return BW_ERR;
            sp->mem = m;
            sp->cap = cap;
        }
        memcpy(sp->mem + sp->len, buf, len);
        sp->len += len;
        sp->size += len;
        return BW_OK;
    }
    if (sp->fd < 0 && to_file(sp) != BW_OK)
        return BW_ERR;
    if (write_all(sp->fd, buf, len) != BW_OK)
        return BW_ERR;
    sp->size += len;
    return BW_OK;
}

const uint8_t *bw_spool_mem(const bw_spool_t *sp)
{
    if (sp->fd >= 0)
        return NULL;
    /* An empty spool still has an address, so callers can tell "in memory"
     * from "in a file" by NULL alone. */
    return sp->mem ? sp->mem : (const uint8_t *)"";
}

ssize_t bw_spool_pread(const bw_spool_t *sp, void *buf, size_t len, uint64_t off)
{
    if (off >= sp->size)
        return 0;
    if (len > sp->size - off)
        len = (size_t)(sp->size - off);
    if (sp->fd < 0) {
        memcpy(buf, sp->mem + off, len);
        return (ssize_t)len;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(sp->fd, (uint8_t *)buf + got, len - got, (off_t)(off + got));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

void bw_spool_free(bw_spool_t *sp)
{
    free(sp->mem);
    if (sp->fd >= 0)
        close(sp->fd);
    bw_spool_init(sp, sp->mem_limit);
}
