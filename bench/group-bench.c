/* SPDX-License-Identifier: Apache-2.0 */
/* group-bench: how fast the policy finds a request's group (src/policy/groups.c).
 *
 * It generates a configuration text (seeded, so runs compare) with G groups,
 * U URL patterns and C address ranges spread over them, loads and builds it
 * as bulwarkd would, then times bw_groups_match() over precomputed request
 * mixes on one thread:
 *   hit     - the URL and address of one group (a real match)
 *   miss    - an address of one group and a URL no pattern matches: the URL
 *             database is scanned to the end (the worst case)
 *   no-addr - a random 10.x.y.z, mostly in no range, and the miss URL: no
 *             group can match, so the URL is never scanned
 *   ip-only - a group's address and no URL
 *   mixed   - a quarter of each
 * Usage: group-bench [GROUPS [URL_PATTERNS [CIDRS [SECONDS_PER_MIX]]]]
 * (defaults 300 3000 3000 1).  Built and run by bench/group-bench.sh. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/conf.h"
#include "policy/groups.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct req {
    char ip[48];
    char url[160];
    int use_url;
} req_t;

#define NREQ 4096

static char *text;
static size_t tlen, tcap;

static void put(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void put(const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(text + tlen, tcap - tlen, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < tcap - tlen) {
            tlen += (size_t)n;
            return;
        }
        tcap = tcap * 2 + 4096;
        text = realloc(text, tcap);
        if (!text)
            exit(2);
    }
}

/* A site name for pattern k of group i: 5..10 letters, as domain names are,
 * rather than numbered names that differ only in digits: a thousand patterns
 * sharing one literal (".example") and differing in digits cost Hyperscan
 * about 2 us per URL holding that literal, which real URL lists rarely do. */
static const char *word(int i, int k, char *buf)
{
    uint64_t h = ((uint64_t)(uint32_t)i << 32 | (uint32_t)k) * 0x9e3779b97f4a7c15ull;
    int n = 5 + (int)(h % 6);
    for (int j = 0; j < n; j++) {
        h = h * 6364136223846793005ull + 1442695040888963407ull;
        buf[j] = (char)('a' + (h >> 33) % 26);
    }
    buf[n] = '\0';
    return buf;
}

/* The first CIDR of each group, to make "hit" requests. */
static uint32_t *net_of;

static double run(bw_groups_t *g, const req_t *rq, double secs, size_t *hits)
{
    size_t n = 0, h = 0;
    double t0 = now(), t;
    do {
        h = 0;
        for (int i = 0; i < NREQ; i++)
            h += bw_groups_match(g, rq[i].ip, rq[i].use_url ? rq[i].url : NULL) != NULL;
        n += NREQ;
        t = now() - t0;
    } while (t < secs);
    *hits = h;
    return (double)n / t;
}

int main(int argc, char **argv)
{
    int ng = argc > 1 ? atoi(argv[1]) : 300, nu = argc > 2 ? atoi(argv[2]) : 3000;
    int nc = argc > 3 ? atoi(argv[3]) : 3000;
    double secs = argc > 4 ? atof(argv[4]) : 1.0;
    if (ng < 1 || nu < 0 || nc < ng) {
        fprintf(stderr, "usage: group-bench [GROUPS [URL_PATTERNS [CIDRS>=GROUPS [SECONDS]]]]\n");
        return 2;
    }
    char w[16];
    net_of = calloc((size_t)ng, sizeof *net_of);
    /* Group i owns 10.x.y.0/24 nets; every 10th range is IPv6; some groups
     * get a wide /12 that encloses other groups' nets (nesting). */
    for (int i = 0; i < ng; i++) {
        put("[icapserver.groups:g%d]\nPriority = %u\n", i, rnd(20));
        int cidrs = nc / ng + (i < nc % ng), urls = nu / ng + (i < nu % ng);
        for (int k = 0; k < cidrs; k++) {
            uint32_t b = 10u << 24 | (uint32_t)(i * 211 + k) % 4096 << 12 | rnd(16) << 8;
            if (k == 0)
                net_of[i] = b;
            if (k % 10 == 9)
                put("ClientIP = 2001:db8:%x:%x::/64\n", i, k);
            else if (k == 1 && i % 25 == 0)
                put("ClientIP = 10.%u.0.0/12\n", (b >> 16) & 0xf0);
            else
                put("ClientIP = %u.%u.%u.0/%u\n", b >> 24, (b >> 16) & 255, (b >> 8) & 255,
                    k == 0 ? 24 : 22 + rnd(7));
        }
        for (int k = 0; k < urls; k++) {
            static const char *tld[] = {"com", "net", "org", "example"};
            const char *wd = word(i, k, w), *t = tld[(i + k) % 4];
            switch (k % 4) {
            case 0: put("URL = ^https?://([a-z0-9-]+\\.)*%s\\.%s(:[0-9]+)?/\n", wd, t);
                break;
            case 1: put("URL = /%s/[a-z0-9_-]+\\.(exe|msi|zip)(\\?|$)\n", wd);
                break;
            case 2: put("URL = ^http://cdn\\.%s\\.%s/[0-9a-f]{8}/\n", wd, t);
                break;
            default: put("URL = \\.%s\\.%s/.*\\.(jpe?g|png)$\n", wd, t);
                break;
            }
        }
    }
    static const bw_conf_table_t *const tables[] = {&bw_groups_conf_table};
    static const bw_conf_schema_t schema = {tables, 1};
    bw_conf_state_t *st = NULL;
    bw_groups_t *g = NULL;
    bw_err_t err;
    double t0 = now();
    if (bw_conf_load_buf(&schema, "bench.conf", text, tlen, &st, &err)) {
        fprintf(stderr, "load: %s\n", err.msg);
        return 1;
    }
    double t1 = now();
    if (bw_groups_build(st, &g, &err)) {
        fprintf(stderr, "build: %s\n", err.msg);
        return 1;
    }
    double t2 = now();
    bw_conf_free(st);

    enum { NMIX = 5 };
    static req_t mixes[NMIX][NREQ];
    for (int i = 0; i < NREQ; i++) {
        int grp = (int)rnd((uint32_t)ng), k = 4 * (int)rnd((uint32_t)(nu / ng / 4 + 1));
        uint32_t a = net_of[grp] | (1 + rnd(250)), b = 10u << 24 | rnd(1u << 24);
        req_t *h = &mixes[0][i], *m = &mixes[1][i], *na = &mixes[2][i], *p = &mixes[3][i];
        snprintf(h->ip, sizeof h->ip, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255,
                 a & 255);
        static const char *tld[] = {"com", "net", "org", "example"};
        snprintf(h->url, sizeof h->url, "http://www.%s.%s/path/to/page%u.html?q=%u",
                 word(grp, k, w), tld[(grp + k) % 4], rnd(1000), rnd(100000));
        h->use_url = 1;
        *m = *h;
        snprintf(m->url, sizeof m->url,
                 "https://www.unrelated%u.com/some/longer/path/%u/index.html?session=%u&x=%u",
                 rnd(100000), rnd(1000), rnd(1000000), rnd(1000));
        *na = *m;
        snprintf(na->ip, sizeof na->ip, "%u.%u.%u.%u", b >> 24, (b >> 16) & 255, (b >> 8) & 255,
                 b & 255);
        *p = *h;
        p->use_url = 0;
        mixes[4][i] = mixes[i % 4][i];
    }
    printf("groups %d, URL patterns %d, address ranges %d (1 in 10 IPv6)\n", ng, nu, nc);
    printf("config %zu bytes: load %.1f ms (checks every pattern), build %.1f ms\n", tlen,
           (t1 - t0) * 1e3, (t2 - t1) * 1e3);
    const char *names[NMIX] = {"hit", "miss", "no-addr", "ip-only", "mixed"};
    for (int x = 0; x < NMIX; x++) {
        size_t hits;
        double rate = run(g, mixes[x], secs, &hits);
        printf("%-8s %10.0f matches/s  %7.0f ns/match  (%zu of %d requests got a group)\n",
               names[x], rate, 1e9 / rate, hits, NREQ);
    }
    bw_groups_free(g);
    free(text);
    free(net_of);
    return 0;
}
