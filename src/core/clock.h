/* SPDX-License-Identifier: Apache-2.0 */
/* The one monotonic millisecond clock: deadlines, timeouts and durations
 * everywhere (never the wall clock, which jumps). */
#ifndef BW_CORE_CLOCK_H
#define BW_CORE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds of CLOCK_MONOTONIC.  Inline: it sits on per-request paths. */
static inline uint64_t bw_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#endif
