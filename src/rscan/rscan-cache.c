/* SPDX-License-Identifier: Apache-2.0 */
/* The shared verdict cache.
 *
 * Key: "bw:v1:<db-version>:<sha256>:<size>".  The database version is in the
 * key rather than checked against the value, so a server that loads new
 * signatures simply stops finding the old verdicts (they expire by RedisTtl)
 * and servers still on the old databases keep theirs: a mixed fleet during a
 * rollout never serves a verdict made with other signatures.  Value:
 * "<STATUS> <threat>" (threat may be empty).
 *
 * Redis is an optimisation, never a dependency: every failure is reported
 * to the caller as "unavailable", the caller scans instead, and after a
 * failure no new connection is attempted for a second so a dead Redis costs
 * one connect timeout per second per worker, not one per request.
 */
#include "rscan/rscan-cache.h"

#include <hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"

#define REDIS_TIMEOUT_MS 500
#define REDIS_RETRY_MS 1000

static size_t slot_of(const char *sha, size_t n)
{
    uint64_t h = 0;
    for (int i = 0; i < 16; i++) {
        char c = sha[i];
        h = h * 16 + (uint64_t)(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    return (size_t)(h % n);
}

int bw_rscan_mem_init(bw_rscan_mem_t *m, size_t entries)
{
    m->n = entries;
    m->e = entries ? calloc(entries, sizeof *m->e) : NULL;
    return !entries || m->e ? 0 : -1;
}

void bw_rscan_mem_free(bw_rscan_mem_t *m)
{
    free(m->e);
    m->e = NULL;
    m->n = 0;
}

int bw_rscan_mem_get(const bw_rscan_mem_t *m, const char *sha, uint64_t size, const char *dbv,
                     bw_status_t *status, char *threat, size_t cap)
{
    if (!m->n)
        return 0;
    const bw_rscan_mem_entry_t *e = &m->e[slot_of(sha, m->n)];
    if (!e->used || e->size != size || strcmp(e->sha256, sha) || strcmp(e->db_version, dbv))
        return 0;
    *status = e->status;
    snprintf(threat, cap, "%s", e->threat);
    return 1;
}

void bw_rscan_mem_put(bw_rscan_mem_t *m, const char *sha, uint64_t size, const char *dbv,
                      bw_status_t status, const char *threat)
{
    if (!m->n)
        return;
    bw_rscan_mem_entry_t *e = &m->e[slot_of(sha, m->n)];
    snprintf(e->sha256, sizeof e->sha256, "%s", sha);
    snprintf(e->db_version, sizeof e->db_version, "%s", dbv);
    snprintf(e->threat, sizeof e->threat, "%s", threat ? threat : "");
    e->size = size;
    e->status = status;
    e->used = 1;
}

int bw_rscan_redis_init(bw_rscan_redis_t *r, const char *url, uint64_t ttl_ms, char *why, size_t cap)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->ttl_s = ttl_ms / 1000 ? ttl_ms / 1000 : 1;
    const char *p = url + 8; /* after redis:// (checked by the conf) */
    const char *colon = strrchr(p, ':'), *slash = strchr(p, '/');
    if (slash && colon && colon > slash)
        colon = NULL;
    size_t hl = colon ? (size_t)(colon - p) : slash ? (size_t)(slash - p) : strlen(p);
    if (!hl || hl >= sizeof r->host) {
        snprintf(why, cap, "RedisUrl %s: no host", url);
        return -1;
    }
    memcpy(r->host, p, hl);
    r->port = colon ? atoi(colon + 1) : 6379;
    r->db = slash ? atoi(slash + 1) : 0;
    if (r->port < 1 || r->port > 65535 || r->db < 0) {
        snprintf(why, cap, "RedisUrl %s: bad port or database", url);
        return -1;
    }
    return 0;
}

void bw_rscan_redis_free(bw_rscan_redis_t *r)
{
    if (r->ctx)
        redisFree(r->ctx);
    r->ctx = NULL;
    pthread_mutex_destroy(&r->mu);
}

static void drop(bw_rscan_redis_t *r, const char *what, char *why, size_t wcap)
{
    snprintf(why, wcap, "Redis %s:%d: %s", r->host, r->port, what);
    if (r->ctx)
        redisFree(r->ctx);
    r->ctx = NULL;
    r->retry_at_ms = bw_clock_ms() + REDIS_RETRY_MS;
}

/* With r->mu held: a usable context, or NULL (why filled). */
static redisContext *ensure(bw_rscan_redis_t *r, char *why, size_t wcap)
{
    if (r->ctx)
        return r->ctx;
    if (r->retry_at_ms && bw_clock_ms() < r->retry_at_ms) {
        snprintf(why, wcap, "Redis %s:%d: unavailable (retrying shortly)", r->host, r->port);
        return NULL;
    }
    struct timeval tv = {0, REDIS_TIMEOUT_MS * 1000};
    redisContext *c = redisConnectWithTimeout(r->host, r->port, tv);
    if (!c || c->err) {
        char msg[200];
        snprintf(msg, sizeof msg, "connect: %s", c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        drop(r, msg, why, wcap);
        return NULL;
    }
    redisSetTimeout(c, tv);
    r->ctx = c;
    if (r->db) {
        redisReply *rep = redisCommand(c, "SELECT %d", r->db);
        int ok = rep && rep->type == REDIS_REPLY_STATUS;
        if (rep)
            freeReplyObject(rep);
        if (!ok) {
            drop(r, "SELECT failed", why, wcap);
            return NULL;
        }
    }
    return c;
}

static void key_of(char *k, size_t cap, const char *sha, uint64_t size, const char *dbv)
{
    snprintf(k, cap, "bw:v1:%s:%s:%llu", dbv, sha, (unsigned long long)size);
}

int bw_rscan_redis_get(bw_rscan_redis_t *r, const char *sha, uint64_t size, const char *dbv,
                       bw_status_t *status, char *threat, size_t cap, char *why, size_t wcap)
{
    char key[200];
    key_of(key, sizeof key, sha, size, dbv);
    pthread_mutex_lock(&r->mu);
    int rc = -1;
    redisContext *c = ensure(r, why, wcap);
    if (c) {
        redisReply *rep = redisCommand(c, "GET %s", key);
        if (!rep) {
            drop(r, c->errstr[0] ? c->errstr : "no reply", why, wcap);
        } else if (rep->type == REDIS_REPLY_NIL) {
            rc = 0;
        } else if (rep->type == REDIS_REPLY_STRING) {
            /* "<STATUS> <threat>": a value we cannot read is a miss, not an error */
            char st[32];
            const char *sp = memchr(rep->str, ' ', rep->len);
            size_t sl = sp ? (size_t)(sp - rep->str) : rep->len;
            rc = 0;
            if (sl && sl < sizeof st) {
                memcpy(st, rep->str, sl);
                st[sl] = 0;
                if (bw_status_from_name(st, status) == 0) {
                    size_t tl = sp ? rep->len - sl - 1 : 0;
                    if (tl >= cap)
                        tl = cap - 1;
                    if (tl)
                        memcpy(threat, sp + 1, tl);
                    threat[tl] = 0;
                    rc = 1;
                }
            }
        } else {
            snprintf(why, wcap, "Redis %s:%d: GET: %s", r->host, r->port,
                     rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
        }
        if (rep)
            freeReplyObject(rep);
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int bw_rscan_redis_put(bw_rscan_redis_t *r, const char *sha, uint64_t size, const char *dbv,
                       bw_status_t status, const char *threat, char *why, size_t wcap)
{
    char key[200], val[BW_RSCAN_THREAT_MAX + 40];
    key_of(key, sizeof key, sha, size, dbv);
    snprintf(val, sizeof val, "%s %s", bw_status_name(status), threat ? threat : "");
    pthread_mutex_lock(&r->mu);
    int rc = -1;
    redisContext *c = ensure(r, why, wcap);
    if (c) {
        redisReply *rep = redisCommand(c, "SET %s %s EX %llu", key, val, (unsigned long long)r->ttl_s);
        if (!rep)
            drop(r, c->errstr[0] ? c->errstr : "no reply", why, wcap);
        else if (rep->type == REDIS_REPLY_STATUS)
            rc = 0;
        else
            snprintf(why, wcap, "Redis %s:%d: SET: %s", r->host, r->port,
                     rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
        if (rep)
            freeReplyObject(rep);
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}
