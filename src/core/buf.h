/* SPDX-License-Identifier: Apache-2.0 */
/* A growable byte buffer for building protocol responses. */
#ifndef BW_CORE_BUF_H
#define BW_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct bw_buf {
    char *p;
    size_t len, cap;
    int oom; /* a failed append: the buffer is unusable, the caller answers 500 or closes */
} bw_buf_t;

void bw_buf_append(bw_buf_t *b, const void *p, size_t n);
void bw_buf_puts(bw_buf_t *b, const char *s);
void bw_buf_printf(bw_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Removes the first n bytes. */
void bw_buf_consume(bw_buf_t *b, size_t n);
void bw_buf_reset(bw_buf_t *b);
void bw_buf_free(bw_buf_t *b);
/* Appends s as one field of a space-separated log line: every byte that
 * could split or forge a field or a line (space and the other controls,
 * bytes 0x7F and above, and '%' itself) becomes %XX, uppercase hex.  An
 * empty or NULL s is "-", and a value that is exactly "-" is "%2D", so
 * "-" always means "unknown". */
void bw_buf_put_field(bw_buf_t *b, const char *s);

#endif
