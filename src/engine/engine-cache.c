/* SPDX-License-Identifier: Apache-2.0 */
/* The compiled-database cache.
 *
 * Compiling a large database (parsing, splitting signatures, building the
 * Hyperscan literal automaton) takes a second or more; mapping its result
 * takes milliseconds.  The cache file is named by the SHA-256 of the source
 * files (names, sizes and contents), so any change to the sources misses and
 * is recompiled.
 *
 * Warm starts are meant to be nearly free, so three things are avoided:
 *   - re-reading and hashing the sources: a small ".key" file records the
 *     content key for one exact set of (name, size, mtime, inode) tuples
 *     ("direct mode", as ccache calls it); any change to those falls back to
 *     hashing the contents;
 *   - copying: the file is mapped and the tables point into the mapping
 *     (every table starts 8-byte aligned);
 *   - a cryptographic digest of the whole file: an Adler-32 catches
 *     truncation and accidental damage, and every index in the tables is
 *     checked against the table it points into before the engine is used,
 *     so a damaged or hostile cache costs a recompile, never a crash.
 *
 * Trust.  A daemon that maps a cache file serves whatever signatures it
 * holds, so a file anyone else could have written is as good as no
 * database at all: a compromised worker (user bulwark) that plants a
 * one-signature image and points the ".key" file at it would silence the
 * scanner at the next restart.  So the cache is written and believed only
 * where nobody but this process's user (or root) can write:
 *   - the directory is opened with O_NOFOLLOW and checked on its fd: owned
 *     by the effective uid or root, not writable by group or others;
 *   - every file is opened relative to that directory fd with O_NOFOLLOW
 *     (and O_NONBLOCK: a FIFO must not hang the loader) and checked the same
 *     way, and must be a regular file;
 *   - an image is tied to its sources: its header records the content key
 *     (so a file renamed to another key is refused) and the name and size of
 *     every source file (so a ".key" that points a set of sources at an
 *     image compiled from other files is refused).
 * A refused file or directory is reported through the caller's note
 * function and the sources are compiled; the planted image is never used.
 *
 * Layout: header (magic, format, version, key, sources as (size, name
 * length, name, padding to 8)), then every table of bw_sigdb_t as (count,
 * element size, bytes, padding to 8), then the serialized Hyperscan
 * database, then the db info, then the Adler-32.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "bulwark/bulwark.h"
#include "db-load.h"
#include "engine-int.h"
#include "ldb-logic.h"

#define CACHE_MAGIC "BWDBCACH"
#define CACHE_FORMAT 3u

/* The writer streams straight into the file: a cache image can be tens of
 * megabytes, and holding it in memory as well would raise a cold start's
 * peak memory by as much.  `mem` is set instead of `f` for the small header
 * that the loader compares. */
typedef struct {
    FILE *f;
    uint8_t *mem;
    size_t n, cap;
    uLong sum;
    int oom;
} wbuf_t;

static void wput(wbuf_t *w, const void *p, size_t n)
{
    if (w->oom || !n)
        return;
    if (w->f) {
        if (fwrite(p, 1, n, w->f) != n)
            w->oom = 1;
        w->sum = adler32_z(w->sum, p, n);
        w->n += n;
        return;
    }
    if (w->n + n > w->cap) {
        size_t c = w->cap ? w->cap : 256;
        while (c < w->n + n)
            c *= 2;
        uint8_t *nb = realloc(w->mem, c);
        if (!nb) {
            w->oom = 1;
            return;
        }
        w->mem = nb;
        w->cap = c;
    }
    memcpy(w->mem + w->n, p, n);
    w->n += n;
}

static void wu64(wbuf_t *w, uint64_t v) { wput(w, &v, sizeof v); }

static void wpad(wbuf_t *w)
{
    static const uint8_t zero[8];
    if (w->n % 8)
        wput(w, zero, 8 - w->n % 8);
}

#define WVEC(w, vec) do { wu64(w, (vec).n); wu64(w, sizeof(*(vec).v)); \
    wput(w, (vec).v, (vec).n * sizeof(*(vec).v)); wpad(w); } while (0)

typedef struct {
    const uint8_t *b;
    size_t n, pos;
    int bad;
} rbuf_t;

static const void *rget(rbuf_t *r, size_t n)
{
    if (r->bad || n > r->n - r->pos) {
        r->bad = 1;
        return NULL;
    }
    const void *p = r->b + r->pos;
    r->pos += n;
    return p;
}

static uint64_t ru64(rbuf_t *r)
{
    uint64_t v = 0;
    const void *p = rget(r, sizeof v);
    if (p)
        memcpy(&v, p, sizeof v);
    return v;
}

/* Points a table into the mapping (no copy). */
static void rvec(rbuf_t *r, void **v, size_t *n, size_t *cap, size_t elem)
{
    uint64_t cnt = ru64(r), esz = ru64(r);
    if (r->bad || esz != elem || cnt > (r->n - r->pos) / elem) {
        r->bad = 1;
        return;
    }
    *v = cnt ? (void *)(uintptr_t)(r->b + r->pos) : NULL;
    *n = *cap = cnt;
    r->pos += cnt * elem;
    if (r->pos % 8)
        rget(r, 8 - r->pos % 8);
}

#define RVEC(r, vec) rvec(r, (void **)&(vec).v, &(vec).n, &(vec).cap, sizeof(*(vec).v))

static void hexkey(char *out, const uint8_t key[32])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", key[i]);
}

/* The part of the header that says which build wrote the image. */
static void header_build(wbuf_t *w)
{
    char ver[16] = {0};
    snprintf(ver, sizeof ver, "%s", BW_VERSION);
    wput(w, CACHE_MAGIC, 8);
    wu64(w, CACHE_FORMAT);
    wput(w, ver, sizeof ver);
}

/* The sources' names and sizes, as the content key hashes them (base name,
 * size); a source that cannot be stat'ed makes the header unusable. */
static void header_sources(wbuf_t *w, const bw_dbfiles_t *files)
{
    wu64(w, files->n);
    for (size_t i = 0; i < files->n; i++) {
        const char *path = files->v[i].path;
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        struct stat st;
        if (stat(path, &st) != 0) {
            w->oom = 1;
            return;
        }
        wu64(w, (uint64_t)st.st_size);
        wu64(w, strlen(base));
        wput(w, base, strlen(base));
        wpad(w);
    }
}

static void header(wbuf_t *w, const uint8_t key[32], const bw_dbfiles_t *files)
{
    header_build(w);
    wput(w, key, 32);
    header_sources(w, files);
}

/* ---- trust ----------------------------------------------------------------- */

/* Whether st (of `path`) may be believed: owned by us or root, and nobody
 * else can write it.  *why says what is wrong otherwise. */
static int trusted(const struct stat *st, const char *what, const char *path, char *why,
                   size_t cap)
{
    uid_t me = geteuid();
    if (st->st_uid != me && st->st_uid != 0) {
        snprintf(why, cap, "compiled-database cache: %s %s belongs to uid %u, not to uid %u "
                 "(this process) or root: not trusted", what, path, (unsigned)st->st_uid,
                 (unsigned)me);
        return BW_ERR;
    }
    if (st->st_mode & 022) {
        snprintf(why, cap, "compiled-database cache: %s %s is writable by %s (mode %04o): not "
                 "trusted (chmod go-w %s)", what, path, st->st_mode & 002 ? "everyone" : "its group",
                 (unsigned)(st->st_mode & 07777), path);
        return BW_ERR;
    }
    return BW_OK;
}

int bw_cache_dir_open(const char *dir, int create, char *why, size_t cap)
{
    why[0] = '\0';
    if (create)
        mkdir(dir, 0755); /* one level is enough for ~/.cache/bulwark; EEXIST is fine */
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, cap, "compiled-database cache: directory %s: %s%s", dir, strerror(errno),
                 errno == ELOOP || errno == ENOTDIR ? " (a symlink or not a directory: not trusted)"
                                                    : "");
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || trusted(&st, "directory", dir, why, cap) != BW_OK) {
        if (!why[0])
            snprintf(why, cap, "compiled-database cache: directory %s: %s", dir, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int bw_engine_cache_check(const char *dir, char *why, size_t cap)
{
    int fd = bw_cache_dir_open(dir, 0, why, cap);
    if (fd < 0)
        return BW_ERR;
    close(fd);
    return BW_OK;
}

/* Opens dir/name for reading if it may be believed: BW_OK with *fd,
 * BW_DECLINED (absent: a plain miss), BW_ERR (refused, *why says why). */
static int open_trusted(int dirfd, const char *dir, const char *name, int *fd, struct stat *st,
                        char *why, size_t cap)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    *fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (*fd < 0) {
        if (errno == ENOENT)
            return BW_DECLINED;
        snprintf(why, cap, "compiled-database cache: %s: %s%s", path, strerror(errno),
                 errno == ELOOP ? " (a symlink: not trusted)" : "");
        return BW_ERR;
    }
    if (fstat(*fd, st) != 0 || !S_ISREG(st->st_mode)) {
        snprintf(why, cap, "compiled-database cache: %s: not a regular file: not trusted", path);
        goto refuse;
    }
    if (trusted(st, "file", path, why, cap) != BW_OK)
        goto refuse;
    return BW_OK;
refuse:
    close(*fd);
    *fd = -1;
    return BW_ERR;
}

/* Opens a new temporary file in the directory; commit_temp renames it to
 * `name`.  Both go through dirfd: what is written lands in the directory
 * that was checked, whatever its path points to by then. */
static FILE *open_temp(int dirfd, const char *name, char *tmp, size_t tmplen)
{
    static unsigned seq;
    int fd = -1;
    for (int tries = 0; fd < 0 && tries < 16; tries++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(tmp, tmplen, ".%s.%d.%u.%ld", name, (int)getpid(), seq++, (long)ts.tv_nsec);
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0 && errno != EEXIST)
            return NULL;
    }
    if (fd < 0)
        return NULL;
    fchmod(fd, 0644); /* whatever the umask: readers are not only this user */
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        unlinkat(dirfd, tmp, 0);
    }
    return f;
}

static int commit_temp(FILE *f, int dirfd, const char *tmp, const char *name, int ok)
{
    if (fclose(f) != 0)
        ok = 0;
    if (!ok || renameat(dirfd, tmp, dirfd, name) != 0) {
        unlinkat(dirfd, tmp, 0);
        return BW_ERR;
    }
    return BW_OK;
}

static int write_atomic(int dirfd, const char *name, const void *buf, size_t len)
{
    char tmp[300];
    FILE *f = open_temp(dirfd, name, tmp, sizeof tmp);
    if (!f)
        return BW_ERR;
    return commit_temp(f, dirfd, tmp, name, fwrite(buf, 1, len, f) == len);
}

int bw_cache_store(const bw_engine_t *e, int dirfd, const uint8_t key[32],
                   const bw_dbfiles_t *files)
{
    char name[80], tmp[300];
    hexkey(name, key);
    strcat(name, ".bwdb");
    FILE *f = open_temp(dirfd, name, tmp, sizeof tmp);
    if (!f)
        return BW_ERR;
    wbuf_t w = {f, NULL, 0, 0, adler32(0, NULL, 0), 0};
    const bw_sigdb_t *db = &e->db;
    header(&w, key, files);
    WVEC(&w, db->toks);
    WVEC(&w, db->alts);
    WVEC(&w, db->bytes);
    WVEC(&w, db->strings);
    WVEC(&w, db->parts);
    WVEC(&w, db->bsigs);
    WVEC(&w, db->metas);
    WVEC(&w, db->ldbs);
    WVEC(&w, db->logic);
    for (int l = 0; l < BW_HLISTS; l++)
        for (int k = 0; k < BW_HASH_KINDS; k++)
            WVEC(&w, db->hashes[l][k]);
    wu64(&w, db->max_part_extent);
    char *ser = NULL;
    size_t serlen = 0;
    if (e->hs && hs_serialize_database(e->hs, &ser, &serlen) != HS_SUCCESS)
        w.oom = 1;
    wu64(&w, serlen);
    wput(&w, ser, serlen);
    wpad(&w);
    free(ser);
    wu64(&w, e->info.version);
    wput(&w, e->info.build_time, sizeof e->info.build_time);
    wu64(&w, e->info.signatures);
    wu64(&w, e->info.ncounts);
    wput(&w, e->info.counts, e->info.ncounts * sizeof *e->info.counts);
    uint64_t sum = w.sum;
    wu64(&w, sum);
    return commit_temp(f, dirfd, tmp, name, !w.oom);
}

/* Every index in the tables points inside the table it names. */
static int validate(bw_sigdb_t *db)
{
    size_t nb = db->bytes.n;
    for (size_t i = 0; i < db->toks.n; i++) {
        const bw_tok_t *t = &db->toks.v[i];
        switch (t->kind) {
        case BW_TOK_BYTES: if ((uint64_t)t->a + t->b > nb) return BW_ERR; break;
        case BW_TOK_MASKED: if ((uint64_t)t->a + 2ull * t->b > nb) return BW_ERR; break;
        case BW_TOK_GAP: if (t->a > t->b) return BW_ERR; break;
        case BW_TOK_ALT: if ((uint64_t)t->a + t->b > db->alts.n) return BW_ERR; break;
        case BW_TOK_BOUNDARY: break;
        default: return BW_ERR;
        }
    }
    for (size_t i = 0; i < db->alts.n; i++)
        if ((uint64_t)db->alts.v[i].off + 2ull * db->alts.v[i].len > nb)
            return BW_ERR;
    uint32_t extent = 0;
    for (size_t i = 0; i < db->parts.n; i++) {
        const bw_part_t *p = &db->parts.v[i];
        if (p->bsig >= db->bsigs.n || (uint64_t)p->tok_first + p->tok_count > db->toks.n ||
            p->anchor_tok < p->tok_first || p->anchor_tok >= p->tok_first + p->tok_count ||
            db->toks.v[p->anchor_tok].kind != BW_TOK_BYTES || !db->toks.v[p->anchor_tok].b)
            return BW_ERR;
        uint64_t x = (uint64_t)p->max_before + db->toks.v[p->anchor_tok].b + p->max_after;
        if (x > UINT32_MAX / 2)
            return BW_ERR;
        if (x > extent)
            extent = (uint32_t)x;
    }
    db->max_part_extent = extent; /* recomputed, not trusted */
    for (size_t i = 0; i < db->bsigs.n; i++) {
        const bw_bsig_t *b = &db->bsigs.v[i];
        if ((uint64_t)b->part_first + b->part_count > db->parts.n || !b->part_count ||
            b->owner >= (b->is_ldb ? db->ldbs.n : db->metas.n))
            return BW_ERR;
    }
    if (db->strings.n && db->strings.v[db->strings.n - 1] != 0)
        return BW_ERR;
    for (size_t i = 0; i < db->metas.n; i++) {
        const bw_sigmeta_t *m = &db->metas.v[i];
        if (m->name_off >= db->strings.n || m->status >= BW_STATUS_COUNT ||
            (uint64_t)m->cure_off + m->cure_len > nb)
            return BW_ERR;
    }
    for (size_t i = 0; i < db->ldbs.n; i++) {
        const bw_ldb_t *l = &db->ldbs.v[i];
        if (l->meta >= db->metas.n || (uint64_t)l->bsig_first + l->bsig_count > db->bsigs.n ||
            (uint64_t)l->logic_first + l->logic_count > db->logic.n)
            return BW_ERR;
    }
    for (size_t i = 0; i < db->logic.n; i++)
        if (db->logic.v[i].op == BW_LOP_PUSH && db->logic.v[i].subsig >= 64)
            return BW_ERR;
    for (int l = 0; l < BW_HLISTS; l++)
        for (int k = 0; k < BW_HASH_KINDS; k++)
            for (size_t i = 0; i < db->hashes[l][k].n; i++)
                if (db->hashes[l][k].v[i].meta >= db->metas.n)
                    return BW_ERR;
    return BW_OK;
}

int bw_cache_load(bw_engine_t *e, int dirfd, const char *dir, const uint8_t key[32],
                  const bw_dbfiles_t *files, char *why, size_t cap)
{
    char name[80];
    hexkey(name, key);
    strcat(name, ".bwdb");
    int fd;
    struct stat st;
    int orc = open_trusted(dirfd, dir, name, &fd, &st, why, cap);
    if (orc != BW_OK)
        return orc;
    if (st.st_size < 128 || st.st_size % 8) {
        close(fd);
        snprintf(why, cap, "compiled-database cache: %s/%s: truncated; recompiling", dir, name);
        return BW_ERR;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *b = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (b == MAP_FAILED) {
        snprintf(why, cap, "compiled-database cache: %s/%s: mmap: %s", dir, name, strerror(errno));
        return BW_ERR;
    }
    e->map = b;
    e->maplen = n;
    e->db.mapped = 1;
    wbuf_t hdr = {0};
    header_build(&hdr);
    size_t build_len = hdr.n;
    wput(&hdr, key, 32);
    size_t key_end = hdr.n;
    header_sources(&hdr, files);
    uint64_t sum;
    memcpy(&sum, b + n - 8, 8);
    int rc = BW_ERR;
    snprintf(why, cap, "compiled-database cache: %s/%s: damaged; recompiling", dir, name);
    if (hdr.oom || hdr.n > n - 8)
        goto out;
    if (memcmp(hdr.mem, b, build_len)) {
        snprintf(why, cap, "compiled-database cache: %s/%s: written by another version; "
                 "recompiling", dir, name);
        goto out;
    }
    if (memcmp(hdr.mem + build_len, b + build_len, key_end - build_len)) {
        snprintf(why, cap, "compiled-database cache: %s/%s: records another source key (renamed "
                 "or planted): refused, recompiling", dir, name);
        goto out;
    }
    if (memcmp(hdr.mem + key_end, b + key_end, hdr.n - key_end)) {
        snprintf(why, cap, "compiled-database cache: %s/%s: compiled from other source files "
                 "(names or sizes differ): refused, recompiling", dir, name);
        goto out;
    }
    if (sum != adler32_z(adler32(0, NULL, 0), b, n - 8))
        goto out;
    rbuf_t r = {b, n - 8, hdr.n, 0};
    bw_sigdb_t *db = &e->db;
    RVEC(&r, db->toks);
    RVEC(&r, db->alts);
    RVEC(&r, db->bytes);
    RVEC(&r, db->strings);
    RVEC(&r, db->parts);
    RVEC(&r, db->bsigs);
    RVEC(&r, db->metas);
    RVEC(&r, db->ldbs);
    RVEC(&r, db->logic);
    for (int l = 0; l < BW_HLISTS; l++)
        for (int k = 0; k < BW_HASH_KINDS; k++)
            RVEC(&r, db->hashes[l][k]);
    db->max_part_extent = (uint32_t)ru64(&r);
    uint64_t serlen = ru64(&r);
    const void *ser = rget(&r, serlen);
    if (r.pos % 8)
        rget(&r, 8 - r.pos % 8);
    if (r.bad || validate(db) != BW_OK)
        goto out;
    if (serlen && hs_deserialize_database(ser, serlen, &e->hs) != HS_SUCCESS)
        goto out; /* e.g. built on a CPU with other features: recompile */
    e->info.version = ru64(&r);
    const void *bt = rget(&r, sizeof e->info.build_time);
    if (bt)
        memcpy(e->info.build_time, bt, sizeof e->info.build_time);
    e->info.build_time[sizeof e->info.build_time - 1] = 0;
    e->info.signatures = ru64(&r);
    uint64_t ncounts = ru64(&r);
    if (r.bad || ncounts > (r.n - r.pos) / sizeof(bw_db_count_t))
        goto out;
    const void *counts = rget(&r, ncounts * sizeof(bw_db_count_t));
    e->info.counts = malloc((ncounts ? ncounts : 1) * sizeof(bw_db_count_t));
    if (!counts || !e->info.counts)
        goto out;
    memcpy(e->info.counts, counts, ncounts * sizeof(bw_db_count_t));
    e->info.ncounts = ncounts;
    for (size_t i = 0; i < ncounts; i++)
        e->info.counts[i].kind[sizeof e->info.counts[i].kind - 1] = 0;
    rc = r.pos == r.n ? BW_OK : BW_ERR;
    if (rc == BW_OK)
        why[0] = '\0';
out:
    free(hdr.mem);
    return rc; /* on failure the caller discards e, mapping included */
}

int bw_cache_key_lookup(int dirfd, const char *dir, const uint8_t meta[32], uint8_t key[32],
                        char *why, size_t cap)
{
    char name[80];
    hexkey(name, meta);
    strcat(name, ".key");
    int fd;
    struct stat st;
    int orc = open_trusted(dirfd, dir, name, &fd, &st, why, cap);
    if (orc != BW_OK)
        return orc;
    uint8_t buf[64];
    ssize_t got = read(fd, buf, sizeof buf);
    close(fd);
    /* meta then key: the file says which tuple set it belongs to.  What the
     * key names is checked when the image is loaded (its header records the
     * key and the sources' names and sizes). */
    if (got != 64 || memcmp(buf, meta, 32)) {
        snprintf(why, cap, "compiled-database cache: %s/%s: does not belong to these sources: "
                 "ignored", dir, name);
        return BW_ERR;
    }
    memcpy(key, buf + 32, 32);
    return BW_OK;
}

void bw_cache_key_store(int dirfd, const uint8_t meta[32], const uint8_t key[32])
{
    char name[80];
    uint8_t buf[64];
    hexkey(name, meta);
    strcat(name, ".key");
    memcpy(buf, meta, 32);
    memcpy(buf + 32, key, 32);
    write_atomic(dirfd, name, buf, sizeof buf);
}
