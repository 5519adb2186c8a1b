/* SPDX-License-Identifier: Apache-2.0 */
/* The compiled engine: one immutable signature database plus its Hyperscan
 * literal prefilter, shared by reference count between all scans. */
#ifndef BW_ENGINE_ENGINE_INT_H
#define BW_ENGINE_ENGINE_INT_H

#include <hs/hs.h>
#include <pthread.h>
#include <stdatomic.h>

#include "bulwark/bulwark.h"
#include "db-load.h"
#include "sigdb-t.h"

struct bw_engine {
    atomic_int refs;
    bw_sigdb_t db;
    hs_database_t *hs;          /* NULL when the database has no body signatures */
    uint8_t need_hash[BW_HASH_KINDS]; /* digest kinds any hash table holds */
    /* The largest object size any hash signature of the kind names
     * (BW_SIZE_ANY if one matches any size): past it, that digest cannot
     * match anything and a scan stops computing it. */
    uint64_t hash_max_size[BW_HASH_KINDS];
    int has_allow;              /* any .fp/.sfp entries: never stop a scan early */
    bw_db_info_t info;
    void *map;                  /* the cache file, when e->db points into it */
    size_t maplen;
    /* Scratch spaces are expensive to allocate and are per thread of use;
     * scans borrow one from this pool and give it back. */
    pthread_mutex_t pool_lock;
    hs_scratch_t *proto;
    hs_scratch_t **pool;
    size_t npool, cappool;
};

hs_scratch_t *bw_engine_scratch_get(const bw_engine_t *e);
void bw_engine_scratch_put(const bw_engine_t *e, hs_scratch_t *s);

/* Compiles the prefilter for e->db (engine.c). */
int bw_engine_compile_hs(bw_engine_t *e, char *err, size_t errlen);
/* Derives need_hash/has_allow from the tables. */
void bw_engine_derive(bw_engine_t *e);

/* Compiled-database cache (engine-cache.c).  The key is the SHA-256 over the
 * source files; a hit fills e->db, e->hs and e->info.  Everything goes
 * through a directory fd from bw_cache_dir_open, which refuses a directory
 * anyone but this process's user or root can write (-1, *why says why).
 * Lookups return BW_OK, BW_DECLINED (absent: a plain miss) or BW_ERR (a
 * file refused or damaged: *why says why; the caller compiles). */
int bw_cache_dir_open(const char *dir, int create, char *why, size_t cap);
int bw_cache_load(bw_engine_t *e, int dirfd, const char *dir, const uint8_t key[32],
                  const bw_dbfiles_t *files, char *why, size_t cap);
/* Direct mode: the content key recorded for a set of source files with the
 * same names, sizes, mtimes and inodes, so a warm start need not read and
 * hash the sources. */
int bw_cache_key_lookup(int dirfd, const char *dir, const uint8_t meta[32], uint8_t key[32],
                        char *why, size_t cap);
void bw_cache_key_store(int dirfd, const uint8_t meta[32], const uint8_t key[32]);
int bw_cache_store(const bw_engine_t *e, int dirfd, const uint8_t key[32],
                   const bw_dbfiles_t *files);

#endif
