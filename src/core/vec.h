/* SPDX-License-Identifier: Apache-2.0 */
/* Growable arrays.  Every table of the compiled database is one of these, so
 * the same struct serves the builder (append) and the immutable engine (read),
 * and serialising the database is dumping each array. */
#ifndef BW_CORE_VEC_H
#define BW_CORE_VEC_H

#include <stddef.h>
#include <stdint.h>

#define BW_VEC(T) struct { T *v; size_t n, cap; }

/* Makes room for `more` elements; returns 0 or -1 (out of memory). */
int bw_vec_reserve_(void **v, size_t *cap, size_t n, size_t more, size_t elem);

#define bw_vec_reserve(vec, more) \
    bw_vec_reserve_((void **)&(vec)->v, &(vec)->cap, (vec)->n, (more), sizeof(*(vec)->v))
/* Appends one element; evaluates to 0 or -1. */
#define bw_vec_push(vec, ...) \
    (bw_vec_reserve(vec, 1) ? -1 : ((vec)->v[(vec)->n++] = (__VA_ARGS__), 0))
#define bw_vec_free(vec) do { free((vec)->v); (vec)->v = NULL; (vec)->n = (vec)->cap = 0; } while (0)

#endif
