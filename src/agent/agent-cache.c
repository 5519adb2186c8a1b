/* SPDX-License-Identifier: Apache-2.0 */
/* The verdict cache: (dev, ino, size, mtime, ctime) -> status.
 *
 * A file's identity is its inode; its version is its size and change times,
 * so a rewrite (which moves mtime and ctime) is a new key even if the
 * FAN_CLOSE_WRITE that drops the old entry was lost.  The table is open
 * addressing with a fixed number of slots: a full table overwrites the slot
 * the key hashes to (a cache may forget; it must never answer for another
 * file, which the full-key compare guarantees).  One mutex: lookups are a
 * few compares, far cheaper than the kernel round trip they save. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"

typedef struct slot {
    bw_agent_key_t k;
    bw_status_t status;
    bool used;
} slot_t;

struct bw_agent_cache {
    pthread_mutex_t lock;
    size_t n, count;
    slot_t *s;
};

enum { PROBE = 8 };

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static size_t home(const bw_agent_cache_t *c, uint64_t dev, uint64_t ino)
{
    return (size_t)(mix(ino * 31 + dev) % c->n);
}

bw_agent_cache_t *bw_agent_cache_new(size_t entries)
{
    bw_agent_cache_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->n = entries < 16 ? 16 : entries;
    c->s = calloc(c->n, sizeof *c->s);
    if (!c->s) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void bw_agent_cache_free(bw_agent_cache_t *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c->s);
    free(c);
}

static bool same(const bw_agent_key_t *a, const bw_agent_key_t *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

int bw_agent_cache_get(bw_agent_cache_t *c, const bw_agent_key_t *k, bw_status_t *status)
{
    int found = 0;
    pthread_mutex_lock(&c->lock);
    size_t h = home(c, k->dev, k->ino);
    for (size_t i = 0; i < PROBE; i++) {
        slot_t *s = &c->s[(h + i) % c->n];
        if (s->used && same(&s->k, k)) {
            *status = s->status;
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}

void bw_agent_cache_put(bw_agent_cache_t *c, const bw_agent_key_t *k, bw_status_t status)
{
    pthread_mutex_lock(&c->lock);
    size_t h = home(c, k->dev, k->ino);
    slot_t *victim = NULL;
    for (size_t i = 0; i < PROBE; i++) {
        slot_t *s = &c->s[(h + i) % c->n];
        /* An older version of the same inode is replaced, not kept beside. */
        if (s->used && s->k.dev == k->dev && s->k.ino == k->ino) {
            victim = s;
            break;
        }
        if (!s->used && !victim)
            victim = s;
    }
    if (!victim)
        victim = &c->s[h];
    if (!victim->used)
        c->count++;
    victim->k = *k;
    victim->status = status;
    victim->used = true;
    pthread_mutex_unlock(&c->lock);
}

void bw_agent_cache_drop(bw_agent_cache_t *c, uint64_t dev, uint64_t ino)
{
    pthread_mutex_lock(&c->lock);
    size_t h = home(c, dev, ino);
    for (size_t i = 0; i < PROBE; i++) {
        slot_t *s = &c->s[(h + i) % c->n];
        if (s->used && s->k.dev == dev && s->k.ino == ino) {
            s->used = false;
            c->count--;
        }
    }
    pthread_mutex_unlock(&c->lock);
}

size_t bw_agent_cache_count(bw_agent_cache_t *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->count;
    pthread_mutex_unlock(&c->lock);
    return n;
}
