/* The compiled-database cache.
 *
 * Compiling a large database (parsing, splitting signatures, building the
 * Hyperscan literal automaton) takes seconds; loading its result takes
 * milliseconds.  The cache file is named by the SHA-256 of the source files
 * (names, sizes and contents), so any change to the sources misses and is
 * recompiled; nothing else is ever compared.
 *
 * Layout: a fixed header, then every table of bw_sigdb_t as (count, element
 * size, bytes), then the serialized Hyperscan database, then the db info,
 * then a SHA-256 of everything before it.  A file that is short, has another
 * format or element size, or fails its digest is treated as a miss: a damaged
 * cache costs a recompile, never a crash or a wrong engine.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db-load.h"
#include "engine-int.h"

#define CACHE_MAGIC "BWDBCACH"
#define CACHE_FORMAT 1u

typedef struct {
    uint8_t *b;
    size_t n, cap;
    int oom;
} wbuf_t;

static void wput(wbuf_t *w, const void *p, size_t n)
{
    if (w->oom)
        return;
    if (w->n + n > w->cap) {
        size_t c = w->cap ? w->cap : 1 << 16;
        while (c < w->n + n)
            c *= 2;
        uint8_t *nb = realloc(w->b, c);
        if (!nb) {
            w->oom = 1;
            return;
        }
        w->b = nb;
        w->cap = c;
    }
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void wu64(wbuf_t *w, uint64_t v) { wput(w, &v, sizeof v); }

#define WVEC(w, vec) do { wu64(w, (vec).n); wu64(w, sizeof(*(vec).v)); \
    if ((vec).n) wput(w, (vec).v, (vec).n * sizeof(*(vec).v)); } while (0)

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

static int rvec(rbuf_t *r, void **v, size_t *n, size_t *cap, size_t elem)
{
    uint64_t cnt = ru64(r), esz = ru64(r);
    if (r->bad || esz != elem || cnt > (r->n - r->pos) / (elem ? elem : 1)) {
        r->bad = 1;
        return BW_ERR;
    }
    *n = *cap = 0;
    *v = NULL;
    if (!cnt)
        return BW_OK;
    const void *src = rget(r, cnt * elem);
    void *dst = malloc(cnt * elem);
    if (!src || !dst) {
        free(dst);
        r->bad = 1;
        return BW_ERR;
    }
    memcpy(dst, src, cnt * elem);
    *v = dst;
    *n = *cap = cnt;
    return BW_OK;
}

#define RVEC(r, vec) rvec(r, (void **)&(vec).v, &(vec).n, &(vec).cap, sizeof(*(vec).v))

static void cache_path(char *out, size_t len, const char *dir, const uint8_t key[32])
{
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", key[i]);
    snprintf(out, len, "%s/%s.bwdb", dir, hex);
}

static void header(wbuf_t *w, const uint8_t key[32])
{
    char ver[16] = {0};
    snprintf(ver, sizeof ver, "%s", BW_VERSION);
    wput(w, CACHE_MAGIC, 8);
    wu64(w, CACHE_FORMAT);
    wput(w, ver, sizeof ver);
    wput(w, key, 32);
}

static void tables(wbuf_t *w, const bw_sigdb_t *db)
{
    WVEC(w, db->toks);
    WVEC(w, db->alts);
    WVEC(w, db->bytes);
    WVEC(w, db->strings);
    WVEC(w, db->parts);
    WVEC(w, db->bsigs);
    WVEC(w, db->metas);
    WVEC(w, db->ldbs);
    WVEC(w, db->logic);
    for (int l = 0; l < BW_HLISTS; l++)
        for (int k = 0; k < BW_HASH_KINDS; k++)
            WVEC(w, db->hashes[l][k]);
    wu64(w, db->max_part_extent);
}

int bw_cache_store(const bw_engine_t *e, const char *dir, const uint8_t key[32])
{
    wbuf_t w = {0};
    header(&w, key);
    tables(&w, &e->db);
    char *ser = NULL;
    size_t serlen = 0;
    if (e->hs && hs_serialize_database(e->hs, &ser, &serlen) != HS_SUCCESS) {
        free(w.b);
        return BW_ERR;
    }
    wu64(&w, serlen);
    if (serlen)
        wput(&w, ser, serlen);
    free(ser);
    wu64(&w, e->info.version);
    wput(&w, e->info.build_time, sizeof e->info.build_time);
    wu64(&w, e->info.signatures);
    wu64(&w, e->info.ncounts);
    if (e->info.ncounts)
        wput(&w, e->info.counts, e->info.ncounts * sizeof *e->info.counts);
    unsigned char md[32];
    unsigned mdlen = 0;
    if (!w.oom)
        EVP_Digest(w.b, w.n, md, &mdlen, EVP_sha256(), NULL);
    wput(&w, md, 32);
    if (w.oom) {
        free(w.b);
        return BW_ERR;
    }

    char path[4096], tmp[4200];
    mkdir(dir, 0755); /* one level is enough for ~/.cache/bulwark; EEXIST is fine */
    cache_path(path, sizeof path, dir, key);
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        free(w.b);
        return BW_ERR;
    }
    fchmod(fd, 0644);
    size_t off = 0;
    while (off < w.n) {
        ssize_t k = write(fd, w.b + off, w.n - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        off += (size_t)k;
    }
    free(w.b);
    if (off != w.n || close(fd) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return BW_ERR;
    }
    return BW_OK;
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return BW_ERR;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < 64) {
        close(fd);
        return BW_ERR;
    }
    uint8_t *b = malloc((size_t)st.st_size);
    size_t off = 0;
    while (b && off < (size_t)st.st_size) {
        ssize_t k = read(fd, b + off, (size_t)st.st_size - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        off += (size_t)k;
    }
    close(fd);
    if (!b || off != (size_t)st.st_size) {
        free(b);
        return BW_ERR;
    }
    *out = b;
    *len = off;
    return BW_OK;
}

int bw_cache_load(bw_engine_t *e, const char *dir, const uint8_t key[32])
{
    char path[4096];
    cache_path(path, sizeof path, dir, key);
    uint8_t *b;
    size_t n;
    if (read_file(path, &b, &n) != BW_OK)
        return BW_ERR;
    unsigned char md[32];
    unsigned mdlen = 0;
    EVP_Digest(b, n - 32, md, &mdlen, EVP_sha256(), NULL);
    wbuf_t hdr = {0};
    header(&hdr, key);
    int rc = BW_ERR;
    if (memcmp(md, b + n - 32, 32) || hdr.oom || hdr.n > n || memcmp(hdr.b, b, hdr.n))
        goto out;
    rbuf_t r = {b, n - 32, hdr.n, 0};
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
    if (r.bad)
        goto out;
    if (serlen && hs_deserialize_database(ser, serlen, &e->hs) != HS_SUCCESS)
        goto out; /* e.g. built on a CPU with other features: recompile */
    e->info.version = (uint32_t)ru64(&r);
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
    if (r.pos != r.n)
        goto out;
    rc = r.bad ? BW_ERR : BW_OK;
out:
    free(hdr.b);
    free(b);
    return rc;
}
