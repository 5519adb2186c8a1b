/* SPDX-License-Identifier: Apache-2.0 */
/* Engine construction: collect the database files, try the compiled cache,
 * otherwise parse and compile, then publish one immutable engine.
 *
 * The prefilter is a single Hyperscan literal database (hs_compile_lit_multi)
 * over each body-signature part's anchor, compiled in streaming mode so that
 * a scan can be fed in arbitrary chunks.  Literals are cheap for Hyperscan to
 * compile and to match, whatever their number: this is what keeps compile
 * time and memory flat as a database grows.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "db-load.h"
#include "engine-int.h"

int bw_engine_compile_hs(bw_engine_t *e, char *err, size_t errlen)
{
    bw_sigdb_t *db = &e->db;
    size_t n = db->parts.n;
    if (n == 0)
        return BW_OK;
    const char **exprs = malloc(n * sizeof *exprs);
    unsigned *flags = malloc(n * sizeof *flags);
    unsigned *ids = malloc(n * sizeof *ids);
    size_t *lens = malloc(n * sizeof *lens);
    int rc = BW_ERR;
    if (!exprs || !flags || !ids || !lens) {
        snprintf(err, errlen, "out of memory compiling %zu patterns", n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const bw_part_t *p = &db->parts.v[i];
        const bw_tok_t *t = &db->toks.v[p->anchor_tok];
        exprs[i] = (const char *)db->bytes.v + t->a;
        lens[i] = t->b;
        flags[i] = (p->flags & BW_PARTF_NOCASE) ? HS_FLAG_CASELESS : 0;
        ids[i] = (unsigned)i;
    }
    hs_compile_error_t *cerr = NULL;
    if (hs_compile_lit_multi(exprs, flags, ids, lens, (unsigned)n, HS_MODE_STREAM, NULL, &e->hs,
                             &cerr) != HS_SUCCESS) {
        snprintf(err, errlen, "prefilter compile failed: %s (pattern %d)",
                 cerr ? cerr->message : "?", cerr ? cerr->expression : -1);
        hs_free_compile_error(cerr);
        e->hs = NULL;
        goto out;
    }
    rc = BW_OK;
out:
    free(exprs);
    free(flags);
    free(ids);
    free(lens);
    return rc;
}

void bw_engine_derive(bw_engine_t *e)
{
    for (int k = 0; k < BW_HASH_KINDS; k++)
        e->need_hash[k] = e->db.hashes[BW_HLIST_DETECT][k].n || e->db.hashes[BW_HLIST_ALLOW][k].n;
    for (int k = 0; k < BW_HASH_KINDS; k++) {
        e->hash_max_size[k] = 0;
        for (int l = 0; l < BW_HLISTS; l++) {
            size_t n = e->db.hashes[l][k].n; /* sorted by size, BW_SIZE_ANY last */
            if (n && e->db.hashes[l][k].v[n - 1].size > e->hash_max_size[k])
                e->hash_max_size[k] = e->db.hashes[l][k].v[n - 1].size;
        }
    }
    e->has_allow = 0;
    for (int k = 0; k < BW_HASH_KINDS; k++)
        e->has_allow |= e->db.hashes[BW_HLIST_ALLOW][k].n != 0;
}

static int engine_prepare_scratch(bw_engine_t *e, char *err, size_t errlen)
{
    if (e->hs && hs_alloc_scratch(e->hs, &e->proto) != HS_SUCCESS) {
        snprintf(err, errlen, "cannot allocate scan scratch space");
        return BW_ERR;
    }
    return BW_OK;
}

hs_scratch_t *bw_engine_scratch_get(const bw_engine_t *ce)
{
    bw_engine_t *e = (bw_engine_t *)ce; /* the pool is the one mutable part */
    if (!e->hs)
        return NULL;
    hs_scratch_t *s = NULL;
    pthread_mutex_lock(&e->pool_lock);
    if (e->npool)
        s = e->pool[--e->npool];
    pthread_mutex_unlock(&e->pool_lock);
    if (!s && hs_clone_scratch(e->proto, &s) != HS_SUCCESS)
        return NULL;
    return s;
}

void bw_engine_scratch_put(const bw_engine_t *ce, hs_scratch_t *s)
{
    bw_engine_t *e = (bw_engine_t *)ce;
    if (!s)
        return;
    pthread_mutex_lock(&e->pool_lock);
    if (e->npool == e->cappool && e->cappool < 256) {
        size_t nc = e->cappool ? e->cappool * 2 : 8;
        hs_scratch_t **np = realloc(e->pool, nc * sizeof *np);
        if (np) {
            e->pool = np;
            e->cappool = nc;
        }
    }
    if (e->npool < e->cappool) {
        e->pool[e->npool++] = s;
        s = NULL;
    }
    pthread_mutex_unlock(&e->pool_lock);
    if (s)
        hs_free_scratch(s);
}

/* Releases the compiled database (built or mapped) and its info, leaving e
 * ready to be filled again: a failed cache read starts over from here. */
static void engine_drop_db(bw_engine_t *e)
{
    if (e->hs)
        hs_free_database(e->hs);
    e->hs = NULL;
    bw_sigdb_free(&e->db);
    if (e->map)
        munmap(e->map, e->maplen);
    e->map = NULL;
    e->maplen = 0;
    free(e->info.counts);
    memset(&e->info, 0, sizeof e->info);
}

static void engine_free(bw_engine_t *e)
{
    for (size_t i = 0; i < e->npool; i++)
        hs_free_scratch(e->pool[i]);
    free(e->pool);
    if (e->proto)
        hs_free_scratch(e->proto);
    engine_drop_db(e);
    pthread_mutex_destroy(&e->pool_lock);
    free(e);
}

/* SHA-256 over each file's name, size, mtime, inode and device: the key of
 * the ".key" file that remembers the content hash (engine-cache.c). */
static int meta_key(const bw_dbfiles_t *files, uint8_t out[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(ctx);
        return BW_ERR;
    }
    EVP_DigestUpdate(ctx, BW_VERSION, sizeof BW_VERSION);
    for (size_t i = 0; i < files->n; i++) {
        struct stat st;
        if (stat(files->v[i].path, &st) != 0) {
            EVP_MD_CTX_free(ctx);
            return BW_ERR;
        }
        uint64_t t[6] = {(uint64_t)st.st_size, (uint64_t)st.st_mtim.tv_sec,
                         (uint64_t)st.st_mtim.tv_nsec, (uint64_t)st.st_ino,
                         (uint64_t)st.st_dev, (uint64_t)st.st_ctim.tv_sec};
        EVP_DigestUpdate(ctx, files->v[i].path, strlen(files->v[i].path) + 1);
        EVP_DigestUpdate(ctx, t, sizeof t);
    }
    unsigned len = 0;
    int ok = EVP_DigestFinal_ex(ctx, out, &len);
    EVP_MD_CTX_free(ctx);
    return ok ? BW_OK : BW_ERR;
}

static void hex32(const uint8_t *in, char *out)
{
    static const char x[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = x[in[i] >> 4];
        out[2 * i + 1] = x[in[i] & 15];
    }
    out[64] = 0;
}

/* Tells the caller why the cache was not used (a refused file, a damaged
 * image): the load goes on from the sources. */
static void engine_note(const bw_load_opts_t *opts, const char *msg)
{
    if (opts && opts->note && msg && msg[0])
        opts->note(opts->note_arg, msg);
}

/* Parses and compiles from source (the cache missed or is off). */
static int engine_build(bw_engine_t *e, const bw_dbfiles_t *files, char *err, size_t errlen)
{
    bw_dbload_t L;
    memset(&L, 0, sizeof L);
    L.db = &e->db;
    bw_err_t lerr = {{0}};
    if (bw_db_load_files(&L, files, &lerr) != BW_OK) {
        snprintf(err, errlen, "%s", lerr.msg);
        bw_dbload_free(&L);
        return BW_ERR;
    }
    bw_sigdb_finish(&e->db);
    /* An updated set's own version says more than its ClamAV files' */
    e->info.version = L.set_version ? L.set_version : L.version;
    snprintf(e->info.build_time, sizeof e->info.build_time, "%s", L.build_time);
    e->info.signatures = L.signatures;
    e->info.ncounts = L.counts.n;
    e->info.counts = L.counts.v; /* ownership moves to the engine */
    L.counts.v = NULL;
    L.counts.n = L.counts.cap = 0;
    bw_dbload_free(&L);
    return bw_engine_compile_hs(e, err, errlen);
}

int bw_engine_load(const char *const *paths, size_t npaths, const bw_load_opts_t *opts,
                   bw_engine_t **out, char *err, size_t errlen)
{
    *out = NULL;
    bw_dbfiles_t files = {0};
    bw_err_t cerr = {{0}};
    if (bw_db_collect(paths, npaths, &files, &cerr) != BW_OK) {
        snprintf(err, errlen, "%s", cerr.msg);
        bw_dbfiles_free(&files);
        return BW_ERR;
    }
    const char *cache = opts ? opts->cache_dir : NULL;
    uint8_t key[32], meta[32];
    char why[1024] = "";
    int dirfd = -1;
    if (cache && (dirfd = bw_cache_dir_open(cache, 1, why, sizeof why)) < 0)
        engine_note(opts, why); /* compiled without a cache */
    int have_meta = dirfd >= 0 && meta_key(&files, meta) == BW_OK;
    int krc = have_meta ? bw_cache_key_lookup(dirfd, cache, meta, key, why, sizeof why)
                        : BW_DECLINED;
    if (krc == BW_ERR)
        engine_note(opts, why);
    if (krc != BW_OK) {
        if (bw_db_hash_sources(&files, key, &cerr) != BW_OK) {
            snprintf(err, errlen, "%s", cerr.msg);
            bw_dbfiles_free(&files);
            if (dirfd >= 0)
                close(dirfd);
            return BW_ERR;
        }
        if (have_meta)
            bw_cache_key_store(dirfd, meta, key);
    }
    bw_engine_t *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        bw_dbfiles_free(&files);
        if (dirfd >= 0)
            close(dirfd);
        return BW_ERR;
    }
    atomic_init(&e->refs, 1);
    pthread_mutex_init(&e->pool_lock, NULL);
    int crc = dirfd >= 0 ? bw_cache_load(e, dirfd, cache, key, &files, why, sizeof why)
                         : BW_DECLINED;
    if (crc == BW_OK) {
        e->info.from_cache = 1;
    } else {
        if (crc == BW_ERR)
            engine_note(opts, why);
        engine_drop_db(e); /* a failed cache read may have left partial state */
        if (engine_build(e, &files, err, errlen) != BW_OK)
            goto fail;
        if (dirfd >= 0)
            bw_cache_store(e, dirfd, key, &files); /* best effort: a read-only cache dir is fine */
    }
    if (dirfd >= 0)
        close(dirfd);
    dirfd = -1;
    hex32(key, e->info.source_hash);
    bw_engine_derive(e);
    if (engine_prepare_scratch(e, err, errlen) != BW_OK)
        goto fail;
    bw_dbfiles_free(&files);
    *out = e;
    return BW_OK;
fail:
    if (dirfd >= 0)
        close(dirfd);
    bw_dbfiles_free(&files);
    engine_free(e);
    return BW_ERR;
}

bw_engine_t *bw_engine_ref(bw_engine_t *e)
{
    atomic_fetch_add(&e->refs, 1);
    return e;
}

void bw_engine_unref(bw_engine_t *e)
{
    if (e && atomic_fetch_sub(&e->refs, 1) == 1)
        engine_free(e);
}

const bw_db_info_t *bw_engine_info(const bw_engine_t *e)
{
    return &e->info;
}
