/* SPDX-License-Identifier: Apache-2.0 */
/* What the spool's writer (evspool.c) and reader (evspool-read.c) share:
 * segment names and listing, cursor files, the drop counter. */
#ifndef BW_EVENTS_EVSPOOL_INT_H
#define BW_EVENTS_EVSPOOL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "events/evspool.h"

typedef struct bw_evspool_seg {
    uint64_t pid, n, size;
    bool sealed;
} bw_evspool_seg_t;

typedef struct bw_evspool_pos {
    uint64_t pid, n, off;
} bw_evspool_pos_t;

int bw_evspool_parse_segname(const char *name, uint64_t *pid, uint64_t *n);
/* The segments of dir, oldest first. */
int bw_evspool_list(const char *dir, bw_evspool_seg_t **out, size_t *nout);
void bw_evspool_segpath(char *buf, size_t len, const char *dir, uint64_t pid, uint64_t n);
/* Sealed, or its writer is gone (its flock is free). */
bool bw_evspool_seg_finished(const char *dir, const bw_evspool_seg_t *s);
void bw_evspool_own(const char *dir, int fd);
/* 0 and nothing for a missing file; -1 for an unreadable or malformed one. */
int bw_evspool_cursor_load(const char *path, bw_evspool_pos_t **out, size_t *nout);
uint64_t bw_evspool_pos_find(const bw_evspool_pos_t *v, size_t n, uint64_t pid, uint64_t sn);
int bw_evspool_each_cursor(const char *dir,
                           void (*fn)(const bw_evspool_pos_t *, size_t, void *), void *ctx);
int bw_evspool_dropped_add(const char *dir, uint64_t n);
/* The writer's segment descriptor (for a fork handler that only closes it). */
int bw_evspool_writer_fd(const bw_evspool_writer_t *w);

#endif
