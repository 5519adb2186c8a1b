/* SPDX-License-Identifier: Apache-2.0 */
/* File-system helpers of the updater.
 *
 * Every file the updater leaves for someone else to read (a set file, a
 * published manifest) is written under a temporary name, fsynced and then
 * renamed into place, so that a reader, or the machine after a crash, sees
 * the old file or the new one and never a part of either.  Modes are set
 * explicitly (0644 files, 0755 directories) rather than left to the umask:
 * the daemon that reads the sets usually runs as another user.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bulwark/bulwark.h"
#include "update/update-int.h"

char *bw_upd_join(const char *a, const char *b)
{
    char *p;
    size_t al = strlen(a);
    while (al > 1 && a[al - 1] == '/')
        al--;
    if (asprintf(&p, "%.*s/%s", (int)al, a, b) < 0)
        return NULL;
    return p;
}

int bw_upd_read_file(const char *path, size_t max, bw_buf_t *out, bw_err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return BW_DECLINED;
        return bw_err_set(err, "%s: %s", path, strerror(errno));
    }
    char buf[16384];
    size_t total = 0;
    for (;;) {
        ssize_t got = read(fd, buf, sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int e = errno;
            close(fd);
            return bw_err_set(err, "%s: %s", path, strerror(e));
        }
        if (got == 0)
            break;
        total += (size_t)got;
        if (total > max) {
            close(fd);
            return bw_err_set(err, "%s: larger than %zu bytes", path, max);
        }
        bw_buf_append(out, buf, (size_t)got);
    }
    close(fd);
    return out->oom ? bw_err_set(err, "out of memory") : BW_OK;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Opens dir/.name.XXXXXX for writing; *tmp is malloc'd. */
static int open_temp(const char *dir, const char *name, char **tmp, bw_err_t *err)
{
    if (asprintf(tmp, "%s/.%s.XXXXXX", dir, name) < 0) {
        *tmp = NULL;
        return bw_err_set(err, "out of memory");
    }
    int fd = mkostemp(*tmp, O_CLOEXEC);
    if (fd < 0) {
        bw_err_set(err, "%s: %s", dir, strerror(errno));
        free(*tmp);
        *tmp = NULL;
    }
    return fd;
}

/* fchmod + fsync + close + rename; removes tmp on failure. */
static int commit_temp(int fd, char *tmp, const char *dir, const char *name, mode_t mode,
                       bw_err_t *err)
{
    int rc = BW_OK;
    char *dst = bw_upd_join(dir, name);
    if (!dst)
        rc = bw_err_set(err, "out of memory");
    else if (fchmod(fd, mode) || fsync(fd))
        rc = bw_err_set(err, "%s: %s", tmp, strerror(errno));
    if (close(fd) && rc == BW_OK)
        rc = bw_err_set(err, "%s: %s", tmp, strerror(errno));
    if (rc == BW_OK && rename(tmp, dst))
        rc = bw_err_set(err, "%s: %s", dst, strerror(errno));
    if (rc != BW_OK)
        unlink(tmp);
    free(dst);
    free(tmp);
    return rc;
}

int bw_upd_write_atomic(const char *dir, const char *name, const void *buf, size_t len,
                        mode_t mode, bw_err_t *err)
{
    char *tmp;
    int fd = open_temp(dir, name, &tmp, err);
    if (fd < 0)
        return BW_ERR;
    if (write_all(fd, buf, len)) {
        bw_err_set(err, "%s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        free(tmp);
        return BW_ERR;
    }
    return commit_temp(fd, tmp, dir, name, mode, err);
}

int bw_upd_copy_fd(int in, int out, uint8_t sha[32], uint64_t *size, bw_err_t *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    char buf[1 << 16];
    uint64_t total = 0;
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(ctx);
        return bw_err_set(err, "out of memory");
    }
    int rc = BW_OK;
    for (;;) {
        ssize_t got = read(in, buf, sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = bw_err_set(err, "read: %s", strerror(errno));
            break;
        }
        if (got == 0)
            break;
        if (write_all(out, buf, (size_t)got)) {
            rc = bw_err_set(err, "write: %s", strerror(errno));
            break;
        }
        EVP_DigestUpdate(ctx, buf, (size_t)got);
        total += (uint64_t)got;
    }
    unsigned int len = 0;
    if (!EVP_DigestFinal_ex(ctx, sha, &len) && rc == BW_OK)
        rc = bw_err_set(err, "SHA-256 failed");
    EVP_MD_CTX_free(ctx);
    if (size)
        *size = total;
    return rc;
}

int bw_upd_copy_atomic(const char *src, const char *dir, const char *name, mode_t mode,
                       uint8_t sha[32], uint64_t *size, bw_err_t *err)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return bw_err_set(err, "%s: %s", src, strerror(errno));
    char *tmp;
    int out = open_temp(dir, name, &tmp, err);
    if (out < 0) {
        close(in);
        return BW_ERR;
    }
    int rc = bw_upd_copy_fd(in, out, sha, size, err);
    close(in);
    if (rc != BW_OK) {
        bw_err_prefix(err, "copying %s", src);
        close(out);
        unlink(tmp);
        free(tmp);
        return BW_ERR;
    }
    return commit_temp(out, tmp, dir, name, mode, err);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int rc = (flag == FTW_DP) ? rmdir(path) : unlink(path);
    return rc && errno != ENOENT ? -1 : 0;
}

int bw_upd_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

int bw_upd_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}
