/* SPDX-License-Identifier: Apache-2.0 */
/* A spool keeps an object that needs random access (a container for the
 * engine, a held-back body for ICAP, an object for the quarantine): in memory
 * up to a bound, then in an unlinked temporary file (O_TMPFILE, or mkstemp +
 * unlink).  The engine spools only objects whose first bytes say "container". */
#ifndef BW_CORE_SPOOL_H
#define BW_CORE_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BW_SPOOL_MEM_DEFAULT (16u << 20)

typedef struct bw_spool {
    uint8_t *mem;
    size_t len, cap, mem_limit;
    int fd;          /* -1 while in memory */
    uint64_t size;   /* total bytes written */
} bw_spool_t;

void bw_spool_init(bw_spool_t *sp, size_t mem_limit);
/* BW_OK or BW_ERR (disk full, no temp dir): errno is kept. */
int bw_spool_write(bw_spool_t *sp, const void *buf, size_t len);
/* In memory: returns the buffer. In a file: NULL (use sp->fd, from offset 0). */
const uint8_t *bw_spool_mem(const bw_spool_t *sp);
/* Added by the unpacker: copies up to len bytes from offset off, from memory
 * or with pread (the fd's offset is left alone).  Returns the bytes copied
 * (0 at the end) or -1 with errno set. */
ssize_t bw_spool_pread(const bw_spool_t *sp, void *buf, size_t len, uint64_t off);
void bw_spool_free(bw_spool_t *sp);

#endif
