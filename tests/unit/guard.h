/* SPDX-License-Identifier: Apache-2.0 */
/* Guard-page copies for the parser tests: guard(s, n) copies n bytes to the
 * very end of a page that is followed by an inaccessible one, so a parser
 * reading even one byte past its input faults instead of passing by luck.
 * One copy lives at a time: the next guard() (or guard_free()) unmaps it,
 * which lets a test keep slices into the current copy until then. */
#ifndef BW_TEST_GUARD_H
#define BW_TEST_GUARD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static char *g_map;
static size_t g_maplen;

static __attribute__((unused)) void guard_free(void)
{
    if (g_map)
        munmap(g_map, g_maplen);
    g_map = NULL;
}

static __attribute__((unused)) const char *guard(const void *s, size_t n)
{
    guard_free();
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t dp = n ? (n + pg - 1) / pg : 1;
    g_maplen = (dp + 1) * pg;
    g_map = mmap(NULL, g_maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g_map == MAP_FAILED) {
        perror("mmap");
        exit(2);
    }
    if (mprotect(g_map + dp * pg, pg, PROT_NONE)) {
        perror("mprotect");
        exit(2);
    }
    char *p = g_map + dp * pg - n;
    if (n)
        memcpy(p, s, n);
    return p;
}

#endif
