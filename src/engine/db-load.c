/* SPDX-License-Identifier: Apache-2.0 */
/* Database loading: collecting files, dispatching by extension, ignore lists.
 *
 * Files are read whole (one mmap each) and parsed in place: a loader walks
 * lines as slices of the mapping and appends straight to the database arrays.
 * No line is copied, so the cost of a hash line is splitting it and pushing
 * one record, whatever the file's size, and there is no line-length limit.
 *
 * Ignore lists (.ign, .ign2) must apply to every signature whatever the order
 * of files, and ClamAV ships daily.ign2 inside daily.cvd, after the .hdb/.ndb
 * members it may name.  So bw_db_load_files runs two passes: first every
 * ignore list, including the ignore members of each .cvd/.cld, then
 * everything else.  A .cvd costs an extra decompression for that; the
 * compiled-database cache makes it a cold-start cost only.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db-int.h"
#include "db-load.h"

/* ---- small parsing helpers ------------------------------------------------ */

void bw_lines_init(bw_lines_t *r, const char *buf, size_t len)
{
    r->p = buf;
    r->end = buf + len;
    r->lineno = 0;
    /* a UTF-8 byte-order mark written by some editors */
    if (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3))
        r->p += 3;
}

int bw_lines_next(bw_lines_t *r, bw_slice_t *line)
{
    while (r->p < r->end) {
        const char *s = r->p;
        const char *nl = memchr(s, '\n', (size_t)(r->end - s));
        const char *e = nl ? nl : r->end;
        r->p = nl ? nl + 1 : r->end;
        r->lineno++;
        while (e > s && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
            e--;
        const char *b = s;
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        if (b == e || *b == '#')
            continue;
        line->s = s;
        line->n = (size_t)(e - s);
        return 1;
    }
    return 0;
}

size_t bw_split(bw_slice_t s, char sep, bw_slice_t *f, size_t max)
{
    size_t nf = 0;
    const char *p = s.s, *end = s.s + s.n;
    for (;;) {
        const char *q = memchr(p, sep, (size_t)(end - p));
        const char *fe = q ? q : end;
        if (nf < max) {
            f[nf].s = p;
            f[nf].n = (size_t)(fe - p);
        }
        nf++;
        if (!q)
            break;
        p = q + 1;
    }
    return nf;
}

int bw_parse_u64(bw_slice_t s, uint64_t *v)
{
    if (s.n == 0 || s.n > 20)
        return BW_ERR;
    uint64_t x = 0;
    for (size_t i = 0; i < s.n; i++) {
        unsigned d = (unsigned)(unsigned char)s.s[i] - '0';
        if (d > 9 || x > (UINT64_MAX - d) / 10)
            return BW_ERR;
        x = x * 10 + d;
    }
    *v = x;
    return BW_OK;
}

int bw_parse_u32(bw_slice_t s, uint32_t *v)
{
    uint64_t x;
    if (bw_parse_u64(s, &x) || x > UINT32_MAX)
        return BW_ERR;
    *v = (uint32_t)x;
    return BW_OK;
}

int bw_slice_eq(bw_slice_t s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && !memcmp(s.s, lit, n);
}

int bw_db_flevel(bw_slice_t min, bw_slice_t max, bw_err_t *err)
{
    uint32_t lo = 0, hi = UINT32_MAX;
    if (min.n && bw_parse_u32(min, &lo))
        return bw_err_set(err, "bad minimum functionality level \"%.*s\"", (int)min.n, min.s);
    if (max.n && bw_parse_u32(max, &hi))
        return bw_err_set(err, "bad maximum functionality level \"%.*s\"", (int)max.n, max.s);
    return (BW_FLEVEL < lo || BW_FLEVEL > hi) ? BW_DECLINED : BW_OK;
}

int bw_db_count_lines(bw_dbload_t *L, const char *kind, const char *buf, size_t len, bw_err_t *err)
{
    bw_lines_t r;
    bw_slice_t line;
    uint64_t n = 0;
    bw_lines_init(&r, buf, len);
    while (bw_lines_next(&r, &line))
        n++;
    if (n && bw_dbload_count(L, kind, n))
        return bw_err_set(err, "out of memory");
    return BW_OK;
}

int bw_db_count_declined(bw_dbload_t *L, const char *prefix, const char *reason)
{
    /* "byte 12: no static fragment ..." -> "no static fragment ..." */
    const char *r = reason;
    if (!strncmp(r, "byte ", 5)) {
        const char *c = strstr(r, ": ");
        if (c)
            r = c + 2;
    }
    /* "part 3 has no ..." -> "a part has no ..." */
    const char *article = "";
    if (!strncmp(r, "part ", 5) && r[5] >= '0' && r[5] <= '9') {
        const char *q = r + 5;
        while (*q >= '0' && *q <= '9')
            q++;
        if (*q == ' ') {
            article = "a part";
            r = q;
        }
    }
    char kind[sizeof ((bw_db_count_t *)0)->kind];
    snprintf(kind, sizeof kind, "unsupported: %s%s%s", prefix, article, r);
    return bw_dbload_count(L, kind, 1);
}

int bw_db_line_skip(const bw_dbload_t *L, const bw_slice_t *f, size_t nf, size_t at,
                    bw_slice_t name, uint64_t *flevel, uint64_t *ignored, bw_err_t *err)
{
    if (nf > at) {
        bw_slice_t none = {"", 0};
        int rc = bw_db_flevel(f[at], nf > at + 1 ? f[at + 1] : none, err);
        if (rc == BW_ERR)
            return BW_ERR;
        if (rc == BW_DECLINED) {
            (*flevel)++;
            return BW_DECLINED;
        }
    }
    if (bw_db_ignored(L, name.s, name.n)) {
        (*ignored)++;
        return BW_DECLINED;
    }
    return BW_OK;
}

int bw_db_count_run(bw_dbload_t *L, const char *ext, uint64_t loaded, uint64_t flevel,
                    uint64_t ignored, bw_err_t *err)
{
    /* the kind is the extension as written in lower case ("HDB" counts as "hdb") */
    char kind[8];
    size_t k;
    for (k = 0; k + 1 < sizeof kind && ext[k]; k++)
        kind[k] = (char)tolower((unsigned char)ext[k]);
    kind[k] = '\0';
    if ((loaded && bw_dbload_count(L, kind, loaded)) ||
        (flevel && bw_dbload_count(L, "unsupported: flevel", flevel)) ||
        (ignored && bw_dbload_count(L, "ignored (.ign2)", ignored)))
        return bw_err_set(err, "out of memory");
    return BW_OK;
}

/* ---- counters ------------------------------------------------------------- */

int bw_dbload_count(bw_dbload_t *L, const char *kind, uint64_t n)
{
    for (size_t i = 0; i < L->counts.n; i++)
        if (!strcmp(L->counts.v[i].kind, kind)) {
            L->counts.v[i].count += n;
            return BW_OK;
        }
    bw_db_count_t c = {{0}, n};
    snprintf(c.kind, sizeof c.kind, "%s", kind);
    /* a truncated kind may now equal an existing one */
    for (size_t i = 0; i < L->counts.n; i++)
        if (!strcmp(L->counts.v[i].kind, c.kind)) {
            L->counts.v[i].count += n;
            return BW_OK;
        }
    return bw_vec_push(&L->counts, c) ? BW_ERR : BW_OK;
}

void bw_dbload_free(bw_dbload_t *L)
{
    if (!L)
        return;
    bw_vec_free(&L->counts);
    for (size_t i = 0; i < L->ignored.n; i++)
        free(L->ignored.v[i]);
    bw_vec_free(&L->ignored);
}

/* ---- ignore lists --------------------------------------------------------- */

static int strp_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int bw_db_ignored(const bw_dbload_t *L, const char *name, size_t len)
{
    if (!L->ignored.n)
        return 0;
    len = bw_sigdb_name_len(name, len);
    size_t lo = 0, hi = L->ignored.n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *s = L->ignored.v[mid];
        size_t sl = strlen(s);
        int c = memcmp(s, name, sl < len ? sl : len);
        if (c == 0)
            c = sl < len ? -1 : sl > len;
        if (c == 0)
            return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* .ign2: "Name" or "Name:md5-of-the-signature" (we ignore by name alone).
 * .ign (old): "dbfile:line:Name".  The list is kept sorted for lookups. */
int bw_db_load_ign(bw_dbload_t *L, const char *where, const char *buf, size_t len, bw_err_t *err)
{
    bw_lines_t r;
    bw_slice_t line, f[3];
    uint64_t n = 0;
    bw_lines_init(&r, buf, len);
    while (bw_lines_next(&r, &line)) {
        size_t nf = bw_split(line, ':', f, 3);
        bw_slice_t name = nf == 3 ? f[2] : f[0];
        if (nf > 3)
            return bw_err_set(err, "%s:%lu: expected Name[:md5] or db:line:Name", where, r.lineno);
        if (name.n == 0)
            return bw_err_set(err, "%s:%lu: empty signature name", where, r.lineno);
        for (size_t i = 0; i < name.n; i++)
            if ((unsigned char)name.s[i] < 0x20 || name.s[i] == 0x7f)
                return bw_err_set(err, "%s:%lu: control character in signature name", where,
                                  r.lineno);
        char *s = strndup(name.s, name.n);
        if (!s || bw_vec_push(&L->ignored, s)) {
            free(s);
            return bw_err_set(err, "out of memory");
        }
        n++;
    }
    if (L->ignored.n > 1)
        qsort(L->ignored.v, L->ignored.n, sizeof(char *), strp_cmp);
    if (n && bw_dbload_count(L, "ign2", n))
        return bw_err_set(err, "out of memory");
    return BW_OK;
}

/* ---- extensions ----------------------------------------------------------- */

static const struct {
    const char *ext;
    const char *what; /* NULL: loaded; otherwise counted as unsupported ("" if no
                       * better name than the extension) */
} exts[] = {
    {"hdb", NULL}, {"hsb", NULL}, {"hdu", NULL}, {"hsu", NULL}, {"fp", NULL}, {"sfp", NULL},
    {"ign", NULL}, {"ign2", NULL}, {"ndb", NULL}, {"ndu", NULL}, {"ldb", NULL}, {"ldu", NULL},
    {"cvd", NULL}, {"cld", NULL}, {"manifest", NULL},
    {"mdb", "PE section hashes"}, {"msb", "PE section hashes"}, {"mdu", "PE section hashes"},
    {"msu", "PE section hashes"}, {"cdb", "container metadata"}, {"cfg", "engine configuration"},
    {"crb", "certificate trust rules"}, {"ftm", "file type magic"}, {"gdb", ""},
    {"idb", "icon signatures"}, {"info", "database manifest"}, {"pdb", "phishing domains"},
    {"wdb", "phishing allow-list"}, {"yar", "YARA rules"}, {"yara", "YARA rules"},
    {"cbc", "bytecode"}, {"imp", "PE import table hashes"}, {"pwdb", "archive passwords"},
};
#define NEXTS (sizeof exts / sizeof exts[0])

static int ext_index(const char *ext)
{
    for (size_t i = 0; i < NEXTS; i++)
        if (!strcasecmp(ext, exts[i].ext))
            return (int)i;
    return -1;
}

int bw_db_ext_known(const char *ext) { return ext_index(ext) >= 0; }
int bw_db_ext_is_ign(const char *ext) { return !strcasecmp(ext, "ign") || !strcasecmp(ext, "ign2"); }
int bw_db_ext_is_cvd(const char *ext) { return !strcasecmp(ext, "cvd") || !strcasecmp(ext, "cld"); }

static int ext_in(const char *ext, const char *const *list)
{
    for (; *list; list++)
        if (!strcasecmp(ext, *list))
            return 1;
    return 0;
}

int bw_db_load_buffer(bw_dbload_t *L, const char *where, const char *ext, const char *buf,
                      size_t len, bw_err_t *err)
{
    static const char *const hash[] = {"hdb", "hsb", "hdu", "hsu", "fp", "sfp", NULL};
    static const char *const ndb[] = {"ndb", "ndu", NULL};
    static const char *const ldb[] = {"ldb", "ldu", NULL};
    if (ext_in(ext, hash))
        return bw_db_load_hash(L, where, ext, buf, len, err);
    if (ext_in(ext, ndb))
        return bw_db_load_ndb(L, where, ext, buf, len, err);
    if (ext_in(ext, ldb))
        return bw_db_load_ldb(L, where, ext, buf, len, err);
    if (bw_db_ext_is_ign(ext))
        return bw_db_load_ign(L, where, buf, len, err);
    if (!strcasecmp(ext, "manifest"))
        return bw_db_load_set_manifest(L, where, buf, len, err);
    if (bw_db_ext_is_cvd(ext)) {
        int rc = bw_db_load_cvd(L, where, ext, buf, len, BW_CVD_IGN, err);
        return rc ? rc : bw_db_load_cvd(L, where, ext, buf, len, BW_CVD_SIGS, err);
    }
    int i = ext_index(ext);
    if (i < 0)
        return bw_err_set(err, "%s: unknown database type", where);
    char kind[sizeof ((bw_db_count_t *)0)->kind];
    if (*exts[i].what)
        snprintf(kind, sizeof kind, "unsupported: %s (%s)", exts[i].ext, exts[i].what);
    else
        snprintf(kind, sizeof kind, "unsupported: %s", exts[i].ext);
    return bw_db_count_lines(L, kind, buf, len, err);
}

/* ---- collecting files ----------------------------------------------------- */

static const char *ext_of(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    return dot && dot != base ? dot + 1 : base + strlen(base);
}

static int add_file(bw_dbfiles_t *out, const char *path, bw_err_t *err)
{
    bw_dbfile_t f;
    f.path = strdup(path);
    if (!f.path || bw_vec_push(out, f)) {
        free(f.path);
        return bw_err_set(err, "out of memory");
    }
    out->v[out->n - 1].ext = (char *)ext_of(out->v[out->n - 1].path);
    return BW_OK;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* freshclam leaves daily.cld next to an old daily.cvd (or the reverse) after
 * an update; like ClamAV, load only the newer of the two, or both would be
 * loaded and every signature counted twice.  Entries are sorted, so twins are
 * neighbours: "daily.cld" < "daily.cvd". */
static void drop_older_twins(bw_dbfiles_t *out, size_t first)
{
    for (size_t i = first; i + 1 < out->n; i++) {
        bw_dbfile_t *a = &out->v[i], *b = &out->v[i + 1];
        size_t sa = (size_t)(a->ext - a->path), sb = (size_t)(b->ext - b->path);
        if (!bw_db_ext_is_cvd(a->ext) || !bw_db_ext_is_cvd(b->ext) || sa != sb ||
            strncmp(a->path, b->path, sa) || !strcasecmp(a->ext, b->ext))
            continue;
        uint32_t va = 0, vb = 0;
        if (bw_db_cvd_version(a->path, &va) || bw_db_cvd_version(b->path, &vb))
            continue; /* unreadable: let the loader report it */
        /* keep the higher version; on a tie the .cld (a) */
        size_t drop = vb > va ? i : i + 1;
        free(out->v[drop].path);
        memmove(&out->v[drop], &out->v[drop + 1], (out->n - drop - 1) * sizeof(bw_dbfile_t));
        out->n--;
    }
}

static int collect_dir(const char *dir, bw_dbfiles_t *out, bw_err_t *err)
{
    size_t first = out->n;
    DIR *d = opendir(dir);
    if (!d)
        return bw_err_set(err, "%s: %s", dir, strerror(errno));
    BW_VEC(char *) names = {0};
    int rc = BW_OK;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !bw_db_ext_known(ext_of(de->d_name)))
            continue;
        char *s = strdup(de->d_name);
        if (!s || bw_vec_push(&names, s)) {
            free(s);
            rc = bw_err_set(err, "out of memory");
            break;
        }
    }
    closedir(d);
    if (names.n > 1)
        qsort(names.v, names.n, sizeof(char *), name_cmp);
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    for (size_t i = 0; i < names.n && rc == BW_OK; i++) {
        char *p;
        struct stat st;
        if (asprintf(&p, "%.*s/%s", (int)dl, dir, names.v[i]) < 0) {
            rc = bw_err_set(err, "out of memory");
            break;
        }
        /* subdirectories, sockets and dangling links are not databases */
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
            rc = add_file(out, p, err);
        free(p);
    }
    for (size_t i = 0; i < names.n; i++)
        free(names.v[i]);
    bw_vec_free(&names);
    if (rc == BW_OK)
        drop_older_twins(out, first);
    return rc;
}

int bw_db_collect(const char *const *paths, size_t n, bw_dbfiles_t *out, bw_err_t *err)
{
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0)
            return bw_err_set(err, "%s: %s", paths[i], strerror(errno));
        if (S_ISDIR(st.st_mode)) {
            if (collect_dir(paths[i], out, err))
                return BW_ERR;
        } else {
            if (!bw_db_ext_known(ext_of(paths[i])))
                return bw_err_set(err, "%s: unknown database type", paths[i]);
            if (add_file(out, paths[i], err))
                return BW_ERR;
        }
    }
    if (out->n == 0) {
        char list[256] = "";
        size_t used = 0;
        for (size_t i = 0; i < n && used + 1 < sizeof list; i++) {
            int w = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", paths[i]);
            if (w < 0)
                break;
            used += (size_t)w;
        }
        return bw_err_set(err, "no database files in %s", n ? list : "(no paths given)");
    }
    return BW_OK;
}

void bw_dbfiles_free(bw_dbfiles_t *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++)
        free(f->v[i].path);
    bw_vec_free(f);
}

/* ---- hashing the sources (cache key) -------------------------------------- */

int bw_db_hash_sources(const bw_dbfiles_t *f, uint8_t out[32], bw_err_t *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    char *buf = malloc(1 << 20);
    int rc = BW_OK;
    if (!ctx || !buf || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        rc = bw_err_set(err, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < f->n && rc == BW_OK; i++) {
        const char *path = f->v[i].path;
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) {
            rc = bw_err_set(err, "%s: %s", path, strerror(errno));
            if (fd >= 0)
                close(fd);
            break;
        }
        /* name (with its NUL), size (8 bytes LE), content: no two different
         * file sets can feed the same byte stream */
        uint8_t sz[8];
        for (int b = 0; b < 8; b++)
            sz[b] = (uint8_t)((uint64_t)st.st_size >> (8 * b));
        EVP_DigestUpdate(ctx, base, strlen(base) + 1);
        EVP_DigestUpdate(ctx, sz, sizeof sz);
        for (;;) {
            ssize_t got = read(fd, buf, 1 << 20);
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0) {
                rc = bw_err_set(err, "%s: %s", path, strerror(errno));
                break;
            }
            if (got == 0)
                break;
            EVP_DigestUpdate(ctx, buf, (size_t)got);
        }
        close(fd);
    }
    if (rc == BW_OK) {
        unsigned int olen = 0;
        if (!EVP_DigestFinal_ex(ctx, out, &olen) || olen != 32)
            rc = bw_err_set(err, "SHA-256 failed");
    }
out:
    free(buf);
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* ---- loading files -------------------------------------------------------- */

typedef struct mapped {
    const char *buf;
    size_t len;
    void *map;
} mapped_t;

static int map_file(const char *path, mapped_t *m, bw_err_t *err)
{
    m->buf = "";
    m->len = 0;
    m->map = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return bw_err_set(err, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return bw_err_set(err, "%s: not a regular file", path);
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return bw_err_set(err, "%s: %s", path, strerror(e));
        }
        m->map = p;
        m->buf = p;
        m->len = (size_t)st.st_size;
    }
    close(fd);
    return BW_OK;
}

static void unmap_file(mapped_t *m)
{
    if (m->map)
        munmap(m->map, m->len);
    m->map = NULL;
}

int bw_db_load_files(bw_dbload_t *L, const bw_dbfiles_t *f, bw_err_t *err)
{
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < f->n; i++) {
            const char *ext = f->v[i].ext;
            int ign = bw_db_ext_is_ign(ext), cvd = bw_db_ext_is_cvd(ext);
            if (pass == 0 && !ign && !cvd)
                continue;
            if (pass == 1 && ign)
                continue;
            mapped_t m;
            if (map_file(f->v[i].path, &m, err))
                return BW_ERR;
            int rc;
            if (cvd)
                rc = bw_db_load_cvd(L, f->v[i].path, ext, m.buf, m.len,
                                    pass == 0 ? BW_CVD_IGN : BW_CVD_SIGS, err);
            else
                rc = bw_db_load_buffer(L, f->v[i].path, ext, m.buf, m.len, err);
            unmap_file(&m);
            if (rc != BW_OK)
                return BW_ERR;
        }
    }
    return BW_OK;
}
