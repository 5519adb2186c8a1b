/* SPDX-License-Identifier: Apache-2.0 */
/* The per-thread heap budget of libarchive calls (unpack-mem.c says why). */
#ifndef BW_ENGINE_UNPACK_MEM_H
#define BW_ENGINE_UNPACK_MEM_H

#include <stdint.h>

/* Around one container (nests): the outermost begin sets the budget. */
void bw_umem_begin(uint64_t cap);
void bw_umem_end(void);
/* Around each call into libarchive: only there are allocations counted and
 * refused.  close returns 1 if a request was refused since open. */
void bw_umem_open(void);
int bw_umem_close(void);
/* Bytes counted now (for tests). */
uint64_t bw_umem_live(void);

#endif
