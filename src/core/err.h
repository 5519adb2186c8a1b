/* SPDX-License-Identifier: Apache-2.0 */
/* Error messages that say what and where.  A loader writes "file:line: what";
 * a pure parser writes "byte N: what" and its caller prefixes the location. */
#ifndef BW_CORE_ERR_H
#define BW_CORE_ERR_H

#include <stddef.h>

typedef struct bw_err {
    char msg[512];
} bw_err_t;

int bw_err_set(bw_err_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepends "prefix: " to the message already in e. */
int bw_err_prefix(bw_err_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
