/* SPDX-License-Identifier: Apache-2.0 */
#include "vec.h"

#include <stdlib.h>

int bw_vec_reserve_(void **v, size_t *cap, size_t n, size_t more, size_t elem)
{
    if (n + more <= *cap)
        return 0;
    size_t want = *cap ? *cap : 16;
    while (want < n + more) {
        if (want > SIZE_MAX / 2 / elem)
            return -1;
        want *= 2;
    }
    void *p = realloc(*v, want * elem);
    if (!p)
        return -1;
    *v = p;
    *cap = want;
    return 0;
}
