/* SPDX-License-Identifier: Apache-2.0 */
#include "core/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(bw_buf_t *b, size_t more)
{
    if (b->oom)
        return -1;
    if (b->len + more <= b->cap)
        return 0;
    size_t c = b->cap ? b->cap : 256;
    while (c < b->len + more) {
        if (c > SIZE_MAX / 2) {
            b->oom = 1;
            return -1;
        }
        c *= 2;
    }
    char *np = realloc(b->p, c);
    if (!np) {
        b->oom = 1;
        return -1;
    }
    b->p = np;
    b->cap = c;
    return 0;
}

void bw_buf_append(bw_buf_t *b, const void *p, size_t n)
{
    if (n && grow(b, n) == 0) {
        memcpy(b->p + b->len, p, n);
        b->len += n;
    }
}

void bw_buf_puts(bw_buf_t *b, const char *s) { bw_buf_append(b, s, strlen(s)); }

void bw_buf_printf(bw_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || grow(b, (size_t)n + 1))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void bw_buf_consume(bw_buf_t *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

void bw_buf_reset(bw_buf_t *b) { b->len = 0; }

void bw_buf_free(bw_buf_t *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

void bw_buf_put_field(bw_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    if (!s || !*s) {
        bw_buf_append(b, "-", 1);
        return;
    }
    if (!strcmp(s, "-")) {
        bw_buf_puts(b, "%2D");
        return;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p <= 0x20 || *p >= 0x7f || *p == '%') {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            bw_buf_append(b, e, 3);
        } else {
            bw_buf_append(b, p, 1);
        }
    }
}
