/* SPDX-License-Identifier: Apache-2.0 */
/* The update manifest's parser and writer (grammar in manifest.h).
 *
 * A pure function over (buf, len): no I/O, and nothing is read past len (the
 * unit test feeds inputs that end against a guard page).  It copies what it
 * keeps, so the buffer may go as soon as it returns.  Without an update key
 * the manifest is the only thing standing between a server and the
 * database directory, so every field is bounded and every oddity refused
 * rather than guessed at.
 */
#include "update/manifest.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/bulwark.h"
#include "core/chars.h"

#define HEADER "bulwark-manifest 1"

void bw_hex32(const uint8_t in[32], char out[65])
{
    static const char x[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = x[in[i] >> 4];
        out[2 * i + 1] = x[in[i] & 15];
    }
    out[64] = '\0';
}


static int name_char_ok(char c, int first)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return !first && (c == '.' || c == '_' || c == '-' || c == '+');
}

static int name_ok(const char *s, size_t n)
{
    if (n == 0 || n > BW_MANIFEST_MAX_NAME)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!name_char_ok(s[i], i == 0))
            return 0;
    /* the set's own bookkeeping files are never data */
    if ((n == strlen(BW_MANIFEST_NAME) && !memcmp(s, BW_MANIFEST_NAME, n)) ||
        (n == strlen(BW_MANIFEST_SIG_NAME) && !memcmp(s, BW_MANIFEST_SIG_NAME, n)))
        return 0;
    return 1;
}

int bw_manifest_name_ok(const char *name)
{
    return name && name_ok(name, strlen(name));
}

/* A decimal without sign or leading zeros (except "0"), no larger than max. */
static int parse_dec(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
        return BW_ERR;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return BW_ERR;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10)
            return BW_ERR;
        v = v * 10 + d;
    }
    *out = v;
    return BW_OK;
}

/* Splits a line at single spaces into at most max fields; returns the count
 * (max + 1 when there are more).  Empty fields (two spaces, a leading or
 * trailing space) make it return 0. */
static size_t fields(const char *s, size_t n, const char **f, size_t *fl, size_t max)
{
    size_t nf = 0, i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && s[j] != ' ')
            j++;
        if (j == i)
            return 0;
        if (nf == max)
            return max + 1;
        f[nf] = s + i;
        fl[nf] = j - i;
        nf++;
        i = j + 1;
        if (j == n)
            break;
    }
    return nf;
}

static int word_is(const char *f, size_t fl, const char *w)
{
    return fl == strlen(w) && !memcmp(f, w, fl);
}

static int file_cmp(const void *a, const void *b)
{
    return strcmp(((const bw_manifest_file_t *)a)->name, ((const bw_manifest_file_t *)b)->name);
}

void bw_manifest_sort(bw_manifest_t *m)
{
    if (m->nfiles > 1)
        qsort(m->files, m->nfiles, sizeof *m->files, file_cmp);
}

static int parse_file_line(const char *const *f, const size_t *fl, bw_manifest_file_t *out,
                           unsigned line, bw_err_t *err)
{
    if (!name_ok(f[1], fl[1]))
        return bw_err_set(err, "line %u: bad file name '%.*s' (1-%d of A-Z a-z 0-9 . _ - +, "
                          "starting with a letter or digit)", line,
                          (int)(fl[1] > 64 ? 64 : fl[1]), f[1], BW_MANIFEST_MAX_NAME);
    memcpy(out->name, f[1], fl[1]);
    out->name[fl[1]] = '\0';
    if (parse_dec(f[2], fl[2], BW_MANIFEST_MAX_FILE_SIZE, &out->size))
        return bw_err_set(err, "line %u: %s: bad size '%.*s'", line, out->name,
                          (int)(fl[2] > 24 ? 24 : fl[2]), f[2]);
    if (fl[3] != 64)
        return bw_err_set(err, "line %u: %s: the SHA-256 must be 64 hex digits, not %zu bytes",
                          line, out->name, fl[3]);
    for (int i = 0; i < 32; i++) {
        int hi = bw_hexval(f[3][2 * i]), lo = bw_hexval(f[3][2 * i + 1]);
        if (hi < 0 || lo < 0)
            return bw_err_set(err, "line %u: %s: the SHA-256 is not hex (byte %d)", line,
                              out->name, 2 * i + (hi < 0 ? 0 : 1));
        out->sha256[i] = (uint8_t)(hi << 4 | lo);
    }
    return BW_OK;
}

static int parse_lines(const char *buf, size_t len, bw_manifest_t *m, size_t *cap, bw_err_t *err)
{
    size_t pos = 0;
    unsigned line = 0;
    int have_version = 0, have_end = 0;
    while (pos < len) {
        line++;
        const char *s = buf + pos;
        const char *nl = memchr(s, '\n', len - pos);
        if (!nl)
            return bw_err_set(err, "line %u: no line end (the manifest is cut short)", line);
        size_t n = (size_t)(nl - s);
        pos += n + 1;
        if (have_end)
            return bw_err_set(err, "line %u: text after the \"end\" line", line);
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
                return bw_err_set(err, "line %u: byte %zu is not printable ASCII (0x%02x)", line,
                                  i + 1, (unsigned char)s[i]);
        if (line == 1) {
            if (!word_is(s, n, HEADER))
                return bw_err_set(err, "line 1: not a bulwark manifest (expected \"%s\")", HEADER);
            continue;
        }
        if (n == 0 || s[0] == '#')
            continue;
        if (n > 8 && !memcmp(s, "created ", 8)) {
            /* free text: spaces inside are part of it */
            if (m->created[0])
                return bw_err_set(err, "line %u: a second \"created\" line", line);
            if (n - 8 >= sizeof m->created)
                return bw_err_set(err, "line %u: the \"created\" text is longer than %zu bytes",
                                  line, sizeof m->created - 1);
            memcpy(m->created, s + 8, n - 8);
            m->created[n - 8] = '\0';
            continue;
        }
        const char *f[5];
        size_t fl[5];
        size_t nf = fields(s, n, f, fl, 4);
        if (nf == 0)
            return bw_err_set(err, "line %u: fields must be separated by single spaces", line);
        if (word_is(f[0], fl[0], "version")) {
            if (have_version)
                return bw_err_set(err, "line %u: a second \"version\" line", line);
            if (nf != 2 || parse_dec(f[1], fl[1], BW_MANIFEST_MAX_VERSION, &m->version) ||
                m->version == 0)
                return bw_err_set(err, "line %u: expected \"version N\" with N from 1 to %llu",
                                  line, (unsigned long long)BW_MANIFEST_MAX_VERSION);
            have_version = 1;
        } else if (word_is(f[0], fl[0], "file")) {
            if (nf != 4)
                return bw_err_set(err, "line %u: expected \"file NAME SIZE SHA256\"", line);
            if (m->nfiles == BW_MANIFEST_MAX_FILES)
                return bw_err_set(err, "line %u: more than %d files", line, BW_MANIFEST_MAX_FILES);
            if (m->nfiles == *cap) {
                size_t nc = *cap ? *cap * 2 : 16;
                bw_manifest_file_t *nv = realloc(m->files, nc * sizeof *nv);
                if (!nv)
                    return bw_err_set(err, "out of memory");
                m->files = nv;
                *cap = nc;
            }
            /* zeroed whole, so that parsed manifests compare with memcmp */
            memset(&m->files[m->nfiles], 0, sizeof *m->files);
            if (parse_file_line(f, fl, &m->files[m->nfiles], line, err))
                return BW_ERR;
            m->files[m->nfiles].line = line;
            m->nfiles++;
        } else if (word_is(f[0], fl[0], "end")) {
            uint64_t count;
            if (nf != 2 || parse_dec(f[1], fl[1], BW_MANIFEST_MAX_FILES, &count))
                return bw_err_set(err, "line %u: expected \"end N\"", line);
            if (count != m->nfiles)
                return bw_err_set(err, "line %u: \"end %llu\" but %zu file lines", line,
                                  (unsigned long long)count, m->nfiles);
            have_end = 1;
        } else {
            return bw_err_set(err, "line %u: unknown keyword '%.*s'", line,
                              (int)(fl[0] > 32 ? 32 : fl[0]), f[0]);
        }
    }
    if (line == 0)
        return bw_err_set(err, "line 1: empty manifest");
    if (!have_version)
        return bw_err_set(err, "line %u: no \"version\" line", line);
    if (!have_end)
        return bw_err_set(err, "line %u: no \"end N\" line (the manifest is cut short)", line);
    return BW_OK;
}

int bw_manifest_parse(const char *buf, size_t len, bw_manifest_t *m, bw_err_t *err)
{
    memset(m, 0, sizeof *m);
    if (len > BW_MANIFEST_MAX_BYTES)
        return bw_err_set(err, "line 1: the manifest is larger than %u bytes",
                          BW_MANIFEST_MAX_BYTES);
    size_t cap = 0;
    if (parse_lines(buf, len, m, &cap, err) != BW_OK) {
        bw_manifest_free(m);
        return BW_ERR;
    }
    bw_manifest_sort(m);
    /* Equal names are adjacent now, in no particular line order (qsort is
     * not stable).  Report the earliest line that repeats a name listed
     * before it: the second-smallest line of each run of equal names, the
     * smallest of those over all runs. */
    const bw_manifest_file_t *dup = NULL;
    unsigned dup_line = 0, dup_first = 0;
    for (size_t i = 0; i < m->nfiles;) {
        size_t j = i + 1;
        unsigned lo = m->files[i].line, lo2 = UINT_MAX;
        for (; j < m->nfiles && !strcmp(m->files[i].name, m->files[j].name); j++) {
            unsigned l = m->files[j].line;
            if (l < lo) {
                lo2 = lo;
                lo = l;
            } else if (l < lo2) {
                lo2 = l;
            }
        }
        if (j - i > 1 && (!dup || lo2 < dup_line)) {
            dup = &m->files[i];
            dup_line = lo2;
            dup_first = lo;
        }
        i = j;
    }
    if (dup) {
        bw_err_set(err, "line %u: file %s is listed twice (first at line %u)", dup_line,
                   dup->name, dup_first);
        bw_manifest_free(m);
        return BW_ERR;
    }
    return BW_OK;
}

void bw_manifest_free(bw_manifest_t *m)
{
    if (!m)
        return;
    free(m->files);
    memset(m, 0, sizeof *m);
}

const bw_manifest_file_t *bw_manifest_find(const bw_manifest_t *m, const char *name)
{
    size_t lo = 0, hi = m->nfiles;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->files[mid].name, name);
        if (c == 0)
            return &m->files[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

uint64_t bw_manifest_total(const bw_manifest_t *m)
{
    uint64_t t = 0;
    for (size_t i = 0; i < m->nfiles; i++)
        t = m->files[i].size > UINT64_MAX - t ? UINT64_MAX : t + m->files[i].size;
    return t;
}

int bw_manifest_format(const bw_manifest_t *m, bw_buf_t *out, bw_err_t *err)
{
    if (m->version == 0 || m->version > BW_MANIFEST_MAX_VERSION)
        return bw_err_set(err, "set version %llu is out of range (1 to %llu)",
                          (unsigned long long)m->version,
                          (unsigned long long)BW_MANIFEST_MAX_VERSION);
    if (m->nfiles > BW_MANIFEST_MAX_FILES)
        return bw_err_set(err, "%zu files: at most %d", m->nfiles, BW_MANIFEST_MAX_FILES);
    for (const char *c = m->created; *c; c++)
        if (*c < 0x20 || *c > 0x7e)
            return bw_err_set(err, "the creation text is not printable ASCII");
    bw_buf_printf(out, "%s\nversion %llu\n", HEADER, (unsigned long long)m->version);
    if (m->created[0])
        bw_buf_printf(out, "created %s\n", m->created);
    for (size_t i = 0; i < m->nfiles; i++) {
        const bw_manifest_file_t *f = &m->files[i];
        if (!bw_manifest_name_ok(f->name))
            return bw_err_set(err, "'%.64s' cannot be named in a manifest (1-%d of A-Z a-z 0-9 "
                              ". _ - +, starting with a letter or digit)", f->name,
                              BW_MANIFEST_MAX_NAME);
        if (f->size > BW_MANIFEST_MAX_FILE_SIZE)
            return bw_err_set(err, "%s: larger than %llu bytes", f->name,
                              (unsigned long long)BW_MANIFEST_MAX_FILE_SIZE);
        char hex[65];
        bw_hex32(f->sha256, hex);
        bw_buf_printf(out, "file %s %llu %s\n", f->name, (unsigned long long)f->size, hex);
    }
    bw_buf_printf(out, "end %zu\n", m->nfiles);
    return out->oom ? bw_err_set(err, "out of memory") : BW_OK;
}
