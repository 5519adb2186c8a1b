/* SPDX-License-Identifier: Apache-2.0 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bulwark/core.h"

int bw_err_set(bw_err_t *e, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return BW_ERR;
}

int bw_err_prefix(bw_err_t *e, const char *fmt, ...)
{
    if (!e)
        return BW_ERR;
    char pre[256], old[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    /* Truncation is acceptable: the location comes first and survives. */
    int n = snprintf(e->msg, sizeof e->msg, "%s: ", pre);
    if (n > 0 && (size_t)n < sizeof e->msg)
        snprintf(e->msg + n, sizeof e->msg - (size_t)n, "%.*s", (int)(sizeof e->msg - (size_t)n - 1), old);
    return BW_ERR;
}
