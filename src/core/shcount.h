/* SPDX-License-Identifier: Apache-2.0 */
/* A count kept by several processes and read as one: each writer adds to its
 * own slot of a MAP_SHARED array, and the total is the sum of the slots.
 * ICAP's MaxConnections is a limit for the whole server while each worker
 * process counts its own connections; the daemon, which owns the array and
 * knows which process writes which slot, builds each worker's counter, and
 * the ICAP layer only adds and reads totals. */
#ifndef BW_CORE_SHCOUNT_H
#define BW_CORE_SHCOUNT_H

#include <stddef.h>
#include <stdint.h>

typedef struct bw_shcount {
    uint64_t *slots; /* shared by every writer; NULL: the count is local */
    size_t nslots;
    size_t self;     /* the slot this process writes */
    uint64_t local;  /* the count when there are no slots */
} bw_shcount_t;

static inline void bw_shcount_add(bw_shcount_t *c, int64_t delta)
{
    if (c->slots && c->self < c->nslots)
        __atomic_add_fetch(&c->slots[c->self], (uint64_t)delta, __ATOMIC_RELAXED);
    else
        c->local += (uint64_t)delta;
}

/* The sum over every writer (this process's own count without slots). */
static inline uint64_t bw_shcount_total(const bw_shcount_t *c)
{
    if (!c->slots)
        return c->local;
    uint64_t total = 0;
    for (size_t i = 0; i < c->nslots; i++)
        total += __atomic_load_n(&c->slots[i], __ATOMIC_RELAXED);
    return total;
}

/* 1 when other processes share the count. */
static inline int bw_shcount_shared(const bw_shcount_t *c) { return c->slots != NULL; }

#endif
