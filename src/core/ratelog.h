/* SPDX-License-Identifier: Apache-2.0 */
/* Rate-limited log lines: a message that can repeat at the rate of a busy
 * loop (accept failing with EMFILE, a flood of refused clients) is written
 * at most once per interval, and the next one written says how many were
 * left out ("N similar messages suppressed").  A log filled at that rate
 * would cost more than the failure it reports (disk, and CPU in the loop). */
#ifndef BW_CORE_RATELOG_H
#define BW_CORE_RATELOG_H

#include <stdint.h>

typedef struct bw_ratelog {
    uint64_t last_ms;    /* when the last line was written (0: never) */
    uint64_t suppressed; /* lines left out since */
} bw_ratelog_t;

/* 1: write the line now; *suppressed is then how many were left out before
 * it (add "(N similar messages suppressed)" when non-zero).  0: leave it out. */
static inline int bw_ratelog_allow(bw_ratelog_t *r, uint64_t now_ms, uint64_t interval_ms,
                                   uint64_t *suppressed)
{
    if (r->last_ms && now_ms - r->last_ms < interval_ms) {
        r->suppressed++;
        return 0;
    }
    r->last_ms = now_ms ? now_ms : 1;
    *suppressed = r->suppressed;
    r->suppressed = 0;
    return 1;
}

#endif
