/* SPDX-License-Identifier: Apache-2.0 */
/* A tiny test harness: each TEST() is one test case, reported as a TAP line
 * ("ok - name" / "not ok - name") that tests/run.sh counts.
 *
 *   TEST(parses_md5) { CHECK(x == 1); CHECK_STR(a, "b"); }
 *   int main(void) { return t_run(); }
 */
#ifndef BW_TEST_T_H
#define BW_TEST_T_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*t_fn)(void);
struct t_case { const char *name; t_fn fn; };
static struct t_case t_cases[512];
static int t_ncases;
static int t_failed_now;

#define TEST(tname)                                                         \
    static void t_##tname(void);                                            \
    __attribute__((constructor)) static void t_reg_##tname(void)            \
    { t_cases[t_ncases].name = #tname; t_cases[t_ncases++].fn = t_##tname; } \
    static void t_##tname(void)

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c); t_failed_now = 1; } } while (0)
#define CHECK_EQ(a, b) do { long long t_a = (long long)(a), t_b = (long long)(b); if (t_a != t_b) { \
    fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a, t_a, #b, t_b); t_failed_now = 1; } } while (0)
#define CHECK_STR(a, b) do { const char *t_a = (a), *t_b = (b); if (!t_a || !t_b || strcmp(t_a, t_b)) { \
    fprintf(stderr, "  %s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, t_a ? t_a : "(null)", t_b ? t_b : "(null)"); t_failed_now = 1; } } while (0)
#define CHECK_CONTAINS(hay, needle) do { const char *t_h = (hay), *t_n = (needle); if (!t_h || !strstr(t_h, t_n)) { \
    fprintf(stderr, "  %s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__, t_h ? t_h : "(null)", t_n); t_failed_now = 1; } } while (0)

static int t_run(void)
{
    int failed = 0;
    const char *only = getenv("T_ONLY");
    for (int i = 0; i < t_ncases; i++) {
        if (only && strcmp(only, t_cases[i].name))
            continue;
        t_failed_now = 0;
        t_cases[i].fn();
        printf("%sok - %s\n", t_failed_now ? "not " : "", t_cases[i].name);
        fflush(stdout);
        failed += t_failed_now;
    }
    return failed ? 1 : 0;
}

#endif
