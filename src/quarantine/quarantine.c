/* SPDX-License-Identifier: Apache-2.0 */
/* The quarantine directory: where objects and records live and how they get
 * there and back.
 *
 * Layout (flat, one directory, mode 0700):
 *     quarantine.key        the store's AES-256 key (0600; quarantine-object.c)
 *     <sha256>.bwq          an encrypted object, named by its content's hash
 *     <sha256>.meta         its metadata record (quarantine-meta.c)
 *     .tmp-*                files being written (renamed into place when whole)
 *
 * Every name above is built here from a checked id: nothing a user or a
 * client sends becomes part of a path inside the directory.  Ids given on
 * the command line must be 8 to 64 hex digits and are resolved against the
 * names actually present.  Files are opened with O_NOFOLLOW, so a symlink
 * planted in the directory is refused rather than followed.
 *
 * The same object quarantined twice has one id: its object file is
 * rewritten (identical content) and its record replaced by the newest
 * event.  Writes are atomic (temporary file, fsync, rename, fsync of the
 * directory), so a reader sees the old state or the new one, never half.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "events/event.h"
#include "quarantine/quarantine-int.h"

/* A temporary file older than this is left over from a crash. */
#define STALE_TMP_SECS (24 * 3600)

struct bw_quar_store {
    int dirfd;
    char *dir;
    bool have_key;
    uint8_t key[BW_QUAR_KEY_LEN];
};

static void hex_of(const uint8_t *b, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[b[i] >> 4];
        out[2 * i + 1] = hx[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static int is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Whether `name` is "<64 lowercase hex><ext>"; copies the id. */
static bool entry_name(const char *name, const char *ext, char id[BW_QUAR_ID_LEN + 1])
{
    size_t n = strlen(name), e = strlen(ext);
    if (n != BW_QUAR_ID_LEN + e || strcmp(name + BW_QUAR_ID_LEN, ext) != 0)
        return false;
    for (size_t i = 0; i < BW_QUAR_ID_LEN; i++)
        if (!is_lower_hex(name[i]))
            return false;
    memcpy(id, name, BW_QUAR_ID_LEN);
    id[BW_QUAR_ID_LEN] = '\0';
    return true;
}

static void name_of(char *out, size_t cap, const char *id, const char *ext)
{
    snprintf(out, cap, "%.64s%s", id, ext);
}

static void tmp_name(char *out, size_t cap)
{
    uint8_t r[8];
    char hx[17];
    if (RAND_bytes(r, sizeof r) != 1) {
        uint64_t t = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)out;
        memcpy(r, &t, sizeof r);
    }
    hex_of(r, sizeof r, hx);
    snprintf(out, cap, ".tmp-%s", hx);
}

/* ---- open and close -------------------------------------------------------------- */

/* Removes temporary files a crashed writer left behind. */
static void sweep_stale(int dirfd)
{
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    time_t now = time(NULL);
    struct dirent *de;
    while ((de = readdir(d))) {
        struct stat st;
        if (strncmp(de->d_name, ".tmp-", 5) == 0 &&
            fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
            now - st.st_mtime > STALE_TMP_SECS)
            unlinkat(dirfd, de->d_name, 0);
    }
    closedir(d);
}

int bw_quar_open(const char *dir, bool create, bw_quar_store_t **out, bw_err_t *err)
{
    if (!dir || !dir[0])
        return bw_err_set(err, "no quarantine directory (QuarantineDir is empty)");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return bw_err_set(err, "%s: cannot create the quarantine directory: %s", dir,
                              strerror(errno));
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (fd < 0)
        return bw_err_set(err, "%s: %s", dir, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return bw_err_set(err, "%s: %s", dir, strerror(e));
    }
    if (st.st_mode & 077) {
        close(fd);
        return bw_err_set(err, "%s: mode %04o lets other users in (expected 0700: chmod 700 %s)",
                          dir, (unsigned)(st.st_mode & 07777), dir);
    }
    bw_quar_store_t *s = calloc(1, sizeof *s);
    char *copy = strdup(dir);
    if (!s || !copy) {
        free(s);
        free(copy);
        close(fd);
        return bw_err_set(err, "out of memory");
    }
    s->dirfd = fd;
    s->dir = copy;
    if (create) {
        if (bw_quar_key_load(fd, dir, true, s->key, err) != BW_OK) {
            bw_quar_close(s);
            return BW_ERR;
        }
        s->have_key = true;
        sweep_stale(fd);
    }
    *out = s;
    return BW_OK;
}

void bw_quar_close(bw_quar_store_t *s)
{
    if (!s)
        return;
    close(s->dirfd);
    OPENSSL_cleanse(s->key, sizeof s->key);
    free(s->dir);
    free(s);
}

const char *bw_quar_dir(const bw_quar_store_t *s)
{
    return s->dir;
}

static int need_key(bw_quar_store_t *s, bw_err_t *err)
{
    if (s->have_key)
        return BW_OK;
    if (bw_quar_key_load(s->dirfd, s->dir, false, s->key, err) != BW_OK)
        return BW_ERR;
    s->have_key = true;
    return BW_OK;
}

/* ---- ids ------------------------------------------------------------------------ */

int bw_quar_id_check(const char *arg, char out[BW_QUAR_ID_LEN + 1], bw_err_t *err)
{
    size_t n = arg ? strlen(arg) : 0;
    bool ok = n >= BW_QUAR_MIN_PREFIX && n <= BW_QUAR_ID_LEN;
    for (size_t i = 0; ok && i < n; i++) {
        char c = arg[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        ok = is_lower_hex(c);
        out[i] = c;
    }
    if (!ok)
        return bw_err_set(err,
                          "'%.80s' is not a quarantine id (expected %d to %d hex digits of the "
                          "SHA-256, as `bulwark quarantine list` shows)",
                          arg ? arg : "", BW_QUAR_MIN_PREFIX, BW_QUAR_ID_LEN);
    out[n] = '\0';
    return BW_OK;
}

/* The distinct ids present (objects or records), sorted. */
typedef struct id_set {
    char (*ids)[BW_QUAR_ID_LEN + 1];
    size_t n, cap;
} id_set_t;

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

static int collect_ids(bw_quar_store_t *s, const char *prefix, id_set_t *set, bw_err_t *err)
{
    int fd = dup(s->dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return bw_err_set(err, "%s: %s", s->dir, strerror(e));
    }
    rewinddir(d);
    size_t plen = prefix ? strlen(prefix) : 0;
    struct dirent *de;
    char id[BW_QUAR_ID_LEN + 1];
    while ((de = readdir(d))) {
        if (!entry_name(de->d_name, BW_QUAR_OBJ_EXT, id) &&
            !entry_name(de->d_name, BW_QUAR_META_EXT, id))
            continue;
        if (plen && strncmp(id, prefix, plen) != 0)
            continue;
        if (set->n == set->cap) {
            size_t cap = set->cap ? set->cap * 2 : 64;
            void *p = realloc(set->ids, cap * sizeof *set->ids);
            if (!p) {
                closedir(d);
                return bw_err_set(err, "out of memory");
            }
            set->ids = p;
            set->cap = cap;
        }
        memcpy(set->ids[set->n++], id, sizeof id);
    }
    closedir(d);
    if (set->n)
        qsort(set->ids, set->n, sizeof *set->ids, cmp_id);
    size_t k = 0;
    for (size_t i = 0; i < set->n; i++)
        if (k == 0 || strcmp(set->ids[k - 1], set->ids[i]) != 0)
            memmove(set->ids[k++], set->ids[i], sizeof *set->ids);
    set->n = k;
    return BW_OK;
}

int bw_quar_resolve(bw_quar_store_t *s, const char *arg, char id[BW_QUAR_ID_LEN + 1],
                    bw_err_t *err)
{
    char want[BW_QUAR_ID_LEN + 1];
    if (bw_quar_id_check(arg, want, err) != BW_OK)
        return BW_ERR;
    id_set_t set = {0};
    if (collect_ids(s, want, &set, err) != BW_OK) {
        free(set.ids);
        return BW_ERR;
    }
    int rc = BW_OK;
    if (set.n == 0) {
        bw_err_set(err, "%s: no quarantined object with id %s", s->dir, want);
        rc = BW_DECLINED;
    } else if (set.n > 1) {
        rc = bw_err_set(err, "'%s' is ambiguous: %zu ids start with it (%.16s..., %.16s..., ...); "
                             "give more digits", want, set.n, set.ids[0], set.ids[1]);
    } else {
        memcpy(id, set.ids[0], BW_QUAR_ID_LEN + 1);
    }
    free(set.ids);
    return rc;
}

/* ---- storing ------------------------------------------------------------------------ */

/* Bytes of the object files present, except `skip_id`'s (it is replaced). */
static int used_bytes(bw_quar_store_t *s, const char *skip_id, uint64_t *out, bw_err_t *err)
{
    id_set_t set = {0};
    *out = 0;
    if (collect_ids(s, NULL, &set, err) != BW_OK) {
        free(set.ids);
        return BW_ERR;
    }
    for (size_t i = 0; i < set.n; i++) {
        char name[96];
        struct stat st;
        if (strcmp(set.ids[i], skip_id) == 0)
            continue;
        name_of(name, sizeof name, set.ids[i], BW_QUAR_OBJ_EXT);
        if (fstatat(s->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            *out += (uint64_t)st.st_size;
    }
    free(set.ids);
    return BW_OK;
}

/* Writes `len` bytes as `final` through a synced temporary file. */
static int write_atomic(bw_quar_store_t *s, const char *final, const void *buf, size_t len,
                        bw_err_t *err)
{
    char tmp[64];
    tmp_name(tmp, sizeof tmp);
    int fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return bw_err_set(err, "%s/%s: %s", s->dir, tmp, strerror(errno));
    int ok = bw_quar_write_all(fd, buf, len) == BW_OK && fsync(fd) == 0;
    int e = errno;
    close(fd);
    if (!ok || renameat(s->dirfd, tmp, s->dirfd, final) != 0) {
        if (ok)
            e = errno;
        unlinkat(s->dirfd, tmp, 0);
        return bw_err_set(err, "%s/%s: %s", s->dir, final, strerror(e));
    }
    return BW_OK;
}

int bw_quar_put(bw_quar_store_t *s, bw_quar_meta_t *meta, bw_quar_read_fn fn, void *ctx,
                uint64_t max_object, uint64_t max_total, bw_err_t *err)
{
    if (need_key(s, err) != BW_OK)
        return BW_ERR;
    char tmp[64], name[96];
    tmp_name(tmp, sizeof tmp);
    int fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return bw_err_set(err, "%s/%s: %s", s->dir, tmp, strerror(errno));
    uint8_t sha[32];
    uint64_t size = 0;
    bool cut = false;
    int rc = bw_quar_obj_write(fd, s->key, fn, ctx, max_object, sha, &size, &cut, err);
    if (rc == BW_OK && fsync(fd) != 0)
        rc = bw_err_set(err, "fsync: %s", strerror(errno));
    close(fd);
    if (rc != BW_OK) {
        unlinkat(s->dirfd, tmp, 0);
        return bw_err_prefix(err, "%s/%s", s->dir, tmp);
    }
    hex_of(sha, sizeof sha, meta->sha256);
    meta->size = size;
    if (cut)
        meta->partial = true;
    if (max_total) {
        /* Not exact across worker processes storing at the same moment:
         * each may add its own object.  Good enough for a disk budget. */
        uint64_t used;
        if (used_bytes(s, meta->sha256, &used, err) != BW_OK) {
            unlinkat(s->dirfd, tmp, 0);
            return BW_ERR;
        }
        uint64_t need = size + BW_QUAR_OVERHEAD;
        if (used + need > max_total) {
            unlinkat(s->dirfd, tmp, 0);
            return bw_err_set(err,
                              "%s: quarantine full: %llu bytes used, the object needs %llu, "
                              "MaxQuarantineSize is %llu",
                              s->dir, (unsigned long long)used, (unsigned long long)need,
                              (unsigned long long)max_total);
        }
    }
    name_of(name, sizeof name, meta->sha256, BW_QUAR_OBJ_EXT);
    if (renameat(s->dirfd, tmp, s->dirfd, name) != 0) {
        int e = errno;
        unlinkat(s->dirfd, tmp, 0);
        return bw_err_set(err, "%s/%s: %s", s->dir, name, strerror(e));
    }
    bw_buf_t rec = {0};
    bw_quar_meta_format(meta, &rec);
    name_of(name, sizeof name, meta->sha256, BW_QUAR_META_EXT);
    rc = rec.oom ? bw_err_set(err, "out of memory") : write_atomic(s, name, rec.p, rec.len, err);
    bw_buf_free(&rec);
    fsync(s->dirfd); /* the renames themselves are durable only with this */
    return rc;
}

/* ---- reading ------------------------------------------------------------------------ */

static unsigned line_of_key(const char *buf, size_t len, const char *key)
{
    unsigned line = 1;
    size_t kl = strlen(key);
    for (size_t i = 0; i < len; i++) {
        if ((i == 0 || buf[i - 1] == '\n') && len - i >= kl && memcmp(buf + i, key, kl) == 0)
            return line;
        if (buf[i] == '\n')
            line++;
    }
    return 0;
}

int bw_quar_get_meta(bw_quar_store_t *s, const char *id, bw_quar_meta_t *out, bw_err_t *err)
{
    char name[96];
    name_of(name, sizeof name, id, BW_QUAR_META_EXT);
    int fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        int e = errno;
        bw_err_set(err, "%s/%s: %s", s->dir, name, strerror(e));
        return e == ENOENT ? BW_DECLINED : BW_ERR;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > BW_QUAR_MAX_RECORD) {
        close(fd);
        return bw_err_set(err, "%s/%s: not a record (a regular file of at most %d bytes)",
                          s->dir, name, BW_QUAR_MAX_RECORD);
    }
    char *buf = malloc(BW_QUAR_MAX_RECORD + 1);
    size_t len = 0;
    ssize_t n = 0;
    while (buf && len <= BW_QUAR_MAX_RECORD &&
           (n = read(fd, buf + len, BW_QUAR_MAX_RECORD + 1 - len)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        len += (size_t)n;
    }
    int e = errno;
    close(fd);
    if (!buf || n < 0) {
        free(buf);
        return bw_err_set(err, "%s/%s: %s", s->dir, name, buf ? strerror(e) : "out of memory");
    }
    unsigned line = 0;
    int rc = bw_quar_meta_parse(buf, len, out, &line, err);
    if (rc != BW_OK) {
        if (line)
            bw_err_prefix(err, "%s/%s:%u", s->dir, name, line);
        else
            bw_err_prefix(err, "%s/%s", s->dir, name);
    } else if (strcmp(out->sha256, id) != 0) {
        rc = bw_err_set(err, "%s/%s:%u: sha256: %.16s... is not the record's own id", s->dir,
                        name, line_of_key(buf, len, "sha256:"), out->sha256);
    }
    free(buf);
    return rc;
}

int bw_quar_each(bw_quar_store_t *s, int (*fn)(void *ud, const bw_quar_entry_t *e), void *ud,
                 bw_err_t *err)
{
    id_set_t set = {0};
    if (collect_ids(s, NULL, &set, err) != BW_OK) {
        free(set.ids);
        return BW_ERR;
    }
    bw_quar_meta_t *meta = malloc(sizeof *meta);
    if (!meta) {
        free(set.ids);
        return bw_err_set(err, "out of memory");
    }
    int rc = 0;
    for (size_t i = 0; i < set.n && rc == 0; i++) {
        bw_err_t why;
        char name[96];
        struct stat st;
        bw_quar_entry_t e = {.id = set.ids[i], .meta = meta, .object_bytes = -1};
        if (bw_quar_get_meta(s, set.ids[i], meta, &why) != BW_OK) {
            e.meta = NULL;
            e.problem = why.msg;
        }
        name_of(name, sizeof name, set.ids[i], BW_QUAR_OBJ_EXT);
        if (fstatat(s->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            e.object_bytes = (int64_t)st.st_size;
        rc = fn(ud, &e);
    }
    free(meta);
    free(set.ids);
    return rc;
}

/* ---- restore and delete -------------------------------------------------------------- */

/* Moves tmp to `to`, replacing it only with force. */
static int place(const char *tmp, const char *to, bool force)
{
    if (force)
        return rename(tmp, to);
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    /* A file system without RENAME_NOREPLACE: link() also refuses to
     * replace. */
    if (link(tmp, to) != 0)
        return -1;
    unlink(tmp);
    return 0;
}

/* quarantine.restored / quarantine.deleted, from whichever process does it
 * (a console task in the shipper; the CLI when it set events up). */
static void emit_quar(const char *type, const char *id, const char *to)
{
    if (!bw_event_enabled())
        return;
    json_t *ev = bw_event_new("quarantine", type, BW_SEV_INFO);
    bw_event_set_str(bw_event_sub(ev, "quarantine"), "id", id);
    if (to)
        bw_event_set_str(bw_event_sub(ev, "object"), "path", to);
    bw_event_emit(ev);
}

int bw_quar_restore(bw_quar_store_t *s, const char *id, const char *to, bool force,
                    bw_err_t *err)
{
    char name[96];
    name_of(name, sizeof name, id, BW_QUAR_OBJ_EXT);
    int ofd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (ofd < 0) {
        int e = errno;
        bw_err_set(err, "%s/%s: %s", s->dir, name, strerror(e));
        return e == ENOENT ? BW_DECLINED : BW_ERR;
    }
    if (need_key(s, err) != BW_OK) {
        close(ofd);
        return BW_ERR;
    }
    /* A directory as target: the object goes in it under its id. */
    char target[4096 + 96];
    struct stat st;
    if (stat(to, &st) == 0 && S_ISDIR(st.st_mode))
        snprintf(target, sizeof target, "%s/%s", to, id);
    else
        snprintf(target, sizeof target, "%s", to);
    if (!force && lstat(target, &st) == 0) {
        close(ofd);
        return bw_err_set(err, "%s exists (--force replaces it)", target);
    }
    char tmp[sizeof target + 32];
    snprintf(tmp, sizeof tmp, "%s.bwq-XXXXXX", target);
    int tfd = mkostemp(tmp, O_CLOEXEC);
    if (tfd < 0) {
        int e = errno;
        close(ofd);
        return bw_err_set(err, "%s: %s", target, strerror(e));
    }
    uint8_t sha[32];
    char hex[BW_QUAR_ID_LEN + 1];
    uint64_t size;
    int rc = bw_quar_obj_read(ofd, s->key, tfd, sha, &size, err);
    close(ofd);
    if (rc == BW_OK)
        hex_of(sha, sizeof sha, hex);
    if (rc != BW_OK) {
        bw_err_prefix(err, "%s/%s", s->dir, name);
    } else if (strcmp(hex, id) != 0) {
        rc = bw_err_set(err, "%s/%s: the content's SHA-256 is %.16s..., not its id: the object "
                             "was altered or swapped",
                        s->dir, name, hex);
    } else if (fsync(tfd) != 0) {
        rc = bw_err_set(err, "%s: %s", tmp, strerror(errno));
    }
    close(tfd);
    if (rc == BW_OK && place(tmp, target, force) != 0) {
        int e = errno;
        rc = e == EEXIST ? bw_err_set(err, "%s exists (--force replaces it)", target)
                         : bw_err_set(err, "%s: %s", target, strerror(e));
    }
    if (rc != BW_OK) {
        unlink(tmp);
        size_t l = err ? strlen(err->msg) : 0;
        if (err && l + 20 < sizeof err->msg)
            snprintf(err->msg + l, sizeof err->msg - l, "; nothing restored");
        return BW_ERR;
    }
    emit_quar("quarantine.restored", id, target);
    return BW_OK;
}

int bw_quar_delete(bw_quar_store_t *s, const char *id, bw_err_t *err)
{
    char obj[96], rec[96];
    name_of(obj, sizeof obj, id, BW_QUAR_OBJ_EXT);
    name_of(rec, sizeof rec, id, BW_QUAR_META_EXT);
    int r1 = unlinkat(s->dirfd, obj, 0), e1 = errno;
    int r2 = unlinkat(s->dirfd, rec, 0), e2 = errno;
    fsync(s->dirfd);
    if (r1 != 0 && r2 != 0 && e1 == ENOENT && e2 == ENOENT) {
        bw_err_set(err, "%s: no quarantined object with id %s", s->dir, id);
        return BW_DECLINED;
    }
    if (r1 != 0 && e1 != ENOENT)
        return bw_err_set(err, "%s/%s: %s", s->dir, obj, strerror(e1));
    if (r2 != 0 && e2 != ENOENT)
        return bw_err_set(err, "%s/%s: %s", s->dir, rec, strerror(e2));
    emit_quar("quarantine.deleted", id, NULL);
    return BW_OK;
}
