/* SPDX-License-Identifier: Apache-2.0 */
/* The verdict cache of the scanning server: a bounded in-process table per
 * worker (loop thread only) and, when RedisUrl is set, Redis shared by every
 * server (pool threads only, serialised by a mutex). */
#ifndef BW_RSCAN_CACHE_H
#define BW_RSCAN_CACHE_H

#include <pthread.h>
#include <stdint.h>

#include "bulwark/core.h"

#define BW_RSCAN_THREAT_MAX 256

typedef struct bw_rscan_mem_entry {
    char sha256[65];
    char db_version[64];
    uint64_t size;
    int used;
    bw_status_t status;
    char threat[BW_RSCAN_THREAT_MAX];
} bw_rscan_mem_entry_t;

/* Direct-mapped by the hash: a colliding verdict replaces the older one,
 * which bounds memory and lookup cost with no list to maintain. */
typedef struct bw_rscan_mem {
    bw_rscan_mem_entry_t *e;
    size_t n;
} bw_rscan_mem_t;

int bw_rscan_mem_init(bw_rscan_mem_t *m, size_t entries);
void bw_rscan_mem_free(bw_rscan_mem_t *m);
/* 1 on a hit (status, threat filled). */
int bw_rscan_mem_get(const bw_rscan_mem_t *m, const char *sha, uint64_t size, const char *dbv,
                     bw_status_t *status, char *threat, size_t cap);
void bw_rscan_mem_put(bw_rscan_mem_t *m, const char *sha, uint64_t size, const char *dbv,
                      bw_status_t status, const char *threat);

typedef struct bw_rscan_redis {
    pthread_mutex_t mu;
    void *ctx;            /* redisContext * (NULL: not connected) */
    char host[256];
    int port, db;
    uint64_t ttl_s;
    uint64_t retry_at_ms; /* after a failure, no new attempt before this */
} bw_rscan_redis_t;

/* Parses redis://host:port[/db].  BW_OK or BW_ERR with a message in why. */
int bw_rscan_redis_init(bw_rscan_redis_t *r, const char *url, uint64_t ttl_ms, char *why, size_t cap);
void bw_rscan_redis_free(bw_rscan_redis_t *r);
/* Pool threads.  get: 1 hit, 0 miss, -1 Redis unavailable (why filled). */
int bw_rscan_redis_get(bw_rscan_redis_t *r, const char *sha, uint64_t size, const char *dbv,
                       bw_status_t *status, char *threat, size_t cap, char *why, size_t wcap);
/* 0 stored, -1 unavailable (why filled). */
int bw_rscan_redis_put(bw_rscan_redis_t *r, const char *sha, uint64_t size, const char *dbv,
                       bw_status_t status, const char *threat, char *why, size_t wcap);

#endif
