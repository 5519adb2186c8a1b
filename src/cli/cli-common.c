/* SPDX-License-Identifier: Apache-2.0 */
/* Small pieces every subcommand shares: a string buffer, number and size
 * parsing, the database and cache-directory defaults, and engine loading with
 * the loader's message printed the one way (stderr, "file:line: what").
 *
 * The defaults are resolved here and only here so that `scan`, `db info` and
 * `db compile` cannot disagree about which database or which cache they use:
 * a `db compile` that warmed a different cache than `scan` reads would be
 * worse than none.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

static void oom(void)
{
    fputs("bulwark: out of memory\n", stderr);
    exit(BW_EXIT_ERROR);
}

void *bw_cli_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom();
    return p;
}

char *bw_cli_xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p)
        oom();
    return p;
}

static void buf_reserve(bw_cli_buf_t *b, size_t extra)
{
    if (extra > SIZE_MAX / 2 - b->len)
        oom();
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        oom();
    b->p = p;
    b->cap = cap;
}

void bw_cli_buf_add(bw_cli_buf_t *b, const void *s, size_t n)
{
    buf_reserve(b, n);
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void bw_cli_buf_puts(bw_cli_buf_t *b, const char *s)
{
    bw_cli_buf_add(b, s, strlen(s));
}

void bw_cli_buf_printf(bw_cli_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    char probe[1];
    va_start(ap, fmt);
    int n = vsnprintf(probe, sizeof probe, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void bw_cli_buf_free(bw_cli_buf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

int bw_cli_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || !*s)
        return BW_ERR;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return BW_ERR;
        unsigned d = (unsigned)(*s - '0');
        if (v > (max - d) / 10)
            return BW_ERR;
        v = v * 10 + d;
    }
    *out = v;
    return BW_OK;
}

int bw_cli_parse_size(const char *s, uint64_t *out)
{
    char num[32];
    size_t i = 0;
    if (!s)
        return BW_ERR;
    while (s[i] >= '0' && s[i] <= '9' && i < sizeof num - 1) {
        num[i] = s[i];
        i++;
    }
    num[i] = '\0';
    if (i == 0)
        return BW_ERR;
    uint64_t mult = 1;
    const char *suf = s + i;
    switch (*suf) {
    case '\0': break;
    case 'k': case 'K': mult = 1024ULL; suf++; break;
    case 'm': case 'M': mult = 1024ULL * 1024; suf++; break;
    case 'g': case 'G': mult = 1024ULL * 1024 * 1024; suf++; break;
    default: return BW_ERR;
    }
    /* Tolerate "5MB" and "5MiB" but not "5Mx". */
    if (mult > 1 && (strcmp(suf, "B") == 0 || strcmp(suf, "iB") == 0))
        suf += strlen(suf);
    if (*suf)
        return BW_ERR;
    uint64_t v;
    if (bw_cli_parse_uint(num, UINT64_MAX / mult, &v) != BW_OK)
        return BW_ERR;
    *out = v * mult;
    return BW_OK;
}

void bw_cli_dbs_add(bw_cli_dbs_t *d, const char *path)
{
    if (bw_vec_push(d, path))
        oom();
}

void bw_cli_dbs_default(bw_cli_dbs_t *d)
{
    if (d->n)
        return;
    const char *env = getenv("BULWARK_DB");
    bw_cli_dbs_add(d, env && *env ? env : BW_DEFAULT_DB);
}

void bw_cli_dbs_free(bw_cli_dbs_t *d)
{
    bw_vec_free(d);
}

/* mkdir -p, mode 0700: the cache holds nothing secret, but other users must
 * not be able to plant a compiled database we would map. */
static int mkdirs(char *path)
{
    size_t len = strlen(path);
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char c = path[i];
        path[i] = '\0';
        int rc = mkdir(path, 0700);
        int e = errno;
        path[i] = c;
        if (rc != 0 && e != EEXIST) {
            errno = e;
            return -1;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

char *bw_cli_cache_dir(const char *opt, int disabled)
{
    if (disabled)
        return NULL;
    bw_cli_buf_t b = {0};
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (opt && *opt)
        bw_cli_buf_puts(&b, opt);
    else if (xdg && *xdg)
        bw_cli_buf_printf(&b, "%s/bulwark", xdg);
    else if (home && *home)
        bw_cli_buf_printf(&b, "%s/.cache/bulwark", home);
    else
        return NULL;
    if (mkdirs(b.p) != 0) {
        fprintf(stderr, "bulwark: note: cache directory %s: %s; not using a cache\n", b.p,
                strerror(errno));
        bw_cli_buf_free(&b);
        return NULL;
    }
    return b.p;
}

double bw_cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Why the cache was not used (a directory or file someone else could have
 * written, a damaged image): the scan goes on, compiled from the sources. */
static void cache_note(void *arg, const char *msg)
{
    (void)arg;
    fprintf(stderr, "bulwark: note: %s\n", msg);
}

bw_engine_t *bw_cli_load(const bw_cli_dbs_t *dbs, const char *cache_dir, double *secs)
{
    bw_load_opts_t opts = {.cache_dir = cache_dir, .note = cache_note};
    bw_engine_t *e = NULL;
    char err[1024] = "";
    double t0 = bw_cli_now();
    int rc = bw_engine_load(dbs->v, dbs->n, &opts, &e, err, sizeof err);
    if (secs)
        *secs = bw_cli_now() - t0;
    if (rc != BW_OK || !e) {
        fprintf(stderr, "bulwark: ERROR: %s\n", err[0] ? err : "cannot load the database");
        if (e)
            bw_engine_unref(e);
        return NULL;
    }
    return e;
}
